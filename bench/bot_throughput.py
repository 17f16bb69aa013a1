"""Benchmark: drivers' locations through the whole bot, against the framework's own ceiling, in one run.

    .venv/bin/python -m bench.bot_throughput [--quick] [--drivers N] [--in-flight K] [--rounds R]
                                             [--rate U] [--gc settled|python]

Each of N distinct simulated drivers (ids never seen before, half Arabic, half English) shares one location
at a seeded random point around Riyadh. The update goes through the full pipeline: the local Bot API server
(``bot.localapi``) queues it → the real PTB Application long-polls it over loopback HTTP (concurrent updates
on, rate limiter off) → our handlers read the driver's profile, query the closures within their radius and
render the page → the reply is received by the server. K drivers are in flight at once: each slot sends the
next driver's location as soon as the previous reply has arrived (a closed loop, so the latency is that of
a loaded bot, not of a queue growing without bound).

* **location**: ``build_application`` on a SQLite file with the sample closures (``roadbot demo``'s data);
* **echo**: a minimal Application against the same kind of server, whose only handler replies with a
  fixed text — what PTB, HTTP and the local server cost by themselves: the ceiling.

Latency is from queueing the update on the server to the server receiving the reply for that chat. The
figure that matters is ``ratio`` = location updates/s ÷ echo updates/s. A few warm-up drivers go first in
each phase and are not counted. The two phases alternate for R rounds (a fresh server and Application each
time) and each keeps its best round, so a busy machine's noise does not decide the ratio.

Then an open-loop phase: the location bot offered ``--rate`` updates a second (50 by default), one driver
every 1/rate s whatever the replies do — p50/p99 at a fixed offered rate, not at saturation. Both phases run
with the collector settled once the bot is up, as ``roadbot run`` has it (``bot.gc_tuning``); ``--gc python``
keeps Python's own settings, for a before/after on the same code. ``capacity`` in the JSON states what
``TARGET_RATE`` (issue 12's 500 location updates/s) takes: processes at one's saturated rate, and cores at
its CPU per update — which includes the local Bot API server's, in this same process, so it is an upper
bound for the bot alone.

Measured on the 2-core machine (load average 6-9 from other work, so each figure moved ±40 % between runs;
the ratio and the offered-rate latencies are the steadier ones):

* before (the integration branch: aiohttp for the bot's requests, Python's gc settings): location 119/s,
  echo 134/s, ratio 0.89, 3.9 ms CPU per update;
* ``--gc python`` on this code (whose location path is otherwise that branch's): location 90/s, ratio 0.67;
  at 50/s offered p50 56 ms, p99 453 ms;
* settled (the default, as ``roadbot run``): location 102/s, ratio 1.45 (the echo round was slow); at 50/s
  offered p50 26 ms, p99 101 ms — half the median and a quarter of the tail of the same load unsettled.
  At saturation the three are within the machine's noise of each other: the gain is in the latency.
* 500 updates/s then: 5 processes at ~100/s each, needing ~2.7 cores at 5.4 ms CPU an update (bot and
  local server together).
* then, profiled (py-spy) on a quiet machine: the ratio had fallen to 0.29-0.5 (location 83-152/s against
  echo 180-311/s), and a fifth of the samples were each driver's kept last point written in a transaction
  of its own, queued on SQLite's one writer with the near queries waiting behind it for threads. With
  users' saves grouped into one transaction of upserts while one runs (``bot.handlers.persistence``) and
  the bot's requests sent as one JSON body (aiohttp's form encoding built a multipart writer and a random
  boundary for every send): location 289-332/s, echo 318-354/s, **ratio 0.91-0.96**, 3.1 ms CPU an update
  (bot and local server together); at 50/s offered p50 5 ms, p99 10 ms. 500 updates/s: 2 processes, ~1.6
  cores (December 2026, load average 1-2).

Targets (``bench/verdict.py``; ``--target`` replaces one): ``ratio_min`` 0.5 — our handlers, database and
rendering may cost at most as much again as PTB and HTTP themselves (issue 3); ``location_errors_max`` 0 —
every driver gets an answer, none an apology, in either phase. The last stdout line is one JSON object with
every figure, the targets and ``passed``; the exit status is 1 when a target is missed, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import telegram
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.botapi import TimedBotApi, bot_settings, drivers, percentile
from bench.verdict import add_target_option, chosen, finish, verdicts
from bot.app import build_application
from bot.cli.demo import load_sample_database
from bot.cli.progress import progress
from bot.config import Settings
from bot.gc_tuning import settled
from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser, LocalBotApi
from bot.services import Services

FULL_DRIVERS = 1_000
QUICK_DRIVERS = 200
IN_FLIGHT = 64
ROUNDS = 3
WARM_UP = 20
TARGETS = {"ratio_min": 0.5, "location_errors_max": 0.0}
OFFERED_RATE = 50.0  # location updates/s of the open-loop phase: below one process's saturation here
TARGET_RATE = 500  # issue 12: the offered load whose process count the report states
SEED = 20_261_127
REPLY_TIMEOUT_S = 30.0
FIRST_DRIVER_ID = 5_000_000
ECHO_TEXT = "ok"

type AppFactory = Callable[[LocalBotApi], Awaitable[Application[Any, Any, Any, Any, Any, Any]]]


@dataclass(frozen=True)
class Phase:
    updates: int
    seconds: float
    updates_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_update: float  # this process's CPU time (all threads) per update: steadier on a busy machine
    errors: int  # replies Telegram refused, or the bot's apology instead of an answer


async def measure(
    make_app: AppFactory,
    crowd: Sequence[tuple[FakeUser, float, float]],
    warm_up: Sequence[tuple[FakeUser, float, float]],
    *,
    in_flight: int,
    label: str,
    stderr: TextIO,
    rate: float | None = None,
    settle_gc: bool = True,
) -> Phase:
    """Run the warm-up, then the crowd with ``in_flight`` drivers at a time (or, with ``rate``, one driver
    every 1/rate s whatever the replies do), on a fresh server and app; the collector settled once they are
    up, as ``roadbot run`` has it (``bot.gc_tuning``), unless ``settle_gc`` is false."""
    async with TimedBotApi() as api:
        app = await make_app(api)
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        try:
            await _drive(api, warm_up, in_flight=in_flight, ticks=None)
            ticks = progress(range(len(crowd)), total=len(crowd), label=label, stream=stderr)
            with settled() if settle_gc else nullcontext():
                started, cpu_started = time.monotonic(), time.process_time()
                if rate is None:
                    results = await _drive(api, crowd, in_flight=in_flight, ticks=ticks)
                else:
                    results = await _offer(api, crowd, rate=rate, ticks=ticks)
                seconds, cpu = time.monotonic() - started, time.process_time() - cpu_started
            for _ in ticks:  # finishes the progress bar's line
                pass
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
    latencies = sorted(latency for latency, _ in results)
    apologies = {get_translator(lang).t("error.generic") for lang in ("ar", "en")}
    errors = sum(1 for _, call in results if not call.ok or call.text in apologies)
    return Phase(
        updates=len(crowd),
        seconds=round(seconds, 3),
        updates_per_s=round(len(crowd) / seconds, 1),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        cpu_ms_per_update=round(cpu / len(crowd) * 1000, 3),
        errors=errors,
    )


async def _drive(
    api: TimedBotApi,
    crowd: Sequence[tuple[FakeUser, float, float]],
    *,
    in_flight: int,
    ticks: Iterator[int] | None,
) -> list[tuple[float, ApiCall]]:
    """Every driver sends a location; each of ``in_flight`` slots waits for its reply before the next."""
    queue = iter(crowd)
    results: list[tuple[float, ApiCall]] = []

    async def slot() -> None:
        for user, lat, lon in queue:
            reply = api.expect(user.id)
            queued = time.monotonic()
            api.user_sends_location(user, lat, lon)
            call = await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
            results.append((call.at - queued, call))
            if ticks is not None:
                next(ticks, None)

    await asyncio.gather(*(slot() for _ in range(min(in_flight, len(crowd)))))
    return results


async def _offer(
    api: TimedBotApi, crowd: Sequence[tuple[FakeUser, float, float]], *, rate: float, ticks: Iterator[int]
) -> list[tuple[float, ApiCall]]:
    """An open loop: driver i sends at i/rate s from the start, whether or not earlier replies came."""
    start = time.monotonic()

    async def one(i: int, user: FakeUser, lat: float, lon: float) -> tuple[float, ApiCall]:
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))  # the offered pace, not a wait
        reply = api.expect(user.id)
        queued = time.monotonic()
        api.user_sends_location(user, lat, lon)
        call = await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
        next(ticks, None)
        return call.at - queued, call

    return list(await asyncio.gather(*(one(i, *driver) for i, driver in enumerate(crowd))))


# --- the two applications ------------------------------------------------------------------------------


def location_app(database_url: str) -> AppFactory:
    """The real bot (``build_application``, rate limiter off) on the sample database."""

    async def make(api: LocalBotApi) -> Application[Any, Any, Any, Any, Any, Any]:
        settings = bot_settings(api, database_url)
        return build_application(Services.build(settings), rate_limit=False)

    return make


async def echo_app(api: LocalBotApi) -> Application[Any, Any, Any, Any, Any, Any]:
    """PTB alone: the same server and builder options, one handler replying with a fixed text."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(ECHO_TEXT)

    app = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, echo))
    return app


