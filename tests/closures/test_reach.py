"""Who an emergency reaches: subscribers and recent drivers in or near the area (placed on the ellipsoid),
each once and in their language; staff only for an exercise; the update reaches the same people and
newcomers, the end only the people told before; a second expansion adds nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, Point

from closures import outbox
from closures.drivers import DriverDirectory
from closures.emergency_models import EmergencyAction, EmergencyRecipient
from closures.locations import LocationLog
from closures.models import OutboxItem, OutboxStatus
from closures.outbox import ClaimedEmergency
from closures.reach import Reach, dm_payload, queue_people
from closures.service import Actor
from closures.store import session_scope
from tests.closures.conftest import RIYADH_STAFF, offset
from tests.closures.emergency_support import CENTRE, emergency_rows, square

STAFF = Actor.telegram(RIYADH_STAFF)
REACH = Reach(recent=timedelta(hours=2), margin_m=1000)

pytestmark = pytest.mark.usefixtures("staff")


@pytest.fixture
def drivers(engine, clock) -> DriverDirectory:
    return DriverDirectory(engine, clock=clock)


@pytest.fixture
def locations(engine) -> LocationLog:
    return LocationLog(engine)


def _subscribe(
    drivers: DriverDirectory, user: int, geometry, *, radius: int = 1000, language: str = "ar"
) -> None:
    drivers.save_place(user, "home", geometry)
    drivers.subscribe(user, "home", radius, language)


def _expand(engine, clock, first_id: int, version: int) -> int | None:
    """Take the version's people row as a worker would, and expand it."""
    token = f"test-{first_id}-{version}"
    with session_scope(engine) as session:
        row = session.scalars(
            sa.select(OutboxItem).where(
                OutboxItem.emergency_id == first_id, OutboxItem.emergency_version == version,
                OutboxItem.destination == "emergency-people",
            )
        ).one()  # fmt: skip
        row.status, row.claim_token, row.lease_until = (
            OutboxStatus.CLAIMED.value,
            token,
            clock.now + timedelta(minutes=5),
        )
        row.attempts += 1
        item = ClaimedEmergency(
            row.id, first_id, version, EmergencyAction(row.event), row.destination, row.due_at, row.attempts,
            token, None, None,
        )  # fmt: skip
    return queue_people(engine, item, now=clock.now, reach=REACH)


def _dms(engine, first_id: int, version: int) -> dict[int, dict]:
    return {
        int(r.destination.split(":")[1]): json.loads(r.payload_json)
        for r in emergency_rows(engine, first_id)
        if r.emergency_version == version and r.destination.startswith("emergency-dm:")
    }


def test_subscribers_and_drivers_in_or_near_the_area_are_reached_once_each_in_their_language(
    emergencies, engine, clock, declare, drivers, locations
):
    east = lambda metres: offset(CENTRE, 90, 1000 + metres)  # noqa: E731  (metres east of the east edge)
    _subscribe(drivers, 1, Point(CENTRE), language="en")  # inside
    _subscribe(drivers, 2, Point(east(800)))  # outside, within their 1 km radius
    _subscribe(drivers, 3, Point(east(1500)))  # outside their radius
    _subscribe(drivers, 4, LineString([offset(CENTRE, 0, 3000), offset(CENTRE, 180, 3000)]))  # a route across
    locations.note(5, *CENTRE, at=clock.now - timedelta(minutes=30), language="ar")  # recent, inside
    locations.note(6, *east(900), at=clock.now, language="en")  # within the margin
    locations.note(7, *east(1300), at=clock.now, language="ar")  # beyond the margin
    locations.note(8, *CENTRE, at=clock.now - timedelta(hours=3), language="ar")  # too long ago
    _subscribe(drivers, 9, Point(CENTRE), language="ar")  # a subscriber who is also driving there
    locations.note(9, *CENTRE, at=clock.now, language="ar")
    _subscribe(drivers, 10, Point(CENTRE), language="ar")  # chose English in the bot since
    drivers.set_language(10, "en")
    locations.flush()
    first = emergencies.declare("riyadh", declare(), STAFF).emergency

    assert _expand(engine, clock, first.id, 1) == 7

    dms = _dms(engine, first.id, 1)
    assert sorted(dms) == [1, 2, 4, 5, 6, 9, 10]
    assert {u: (d["language"], d["reason"]) for u, d in dms.items()} == {
        1: ("en", "subscriber"), 2: ("ar", "subscriber"), 4: ("ar", "subscriber"), 5: ("ar", "driver"),
        6: ("en", "driver"), 9: ("ar", "subscriber"), 10: ("en", "subscriber"),
    }  # fmt: skip
    (people,) = [r for r in emergency_rows(engine) if r.destination == "emergency-people"]
    assert (people.status, people.remote_id) == ("done", "7 people")


