"""The rows behind CAP import: which messages were read, where their threads lead, and the direct messages
that tell a municipality's staff about them (planned in the outbox in the same transaction).

A *thread* is a first Alert and the Updates and Cancels that follow it, named by the Alert's sender and
identifier. An Update names some earlier messages in ``references``; their thread leads to the draft (or
confirmed emergency) in force now in each municipality, even after a draft was replaced.

A staff notice is one outbox row per person (``cap-staff:<telegram user id>``), keyed by the message and
the person, so a re-import or a second process never tells anyone twice. Its payload says what it is
(``Notice``), which message it is about and, for a draft, the playbooks whose areas its area touches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
import sqlalchemy as sa
import sqlalchemy.exc
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from closures.cap_drafts import DraftContent
from closures.cap_models import CapMessage, CapOutcome
from closures.emergency_models import Emergency, EmergencyAction, EmergencyState
from closures.formats.cap import CapAlert
from closures.models import Municipality, OutboxItem, OutboxStatus, Staff
from closures.store import session_scope

STAFF_NOTICE = "cap-staff"  # outbox destination kind: "cap-staff:<telegram user id>"


class Notice:
    """What a staff member's direct message is (the ``what`` of its payload)."""

    DRAFTED = "drafted"  # a new draft: Confirm / Dismiss
    REPLACED = "replaced"  # the source updated it: the new draft, Confirm / Dismiss
    WITHDRAWN = "withdrawn"  # the source cancelled it before anyone confirmed: nothing to do
    SOURCE_UPDATED = "source-updated"  # the source updated an alert confirmed here: nothing changed
    SOURCE_CANCELLED = "source-cancelled"  # the source cancelled an alert confirmed here: End offered


_EVENT_OF = {
    Notice.DRAFTED: EmergencyAction.DRAFTED,
    Notice.REPLACED: EmergencyAction.DRAFTED,
    Notice.WITHDRAWN: EmergencyAction.DISCARDED,
    Notice.SOURCE_UPDATED: EmergencyAction.UPDATED,
    Notice.SOURCE_CANCELLED: EmergencyAction.ENDED,
}


def thread_of(alert: CapAlert) -> str:
    return f"{alert.sender[:200]} {alert.identifier[:200]}"


@dataclass(frozen=True, slots=True)
class Record:
    """What one message did in one municipality."""

    alert: CapAlert
    thread: str
    municipality: Municipality
    emergency: Emergency  # the version it concerns: a draft, or the current issued version
    outcome: CapOutcome
    content: DraftContent | None
    notice: str | None  # whom to tell what; None: nobody
    playbooks: tuple[str, ...] = ()  # the slugs of the playbooks a draft's area touches


