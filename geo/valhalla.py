"""Valhalla behind the ``Router`` protocol: embedded through pyvalhalla's ``Actor``, or a deployed service.

Both speak Valhalla's route API (request and answer JSON alike); only the transport differs. Closures are
kept out of a route with ``exclude_polygons``: each closure becomes a small polygon around it (a buffer in
metres on a local projection), and Valhalla refuses to use any road edge that crosses one.

Embedded: Valhalla's actor is not thread-safe, so each worker thread of a small pool owns one; the pool also
gives the call its timeout (the C++ work cannot be interrupted, but the caller stops waiting for it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import httpx
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geo import polyline
from geo.enginehttp import make_client, request_json
from geo.errors import BadAnswer, NoRoute, RoutingError, RoutingTimeout, RoutingUnavailable
from geo.projection import Projection
from geo.routing import Route

CONFIG_NAME = "valhalla.json"  # written next to the tiles by ``geo.valhalla_tiles.build_tiles``
EXCLUDE_BUFFER_M = 12.0  # wide enough to cover a carriageway, narrow enough to spare the parallel street
# Valhalla's default service_limits.max_exclude_polygons_length: the total perimeter of all exclude
# polygons of one request, in metres. Beyond it the whole request is refused.
MAX_EXCLUDE_PERIMETER_M = 10_000.0
_KM_PER_MILE = 1.609344
# Error codes meaning "no route joins these points" (not "the request was wrong"): too far, unconnected
# regions, no road near a location, no path found (e.g. every way out excluded).
_NO_ROUTE_CODES = frozenset({154, 170, 171, 172, 442, 443, 444})
_NO_ROUTE_WORDS = ("no path", "no suitable edges", "unconnected", "exhausted", "breakage", "max distance")


class _Valhalla:
    """What both transports share: the request, the exclusions, and reading the answer."""

    name = "valhalla"

    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        body = route_request(origin, destination)
        if avoid:
            rings = exclusion_rings(avoid)
            if sum(perimeter for perimeter, _ in rings) > MAX_EXCLUDE_PERIMETER_M:
                # Valhalla refuses a request whose exclude polygons add up to more than 10 km of perimeter
                # (by default). The closures that matter are those near the way the driver would take, so
                # route once without exclusions and keep the closures nearest that first route.
                first = self._read(self._call("route", body))
                rings = exclusion_rings(avoid, near=first.line)
            body["exclude_polygons"] = within_budget(rings, MAX_EXCLUDE_PERIMETER_M)
        return self._read(self._call("route", body))

    def follow(self, origin: Point, destination: Point) -> Route:
        """The road from origin to destination in either direction: for drawing a closure along it.

        A closure covers the road whichever way its traffic runs, and an operator taps in any order, so
        one-way streets and turn restrictions are ignored (else taps against a one-way street would go
        round the block).
        """
        body = route_request(origin, destination)
        body["costing_options"] = {"auto": {"ignore_oneways": True, "ignore_restrictions": True}}
        return self._read(self._call("route", body))

    def _call(self, action: str, body: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _read(self, answer: Any) -> Route:
        try:
            return parse_route(answer, self.name)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise BadAnswer(self.name, f"unreadable route answer ({type(exc).__name__}: {exc})") from exc


class ValhallaEmbedded(_Valhalla):
    """Valhalla in this process, on tiles built by ``roadbot routing build``."""

    name = "valhalla"

    def __init__(self, tiles_dir: Path, *, timeout_s: float = 5.0, workers: int = 2) -> None:
        self.config_path = Path(tiles_dir) / CONFIG_NAME
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="valhalla")

    def _call(self, action: str, body: dict[str, Any]) -> Any:
        future = self._pool.submit(self._run, action, body)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout as exc:
            raise RoutingTimeout(self.name, f"{action} took longer than {self.timeout_s} s") from exc

    def _run(self, action: str, body: dict[str, Any]) -> Any:
        actor = self._actor()
        try:
            return getattr(actor, action)(body)
        except RuntimeError as exc:  # valhalla.ValhallaError is a RuntimeError
            raise _classify_message(self.name, str(exc)) from exc

    def _actor(self) -> Any:
        actor = getattr(self._local, "actor", None)
        if actor is None:
            try:
                import valhalla
            except ImportError as exc:
                raise RoutingUnavailable(
                    self.name, "pyvalhalla is not installed (the routing extra)"
                ) from exc
            if not self.config_path.is_file():
                raise RoutingUnavailable(
                    self.name, f"no tiles: {self.config_path} is missing (run `roadbot routing build`)"
                )
            try:
                actor = self._local.actor = valhalla.Actor(str(self.config_path))
            except (OSError, ValueError, AttributeError, RuntimeError) as exc:
                raise RoutingUnavailable(self.name, f"cannot load the tiles: {exc}") from exc
        return actor

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ValhallaHttp(_Valhalla):
    """A deployed valhalla_service (or any server speaking its API) at ``url``."""

    name = "valhalla-http"

    def __init__(self, url: str, *, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None):
        self.url = url
        self._client = make_client(url, timeout_s, transport)

    def _call(self, action: str, body: dict[str, Any]) -> Any:
        return request_json(self._client, self.name, "POST", f"/{action}", json=body, classify=self._classify)

    def _classify(self, status: int, body: Any) -> RoutingError:
        if isinstance(body, dict) and body.get("error_code") in _NO_ROUTE_CODES:
            return NoRoute(self.name, f"{body.get('error_code')}: {body.get('error')}")
        if isinstance(body, dict) and "error" in body:
            return BadAnswer(self.name, f"HTTP {status}, error {body.get('error_code')}: {body['error']}")
        return BadAnswer(self.name, f"HTTP {status} without a Valhalla error body")

    def close(self) -> None:
        self._client.close()


def route_request(origin: Point, destination: Point) -> dict[str, Any]:
    """A car route between two lon/lat points, lengths in kilometres, street names in the maneuvers."""
    return {
        "locations": [{"lat": p.y, "lon": p.x} for p in (origin, destination)],
        "costing": "auto",
        "directions_options": {"units": "kilometers", "language": "en-US"},
    }


def parse_route(answer: Any, engine: str) -> Route:
    """A ``Route`` from Valhalla's route answer (legs with polyline6 shapes, a summary, maneuvers)."""
    trip = answer["trip"]
    per_km = 1.0 if trip.get("units", "kilometers") == "kilometers" else _KM_PER_MILE
    coords: list[tuple[float, float]] = []
    names: list[str] = []
    for leg in trip["legs"]:
        shape = polyline.decode(leg["shape"], precision=6)
        coords.extend(shape if not coords else shape[1:])
        for maneuver in leg.get("maneuvers", ()):
            names.extend(n for n in maneuver.get("street_names", ()) if n not in names)
    if len(coords) < 2:
        coords = coords * 2  # origin and destination on the same spot: a zero-length line, still a line
    return Route(
        line=LineString(coords),
        length_m=float(trip["summary"]["length"]) * per_km * 1000.0,
        duration_s=float(trip["summary"]["time"]),
        engine=engine,
        approximate=False,
        street_names=tuple(names),
    )


