"""SpatialIndex: the same answers as a brute-force geodesic scan, in a city and across the country."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.index import Hit, SpatialIndex
from geo.projection import Projection, utm_epsg
from tests.geo.oracle import (
    GeodesicScan,
    geodesic,
    meeting_positions,
    offset,
    point_along,
    random_closures,
    route_distance,
    route_length,
    route_through,
)

RIYADH = (46.6753, 24.7136)
BOUNDARY = 0.005  # oracle and index may disagree on geometries within 0.5 % of the radius from it
TOLERANCE = 0.005  # metres from the index are within 0.5 % of the geodesic ...
SLACK_M = 0.05  # ... plus rounding at a few centimetres
POSITION_SLACK_M = 5.0  # positions along a route: 0.5 % plus a few metres
# UTM zone borders crossing the kingdom (36°, 42°, 48°, 54° E), each at a latitude inside it.
BORDERS = [(36.0, 28.6), (42.0, 27.0), (48.0, 25.0), (54.0, 22.5)]


def _ids(hits: list[Hit]) -> list[int]:
    return [hit.id for hit in hits]


def _split(oracle: dict[int, float], radius: float) -> tuple[set[int], set[int]]:
    """Ids clearly within ``radius`` by the oracle, and ids clearly beyond it."""
    margin = radius * BOUNDARY + 0.01
    return {i for i, d in oracle.items() if d <= radius - margin}, {
        i for i, d in oracle.items() if d > radius + margin
    }


def _check_near(
    index: SpatialIndex, ids: np.ndarray, scanned: np.ndarray, point: Point, radius: float
) -> int:
    """Assert ``index.near`` agrees with the geodesic distances ``scanned``; return how many hits it had."""
    oracle = dict(zip(ids.tolist(), scanned.tolist(), strict=True))
    hits = index.near(point, radius)
    got = set(_ids(hits))
    must, must_not = _split(oracle, radius)
    assert not must - got, f"missed within {radius} m of {point}: {[(i, oracle[i]) for i in must - got]}"
    assert not got & must_not, f"beyond {radius} m of {point}: {[(i, oracle[i]) for i in got & must_not]}"
    for hit in hits:
        assert abs(hit.distance_m - oracle[hit.id]) <= TOLERANCE * oracle[hit.id] + SLACK_M, (
            hit,
            oracle[hit.id],
        )
        assert hit.position_m is None
    distances = [hit.distance_m for hit in hits]
    assert distances == sorted(distances), "not nearest first"
    assert len(got) == len(hits), "an id reported twice"
    return len(hits)


# --- a city: one UTM zone --------------------------------------------------------------------------------


@dataclass
class Scene:
    """An index, its geometries' ids, query points, and each query's geodesic distances to every geometry."""

    index: SpatialIndex
    ids: np.ndarray
    geoms: list
    queries: list[Point]
    scanned: list[np.ndarray]


def _scene(geoms: list, ids: np.ndarray, queries: list[Point], max_radius: float) -> Scene:
    scan = GeodesicScan(geoms)
    scanned = [scan.distances(q, cutoff_m=max_radius * (1 + BOUNDARY) + 1.0) for q in queries]
    return Scene(SpatialIndex(ids.tolist(), geoms), ids, geoms, queries, scanned)


@pytest.fixture(scope="module")
def city() -> Scene:
    rng = np.random.default_rng(20_240_601)
    geoms = random_closures(rng, [RIYADH], spread_m=4_000.0, count=300)
    ids = rng.choice(1_000_000, size=len(geoms), replace=False)  # ids unrelated to positions
    queries = [
        Point(offset(*RIYADH, rng.uniform(0, 360), 4_000.0 * math.sqrt(rng.uniform()))) for _ in range(24)
    ]
    # Queries exactly on an indexed point, on a road and inside an area.
    queries += [geoms[k].representative_point() for k in range(6)]
    return _scene(geoms, ids, queries, max_radius=3_000.0)


@pytest.mark.parametrize("radius", [0.0, 50.0, 500.0, 1_500.0, 3_000.0])
def test_near_returns_exactly_the_closures_within_the_radius_nearest_first(city, radius):
    found = sum(
        _check_near(city.index, city.ids, scanned, query, radius)
        for query, scanned in zip(city.queries, city.scanned, strict=True)
    )
    assert found >= {0.0: 3, 50.0: 5}.get(radius, 30)  # the comparison is not vacuous


def test_radius_zero_finds_areas_around_the_point_and_closures_at_it():
    area = Polygon([offset(*RIYADH, bearing, 300.0) for bearing in (0, 90, 180, 270)])
    index = SpatialIndex([1, 2, 3], [area, Point(RIYADH), Point(offset(*RIYADH, 45.0, 1.0))])
    assert [(hit.id, hit.distance_m) for hit in index.near(Point(RIYADH), 0.0)] == [(1, 0.0), (2, 0.0)]


def test_equally_near_closures_are_ordered_by_id():
    index = SpatialIndex([9, 4, 7], [Point(RIYADH)] * 3)
    assert _ids(index.near(Point(RIYADH), 10.0)) == [4, 7, 9]


@pytest.mark.parametrize("radius", [-1.0, -1e-9, math.nan, math.inf])
def test_near_rejects_a_negative_or_non_finite_radius(radius):
    index = SpatialIndex([1], [Point(RIYADH)])
    with pytest.raises(ValueError, match="radius_m"):
        index.near(Point(RIYADH), radius)


@pytest.mark.parametrize("corridor", [-1.0, math.nan, math.inf])
def test_along_rejects_a_negative_or_non_finite_corridor(corridor):
    index = SpatialIndex([1], [Point(RIYADH)])
    with pytest.raises(ValueError, match="corridor_m"):
        index.along(LineString([RIYADH, offset(*RIYADH, 90.0, 1_000.0)]), corridor)


def test_along_rejects_a_route_that_is_not_a_line():
    index = SpatialIndex([1], [Point(RIYADH)])
    with pytest.raises(ValueError, match="LineString"):
        index.along(Point(RIYADH), 100.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="LineString"):
        index.along(LineString(), 100.0)


def test_empty_index_finds_nothing():
    index = SpatialIndex([], [])
    assert len(index) == 0
    assert index.near(Point(RIYADH), 5_000.0) == []
    assert index.along(LineString([RIYADH, offset(*RIYADH, 90.0, 1_000.0)]), 200.0) == []


def test_ids_and_geometries_must_pair_up():
    with pytest.raises(ValueError, match="differ in length"):
        SpatialIndex([1, 2], [Point(RIYADH)])


def test_ids_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        SpatialIndex([1, 1], [Point(RIYADH), Point(offset(*RIYADH, 0.0, 10.0))])


@pytest.mark.parametrize("bad", [None, Point(), LineString()])
def test_missing_or_empty_geometries_are_rejected(bad):
    with pytest.raises(ValueError, match="empty or None"):
        SpatialIndex([1, 2], [Point(RIYADH), bad])


def test_municipality_projection_gives_the_same_answers(city):
    local = SpatialIndex(city.ids.tolist(), city.geoms, projection=Projection(20438))
    for query, scanned in zip(city.queries[:10], city.scanned[:10], strict=True):
        assert _ids(local.near(query, 1_500.0)) == _ids(city.index.near(query, 1_500.0))
        _check_near(local, city.ids, scanned, query, 1_500.0)


# --- many points at once ----------------------------------------------------------------------------------

radii = st.floats(0.0, 3_000.0)


def near_each(index: SpatialIndex, points: list[Point], radius: float) -> list[list[Hit]]:
    return [index.near(point, radius) for point in points]


@st.composite
def city_points(draw: st.DrawFn, scene: Scene) -> list[Point]:
    """Points around Riyadh, some exactly on an indexed geometry (a point, a road, inside an area)."""
    free = st.builds(Point, st.floats(46.62, 46.73), st.floats(24.67, 24.76))
    on = st.sampled_from(scene.geoms).map(lambda g: g.representative_point())
    return draw(st.lists(st.one_of(free, on), max_size=40))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), radius=radii)
def test_near_many_answers_each_point_exactly_as_near_does_in_a_city(city, data, radius):
    points = data.draw(city_points(city))
    assert city.index.near_many(points, radius) == near_each(city.index, points, radius)


@st.composite
def country_points(draw: st.DrawFn) -> list[Point]:
    """Points anywhere in the kingdom, and close to either side of the UTM zone borders."""
    anywhere = st.builds(Point, st.floats(36.5, 55.5), st.floats(16.5, 32.0))
    border = st.sampled_from(BORDERS).flatmap(
        lambda b: st.builds(Point, st.floats(b[0] - 0.04, b[0] + 0.04), st.floats(b[1] - 0.04, b[1] + 0.04))
    )
    return draw(st.lists(st.one_of(anywhere, border), max_size=40))


@settings(max_examples=60, deadline=None)
@given(points=country_points(), radius=radii)
def test_near_many_answers_each_point_exactly_as_near_does_across_zones(country, points, radius):
    assert country.index.near_many(points, radius) == near_each(country.index, points, radius)


def test_near_many_finds_hits_at_all_in_the_comparison(city):
    """The property tests above are not vacuous: the same points find plenty."""
    hits = city.index.near_many(city.queries, 1_500.0)
    assert sum(map(len, hits)) >= 30
    assert hits == near_each(city.index, city.queries, 1_500.0)


def test_near_many_takes_an_array_of_points_and_keeps_their_order(city):
    points = city.queries[:8]
    assert city.index.near_many(shapely.points([(p.x, p.y) for p in points]), 800.0) == near_each(
        city.index, points, 800.0
    )
    assert city.index.near_many(points[::-1], 800.0) == near_each(city.index, points, 800.0)[::-1]


def test_near_many_of_no_points_or_on_an_empty_index_finds_nothing(city):
    assert city.index.near_many([], 500.0) == []
    assert SpatialIndex([], []).near_many([Point(RIYADH)] * 3, 5_000.0) == [[], [], []]


@pytest.mark.parametrize("radius", [-1.0, math.nan, math.inf])
def test_near_many_rejects_a_negative_or_non_finite_radius(radius):
    with pytest.raises(ValueError, match="radius_m"):
        SpatialIndex([1], [Point(RIYADH)]).near_many([Point(RIYADH)], radius)


@pytest.mark.parametrize(
    ("bad", "message"),
    [(Point(), "empty"), (LineString([RIYADH, (46.7, 24.7)]), "Points"), (None, "Points")],
)
def test_near_many_rejects_what_is_not_a_point(bad, message):
    with pytest.raises(ValueError, match=message):
        SpatialIndex([1], [Point(RIYADH)]).near_many([Point(RIYADH), bad], 100.0)


# --- the country: five UTM zones -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def country() -> Scene:
    rng = np.random.default_rng(7)
    geoms = random_closures(rng, BORDERS, spread_m=3_000.0, count=320)
    scattered = [(rng.uniform(36.5, 55.5), rng.uniform(16.5, 32.0)) for _ in range(40)]
    geoms += random_closures(rng, scattered, spread_m=3_000.0, count=120)
    ids = np.arange(len(geoms)) * 3 + 11
    queries = []
    for lon, lat in BORDERS:  # on both sides of each border, and just either side of it
        queries += [Point(offset(lon, lat, rng.uniform(0, 360), rng.uniform(0, 3_000.0))) for _ in range(8)]
        queries += [Point(lon - 0.001, lat), Point(lon + 0.001, lat)]
    return _scene(geoms, ids, queries, max_radius=2_500.0)


def test_country_index_spans_zones_36_to_40(country):
    centres = [g.envelope.centroid for g in country.geoms]
    assert {utm_epsg(c.x, c.y) for c in centres} >= {32636, 32637, 32638, 32639, 32640}


@pytest.mark.parametrize("radius", [0.0, 300.0, 2_500.0])
def test_near_agrees_with_the_geodesic_scan_at_zone_borders(country, radius):
    found = sum(
        _check_near(country.index, country.ids, scanned, query, radius)
        for query, scanned in zip(country.queries, country.scanned, strict=True)
    )
    if radius >= 2_500.0:
        assert found >= 40


def test_closure_just_across_a_zone_border_is_found_at_its_geodesic_distance():
    west, east = (47.999, 25.0), (48.001, 25.0)
    index = SpatialIndex([1, 2], [Point(east), Point(offset(*east, 90.0, 5_000.0))])
    [hit] = index.near(Point(west), 1_000.0)
    assert hit.id == 1
    assert hit.distance_m == pytest.approx(geodesic(west, east), rel=TOLERANCE)


# --- along a route ---------------------------------------------------------------------------------------

ROUTES = {
    "riyadh": (RIYADH, 60.0),
    "across-48E": ((47.95, 25.0), 85.0),
    "across-42E": ((41.96, 27.0), 100.0),
}


def _random_route(rng: np.random.Generator, start: tuple[float, float], heading: float) -> LineString:
    legs = []
    for _ in range(8):
        legs.append((heading, rng.uniform(900.0, 1_600.0)))
        heading += rng.uniform(-35.0, 35.0)
    return route_through(start, legs)


@pytest.mark.parametrize("place", sorted(ROUTES))
def test_along_returns_closures_in_the_corridor_ordered_by_position_along_the_route(place):
    corridor = 200.0
    rng = np.random.default_rng(sum(map(ord, place)))
    route = _random_route(rng, *ROUTES[place])
    length = route_length(route)
    anchors = [point_along(route, s)[0] for s in np.linspace(0.0, length * 0.999, 40)]
    geoms = random_closures(rng, anchors, spread_m=700.0, count=160)
    ids = list(range(100, 100 + len(geoms)))

    hits = SpatialIndex(ids, geoms).along(route, corridor)

    oracle = {i: route_distance(route, g) for i, g in zip(ids, geoms, strict=True)}
    got = {hit.id: hit for hit in hits}
    must, must_not = _split(oracle, corridor)
    assert not must - got.keys(), f"missed: {[(i, oracle[i]) for i in must - got.keys()]}"
    assert not got.keys() & must_not, (
        f"outside the corridor: {[(i, oracle[i]) for i in got.keys() & must_not]}"
    )
    assert len(must) >= 20
    positions = [hit.position_m for hit in hits]
    assert positions == sorted(positions), "not ordered along the route"
    for i in must:
        hit = got[i]
        assert abs(hit.distance_m - oracle[i]) <= TOLERANCE * oracle[i] + SLACK_M, (hit, oracle[i])
        first, last = meeting_positions(route, geoms[i - 100], tie_m=TOLERANCE * oracle[i] + SLACK_M)
        slack = TOLERANCE * last + POSITION_SLACK_M
        assert first - slack <= hit.position_m <= last + slack, (geoms[i - 100].geom_type, hit, first, last)


def test_position_of_a_point_closure_is_where_the_route_passes_it():
    route = route_through(RIYADH, [(90.0, 5_000.0), (0.0, 5_000.0)])
    foot, azimuth = point_along(route, 7_000.0)
    beside = Point(offset(*foot, azimuth + 90.0, 150.0))
    [hit] = SpatialIndex([5], [beside]).along(route, 200.0)
    assert hit.distance_m == pytest.approx(150.0, rel=TOLERANCE)
    assert hit.position_m == pytest.approx(7_000.0, rel=TOLERANCE)


def test_area_over_the_route_is_placed_where_the_route_enters_it():
    route = route_through(RIYADH, [(90.0, 10_000.0)])
    near_edge, _ = point_along(route, 6_000.0)
    far_edge, _ = point_along(route, 6_500.0)
    area = Polygon(
        [
            offset(*near_edge, 0.0, 300.0),
            offset(*near_edge, 180.0, 300.0),
            offset(*far_edge, 180.0, 300.0),
            offset(*far_edge, 0.0, 300.0),
        ]
    )
    [hit] = SpatialIndex([1], [area]).along(route, 100.0)
    assert hit.distance_m == 0.0
    assert hit.position_m == pytest.approx(6_000.0, abs=TOLERANCE * 6_000.0 + POSITION_SLACK_M)


def test_road_crossing_the_route_twice_is_placed_at_the_first_crossing_along_the_route():
    route = route_through(RIYADH, [(90.0, 4_000.0), (0.0, 4_000.0)])
    (first, _), (second, _) = point_along(route, 1_000.0), point_along(route, 7_000.0)
    # Drawn from the far crossing to the near one, so the road's own order cannot decide.
    road = LineString(
        [
            offset(*second, 90.0, 300.0),
            offset(*second, 270.0, 300.0),
            offset(*first, 180.0, 300.0),
            offset(*first, 0.0, 300.0),
        ]
    )
    assert len(road.intersection(route).geoms) >= 2
    [hit] = SpatialIndex([1], [road]).along(route, 100.0)
    assert hit.position_m == pytest.approx(1_000.0, abs=TOLERANCE * 1_000.0 + POSITION_SLACK_M)


@pytest.mark.parametrize("azimuth", [0.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0])
def test_road_ending_near_the_corridor_edge_is_placed_at_its_near_end(azimuth):
    # The road's nearest end is 198.5 m from the route at 8 km; the road leads away at an angle.
    route = route_through(RIYADH, [(90.0, 10_000.0)])
    foot, _ = point_along(route, 8_000.0)
    end = offset(*foot, 0.0, 198.5)
    road = LineString([end, offset(*end, azimuth, 1_000.0)])
    [hit] = SpatialIndex([1], [road]).along(route, 200.0)
    assert hit.distance_m == pytest.approx(198.5, rel=TOLERANCE)
    assert hit.position_m == pytest.approx(8_000.0, abs=TOLERANCE * 8_000.0 + POSITION_SLACK_M)


def test_closures_in_two_zones_are_ordered_along_a_route_crossing_the_border():
    route = route_through((47.90, 25.0), [(90.0, 20_000.0)])  # crosses 48° E about 10 km in
    spots = [2_000.0, 9_000.0, 11_000.0, 18_000.0]
    closures = [Point(offset(*point_along(route, s)[0], 0.0, 50.0)) for s in spots]
    assert len({utm_epsg(c.x, c.y) for c in closures}) == 2
    hits = SpatialIndex([4, 3, 2, 1], closures).along(route, 100.0)
    assert _ids(hits) == [4, 3, 2, 1]
    for hit, spot in zip(hits, spots, strict=True):
        assert hit.position_m == pytest.approx(spot, abs=TOLERANCE * spot + POSITION_SLACK_M)
