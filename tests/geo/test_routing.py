from pyproj import Geod
from shapely.geometry import Point, Polygon

from geo.routing import StraightLineRouter


def test_straight_line_route_is_labelled_approximate_with_geodesic_length() -> None:
    origin, destination = Point(46.6230, 24.6840), Point(46.7106, 24.6478)
    route = StraightLineRouter().route(origin, destination)
    _, _, expected = Geod(ellps="WGS84").inv(origin.x, origin.y, destination.x, destination.y)
    assert route.approximate is True
    assert route.engine == "straight-line"
    assert abs(route.length_m - expected) < 0.01
    assert list(route.line.coords) == [(origin.x, origin.y), (destination.x, destination.y)]
    assert route.duration_s > 0


def test_straight_line_route_cannot_avoid_closures() -> None:
    origin, destination = Point(46.60, 24.70), Point(46.70, 24.70)
    closed = Polygon([(46.64, 24.69), (46.66, 24.69), (46.66, 24.71), (46.64, 24.71)])
    route = StraightLineRouter().route(origin, destination, avoid=[closed])
    assert route.line.intersects(closed)


def test_the_straight_line_says_it_kept_out_of_nothing_it_was_asked_to_avoid() -> None:
    origin, destination = Point(46.60, 24.70), Point(46.70, 24.70)
    closed = Polygon([(46.64, 24.69), (46.66, 24.69), (46.66, 24.71), (46.64, 24.71)])
    assert StraightLineRouter().route(origin, destination).avoided is True
    assert StraightLineRouter().route(origin, destination, avoid=[closed]).avoided is False
