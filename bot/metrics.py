"""Operational metrics in Prometheus text format, and the small HTTP server that serves them."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.delivery import DeliveryStats

log = logging.getLogger(__name__)


class _QueueCollector(Collector):
    """Reads the delivery queue's counters at scrape time."""

    def __init__(self, stats: DeliveryStats) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        """Yield the queue's counters."""
        for name, value, text in (
                ("kindred_deliveries_sent", self._stats.sent, "Actions delivered."),
                ("kindred_deliveries_retried", self._stats.retried,
                 "Deliveries retried after a transient error."),
                ("kindred_deliveries_rate_limited", self._stats.rate_limited,
                 "Rate-limit answers from the platforms."),
                ("kindred_deliveries_failed", self._stats.failed,
                 "Deliveries given up (permanent refusals, or retries exhausted).")):
            yield CounterMetricFamily(name, text, value=value)


class Metrics:
    """Every metric of one application, on a registry of its own (tests build many apps)."""

    def __init__(self, queue_stats: DeliveryStats) -> None:
        self.registry = CollectorRegistry()
        self.events_handled = Counter("kindred_events_handled", "Inbound events handled.",
                                      registry=self.registry)
        self.messages_screened = Counter("kindred_messages_screened",
                                         "Messages and command texts assessed for crisis signals.",
                                         registry=self.registry)
        self.escalations_opened = Counter("kindred_escalations_opened",
                                          "Crisis escalations opened.", ["severity"],
                                          registry=self.registry)
        self.alerts_pending = Gauge("kindred_alerts_pending",
                                    "Outbox deliveries not yet sent (alerts and replies).",
                                    registry=self.registry)
        self.time_to_acknowledge = Histogram(
            "kindred_time_to_acknowledge_seconds", "From an escalation to its acknowledgement.",
            buckets=(30, 60, 120, 300, 600, 1200, 1800, 3600, 7200), registry=self.registry)
        self.registry.register(_QueueCollector(queue_stats))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


class OpsServer:
    """`GET /metrics` and `GET /healthz` on their own port (METRICS_PORT)."""

    def __init__(self, metrics: Metrics, *, port: int, host: str = "0.0.0.0",  # noqa: S104
                 platforms: Iterable[str] = ()) -> None:
        self._metrics = metrics
        self._port = port
        self._host = host
        self._platforms = tuple(platforms)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen."""
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._serve_health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("metrics and health served", extra={"port": self._port})

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve_metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def _serve_health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "platforms": list(self._platforms)})