def exclusion_rings(
    avoid: Sequence[BaseGeometry], *, near: LineString | None = None, buffer_m: float = EXCLUDE_BUFFER_M
) -> list[tuple[float, list[list[float]]]]:
    """(perimeter in metres, [[lon, lat], …]) for each part of each area to avoid, buffered by ``buffer_m``.

    With ``near``, ordered by distance from that line, nearest first; else in the given order.
    """
    parts = list(_parts(avoid))
    if not parts:
        return []
    projection = Projection.for_geometry(near if near is not None else parts[0])
    metric_near = projection.to_metric(near) if near is not None else None
    out: list[tuple[float, float, list[list[float]]]] = []
    for part in parts:
        area = projection.to_metric(part).buffer(buffer_m, quad_segs=2).simplify(1.0)
        if not isinstance(area, Polygon) or area.is_empty:
            continue
        ring = projection.to_wgs84(LineString(area.exterior.coords))
        distance = metric_near.distance(area) if metric_near is not None else 0.0
        out.append((distance, area.exterior.length, [[x, y] for x, y in ring.coords]))
    if metric_near is not None:
        out.sort(key=lambda item: item[0])
    return [(perimeter, ring) for _, perimeter, ring in out]


def within_budget(rings: list[tuple[float, list[list[float]]]], budget_m: float) -> list[list[list[float]]]:
    """The rings, in order, while their perimeters add up to at most ``budget_m`` (one too big is skipped)."""
    kept, used = [], 0.0
    for perimeter, ring in rings:
        if used + perimeter <= budget_m:
            kept.append(ring)
            used += perimeter
    return kept


def _parts(geoms: Sequence[BaseGeometry]) -> Iterator[BaseGeometry]:
    for geom in geoms:
        if hasattr(geom, "geoms"):
            yield from _parts(list(geom.geoms))
        elif not geom.is_empty:
            yield geom


def _classify_message(engine: str, message: str) -> RoutingError:
    if any(word in message.lower() for word in _NO_ROUTE_WORDS):
        return NoRoute(engine, message)
    return BadAnswer(engine, message)
