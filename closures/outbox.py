"""The outbox: which rows a change causes, and how a worker claims, finishes or gives up on each of them.

Each row is one post to one destination. Its idempotency key (closure, version, event, destination) is
unique in the table, so planning the same post twice can never produce two rows, hence never two posts.
Timed posts ("started", "ended") planned for an older version are superseded when the closure changes.

A worker takes rows with :func:`claim_due`: on PostgreSQL the candidates are selected ``FOR UPDATE SKIP
LOCKED``, so concurrent workers take disjoint rows; on SQLite the transaction holds the write lock from
its start and the UPDATE re-checks claimability, which makes the claim atomic as well. A claim is a lease:
a row whose lease ran out (its worker died) can be claimed again. Before it sends, the worker records its
intent (:func:`record_intent`); the row then carries ``intent_at`` until the outcome is recorded, so a
later claim knows the previous attempt may have reached the remote side and must be reconciled, not
blindly repeated. Every transition is conditional on the claim token, so a worker that lost its lease
cannot overwrite the row's fate. The rows of one closure and destination are taken in order: a row
waits while an earlier one that is due (or already tried) is unfinished. And one chat is sent to by one
worker at a time: a row waits while another row to its destination is claimed, a batch holds one row per
destination, and each claimed row says when the last post to its destination was done, so that the
sender can keep Telegram's per-chat limit across processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from closures.claims import AnyClaimed, Claimed, ClaimedEmergency, claimed_of
from closures.models import Closure, OutboxItem, OutboxStatus, PostEvent
from closures.store import WRITE_OPTION, rows_matched, session_scope

# Destination kind -> its configured target(s) (a channel @handle or several, an X account), or None when
# not configured. The kind "alerts" (target "subscribers") fans announced and started closures out to
# the drivers whose subscriptions they affect.
Destinations = Mapping[str, str | Sequence[str] | None]
NO_DESTINATIONS: Destinations = {"telegram": None, "x": None}
ALERTS = "alerts"
_ALERT_EVENTS = (PostEvent.ANNOUNCED, PostEvent.STARTED)
_OPEN = (OutboxStatus.PENDING.value, OutboxStatus.CLAIMED.value)
_CLAIM_LOCK = 0x526F6163  # the advisory lock that makes claims on PostgreSQL take turns


def idempotency_key(closure_id: int, version: int, event: PostEvent, destination: str) -> str:
    return f"{closure_id}:{version}:{event.value}:{destination}"


def plan_posts(
    session: Session,
    closure: Closure,
    event: PostEvent,
    *,
    now: datetime,
    destinations: Destinations,
    skip_reason: str | None = None,
) -> list[OutboxItem]:
    """Add the immediate post for ``event`` and the timed posts still ahead for this version.

    ``skip_reason``: every row is planned as skipped, saying why (kept so that follow-ups are skipped too).
    """
    assert closure.id is not None
    _supersede_pending(session, closure.id, closure.version)
    planned: list[tuple[PostEvent, datetime]] = [(event, now)]
    if event in (PostEvent.ANNOUNCED, PostEvent.UPDATED, PostEvent.EXTENDED):
        if closure.starts_at > now:
            planned.append((PostEvent.STARTED, closure.starts_at))
        if closure.ends_at is not None and closure.ends_at > now:
            planned.append((PostEvent.ENDED, closure.ends_at))
    items = []
    for kind, configured in destinations.items():
        targets: list[str | None] = [configured] if isinstance(configured, str) else [*(configured or ())]
        if not targets:
            targets = [None]  # an unconfigured kind: planned as skipped
        for target in targets:
            destination = f"{kind}:{target}" if target else kind
            status = OutboxStatus.PENDING if target and not skip_reason else OutboxStatus.SKIPPED
            reason = skip_reason or (None if target else f"no {kind} destination configured")
            for planned_event, due_at in planned:
                if kind == ALERTS and planned_event not in _ALERT_EVENTS:
                    continue
                item = OutboxItem(
                    idempotency_key=idempotency_key(closure.id, closure.version, planned_event, destination),
                    closure_id=closure.id,
                    closure_version=closure.version,
                    event=planned_event.value,
                    destination=destination,
                    status=status.value,
                    due_at=due_at,
                    last_error=reason,
                )
                session.add(item)
                items.append(item)
    return items


def _supersede_pending(session: Session, closure_id: int, version: int) -> None:
    session.execute(
        sa.update(OutboxItem)
        .where(
            col(OutboxItem.closure_id) == closure_id,
            col(OutboxItem.closure_version) < version,
            col(OutboxItem.status) == OutboxStatus.PENDING.value,
            col(OutboxItem.event).in_([PostEvent.STARTED.value, PostEvent.ENDED.value]),
        )
        .values(status=OutboxStatus.SUPERSEDED.value, last_error=f"superseded by version {version}")
    )


__all__ = ["AnyClaimed", "Claimed", "ClaimedEmergency"]  # defined in closures.claims; imported from here too


# --- claiming and finishing -----------------------------------------------------------------------------


def _predecessor_waits(subject: str) -> sa.Exists:
    """An earlier row of the same closure (or emergency) and destination is unfinished: this one waits."""
    earlier = aliased(OutboxItem)
    return sa.exists().where(
        col(getattr(earlier, subject)) == col(getattr(OutboxItem, subject)),
        col(earlier.destination) == col(OutboxItem.destination),
        # "+ 0" keeps SQLite's planner on the sequence index; on the bare id it would walk every
        # earlier row of the closure (quadratic for a 10,000-subscriber flood alert)
        col(earlier.id) + 0 < col(OutboxItem.id),
        col(earlier.status).in_(_OPEN),
        sa.or_(col(earlier.due_at) <= col(OutboxItem.due_at), col(earlier.attempts) > 0),
    )


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    token: str,
    lease: timedelta,
    limit: int = 50,
    emergency_limit: int | None = None,
) -> list[AnyClaimed]:
    """Lease up to ``limit`` rows that are due (or whose lease ran out): an emergency's first, then the
    others, each oldest due first. ``emergency_limit`` (default ``limit``) bounds the emergency's rows
    instead: a claim's cost grows with the queue, not with the batch, so a flood's thousands of direct
    messages are taken in larger batches, while calm-day posts stay in small ones (an emergency declared
    meanwhile waits behind at most one of those).

    An emergency's messages must not queue behind a burst of calm-day posts (an import's 1,000 closures and
    their subscriber alerts took minutes to drain ahead of a flood's update): two picks, the emergencies'
    and then the rest, each kept on the due-time index rather than one sort over every due row.
    """
    # a row's subject column is NULL on the other kind of row, and NULL equals nothing: each test is void
    blocked = sa.or_(_predecessor_waits("closure_id"), _predecessor_waits("emergency_id"))
    claimable = sa.or_(
        sa.and_(col(OutboxItem.status) == OutboxStatus.PENDING.value, col(OutboxItem.due_at) <= now),
        sa.and_(col(OutboxItem.status) == OutboxStatus.CLAIMED.value, col(OutboxItem.lease_until) <= now),
    )
    with session_scope(engine, write=True) as session:
        if session.get_bind().dialect.name == "postgresql":  # claims one after the other, so "busy" holds
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
        # the chats being sent to now (one row each: a few hundred at most); read apart, since a planner
        # with stale statistics right after a 10,000-row fan-out nests a subquery for it quadratically
        busy = set(
            session.scalars(
                sa.select(col(OutboxItem.destination)).where(
                    col(OutboxItem.status) == OutboxStatus.CLAIMED.value,
                    col(OutboxItem.lease_until) > now,
                )
            )
        )

        def pick(kind: sa.ColumnElement[bool], n: int) -> list[tuple[int, str]]:
            candidates = (
                sa.select(col(OutboxItem.id), col(OutboxItem.destination))
                .where(claimable, ~blocked, kind)
                .order_by(col(OutboxItem.due_at), col(OutboxItem.id))
                .limit(n)
                .with_for_update(skip_locked=True)
            )
            if busy:
                candidates = candidates.where(col(OutboxItem.destination).not_in(busy))
            return [(row_id, destination) for row_id, destination in session.execute(candidates)]

        picked = pick(col(OutboxItem.emergency_id).is_not(None), emergency_limit or limit)
        if len(picked) < limit:
            picked += pick(col(OutboxItem.emergency_id).is_(None), limit - len(picked))
        ids, seen = [], set()
        for row_id, destination in picked:
            if destination not in seen:  # the first row of each chat in this batch; the rest wait their turn
                seen.add(destination)
                ids.append(row_id)
        if not ids:
            return []
        session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id).in_(ids), claimable)
            .values(
                status=OutboxStatus.CLAIMED.value,
                claim_token=token,
                lease_until=now + lease,
                attempts=col(OutboxItem.attempts) + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = list(
            session.scalars(
                sa.select(OutboxItem).where(col(OutboxItem.id).in_(ids), col(OutboxItem.claim_token) == token)
            )
        )
        order = {row_id: i for i, row_id in enumerate(ids)}
        rows.sort(key=lambda row: order[row.id or 0])  # as picked: emergencies first
        last_sent = dict(
            session.execute(
                sa.select(col(OutboxItem.destination), sa.func.max(col(OutboxItem.done_at)))
                .where(
                    col(OutboxItem.destination).in_(seen),
                    col(OutboxItem.status) == OutboxStatus.DONE.value,
                )
                .group_by(col(OutboxItem.destination))
            ).all()
        )
        return [claimed_of(row, token, last_sent.get(row.destination)) for row in rows]


def record_intent(engine: Engine, item: AnyClaimed, *, now: datetime) -> bool:
    """Note that a send is about to start; False if the lease was lost (then do not send)."""
    with session_scope(engine, write=True) as session:
        result = session.execute(
            sa.update(OutboxItem)
            .where(
                col(OutboxItem.id) == item.id,
                col(OutboxItem.claim_token) == item.token,
                col(OutboxItem.status) == OutboxStatus.CLAIMED.value,
                col(OutboxItem.lease_until) > now,
            )
            .values(intent_at=now, updated_at=now)
        )
        return bool(rows_matched(result))


def clear_intent(engine: Engine, item: AnyClaimed) -> bool:
    """The attempt's answer proved nothing was sent (a 429): the row is no longer in doubt."""
    with session_scope(engine, write=True) as session:
        result = session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item.id, col(OutboxItem.claim_token) == item.token)
            .values(intent_at=item.in_doubt_since)  # an older doubt, from a worker before, still stands
        )
        return bool(rows_matched(result))


