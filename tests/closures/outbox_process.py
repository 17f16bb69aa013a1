"""A real outbox worker process for the crash tests: ``python -m tests.closures.outbox_process``.

It posts every due row to the local Bot API named on the command line through the gate (the pacer, the
intent per HTTP attempt), prints ``ready <worker name>`` once its worker runs, and runs until killed
(SIGTERM stops it cleanly; the tests use ``kill -9``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import timedelta

from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.publish.alerts import AlertPublisher
from bot.publish.gate import TelegramGate
from bot.publish.maps import MapMaker
from bot.publish.pacing import Pacer
from bot.publish.telegram_channel import ChannelPublisher
from bot.publish.worker import OutboxWorker
from closures.sendrate import slots_for
from closures.store import make_engine


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--chat-rate", type=float, default=1.0)
    parser.add_argument("--group-per-minute", type=int, default=20, help="0: no per-minute limit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    engine = make_engine(args.database_url)
    pacer = Pacer(
        slots_for(engine),
        rate=args.rate,
        chat_rate=args.chat_rate,
        group_per_minute=args.group_per_minute or None,
    )
    gate = TelegramGate(pacer)
    request = HTTPXRequest(connection_pool_size=32, read_timeout=10, write_timeout=10)
    bot = ExtBot(args.token, base_url=args.base_url, request=request, rate_limiter=gate)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with bot:
        worker = OutboxWorker(
            engine,
            {"telegram": ChannelPublisher(bot, MapMaker()), "alert": AlertPublisher(bot)},
            name=args.name,
            heartbeat=timedelta(seconds=0.5),
            idle_poll=timedelta(seconds=0.5),
        )
        task = asyncio.create_task(worker.run())
        print("ready", args.name, flush=True)
        await stop.wait()
        worker.stop()
        await task
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
