"""Planning posts: which outbox rows a change causes, written in the caller's transaction.

Each row is one post to one destination. Its idempotency key (closure, version, event, destination) is
unique in the table, so planning the same post twice can never produce two rows, hence never two posts.
Timed posts ("started", "ended") planned for an older version are superseded when the closure changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from closures.models import Closure, OutboxItem, OutboxStatus, PostEvent

# Destination kind -> its configured target (a channel @handle, an X account), or None when not configured.
Destinations = Mapping[str, str | None]
NO_DESTINATIONS: Destinations = {"telegram": None, "x": None}


def idempotency_key(closure_id: int, version: int, event: PostEvent, destination: str) -> str:
    return f"{closure_id}:{version}:{event.value}:{destination}"


def plan_posts(
    session: Session,
    closure: Closure,
    event: PostEvent,
    *,
    now: datetime,
    destinations: Destinations,
) -> list[OutboxItem]:
    """Add the immediate post for ``event`` and the timed posts still ahead for this version."""
    assert closure.id is not None
    _supersede_pending(session, closure.id, closure.version)
    planned: list[tuple[PostEvent, datetime]] = [(event, now)]
    if event in (PostEvent.ANNOUNCED, PostEvent.UPDATED, PostEvent.EXTENDED):
        if closure.starts_at > now:
            planned.append((PostEvent.STARTED, closure.starts_at))
        if closure.ends_at is not None and closure.ends_at > now:
            planned.append((PostEvent.ENDED, closure.ends_at))
    items = []
    for kind, target in destinations.items():
        destination = f"{kind}:{target}" if target else kind
        status = OutboxStatus.PENDING if target else OutboxStatus.SKIPPED
        for planned_event, due_at in planned:
            item = OutboxItem(
                idempotency_key=idempotency_key(closure.id, closure.version, planned_event, destination),
                closure_id=closure.id,
                closure_version=closure.version,
                event=planned_event.value,
                destination=destination,
                status=status.value,
                due_at=due_at,
                last_error=None if target else f"no {kind} destination configured",
            )
            session.add(item)
            items.append(item)
    return items


def _supersede_pending(session: Session, closure_id: int, version: int) -> None:
    session.execute(
        sa.update(OutboxItem)
        .where(
            OutboxItem.closure_id == closure_id,
            OutboxItem.closure_version < version,
            OutboxItem.status == OutboxStatus.PENDING.value,
            OutboxItem.event.in_([PostEvent.STARTED.value, PostEvent.ENDED.value]),
        )
        .values(status=OutboxStatus.SUPERSEDED.value, last_error=f"superseded by version {version}")
    )
