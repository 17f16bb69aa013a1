"""Who an emergency reaches: the people inside its area or near it, each once, in their own language.

For a public emergency: (a) every active subscriber whose saved place or route lies within its radius of
the area (``closures.fanout``), (b) every driver whose live location, or last location shared within the
recent window, is inside the area or within the margin (``closures.locations``). For an exercise: the
municipality's active staff, and nobody else. A person on several lists is reached once (staff first, then
subscriber, then driver, for the reason recorded); their language is the one they chose in the bot, else
the one their subscription or location was saved with.

An update reaches everyone an earlier version reached plus whoever the (maybe larger) area now takes in;
the end reaches only those an earlier version reached. The "emergency-people" outbox row is expanded by
:func:`queue_people` in ONE transaction that marks it done, records new recipients and plans one
"emergency-dm" row per person: a crash before the commit leaves the row to be expanded again, after it
leaves nothing to redo, and the idempotent keys make a second expansion add nothing.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures.bulk import insert_new
from closures.emergency_models import Emergency, EmergencyAction, EmergencyRecipient, ReachReason
from closures.emergency_outbox import DM, key
from closures.fanout import reached_by
from closures.locations import located_near
from closures.models import Driver, OutboxItem, OutboxStatus, Staff
from closures.outbox import ClaimedEmergency, fanned_out
from closures.store import rows_matched, session_scope

DEFAULT_RECENT = timedelta(hours=2)
DEFAULT_MARGIN_M = 1000.0


@dataclass(frozen=True, slots=True)
class Reach:
    """Where drivers count as reached: a location this recent, this far from the area at most."""

    recent: timedelta = DEFAULT_RECENT
    margin_m: float = DEFAULT_MARGIN_M


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    language: str
    reason: ReachReason


@dataclass(frozen=True, slots=True)
class Count:
    """How many people a declaration would reach, by reason (a person counts once, for the first)."""

    staff: int
    subscribers: int
    drivers: int

    @property
    def total(self) -> int:
        return self.staff + self.subscribers + self.drivers


def people_in(
    session: Session, area: BaseGeometry, *, municipality_id: int, exercise: bool, now: datetime, reach: Reach
) -> list[Person]:
    """Everyone the area reaches now (see the module docstring), each once, in their language."""
    found: dict[int, tuple[str, ReachReason]] = {}
    if exercise:
        staff = session.execute(
            sa.select(col(Staff.telegram_user_id)).where(
                col(Staff.municipality_id) == municipality_id, col(Staff.active) == sa.true()
            )
        ).scalars()
        for user_id in staff:
            found.setdefault(user_id, ("ar", ReachReason.STAFF))
    else:
        for user_id, language in reached_by(session, area):
            found.setdefault(user_id, (language, ReachReason.SUBSCRIBER))
        for driver in located_near(session, area, now=now, recent=reach.recent, margin_m=reach.margin_m):
            found.setdefault(driver.user_id, (driver.language, ReachReason.DRIVER))
    chosen = _chosen_languages(session, list(found))
    return [
        Person(user_id, chosen.get(user_id) or language, reason)
        for user_id, (language, reason) in sorted(found.items())
    ]


def count(
    session: Session, area: BaseGeometry, *, municipality_id: int, exercise: bool, now: datetime, reach: Reach
) -> Count:
    people = people_in(
        session, area, municipality_id=municipality_id, exercise=exercise, now=now, reach=reach
    )
    by = {r: sum(1 for p in people if p.reason is r) for r in ReachReason}
    return Count(by[ReachReason.STAFF], by[ReachReason.SUBSCRIBER], by[ReachReason.DRIVER])


def _chosen_languages(session: Session, user_ids: list[int]) -> dict[int, str | None]:
    # the ids as ONE parameter (an array, or a JSON list on SQLite): an IN list of 10,000 parameters costs
    # more to render and parse than the query takes
    if session.get_bind().dialect.name == "postgresql":
        wanted = col(Driver.telegram_user_id) == sa.any_(
            sa.bindparam("ids", user_ids, type_=postgresql.ARRAY(sa.BigInteger))
        )
    else:
        ids: sa.Select[Any] = sa.select(sa.column("value")).select_from(
            sa.func.json_each(sa.bindparam("ids", json.dumps(user_ids)))
        )
        wanted = col(Driver.telegram_user_id).in_(ids)
    chosen = sa.select(col(Driver.telegram_user_id), col(Driver.language))
    return dict(
        session.connection().execute(chosen.where(wanted, col(Driver.language).is_not(None))).tuples().all()
    )


def queue_people(engine: Engine, item: ClaimedEmergency, *, now: datetime, reach: Reach) -> int | None:
    """Expand an "emergency-people" row into one DM row per person and mark it done (one transaction);
    how many DMs were planned, or None if the lease was lost."""
    with session_scope(engine, write=True) as session:
        mine = rows_matched(
            session.execute(
                sa.update(OutboxItem)
                .where(col(OutboxItem.id) == item.id, col(OutboxItem.claim_token) == item.token)
                .values(
                    status=OutboxStatus.DONE.value, claim_token=None, lease_until=None, intent_at=None,
                    done_at=now, updated_at=now, last_error=None,
                )
            )
        )  # fmt: skip
        if not mine:
            return None
        version = session.execute(
            sa.select(Emergency).where(
                col(Emergency.first_id) == item.emergency_id,
                col(Emergency.version) == item.emergency_version,
                col(Emergency.state) == "issued",
            )
        ).scalar_one()
        earlier = session.execute(
            sa.select(
                col(EmergencyRecipient.telegram_user_id),
                col(EmergencyRecipient.language),
                col(EmergencyRecipient.reason),
            ).where(col(EmergencyRecipient.emergency_id) == item.emergency_id)
        ).all()
        told = {user_id for user_id, _, _ in earlier}
        new: list[Person] = []
        if item.event is not EmergencyAction.ENDED:
            area = shapely.from_geojson(version.area_geojson)
            people = people_in(
                session,
                area,
                municipality_id=version.municipality_id,
                exercise=version.exercise,
                now=now,
                reach=reach,
            )
            new = [p for p in people if p.user_id not in told]
        if new:
            insert_new(
                session,
                EmergencyRecipient,
                same={
                    "emergency_id": item.emergency_id, "first_version": item.emergency_version,
                    "message_id": None, "created_at": now,
                },
                each={
                    "telegram_user_id": [p.user_id for p in new], "language": [p.language for p in new],
                    "reason": [p.reason.value for p in new],
                },
            )  # fmt: skip
        everyone = sorted([(u, language, reason) for u, language, reason in earlier])
        everyone = sorted(everyone + [(p.user_id, p.language, p.reason.value) for p in new])
        if everyone:
            destinations = [f"{DM}:{user_id}" for user_id, _, _ in everyone]
            insert_new(
                session,
                OutboxItem,
                same=fanned_out(
                    now, item.event.value, emergency_id=item.emergency_id,
                    emergency_version=item.emergency_version,
                ),
                each={
                    "idempotency_key": [
                        key(item.emergency_id, item.emergency_version, item.event, d) for d in destinations
                    ],
                    "destination": destinations,
                    "payload_json": [dm_payload(*person) for person in everyone],
                },
            )  # fmt: skip
        session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item.id)
            .values(remote_id=f"{len(everyone)} people")
        )
        return len(everyone)


def dm_payload(user_id: int, language: str, reason: str) -> str:
    """What an "emergency-dm" row tells its sender: whom, in which language, and why they are reached —
    ``json.dumps({"chat_id": …, "language": …, "reason": …})`` to the byte, written out because a
    flood's 10,000 of them spent more in the encoder than in the database."""
    return f'{{"chat_id": {int(user_id)}, "language": {_json(language)}, "reason": {_json(reason)}}}'


@functools.lru_cache(maxsize=64)
def _json(text: str) -> str:  # a handful of languages and reasons, encoded once each
    return json.dumps(text)
