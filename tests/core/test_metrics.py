"""Operations: Prometheus metrics and a health check on METRICS_PORT."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from tests.harness import start_console_bot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_count_screening_escalations_and_deliveries(tmp_path: Path) -> None:
    port = free_port()
    bot = await start_console_bot(f"sqlite:///{tmp_path / 'k.db'}", tmp_path,
                                  env={"METRICS_PORT": str(port)})
    try:
        await bot.say("dana: /setup", ".join sam", "dana -> bot: /alerts here",
                      "sam: i have the pills ready and tonight is the night")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                text = await response.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
        assert 'kindred_escalations_opened_total{severity="3"} 1.0' in text
        screened = next(line for line in text.splitlines()
                        if line.startswith("kindred_messages_screened_total"))
        assert float(screened.split()[1]) >= 2  # /setup, /alerts here, the message
        assert "kindred_events_handled_total" in text
        sent = next(line for line in text.splitlines()
                    if line.startswith("kindred_deliveries_sent_total"))
        assert float(sent.split()[1]) >= 3
        assert "pills" not in text
    finally:
        await bot.close()
