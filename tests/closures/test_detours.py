"""The way around closures, with Valhalla on the Helsinki tiles; which closures lie on a way is measured."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import count

import pytest
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from closures.detours import BLOCKING_DISTANCE_M, area_of, find_detour
from closures.lifecycle import Phase
from closures.views import ClosureView, Found
from geo.routing import FallbackRouter, Route
from geo.valhalla import ValhallaEmbedded
from tests.geo.helsinki import ETELAESPLANADI, LASIPALATSI, PROJECTION, YLIOPISTONKATU, metres_apart

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
_ids = count(1)


def closure(geometry: BaseGeometry, *, radius_m: float | None = None, severity: str = "full") -> ClosureView:
    return ClosureView(
        id=next(_ids), municipality_id=1, ref=None, kind="line", geometry=geometry, radius_m=radius_m,
        reason="roadworks", severity=severity, lanes_ar=None, lanes_en=None, direction="both", heading=None,
        starts_at=NOW, ends_at=None, status="active", title_ar="أعمال", title_en=None, detour_ar=None,
        detour_en=None, version=1,
    )  # fmt: skip


class Registry:
    """Closures in force, and which of them lie within 200 m of a line (the oracle: plain shapely metres)."""

    def __init__(self, *closures: ClosureView) -> None:
        self.closures = closures

    def along(self, line: LineString) -> list[Found]:
        out = []
        for view in self.closures:
            distance = max(0.0, metres_apart(line, view.geometry) - (view.radius_m or 0.0))
            if distance <= 200:
                out.append(Found(view, Phase.ACTIVE, distance, None))
        return out


class Counting:
    """The real router, counting how often it is asked."""

    def __init__(self, router: ValhallaEmbedded | FallbackRouter) -> None:
        self.router, self.calls, self.name = router, 0, router.name

    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        self.calls += 1
        return self.router.route(origin, destination, avoid=avoid)


def middle_piece(line: LineString, length_m: float) -> LineString:
    metric = PROJECTION.to_metric(line)
    half = metric.length / 2
    return PROJECTION.to_wgs84(substring(metric, half - length_m / 2, half + length_m / 2))


def farthest_piece(line: LineString, other: LineString, length_m: float = 40.0) -> LineString:
    """The piece of ``line`` farthest from ``other``."""
    metric, away = PROJECTION.to_metric(line), PROJECTION.to_metric(other)
    at = max(range(20, int(metric.length) - 20, 10), key=lambda m: away.distance(metric.interpolate(m)))
    return PROJECTION.to_wgs84(substring(metric, at - length_m / 2, at + length_m / 2))


def test_a_detour_that_runs_into_another_closure_is_asked_again_avoiding_both(
    valhalla: ValhallaEmbedded,
) -> None:
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    first_detour = valhalla.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])
    on_route = closure(ETELAESPLANADI)
    on_first_detour = closure(farthest_piece(first_detour.line, plain.line))
    assert metres_apart(plain.line, on_first_detour.geometry) > 200  # out of the first route's corridor
    registry = Registry(on_route, on_first_detour)
    found = registry.along(plain.line)
    assert [f.closure.id for f in found if f.distance_m <= BLOCKING_DISTANCE_M] == [on_route.id]
    router = Counting(valhalla)

    detour = find_detour(router, LASIPALATSI, YLIOPISTONKATU, plain, found, registry.along)

    assert detour is not None
    assert router.calls >= 2
    for view in (on_route, on_first_detour):
        assert metres_apart(detour.route.line, view.geometry) > BLOCKING_DISTANCE_M
    assert detour.extra_m == pytest.approx(detour.route.length_m - plain.length_m)
    assert detour.extra_s == pytest.approx(detour.route.duration_s - plain.duration_s)
    assert detour.route.length_m > plain.length_m
    assert list(detour.route.line.coords) != list(first_detour.line.coords)


def test_partial_and_distant_closures_are_not_avoided(valhalla: ValhallaEmbedded) -> None:
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    registry = Registry(closure(ETELAESPLANADI), closure(middle_piece(plain.line, 30), severity="partial"))
    found = registry.along(plain.line)

    detour = find_detour(valhalla, LASIPALATSI, YLIOPISTONKATU, plain, found, registry.along)

    assert detour is not None
    assert detour.route == valhalla.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])


def test_a_closure_round_the_destination_leaves_no_way_around(valhalla: ValhallaEmbedded) -> None:
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    registry = Registry(closure(YLIOPISTONKATU, radius_m=150.0))
    router = FallbackRouter(valhalla)  # as the bot has it: no route becomes the straight line

    assert (
        find_detour(router, LASIPALATSI, YLIOPISTONKATU, plain, registry.along(plain.line), registry.along)
        is None
    )


def test_a_point_closure_is_avoided_as_the_disc_it_covers() -> None:
    disc = area_of(closure(YLIOPISTONKATU, radius_m=100.0))
    assert PROJECTION.to_metric(disc).area == pytest.approx(math.pi * 100**2, rel=0.05)
    assert disc.contains(YLIOPISTONKATU)
    assert area_of(closure(ETELAESPLANADI)) is ETELAESPLANADI or area_of(closure(ETELAESPLANADI)).equals(
        ETELAESPLANADI
    )
