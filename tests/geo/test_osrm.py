"""OSRM over HTTP, against a local server answering in OSRM's route service v1 format."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geo.errors import BadAnswer
from geo.osrm import OsrmHttp
from geo.routing import FallbackRouter, StraightLineRouter
from tests.fakes.routing import FAULTS, STREETS, RoutingServer, bent_line, line_length_m
from tests.geo.helsinki import ETELAESPLANADI, LASIPALATSI, YLIOPISTONKATU

A = (LASIPALATSI.x, LASIPALATSI.y)
B = (YLIOPISTONKATU.x, YLIOPISTONKATU.y)


@pytest.fixture
def server() -> Iterator[RoutingServer]:
    with RoutingServer().running() as running:
        yield running


@pytest.fixture
def osrm(server: RoutingServer) -> Iterator[OsrmHttp]:
    router = OsrmHttp(server.url, timeout_s=0.5)
    yield router
    router.close()


def test_osrm_route_is_read_from_its_polyline6_geometry_distance_duration_and_step_names(
    server: RoutingServer, osrm: OsrmHttp
) -> None:
    route = osrm.route(LASIPALATSI, YLIOPISTONKATU)

    assert route.engine == "osrm-http"
    assert not route.approximate
    assert route.avoided
    assert [pytest.approx(xy, abs=1e-6) for xy in route.line.coords] == bent_line(A, B)
    assert route.length_m == pytest.approx(line_length_m(bent_line(A, B)))
    assert route.duration_s == pytest.approx(route.length_m / 10)
    assert route.street_names == STREETS  # each name once, in order
    ((path, _),) = server.requests
    assert path == (
        f"/route/v1/driving/{A[0]:.6f},{A[1]:.6f};{B[0]:.6f},{B[1]:.6f}"
        "?overview=full&geometries=polyline6&steps=true"
    )


def test_osrm_cannot_avoid_closures_so_its_route_is_no_detour(osrm: OsrmHttp) -> None:
    route = osrm.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])

    assert not route.avoided
    assert not route.approximate


@pytest.mark.parametrize(("mode", "error"), FAULTS.items())
def test_osrm_faults_become_typed_errors_and_fall_back_to_the_labelled_straight_line(
    server: RoutingServer, osrm: OsrmHttp, mode: str, error: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    server.mode = mode
    with pytest.raises(error):
        osrm.route(LASIPALATSI, YLIOPISTONKATU)

    route = FallbackRouter(osrm).route(LASIPALATSI, YLIOPISTONKATU)

    assert route == StraightLineRouter().route(LASIPALATSI, YLIOPISTONKATU)
    assert f"routing with osrm-http failed ({error.__name__}" in caplog.text
    server.release.set()


def test_osrm_answer_without_ok_code_is_refused(server: RoutingServer) -> None:
    router = OsrmHttp(server.url, profile="no such profile")
    with pytest.raises(BadAnswer, match="InvalidUrl"):
        router.route(LASIPALATSI, YLIOPISTONKATU)
    router.close()
