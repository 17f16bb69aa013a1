"""The way around: when full closures active now block a driver's route, a route that keeps out of them.

The router is asked to avoid every active full closure near the route; the answer is checked against the
closures along it (it may run into another one, which is then added and the route asked again), and refused
when the engine could not keep out of them (OSRM, the straight line) or found no other way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from closures.lifecycle import Phase
from closures.models import Severity
from closures.views import ClosureView, Found
from geo.projection import Projection
from geo.routing import Route, Router

BLOCKING_DISTANCE_M = 15.0  # a full closure this close to the route line is on it, not beside it
MAX_ROUNDS = 3  # each round adds the closures the previous detour ran into


@dataclass(frozen=True, slots=True)
class Detour:
    route: Route
    extra_m: float
    extra_s: float


def blocks(found: Found) -> bool:
    """A full closure, active now, on the route."""
    return is_active_full(found) and found.distance_m <= BLOCKING_DISTANCE_M


def is_active_full(found: Found) -> bool:
    return found.phase is Phase.ACTIVE and found.closure.severity == Severity.FULL


def find_detour(
    router: Router,
    origin: Point,
    destination: Point,
    route: Route,
    found: Sequence[Found],
    along: Callable[[LineString], Sequence[Found]],
) -> Detour | None:
    """The route avoiding the active full closures in ``found`` and any it runs into; None if there is none.

    ``along(line)`` lists the closures along a line (the registry's corridor query).
    """
    avoid = {f.closure.id: area_of(f.closure) for f in found if is_active_full(f)}
    for _ in range(MAX_ROUNDS):
        detour = router.route(origin, destination, avoid=list(avoid.values()))
        if detour.approximate or not detour.avoided:
            return None
        still = {f.closure.id: area_of(f.closure) for f in along(detour.line) if blocks(f)}
        if not still:
            return Detour(
                detour,
                extra_m=max(0.0, detour.length_m - route.length_m),
                extra_s=max(0.0, detour.duration_s - route.duration_s),
            )
        if still.keys() <= avoid.keys():
            return None  # asked to keep out and did not: the engine has no way around
        avoid.update(still)
    return None


def area_of(closure: ClosureView) -> BaseGeometry:
    """The closure's geometry, or the disc it covers when it is a point with a radius."""
    if not closure.radius_m:
        return closure.geometry
    projection = Projection.for_geometry(closure.geometry)
    return projection.to_wgs84(projection.to_metric(closure.geometry).buffer(closure.radius_m, quad_segs=4))
