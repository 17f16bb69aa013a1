"""What every benchmark promises: targets it can miss, one JSON line last, and an exit status that tells.

A target's name ends in ``_min`` (the figure must reach it) or ``_max`` (it must not exceed it). Each bench
states its targets and their reasons in its docstring; ``--target NAME=VALUE`` replaces one for a run (to
hold a machine to a stricter figure, or to see the exit status of a miss). The last stdout line is one JSON
object with every figure, the targets and ``passed`` (per target: true, false, or null when not measured in
this run, e.g. a smaller run or no PostgreSQL server). Exit status: 0 when no target was missed; 1 when one
was, or its data was missing (the JSON line says which, and why); 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any, TextIO

MET = 0
MISSED = 1


def met(name: str, bound: float, value: float | None) -> bool | None:
    """Whether ``value`` meets the target ``name`` with ``bound``; None when it was not measured."""
    if value is None:
        return None
    if name.endswith("_min"):
        return value >= bound
    if name.endswith("_max"):
        return value <= bound
    raise ValueError(f"a target's name ends in _min or _max: {name!r}")


def named(targets: Mapping[str, float], report: Mapping[str, Any]) -> dict[str, float | None]:
    """Each target's figure from a flat report, where it is named like the target less ``_min``/``_max``."""
    return {name: report.get(name.rsplit("_", 1)[0]) for name in targets}


def verdicts(
    targets: Mapping[str, float],
    figures: Mapping[str, float | None],
    checks: Mapping[str, bool | None] | None = None,
) -> dict[str, bool | None]:
    """Each target's verdict from the figure named like it, the ``checks`` that must hold whatever the
    targets (e.g. every message delivered once), and ``all`` of them."""
    passed = {name: met(name, bound, figures.get(name)) for name, bound in targets.items()}
    passed.update(checks or {})
    return {**passed, "all": overall(passed)}


def overall(passed: Mapping[str, bool | None]) -> bool | None:
    """False when any target was missed; True when all were met; None when some were not measured."""
    values = list(passed.values())
    if False in values:
        return False
    return None if None in values else True


def add_target_option(
    parser: argparse.ArgumentParser,
    targets: Mapping[str, float],
    *,
    known: Callable[[str], bool] | None = None,
) -> None:
    """``--target NAME=VALUE`` (repeatable), checked against the bench's targets (or ``known``)."""

    def parse(text: str) -> tuple[str, float]:
        name, sep, value = text.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"NAME=VALUE expected, got {text!r}")
        if not (known(name) if known else name in targets):
            raise argparse.ArgumentTypeError(f"no target {name!r}; the targets are {', '.join(targets)}")
        try:
            return name, float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None

    parser.add_argument(
        "--target",
        action="append",
        type=parse,
        default=[],
        metavar="NAME=VALUE",
        help="replace one of the targets for this run (repeatable); the exit status is 1 when one is missed. "
        "Targets: " + ", ".join(f"{name}={bound:g}" for name, bound in targets.items()),
    )


def chosen(defaults: Mapping[str, float], overrides: list[tuple[str, float]]) -> dict[str, float]:
    return {**defaults, **dict(overrides)}


def finish(report: dict[str, Any], stdout: TextIO) -> int:
    """Print the report as the last line (one JSON object); MISSED when ``report["passed"]`` has a miss."""
    print(json.dumps(report, ensure_ascii=False, separators=(",", ":")), file=stdout)
    return MISSED if False in report["passed"].values() else MET
