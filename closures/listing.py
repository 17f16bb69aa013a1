"""Closures as staff list them: open in their municipalities, or registered by them, a page at a time;
and every closure with its municipality, as the command line lists and exports them.

Blocking (database); the bot calls it from a worker thread. Rows are returned detached (safe across threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from closures.lifecycle import Clock, system_clock
from closures.models import Closure, Municipality, Status
from closures.store import session_scope


@dataclass(frozen=True, slots=True)
class Page:
    closures: list[Closure]
    total: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        after = self.offset + len(self.closures)
        return after if after < self.total else None


@dataclass
class ClosureListing:
    engine: Engine
    clock: Clock = system_clock

    def open_in(self, municipality_ids: Sequence[int], *, offset: int = 0, limit: int = 10) -> Page:
        """Active and scheduled closures of these municipalities, soonest start first."""
        return self._page(col(Closure.municipality_id).in_(list(municipality_ids)), offset, limit)

    def created_by(self, actor_name: str, *, offset: int = 0, limit: int = 10) -> Page:
        """Active and scheduled closures this actor registered."""
        return self._page(Closure.created_by == actor_name, offset, limit)

    def every(self, *, municipality: str | None = None) -> list[tuple[Closure, str]]:
        """Every closure, whatever its phase, with its municipality's slug; by start, then id. Only those of
        ``municipality`` (a slug) when given."""
        query = (
            select(Closure, Municipality.slug)
            .join(Municipality)
            .order_by(col(Closure.starts_at), col(Closure.id))
        )
        if municipality is not None:
            query = query.where(col(Municipality.slug) == municipality)
        with session_scope(self.engine) as session:
            return [(closure, slug) for closure, slug in session.exec(query)]

    def _page(self, where: Any, offset: int, limit: int) -> Page:
        now = self.clock()
        conditions = (
            where,
            col(Closure.status) == Status.OPEN.value,
            sa.or_(col(Closure.ends_at).is_(None), col(Closure.ends_at) > now),
        )
        with session_scope(self.engine) as session:
            total = session.exec(select(func.count()).select_from(Closure).where(*conditions)).one()
            rows = session.exec(
                select(Closure)
                .where(*conditions)
                .order_by(col(Closure.starts_at), col(Closure.id))
                .offset(max(0, offset))
                .limit(limit)
            )
            return Page(list(rows), int(total), max(0, offset))
