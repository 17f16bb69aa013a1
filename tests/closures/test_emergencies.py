"""The emergency service from the outside: what declaring, updating and ending write (versions, audit,
closures, outbox rows, change counter) in one transaction, what each refuses and why, and who may act."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon

from closures import emergency_versions as versions
from closures.emergency_models import EmergencyClosure
from closures.errors import EmergencyConflict, NotFound, Refusal, ValidationError
from closures.lifecycle import Phase, phase_at
from closures.models import Municipality, OutboxItem
from closures.playbooks import drafts_for
from closures.service import Actor
from closures.store import session_scope
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from tests.closures.conftest import GEOD, JEDDAH_STAFF, RIYADH_STAFF, outbox_rows
from tests.closures.emergency_support import (
    CENTRE,
    SYSTEM,
    emergency_rows,
    khurais_playbook,
    square,
    table_counts,
)

STAFF = Actor.telegram(RIYADH_STAFF)
STRANGER = Actor.telegram(555)

pytestmark = pytest.mark.usefixtures("staff")


def _posts(engine, first_id: int) -> dict[tuple[int, str, str], str]:
    return {(r.emergency_version, r.event, r.destination): r.status for r in emergency_rows(engine, first_id)}


@pytest.fixture
def khurais(emergencies):
    return emergencies.playbooks.save("riyadh", khurais_playbook(), SYSTEM)


def test_declaring_writes_the_first_version_its_audit_and_its_posts(emergencies, engine, clock, declare):
    before = table_counts(engine)

    issued = emergencies.declare("riyadh", declare(), STAFF)

    row = issued.emergency
    assert row.first_id == row.id
    assert (row.version, row.msg_type, row.state, row.sent_at) == (1, "alert", "issued", clock.now)
    assert (row.cap_severity, row.cap_urgency, row.cap_certainty, row.cap_category) == (
        "Extreme", "Immediate", "Likely", "Met",
    )  # fmt: skip
    assert row.identifier.startswith("roadbot-riyadh-")
    assert (row.area_desc_ar, row.area_desc_en) == ("أمانة منطقة الرياض", "Riyadh Municipality")
    assert row.clipped_share == 0.0
    assert _posts(engine, row.id) == {
        (1, "declared", "emergency-people"): "pending",
        (1, "declared", "emergency-telegram:@riyadh_roads"): "pending",
        (1, "expired", "emergency-telegram:@riyadh_roads"): "pending",
        (1, "declared", "emergency-x:riyadh"): "pending",
        (1, "expired", "emergency-x:riyadh"): "pending",
    }
    (expiry,) = [r for r in emergency_rows(engine) if r.event == "expired" and "telegram" in r.destination]
    assert expiry.due_at == row.expires_at
    (event,) = emergencies.history(row.id)
    assert (event.action, event.actor, event.before_json) == ("declared", f"tg:{RIYADH_STAFF}", None)
    assert json.loads(event.after_json)["headline_en"] == "Flooding in central Riyadh"
    after = table_counts(engine)
    assert after["counter"] == before["counter"] + 1
    assert emergencies.active("riyadh") == [row]


def test_a_playbook_brings_its_closures_in_the_same_step_ending_with_the_emergency(
    emergencies, engine, clock, declare, khurais
):
    issued = emergencies.declare("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF)

    assert [c.title_en for c in issued.closures] == [f"Khurais underpass {i}" for i in (1, 2, 3)]
    assert [c.starts_at for c in issued.closures] == [clock.now] * 3
    ends = [c.ends_at for c in issued.closures]
    assert ends == [issued.emergency.expires_at, issued.emergency.expires_at, clock.now + timedelta(hours=2)]
    assert [c.detour_en for c in issued.closures] == ["Use the Eastern Ring Rd"] * 3
    links = emergencies.closures_of(issued.emergency.id)
    assert [(link.playbook_id, link.follows_expiry) for link, _ in links] == [
        (khurais.id, True), (khurais.id, True), (khurais.id, False),
    ]  # fmt: skip
    for closure in issued.closures:  # announced by the emergency's post, not one by one
        statuses = {(r.event, r.status, r.last_error) for r in outbox_rows(engine, closure.id)}
        assert {status for _, status, _ in statuses} == {"skipped"}
        assert {reason for _, _, reason in statuses} == {f"announced with emergency {issued.emergency.id}"}


def test_the_area_can_be_the_playbooks_or_the_whole_municipality(emergencies, declare, khurais):
    by_playbook = emergencies.declare(
        "riyadh", declare(area=None, area_from="playbook", playbooks=["khurais-underpasses"]), STAFF
    )
    assert shapely.from_geojson(by_playbook.emergency.area_geojson).equals(khurais.area)
    assert by_playbook.emergency.area_desc_en == "Khurais Rd underpasses"
    assert by_playbook.emergency.area_source == "playbook"

    whole = emergencies.declare("riyadh", declare(area=None, area_from="municipality"), STAFF)
    with session_scope(emergencies.engine) as session:
        boundary = session.exec(
            sa.select(Municipality.boundary_geojson).where(Municipality.slug == "riyadh")
        ).one()
    assert shapely.from_geojson(whole.emergency.area_geojson).equals(shapely.from_geojson(boundary[0]))


def test_asking_for_the_playbooks_area_when_none_has_one_is_refused(emergencies, declare):
    emergencies.playbooks.save("riyadh", khurais_playbook(area=None), SYSTEM)
    with pytest.raises(ValidationError) as caught:
        emergencies.declare(
            "riyadh", declare(area=None, area_from="playbook", playbooks=["khurais-underpasses"]), STAFF
        )
    assert caught.value.code is Refusal.NO_AREA


def test_an_area_larger_than_the_municipality_is_clipped_and_the_share_reported(
    emergencies, declare, municipalities
):
    huge = shapely.box(45.85, 23.86, 47.65, 25.65)  # three times the municipality's width

    issued = emergencies.declare("riyadh", declare(area=huge), STAFF)

    boundary = shapely.from_geojson(municipalities["riyadh"].boundary_geojson)
    outside = 1 - abs(GEOD.geometry_area_perimeter(boundary)[0]) / abs(GEOD.geometry_area_perimeter(huge)[0])
    assert issued.emergency.clipped_share == pytest.approx(outside, abs=0.005)
    assert shapely.from_geojson(issued.emergency.area_geojson).within(huge)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"area": shapely.box(39.1, 21.5, 39.2, 21.6)}, Refusal.OUTSIDE_MUNICIPALITY),
        ({"area": None}, Refusal.MISSING_FIELD),
        ({"hazard": "meteor"}, Refusal.BAD_VALUE),
        ({"level": "purple"}, Refusal.BAD_VALUE),
        ({"headline_en": "  "}, Refusal.MISSING_FIELD),
        ({"area_desc_en": "An area description far longer than fifty characters"}, Refusal.TEXT_TOO_LONG),
    ],
)
def test_bad_declarations_are_refused_and_write_nothing(emergencies, engine, declare, change, refusal):
    before = table_counts(engine)
    with pytest.raises(ValidationError) as caught:
        emergencies.declare("riyadh", declare(**change), STAFF)
    assert caught.value.code is refusal
    assert table_counts(engine) == before


def test_an_expiry_in_the_past_is_refused_and_writes_nothing(emergencies, engine, clock, declare):
    before = table_counts(engine)
    with pytest.raises(ValidationError) as caught:
        emergencies.declare("riyadh", declare(expires_at=clock.now - timedelta(minutes=5)), STAFF)
    assert caught.value.code is Refusal.EXPIRY_IN_PAST
    assert table_counts(engine) == before


@pytest.mark.parametrize(
    ("area", "reason"),
    [
        (Polygon([(46.70, 24.70), (46.72, 24.72), (46.72, 24.70), (46.70, 24.72), (46.70, 24.70)]), "self"),
        (Polygon(), "empty"),
    ],
)
def test_an_empty_or_self_intersecting_area_is_refused(emergencies, engine, declare, area, reason):
    before = table_counts(engine)
    with pytest.raises(GeometryError) as caught:
        emergencies.declare("riyadh", declare(area=area), STAFF)
    expected = GeoReason.SELF_INTERSECTING if reason == "self" else GeoReason.EMPTY
    assert caught.value.reason is expected
    assert table_counts(engine) == before


def test_a_stranger_may_not_declare_nor_staff_of_another_municipality(emergencies, engine, declare):
    before = table_counts(engine)
    for actor in (STRANGER, Actor.telegram(JEDDAH_STAFF)):
        with pytest.raises(ValidationError) as caught:
            emergencies.declare("riyadh", declare(), actor)
        assert caught.value.code is Refusal.NOT_AUTHORISED
    assert table_counts(engine) == before


def test_a_failure_half_way_through_the_closures_leaves_nothing_behind(emergencies, engine, declare, khurais):
    # The boundary shrank after the playbook was drafted: its second and third underpasses now lie
    # outside, so registering fails after the emergency row and the first closure were written.
    first = khurais.closures[0].geometry
    smaller = shapely.box(46.45, 24.455, first.x + 0.001, 25.05)
    with session_scope(engine) as session:
        muni = session.exec(sa.select(Municipality).where(Municipality.slug == "riyadh")).one()[0]
        muni.boundary_geojson = shapely.to_geojson(smaller)
        session.add(muni)
    before = table_counts(engine)

    with pytest.raises(ValidationError) as caught:
        emergencies.declare(
            "riyadh", declare(area=square(CENTRE, 1000), playbooks=["khurais-underpasses"]), STAFF
        )

    assert caught.value.code is Refusal.OUTSIDE_MUNICIPALITY
    assert table_counts(engine) == before


def test_a_failure_planning_the_posts_leaves_no_closure_behind(emergencies, engine, clock, declare, khurais):
    # A row already holds the key the emergency's first post will take (its id is the next one): the
    # posts fail after the version and all three closures were written, and the whole step rolls back.
    closure = emergencies.closures.register("riyadh", declare_closure(khurais, clock), SYSTEM)
    with session_scope(engine) as session:
        session.add(
            OutboxItem(
                idempotency_key="emergency:1:1:declared:emergency-people", closure_id=closure.id,
                closure_version=1, event="announced", destination="squatter", status="done", due_at=clock.now,
            )
        )  # fmt: skip
    before = table_counts(engine)

    with pytest.raises(sa.exc.IntegrityError):
        emergencies.declare("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF)

    assert table_counts(engine) == before
    assert emergencies.listing("riyadh") == []


def declare_closure(khurais, clock):
    draft, _ = drafts_for(khurais, starts_at=clock.now, ends_at=clock.now + timedelta(hours=1))[0]
    return draft


def test_an_exercise_closes_no_road_and_posts_nothing_publicly(emergencies, engine, declare, khurais):
    issued = emergencies.declare("riyadh", declare(exercise=True, playbooks=["khurais-underpasses"]), STAFF)

    assert issued.emergency.exercise is True
    assert issued.closures == ()
    posts = {(r.event, r.destination): (r.status, r.last_error) for r in emergency_rows(engine)}
    assert posts[("declared", "emergency-people")] == ("pending", None)
    for key, (status, reason) in posts.items():
        if key[1] != "emergency-people":
            assert (status, reason) == ("skipped", "an exercise: it reaches staff only")


def test_an_update_is_a_new_version_referencing_the_first_and_follows_a_new_expiry(
    emergencies, engine, clock, declare, khurais
):
    first = emergencies.declare("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF).emergency
    clock.advance(timedelta(minutes=30))
    later = clock.now + timedelta(hours=10)

    updated = emergencies.update(
        first.id, {"level": "warning", "expires_at": later}, STAFF, expected_version=1
    )

    row = updated.emergency
    assert (row.first_id, row.version, row.msg_type, row.level, row.cap_severity) == (
        first.id, 2, "update", "warning", "Severe",
    )  # fmt: skip
    assert row.identifier != first.identifier
    assert row.sent_at == clock.now
    assert row.area_geojson == first.area_geojson
    assert emergencies.get(first.id).superseded_by == row.id
    assert emergencies.current(first.id).id == row.id
    assert [c.ends_at for c in updated.changed] == [later, later]  # the third has its own two hours
    events = emergencies.history(first.id)
    assert [(e.action, e.version) for e in events] == [("declared", 1), ("updated", 2)]
    assert json.loads(events[1].before_json)["level"] == "alarm"
    assert json.loads(events[1].after_json)["level"] == "warning"
    posts = _posts(engine, first.id)
    assert posts[(1, "expired", "emergency-telegram:@riyadh_roads")] == "superseded"
    assert posts[(2, "updated", "emergency-telegram:@riyadh_roads")] == "pending"
    assert posts[(2, "updated", "emergency-people")] == "pending"


def test_an_update_can_activate_another_playbook_but_never_twice(emergencies, declare, khurais):
    first = emergencies.declare("riyadh", declare(), STAFF).emergency

    once = emergencies.update(first.id, {"playbooks": ["khurais-underpasses"]}, STAFF)
    twice = emergencies.update(first.id, {"playbooks": ["khurais-underpasses"]}, STAFF)

    assert len(once.closures) == 3
    assert twice.closures == ()
    assert len(emergencies.closures_of(first.id)) == 3


def test_two_updates_of_one_version_the_second_is_told_of_the_conflict(emergencies, engine, declare):
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    emergencies.update(first.id, {"level": "warning"}, STAFF, expected_version=1)
    before = table_counts(engine)

    with pytest.raises(EmergencyConflict) as caught:
        emergencies.update(first.id, {"level": "advice"}, SYSTEM, expected_version=1)

    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert table_counts(engine) == before


def test_ending_lifts_the_closures_that_followed_it_and_refuses_more_changes(
    emergencies, engine, clock, declare, khurais
):
    issued = emergencies.declare("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF)
    clock.advance(timedelta(minutes=20))

    ended = emergencies.end(issued.emergency.id, STAFF)

    row = ended.emergency
    assert (row.version, row.msg_type, row.first_id) == (2, "cancel", issued.emergency.id)
    assert [c.status for c in ended.changed] == ["lifted", "lifted"]
    own = emergencies.closures.get(issued.closures[2].id)
    assert phase_at(own, clock.now) is Phase.ACTIVE  # its own two hours run on
    assert emergencies.active("riyadh") == []
    posts = _posts(engine, row.first_id)
    assert posts[(2, "ended", "emergency-telegram:@riyadh_roads")] == "pending"
    assert posts[(2, "ended", "emergency-people")] == "pending"
    assert (2, "expired", "emergency-telegram:@riyadh_roads") not in posts
    assert posts[(1, "expired", "emergency-telegram:@riyadh_roads")] == "superseded"
    for change in ({"level": "advice"}, None):
        with pytest.raises(ValidationError) as caught:
            emergencies.update(row.first_id, change, STAFF) if change else emergencies.end(
                row.first_id, STAFF
            )
        assert caught.value.code is Refusal.ALREADY_ENDED


def test_an_expired_emergency_cannot_be_updated(emergencies, clock, declare):
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    clock.advance(timedelta(hours=7))
    with pytest.raises(ValidationError) as caught:
        emergencies.update(first.id, {"level": "advice"}, STAFF)
    assert (caught.value.code, caught.value.detail) == (Refusal.ALREADY_ENDED, "expired")
    assert emergencies.active("riyadh") == []


def test_only_staff_may_update_or_end(emergencies, engine, declare):
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    before = table_counts(engine)
    for call in (lambda: emergencies.update(first.id, {"level": "advice"}, STRANGER),
                 lambda: emergencies.end(first.id, STRANGER)):  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.code is Refusal.NOT_AUTHORISED
    assert table_counts(engine) == before


def test_an_unknown_emergency_is_not_found(emergencies):
    with pytest.raises(NotFound):
        emergencies.end(999, STAFF)


def test_a_draft_posts_nothing_until_confirmed_then_it_is_a_declaration(
    emergencies, engine, clock, declare, khurais
):
    imported = declare(source="cap:ncm.gov.sa", source_sender="ncm.gov.sa", source_identifier="NCM-1")
    draft = emergencies.draft("riyadh", imported, SYSTEM)
    assert (draft.state, draft.sent_at, draft.source) == ("draft", None, "cap:ncm.gov.sa")
    assert emergency_rows(engine) == []
    assert emergencies.active("riyadh") == []
    assert [d.id for d in emergencies.drafts("riyadh")] == [draft.id]

    clock.advance(timedelta(minutes=3))
    issued = emergencies.confirm(draft.id, STAFF, playbooks=["khurais-underpasses"])

    assert (issued.emergency.state, issued.emergency.sent_at) == ("issued", clock.now)
    assert len(issued.closures) == 3
    assert _posts(engine, draft.id)[(1, "declared", "emergency-people")] == "pending"
    assert [e.action for e in emergencies.history(draft.id)] == ["drafted", "declared"]
    with pytest.raises(ValidationError) as caught:
        emergencies.confirm(draft.id, STAFF)
    assert caught.value.code is Refusal.NOT_A_DRAFT


def test_a_discarded_draft_cannot_be_confirmed(emergencies, engine, declare):
    draft = emergencies.draft("riyadh", declare(), SYSTEM)
    emergencies.discard(draft.id, STAFF)
    with pytest.raises(ValidationError) as caught:
        emergencies.confirm(draft.id, STAFF)
    assert caught.value.code is Refusal.NOT_A_DRAFT
    assert emergency_rows(engine) == []


def test_a_draft_whose_expiry_passed_cannot_be_confirmed(emergencies, clock, declare):
    draft = emergencies.draft("riyadh", declare(), SYSTEM)
    clock.advance(timedelta(hours=7))
    with pytest.raises(ValidationError) as caught:
        emergencies.confirm(draft.id, STAFF)
    assert caught.value.code is Refusal.EXPIRY_IN_PAST


def test_the_plan_says_what_a_declaration_would_do_and_writes_nothing(emergencies, engine, declare, khurais):
    before = table_counts(engine)

    plan = emergencies.plan("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF)

    assert [d.title_en for d in plan.closures] == [f"Khurais underpass {i}" for i in (1, 2, 3)]
    assert plan.area.clipped_share == 0.0
    assert plan.reach.total == 0
    assert table_counts(engine) == before


def test_a_closure_an_emergency_brought_keeps_its_link(emergencies, engine, declare, khurais):
    issued = emergencies.declare("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF)
    with session_scope(engine) as session:
        links = session.exec(sa.select(EmergencyClosure.closure_id)).all()
    assert sorted(link[0] for link in links) == sorted(c.id for c in issued.closures)


def test_a_version_superseded_between_the_check_and_the_write_is_a_conflict(emergencies, engine, declare):
    # Two writers read version 1; the first issues version 2. The second's UPDATE of version 1 (its
    # "superseded by" still empty when it read it) finds it taken, and says which version is current.
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    second = emergencies.update(first.id, {"level": "warning"}, STAFF).emergency

    with pytest.raises(EmergencyConflict) as caught, session_scope(engine, write=True) as session:
        versions.supersede(session, first, second)

    assert (caught.value.first_id, caught.value.expected, caught.value.current) == (first.id, 1, 2)
