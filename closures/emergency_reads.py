"""Reading emergencies: the current version of a series, its versions, drafts, closures and audit trail.

Blocking (database); the bot calls it from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from closures import emergency_versions as versions
from closures import municipalities
from closures.emergency_models import Emergency, EmergencyClosure, EmergencyEvent, EmergencyState
from closures.emergency_versions import is_active
from closures.errors import NotFound
from closures.lifecycle import Clock, system_clock
from closures.models import Closure
from closures.store import session_scope


@dataclass
class EmergencyRecords:
    engine: Engine
    clock: Clock = system_clock

    def current(self, first_id: int) -> Emergency:
        """The series' newest issued version."""
        with session_scope(self.engine) as session:
            return versions.current(session, first_id)

    def series(self, first_id: int) -> list[Emergency]:
        """Every issued version, oldest first."""
        with session_scope(self.engine) as session:
            rows = list(
                session.exec(
                    select(Emergency)
                    .where(
                        col(Emergency.first_id) == first_id,
                        col(Emergency.state) == EmergencyState.ISSUED.value,
                    )
                    .order_by(col(Emergency.version))
                )
            )
            if not rows:
                raise NotFound("emergency", first_id)
            return rows

    def get(self, emergency_id: int) -> Emergency:
        """One version (or draft) by its own id."""
        with session_scope(self.engine) as session:
            row = session.get(Emergency, emergency_id)
            if row is None:
                raise NotFound("emergency", emergency_id)
            return row

    def active(self, municipality: str | int | None = None) -> list[Emergency]:
        """The current version of every emergency in force (issued, not ended, not expired), newest first."""
        return [e for e in self.listing(municipality) if is_active(e, self.clock())]

    def listing(self, municipality: str | int | None = None, *, limit: int = 50) -> list[Emergency]:
        """The current version of the newest emergencies (in force or not), newest first."""
        with session_scope(self.engine) as session:
            query = select(Emergency).where(
                col(Emergency.state) == EmergencyState.ISSUED.value,
                col(Emergency.superseded_by).is_(None),
            )
            if municipality is not None:
                query = query.where(
                    col(Emergency.municipality_id) == municipalities.by_key(session, municipality).id
                )
            return list(session.exec(query.order_by(col(Emergency.first_id).desc()).limit(limit)))

    def drafts(self, municipality: str | int) -> list[Emergency]:
        with session_scope(self.engine) as session:
            muni = municipalities.by_key(session, municipality)
            return list(
                session.exec(
                    select(Emergency)
                    .where(
                        col(Emergency.municipality_id) == muni.id,
                        col(Emergency.state) == EmergencyState.DRAFT.value,
                    )
                    .order_by(col(Emergency.id))
                )
            )

    def closures_of(self, first_id: int) -> list[tuple[EmergencyClosure, Closure]]:
        with session_scope(self.engine) as session:
            return [
                (link, closure)
                for link, closure in session.execute(
                    sa.select(EmergencyClosure, Closure)
                    .join(Closure, col(Closure.id) == col(EmergencyClosure.closure_id))
                    .where(col(EmergencyClosure.emergency_id) == first_id)
                    .order_by(col(Closure.id))
                ).all()
            ]

    def history(self, first_id: int) -> list[EmergencyEvent]:
        with session_scope(self.engine) as session:
            rows = list(
                session.exec(
                    select(EmergencyEvent)
                    .where(col(EmergencyEvent.first_id) == first_id)
                    .order_by(col(EmergencyEvent.id))
                )
            )
            if not rows:
                raise NotFound("emergency", first_id)
            return rows