def test_the_preview_counts_the_people_the_declaration_will_reach(
    emergencies, clock, declare, drivers, locations
):
    _subscribe(drivers, 1, Point(CENTRE))
    locations.note(2, *CENTRE, at=clock.now, language="ar")
    locations.note(1, *CENTRE, at=clock.now, language="ar")  # counted once, as a subscriber
    locations.flush()

    plan = emergencies.plan("riyadh", declare(), STAFF)

    assert (plan.reach.subscribers, plan.reach.drivers, plan.reach.staff, plan.reach.total) == (1, 1, 0, 2)


def test_an_exercise_reaches_only_the_municipalitys_staff(
    emergencies, engine, clock, declare, drivers, locations
):
    _subscribe(drivers, 1, Point(CENTRE))
    locations.note(2, *CENTRE, at=clock.now, language="ar")
    locations.flush()
    first = emergencies.declare("riyadh", declare(exercise=True), STAFF).emergency

    _expand(engine, clock, first.id, 1)

    assert {u: d["reason"] for u, d in _dms(engine, first.id, 1).items()} == {RIYADH_STAFF: "staff"}


def test_a_second_expansion_plans_nothing_twice(emergencies, engine, clock, declare, drivers):
    for user in (1, 2, 3):
        _subscribe(drivers, user, Point(CENTRE))
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    _expand(engine, clock, first.id, 1)
    with session_scope(engine) as session:  # as if the people row had been left to be taken again
        session.execute(
            sa.update(OutboxItem).where(OutboxItem.destination == "emergency-people").values(status="pending")
        )

    _expand(engine, clock, first.id, 1)

    assert sorted(_dms(engine, first.id, 1)) == [1, 2, 3]
    assert len([r for r in emergency_rows(engine) if r.destination.startswith("emergency-dm:")]) == 3


def test_an_update_reaches_the_same_people_and_newcomers_and_the_end_only_those_told(
    emergencies, engine, clock, declare, drivers, locations
):
    locations.note(1, *CENTRE, at=clock.now, language="ar")  # inside the first area
    locations.note(2, *offset(CENTRE, 90, 4000), at=clock.now, language="en")  # inside the larger one only
    locations.flush()
    first = emergencies.declare("riyadh", declare(area=square(CENTRE, 1000)), STAFF).emergency
    _expand(engine, clock, first.id, 1)
    with session_scope(engine) as session:  # driver 1 drives away and stops sharing
        session.execute(sa.text("DELETE FROM driverlocation WHERE telegram_user_id = 1"))

    emergencies.update(first.id, {"area": square(CENTRE, 5000)}, STAFF)
    _expand(engine, clock, first.id, 2)
    locations.note(3, *CENTRE, at=clock.now, language="ar")  # arrives after the update
    locations.flush()
    emergencies.end(first.id, STAFF)
    _expand(engine, clock, first.id, 3)

    assert sorted(_dms(engine, first.id, 1)) == [1]
    assert sorted(_dms(engine, first.id, 2)) == [1, 2]
    assert sorted(_dms(engine, first.id, 3)) == [1, 2]
    with session_scope(engine) as session:
        recipients = {
            r.telegram_user_id: r.first_version
            for r in session.scalars(
                sa.select(EmergencyRecipient).where(EmergencyRecipient.emergency_id == first.id)
            )
        }
    assert recipients == {1: 1, 2: 2}


def test_a_persons_later_message_waits_for_their_earlier_one(emergencies, engine, clock, declare, drivers):
    _subscribe(drivers, 1, Point(CENTRE))
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    _expand(engine, clock, first.id, 1)
    emergencies.update(first.id, {"level": "warning"}, STAFF)
    _expand(engine, clock, first.id, 2)

    taken = outbox.claim_due(engine, now=clock.now, token="w", lease=timedelta(minutes=5), limit=100)

    dms = [(i.emergency_version, i.destination) for i in taken if i.destination.startswith("emergency-dm")]
    assert dms == [(1, "emergency-dm:1")]  # version 2's message to them waits for version 1's outcome


