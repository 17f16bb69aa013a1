"""What a claimed emergency row should say and answer, or why it should not be posted any more.

Catch-up rules (a worker that was down must not post stale news, nor tell anyone of an end they never
heard the start of):

- *declared* / *updated* (and the people expansion): skipped once a later version was issued (that one
  is posted instead, as the first message if this one never went out), or once the version expired.
- *ended*: skipped at a destination that was never told of the emergency.
- *expired*: skipped when a later version was issued, or nothing was posted at that destination.

A channel's update and end answer the emergency's first post there; the channel's earlier posts of the
series are listed so the publisher can move the pin to the newest (and take it off at the end). A
person's update and end answer their first message. Blocking (database): the worker calls it from a
worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures.emergency_models import (
    Emergency,
    EmergencyAction,
    EmergencyClosure,
    EmergencyRecipient,
    EmergencyState,
)
from closures.emergency_outbox import DM, PEOPLE
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, Municipality, OutboxItem, OutboxStatus
from closures.outbox import ClaimedEmergency
from closures.publishing import Place, Stale
from closures.store import session_scope


@dataclass(frozen=True, slots=True)
class BroughtClosure:
    """A closure the emergency brought, as its posts list it."""

    id: int
    title_ar: str
    title_en: str | None
    detour_ar: str | None
    detour_en: str | None
    ends_at: datetime | None
    phase: Phase


@dataclass(frozen=True, slots=True)
class EmergencyPost:
    """Everything a publisher needs to post one emergency row."""

    item: ClaimedEmergency
    version: Emergency  # as of the row's version (detached)
    first: Emergency
    area: BaseGeometry
    place: Place
    closures: tuple[BroughtClosure, ...]
    reply_to: str | None  # the message this one answers, if any
    earlier: tuple[str, ...]  # our earlier posts of the series at this destination (to unpin), oldest first
    language: str | None  # a person's language (direct messages)
    late_since: datetime | None
    now: datetime


def prepare_emergencies(
    engine: Engine, items: Sequence[ClaimedEmergency], *, now: datetime, late_after: timedelta
) -> list[EmergencyPost | Stale]:
    """The context of each claimed row, or why it is not to be posted (see the rules above)."""
    series = {item.emergency_id for item in items}
    with session_scope(engine) as session:
        versions = _versions(session, series)
        posted = _posted(session, series, {item.destination for item in items})
        firsts = _first_messages(session, [i for i in items if i.kind == DM])
        places = _places(session, {v.municipality_id for known in versions.values() for v in known.values()})
        brought = _brought(session, series, now)
    out: list[EmergencyPost | Stale] = []
    for item in items:
        known = versions.get(item.emergency_id, {})
        version = known.get(item.emergency_version)
        if version is None:
            out.append(Stale(f"emergency {item.emergency_id} has no issued version {item.emergency_version}"))
            continue
        newest = max(known)
        earlier = posted.get((item.emergency_id, item.destination), [])
        reply_to = firsts.get((item.emergency_id, item.target)) if item.kind == DM else None
        if item.kind != DM and earlier:
            reply_to = earlier[0]
        stale = _stale_reason(item, version, newest, told=bool(reply_to or earlier), now=now)
        if stale:
            out.append(Stale(stale))
            continue
        out.append(
            EmergencyPost(
                item=item,
                version=version,
                first=known[min(known)],
                area=shapely.from_geojson(version.area_geojson),
                place=places[version.municipality_id],
                closures=brought.get(item.emergency_id, ()),
                reply_to=reply_to,
                earlier=tuple(earlier),
                language=(item.payload or {}).get("language"),
                late_since=item.due_at if now - item.due_at > late_after else None,
                now=now,
            )
        )
    return out


def _stale_reason(
    item: ClaimedEmergency, version: Emergency, newest: int, *, told: bool, now: datetime
) -> str | None:
    event = item.event
    if event in (EmergencyAction.DECLARED, EmergencyAction.UPDATED):
        if newest > item.emergency_version:
            return f"superseded by version {newest} before it went out"
        if version.expires_at <= now:
            return "the emergency expired before it went out"
        return None
    if item.kind == PEOPLE:
        return None  # the end reaches whoever earlier versions reached
    if event is EmergencyAction.ENDED and not told:
        return "never told of the emergency here"
    if event is EmergencyAction.EXPIRED:
        if newest > item.emergency_version:
            return f"superseded by version {newest}"
        if not told:
            return "nothing was posted here"
    return None


def _versions(session: Session, series: set[int]) -> dict[int, dict[int, Emergency]]:
    out: dict[int, dict[int, Emergency]] = {}
    rows = session.scalars(
        sa.select(Emergency).where(
            col(Emergency.first_id).in_(series),
            col(Emergency.state) == EmergencyState.ISSUED.value,
        )
    )
    for row in rows:
        assert row.first_id is not None
        out.setdefault(row.first_id, {})[row.version] = row
    return out


def _places(session: Session, ids: set[int]) -> dict[int, Place]:
    """The municipalities' names and time zones (not their boundaries: large, and not needed here)."""
    rows = session.execute(
        sa.select(
            col(Municipality.id), col(Municipality.slug), col(Municipality.name_ar),
            col(Municipality.name_en), col(Municipality.timezone),
        ).where(col(Municipality.id).in_(ids))
    )  # fmt: skip
    return {row_id: Place(slug, name_ar, name_en, zone) for row_id, slug, name_ar, name_en, zone in rows}