def record(engine: Engine, entry: Record, *, now: datetime, admins: Sequence[int]) -> bool:
    """Write the message's row and its staff notices in one transaction; False if another process wrote
    the same message meanwhile (the table's unique key): then nothing of this call is kept."""
    alert, emergency, content = entry.alert, entry.emergency, entry.content
    first_id = emergency.first_id or emergency.id
    assert entry.municipality.id is not None
    try:
        with session_scope(engine, write=True) as session:
            row = CapMessage(
                sender=alert.sender[:200], identifier=alert.identifier[:200], sent=alert.sent,
                thread=entry.thread, msg_type=alert.msg_type.value, status=alert.status.value,
                municipality_id=entry.municipality.id, emergency_id=first_id, outcome=entry.outcome.value,
                expires_at=alert.expires, description_ar=content.description_ar if content else None,
                description_en=content.description_en if content else None, source=emergency.source[:120],
                received_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            if entry.notice is not None:
                _notify(session, row, entry, now=now, admins=admins)
    except sqlalchemy.exc.IntegrityError:
        return False
    return True


def _notify(
    session: Session, message: CapMessage, entry: Record, *, now: datetime, admins: Sequence[int]
) -> None:
    assert entry.notice is not None
    muni, emergency = entry.municipality, entry.emergency
    staff = session.exec(
        select(Staff.telegram_user_id).where(Staff.municipality_id == muni.id, col(Staff.active).is_(True))
    ).all()
    people = list(dict.fromkeys([*staff, *admins]))
    said: dict[str, object] = {
        "what": entry.notice,
        "message": message.id,
        "playbooks": list(entry.playbooks),
    }
    if entry.content is not None:  # what the partner's message says now, for a notice about a confirmed one
        said["headline"] = [entry.content.headline_ar, entry.content.headline_en]
    payload = json.dumps(said, ensure_ascii=False)
    session.add_all(
        OutboxItem(
            idempotency_key=f"cap:{message.id}:{uid}",
            emergency_id=emergency.first_id or emergency.id,
            emergency_version=emergency.version,
            event=_EVENT_OF[entry.notice].value,
            destination=f"{STAFF_NOTICE}:{uid}",
            status=OutboxStatus.PENDING.value,
            due_at=now,
            payload_json=payload,
            created_at=now,
            updated_at=now,
        )
        for uid in people
    )


# --- reading ---------------------------------------------------------------------------------------


def known(engine: Engine, alert: CapAlert) -> bool:
    """Was this message (its sender and identifier) read here before?"""
    with session_scope(engine) as session:
        query = select(CapMessage.id).where(
            CapMessage.sender == alert.sender[:200], CapMessage.identifier == alert.identifier[:200]
        )
        return session.exec(query).first() is not None


def referenced(engine: Engine, alert: CapAlert) -> tuple[str, list[tuple[Municipality, int]]]:
    """The thread of the messages ``alert`` references and, per municipality, the emergency series the
    thread's latest message there concerns; ("", []) when it references nothing read here."""
    keys = [(r.sender[:200], r.identifier[:200]) for r in alert.references]
    if not keys:
        return "", []
    with session_scope(engine) as session:
        thread = session.exec(
            select(CapMessage.thread)
            .where(sa.tuple_(col(CapMessage.sender), col(CapMessage.identifier)).in_(keys))
            .order_by(col(CapMessage.sent))
        ).first()
        if thread is None:
            return "", []
        rows = session.exec(
            select(CapMessage)
            .where(CapMessage.thread == thread)
            .order_by(col(CapMessage.sent), col(CapMessage.id))
        ).all()
        latest = {row.municipality_id: row.emergency_id for row in rows if row.emergency_id is not None}
        munis = {
            m.id: m for m in session.exec(select(Municipality).where(col(Municipality.id).in_(list(latest))))
        }
    return thread, [(munis[m], first_id) for m, first_id in latest.items()]


def recorded_emergency(engine: Engine, alert: CapAlert, muni: Municipality) -> int | None:
    """The emergency series the message was recorded with in that municipality, if it was."""
    with session_scope(engine) as session:
        return session.exec(
            select(CapMessage.emergency_id).where(
                CapMessage.sender == alert.sender[:200],
                CapMessage.identifier == alert.identifier[:200],
                CapMessage.municipality_id == muni.id,
            )
        ).first()


def emergency_row(engine: Engine, emergency_id: int) -> Emergency:
    with session_scope(engine) as session:
        row = session.get(Emergency, emergency_id)
        assert row is not None  # a thread's rows name emergencies that exist (a foreign key)
        return row


def draft_by_source(engine: Engine, muni: Municipality, alert: CapAlert) -> Emergency | None:
    """A draft of this message already in this municipality (an import that stopped before recording it)."""
    with session_scope(engine) as session:
        return session.exec(
            select(Emergency).where(
                Emergency.municipality_id == muni.id,
                Emergency.state == EmergencyState.DRAFT.value,
                Emergency.source_sender == alert.sender[:200],
                Emergency.source_identifier == alert.identifier[:200],
            )
        ).first()


def expired_drafts(engine: Engine, now: datetime) -> list[int]:
    """The drafts of imported alerts whose expiry has passed."""
    with session_scope(engine) as session:
        ids = session.exec(
            select(Emergency.id).where(
                Emergency.state == EmergencyState.DRAFT.value,
                col(Emergency.source_identifier).is_not(None),
                col(Emergency.expires_at) <= now,
            )
        ).all()
    return [i for i in ids if i is not None]


def meeting(engine: Engine, area: BaseGeometry) -> list[Municipality]:
    """The municipalities whose boundary the area meets over more than a line or a point."""
    with session_scope(engine) as session:
        munis = session.exec(select(Municipality).order_by(col(Municipality.slug))).all()
    out = []
    for muni in munis:
        boundary = shapely.from_geojson(muni.boundary_geojson)
        if boundary.intersects(area) and boundary.intersection(area).area > 0:
            out.append(muni)
    return out