def record_intents(engine: Engine, items: Sequence[AnyClaimed], *, now: datetime) -> list[bool]:
    """:func:`record_intent` for many rows in one transaction (the worker groups concurrent sends)."""
    ids = [item.id for item in items]
    tokens = {item.token for item in items}
    with writing(engine) as conn:
        for token in tokens:
            conn.execute(
                sa.update(OutboxItem)
                .where(
                    col(OutboxItem.id).in_([item.id for item in items if item.token == token]),
                    col(OutboxItem.claim_token) == token,
                    col(OutboxItem.status) == OutboxStatus.CLAIMED.value,
                    col(OutboxItem.lease_until) > now,
                )
                .values(intent_at=now, updated_at=now)
            )
        ours = {
            tuple(row)
            for row in conn.execute(
                sa.select(col(OutboxItem.id), col(OutboxItem.claim_token)).where(
                    col(OutboxItem.id).in_(ids),
                    col(OutboxItem.intent_at) == now,
                    col(OutboxItem.status) == OutboxStatus.CLAIMED.value,
                )
            )
        }
    return [(item.id, item.token) in ours for item in items]


_COMPLETE = (
    sa.update(OutboxItem)
    .where(col(OutboxItem.id) == sa.bindparam("row_id"), col(OutboxItem.claim_token) == sa.bindparam("token"))
    .values(
        status=OutboxStatus.DONE.value, remote_id=sa.bindparam("remote_id"), done_at=sa.bindparam("now"),
        updated_at=sa.bindparam("now"), claim_token=None, lease_until=None, intent_at=None, last_error=None,
    )
)  # fmt: skip


