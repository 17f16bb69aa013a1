"""Where a closure stands at a moment: scheduled, active, ended, lifted or cancelled.

Status records decisions (open, lifted, cancelled); the phase follows from it and the clock. Everything here
is a pure function of its arguments; "now" is always passed in, so tests jump time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from closures.models import Status

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock, UTC-aware."""
    return datetime.now(UTC)


class Phase(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ENDED = "ended"
    LIFTED = "lifted"
    CANCELLED = "cancelled"


class Timed(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime | None: ...


def phase_at(closure: Timed, at: datetime) -> Phase:
    """The closure's phase at ``at``; an end time is exclusive (at the end instant the road is open)."""
    if closure.status == Status.CANCELLED:
        return Phase.CANCELLED
    if closure.status == Status.LIFTED:
        return Phase.LIFTED
    if at < closure.starts_at:
        return Phase.SCHEDULED
    if closure.ends_at is not None and at >= closure.ends_at:
        return Phase.ENDED
    return Phase.ACTIVE


def next_transition(closure: Timed, at: datetime) -> datetime | None:
    """When the phase next changes by time alone (start, then end); None if it never will."""
    match phase_at(closure, at):
        case Phase.SCHEDULED:
            return closure.starts_at
        case Phase.ACTIVE:
            return closure.ends_at
        case _:
            return None


def is_relevant(closure: Timed, at: datetime, horizon: timedelta) -> bool:
    """True when a driver should hear of it at ``at``: active now, or starting within ``horizon``."""
    phase = phase_at(closure, at)
    return phase is Phase.ACTIVE or (phase is Phase.SCHEDULED and closure.starts_at - at <= horizon)
