"""Phases follow from status and time alone: scheduled → active → ended, unless lifted or cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from closures.lifecycle import Phase, is_relevant, next_transition, phase_at

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=4)
TICK = timedelta(microseconds=1)
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Timed:
    starts_at: datetime
    ends_at: datetime | None = END
    status: str = "open"


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        (START - timedelta(days=3), Phase.SCHEDULED),
        (START - TICK, Phase.SCHEDULED),
        (START, Phase.ACTIVE),
        (END - TICK, Phase.ACTIVE),
        (END, Phase.ENDED),
        (END + timedelta(days=3), Phase.ENDED),
    ],
)
def test_phase_is_active_from_start_up_to_but_excluding_end(at, phase):
    assert phase_at(Timed(START), at) is phase


def test_open_ended_closure_stays_active_forever():
    closure = Timed(START, ends_at=None)
    assert phase_at(closure, START + timedelta(days=3650)) is Phase.ACTIVE
    assert next_transition(closure, START) is None


def test_phase_is_compared_as_instants_whatever_the_zone():
    riyadh = START.astimezone(timezone(timedelta(hours=3)))  # 13:00 in Riyadh is 10:00 UTC
    assert phase_at(Timed(riyadh), START) is Phase.ACTIVE
    assert phase_at(Timed(riyadh), START - TICK) is Phase.SCHEDULED


@pytest.mark.parametrize(("status", "phase"), [("lifted", Phase.LIFTED), ("cancelled", Phase.CANCELLED)])
@pytest.mark.parametrize("at", [START - DAY, START, END - TICK, END + DAY])
def test_lifted_or_cancelled_overrides_time(status, phase, at):
    closure = Timed(START, status=status)
    assert phase_at(closure, at) is phase
    assert next_transition(closure, at) is None
    assert not is_relevant(closure, at, DAY)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (START - DAY, START),
        (START - TICK, START),
        (START, END),
        (END - TICK, END),
        (END, None),
        (END + DAY, None),
    ],
)
def test_next_transition_is_the_start_then_the_end_then_none(at, expected):
    assert next_transition(Timed(START), at) == expected


@pytest.mark.parametrize(
    ("at", "relevant"),
    [
        (START - DAY - TICK, False),  # starts just beyond the horizon
        (START - DAY, True),  # starts exactly at the horizon
        (START - timedelta(hours=1), True),
        (START, True),
        (END - TICK, True),
        (END, False),
        (END + DAY, False),
    ],
)
def test_relevant_when_active_or_starting_within_the_horizon(at, relevant):
    assert is_relevant(Timed(START), at, DAY) is relevant


def test_a_zero_horizon_means_active_only():
    closure = Timed(START)
    assert not is_relevant(closure, START - TICK, timedelta(0))
    assert is_relevant(closure, START, timedelta(0))