def _posted(session: Session, series: set[int], destinations: set[str]) -> dict[tuple[int, str], list[str]]:
    """Remote ids of the series' posts already made at each destination, oldest first."""
    out: dict[tuple[int, str], list[str]] = {}
    rows = session.execute(
        sa.select(col(OutboxItem.emergency_id), col(OutboxItem.destination), col(OutboxItem.remote_id))
        .where(
            col(OutboxItem.emergency_id).in_(series),
            col(OutboxItem.destination).in_(destinations - {PEOPLE}),
            col(OutboxItem.status) == OutboxStatus.DONE.value,
            col(OutboxItem.event).in_([EmergencyAction.DECLARED.value, EmergencyAction.UPDATED.value]),
            col(OutboxItem.remote_id).is_not(None),
        )
        .order_by(col(OutboxItem.emergency_version), col(OutboxItem.id))
    )
    for first_id, destination, remote_id in rows:
        out.setdefault((first_id, destination), []).append(remote_id)
    return out


def _first_messages(session: Session, items: list[ClaimedEmergency]) -> dict[tuple[int, str], str]:
    if not items:
        return {}
    rows = session.execute(
        sa.select(
            col(EmergencyRecipient.emergency_id),
            col(EmergencyRecipient.telegram_user_id),
            col(EmergencyRecipient.message_id),
        ).where(
            col(EmergencyRecipient.emergency_id).in_({i.emergency_id for i in items}),
            col(EmergencyRecipient.telegram_user_id).in_({int(i.target) for i in items}),
            col(EmergencyRecipient.message_id).is_not(None),
        )
    )
    return {(first_id, str(user_id)): message_id for first_id, user_id, message_id in rows}


def _brought(session: Session, series: set[int], now: datetime) -> dict[int, tuple[BroughtClosure, ...]]:
    out: dict[int, list[BroughtClosure]] = {}
    rows = session.execute(
        sa.select(col(EmergencyClosure.emergency_id), Closure)
        .join(Closure, col(Closure.id) == col(EmergencyClosure.closure_id))
        .where(col(EmergencyClosure.emergency_id).in_(series))
        .order_by(col(Closure.id))
    ).all()
    for first_id, c in rows:
        assert c.id is not None
        view = BroughtClosure(
            c.id, c.title_ar, c.title_en, c.detour_ar, c.detour_en, c.ends_at, phase_at(c, now)
        )
        out.setdefault(first_id, []).append(view)
    return {k: tuple(v) for k, v in out.items()}
