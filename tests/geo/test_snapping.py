"""Road snapping: tapped points become the street between them, on real Helsinki tiles; refusals in plain."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.routing import FallbackRouter, Route, StraightLineRouter
from geo.snapping import MAX_STRETCH, SLACK_M, leg_router, plausible, snap_line
from geo.valhalla import ValhallaEmbedded
from tests.geo.helsinki import ETELAESPLANADI, PROJECTION, length_m, metres_apart

# An operator taps Mannerheimintie twice going south, then Eteläesplanadi round the corner at Erottaja.
TAPS = [Point(24.93879, 60.16954), Point(24.94201, 60.16738), Point(24.94550, 60.16710)]


def farthest_from_roads(line: LineString, helsinki_tiles: Path) -> float:
    """The worst distance, in metres, from a point every 20 m along ``line`` to the nearest road edge.

    Valhalla's locate service is the oracle: it reads the road graph, not the route the snapping used.
    """
    import valhalla

    actor = valhalla.Actor(str(helsinki_tiles / "valhalla.json"))
    metric = PROJECTION.to_metric(line)
    worst = 0.0
    for step in range(0, int(metric.length) + 1, 20):
        lon, lat = PROJECTION.to_wgs84(metric.interpolate(step)).coords[0]
        (found,) = actor.locate({"locations": [{"lon": lon, "lat": lat}], "costing": "auto", "verbose": True})
        edge = found["edges"][0]
        worst = max(
            worst, metres_apart(Point(lon, lat), Point(edge["correlated_lon"], edge["correlated_lat"]))
        )
    return worst


def test_tapped_points_become_the_street_between_them(
    valhalla: ValhallaEmbedded, helsinki_tiles: Path
) -> None:
    snapped = snap_line(TAPS, valhalla.route)

    assert snapped.on_roads
    assert not snapped.refused
    for tap in TAPS:
        assert metres_apart(snapped.line, tap) < 10
    assert metres_apart(snapped.line, ETELAESPLANADI) < 3
    assert farthest_from_roads(snapped.line, helsinki_tiles) < 6  # on the carriageway (locate's snap)
    # The straight taps cut the corner at Erottaja, through the buildings.
    assert farthest_from_roads(LineString(TAPS), helsinki_tiles) > 25


def test_without_a_road_router_the_taps_are_joined_straight() -> None:
    snapped = snap_line(TAPS, StraightLineRouter().route)

    assert list(snapped.line.coords) == [(p.x, p.y) for p in TAPS]
    assert not snapped.on_roads
    assert not snapped.refused


class Loop:
    """A road router whose second leg goes round a 2 km loop (as against a one-way street)."""

    def __init__(self) -> None:
        self.calls = 0

    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        self.calls += 1
        coords = [(origin.x, origin.y), (destination.x, destination.y)]
        if self.calls == 2:
            coords[1:1] = [(origin.x + 0.01, origin.y), (origin.x + 0.01, origin.y - 0.005)]
        line = LineString(coords)
        return Route(line=line, length_m=length_m(line), duration_s=60, engine="loop", approximate=False)


def test_a_leg_wildly_longer_than_its_taps_keeps_the_whole_line_straight() -> None:
    snapped = snap_line(TAPS, Loop().route)

    assert snapped.refused
    assert not snapped.on_roads
    assert list(snapped.line.coords) == [(p.x, p.y) for p in TAPS]


@pytest.mark.parametrize(
    ("road_m", "taps_m", "kept"),
    [(100.0, 100.0, True), (250.0, 100.0, True), (251.0, 100.0, False), (1500.0, 1000.0, True),
     (1601.0, 1000.0, False)],
)  # fmt: skip
def test_a_road_may_be_half_as_long_again_as_the_taps_plus_a_hundred_metres(
    road_m: float, taps_m: float, kept: bool
) -> None:
    assert MAX_STRETCH * taps_m + SLACK_M in (250.0, 1600.0)
    taps = LineString([(0, 0), (taps_m, 0)])
    road = LineString([(0, 0), (road_m, 0)])
    origin = PROJECTION.to_wgs84(Point(380_000, 6_670_000))
    shift = PROJECTION.point_to_metric(origin.x, origin.y)

    def wgs84(line: LineString) -> LineString:
        return PROJECTION.to_wgs84(LineString([(x + shift[0], y + shift[1]) for x, y in line.coords]))

    assert plausible(wgs84(road), wgs84(taps), PROJECTION) is kept


def test_fewer_than_two_taps_are_no_line() -> None:
    with pytest.raises(ValueError, match="at least two points"):
        snap_line(TAPS[:1], StraightLineRouter().route)


# Eteläesplanadi from Kasarmikatu west to Fabianinkatu: tapped against its one-way traffic.
AGAINST_ONE_WAY = [Point(24.94826, 60.16719), Point(24.94646, 60.16715), Point(24.94471, 60.16699)]


def test_taps_against_a_one_way_street_still_follow_that_street(
    valhalla: ValhallaEmbedded, helsinki_tiles: Path
) -> None:
    driving = snap_line(AGAINST_ONE_WAY, valhalla.route)
    assert driving.refused  # a car must go round the block: far longer than the taps

    for router in (valhalla, FallbackRouter(valhalla)):
        snapped = snap_line(AGAINST_ONE_WAY, leg_router(router))
        assert snapped.on_roads
        assert length_m(snapped.line) < 1.1 * length_m(LineString(AGAINST_ONE_WAY))
        assert farthest_from_roads(snapped.line, helsinki_tiles) < 6


def test_a_router_without_follow_routes_each_leg() -> None:
    router = StraightLineRouter()
    assert leg_router(router) == router.route
