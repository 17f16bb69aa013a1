"""Valhalla, embedded and over HTTP, on real tiles of central Helsinki; faults from a local stand-in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import LineString, Point, Polygon

from geo.errors import NoRoute, RoutingTimeout, RoutingUnavailable
from geo.routing import FallbackRouter, StraightLineRouter
from geo.valhalla import (
    MAX_EXCLUDE_PERIMETER_M,
    ValhallaEmbedded,
    ValhallaHttp,
    exclusion_rings,
    within_budget,
)
from tests.fakes.routing import FAULTS, STREETS, RoutingServer, bent_line, line_length_m
from tests.geo.helsinki import BULEVARDI, ETELAESPLANADI, LASIPALATSI, YLIOPISTONKATU, length_m, metres_apart

ON_IT_M = 5.0  # a route this close to a closed street uses it


@pytest.fixture
def server() -> Iterator[RoutingServer]:
    with RoutingServer().running() as running:
        yield running


def test_a_route_between_two_helsinki_addresses_follows_the_streets(valhalla: ValhallaEmbedded) -> None:
    route = valhalla.route(LASIPALATSI, YLIOPISTONKATU)

    assert (route.engine, route.approximate, route.avoided) == ("valhalla", False, True)
    assert {"Mannerheimintie", "Eteläesplanadi", "Yliopistonkatu"} <= set(route.street_names)
    assert metres_apart(Point(route.line.coords[0]), LASIPALATSI) < 30
    assert metres_apart(Point(route.line.coords[-1]), YLIOPISTONKATU) < 30
    # The engine's length is the length of its own line, and a road way is longer than the crow flies.
    assert route.length_m == pytest.approx(length_m(route.line), rel=0.01)
    assert route.length_m > 1.5 * length_m(LineString([LASIPALATSI, YLIOPISTONKATU]))
    assert route.duration_s > route.length_m / 30  # slower than 108 km/h through the centre
    assert metres_apart(route.line, ETELAESPLANADI) < ON_IT_M


def test_closing_a_street_on_the_route_gives_a_longer_detour_that_avoids_it(
    valhalla: ValhallaEmbedded,
) -> None:
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    detour = valhalla.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])

    assert detour.avoided
    assert not detour.approximate
    assert metres_apart(detour.line, ETELAESPLANADI) > ON_IT_M
    assert detour.length_m > plain.length_m + 100
    assert detour.duration_s > plain.duration_s


def test_a_closure_off_the_route_leaves_it_unchanged(valhalla: ValhallaEmbedded) -> None:
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    assert metres_apart(plain.line, BULEVARDI) > 100

    same = valhalla.route(LASIPALATSI, YLIOPISTONKATU, avoid=[BULEVARDI])

    assert list(same.line.coords) == list(plain.line.coords)
    assert (same.length_m, same.duration_s) == (plain.length_m, plain.duration_s)


def test_closures_beyond_the_perimeter_cap_keep_only_those_near_the_first_route(
    valhalla: ValhallaEmbedded,
) -> None:
    # Ten big squares far away (each ~2.4 km round) would break Valhalla's 10 km cap on their own.
    far = [Point(24.90 + i * 0.001, 60.20).buffer(0.003, quad_segs=1) for i in range(10)]

    detour = valhalla.route(LASIPALATSI, YLIOPISTONKATU, avoid=[*far, ETELAESPLANADI])

    assert metres_apart(detour.line, ETELAESPLANADI) > ON_IT_M


def test_exclusion_rings_are_small_buffers_ordered_by_distance_and_kept_within_the_budget() -> None:
    route = LineString([LASIPALATSI, YLIOPISTONKATU])
    rings = exclusion_rings([BULEVARDI, ETELAESPLANADI], near=route)

    near_ring, far_ring = (Polygon(ring) for _, ring in rings)
    assert near_ring.contains(ETELAESPLANADI)
    assert far_ring.contains(BULEVARDI)
    for perimeter, ring in rings:
        closed = Polygon(ring)
        assert perimeter == pytest.approx(length_m(closed.exterior), rel=0.01)
        assert 2 * 12 * 2 < perimeter < 2 * (length_m(BULEVARDI) + length_m(ETELAESPLANADI)) + 4 * 12 * 2
    assert within_budget(rings, rings[0][0]) == [rings[0][1]]
    assert within_budget(rings, MAX_EXCLUDE_PERIMETER_M) == [ring for _, ring in rings]


def test_a_point_nowhere_near_a_road_is_no_route(valhalla: ValhallaEmbedded) -> None:
    with pytest.raises(NoRoute):
        valhalla.route(LASIPALATSI, Point(25.5, 60.5))


def test_embedded_valhalla_without_tiles_is_unavailable_and_falls_back(tmp_path: Path) -> None:
    engine = ValhallaEmbedded(tmp_path / "none")
    with pytest.raises(RoutingUnavailable, match="roadbot routing build"):
        engine.route(LASIPALATSI, YLIOPISTONKATU)

    route = FallbackRouter(engine).route(LASIPALATSI, YLIOPISTONKATU)

    assert route == StraightLineRouter().route(LASIPALATSI, YLIOPISTONKATU)
    assert route.approximate
    engine.close()


def test_embedded_valhalla_that_takes_too_long_times_out_and_falls_back(
    helsinki_tiles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The engine's only worker is held busy until released: a route cannot start within its time.
    engine = ValhallaEmbedded(helsinki_tiles, timeout_s=0.2, workers=1)
    release = threading.Event()
    held = engine._pool.submit(release.wait)
    try:
        with pytest.raises(RoutingTimeout):
            engine.route(LASIPALATSI, YLIOPISTONKATU)
        route = FallbackRouter(engine).route(LASIPALATSI, YLIOPISTONKATU)
    finally:
        release.set()
        held.result()
    assert route == StraightLineRouter().route(LASIPALATSI, YLIOPISTONKATU)
    assert "routing with valhalla failed (RoutingTimeout" in caplog.text
    engine.close()


def test_valhalla_service_over_loopback_http_answers_like_the_embedded_engine(
    valhalla_service: str, valhalla: ValhallaEmbedded
) -> None:
    http = ValhallaHttp(valhalla_service, timeout_s=30)
    try:
        over_http = http.route(LASIPALATSI, YLIOPISTONKATU)
        detour = http.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])
        with pytest.raises(NoRoute):
            http.route(LASIPALATSI, Point(25.5, 60.5))
    finally:
        http.close()
    embedded = valhalla.route(LASIPALATSI, YLIOPISTONKATU)

    assert over_http.engine == "valhalla-http"
    assert list(over_http.line.coords) == list(embedded.line.coords)
    assert over_http.street_names == embedded.street_names
    assert metres_apart(detour.line, ETELAESPLANADI) > ON_IT_M
    assert detour.length_m > over_http.length_m


def test_valhalla_http_reads_the_route_answer_and_sends_the_exclusions(server: RoutingServer) -> None:
    a, b = (LASIPALATSI.x, LASIPALATSI.y), (YLIOPISTONKATU.x, YLIOPISTONKATU.y)
    http = ValhallaHttp(server.url)

    route = http.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])

    assert [pytest.approx(xy, abs=1e-6) for xy in route.line.coords] == bent_line(a, b)
    assert route.length_m == pytest.approx(line_length_m(bent_line(a, b)), abs=1)
    assert route.street_names == STREETS
    (path, body), *_ = server.requests
    assert path == "/route"
    assert body["costing"] == "auto"
    assert body["locations"] == [{"lat": a[1], "lon": a[0]}, {"lat": b[1], "lon": b[0]}]
    (ring,) = body["exclude_polygons"]
    assert Polygon(ring).contains(ETELAESPLANADI)
    assert "costing_options" not in body  # a driver's route keeps to one-way streets

    assert http.follow(LASIPALATSI, YLIOPISTONKATU).street_names == STREETS
    _, leg = server.requests[-1]
    assert leg["costing_options"] == {"auto": {"ignore_oneways": True, "ignore_restrictions": True}}
    http.close()


@pytest.mark.parametrize(("mode", "error"), [(m, e) for m, e in FAULTS.items() if m != "hold"])
def test_valhalla_http_faults_become_typed_errors_and_fall_back(
    server: RoutingServer, mode: str, error: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    server.mode = mode
    http = ValhallaHttp(server.url)
    with pytest.raises(error):
        http.route(LASIPALATSI, YLIOPISTONKATU)

    route = FallbackRouter(http).route(LASIPALATSI, YLIOPISTONKATU)
    leg = FallbackRouter(http).follow(LASIPALATSI, YLIOPISTONKATU)  # a leg of an operator's taps

    assert route.approximate
    assert route.engine == "straight-line"
    assert leg == route
    assert f"routing with valhalla-http failed ({error.__name__}" in caplog.text
    http.close()


def test_valhalla_http_that_holds_the_request_times_out_and_falls_back(server: RoutingServer) -> None:
    server.mode = "hold"
    http = ValhallaHttp(server.url, timeout_s=0.2)
    with pytest.raises(RoutingTimeout):
        http.route(LASIPALATSI, YLIOPISTONKATU)
    assert server.received.is_set()

    assert FallbackRouter(http).route(LASIPALATSI, YLIOPISTONKATU).approximate
    server.release.set()
    http.close()


def test_valhalla_http_with_nobody_listening_is_unavailable(server: RoutingServer) -> None:
    url = server.url
    server._httpd.server_close()  # the port is closed: connections are refused
    http = ValhallaHttp(url)
    with pytest.raises(RoutingUnavailable):
        http.route(LASIPALATSI, YLIOPISTONKATU)
    assert FallbackRouter(http).route(LASIPALATSI, YLIOPISTONKATU).approximate
    http.close()
