"""What a driver is told: closures near a point or along a route, measured against pyproj.Geod.

Every closure is placed with Geod.fwd around a driver on King Fahd Road, so the expected distances,
directions and positions come from the ellipsoid, not from the code under test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from shapely.geometry import LineString, Point, Polygon

from closures.lifecycle import Phase
from closures.queries import ClosureQueries
from closures.service import Actor
from closures.store import change_counter
from tests.closures.conftest import (
    DRIVER,
    geodesic,
    geodesic_distance,
    nearest_on,
    offset,
    position_on,
)

SYSTEM = Actor.system("cli")
HOUR = timedelta(hours=1)
TOLERANCE = 0.005  # distances and positions within 0.5 % of the geodesic ...
SLACK_M = 1.0  # ... plus a metre for the oracle's sampling
POSITION_SLACK_M = 5.0


def _diamond(tip: tuple[float, float], away: float, size_m: float = 300.0) -> Polygon:
    """A square standing on its corner ``tip``, lying beyond it in the direction ``away``."""
    return Polygon(
        [
            tip,
            offset(tip, away - 45, size_m),
            offset(tip, away, size_m * 1.4142),
            offset(tip, away + 45, size_m),
        ]
    )


def _away(start: tuple[float, float], azimuth: float, metres: float) -> LineString:
    """A road leaving ``start`` straight away from the driver, so ``start`` is its nearest point."""
    return LineString([start, offset(start, azimuth, metres / 2), offset(start, azimuth, metres)])


@pytest.fixture
def queries(engine, clock) -> ClosureQueries:
    return ClosureQueries(engine, clock=clock)


@pytest.fixture
def register(service, make_draft, clock):
    """Register a closure active from now for ten hours (keywords override the draft)."""

    def add(geometry, **overrides):
        values = {"starts_at": clock.now, "ends_at": clock.now + 10 * HOUR, **overrides}
        return service.register("riyadh", make_draft(geometry=geometry, **values), SYSTEM)

    return add


def _close(measured: float, expected: float, slack: float = SLACK_M) -> bool:
    return abs(measured - expected) <= TOLERANCE * expected + slack


def test_near_lists_closures_within_the_radius_nearest_first(register, queries):
    placed = {
        "point": register(Point(offset(DRIVER, 0, 800)), radius_m=100),
        "line": register(_away(offset(DRIVER, 90, 1500), 90, 600)),
        "area": register(_diamond(offset(DRIVER, 200, 3000), 200)),
        "line_se": register(_away(offset(DRIVER, 135, 2200), 135, 900)),
        "too_far": register(Point(offset(DRIVER, 270, 6000)), radius_m=50),
    }

    found = queries.near(Point(DRIVER), 5000)

    names = {c.id: name for name, c in placed.items()}
    assert [names[f.closure.id] for f in found] == ["point", "line", "line_se", "area"]
    for f in found:
        geometry = f.closure.geometry
        expected = geodesic_distance(DRIVER, geometry) - (f.closure.radius_m or 0.0)
        assert _close(f.distance_m, expected), (names[f.closure.id], f.distance_m, expected)
        assert f.phase is Phase.ACTIVE
    assert [f.direction for f in found] == ["N", "E", "SE", "S"]  # the 8 points drivers are told
    assert found[0].distance_m == pytest.approx(700, rel=TOLERANCE)  # to the edge of its 100 m radius


def test_direction_is_the_8_point_compass_point_towards_the_closure(register, queries):
    codes = {0: "N", 21: "N", 24: "NE", 45: "NE", 90: "E", 135: "SE", 180: "S", 202.5: "S", 225: "SW",
             270: "W", 315: "NW", 337.5: "N"}  # fmt: skip
    ids = {
        register(Point(offset(DRIVER, az, 1000)), radius_m=20).id: (az, code) for az, code in codes.items()
    }

    found = queries.near(Point(DRIVER), 1500)

    assert {f.closure.id: f.direction for f in found} == {i: code for i, (_, code) in ids.items()}
    for f in found:  # and the bearing itself, for "on your way" / "behind you" on a live trip
        assert f.bearing_deg is not None
        assert abs((f.bearing_deg - ids[f.closure.id][0] + 180) % 360 - 180) < 0.5


def test_a_driver_inside_a_closed_area_is_at_distance_zero_with_no_direction(register, queries):
    area = register(_diamond(offset(DRIVER, 180, 200), 0, 500))
    [found] = queries.near(Point(DRIVER), 100)
    assert (found.closure.id, found.distance_m, found.direction) == (area.id, 0.0, None)


def test_a_point_closure_counts_from_the_edge_of_its_radius(register, queries):
    closure = register(Point(offset(DRIVER, 45, 1000)), radius_m=400)
    assert queries.near(Point(DRIVER), 550) == []  # centre 1000 m away, edge 600 m
    [found] = queries.near(Point(DRIVER), 650)
    assert found.closure.id == closure.id
    assert _close(found.distance_m, geodesic(DRIVER, offset(DRIVER, 45, 1000)) - 400)


def test_near_leaves_out_ended_lifted_cancelled_and_far_future_closures(service, register, queries, clock):
    def around(azimuth):
        return Point(offset(DRIVER, azimuth, 500))

    active = register(around(0))
    ends_soon = register(around(40), ends_at=clock.now + HOUR)
    lifted = register(around(80))
    cancelled = register(around(120), starts_at=clock.now + 3 * HOUR)
    tomorrow = register(around(160), starts_at=clock.now + 20 * HOUR, ends_at=clock.now + 22 * HOUR)
    next_week = register(around(200), starts_at=clock.now + 30 * HOUR, ends_at=clock.now + 33 * HOUR)
    service.lift(lifted.id, SYSTEM)
    service.cancel(cancelled.id, SYSTEM)
    clock.advance(2 * HOUR)  # ends_soon has ended; tomorrow starts in 18 h, next_week in 28 h

    found = {f.closure.id: f.phase for f in queries.near(Point(DRIVER), 1000)}

    assert found == {active.id: Phase.ACTIVE, tomorrow.id: Phase.SCHEDULED}
    assert ends_soon.id not in found
    clock.advance(5 * HOUR)  # next_week now starts within the 24 h horizon
    found = {f.closure.id: f.phase for f in queries.near(Point(DRIVER), 1000)}
    assert found == {active.id: Phase.ACTIVE, tomorrow.id: Phase.SCHEDULED, next_week.id: Phase.SCHEDULED}


def test_the_horizon_is_configurable(engine, clock, register):
    soon = register(Point(offset(DRIVER, 0, 300)), starts_at=clock.now + 3 * HOUR)
    assert ClosureQueries(engine, clock=clock, horizon=2 * HOUR).near(Point(DRIVER), 1000) == []
    [found] = ClosureQueries(engine, clock=clock, horizon=4 * HOUR).near(Point(DRIVER), 1000)
    assert found.closure.id == soon.id


def test_along_orders_closures_by_where_the_driver_meets_them(register, queries):
    corner = offset(DRIVER, 0, 2000)
    route = LineString([DRIVER, offset(DRIVER, 0, 1000), corner, offset(corner, 22.5, 2000)])
    at_1200 = offset(DRIVER, 0, 1200)
    at_2600 = offset(corner, 22.5, 600)
    at_3300 = offset(corner, 22.5, 1300)
    crossing = register(LineString([offset(at_1200, 270, 100), offset(at_1200, 90, 100)]))
    beside = register(Point(offset(at_2600, 112.5, 40)), radius_m=50)
    area = register(_diamond(offset(at_3300, 292.5, 120), 292.5))
    register(Point(offset(at_1200, 90, 800)), radius_m=50)  # 750 m off the route: outside the corridor
    register(Point(offset(corner, 22.5, 2600)), radius_m=50)  # beyond the end of the route

    found = queries.along(route, 200)

    assert [f.closure.id for f in found] == [crossing.id, beside.id, area.id]
    for f, where in zip(found, (at_1200, at_2600, at_3300), strict=True):
        expected = position_on(route, where)
        assert abs(f.position_m - expected) <= TOLERANCE * expected + POSITION_SLACK_M, (f, expected)
    assert [round(f.distance_m, 1) for f in found[:2]] == [0.0, 0.0]  # crossing; inside the point's radius
    tip = offset(at_3300, 292.5, 120)  # the area's corner nearest the route
    assert nearest_on(at_3300, found[2].closure.geometry) == pytest.approx(tip)
    assert _close(found[2].distance_m, geodesic(at_3300, tip))


def test_the_index_follows_the_store(service, register, queries, clock):
    assert queries.near(Point(DRIVER), 2000) == []

    closure = register(Point(offset(DRIVER, 90, 700)))
    assert [f.closure.id for f in queries.near(Point(DRIVER), 2000)] == [closure.id]

    service.update(closure.id, 1, {"title_ar": "إغلاق مؤقت"}, SYSTEM)
    [found] = queries.near(Point(DRIVER), 2000)
    assert (found.closure.version, found.closure.title_ar) == (2, "إغلاق مؤقت")

    service.lift(closure.id, SYSTEM)
    assert queries.near(Point(DRIVER), 2000) == []


def test_another_process_sees_a_write_through_the_change_counter(
    engine, other_engine, clock, service, register
):
    elsewhere = ClosureQueries(other_engine, clock=clock)
    assert elsewhere.near(Point(DRIVER), 2000) == []
    counter = change_counter(other_engine)

    closure = register(Point(offset(DRIVER, 180, 900)))  # written through the first engine

    assert change_counter(other_engine) == counter + 1
    assert [f.closure.id for f in elsewhere.near(Point(DRIVER), 2000)] == [closure.id]
    service.cancel(closure.id, SYSTEM)
    assert elsewhere.near(Point(DRIVER), 2000) == []
