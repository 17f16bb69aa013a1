"""The bot's one send budget: how many messages it may send in each wall-clock second, and flood pauses.

Telegram's limits are per bot, not per process: 30 messages a second overall by default (1000 with paid
broadcast). A budget hands out *slots* of one second — "the 4th to 9th message of second 1764581405" —
so that N processes together never take more than the limit of any second. With one process (SQLite) the
slots are counted in memory (:class:`LocalSlots`); with several over PostgreSQL they are counted in the
``sendslot`` table, one atomic upsert per reservation of several slots (:class:`SharedSlots`), so the cost
is a round trip per batch, not per message. A 429's ``retry_after`` pauses the budget for every process
(``sendpause``): a reservation during a pause grants nothing and says until when.

Blocking (database): the bot calls :class:`SharedSlots` from a worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from closures.models import SendPause, SendSlot

_KEEP_S = 120  # slot rows older than this are deleted now and then


@dataclass(frozen=True, slots=True)
class Grant:
    """Slots ``first`` … ``first + count - 1`` of ``second`` (none while paused until ``paused_until``)."""

    second: int
    first: int
    count: int
    paused_until: float = 0.0


def granted(used_after: int, wanted: int, limit: int) -> tuple[int, int]:
    """(first slot, how many) for a reservation of ``wanted`` that moved the counter to ``used_after``.

    >>> granted(6, 6, 30)
    (0, 6)
    >>> granted(32, 6, 30)   # only 4 were left in that second
    (26, 4)
    >>> granted(40, 6, 30)
    (34, 0)
    """
    first = used_after - wanted
    return first, max(0, min(limit, used_after) - first)


class SendSlots(Protocol):
    def reserve(self, second: int, wanted: int, limit: int, *, now: float) -> Grant: ...

    def pause(self, until: float) -> None: ...


class LocalSlots:
    """The budget of a single process (SQLite): counted in memory."""

    def __init__(self) -> None:
        self._used: dict[int, int] = {}
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def reserve(self, second: int, wanted: int, limit: int, *, now: float) -> Grant:
        with self._lock:
            if self._paused_until > now:
                return Grant(second, 0, 0, self._paused_until)
            used = self._used.get(second, 0) + wanted
            self._used[second] = used
            for old in [s for s in self._used if s < second - _KEEP_S]:
                del self._used[old]
        first, count = granted(used, wanted, limit)
        return Grant(second, first, count)

    def pause(self, until: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, until)


class SharedSlots:
    """The budget shared by every process on one PostgreSQL database (named, so two bots never mix)."""

    def __init__(self, engine: Engine, budget: str = "telegram") -> None:
        self.engine = engine
        self.budget = budget

    def reserve(self, second: int, wanted: int, limit: int, *, now: float) -> Grant:
        from sqlalchemy.dialects.postgresql import insert

        row = insert(SendSlot).values(budget=self.budget, second=second, used=wanted)
        upsert = row.on_conflict_do_update(
            index_elements=[col(SendSlot.budget), col(SendSlot.second)],
            set_={"used": col(SendSlot.used) + row.excluded.used},
        ).returning(col(SendSlot.used))
        with self.engine.begin() as conn:
            paused = conn.execute(
                sa.select(col(SendPause.until)).where(col(SendPause.budget) == self.budget)
            ).scalar_one_or_none()
            if paused is not None and paused > now:
                return Grant(second, 0, 0, float(paused))
            used = int(conn.execute(upsert).scalar_one())
            if used == wanted and second % 30 == 0:  # the first reservation of every 30th second tidies up
                conn.execute(
                    sa.delete(SendSlot).where(
                        col(SendSlot.budget) == self.budget, col(SendSlot.second) < second - _KEEP_S
                    )
                )
        first, count = granted(used, wanted, limit)
        return Grant(second, first, count)

    def pause(self, until: float) -> None:
        from sqlalchemy.dialects.postgresql import insert

        upsert = insert(SendPause).values(budget=self.budget, until=until)
        upsert = upsert.on_conflict_do_update(
            index_elements=[col(SendPause.budget)],
            set_={"until": sa.func.greatest(col(SendPause.until), upsert.excluded.until)},
        )
        with self.engine.begin() as conn:
            conn.execute(upsert)


def slots_for(engine: Engine) -> SendSlots:
    """Shared slots on PostgreSQL (several processes may send); in-memory slots on SQLite (one process)."""
    return SharedSlots(engine) if engine.dialect.name == "postgresql" else LocalSlots()
