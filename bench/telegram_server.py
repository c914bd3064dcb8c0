"""The fake Telegram Bot API in a process of its own, for benchmarks that measure send rates.

Telegram stamps a request when it arrives, whatever our event loop is doing; a fake inside the
bot's own loop would stamp requests only when that loop gets to them, so a pause in the loop
bunches them and the fake answers 429s Telegram would not. Run as
`python -m bench.telegram_server --groups N`: it prints one JSON line (base_url, token), serves
until its standard input closes, then prints one JSON line of what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

FIRST_GROUP = -1001000000000


async def serve(groups: int) -> None:
    fake = FakeTelegram()
    for n in range(groups):
        fake.add_group(FIRST_GROUP - n, f"Group {n}")
    fake.enforce_limits()
    arrivals: list[float] = []
    consume = fake._limit_consume

    def stamped(chat: object) -> None:
        arrivals.append(time.monotonic())
        consume(chat)  # type: ignore[arg-type]

    fake._limit_consume = stamped  # type: ignore[method-assign]
    async with fake:
        print(json.dumps({"base_url": fake.base_url, "token": fake.token}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        sustained = ((len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
                     if len(arrivals) > 1 else 0.0)
        sent = len([r for r in fake.sent if r.method == "sendMessage"])
        print(json.dumps({"sent": sent, "count_429": fake.count_429,
                          "sustained_per_s": sustained}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=600)
    asyncio.run(serve(parser.parse_args().groups))


if __name__ == "__main__":
    main()
