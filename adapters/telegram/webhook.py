"""The webhook endpoint: answers Telegram 200 only once the update was handled, 500 otherwise."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
HEALTH_PATH = "/healthz"

UpdateHandler = Callable[[dict[str, Any]], Awaitable[None]]
ChatKey = Callable[[dict[str, Any]], str]


class WebhookServer:
    """An aiohttp server for Telegram's POSTs, plus GET /healthz.

    Guarantees:
        * 200 is answered only after `handle` returned for that update; if it raised, 500, so
          Telegram delivers the update again.
        * Updates of one chat are handled one at a time, in the order they arrived.
    """

    def __init__(self, *, path: str, host: str, port: int, secret: str | None,
                 handle: UpdateHandler, chat_key: ChatKey) -> None:
        self._path = path or "/"
        self._host = host
        self._port = port
        self._secret = secret
        self._handle = handle
        self._chat_key = chat_key
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._runner: web.AppRunner | None = None
        self._closing = False

    @property
    def port(self) -> int:
        """The bound port (useful when 0 asked for a free one)."""
        if self._runner is not None and self._runner.addresses:
            return int(self._runner.addresses[0][1])
        return self._port

    async def start(self) -> None:
        """Start listening."""
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post(self._path, self._on_update)
        app.router.add_get(HEALTH_PATH, self._on_health)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        log.info("webhook listening", extra={"port": self.port, "path": self._path})

    async def stop(self) -> None:
        """Stop listening; updates still being handled get up to a few seconds to finish."""
        self._closing = True
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _on_health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _on_update(self, request: web.Request) -> web.Response:
        if self._secret is not None:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self._secret.encode()):
                log.warning("webhook call with a wrong secret token refused")
                return web.Response(status=403)
        if self._closing:
            return web.Response(status=503)  # Telegram keeps the update and tries again
        try:
            body = await request.read()
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        key = self._chat_key(data)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await self._handle(data)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("update not handled; Telegram will deliver it again",
                        extra={"update_id": data["update_id"], "error": type(error).__name__})
            return web.Response(status=500)
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
        return web.Response(status=200)
