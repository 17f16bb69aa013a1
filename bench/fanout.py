"""Benchmark: a flood alert to N subscribers — queueing the fan-out, then draining it to Telegram.

    .venv/bin/python bench/fanout.py [--quick] [--subscribers N] [--concurrency C]
                                     [--database-url URL | --postgres] [--target NAME=VALUE]

One closure (a flood on King Fahd Road, Riyadh) and N subscribers (10,000 by default; 1,000 with --quick)
whose saved places all lie within their radius of it. The outbox worker expands the closure's "alerts"
row into one row per driver (timed: *queue*), then sends every alert through python-telegram-bot to the
local Bot API server on 127.0.0.1 with Telegram's rate limit off (timed: *drain*), over the bot's own
transport (``bot.publish.aiohttp_request``). The drain rate is printed as a ratio to Telegram's ~30
messages a second (above 1: the worker is never the bottleneck; in production the gate holds it to the
limit) and to the baseline. Every subscriber must get exactly one alert.

As a baseline measured in the same run, as many messages as the worker sent are sent straight through
PTB to the same server, with no outbox and no database: ``worker_vs_raw`` is the share of that rate the
worker keeps (the local server shares this process, so it caps both).

``--postgres`` runs on a throwaway database created on the server of ``ROADBOT_TEST_POSTGRES_URL`` (and
dropped after); ``--database-url`` uses the given, empty, database as it is.

The last stdout line is one JSON object with every figure, its targets and ``passed`` (``bench.verdict``);
a progress bar goes to stderr when it is a terminal. Target: ``drain_rate_msg_s_min`` 300 messages a
second (10× Telegram's limit, a third of paid broadcast's 1000, per process), and every alert delivered
exactly once whatever the targets. The exit status is 0 when both hold, 1 otherwise — also when the run
could not be made (no PostgreSQL for ``--postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, Point
from sqlmodel import col
from telegram import Bot

from bench import databases, verdict
from bench.botapi import drain_bar
from bot.localapi import LocalBotApi
from bot.publish.aiohttp_request import AiohttpRequest
from bot.publish.alerts import AlertPublisher
from bot.publish.worker import OutboxWorker
from closures.models import OutboxItem, Subscription
from closures.rules import ClosureDraft
from closures.service import Actor, ClosureService
from closures.store import make_engine, session_scope, upgrade

TELEGRAM_LIMIT_MSG_S = 30.0
TARGETS = {"drain_rate_msg_s_min": 300.0}
ROAD = LineString([(46.683856, 24.688), (46.67522, 24.705), (46.67146, 24.7124)])
M_PER_DEG = 111_320.0  # only to scatter the subscribers near the road


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Ends with one JSON line.")
    parser.add_argument("--quick", action="store_true", help="1,000 subscribers instead of 10,000")
    parser.add_argument(
        "--subscribers", type=int, default=None, help="how many subscribers (overrides --quick)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="sends in flight at once (default 32)")
    databases.add_options(parser)
    verdict.add_target_option(parser, TARGETS)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.subscribers or (1_000 if args.quick else 10_000)
    targets = verdict.chosen(TARGETS, args.target)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            databases.chosen(args.database_url, args.postgres, Path(tmp)) as url,
        ):
            report = asyncio.run(run(url, n, args.concurrency, args.seed, stderr))
    except databases.NoPostgres as exc:
        return verdict.finish(
            {"bench": "fanout", "error": str(exc), "targets": targets, "passed": {"all": False}}, stdout
        )
    report["targets"] = targets
    report["passed"] = verdict.verdicts(
        targets, verdict.named(targets, report), {"all_delivered_once": report["all_delivered_once"]}
    )
    met = report["passed"]["all"]
    print(
        f"queued {report['queued']} alerts in {report['queue_s']:.2f} s; "
        f"drained them in {report['drain_s']:.2f} s "
        f"= {report['drain_rate_msg_s']:.0f} msg/s = {report['ratio_to_limit']:.1f}× Telegram's "
        f"{TELEGRAM_LIMIT_MSG_S:.0f} msg/s = {report['worker_vs_raw']:.0%} of the baseline, "
        f"{report['raw_send_rate_msg_s']:.0f} msg/s with no outbox (target "
        f"{targets['drain_rate_msg_s_min']:.0f} msg/s: {'met' if met else 'MISSED'})",
        file=stdout,
    )
    return verdict.finish(report, stdout)


async def run(url: str, n: int, concurrency: int, seed: int, stderr: TextIO) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    clock = Clock()
    _setup(engine, n, seed)
    service = ClosureService(engine, clock=clock, destinations={"alerts": "subscribers"})
    draft = ClosureDraft(
        geometry=ROAD, reason="flood", starts_at=clock.now, ends_at=clock.now + timedelta(hours=6),
        title_ar="إغلاق طريق الملك فهد بسبب تجمع مياه الأمطار", title_en="King Fahd Rd closed by flooding",
    )  # fmt: skip
    closure = service.register("riyadh", draft, Actor.system("bench"))
    async with LocalBotApi() as api:
        request = AiohttpRequest(connection_pool_size=concurrency, read_timeout=30)
        bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url, request=request)
        async with bot:
            worker = OutboxWorker(
                engine, {"alert": AlertPublisher(bot)}, clock=clock, batch=200, concurrency=concurrency,
                rng=random.Random(seed),
            )  # fmt: skip
            started = time.perf_counter()
            await worker.run_once()  # the closure's "alerts" row: expanded into one row per driver
            queue_s = time.perf_counter() - started
            assert closure.id is not None
            queued = _count(engine, closure.id)
            bar = asyncio.create_task(drain_bar(api, queued, stderr))
            started = time.perf_counter()
            await worker.drain()
            drain_s = time.perf_counter() - started
            bar.cancel()
            sends = collections.Counter(c.chat_id for c in api.calls if c.method == "sendMessage" and c.ok)
            baseline = await raw_rate(bot, queued, concurrency)  # as many as the worker sent
    engine.dispose()
    rate = queued / drain_s if drain_s else math.inf
    return {
        "bench": "fanout",
        "backend": sa.make_url(url).get_backend_name(),
        "subscribers": n,
        "queued": queued,
        "queue_s": round(queue_s, 3),
        "drain_s": round(drain_s, 3),
        "drain_rate_msg_s": round(rate, 1),
        "telegram_limit_msg_s": TELEGRAM_LIMIT_MSG_S,
        "ratio_to_limit": round(rate / TELEGRAM_LIMIT_MSG_S, 2),
        "raw_send_rate_msg_s": round(baseline, 1),
        "worker_vs_raw": round(rate / baseline, 2),
        "raw_sent": queued,
        "delivered": len(sends),
        "all_delivered_once": len(sends) == n and set(sends.values()) == {1},
        "concurrency": concurrency,
        "python": platform.python_version(),
    }


def _setup(engine: sa.Engine, n: int, seed: int) -> None:
    """The municipalities, and N subscribers within 900 m of the road (radius 1 km: all affected)."""
    rng = random.Random(seed)
    with session_scope(engine, write=True) as session:
        databases.add_municipalities(session)
        rows = []
        for i in range(n):
            on_road = ROAD.interpolate(rng.random(), normalized=True)
            angle, metres = rng.uniform(0, 2 * math.pi), rng.uniform(0, 900)
            place = Point(
                on_road.x + metres * math.cos(angle) / (M_PER_DEG * math.cos(math.radians(on_road.y))),
                on_road.y + metres * math.sin(angle) / M_PER_DEG,
            )
            rows.append(
                {
                    "telegram_user_id": 10_000_000 + i,
                    "name": "home",
                    "kind": "place",
                    "radius_m": 1000,
                    "geometry_geojson": shapely.to_geojson(place),
                    "language": "ar" if i % 3 else "en",
                    "active": True,
                    "created_at": datetime.now(UTC),
                }
            )
        session.execute(sa.insert(Subscription), rows)


async def raw_rate(bot: Bot, n: int, concurrency: int) -> float:
    """The baseline: the same kind of message sent straight through PTB, no outbox, no database."""
    limit = asyncio.Semaphore(concurrency)
    text = "<b>🔔 New closure near “home”:</b>\n" + "King Fahd Rd closed by flooding · 350 m north " * 3

    async def one(i: int) -> None:
        async with limit:
            await bot.send_message(20_000_000 + i, text, parse_mode="HTML")

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - started)


def _count(engine: sa.Engine, closure_id: int) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(
            col(OutboxItem.closure_id) == closure_id, col(OutboxItem.destination).like("alert:%")
        )
        return int(conn.execute(query.select_from(OutboxItem)).scalar_one())


if __name__ == "__main__":
    raise SystemExit(main())
