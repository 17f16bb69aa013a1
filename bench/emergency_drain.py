"""Benchmark: an emergency's direct messages drained to Telegram by one process, nothing else running.

    .venv/bin/python -m bench.emergency_drain [--quick] [--subscribers N] [--concurrency C] [--batch B]
                                              [--emergency-batch E] [--gate] [--database-url URL | --postgres]
                                              [--target NAME=VALUE]

The flood day's people (``bench.flood_scenario``: N subscribers whose places or routes lie in a 4 km square
over Al Olaya, 10,000 by default and 1,000 with --quick; twice as many drivers with recent locations, a
tenth of them inside the square, a quarter of those subscribers too) and a flood declared over the square
(``EmergencyService.declare``, with its playbook). The outbox worker, as the bot builds it (its default
claim batch and concurrency unless given), expands the declaration into one "emergency-dm" row per person
(timed: *planned*), then sends each through python-telegram-bot, over the bot's own transport
(``bot.publish.aiohttp_request``), to the local Bot API server on 127.0.0.1 with the rate limit off, as
``bench/flood.py`` runs the bot (timed: *drain*, first claim to last message recorded done). Then the
emergency is updated and the update drained the same way: each person once more, as a reply to their
first message. ``--gate`` sends through the bot's gate (``bot.publish.gate``) paced at paid broadcast's
1000 messages a second, as a production bot with ``TELEGRAM_PAID_BROADCAST=true`` would.

As a baseline measured in the same run, as many messages as one version reached are sent straight through
PTB to the same server with the same concurrency, no outbox and no database: ``worker_vs_raw`` is the share
of that rate the worker keeps (the local server shares this process, so it caps both).

``--postgres`` runs on a throwaway database created on the server of ``ROADBOT_TEST_POSTGRES_URL`` (and
dropped after); ``--database-url`` uses the given, empty, database as it is.

The last stdout line is one JSON object with every figure, its targets and ``passed`` (``bench.verdict``);
a progress bar goes to stderr when it is a terminal. Target: ``drain_rate_msg_s_min`` 300 messages a
second — the slower of the declaration's and the update's drains (10× Telegram's limit, a third of paid
broadcast's 1000, per process) — and whatever the targets, everyone reached exactly once per version, the
update answering their first message, nobody else messaged. The exit status is 0 when all of it holds, 1
otherwise — also when the run could not be made (no PostgreSQL for ``--postgres``).

Measured on the 2-core machine (10,750 people, the worker's defaults, December 2026; the machine shared
with other engineers' runs, so each figure comes with the baseline measured beside it):

* before (load 1.5-1.8): SQLite 303 msg/s for the declaration, 275 for the update (baseline 1,134);
  PostgreSQL 176 and 144 (baseline 1,164); on a busier machine (load 3.5) SQLite's update drained at 157.
  py-spy: 29 % of all samples in recording each message done (``emergency_outbox.complete_many``: two ORM
  UPDATEs built and evaluated per row, on SQLite's one database thread), then the claims: a batch of 50
  waited for its claim and preparation (40-65 ms on PostgreSQL: the claim sorts every due row, since a
  fan-out's rows share one due time) and for its own slowest sends before the next could start.
* recording done in two executemany statements per group: SQLite 502 and 454 (baseline 1,181),
  PostgreSQL 221 and 224 (1,144).
* and an emergency's rows claimed 200 at a time, the next batch claimed while one sends, a send's slot
  freed before its outcome is committed, each text rendered once per language and reason: SQLite 551 and
  478 (load 3, baseline 874); PostgreSQL 341 and 308 (load 3.7, baseline 858), 387 and 336 (load 4,
  baseline 1,141); on a quieter machine (load 0.4-1.3, as for the figures before): SQLite 490 and 499
  (baseline 1,019), PostgreSQL 419 and 472 (baseline 1,219). Per message the database work left is the
  group commits of intents and outcomes (about 1 and 1.5 ms a message on PostgreSQL) and the claim (64 ms
  per 200 rows); the rest is PTB and aiohttp, on both sides of the local server.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from sqlmodel import col
from telegram.ext import ExtBot

from bench import databases, flood_scenario, verdict
from bench.botapi import drain_bar
from bench.fanout import raw_rate
from bench.flood_day import Messaged
from bot.localapi import LocalBotApi
from bot.publish.aiohttp_request import AiohttpRequest
from bot.publish.emergency import EmergencyDmPublisher
from bot.publish.gate import TelegramGate
from bot.publish.pacing import Pacer
from bot.publish.worker import OutboxWorker
from closures.emergencies import EmergencyService
from closures.emergency_outbox import DM
from closures.models import OutboxItem, OutboxStatus
from closures.sendrate import slots_for
from closures.service import Actor, ClosureService
from closures.store import make_engine

TELEGRAM_LIMIT_MSG_S = 30.0
PAID_BROADCAST_MSG_S = 1000.0
TARGETS = {"drain_rate_msg_s_min": 300.0}
OPERATOR = Actor.telegram(flood_scenario.OPERATOR_ID)
_DEFAULTS = OutboxWorker.__init__.__kwdefaults__ or {}


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Ends with one JSON line.")
    parser.add_argument("--quick", action="store_true", help="1,000 subscribers instead of 10,000")
    parser.add_argument(
        "--subscribers", type=int, default=None, help="how many subscribers (overrides --quick)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=_DEFAULTS["concurrency"],
        help=f"sends in flight at once (default: the worker's, {_DEFAULTS['concurrency']})",
    )  # fmt: skip
    parser.add_argument(
        "--batch", type=int, default=_DEFAULTS["batch"],
        help=f"rows per claim (default: the worker's, {_DEFAULTS['batch']})",
    )  # fmt: skip
    parser.add_argument(
        "--emergency-batch", type=int, default=_DEFAULTS["emergency_batch"],
        help=f"an emergency's rows per claim (default: the worker's, {_DEFAULTS['emergency_batch']})",
    )  # fmt: skip
    parser.add_argument("--gate", action="store_true", help="through the bot's gate, paced at 1000 msg/s")
    databases.add_options(parser)
    verdict.add_target_option(parser, TARGETS)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    n = args.subscribers or (1_000 if args.quick else 10_000)
    if min(n, args.concurrency, args.batch, args.emergency_batch) < 1:
        parser.error("--subscribers, --concurrency, --batch and --emergency-batch must be at least 1")
    size = flood_scenario.Size(subscribers=n, drivers=2 * n, inside=max(1, n // 10), senders=0, imported=0)
    targets = verdict.chosen(TARGETS, args.target)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            databases.chosen(args.database_url, args.postgres, Path(tmp)) as url,
        ):
            report = asyncio.run(run(url, size, args, stderr))
    except databases.NoPostgres as exc:
        return verdict.finish(
            {"bench": "emergency_drain", "error": str(exc), "targets": targets, "passed": {"all": False}},
            stdout,
        )
    report["targets"] = targets
    checks = {key: report[key] for key in ("declared_once_each", "update_once_each", "update_answers_first")}
    report["passed"] = verdict.verdicts(targets, verdict.named(targets, report), checks)
    met = report["passed"]["all"]
    print(
        f"{report['people']} people: planned in {report['planned_s']:.2f} s; the declaration drained at "
        f"{report['declared_rate_msg_s']:.0f} msg/s, the update at {report['update_rate_msg_s']:.0f} msg/s "
        f"= {report['ratio_to_limit']:.1f}× Telegram's {TELEGRAM_LIMIT_MSG_S:.0f} msg/s = "
        f"{report['worker_vs_raw']:.0%} of the baseline, {report['raw_send_rate_msg_s']:.0f} msg/s with no "
        f"outbox (target {targets['drain_rate_msg_s_min']:.0f} msg/s: {'met' if met else 'MISSED'})",
        file=stdout,
    )
    return verdict.finish(report, stdout)


async def run(
    url: str, size: flood_scenario.Size, args: argparse.Namespace, stderr: TextIO
) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    engine = make_engine(url)
    scenario = await asyncio.to_thread(flood_scenario.build, engine, size, now=now, seed=args.seed)
    closures = ClosureService(engine, clock=lambda: now)
    emergencies = EmergencyService(engine, clock=lambda: now, closures=closures)
    async with LocalBotApi() as api:
        request = AiohttpRequest(connection_pool_size=max(args.concurrency, 8), read_timeout=30)
        gate = None
        if args.gate:
            gate = TelegramGate(Pacer(slots_for(engine), rate=PAID_BROADCAST_MSG_S), paid_broadcast=True)
        bot: ExtBot[None] = ExtBot(
            api.token, base_url=api.base_url, base_file_url=api.base_file_url, request=request,
            rate_limiter=gate,
        )  # fmt: skip
        async with bot:
            worker = OutboxWorker(
                engine, {}, emergency_publishers={DM: EmergencyDmPublisher(bot)}, clock=lambda: now,
                batch=args.batch, emergency_batch=args.emergency_batch, concurrency=args.concurrency,
                rng=random.Random(args.seed),
            )  # fmt: skip
            declared = await asyncio.to_thread(
                emergencies.declare, "riyadh", scenario.declaration(now), OPERATOR
            )
            first_id = declared.emergency.first_id
            assert first_id is not None
            first = await _version(api, engine, worker, scenario.expected, first_id, 1, stderr)
            update = {"instruction_ar": "ابتعد عن الأنفاق حتى إشعار آخر",
                      "instruction_en": "Keep out of underpasses until told"}  # fmt: skip
            await asyncio.to_thread(emergencies.update, first_id, update, OPERATOR)
            second = await _version(api, engine, worker, scenario.expected, first_id, 2, stderr)
            baseline = await raw_rate(bot, len(scenario.expected), args.concurrency)
    engine.dispose()
    messaged, later = first.pop("messaged"), second.pop("messaged")
    rate = min(first["rate"], second["rate"])
    return {
        "bench": "emergency_drain",
        "backend": sa.make_url(url).get_backend_name(),
        "people": len(scenario.expected),
        "planned_s": first["planned_s"],
        "declared_drain_s": first["drain_s"],
        "declared_rate_msg_s": first["rate"],
        "update_planned_s": second["planned_s"],
        "update_drain_s": second["drain_s"],
        "update_rate_msg_s": second["rate"],
        "drain_rate_msg_s": rate,
        "telegram_limit_msg_s": TELEGRAM_LIMIT_MSG_S,
        "ratio_to_limit": round(rate / TELEGRAM_LIMIT_MSG_S, 2),
        "raw_send_rate_msg_s": round(baseline, 1),
        "worker_vs_raw": round(rate / baseline, 2),
        "paid_broadcast_sent": first["paid"] + second["paid"],  # with --gate: every message
        "declared_once_each": messaged.once_each,
        "update_once_each": later.once_each,
        "update_answers_first": bool(messaged.first_ids) and later.replies_to == messaged.first_ids,
        "concurrency": args.concurrency,
        "batch": args.batch,
        "emergency_batch": args.emergency_batch,
        "gate": args.gate,
        "python": platform.python_version(),
    }


async def _version(
    api: LocalBotApi, engine: sa.Engine, worker: OutboxWorker, expected: frozenset[int], first_id: int,
    version: int, stderr: TextIO,
) -> dict[str, Any]:  # fmt: skip
    """Expand one version's people row (timed), then drain every direct message (timed)."""
    seen = len(api.calls)
    started = time.perf_counter()
    while not await asyncio.to_thread(_planned, engine, first_id, version):
        if not await worker.run_once():
            raise RuntimeError(f"version {version}'s people row was not expanded")
    planned_s = time.perf_counter() - started
    total = await asyncio.to_thread(_planned, engine, first_id, version)
    bar = asyncio.create_task(drain_bar(api, total, stderr, since=seen))
    started = time.perf_counter()
    await worker.drain()
    drain_s = time.perf_counter() - started
    bar.cancel()
    messaged = Messaged(expected)
    sent = [call for call in api.calls[seen:] if call.method == "sendMessage"]
    for call in sent:
        messaged.note(call)
    return {
        "messaged": messaged,
        "paid": sum(1 for call in sent if call.params.get("allow_paid_broadcast")),
        "planned_s": round(planned_s, 3),
        "drain_s": round(drain_s, 3),
        "rate": round(total / drain_s, 1) if drain_s else math.inf,
    }


def _planned(engine: sa.Engine, first_id: int, version: int) -> int:
    """How many direct-message rows the version has (0 until its people row is expanded)."""
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(
            col(OutboxItem.emergency_id) == first_id,
            col(OutboxItem.emergency_version) == version,
            col(OutboxItem.destination).like(f"{DM}:%"),
            col(OutboxItem.status) != OutboxStatus.SUPERSEDED.value,
        )
        return int(conn.execute(query.select_from(OutboxItem)).scalar_one())


if __name__ == "__main__":
    raise SystemExit(main())
