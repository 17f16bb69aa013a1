"""``near_or_nearest``: the closures within the radius, or else the nearest one further away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from shapely.geometry import Point

from closures.queries import ClosureQueries
from closures.service import Actor
from tests.closures.conftest import DRIVER, geodesic, offset

SYSTEM = Actor.system("cli")
HOUR = timedelta(hours=1)


@pytest.fixture
def queries(engine, clock) -> ClosureQueries:
    return ClosureQueries(engine, clock=clock)


@pytest.fixture
def register(service, make_draft, clock):
    def add(geometry):
        draft = make_draft(geometry=geometry, starts_at=clock.now, ends_at=clock.now + 10 * HOUR)
        return service.register("riyadh", draft, SYSTEM)

    return add


def test_within_the_radius_it_answers_as_near_does(register, queries):
    register(Point(offset(DRIVER, 90, 800)))
    register(Point(offset(DRIVER, 0, 3_000)))

    found, nearest = queries.near_or_nearest(Point(DRIVER), 1_000, beyond_m=50_000)

    assert [f.closure.id for f in found] == [f.closure.id for f in queries.near(Point(DRIVER), 1_000)]
    assert len(found) == 1
    assert nearest is None


def test_with_nothing_within_the_radius_it_gives_the_nearest_beyond(register, queries):
    far = offset(DRIVER, 180, 4_000)
    register(Point(offset(DRIVER, 0, 9_000)))
    closest = register(Point(far))

    found, nearest = queries.near_or_nearest(Point(DRIVER), 1_000, beyond_m=50_000)

    assert found == []
    assert nearest is not None
    assert nearest.closure.id == closest.id
    edge_m = geodesic(DRIVER, far) - (nearest.closure.radius_m or 0.0)  # a point closure is a disc
    assert nearest.distance_m == pytest.approx(edge_m, rel=0.005, abs=1.0)
    assert nearest.direction == "S"


def test_with_nothing_within_reach_it_gives_nothing(register, queries):
    register(Point(offset(DRIVER, 0, 9_000)))

    assert queries.near_or_nearest(Point(DRIVER), 1_000, beyond_m=5_000) == ([], None)
