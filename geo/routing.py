"""Routes between two points: a ``Router`` protocol and the labelled straight-line fallback.

Road engines (Valhalla, OSRM) plug in behind the same protocol. Until one is configured, or when one fails,
the straight line stands in — always marked ``approximate`` so that nobody mistakes it for a road.
Routers are blocking: async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.measure import geodesic_m

# Typical urban driving speed, only to give the straight line a rough duration.
_STRAIGHT_LINE_SPEED_MS = 40 / 3.6


@dataclass(frozen=True, slots=True)
class Route:
    """A route in lon/lat with its length; ``approximate`` when it does not follow real roads."""

    line: LineString
    length_m: float
    duration_s: float
    engine: str
    approximate: bool
    street_names: tuple[str, ...] = field(default=())


class Router(Protocol):
    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        """The route from origin to destination (lon/lat), avoiding the given areas where the engine can."""
        ...


class StraightLineRouter:
    """The fallback: a straight segment, its geodesic length, and a rough duration. Cannot avoid anything."""

    name = "straight-line"

    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        length = geodesic_m(origin, destination)
        return Route(
            line=LineString([(origin.x, origin.y), (destination.x, destination.y)]),
            length_m=length,
            duration_s=length / _STRAIGHT_LINE_SPEED_MS,
            engine=self.name,
            approximate=True,
        )
