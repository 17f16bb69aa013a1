"""The posts an emergency version causes, planned as outbox rows in the transaction that issues it.

Per version: one post per channel (``emergency-telegram:@chan``, pinned while the emergency lasts) and per
X account (``emergency-x:account``), and one ``emergency-people`` row that the worker expands — in one
transaction — into one ``emergency-dm:<user>`` row per person reached (``closures.reach``). A version that
is not an end also plans an ``expired`` post at its expiry for each channel and account (it unpins), which
a later version supersedes. An exercise plans its public posts as skipped: it reaches staff only.

Keys are ``emergency:<first id>:<version>:<event>:<destination>``: planning twice adds nothing, so a
person is messaged at most once per version, whatever lists they are on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures import outbox
from closures.emergency_models import Emergency, EmergencyAction, EmergencyRecipient, MessageType
from closures.models import OutboxItem, OutboxStatus
from closures.outbox import ClaimedEmergency, Destinations
from closures.store import rows_matched, session_scope

CHANNEL = "emergency-telegram"
X = "emergency-x"
PEOPLE = "emergency-people"
DM = "emergency-dm"
PUBLIC = {"telegram": CHANNEL, "x": X}  # a municipality's destination kind -> the emergency post's kind
_EVENT_OF = {
    MessageType.ALERT.value: EmergencyAction.DECLARED,
    MessageType.UPDATE.value: EmergencyAction.UPDATED,
    MessageType.CANCEL.value: EmergencyAction.ENDED,
}


def event_of(version: Emergency) -> EmergencyAction:
    return _EVENT_OF[version.msg_type]


def key(first_id: int, version: int, event: EmergencyAction, destination: str) -> str:
    return f"emergency:{first_id}:{version}:{event.value}:{destination}"


def plan_version(
    session: Session, version: Emergency, *, now: datetime, destinations: Destinations
) -> list[OutboxItem]:
    """Add the rows an issued version causes (see the module docstring)."""
    assert version.first_id is not None
    assert version.id is not None
    event = event_of(version)
    _supersede_expiry(session, version.first_id, version.version)
    rows = [_row(version, event, PEOPLE, now, None)]
    for kind, post_kind in PUBLIC.items():
        configured = destinations.get(kind)
        targets: list[str | None] = [configured] if isinstance(configured, str) else [*(configured or ())]
        if not targets:
            targets = [None]  # not configured: planned as skipped, saying so
        for target in targets:
            destination = f"{post_kind}:{target}" if target else post_kind
            reason = None
            if not target:
                reason = f"no {kind} destination configured"
            elif version.exercise:
                reason = "an exercise: it reaches staff only"
            rows.append(_row(version, event, destination, now, reason))
            if event is not EmergencyAction.ENDED:
                rows.append(_row(version, EmergencyAction.EXPIRED, destination, version.expires_at, reason))
    session.add_all(rows)
    return rows


def _row(
    version: Emergency, event: EmergencyAction, destination: str, due: datetime, skipped: str | None
) -> OutboxItem:
    assert version.first_id is not None
    return OutboxItem(
        idempotency_key=key(version.first_id, version.version, event, destination),
        emergency_id=version.first_id,
        emergency_version=version.version,
        event=event.value,
        destination=destination,
        status=(OutboxStatus.SKIPPED if skipped else OutboxStatus.PENDING).value,
        due_at=due,
        last_error=skipped,
        created_at=version.updated_at,
        updated_at=version.updated_at,
    )


def _supersede_expiry(session: Session, first_id: int, version: int) -> None:
    session.execute(
        sa.update(OutboxItem)
        .where(
            col(OutboxItem.emergency_id) == first_id,
            col(OutboxItem.emergency_version) < version,
            col(OutboxItem.status) == OutboxStatus.PENDING.value,
            col(OutboxItem.event) == EmergencyAction.EXPIRED.value,
        )
        .values(status=OutboxStatus.SUPERSEDED.value, last_error=f"superseded by version {version}")
    )


def complete(engine: Engine, item: ClaimedEmergency, *, now: datetime, remote_id: str | None) -> bool:
    """Posted: keep the remote message id — for a person's first message also on their recipient row,
    which later versions reply to. One transaction; False if the lease was lost."""
    with session_scope(engine, write=True) as session:
        return _complete(session, item, now=now, remote_id=remote_id)


def complete_many(
    engine: Engine, done: Sequence[tuple[ClaimedEmergency, str | None]], *, now: datetime
) -> None:
    """:func:`complete` for many rows in one transaction (a row whose lease was lost is left alone).

    The hot path of a fan-out (every direct message ends here): two executemany statements on a Core
    connection, each compiled once, instead of two ORM updates per row.
    """
    firsts = [
        {"first_id": item.emergency_id, "user_id": int(item.target), "row_id": item.id, "remote_id": remote}
        for item, remote in done
        if item.kind == DM and remote is not None
    ]
    with outbox.writing(engine) as conn:
        outbox.complete_in(conn, done, now=now)
        if firsts:
            conn.execute(_FIRST_MESSAGE, firsts)


# A person's first message id, kept only when their row is recorded done with that very message: a row
# whose lease was lost was not updated above, so its message (never the one its new holder sent) is not
# kept; the new holder keeps its own.
_FIRST_MESSAGE = (
    sa.update(EmergencyRecipient)
    .where(
        col(EmergencyRecipient.emergency_id) == sa.bindparam("first_id"),
        col(EmergencyRecipient.telegram_user_id) == sa.bindparam("user_id"),
        col(EmergencyRecipient.message_id).is_(None),
        sa.exists().where(
            col(OutboxItem.id) == sa.bindparam("row_id"),
            col(OutboxItem.status) == OutboxStatus.DONE.value,
            col(OutboxItem.remote_id) == sa.bindparam("remote_id"),
        ),
    )
    .values(message_id=sa.bindparam("remote_id"))
)


def _complete(session: Session, item: ClaimedEmergency, *, now: datetime, remote_id: str | None) -> bool:
    done = rows_matched(
        session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item.id, col(OutboxItem.claim_token) == item.token)
            .values(
                status=OutboxStatus.DONE.value,
                claim_token=None,
                lease_until=None,
                intent_at=None,
                updated_at=now,
                done_at=now,
                remote_id=remote_id,
                last_error=None,
            )
        )
    )
    if done and item.kind == DM and remote_id is not None:
        session.execute(
            sa.update(EmergencyRecipient)
            .where(
                col(EmergencyRecipient.emergency_id) == item.emergency_id,
                col(EmergencyRecipient.telegram_user_id) == int(item.target),
                col(EmergencyRecipient.message_id).is_(None),
            )
            .values(message_id=remote_id)
        )
    return bool(done)