# --- command line ---------------------------------------------------------------------------------------


async def run(
    n: int,
    in_flight: int,
    rounds: int,
    stderr: TextIO,
    targets: dict[str, float] = TARGETS,
    *,
    rate: float = OFFERED_RATE,
    settle_gc: bool = True,
) -> dict[str, Any]:
    crowd = drivers(n, first_id=FIRST_DRIVER_ID, seed=SEED)
    warm_up = drivers(WARM_UP, first_id=FIRST_DRIVER_ID - WARM_UP, seed=SEED + 1)
    best: dict[str, Phase] = {}
    history: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="roadbot-bench-") as tmp:
        ctx, _ = await asyncio.to_thread(
            load_sample_database,
            Settings(_env_file=None),
            Path(tmp) / "bench.sqlite",
        )
        ctx.engine.dispose()
        apps: dict[str, AppFactory] = {"echo": echo_app, "location": location_app(ctx.settings.database_url)}
        for round_no in range(rounds):
            order = ("echo", "location") if round_no % 2 == 0 else ("location", "echo")  # cancels drift
            figures: dict[str, float] = {}
            for name in order:
                label = f"{name:<8} {round_no + 1}/{rounds}"
                phase = await measure(
                    apps[name], crowd, warm_up, in_flight=in_flight, label=label, stderr=stderr,
                    settle_gc=settle_gc,
                )  # fmt: skip
                figures[name] = phase.updates_per_s
                if name not in best or phase.updates_per_s > best[name].updates_per_s:
                    best[name] = phase
            history.append(figures)
        offered = await measure(
            apps["location"], crowd, warm_up, in_flight=in_flight, label=f"{rate:g}/s", stderr=stderr,
            rate=rate, settle_gc=settle_gc,
        )  # fmt: skip
    location, echo = best["location"], best["echo"]
    ratio = round(location.updates_per_s / echo.updates_per_s, 3)
    return {
        "bench": "bot_throughput",
        "drivers": n,
        "in_flight": in_flight,
        "rounds": rounds,
        "location": asdict(location),
        "echo": asdict(echo),
        "ratio": ratio,
        "targets": targets,
        "passed": verdicts(
            targets, {"ratio_min": ratio, "location_errors_max": location.errors + offered.errors}
        ),
        "gc": "settled (bot.gc_tuning)" if settle_gc else "python's defaults",
        "offered": {"rate_per_s": rate, **asdict(offered)},
        "capacity": capacity(location, offered, rate),
        "updates_per_s_by_round": history,
        "python": platform.python_version(),
        "python_telegram_bot": telegram.__version__,
    }


