"""Projection: which metric CRS a place gets, and that metres map back to the same degrees."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from geo.projection import Projection, utm_epsg, utm_zone
from tests.geo.oracle import geodesic, offset

RIYADH = (46.6753, 24.7136)
JEDDAH = (39.1925, 21.4858)
DAMMAM = (50.1033, 26.4207)
ROUND_TRIP_DEG = 1e-7


def _lon_gap(a: float, b: float) -> float:
    """Degrees between two longitudes, across the antimeridian if that is shorter."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize(
    ("place", "zone", "epsg"),
    [
        pytest.param(RIYADH, 38, 32638, id="riyadh"),
        pytest.param(JEDDAH, 37, 32637, id="jeddah"),
        pytest.param(DAMMAM, 39, 32639, id="dammam"),
        pytest.param((28.0473, -26.2041), 35, 32735, id="johannesburg-south"),
        pytest.param((151.2093, -33.8688), 56, 32756, id="sydney-south"),
        pytest.param((-0.1276, 51.5072), 30, 32630, id="london-west-of-greenwich"),
    ],
)
def test_utm_zone_and_epsg_follow_longitude_and_hemisphere(place, zone, epsg):
    lon, lat = place
    assert utm_zone(lon) == zone
    assert utm_epsg(lon, lat) == epsg
    assert Projection.utm_for(lon, lat).epsg == epsg


def test_equator_belongs_to_the_northern_zones():
    assert utm_epsg(46.7, 0.0) == 32638
    assert utm_epsg(46.7, -1e-9) == 32738


@pytest.mark.parametrize(
    ("lon", "zone"),
    [
        (-180.0, 1),
        (-179.999, 1),
        (-174.001, 1),
        (-174.0, 2),
        (179.999, 60),
        (174.0, 60),
        (47.999, 38),
        (48.0, 39),
    ],
)
def test_zone_boundaries_belong_to_the_eastern_zone(lon, zone):
    assert utm_zone(lon) == zone


def test_antimeridian_gets_one_zone_whichever_sign_it_is_written_with():
    assert utm_zone(180.0) == utm_zone(-180.0)
    assert utm_zone(180.0) in (1, 60)


def test_longitudes_beyond_180_wrap_around():
    assert utm_zone(RIYADH[0] + 360.0) == 38
    assert utm_zone(RIYADH[0] - 360.0) == 38


@pytest.mark.parametrize("lon", [math.nan, math.inf, -math.inf])
def test_non_finite_longitude_is_rejected(lon):
    with pytest.raises(ValueError, match="finite"):
        utm_zone(lon)


@pytest.mark.parametrize("lon", [180.0, -180.0])
def test_antimeridian_point_round_trips(lon):
    projection = Projection.utm_for(lon, -17.7)
    back_lon, back_lat = projection.point_to_wgs84(*projection.point_to_metric(lon, -17.7))
    assert _lon_gap(back_lon, lon) < ROUND_TRIP_DEG
    assert back_lat == pytest.approx(-17.7, abs=ROUND_TRIP_DEG)


@settings(max_examples=150, deadline=None)
@given(
    lon=st.floats(min_value=-180.0, max_value=180.0),
    lat=st.floats(min_value=-80.0, max_value=84.0),
)
def test_point_round_trips_through_its_own_utm_zone(lon, lat):
    projection = Projection.utm_for(lon, lat)
    back_lon, back_lat = projection.point_to_wgs84(*projection.point_to_metric(lon, lat))
    assert _lon_gap(back_lon, lon) < ROUND_TRIP_DEG
    assert abs(back_lat - lat) < ROUND_TRIP_DEG


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(min_value=36.5, max_value=55.5),
    lat=st.floats(min_value=16.5, max_value=32.0),
    radius=st.floats(min_value=20.0, max_value=5_000.0),
)
def test_polygon_round_trips_to_metres_and_back(lon, lat, radius):
    ring = [offset(lon, lat, azimuth, radius) for azimuth in range(0, 360, 40)]
    polygon = Polygon(ring)
    projection = Projection.for_geometry(polygon)
    back = projection.to_wgs84(projection.to_metric(polygon))
    assert back.geom_type == "Polygon"
    np.testing.assert_allclose(
        np.asarray(back.exterior.coords), np.asarray(polygon.exterior.coords), atol=ROUND_TRIP_DEG, rtol=0
    )


