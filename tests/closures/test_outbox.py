"""Planning posts: one row per post and destination, keyed so that it can never be posted twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from closures.models import Closure, OutboxItem, PostEvent
from closures.outbox import idempotency_key, plan_posts
from closures.service import Actor, ClosureService
from closures.store import session_scope
from tests.closures.conftest import counts, outbox_rows

SYSTEM = Actor.system("cli")
DESTINATIONS = {"telegram": "@riyadh_roads", "x": "riyadh"}
HOUR = timedelta(hours=1)


@pytest.fixture
def posting(engine, clock, municipalities) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations=DESTINATIONS)


def _events(engine, closure_id: int, version: int | None = None) -> set[tuple[str, str]]:
    return {
        (r.event, r.status)
        for r in outbox_rows(engine, closure_id)
        if version is None or r.closure_version == version
    }


def _plan(
    engine, closure_id: int, event: PostEvent, *, now, version: int | None = None, then_fail: bool = False
) -> None:
    """Plan posts for a stored closure in a transaction of our own (which fails on request)."""
    with session_scope(engine) as session:
        stored = session.get(Closure, closure_id)
        if version is not None:
            stored.version = version
        items = plan_posts(session, stored, event, now=now, destinations=DESTINATIONS)
        session.flush()
        if then_fail:
            raise RuntimeError(f"the change failed after planning {len(items)} posts")


def test_idempotency_key_names_closure_version_event_and_destination():
    assert idempotency_key(12, 3, PostEvent.EXTENDED, "x:riyadh") == "12:3:extended:x:riyadh"
    keys = {
        idempotency_key(c, v, e, d)
        for c in (1, 2)
        for v in (1, 2)
        for e in PostEvent
        for d in ("telegram:@riyadh_roads", "x:riyadh")
    }
    assert len(keys) == 2 * 2 * len(PostEvent) * 2


def test_a_closure_starting_now_is_not_announced_as_started_again(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    assert _events(engine, closure.id) == {("announced", "pending"), ("ended", "pending")}


def test_an_open_ended_closure_has_no_end_post(posting, engine, make_draft):
    closure = posting.register("riyadh", make_draft(ends_at=None), SYSTEM)
    assert _events(engine, closure.id) == {("announced", "pending"), ("started", "pending")}


def test_an_already_ended_import_is_only_announced(posting, engine, clock, make_draft):
    draft = make_draft(starts_at=clock.now - 5 * HOUR, ends_at=clock.now - HOUR)
    closure = posting.register("riyadh", draft, SYSTEM, allow_past_start=True)
    assert _events(engine, closure.id) == {("announced", "pending")}


def test_only_configured_destinations_get_pending_posts(engine, clock, municipalities, make_draft):
    service = ClosureService(engine, clock=clock, destinations={"telegram": "@riyadh_roads", "x": None})
    closure = service.register("riyadh", make_draft(), SYSTEM)
    by_destination = {(r.destination, r.status) for r in outbox_rows(engine, closure.id)}
    assert by_destination == {("telegram:@riyadh_roads", "pending"), ("x", "skipped")}
    assert {r.last_error for r in outbox_rows(engine, closure.id) if r.destination == "x"} == {
        "no x destination configured"
    }


def test_planning_the_same_post_twice_is_refused_by_the_database(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    before = counts(engine)

    with pytest.raises(sa.exc.IntegrityError):
        _plan(engine, closure.id, PostEvent.ANNOUNCED, now=clock.now)

    assert counts(engine) == before


def test_posts_are_written_in_the_callers_transaction(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    before = counts(engine)

    with pytest.raises(RuntimeError, match="after planning 6 posts"):
        _plan(engine, closure.id, PostEvent.UPDATED, now=clock.now, version=2, then_fail=True)

    assert counts(engine) == before
    assert _events(engine, closure.id, version=2) == set()


def _key(closure_id: int, event: PostEvent) -> str:
    return idempotency_key(closure_id, 1, event, "x:riyadh")


def test_only_pending_timed_posts_of_older_versions_are_superseded(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    # A worker has already posted one of the timed posts and holds another.
    with session_scope(engine) as session:
        session.execute(
            sa.update(OutboxItem)
            .where(OutboxItem.idempotency_key == _key(closure.id, PostEvent.STARTED))
            .values(status="done", remote_id="1862")
        )
        session.execute(
            sa.update(OutboxItem)
            .where(OutboxItem.idempotency_key == _key(closure.id, PostEvent.ENDED))
            .values(status="claimed")
        )

    posting.update(closure.id, 1, {"detour_en": "Take Olaya St"}, SYSTEM)

    rows = outbox_rows(engine, closure.id)
    version_one = {(r.event, r.destination): r.status for r in rows if r.closure_version == 1}
    assert version_one == {
        ("announced", "telegram:@riyadh_roads"): "pending",
        ("announced", "x:riyadh"): "pending",
        ("started", "telegram:@riyadh_roads"): "superseded",
        ("ended", "telegram:@riyadh_roads"): "superseded",
        ("started", "x:riyadh"): "done",
        ("ended", "x:riyadh"): "claimed",
    }
    assert _events(engine, closure.id, version=2) == {
        ("updated", "pending"),
        ("started", "pending"),
        ("ended", "pending"),
    }


def test_updating_an_active_closure_plans_its_end_but_not_its_start(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    clock.advance(2 * HOUR)

    posting.update(closure.id, 1, {"lanes_en": "Right lane closed", "severity": "partial"}, SYSTEM)

    rows = [r for r in outbox_rows(engine, closure.id) if r.closure_version == 2]
    assert {(r.event, r.due_at) for r in rows} == {("updated", clock.now), ("ended", closure.ends_at)}