def capacity(location: Phase, offered: Phase, rate: float) -> dict[str, Any]:
    """What TARGET_RATE location updates a second would take, from this run's figures: processes at the
    saturated rate of one, and cores at its CPU per update (which includes the local Bot API server's, run
    in the same process: an upper bound for the bot alone)."""
    cores = os.cpu_count() or 1
    cores_needed = TARGET_RATE * location.cpu_ms_per_update / 1000
    return {
        "target_per_s": TARGET_RATE,
        "per_process_per_s": location.updates_per_s,
        "processes_for_target": math.ceil(TARGET_RATE / location.updates_per_s),
        "cores_for_target": round(cores_needed, 2),
        "machine_cores": cores,
        "fits_this_machine": cores_needed <= cores,
        "offered_rate_kept_up": offered.updates_per_s >= rate * 0.95,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot_throughput.py",
        description="Location updates through the whole bot vs. an echo bot (PTB's ceiling), same run.",
        epilog="The last stdout line is one JSON object with every figure.",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_DRIVERS} drivers instead of {FULL_DRIVERS}"
    )
    parser.add_argument(
        "--drivers", type=int, metavar="N", help="how many distinct drivers (overrides --quick)"
    )
    parser.add_argument(
        "--in-flight", type=int, default=IN_FLIGHT, metavar="K", help="drivers waiting for a reply at once"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="R",
        help=f"alternate the two phases R times and keep each one's best (default {ROUNDS}; --quick: 1)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=OFFERED_RATE,
        metavar="U",
        help=f"the open-loop phase's offered location updates per second (default {OFFERED_RATE:g})",
    )
    parser.add_argument(
        "--gc",
        choices=("settled", "python"),
        default="settled",
        help="the collector as `roadbot run` settles it once up (default), or Python's own settings",
    )
    add_target_option(parser, TARGETS)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    n = args.drivers if args.drivers is not None else QUICK_DRIVERS if args.quick else FULL_DRIVERS
    rounds = args.rounds if args.rounds is not None else 1 if args.quick else ROUNDS
    if min(n, args.in_flight, rounds) < 1 or args.rate <= 0:
        build_parser().error("--drivers, --in-flight and --rounds must be at least 1, --rate above 0")
    targets = chosen(TARGETS, args.target)
    settle_gc = args.gc == "settled"
    report = asyncio.run(run(n, args.in_flight, rounds, err, targets, rate=args.rate, settle_gc=settle_gc))
    for name in ("location", "echo"):
        p = report[name]
        print(
            f"{name:<9} {p['updates']:>5} drivers  {p['updates_per_s']:>8.1f} updates/s  "
            f"p50 {p['p50_ms']:>7.1f} ms  p99 {p['p99_ms']:>7.1f} ms  "
            f"CPU {p['cpu_ms_per_update']:>5.2f} ms/update  errors {p['errors']}",
            file=out,
        )
    o, c = report["offered"], report["capacity"]
    print(
        f"offered {o['rate_per_s']:g}/s: {o['updates_per_s']:.1f} updates/s  p50 {o['p50_ms']:.1f} ms  "
        f"p99 {o['p99_ms']:.1f} ms; {c['target_per_s']} updates/s would take {c['processes_for_target']} "
        f"processes and {c['cores_for_target']:.1f} cores (this machine has {c['machine_cores']})",
        file=out,
    )
    verdict = "met" if report["passed"]["ratio_min"] else "NOT met"
    target = report["targets"]["ratio_min"]
    print(f"ratio {report['ratio']:.3f} (location ÷ echo; target ≥ {target}): {verdict}", file=out)
    return finish(report, out)


if __name__ == "__main__":
    sys.exit(main())