def test_people_who_asked_to_be_forgotten_are_not_reached_again(emergencies, engine, clock, declare, drivers):
    _subscribe(drivers, 1, Point(CENTRE))
    _subscribe(drivers, 2, Point(CENTRE))
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    _expand(engine, clock, first.id, 1)

    drivers.forget(2)
    emergencies.end(first.id, STAFF)
    _expand(engine, clock, first.id, 2)

    assert sorted(_dms(engine, first.id, 2)) == [1]


def test_an_update_preview_counts_whom_the_changed_area_reaches(
    emergencies, engine, clock, declare, locations
):
    locations.note(1, *offset(CENTRE, 90, 4000), at=clock.now, language="ar")  # outside the first area
    locations.flush()
    first = emergencies.declare("riyadh", declare(area=square(CENTRE, 1000)), STAFF).emergency
    before = len(emergency_rows(engine))

    plan = emergencies.plan_update(first.id, {"area": square(CENTRE, 5000)}, STAFF)

    assert (plan.reach.drivers, plan.reach.total) == (1, 1)
    assert len(emergency_rows(engine)) == before
    assert emergencies.current(first.id).version == 1


def test_an_expansion_whose_lease_was_lost_plans_nothing(emergencies, engine, clock, declare, drivers):
    _subscribe(drivers, 1, Point(CENTRE))
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    (people,) = [r for r in emergency_rows(engine, first.id) if r.destination == "emergency-people"]
    lost = ClaimedEmergency(
        people.id, first.id, 1, EmergencyAction.DECLARED, people.destination, people.due_at, 1, "not-mine",
        None, None,
    )  # fmt: skip

    assert queue_people(engine, lost, now=clock.now, reach=REACH) is None

    assert _dms(engine, first.id, 1) == {}
    with session_scope(engine) as session:
        assert session.scalars(sa.select(EmergencyRecipient)).all() == []
        assert session.get(OutboxItem, people.id).status == "pending"


_FAIL_DMS = {  # the database refuses the DM rows, as a full disk would: the expansion fails mid-way
    "sqlite": [
        "CREATE TRIGGER fail_dms BEFORE INSERT ON outboxitem WHEN NEW.destination LIKE 'emergency-dm:%' "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION fail_dms() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF starts_with(NEW.destination, 'emergency-dm:') THEN RAISE EXCEPTION 'disk full'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER fail_dms BEFORE INSERT ON outboxitem FOR EACH ROW EXECUTE FUNCTION fail_dms()",
    ],
}
_UNFAIL_DMS = {
    "sqlite": ["DROP TRIGGER IF EXISTS fail_dms"],
    "postgresql": ["DROP TRIGGER IF EXISTS fail_dms ON outboxitem", "DROP FUNCTION IF EXISTS fail_dms()"],
}


def _run(engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_an_expansion_that_fails_before_its_commit_leaves_everything_to_redo(
    emergencies, engine, clock, declare, drivers
):
    for user in (1, 2, 3):
        _subscribe(drivers, user, Point(CENTRE))
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    _run(engine, _FAIL_DMS[engine.dialect.name])
    try:
        with pytest.raises(sa.exc.DatabaseError, match="disk full"):
            _expand(engine, clock, first.id, 1)
    finally:
        _run(engine, _UNFAIL_DMS[engine.dialect.name])

    # the row marked done, the recipients recorded before the failure: all rolled back with it
    (people,) = [r for r in emergency_rows(engine, first.id) if r.destination == "emergency-people"]
    assert (people.status, people.remote_id) == ("claimed", None)
    with session_scope(engine) as session:
        assert session.scalars(sa.select(EmergencyRecipient)).all() == []
    assert _dms(engine, first.id, 1) == {}

    clock.advance(timedelta(minutes=6))  # the lease ran out: the next worker takes it and expands it whole
    assert _expand(engine, clock, first.id, 1) == 3
    assert sorted(_dms(engine, first.id, 1)) == [1, 2, 3]


@pytest.mark.parametrize(
    ("user_id", "language", "reason"),
    [(1, "ar", "subscriber"), (10_000_000_001, "en", "driver"), (7, 'a"b\\c', "staff"), (8, "عربي", "x")],
)
def test_a_dm_payload_is_what_json_dumps_writes(user_id, language, reason):
    assert dm_payload(user_id, language, reason) == json.dumps(
        {"chat_id": user_id, "language": language, "reason": reason}
    )
