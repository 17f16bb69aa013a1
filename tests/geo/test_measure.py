"""Measure: metres, bearings and positions along a route, checked against pyproj.Geod and geopy."""

from __future__ import annotations

import math

import pytest
from geopy.distance import geodesic as geopy_geodesic
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.measure import (
    COMPASS_CODES,
    bearing_deg,
    compass_code,
    direction_code,
    directions_from,
    distance_m,
    geodesic_m,
    position_along,
)
from tests.geo.oracle import GeodesicScan, foot_position, geodesic, offset, point_along, route_through

RIYADH = (46.6753, 24.7136)
# Cities, plus both sides of the UTM zone borders that cross the kingdom (36°, 42°, 48°, 54° E).
PLACES = {
    "riyadh": RIYADH,
    "jeddah": (39.1925, 21.4858),
    "dammam": (50.1033, 26.4207),
    "tabuk": (36.5662, 28.3835),
    "jizan": (42.5511, 16.8892),
    "hail": (41.6907, 27.5114),
    "west-of-36": (35.99, 28.60),
    "east-of-36": (36.01, 28.60),
    "west-of-42": (41.90, 27.00),
    "east-of-42": (42.10, 27.00),
    "west-of-48": (47.99, 25.00),
    "east-of-48": (48.01, 25.00),
    "west-of-54": (53.99, 22.50),
    "east-of-54": (54.01, 22.50),
}
TOLERANCE = 0.005  # the module promises 0.5 % of the geodesic up to 50 km

places = st.sampled_from(sorted(PLACES.values()))
jitters = st.floats(min_value=-0.02, max_value=0.02)
azimuths = st.floats(min_value=0.0, max_value=360.0, exclude_max=True)
# Log-uniform from 10 m to 50 km, so short and long distances are drawn equally often.
distances = st.floats(min_value=math.log(10.0), max_value=math.log(50_000.0)).map(math.exp)


@st.composite
def origins(draw: st.DrawFn) -> tuple[float, float]:
    lon, lat = draw(places)
    return lon + draw(jitters), lat + draw(jitters)


def _assert_close(measured: float, oracle: float) -> None:
    assert abs(measured - oracle) <= TOLERANCE * oracle, f"{measured:.3f} m vs geodesic {oracle:.3f} m"


# --- distance_m -----------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(origin=origins(), azimuth=azimuths, metres=distances)
def test_point_to_point_distance_agrees_with_geodesic(origin, azimuth, metres):
    target = offset(*origin, azimuth, metres)
    _assert_close(distance_m(Point(origin), Point(target)), geodesic(origin, target))


@settings(max_examples=150, deadline=None)
@given(
    foot=origins(),
    azimuth=azimuths,
    metres=distances,
    half_lengths=st.tuples(st.floats(50.0, 1_500.0), st.floats(50.0, 1_500.0)),
    bend=st.floats(0.0, 60.0),
)
def test_point_to_line_distance_agrees_with_geodesic(foot, azimuth, metres, half_lengths, bend):
    # A road through ``foot`` at right angles to the way towards the driver, bending away past its end.
    left = offset(*foot, azimuth + 90.0, half_lengths[0])
    right = offset(*foot, azimuth - 90.0, half_lengths[1])
    road = LineString([offset(*left, azimuth + 90.0 + bend, 400.0), left, right])
    driver = Point(offset(*foot, azimuth, metres))
    oracle = GeodesicScan([road]).distances(driver)[0]
    assert oracle == pytest.approx(metres, rel=1e-3)  # the construction does what it says
    _assert_close(distance_m(driver, road), oracle)


@settings(max_examples=150, deadline=None)
@given(edge_middle=origins(), azimuth=azimuths, metres=distances, width=st.floats(60.0, 1_000.0))
def test_point_to_polygon_distance_agrees_with_geodesic(edge_middle, azimuth, metres, width):
    # A square area whose near edge is centred on ``edge_middle``, on the far side from the driver.
    a = offset(*edge_middle, azimuth + 90.0, width / 2)
    b = offset(*edge_middle, azimuth - 90.0, width / 2)
    area = Polygon([a, b, offset(*b, azimuth + 180.0, width), offset(*a, azimuth + 180.0, width)])
    driver = Point(offset(*edge_middle, azimuth, metres))
    oracle = GeodesicScan([area]).distances(driver)[0]
    _assert_close(distance_m(driver, area), oracle)


@settings(max_examples=60, deadline=None)
@given(centre=origins(), radius=st.floats(20.0, 2_000.0), azimuth=azimuths, depth=st.floats(0.0, 0.9))
def test_point_inside_polygon_is_zero_metres_away(centre, radius, azimuth, depth):
    area = Polygon([offset(*centre, bearing, radius) for bearing in range(0, 360, 30)])
    driver = Point(offset(*centre, azimuth, depth * radius * math.cos(math.radians(15))))
    assert distance_m(driver, area) == 0.0


