"""Routes between two points: a ``Router`` protocol and the labelled straight-line fallback.

Road engines (Valhalla in ``geo.valhalla``, OSRM in ``geo.osrm``) plug in behind the same protocol and
raise the ``geo.errors.RoutingError`` family. ``FallbackRouter`` wraps one: until an engine is configured, or
when it fails or times out, the straight line stands in — always marked ``approximate`` so that nobody
mistakes it for a road. Routers are blocking: async callers run them in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.errors import RoutingError
from geo.measure import geodesic_m

log = logging.getLogger(__name__)

# Typical urban driving speed, only to give the straight line a rough duration.
_STRAIGHT_LINE_SPEED_MS = 40 / 3.6


@dataclass(frozen=True, slots=True)
class Route:
    """A route in lon/lat with its length; ``approximate`` when it does not follow real roads.

    ``avoided`` is False when areas to avoid were asked for and the engine could not keep out of them
    (OSRM cannot exclude areas; neither can the straight line): such a route is no detour.
    """

    line: LineString
    length_m: float
    duration_s: float
    engine: str
    approximate: bool
    street_names: tuple[str, ...] = field(default=())
    avoided: bool = True


class Router(Protocol):
    name: str

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
            avoided=not avoid,
        )


class FallbackRouter:
    """A road engine that never fails its caller: on any routing error, the labelled straight line."""

    def __init__(self, engine: Router, fallback: Router | None = None) -> None:
        self.engine = engine
        self.fallback = fallback or StraightLineRouter()
        self.name = engine.name

    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        try:
            return self.engine.route(origin, destination, avoid=avoid)
        except RoutingError as exc:
            return self._fall_back(exc, origin, destination, avoid)

    def follow(self, origin: Point, destination: Point) -> Route:
        """The engine's road between two tapped points (``geo.snapping``), or the straight line."""
        follow = getattr(self.engine, "follow", None) or self.engine.route
        try:
            return follow(origin, destination)
        except RoutingError as exc:
            return self._fall_back(exc, origin, destination, ())

    def _fall_back(
        self, exc: RoutingError, origin: Point, destination: Point, avoid: Sequence[BaseGeometry]
    ) -> Route:
        log.warning(
            "routing with %s failed (%s: %s); using the straight line",
            exc.engine,
            type(exc).__name__,
            exc.detail,
        )
        return self.fallback.route(origin, destination, avoid=avoid)

    def close(self) -> None:
        """Release the engine's threads or connections."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()