def complete_many(engine: Engine, done: Sequence[tuple[AnyClaimed, str | None]], *, now: datetime) -> None:
    """:func:`complete` for many rows in one transaction (a row whose lease was lost is left alone)."""
    with writing(engine) as conn:
        complete_in(conn, done, now=now)


def complete_in(conn: sa.Connection, done: Sequence[tuple[AnyClaimed, str | None]], *, now: datetime) -> None:
    """:func:`complete_many` in the caller's transaction: one executemany of a statement compiled once."""
    if done:
        conn.execute(
            _COMPLETE, [{"row_id": i.id, "token": i.token, "remote_id": r, "now": now} for i, r in done]
        )


@contextmanager
def writing(engine: Engine) -> Iterator[sa.Connection]:
    """A Core transaction that holds the write lock from its start (no ORM session: the hot path)."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        yield conn


def complete(engine: Engine, item: AnyClaimed, *, now: datetime, remote_id: str | None) -> bool:
    """Posted: keep the remote message id."""
    return _finish(engine, item, now, OutboxStatus.DONE, remote_id=remote_id, done_at=now, last_error=None)


def skip(engine: Engine, item: AnyClaimed, *, now: datetime, reason: str) -> bool:
    """Not to be posted (stale after downtime, recipient gone); ``reason`` says why."""
    return _finish(engine, item, now, OutboxStatus.SKIPPED, last_error=reason)


def dead_letter(engine: Engine, item: AnyClaimed, *, now: datetime, reason: str) -> bool:
    """Given up: it stays visible in ``/outbox`` with ``reason`` until an admin retries it."""
    return _finish(engine, item, now, OutboxStatus.DEAD, last_error=reason)


def retry_later(
    engine: Engine,
    item: AnyClaimed,
    *,
    now: datetime,
    delay: timedelta,
    reason: str,
    max_attempts: int,
    still_in_doubt: datetime | None = None,
) -> OutboxStatus:
    """Try again after ``delay`` — or dead-letter it when it has had ``max_attempts`` attempts.

    ``still_in_doubt``: an attempt that started then may have been posted; the next attempt must
    reconcile first, so the intent is kept on the row.
    """
    if item.attempts >= max_attempts:
        dead_letter(engine, item, now=now, reason=f"gave up after {item.attempts} attempts: {reason}")
        return OutboxStatus.DEAD
    _finish(
        engine,
        item,
        now,
        OutboxStatus.PENDING,
        due_at=now + delay,
        last_error=reason,
        intent_at=still_in_doubt,
    )
    return OutboxStatus.PENDING


def _finish(engine: Engine, item: AnyClaimed, now: datetime, status: OutboxStatus, **values: Any) -> bool:
    changes: dict[str, Any] = {
        "status": status.value,
        "claim_token": None,
        "lease_until": None,
        "intent_at": None,
        "updated_at": now,
    }
    changes.update(values)
    with session_scope(engine, write=True) as session:
        result = session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item.id, col(OutboxItem.claim_token) == item.token)
            .values(**changes)
        )
        return bool(rows_matched(result))


def insert_ignore(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT the rows, leaving alone any that would break a unique key (SQLite and PostgreSQL alike)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        statement: sa.Executable = postgresql.insert(model).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(model).on_conflict_do_nothing()
    session.execute(statement, rows)


def fanned_out(now: datetime, event: str, **subject: int) -> dict[str, object]:
    """Every column but the key, destination and payload of a fan-out row (a subscriber alert, an emergency
    DM) planned at ``now`` for ``event``: pending, due now, never tried; ``subject`` sets the closure's or
    the emergency's columns, the other pair stays NULL. For ``closures.bulk.insert_new``, which defaults
    nothing."""
    columns: dict[str, object] = {
        "closure_id": None, "closure_version": None, "emergency_id": None, "emergency_version": None,
        "event": event, "status": OutboxStatus.PENDING.value, "due_at": now, "attempts": 0,
        "lease_until": None, "remote_id": None, "last_error": None, "created_at": now, "updated_at": now,
        "claim_token": None, "intent_at": None, "done_at": None,
    }  # fmt: skip
    unknown = set(subject) - {"closure_id", "closure_version", "emergency_id", "emergency_version"}
    if unknown:
        raise ValueError(f"not a subject column: {sorted(unknown)}")
    return columns | subject


def next_due(engine: Engine) -> datetime | None:
    """When the earliest pending row falls due, or a lease runs out; None when nothing waits."""
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(sa.func.min(col(OutboxItem.due_at))).where(
                col(OutboxItem.status) == OutboxStatus.PENDING.value
            )
        ).scalar_one_or_none()
        leased = conn.execute(
            sa.select(sa.func.min(col(OutboxItem.lease_until))).where(
                col(OutboxItem.status) == OutboxStatus.CLAIMED.value
            )
        ).scalar_one_or_none()
    times = [t for t in (pending, leased) if t is not None]  # min() keeps the column type: UTC-aware
    return min(times) if times else None
