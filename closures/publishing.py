"""What a claimed outbox row should say, or why it should not be posted any more; admin views; budgets.

Catch-up rules (a worker that was down, or a post that waited out a rate limit, must not post stale news):

- *announced*: posted with the closure as of its version; if the closure has ended (or was lifted or
  cancelled) before it could be announced, it is skipped with why.
- *started*: posted while the closure is active; late by more than ``late_after`` it says "in force since
  …" instead of "now"; a closure that ended (or was lifted/cancelled) before the post went out is skipped.
- *ended*: skipped when the closure is not ended after all, or when its "started" post was skipped (it
  started and ended while publishing was down: followers are told nothing stale at all); late, it says
  "reopened at …".
- *updated* / *extended*: skipped when late and the closure is no longer scheduled or active.
- *lifted* / *cancelled*: always posted.
- Follow-ups are skipped at a destination where the announcement itself was skipped.

Blocking (database): the worker calls these from a worker thread.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from closures.lifecycle import Phase, phase_at
from closures.models import ClosureEvent, Municipality, OutboxItem, OutboxStatus, PostBudget, PostEvent
from closures.outbox import ALERTS, Claimed, insert_ignore
from closures.store import OUTBOX, notify, rows_matched, session_scope
from closures.views import ClosureView

_TIMES = ("starts_at", "ends_at", "lifted_at", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class Place:
    """The municipality a closure belongs to, as posts name it."""

    slug: str
    name_ar: str
    name_en: str
    timezone: str


@dataclass(frozen=True, slots=True)
class PostContext:
    """Everything a publisher needs to post one row."""

    item: Claimed
    closure: ClosureView  # as of the row's version
    before: ClosureView | None  # the version before it (what an update changed)
    place: Place
    original_id: str | None  # this destination's announcement, for replies and edits
    late_since: datetime | None  # the post is late (catch-up): it was due then
    now: datetime


@dataclass(frozen=True, slots=True)
class Stale:
    reason: str


def prepare(engine: Engine, item: Claimed, *, now: datetime, late_after: timedelta) -> PostContext | Stale:
    """The post's context, or why it is not to be posted (see the catch-up rules above)."""
    return prepare_many(engine, [item], now=now, late_after=late_after)[0]


def prepare_many(
    engine: Engine, items: Sequence[Claimed], *, now: datetime, late_after: timedelta
) -> list[PostContext | Stale]:
    """:func:`prepare` for a whole claimed batch in one transaction (a flood alert has thousands)."""
    closure_ids = {item.closure_id for item in items}
    with session_scope(engine) as session:
        events: dict[int, dict[int, tuple[str, str | None]]] = {}
        for cid, version, after, before in session.execute(
            sa.select(
                col(ClosureEvent.closure_id),
                col(ClosureEvent.version),
                col(ClosureEvent.after_json),
                col(ClosureEvent.before_json),
            ).where(col(ClosureEvent.closure_id).in_(closure_ids))
        ):
            events.setdefault(cid, {})[version] = (after, before)
        munis = {m.id: m for m in session.scalars(sa.select(Municipality))}
        earlier: dict[tuple[int, str], dict[PostEvent, tuple[int, str, str | None]]] = {}
        for oid, cid, destination, event, status, remote_id in session.execute(
            sa.select(
                col(OutboxItem.id), col(OutboxItem.closure_id), col(OutboxItem.destination),
                col(OutboxItem.event), col(OutboxItem.status), col(OutboxItem.remote_id),
            )
            .where(
                col(OutboxItem.closure_id).in_(closure_ids),
                col(OutboxItem.destination).in_({item.destination for item in items}),
                col(OutboxItem.event).in_([PostEvent.ANNOUNCED.value, PostEvent.STARTED.value]),
                col(OutboxItem.status) != OutboxStatus.SUPERSEDED.value,
            )
            .order_by(col(OutboxItem.id))
        ):  # fmt: skip
            earlier.setdefault((cid, destination), {})[PostEvent(event)] = (oid, status, remote_id)
    out: list[PostContext | Stale] = []
    for item in items:
        versions = events.get(item.closure_id, {})
        if item.closure_version not in versions:
            out.append(Stale(f"closure {item.closure_id} version {item.closure_version} has no audit record"))
            continue
        after, before = versions[item.closure_version]
        closure, current = _view(after), _view(versions[max(versions)][0])
        found = earlier.get((item.closure_id, item.destination), {})
        statuses = {
            event: (status, remote) for event, (oid, status, remote) in found.items() if oid != item.id
        }
        stale = _stale_reason(item, current, statuses, now=now, late_after=late_after)
        if stale:
            out.append(Stale(stale))
            continue
        muni = munis[closure.municipality_id]
        out.append(
            PostContext(
                item=item,
                closure=closure,
                before=_view(before) if before else None,
                place=Place(muni.slug, muni.name_ar, muni.name_en, muni.timezone),
                original_id=statuses.get(PostEvent.ANNOUNCED, (None, None))[1],
                late_since=item.due_at if now - item.due_at > late_after else None,
                now=now,
            )
        )
    return out


