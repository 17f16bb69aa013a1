"""The service from the outside: what each change writes (closure, audit event, outbox rows, change counter),
what it refuses and why, who may make it, and what happens when two staff change one closure at once.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from closures.errors import ConflictError, NotFound, Refusal, ValidationError
from closures.lifecycle import Phase, phase_at
from closures.models import Closure
from closures.service import Actor, ClosureService
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from tests.closures.conftest import (
    DRIVER,
    JEDDAH_POINT,
    JEDDAH_STAFF,
    KING_FAHD,
    RIYADH_STAFF,
    TITLE_AR,
    add_staff,
    counts,
    offset,
    outbox_rows,
)

SYSTEM = Actor.system("cli")
STAFF = Actor.telegram(RIYADH_STAFF)
DESTINATIONS = {"telegram": "@riyadh_roads", "x": "riyadh"}
HOUR = timedelta(hours=1)
NEW_TITLE = "إغلاق طريق الملك فهد باتجاه الشمال"

pytestmark = pytest.mark.usefixtures("staff")


def _events(service: ClosureService, closure_id: int) -> list[tuple[str, int]]:
    return [(e.action, e.version) for e in service.history(closure_id)]


def _posts(engine, closure_id: int) -> dict[tuple[int, str, str], tuple[str, object]]:
    """(version, event, destination) -> (status, due_at) of every outbox row of a closure."""
    return {
        (r.closure_version, r.event, r.destination): (r.status, r.due_at)
        for r in outbox_rows(engine, closure_id)
    }


@pytest.fixture
def posting(engine, clock, municipalities) -> ClosureService:
    """A service with both destinations configured, so that planned posts are pending."""
    return ClosureService(engine, clock=clock, destinations=DESTINATIONS)


# --- register ---------------------------------------------------------------------------------------


def test_register_writes_the_closure_one_audit_event_and_skipped_posts(service, engine, clock, make_draft):
    draft = make_draft()

    closure = service.register("riyadh", draft, STAFF)

    stored = service.get(closure.id)
    assert (stored.version, stored.status, stored.kind, stored.title_ar) == (1, "open", "line", TITLE_AR)
    assert (stored.starts_at, stored.ends_at) == (draft.starts_at, draft.ends_at)
    assert stored.created_by == "tg:1001"
    [event] = service.history(closure.id)
    assert (event.action, event.version, event.actor, event.before_json) == ("registered", 1, "tg:1001", None)
    after = json.loads(event.after_json)
    assert (after["id"], after["version"], after["title_ar"]) == (closure.id, 1, TITLE_AR)
    # Nothing is configured, so every planned post exists but is skipped, with the reason recorded.
    rows = outbox_rows(engine, closure.id)
    assert {(r.event, r.destination, r.status, r.due_at) for r in rows} == {
        (event, dest, "skipped", due)
        for event, due in (("announced", clock.now), ("started", draft.starts_at), ("ended", draft.ends_at))
        for dest in ("telegram", "x")
    }
    assert all(r.last_error for r in rows)
    assert counts(engine).counter == 1


def test_register_with_destinations_plans_pending_posts_with_unique_keys(posting, engine, clock, make_draft):
    draft = make_draft()

    closure = posting.register("riyadh", draft, STAFF)

    rows = outbox_rows(engine, closure.id)
    assert _posts(engine, closure.id) == {
        (1, event, dest): ("pending", due)
        for event, due in (("announced", clock.now), ("started", draft.starts_at), ("ended", draft.ends_at))
        for dest in ("telegram:@riyadh_roads", "x:riyadh")
    }
    keys = [r.idempotency_key for r in rows]
    assert len(set(keys)) == len(keys) == 6
    assert f"{closure.id}:1:announced:telegram:@riyadh_roads" in keys
    assert all(r.last_error is None and r.attempts == 0 for r in rows)


def test_each_registration_moves_the_change_counter(service, engine, make_draft):
    before = counts(engine)
    service.register("riyadh", make_draft(), STAFF)
    service.register("riyadh", make_draft(geometry=Point(DRIVER)), STAFF)
    after = counts(engine)
    assert (after.closures, after.events, after.counter) == (2, 2, before.counter + 2)


def test_register_by_municipality_id_works_like_by_slug(service, make_draft, municipalities):
    closure = service.register(municipalities["riyadh"].id, make_draft(), SYSTEM)
    assert closure.municipality_id == municipalities["riyadh"].id


def test_register_in_an_unknown_municipality_is_not_found(service, engine, make_draft):
    before = counts(engine)
    with pytest.raises(NotFound):
        service.register("makkah", make_draft(), SYSTEM)
    assert counts(engine) == before


def test_times_given_in_riyadh_time_are_audited_in_utc_so_conflicts_name_only_real_changes(
    service, engine, clock, make_draft
):
    riyadh_time = timezone(timedelta(hours=3))
    start, end = clock.now + HOUR, clock.now + 5 * HOUR
    draft = make_draft(starts_at=start.astimezone(riyadh_time), ends_at=end.astimezone(riyadh_time))

    closure = service.register("riyadh", draft, STAFF)
    service.update(closure.id, 1, {"detour_ar": "طريق العليا"}, STAFF)

    assert (service.get(closure.id).starts_at, service.get(closure.id).ends_at) == (start, end)
    after = json.loads(service.history(closure.id)[0].after_json)
    assert (after["starts_at"], after["ends_at"]) == (start.isoformat(), end.isoformat())  # +00:00
    with pytest.raises(ConflictError) as caught:
        service.update(closure.id, 1, {"title_ar": NEW_TITLE}, STAFF)
    assert caught.value.changes == {"detour_ar": (None, "طريق العليا")}


# --- refusals ---------------------------------------------------------------------------------------

_COUNTRY = Polygon([(36.0, 16.5), (55.5, 16.5), (55.5, 32.0), (36.0, 32.0)])  # roughly Saudi Arabia
_SWAPPED_LINE = LineString([(lat, lon) for lon, lat in KING_FAHD.coords])

REFUSALS: list[tuple[str, Callable[[object], dict], Refusal | GeoReason, str | None]] = [
    ("end before start", lambda now: {"ends_at": now + HOUR / 2}, Refusal.END_BEFORE_START, "ends_at"),
    ("end equals start", lambda now: {"ends_at": now + HOUR}, Refusal.END_BEFORE_START, "ends_at"),
    ("start over an hour ago", lambda now: {"starts_at": now - 61 * HOUR / 60}, Refusal.START_IN_PAST,
     "starts_at"),
    ("end in the past", lambda now: {"starts_at": now - HOUR / 2, "ends_at": now - HOUR / 6},
     Refusal.END_IN_PAST, "ends_at"),
    ("naive start", lambda now: {"starts_at": (now + HOUR).replace(tzinfo=None)}, Refusal.BAD_VALUE,
     "starts_at"),
    ("point in Jeddah", lambda now: {"geometry": JEDDAH_POINT}, Refusal.OUTSIDE_MUNICIPALITY, "geometry"),
    ("bad reason", lambda now: {"reason": "construction"}, Refusal.BAD_VALUE, "reason"),
    ("bad severity", lambda now: {"severity": "total"}, Refusal.BAD_VALUE, "severity"),
    ("bad direction", lambda now: {"direction": "north"}, Refusal.BAD_VALUE, "direction"),
    ("one direction, no heading", lambda now: {"direction": "one"}, Refusal.MISSING_FIELD, "heading"),
    ("one direction, bad heading", lambda now: {"direction": "one", "heading": "UP"}, Refusal.BAD_VALUE,
     "heading"),
    ("no title", lambda now: {"title_ar": ""}, Refusal.MISSING_FIELD, "title_ar"),
    ("blank title", lambda now: {"title_ar": " \n\t "}, Refusal.MISSING_FIELD, "title_ar"),
    ("title too long", lambda now: {"title_ar": "ط" * 201}, Refusal.TEXT_TOO_LONG, "title_ar"),
    ("lanes too long", lambda now: {"lanes_en": "x" * 201}, Refusal.TEXT_TOO_LONG, "lanes_en"),
    ("description too long", lambda now: {"description_ar": "ط" * 2001}, Refusal.TEXT_TOO_LONG,
     "description_ar"),
    ("radius too small", lambda now: {"geometry": Point(DRIVER), "radius_m": 5}, Refusal.BAD_VALUE,
     "radius_m"),
    ("radius too large", lambda now: {"geometry": Point(DRIVER), "radius_m": 6_000}, Refusal.BAD_VALUE,
     "radius_m"),
    ("country-sized polygon", lambda now: {"geometry": _COUNTRY}, GeoReason.TOO_BIG, None),
    ("line typed as (lat, lon)", lambda now: {"geometry": _SWAPPED_LINE}, GeoReason.PROBABLY_SWAPPED, None),
    ("multipoint", lambda now: {"geometry": MultiPoint([DRIVER, offset(DRIVER, 0, 300)])},
     GeoReason.UNSUPPORTED_TYPE, None),
    ("bow-tie polygon", lambda now: {"geometry": Polygon([DRIVER, offset(DRIVER, 45, 400),
     offset(DRIVER, 0, 280), offset(DRIVER, 90, 280)])}, GeoReason.SELF_INTERSECTING, None),
    ("zero-length line", lambda now: {"geometry": LineString([DRIVER, DRIVER])}, GeoReason.ZERO_LENGTH, None),
    ("latitude beyond the pole", lambda now: {"geometry": Point(46.67, 124.7)}, GeoReason.LAT_OUT_OF_RANGE,
     None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "code", "field"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_register_refuses_with_a_code_and_writes_nothing(
    service, engine, clock, make_draft, overrides, code, field
):
    before = counts(engine)
    draft = make_draft(**overrides(clock.now))

    if isinstance(code, Refusal):
        with pytest.raises(ValidationError) as caught:
            service.register("riyadh", draft, STAFF)
        assert (caught.value.code, caught.value.field) == (code, field)
    else:
        with pytest.raises(GeometryError) as caught:
            service.register("riyadh", draft, STAFF)
        assert caught.value.reason is code

    assert counts(engine) == before


def test_past_start_is_accepted_when_allowed(service, clock, make_draft):
    draft = make_draft(starts_at=clock.now - 3 * HOUR)
    with pytest.raises(ValidationError):
        service.register("riyadh", draft, STAFF)

    closure = service.register("riyadh", draft, STAFF, allow_past_start=True)

    assert phase_at(closure, clock.now) is Phase.ACTIVE


def test_start_within_the_hour_before_now_is_accepted(service, clock, make_draft):
    closure = service.register("riyadh", make_draft(starts_at=clock.now - 59 * HOUR / 60), STAFF)
    assert phase_at(closure, clock.now) is Phase.ACTIVE


def test_a_point_just_outside_the_boundary_is_within_the_tolerance(service, make_draft):
    westmost_vertex = (46.45, 24.622)
    outside = Point(offset(westmost_vertex, 270, 300))
    closure = service.register("riyadh", make_draft(geometry=outside, radius_m=50), STAFF)
    assert closure.kind == "point"


# --- authorisation ----------------------------------------------------------------------------------


def test_a_stranger_may_not_register(service, engine, make_draft):
    before = counts(engine)
    with pytest.raises(ValidationError) as caught:
        service.register("riyadh", make_draft(), Actor.telegram(4242))
    assert caught.value.code is Refusal.NOT_AUTHORISED
    assert counts(engine) == before


def test_deactivated_staff_may_no_longer_register_or_update(service, engine, make_draft, municipalities):
    add_staff(engine, 3003, municipalities["riyadh"], active=False)
    closure = service.register("riyadh", make_draft(), SYSTEM)
    before = counts(engine)

    for attempt in (
        lambda: service.register("riyadh", make_draft(), Actor.telegram(3003)),
        lambda: service.update(closure.id, 1, {"title_ar": NEW_TITLE}, Actor.telegram(3003)),
    ):
        with pytest.raises(ValidationError) as caught:
            attempt()
        assert caught.value.code is Refusal.NOT_AUTHORISED
    assert counts(engine) == before


_JEDDAH_ACTS = {
    "register": lambda s, c, d: s.register("riyadh", d, Actor.telegram(JEDDAH_STAFF)),
    "update": lambda s, c, d: s.update(c.id, 1, {"title_ar": NEW_TITLE}, Actor.telegram(JEDDAH_STAFF)),
    "extend": lambda s, c, d: s.extend(c.id, c.ends_at + HOUR, Actor.telegram(JEDDAH_STAFF)),
    "lift": lambda s, c, d: s.lift(c.id, Actor.telegram(JEDDAH_STAFF)),
    "cancel": lambda s, c, d: s.cancel(c.id, Actor.telegram(JEDDAH_STAFF)),
}


@pytest.mark.parametrize("act", list(_JEDDAH_ACTS))
def test_staff_of_jeddah_may_not_touch_riyadh(service, engine, clock, make_draft, act):
    active = service.register("riyadh", make_draft(starts_at=clock.now), STAFF)  # every act applies to it
    before = counts(engine)

    with pytest.raises(ValidationError) as caught:
        _JEDDAH_ACTS[act](service, active, make_draft())

    assert caught.value.code is Refusal.NOT_AUTHORISED
    assert counts(engine) == before
    assert service.get(active.id).version == 1


def test_staff_of_jeddah_may_register_in_jeddah(service, make_draft):
    closure = service.register("jeddah", make_draft(geometry=JEDDAH_POINT), Actor.telegram(JEDDAH_STAFF))
    assert closure.created_by == "tg:2002"


# --- update, extend, lift, cancel -------------------------------------------------------------------


def test_update_bumps_version_audits_and_supersedes_older_timed_posts(posting, engine, clock, make_draft):
    draft = make_draft()
    closure = posting.register("riyadh", draft, STAFF)
    new_end = draft.ends_at + HOUR
    clock.advance(timedelta(minutes=10))

    updated = posting.update(closure.id, 1, {"title_ar": NEW_TITLE, "ends_at": new_end}, STAFF)

    assert (updated.version, updated.title_ar, updated.ends_at) == (2, NEW_TITLE, new_end)
    assert updated.updated_at == clock.now
    event = posting.history(closure.id)[-1]
    assert (event.action, event.version, event.actor) == ("updated", 2, "tg:1001")
    before, after = json.loads(event.before_json), json.loads(event.after_json)
    assert (before["title_ar"], after["title_ar"]) == (TITLE_AR, NEW_TITLE)
    assert (before["version"], after["version"]) == (1, 2)
    assert after["ends_at"] == new_end.isoformat()
    posts = _posts(engine, closure.id)
    for dest in DESTINATIONS.items():
        dest = ":".join(dest)
        assert posts[1, "announced", dest][0] == "pending"  # already due: not withdrawn
        assert posts[1, "started", dest][0] == posts[1, "ended", dest][0] == "superseded"
        assert posts[2, "updated", dest] == ("pending", clock.now)
        assert posts[2, "started", dest] == ("pending", draft.starts_at)
        assert posts[2, "ended", dest] == ("pending", new_end)
    assert len(posts) == 12


def test_update_of_only_a_later_end_counts_as_an_extension(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(), STAFF)
    posting.update(closure.id, 1, {"ends_at": closure.ends_at + HOUR}, STAFF)
    assert _events(posting, closure.id)[-1] == ("extended", 2)
    assert _posts(engine, closure.id)[2, "extended", "x:riyadh"] == ("pending", clock.now)


def test_update_validates_the_whole_closure_again(service, engine, make_draft):
    closure = service.register("riyadh", make_draft(), STAFF)
    before = counts(engine)
    with pytest.raises(ValidationError) as caught:
        service.update(closure.id, 1, {"geometry": JEDDAH_POINT}, STAFF)
    assert caught.value.code is Refusal.OUTSIDE_MUNICIPALITY
    with pytest.raises(ValidationError) as caught:
        service.update(closure.id, 1, {"ends_at": closure.starts_at - HOUR}, STAFF)
    assert caught.value.code is Refusal.END_BEFORE_START
    assert counts(engine) == before


def test_update_may_not_move_the_end_into_the_past(service, engine, clock, make_draft):
    closure = service.register("riyadh", make_draft(starts_at=clock.now), STAFF)
    clock.advance(2 * HOUR)
    before = counts(engine)

    with pytest.raises(ValidationError) as caught:
        service.update(closure.id, 1, {"ends_at": clock.now - HOUR}, STAFF)

    assert (caught.value.code, caught.value.field) == (Refusal.END_IN_PAST, "ends_at")
    assert counts(engine) == before


def test_update_of_an_active_closure_keeps_its_past_start(service, clock, make_draft):
    closure = service.register("riyadh", make_draft(starts_at=clock.now), STAFF)
    clock.advance(3 * HOUR)  # started three hours ago now
    assert service.update(closure.id, 1, {"detour_ar": "طريق العليا"}, STAFF).version == 2


@pytest.mark.parametrize("name", ["status", "version", "municipality_id", "ref"])
def test_update_refuses_fields_that_are_not_editable(service, make_draft, name):
    closure = service.register("riyadh", make_draft(), STAFF)
    with pytest.raises(ValidationError) as caught:
        service.update(closure.id, 1, {name: "x"}, STAFF)
    assert (caught.value.code, caught.value.field) == (Refusal.BAD_VALUE, name)


def test_update_that_changes_nothing_writes_nothing(service, engine, make_draft):
    closure = service.register("riyadh", make_draft(), STAFF)
    before = counts(engine)
    assert service.update(closure.id, 1, {"title_ar": TITLE_AR}, STAFF).version == 1
    assert counts(engine) == before


def test_extend_moves_the_end_later_and_replans_the_end_post(posting, engine, clock, make_draft):
    draft = make_draft()
    closure = posting.register("riyadh", draft, STAFF)
    new_end = draft.ends_at + 3 * HOUR

    extended = posting.extend(closure.id, new_end, STAFF, expected_version=1)

    assert (extended.version, extended.ends_at) == (2, new_end)
    event = posting.history(closure.id)[-1]
    assert (event.action, event.version) == ("extended", 2)
    assert json.loads(event.before_json)["ends_at"] == draft.ends_at.isoformat()
    assert json.loads(event.after_json)["ends_at"] == new_end.isoformat()
    posts = _posts(engine, closure.id)
    assert posts[1, "ended", "telegram:@riyadh_roads"][0] == "superseded"
    assert posts[1, "started", "telegram:@riyadh_roads"][0] == "superseded"
    assert posts[2, "extended", "telegram:@riyadh_roads"] == ("pending", clock.now)
    assert posts[2, "started", "telegram:@riyadh_roads"] == ("pending", draft.starts_at)
    assert posts[2, "ended", "telegram:@riyadh_roads"] == ("pending", new_end)


@pytest.mark.parametrize("hours", [-1, 0])
def test_extend_to_an_earlier_or_equal_end_is_not_later(service, engine, make_draft, hours):
    closure = service.register("riyadh", make_draft(), STAFF)
    before = counts(engine)
    with pytest.raises(ValidationError) as caught:
        service.extend(closure.id, closure.ends_at + hours * HOUR, STAFF)
    assert (caught.value.code, caught.value.field) == (Refusal.NOT_LATER, "ends_at")
    assert counts(engine) == before


def test_an_open_ended_closure_cannot_be_extended(service, make_draft):
    closure = service.register("riyadh", make_draft(ends_at=None), STAFF)
    with pytest.raises(ValidationError) as caught:
        service.extend(closure.id, closure.starts_at + 48 * HOUR, STAFF)
    assert caught.value.code is Refusal.NOT_LATER


def test_an_ended_closure_cannot_be_extended(service, clock, make_draft):
    closure = service.register("riyadh", make_draft(), STAFF)
    clock.advance(6 * HOUR)
    with pytest.raises(ValidationError) as caught:
        service.extend(closure.id, clock.now + HOUR, STAFF)
    assert caught.value.code is Refusal.NOT_OPEN


def test_lift_reopens_an_active_road_and_withdraws_its_timed_posts(posting, engine, clock, make_draft):
    draft = make_draft()
    closure = posting.register("riyadh", draft, STAFF)
    clock.advance(2 * HOUR)  # an hour into the closure

    lifted = posting.lift(closure.id, STAFF, expected_version=1)

    assert (lifted.status, lifted.lifted_at, lifted.version) == ("lifted", clock.now, 2)
    assert phase_at(posting.get(closure.id), clock.now) is Phase.LIFTED
    event = posting.history(closure.id)[-1]
    assert (
        event.action,
        json.loads(event.before_json)["status"],
        json.loads(event.after_json)["status"],
    ) == (
        "lifted",
        "open",
        "lifted",
    )
    posts = _posts(engine, closure.id)
    assert posts[2, "lifted", "x:riyadh"] == ("pending", clock.now)
    assert posts[1, "ended", "x:riyadh"][0] == "superseded"
    assert not [key for key in posts if key[0] == 2 and key[1] in ("started", "ended")]


def test_lift_of_a_scheduled_closure_is_not_started(service, engine, make_draft):
    closure = service.register("riyadh", make_draft(), STAFF)
    before = counts(engine)
    with pytest.raises(ValidationError) as caught:
        service.lift(closure.id, STAFF)
    assert caught.value.code is Refusal.NOT_STARTED
    assert counts(engine) == before


def test_lift_twice_is_not_open(service, engine, clock, make_draft):
    closure = service.register("riyadh", make_draft(starts_at=clock.now), STAFF)
    service.lift(closure.id, STAFF)
    before = counts(engine)
    with pytest.raises(ValidationError) as caught:
        service.lift(closure.id, STAFF)
    assert caught.value.code is Refusal.NOT_OPEN
    assert counts(engine) == before


def test_cancel_withdraws_a_scheduled_closure(posting, engine, clock, make_draft):
    closure = posting.register("riyadh", make_draft(), STAFF)

    cancelled = posting.cancel(closure.id, STAFF, expected_version=1)

    assert (cancelled.status, cancelled.version, cancelled.lifted_at) == ("cancelled", 2, None)
    assert _events(posting, closure.id) == [("registered", 1), ("cancelled", 2)]
    event = posting.history(closure.id)[-1]
    before, after = json.loads(event.before_json), json.loads(event.after_json)
    assert (before["status"], before["version"], after["status"], after["version"]) == (
        "open",
        1,
        "cancelled",
        2,
    )
    posts = _posts(engine, closure.id)
    assert posts[2, "cancelled", "telegram:@riyadh_roads"] == ("pending", clock.now)
    assert {
        posts[1, e, d][0] for e in ("started", "ended") for d in ("telegram:@riyadh_roads", "x:riyadh")
    } == {"superseded"}


@pytest.mark.parametrize(
    "act",
    [
        lambda s, c: s.cancel(c.id, STAFF),
        lambda s, c: s.lift(c.id, STAFF),
        lambda s, c: s.extend(c.id, c.ends_at + HOUR, STAFF),
        lambda s, c: s.update(c.id, 2, {"title_ar": NEW_TITLE}, STAFF),
    ],
    ids=["cancel", "lift", "extend", "update"],
)
def test_nothing_more_happens_to_a_cancelled_closure(service, engine, clock, make_draft, act):
    closure = service.register("riyadh", make_draft(starts_at=clock.now), STAFF)
    service.cancel(closure.id, STAFF)
    before = counts(engine)
    with pytest.raises(ValidationError) as caught:
        act(service, closure)
    assert caught.value.code is Refusal.NOT_OPEN
    assert counts(engine) == before


def test_history_lists_every_change_oldest_first(service, clock, make_draft):
    closure = service.register("riyadh", make_draft(), STAFF)
    service.update(closure.id, 1, {"title_ar": NEW_TITLE}, STAFF)
    service.extend(closure.id, closure.ends_at + HOUR, Actor.telegram(RIYADH_STAFF))
    clock.advance(2 * HOUR)
    service.lift(closure.id, SYSTEM)

    history = service.history(closure.id)

    assert [(e.action, e.version, e.actor) for e in history] == [
        ("registered", 1, "tg:1001"),
        ("updated", 2, "tg:1001"),
        ("extended", 3, "tg:1001"),
        ("lifted", 4, "cli"),
    ]
    for earlier, later in itertools.pairwise(history):
        assert json.loads(later.before_json) == json.loads(earlier.after_json)
        assert earlier.at <= later.at


def test_unknown_closure_is_not_found(service):
    with pytest.raises(NotFound):
        service.get(999)
    with pytest.raises(NotFound):
        service.history(999)
    with pytest.raises(NotFound):
        service.lift(999, STAFF)


# --- optimistic concurrency -------------------------------------------------------------------------


def test_second_editor_of_the_same_version_gets_a_conflict_naming_the_changes(
    service, engine, make_draft, municipalities
):
    add_staff(engine, 1002, municipalities["riyadh"])
    closure = service.register("riyadh", make_draft(), STAFF)
    first, second = service.get(closure.id), service.get(closure.id)  # two staff both read version 1
    new_end = first.ends_at + HOUR

    service.update(first.id, first.version, {"title_ar": NEW_TITLE, "ends_at": new_end}, STAFF)
    before = counts(engine)
    with pytest.raises(ConflictError) as caught:
        service.update(second.id, second.version, {"detour_ar": "طريق العليا"}, Actor.telegram(1002))

    error = caught.value
    assert (error.closure_id, error.expected, error.current) == (closure.id, 1, 2)
    assert error.changes == {
        "title_ar": (TITLE_AR, NEW_TITLE),
        "ends_at": (first.ends_at.isoformat(), new_end.isoformat()),
    }
    assert counts(engine) == before
    stored = service.get(closure.id)
    assert (stored.version, stored.detour_ar) == (2, None)


@pytest.mark.parametrize(
    "act",
    [
        lambda s, c: s.extend(c.id, c.ends_at + 2 * HOUR, STAFF, expected_version=1),
        lambda s, c: s.lift(c.id, STAFF, expected_version=1),
        lambda s, c: s.cancel(c.id, STAFF, expected_version=1),
    ],
    ids=["extend", "lift", "cancel"],
)
def test_extend_lift_and_cancel_check_the_version_they_were_given(service, engine, clock, make_draft, act):
    closure = service.register("riyadh", make_draft(starts_at=clock.now), STAFF)
    service.extend(closure.id, closure.ends_at + HOUR, STAFF)  # someone else, meanwhile
    before = counts(engine)

    with pytest.raises(ConflictError) as caught:
        act(service, closure)

    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert caught.value.changes == {
        "ends_at": (closure.ends_at.isoformat(), (closure.ends_at + HOUR).isoformat())
    }
    assert counts(engine) == before


def _race(service: ClosureService, closure_id: int, titles: list[str]) -> list[object]:
    """Start one thread per title, all updating version 1 at once; return what each got back."""
    barrier = threading.Barrier(len(titles))
    results: list[object] = [None] * len(titles)

    def edit(i: int) -> None:
        barrier.wait()
        try:
            results[i] = service.update(closure_id, 1, {"title_ar": titles[i]}, STAFF)
        except ConflictError as exc:
            results[i] = exc

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(len(titles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _check_one_winner(service: ClosureService, engine, closure_id: int, titles: list[str], results) -> None:
    winners = [r for r in results if isinstance(r, Closure)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(winners) == len(losers) == 1, results
    winner_title = titles[results.index(winners[0])]
    assert (losers[0].expected, losers[0].current) == (1, 2)
    assert losers[0].changes == {"title_ar": (TITLE_AR, winner_title)}
    stored = service.get(closure_id)
    assert (stored.version, stored.title_ar) == (2, winner_title)
    assert _events(service, closure_id) == [("registered", 1), ("updated", 2)]


def test_two_staff_racing_on_one_version_one_wins_one_conflicts(service, engine, make_draft):
    closure = service.register("riyadh", make_draft(), STAFF)
    titles = [f"{TITLE_AR} ١", f"{TITLE_AR} ٢"]

    results = _race(service, closure.id, titles)

    _check_one_winner(service, engine, closure.id, titles, results)


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_racers_that_both_read_version_one_are_told_apart_by_the_update(service, engine, make_draft):
    """Both transactions read version 1 before either writes; the version check inside UPDATE decides.

    (SQLite serialises writers at BEGIN IMMEDIATE, so there the second never reads the old version.)
    """
    closure = service.register("riyadh", make_draft(), STAFF)
    titles = [f"{TITLE_AR} ١", f"{TITLE_AR} ٢"]
    at_update = threading.Barrier(2)
    waited: set[int] = set()

    def line_up(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE CLOSURE ") and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            at_update.wait(timeout=30)

    sa.event.listen(engine, "before_cursor_execute", line_up)
    try:
        results = _race(service, closure.id, titles)
    finally:
        sa.event.remove(engine, "before_cursor_execute", line_up)

    assert len(waited) == 2
    _check_one_winner(service, engine, closure.id, titles, results)


def test_extend_to_open_ended_removes_the_end(engine, municipalities, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from shapely.geometry import Point

    from closures.rules import ClosureDraft
    from closures.service import Actor, ClosureService

    service = ClosureService(engine, clock=clock)
    draft = ClosureDraft(
        geometry=Point(46.6744, 24.7114), reason="roadworks", starts_at=clock.now,
        ends_at=clock.now + timedelta(hours=2), title_ar="أعمال",
    )  # fmt: skip
    closure = service.register("riyadh", draft, Actor.system("test"))
    extended = service.extend(closure.id, None, Actor.system("test"), expected_version=1)
    assert extended.ends_at is None
    assert extended.version == 2
