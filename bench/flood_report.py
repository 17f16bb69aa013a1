"""``bench.flood``'s figures: the JSON report of the day's phases, the verdicts against the targets, and
the lines a person reads above the JSON."""

from __future__ import annotations

import math
import os
import platform
from typing import Any, TextIO

import sqlalchemy as sa

from bench import verdict
from bench.flood_day import Messaged
from bench.flood_scenario import Scenario, Size
from bench.offered import Load
from bot.looplag import LagStats

TELEGRAM_LIMIT_MSG_S = 30.0
TARGET_RATE = 500.0  # updates a second: issue 12's load, for processes_for_500


def figures(
    url: str, size: Size, scenario: Scenario, *, idle: Load, idle_loop: LagStats, day: dict[str, Any],
    alone: dict[str, Any], sustainable: float, stepped: list[Load], strays: int, late_replies: int,
    bot_pid: int, idle_cpu_s: float,
) -> dict[str, Any]:  # fmt: skip
    """Every figure of the run, flat where a target reads it (``verdict.named``), the phases nested."""
    messaged: Messaged = day.pop("messaged")
    update: Messaged = alone.pop("messaged")
    load: Load = day.pop("load")
    rate = messaged.rate()
    drain_s = messaged.drain_s()
    return {
        "bench": "flood", "backend": sa.make_url(url).get_backend_name(),
        "subscribers": size.subscribers, "drivers": size.drivers, "drivers_inside": size.inside,
        "senders": len(scenario.senders), "imported": scenario.imported,
        "expected_people": len(scenario.expected),
        "planned_s": day["planned_s"], "declare_s": day["declare_s"],
        "first_message_s": day["first_message_s"],
        "messages": len(messaged.arrivals), "drain_s": round(drain_s, 2) if drain_s is not None else None,
        "drain_rate_msg_s": rate, "telegram_limit_msg_s": TELEGRAM_LIMIT_MSG_S,
        "ratio_to_limit": round(rate / TELEGRAM_LIMIT_MSG_S, 2) if rate is not None else None,
        "day_p50_ms": load.p50_ms, "day_p99_ms": load.p99_ms,
        "idle_p50_ms": idle.p50_ms, "idle_p99_ms": idle.p99_ms,
        "loop_stalls": day["loop"]["stalls"], "loop_max_lag_ms": day["loop"]["max_ms"],
        "idle_loop_stalls": idle_loop.stalls, "outbox_idle_after_s": day["outbox_idle_after_s"],
        "sustainable_updates_s": sustainable,
        "processes_for_500": math.ceil(TARGET_RATE / sustainable) if sustainable else None,
        "all_reached_once": messaged.once_each, "update_reached_once": update.once_each,
        "update_answers_first": alone["answers_first"], "strays": strays,
        "late_replies": late_replies,
        "bot_pid": bot_pid, "bench_pid": os.getpid(),
        "idle_bot_cpu_ms_per_update": round(1000 * idle_cpu_s / idle.offered, 2) if idle.offered else None,
        "idle": {**idle.as_json(), "loop": idle_loop.as_json()}, "day": {**load.as_json(), **day},
        "loop": day["loop"],
        "drain_alone": {"planned_s": alone["planned_s"], "first_message_s": alone["first_message_s"],
                        "messages": len(update.arrivals), "drain_rate_msg_s": update.rate()},
        "capacity_steps": [step.as_json() for step in stepped],
        "python": platform.python_version(),
    }  # fmt: skip


def verdicts(targets: dict[str, float], report: dict[str, Any]) -> dict[str, bool | None]:
    """Each target's verdict, and the checks that hold whatever the targets; a figure that could not be
    measured (the drain did not finish, say) counts as missed."""
    checks = {
        "all_reached_once": report["all_reached_once"] and report["strays"] == 0,
        "update_reached_once": report["update_reached_once"] and report["update_answers_first"],
    }
    passed = verdict.verdicts(targets, verdict.named(targets, report), checks)
    missing = {name: False for name, value in passed.items() if value is None}
    return {**passed, **missing, "all": verdict.overall({**passed, **missing})}


def summary(r: dict[str, Any], out: TextIO, *, stall_ms: float) -> None:
    """The figures against their targets, a line each, for a person (the JSON line follows)."""

    def word(name: str) -> str:
        return "met" if r["passed"].get(name) else "MISSED"

    t = r["targets"]
    lines = [
        f"{r['backend']}: {r['expected_people']:,} people to reach; {r['imported']:,} closures imported",
        f"confirm → every message planned: {r['planned_s']} s (target ≤ {t['planned_s_max']:g}: "
        f"{word('planned_s_max')}); the first message {r['first_message_s']} s",
        f"drain: {r['messages']:,} messages in {r['drain_s']} s = {r['drain_rate_msg_s']} msg/s = "
        f"{r['ratio_to_limit']}× Telegram's 30/s (target ≥ {t['drain_rate_msg_s_min']:g}: "
        f"{word('drain_rate_msg_s_min')}); the import's alerts worked through {r['outbox_idle_after_s']} s "
        f"later; then the update alone {r['drain_alone']['drain_rate_msg_s']} msg/s",
        f"replies at {r['day']['rate']:g} updates/s offered: idle p50 {r['idle_p50_ms']} ms, "
        f"p99 {r['idle_p99_ms']} ms; on the day p50 {r['day_p50_ms']} ms, p99 {r['day_p99_ms']} ms "
        f"(target ≤ {t['day_p99_ms_max']:g}: {word('day_p99_ms_max')}); {r['late_replies']:,} replies came "
        "after the bench stopped waiting (counted at the time it waited)",
        f"event loop on the day: {r['loop_stalls']} stalls over {stall_ms:g} ms, "
        f"worst {r['loop_max_lag_ms']} ms "
        f"(target ≤ {t['loop_stalls_max']:g}: {word('loop_stalls_max')}); idle {r['idle_loop_stalls']}",
        f"the bot's process (pid {r['bot_pid']}, apart from the Bot API and the drivers): "
        f"{r['idle_bot_cpu_ms_per_update']} ms of CPU per update at idle",
        f"one process sustains {r['sustainable_updates_s']:g} updates/s with p99 under "
        f"{t['day_p99_ms_max']:g} ms: processes_for_500 = {r['processes_for_500']}",
    ]
    for name in ("all_reached_once", "update_reached_once"):
        if not r["passed"][name]:
            lines.append(f"{name}: MISSED ({r['strays']} messages to people the emergency does not reach)")
    print("\n".join(lines), file=out)