def _stale_reason(
    item: Claimed,
    current: ClosureView,
    statuses: dict[PostEvent, tuple[str, str | None]],
    *,
    now: datetime,
    late_after: timedelta,
) -> str | None:
    phase = phase_at(current, now)
    event = item.event
    announced = statuses.get(PostEvent.ANNOUNCED)
    if event is not PostEvent.ANNOUNCED and announced and announced[0] == OutboxStatus.SKIPPED.value:
        return "its announcement was not posted here"
    if event is PostEvent.ANNOUNCED or (item.kind == ALERTS or item.kind == "alert"):
        if phase not in (Phase.SCHEDULED, Phase.ACTIVE):
            return f"{phase.value} before it could be posted (was due {_iso(item.due_at)})"
    elif event is PostEvent.STARTED:
        if phase is not Phase.ACTIVE:
            return f"started at {_iso(item.due_at)} and was {phase.value} before the post went out"
    elif event is PostEvent.ENDED:
        started = statuses.get(PostEvent.STARTED)
        if phase is not Phase.ENDED:
            return f"not ended after all: the closure is {phase.value}"
        if started and started[0] == OutboxStatus.SKIPPED.value:
            return "started and ended while publishing was down"
    elif event in (PostEvent.UPDATED, PostEvent.EXTENDED) and phase not in (Phase.SCHEDULED, Phase.ACTIVE):
        return f"stale: the closure is {phase.value} now" if now - item.due_at > late_after else None
    return None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="minutes")


@functools.lru_cache(maxsize=512)
def _view(snapshot_json: str) -> ClosureView:
    """Parsed once: a flood alert prepares thousands of rows from the same audit record."""
    return view_of(json.loads(snapshot_json))


def view_of(snapshot: dict[str, Any]) -> ClosureView:
    """A closure view from an audit snapshot (``rules.snapshot``)."""
    values: dict[str, Any] = {
        k: datetime.fromisoformat(v) if k in _TIMES and v else v for k, v in snapshot.items()
    }
    names = [n for n in ClosureView.__slots__ if n != "geometry"]
    return ClosureView(
        geometry=shapely.from_geojson(values["geometry_geojson"]), **{n: values[n] for n in names}
    )


# --- admin -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    closure_id: int | None  # None for a post about an emergency
    event: str
    destination: str
    attempts: int
    reason: str
    emergency_id: int | None = None

    @property
    def in_doubt(self) -> bool:
        """May it have been posted? (A send started and left no outcome: look before retrying.) Otherwise
        it provably was not (refused, or given up after failures that prove no send): safe to retry."""
        return self.reason.startswith("in doubt")


@dataclass(frozen=True, slots=True)
class Backlog:
    counts: dict[str, int]
    next_due: datetime | None
    dead: list[DeadLetter]
    retrying: int = 0  # pending rows that failed before without being sent: they go again by themselves


def backlog(engine: Engine, *, dead_limit: int = 10) -> Backlog:
    """How many rows are in each status, when the next one is due, and the newest dead letters."""
    with session_scope(engine) as session:
        status = col(OutboxItem.status)
        counts = dict(session.execute(sa.select(status, sa.func.count()).group_by(status)).tuples().all())
        next_due = session.execute(
            sa.select(sa.func.min(col(OutboxItem.due_at))).where(status == OutboxStatus.PENDING.value)
        ).scalar_one_or_none()
        rows = session.scalars(
            sa.select(OutboxItem)
            .where(status == OutboxStatus.DEAD.value)
            .order_by(col(OutboxItem.updated_at).desc(), col(OutboxItem.id).desc())
            .limit(dead_limit)
        )
        dead = [
            DeadLetter(
                r.id or 0,
                r.closure_id,
                r.event,
                r.destination,
                r.attempts,
                r.last_error or "",
                r.emergency_id,
            )
            for r in rows
        ]
        retrying = session.execute(
            sa.select(sa.func.count()).where(
                col(OutboxItem.status) == OutboxStatus.PENDING.value,
                col(OutboxItem.last_error).is_not(None),
                col(OutboxItem.intent_at).is_(None),
            )
        ).scalar_one()
    return Backlog({str(k): int(v) for k, v in counts.items()}, next_due, dead, int(retrying))


def retry_dead(engine: Engine, item_id: int, *, now: datetime, actor: str) -> bool:
    """Queue a dead letter again, now, with a fresh count of attempts; False if it is not dead."""
    with session_scope(engine, write=True) as session:
        result = session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item_id, col(OutboxItem.status) == OutboxStatus.DEAD.value)
            .values(
                status=OutboxStatus.PENDING.value,
                due_at=now,
                attempts=0,
                intent_at=None,
                updated_at=now,
                last_error=sa.func.coalesce(col(OutboxItem.last_error), "") + f" (retried by {actor})",
            )
        )
        matched = rows_matched(result)
        if matched:
            notify(session, OUTBOX)  # due again: whichever worker hears it first takes it
        return bool(matched)


def reserve_budget(engine: Engine, account: str, *, day: str, wanted: int, limit: int) -> int:
    """Take up to ``wanted`` posts from ``account``'s budget for ``day``; how many were granted."""
    with session_scope(engine, write=True) as session:
        insert_ignore(session, PostBudget, [{"account": account, "day": day, "used": 0}])
        row = session.get(PostBudget, (account, day), with_for_update=True)
        assert row is not None
        granted = max(0, min(wanted, limit - row.used))
        row.used += granted
        return granted


def budget_used(engine: Engine, account: str, *, day: str) -> int:
    with session_scope(engine) as session:
        row = session.get(PostBudget, (account, day))
        return row.used if row else 0