def test_distance_across_a_zone_border_agrees_with_geodesic():
    west, east = (47.99, 25.0), (48.01, 25.0)
    _assert_close(distance_m(Point(west), Point(east)), geodesic(west, east))
    _assert_close(distance_m(Point(east), Point(west)), geodesic(west, east))


def test_geodesic_m_agrees_with_geopy():
    target = offset(*RIYADH, 37.0, 23_456.0)
    expected = geopy_geodesic((RIYADH[1], RIYADH[0]), (target[1], target[0]), ellipsoid="WGS-84").meters
    assert geodesic_m(Point(RIYADH), Point(target)) == pytest.approx(expected, abs=1e-3)


def test_distance_m_agrees_with_geopy_in_jeddah():
    jeddah = PLACES["jeddah"]
    target = offset(*jeddah, 200.0, 8_000.0)
    expected = geopy_geodesic((jeddah[1], jeddah[0]), (target[1], target[0])).meters
    _assert_close(distance_m(Point(jeddah), Point(target)), expected)


# --- compass_code and bearing_deg ---------------------------------------------------------------------

SIXTEEN = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]


@pytest.mark.parametrize(("sector", "code"), list(enumerate(SIXTEEN)))
def test_compass_code_names_each_of_the_16_sectors(sector, code):
    centre = sector * 22.5
    assert compass_code(centre) == code
    assert compass_code(centre - 11.2) == code
    assert compass_code(centre + 11.2) == code


@pytest.mark.parametrize(("sector", "code"), list(enumerate(SIXTEEN)))
def test_sector_boundary_belongs_to_the_next_sector_clockwise(sector, code):
    boundary = sector * 22.5 - 11.25
    assert compass_code(boundary) == code
    assert compass_code(boundary - 1e-9) == SIXTEEN[sector - 1]


@pytest.mark.parametrize(
    ("bearing", "code"),
    [
        (11.25, "NNE"),
        (11.249999, "N"),
        (348.75, "N"),
        (348.749999, "NNW"),
        (360.0, "N"),
        (720.0, "N"),
        (-0.0, "N"),
        (-1e-20, "N"),
        (-11.25, "N"),
        (-11.26, "NNW"),
        (-22.5, "NNW"),
        (-90.0, "W"),
        (-180.0, "S"),
        (-270.0, "E"),
        (-450.0, "W"),
    ],
)
def test_compass_code_at_boundaries_full_turns_and_negative_bearings(bearing, code):
    assert compass_code(bearing) == code


@given(bearing=st.floats(-720.0, 720.0), turns=st.integers(-3, 3))
def test_compass_code_ignores_whole_turns(bearing, turns):
    assume(abs(((bearing + 11.25) / 22.5) - round((bearing + 11.25) / 22.5)) > 1e-6)  # rounding at boundaries
    assert compass_code(bearing + 360.0 * turns) == compass_code(bearing)


def test_bearing_to_a_point_due_east_of_riyadh_is_90():
    east = offset(*RIYADH, 90.0, 5_000.0)
    assert bearing_deg(Point(RIYADH), Point(east)) == pytest.approx(90.0, abs=1e-6)
    same_latitude = (RIYADH[0] + 0.05, RIYADH[1])
    assert bearing_deg(Point(RIYADH), Point(same_latitude)) == pytest.approx(90.0, abs=0.05)
    assert compass_code(bearing_deg(Point(RIYADH), Point(same_latitude))) == "E"


@pytest.mark.parametrize(
    ("azimuth", "expected"), [(0.0, 0.0), (135.0, 135.0), (-90.0, 270.0), (180.0, 180.0)]
)
def test_bearing_is_the_geodesic_azimuth_in_0_to_360(azimuth, expected):
    target = offset(*RIYADH, azimuth, 2_000.0)
    assert bearing_deg(Point(RIYADH), Point(target)) % 360.0 == pytest.approx(expected, abs=1e-6)


# --- direction_code -----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(origin=origins(), azimuth=azimuths, metres=st.floats(50.0, 20_000.0))
def test_direction_code_names_the_sector_towards_a_closure(origin, azimuth, metres):
    assume(abs((azimuth + 11.25) % 22.5 - 11.25) < 11.0)  # keep clear of sector boundaries
    target = Point(offset(*origin, azimuth, metres))
    assert direction_code(Point(origin), target) == compass_code(azimuth)


def test_direction_code_points_at_the_nearest_part_of_an_area():
    south_edge_middle = offset(*RIYADH, 0.0, 500.0)
    a, b = offset(*south_edge_middle, 90.0, 2_000.0), offset(*south_edge_middle, 270.0, 2_000.0)
    area = Polygon([a, b, offset(*b, 0.0, 800.0), offset(*a, 0.0, 800.0)])
    assert direction_code(Point(RIYADH), area) == "N"


def test_direction_code_is_none_inside_an_area():
    area = Polygon([offset(*RIYADH, bearing, 300.0) for bearing in (0, 90, 180, 270)])
    assert direction_code(Point(RIYADH), area) is None


