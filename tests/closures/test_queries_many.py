"""ClosureQueries.near_many: many drivers at once get exactly what ``near`` tells each of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from closures.queries import ClosureQueries
from closures.service import Actor
from tests.closures.conftest import DRIVER, KING_FAHD, offset

SYSTEM = Actor.system("cli")
HOUR = timedelta(hours=1)


@pytest.fixture
def scene(service, make_draft, clock) -> list[int]:
    """Closures of every kind and phase around the driver: a point with a radius, roads, an area, one
    scheduled for tonight, one for next week (beyond the horizon), one that has ended, one lifted."""

    def add(geometry, starts_h=0.0, hours=10.0, **overrides):
        starts = clock.now + timedelta(hours=starts_h)
        draft = make_draft(geometry=geometry, starts_at=starts, ends_at=starts + hours * HOUR, **overrides)
        return service.register("riyadh", draft, SYSTEM, allow_past_start=True).id

    area = Polygon([offset(DRIVER, bearing, 400) for bearing in (10, 100, 190, 280)])
    ids = [
        add(Point(offset(DRIVER, 30, 900)), radius_m=250),
        add(Point(offset(DRIVER, 200, 1_600))),
        add(KING_FAHD),
        add(LineString([offset(DRIVER, 90, 300), offset(DRIVER, 120, 2_500)])),
        add(area),
        add(Point(offset(DRIVER, 300, 700)), starts_h=9.0),
        add(Point(offset(DRIVER, 330, 1_200)), starts_h=30.0),
        add(Point(offset(DRIVER, 250, 500)), starts_h=-3.0, hours=2.0),
    ]
    lifted = add(Point(offset(DRIVER, 160, 800)))
    service.lift(lifted, SYSTEM)
    return [*ids, lifted]


@st.composite
def drivers(draw: st.DrawFn) -> list[Point]:
    """Up to 30 drivers within 4 km of the one on King Fahd Road, some exactly at the same place."""
    one = st.builds(
        lambda bearing, metres: Point(offset(DRIVER, bearing, metres)), st.floats(0, 360), st.floats(0, 4_000)
    )
    points = draw(st.lists(one, max_size=30))
    return points + points[: draw(st.integers(0, 3))]


# The fixtures register the closures once for the whole test; every example only queries them.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=drivers(), radius=st.floats(0, 3_000), hours=st.floats(-1, 40))
def test_near_many_gives_every_driver_what_near_gives_them(engine, clock, scene, points, radius, hours):
    queries = ClosureQueries(engine, clock=clock)
    at = clock.now + timedelta(hours=hours)

    assert queries.near_many(points, radius, at=at) == [queries.near(p, radius, at=at) for p in points]


def test_near_many_finds_closures_of_every_kind_and_leaves_out_the_irrelevant(engine, clock, scene):
    queries = ClosureQueries(engine, clock=clock)
    points = [Point(DRIVER), Point(offset(DRIVER, 90, 1_000)), Point(offset(DRIVER, 0, 30_000))]

    found = queries.near_many(points, 2_000)

    assert found == [queries.near(p, 2_000) for p in points]
    near_driver = {f.closure.id for f in found[0]}
    assert near_driver == set(scene[:6])  # not next week's, not the ended one, not the lifted one
    assert found[1]
    assert found[2] == []
    assert queries.near_many([], 2_000) == []