def test_metric_coordinates_are_metres():
    east = offset(*RIYADH, 90.0, 1_000.0)
    north = offset(*RIYADH, 0.0, 1_000.0)
    projection = Projection.utm_for(*RIYADH)
    origin = projection.to_metric(Point(RIYADH))
    assert origin.distance(projection.to_metric(Point(east))) == pytest.approx(1_000.0, rel=1e-3)
    assert origin.distance(projection.to_metric(Point(north))) == pytest.approx(1_000.0, rel=1e-3)


def test_projecting_many_geometries_matches_projecting_each():
    geoms = np.array(
        [Point(RIYADH), Point(JEDDAH), Polygon([RIYADH, offset(*RIYADH, 90, 500), offset(*RIYADH, 0, 500)])]
    )
    projection = Projection.utm_for(*RIYADH)
    for together, alone in zip(projection.many_to_metric(geoms), geoms, strict=True):
        assert together.equals_exact(projection.to_metric(alone), tolerance=1e-6)


def test_projection_for_geometry_uses_the_zone_of_its_centre():
    area_across_border = Polygon([(47.9, 26.0), (48.3, 26.0), (48.3, 26.1), (47.9, 26.1)])
    assert Projection.for_geometry(area_across_border).epsg == 32639


def test_explicit_utm_epsg_equals_the_chosen_zone():
    assert Projection(32638) == Projection.utm_for(*RIYADH)


def test_municipality_crs_on_its_own_datum_round_trips_and_measures_metres():
    ain_el_abd = Projection(20438)  # Ain el Abd / UTM zone 38N, the Saudi national datum of old surveys
    x, y = ain_el_abd.point_to_metric(*RIYADH)
    back_lon, back_lat = ain_el_abd.point_to_wgs84(x, y)
    assert back_lon == pytest.approx(RIYADH[0], abs=ROUND_TRIP_DEG)
    assert back_lat == pytest.approx(RIYADH[1], abs=ROUND_TRIP_DEG)
    target = offset(*RIYADH, 63.0, 12_345.0)
    tx, ty = ain_el_abd.point_to_metric(*target)
    assert math.hypot(tx - x, ty - y) == pytest.approx(geodesic(RIYADH, target), rel=1e-3)


def test_municipality_crs_shifts_coordinates_from_wgs84_utm():
    # Same zone, different datum: the grid coordinates differ by the datum shift (tens to hundreds of metres).
    wgs = Projection(32638).point_to_metric(*RIYADH)
    local = Projection(20438).point_to_metric(*RIYADH)
    assert 10.0 < math.hypot(wgs[0] - local[0], wgs[1] - local[1]) < 1_000.0


@pytest.mark.parametrize("epsg", [4326, 4204])
def test_geographic_crs_is_rejected(epsg):
    with pytest.raises(ValueError, match="not a projected"):
        Projection(epsg)


def test_projected_crs_in_feet_is_rejected():
    # NAD83 / New York Long Island (US survey feet): projected, but its "metres" would be feet.
    with pytest.raises(ValueError, match="metre"):
        Projection(2263)


def test_scale_error_of_web_mercator_is_ten_percent_in_riyadh_and_of_the_local_utm_zone_tiny():
    riyadh = box(46.5, 24.5, 46.9, 24.9)
    # Mercator's scale is 1 / cos(latitude): largest at the northern edge.
    assert Projection(3857).scale_error(riyadh) == pytest.approx(
        1 / math.cos(math.radians(24.9)) - 1, rel=1e-3
    )
    assert Projection(32638).scale_error(riyadh) < 0.001
    jeddah = box(39.0, 21.3, 39.3, 21.8)  # in zone 37: zone 38 (one over) is off by under 1 %
    assert 0.001 < Projection(32638).scale_error(jeddah) < 0.01
    assert Projection(32637).scale_error(jeddah) < 0.001