def test_direction_code_is_none_on_a_road():
    road = LineString([offset(*RIYADH, 250.0, 400.0), RIYADH, offset(*RIYADH, 70.0, 400.0)])
    assert direction_code(Point(RIYADH), road) is None


def test_direction_code_is_none_at_the_closure_itself():
    assert direction_code(Point(RIYADH), Point(RIYADH)) is None


@settings(max_examples=60, deadline=None)
@given(
    places=st.lists(st.tuples(azimuths, st.floats(0.0, 15_000.0)), min_size=1, max_size=12),
    shape=st.sampled_from(["point", "road", "area"]),
)
def test_directions_from_many_places_agree_with_each_direction_code(places, shape):
    road = LineString([offset(*RIYADH, 250.0, 400.0), RIYADH, offset(*RIYADH, 70.0, 400.0)])
    target = {
        "point": Point(RIYADH),
        "road": road,
        "area": Polygon([offset(*RIYADH, bearing, 300.0) for bearing in (0, 90, 180, 270)]),
    }[shape]
    origins = [Point(offset(*RIYADH, azimuth, metres)) for azimuth, metres in places]
    expected = [direction_code(origin, target) for origin in origins]
    got = directions_from(origins, target)
    # the same sector, but for an origin right on a sector's boundary (one projection or the other)
    assert all(g == e or _neighbours(g, e) for g, e in zip(got, expected, strict=True))
    assert [g is None for g in got] == [e is None for e in expected]


def test_directions_from_no_places_is_empty():
    assert directions_from([], Point(RIYADH)) == []


def _neighbours(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    i, j = COMPASS_CODES.index(a), COMPASS_CODES.index(b)
    return (i - j) % 16 in (1, 15)


# --- position_along -----------------------------------------------------------------------------------

ROUTE = route_through(RIYADH, [(80.0, 4_000.0), (120.0, 3_000.0), (60.0, 5_000.0)])  # 12 km, two bends


def _on_route(metres: float) -> tuple[tuple[float, float], float]:
    """The route point ``metres`` from its start (by Geod) and the route's azimuth there."""
    return point_along(ROUTE, metres)


def _assert_position(measured: float, oracle: float) -> None:
    assert abs(measured - oracle) <= TOLERANCE * oracle + 3.0, f"{measured:.1f} m vs geodesic {oracle:.1f} m"


def test_position_of_a_closure_beside_the_route_is_the_foot_of_the_perpendicular():
    foot, azimuth = _on_route(5_500.0)
    closure = Point(offset(*foot, azimuth - 90.0, 150.0))
    assert foot_position(ROUTE, closure) == pytest.approx(5_500.0, abs=0.5)
    _assert_position(position_along(ROUTE, closure), 5_500.0)


def test_position_of_a_road_crossing_the_route_is_the_crossing():
    crossing, azimuth = _on_route(9_000.0)
    road = LineString([offset(*crossing, azimuth + 70.0, 300.0), offset(*crossing, azimuth - 110.0, 300.0)])
    _assert_position(position_along(ROUTE, road), 9_000.0)


def test_position_of_an_area_over_the_route_is_where_the_route_enters_it():
    entry, azimuth_in = _on_route(6_000.0)
    leave, azimuth_out = _on_route(6_800.0)
    area = Polygon(
        [
            offset(*entry, azimuth_in - 90.0, 200.0),
            offset(*entry, azimuth_in + 90.0, 200.0),
            offset(*leave, azimuth_out + 90.0, 200.0),
            offset(*leave, azimuth_out - 90.0, 200.0),
        ]
    )
    _assert_position(position_along(ROUTE, area), 6_000.0)


def test_position_of_a_road_crossing_the_route_twice_is_the_first_crossing_along_the_route():
    first, azimuth_first = _on_route(1_000.0)
    second, azimuth_second = _on_route(11_000.0)
    # Drawn from the far crossing to the near one, so the road's own order cannot decide.
    road = LineString(
        [
            offset(*second, azimuth_second + 90.0, 300.0),
            offset(*second, azimuth_second - 90.0, 300.0),
            offset(*first, azimuth_first - 90.0, 300.0),
            offset(*first, azimuth_first + 90.0, 300.0),
        ]
    )
    assert len(road.intersection(ROUTE).geoms) == 2
    _assert_position(position_along(ROUTE, road), 1_000.0)


def test_position_of_a_road_leading_away_from_the_route_is_its_nearest_end():
    near_end, azimuth = _on_route(2_500.0)
    start = offset(*near_end, azimuth - 90.0, 100.0)
    road = LineString([start, offset(*start, azimuth - 80.0, 1_000.0)])
    _assert_position(position_along(ROUTE, road), 2_500.0)


def test_position_is_zero_when_the_route_starts_inside_the_closure():
    area = Polygon([offset(*RIYADH, bearing, 250.0) for bearing in (10, 100, 190, 280)])
    assert position_along(ROUTE, area) == 0.0
