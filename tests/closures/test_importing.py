"""Applying an imported feed: idempotent by ref, edits as audited updates with posts, lifted and cancelled
carried over, events a partner removed lifted, one refused event not stopping the others.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from closures.formats.geojson import ImportedClosure
from closures.importing import apply_import
from closures.models import Closure, ClosureEvent
from closures.service import Actor, ClosureService
from closures.store import session_scope
from tests.closures.conftest import JEDDAH_POINT, counts, outbox_rows

POLL = Actor.system("poll")
SOURCE = "wzdx:partner.example"


@pytest.fixture
def posting(engine, clock, municipalities) -> ClosureService:
    """A service whose changes are posted to a Telegram channel (so outbox rows show what was announced)."""
    return ClosureService(engine, clock=clock, destinations={"telegram": ["@roads"], "x": None})


def _items(make_draft, clock, *refs: str, **overrides) -> list[ImportedClosure]:
    return [ImportedClosure("riyadh", make_draft(ref=ref, source=SOURCE, **overrides)) for ref in refs]


def _closure_id(engine, ref: str) -> int:
    with session_scope(engine) as session:
        return session.exec(select(Closure.id).where(Closure.ref == ref)).one()


def _actions(engine, ref: str) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        query = select(ClosureEvent).where(ClosureEvent.closure_id == _closure_id(engine, ref))
        return [(e.action, e.actor) for e in session.exec(query.order_by(ClosureEvent.id))]


def test_reimporting_the_same_feed_writes_nothing(posting, engine, clock, make_draft):
    items = _items(make_draft, clock, "a", "b")
    first = apply_import(posting, items, POLL)
    assert (first.added, first.unchanged) == (2, 0)
    before = counts(engine)
    assert before.outbox > 0

    again = apply_import(posting, items, POLL)

    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert counts(engine) == before, "no audit event, no post, the change counter unmoved"


def test_a_changed_event_is_an_audited_update_that_is_posted(posting, engine, clock, make_draft):
    apply_import(posting, _items(make_draft, clock, "a"), POLL)
    later = clock.now + timedelta(hours=9)
    report = apply_import(posting, _items(make_draft, clock, "a", ends_at=later), POLL)
    assert report.updated == 1
    assert _actions(engine, "a") == [("registered", "poll"), ("extended", "poll")]
    rows = outbox_rows(engine, _closure_id(engine, "a"))
    assert {(row.event, row.closure_version) for row in rows} >= {("announced", 1), ("extended", 2)}


def test_a_feed_without_a_radius_keeps_the_stored_one(posting, engine, clock, make_draft):
    apply_import(posting, _items(make_draft, clock, "p", geometry=JEDDAH_POINT, radius_m=250),
                 POLL, municipality="jeddah")  # fmt: skip
    report = apply_import(posting, _items(make_draft, clock, "p", geometry=JEDDAH_POINT, radius_m=None), POLL,
                          municipality="jeddah")  # fmt: skip
    assert (report.updated, report.unchanged) == (0, 1)


def test_lifted_and_cancelled_in_the_feed_end_the_closure_here(posting, engine, clock, make_draft):
    now = clock.now
    apply_import(posting, _items(make_draft, clock, "running", starts_at=now - timedelta(minutes=5)), POLL)
    apply_import(posting, _items(make_draft, clock, "planned"), POLL)
    over = [
        replace(item, status="lifted")
        for item in _items(make_draft, clock, "running", starts_at=now - timedelta(minutes=5))
        + _items(make_draft, clock, "planned", "never-seen")
    ]
    report = apply_import(posting, over, POLL)
    assert (report.lifted, report.cancelled, report.skipped) == (1, 1, 1)
    assert _actions(engine, "running")[-1] == ("lifted", "poll")
    assert _actions(engine, "planned")[-1] == ("cancelled", "poll")  # it had not started: cancelled
    assert counts(engine).closures == 2, "an event over before we saw it is not registered"

    reopened = apply_import(posting, _items(make_draft, clock, "running", "planned"), POLL)
    assert reopened.unchanged == 2, "an import never reopens a road"


def test_events_the_partner_removed_are_lifted_and_nothing_else(posting, engine, clock, make_draft):
    now = clock.now
    feed = _items(make_draft, clock, "stays") + _items(
        make_draft, clock, "goes", starts_at=now - timedelta(minutes=5)
    ) + _items(make_draft, clock, "planned-goes")  # fmt: skip
    apply_import(posting, feed, POLL, municipality="riyadh", source=SOURCE, prune_source=SOURCE)
    posting.register("riyadh", make_draft(ref="staff-own"), Actor.system("cli"))
    other = [ImportedClosure("riyadh", make_draft(ref="other-partner", source="cifs:elsewhere"))]
    apply_import(posting, other, POLL)

    report = apply_import(posting, feed[:1], POLL, municipality="riyadh", source=SOURCE, prune_source=SOURCE)

    assert (report.unchanged, report.removed) == (1, 2)
    assert _actions(engine, "goes")[-1] == ("lifted", "poll")
    assert _actions(engine, "planned-goes")[-1] == ("cancelled", "poll")
    for untouched in ("stays", "staff-own", "other-partner"):
        assert _actions(engine, untouched) == [("registered", _actions(engine, untouched)[0][1])], untouched


def test_a_refused_event_is_reported_and_the_others_applied(posting, engine, clock, make_draft):
    items = [
        *_items(make_draft, clock, "good"),
        ImportedClosure("riyadh", make_draft(ref="in-jeddah", geometry=JEDDAH_POINT, source=SOURCE)),
        ImportedClosure(None, make_draft(ref="nowhere", source=SOURCE)),
    ]
    report = apply_import(posting, items, POLL)
    assert report.added == 1
    assert [(r["ref"], r["error"].split(" ")[0]) for r in report.rejected] == [
        ("in-jeddah", "outside_municipality"),
        ("nowhere", "names"),
    ]


def test_a_ref_another_source_owns_is_not_taken_over_by_a_partner(posting, engine, clock, make_draft):
    posting.register("riyadh", make_draft(ref="shared-ref"), Actor.system("cli"))
    report = apply_import(
        posting, _items(make_draft, clock, "shared-ref", title_en="Hijacked"), POLL,
        municipality="riyadh", source=SOURCE, prune_source=SOURCE,
    )  # fmt: skip
    assert report.updated == 0
    assert "taken here by source staff" in report.rejected[0]["error"]
