"""Road snapping: the points an operator tapped along a road become the road between them.

Each pair of consecutive taps is routed on the roads and the legs joined (with a router's ``follow`` when it
has one: the road in either direction, one-way streets ignored). A leg that is wildly longer than the
straight distance between its taps means the router took another way (a one-way street against the taps, a
tap on the wrong carriageway, a gap in the map): then the whole line keeps straight segments, and the caller
tells the operator, rather than registering a closure on roads the operator never meant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol, runtime_checkable

from shapely.geometry import LineString, Point

from geo.projection import Projection
from geo.routing import Route, Router

MAX_STRETCH = 1.5  # a leg along the roads may be this many times the straight distance between its taps …
SLACK_M = 100.0  # … plus this much, so that short legs round a corner are not refused


@runtime_checkable
class RoadFollower(Protocol):
    def follow(self, origin: Point, destination: Point) -> Route:
        """The road between two points whichever way its traffic runs."""
        ...


def leg_router(router: Router) -> Callable[[Point, Point], Route]:
    """What routes one leg of tapped points: the router's ``follow`` if it has one, else its ``route``."""
    if isinstance(router, RoadFollower):
        return router.follow
    return router.route


@dataclass(frozen=True, slots=True)
class Snapped:
    """The line for the taps: ``on_roads`` when it follows them; ``refused`` when a road line was refused."""

    line: LineString
    on_roads: bool
    refused: bool = False


def snap_line(points: Sequence[Point], route: Callable[[Point, Point], Route]) -> Snapped:
    """The line through ``points`` (lon/lat) along the roads ``route`` finds, or straight segments."""
    if len(points) < 2:
        raise ValueError(f"a line needs at least two points, got {len(points)}")
    straight = LineString([(p.x, p.y) for p in points])
    legs = [route(a, b) for a, b in pairwise(points)]
    if any(leg.approximate for leg in legs):
        return Snapped(straight, on_roads=False)
    projection = Projection.for_geometry(straight)
    for (a, b), leg in zip(pairwise(points), legs, strict=True):
        if not plausible(leg.line, LineString([(a.x, a.y), (b.x, b.y)]), projection):
            return Snapped(straight, on_roads=False, refused=True)
    coords = list(legs[0].line.coords)
    for leg in legs[1:]:
        coords.extend(leg.line.coords[1:])
    return Snapped(LineString(coords), on_roads=True)


def plausible(road: LineString, taps: LineString, projection: Projection | None = None) -> bool:
    """True when ``road`` is at most ``MAX_STRETCH`` times as long as ``taps`` plus ``SLACK_M`` metres."""
    projection = projection or Projection.for_geometry(taps)
    return projection.to_metric(road).length <= MAX_STRETCH * projection.to_metric(taps).length + SLACK_M
