"""What a staff notice about an imported CAP alert says, read when the outbox worker sends it.

The worker claims a ``cap-staff:<user>`` row and asks :func:`cap_notice` for its values: the notice kind,
the emergency version it is about (the draft, or the confirmed emergency's current version), the partner
message (sender, when sent, its description), and the playbooks the draft's area touches. A notice can go
stale while it waits in the outbox: a draft confirmed, dismissed, replaced or expired meanwhile is not
offered again (the worker skips the row, saying why), and an End is not offered for an emergency that has
ended already. Blocking (database): the worker calls it from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from closures.cap_models import CapMessage
from closures.cap_records import Notice
from closures.emergency_models import Emergency, EmergencyState, MessageType
from closures.models import Driver, Municipality, Playbook
from closures.outbox import ClaimedEmergency
from closures.store import session_scope


@dataclass(frozen=True, slots=True)
class PlaybookName:
    slug: str
    name_ar: str
    name_en: str


@dataclass(frozen=True, slots=True)
class CapNotice:
    what: str  # a ``closures.cap_records.Notice``
    item: ClaimedEmergency | None  # the outbox row (None when read outside the worker)
    language: str | None  # the staff member's own choice, if they made one
    emergency: Emergency  # the draft, or the current version of the emergency confirmed from the alert
    municipality: Municipality
    sender: str  # the partner's CAP sender
    sent: datetime  # when the partner sent the message
    msg_type: str  # the partner message's CAP msgType
    description_ar: str | None
    description_en: str | None
    playbooks: tuple[PlaybookName, ...]
    source_headline: tuple[str, str] | None = None  # what the partner's latest message says (ar, en)
    now: datetime | None = None  # when it was prepared (times read relative to it)

    @property
    def offers_confirm(self) -> bool:
        return self.what in (Notice.DRAFTED, Notice.REPLACED)

    @property
    def offers_end(self) -> bool:
        return self.what == Notice.SOURCE_CANCELLED


@dataclass(frozen=True, slots=True)
class StaleNotice:
    reason: str


def prepare_notices(
    engine: Engine, items: Sequence[ClaimedEmergency], *, now: datetime
) -> list[CapNotice | StaleNotice]:
    """Each claimed ``cap-staff`` row's notice, or why it is not to be sent (the outbox worker's call)."""
    users = {int(item.target) for item in items if item.target.isdigit()}
    with session_scope(engine) as session:
        languages = dict(
            session.execute(
                sa.select(col(Driver.telegram_user_id), col(Driver.language)).where(
                    col(Driver.telegram_user_id).in_(users)
                )
            ).all()
        )
    out: list[CapNotice | StaleNotice] = []
    for item in items:
        notice = cap_notice(engine, emergency_id=item.emergency_id, payload=item.payload or {}, now=now)
        if isinstance(notice, CapNotice):
            user = int(item.target) if item.target.isdigit() else None
            notice = replace(notice, item=item, language=languages.get(user), now=now)
        out.append(notice)
    return out


def cap_notice(
    engine: Engine, *, emergency_id: int, payload: dict[str, object], now: datetime
) -> CapNotice | StaleNotice:
    """The notice of an outbox row (``emergency_id``: the series; ``payload``: what the import planned)."""
    what = str(payload.get("what"))
    message_id = payload.get("message")
    named = payload.get("playbooks")
    slugs = [str(s) for s in named] if isinstance(named, list) else []
    with session_scope(engine) as session:
        message = session.get(CapMessage, message_id) if isinstance(message_id, int) else None
        if message is None:
            return StaleNotice(f"CAP message {message_id!r} is not recorded")
        head = session.get(Emergency, emergency_id)
        muni = session.get(Municipality, message.municipality_id)
        if head is None or muni is None:
            return StaleNotice(f"emergency {emergency_id} is gone")
        version = head
        if head.state == EmergencyState.ISSUED.value:
            version = (
                session.exec(
                    select(Emergency)
                    .where(Emergency.first_id == emergency_id, Emergency.state == EmergencyState.ISSUED.value)
                    .order_by(col(Emergency.version).desc())
                ).first()
                or head
            )
        books = session.exec(
            select(Playbook).where(Playbook.municipality_id == muni.id, col(Playbook.slug).in_(slugs))
        ).all()
    stale = _stale(what, version, now)
    if stale:
        return StaleNotice(stale)
    names = {b.slug: PlaybookName(b.slug, b.name_ar, b.name_en) for b in books}
    headline = payload.get("headline")
    said = (str(headline[0]), str(headline[1])) if isinstance(headline, list) and len(headline) == 2 else None
    return CapNotice(
        what=what,
        item=None,
        language=None,
        emergency=version,
        municipality=muni,
        sender=message.sender,
        sent=message.sent,
        msg_type=message.msg_type,
        description_ar=message.description_ar,
        description_en=message.description_en,
        playbooks=tuple(names[s] for s in slugs if s in names),
        source_headline=said,
    )


def _stale(what: str, version: Emergency, now: datetime) -> str | None:
    if what in (Notice.DRAFTED, Notice.REPLACED):
        if version.state != EmergencyState.DRAFT.value:
            return f"the draft was {version.state} meanwhile"
        if version.expires_at <= now:
            return "the draft expired before it could be offered"
    if what == Notice.SOURCE_CANCELLED and (
        version.msg_type == MessageType.CANCEL.value or version.expires_at <= now
    ):
        return "the emergency has ended already"
    return None
