"""OSRM over HTTP behind the ``Router`` protocol.

OSRM routes on a fixed, pre-processed graph and cannot exclude areas at request time, so a route asked to
avoid closures comes back as the plain route marked ``avoided=False``: the bot then says no detour is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo import polyline
from geo.enginehttp import make_client, request_json
from geo.errors import BadAnswer, NoRoute, RoutingError
from geo.routing import Route

# OSRM's answer codes meaning no route joins the points (the others say our request was wrong).
_NO_ROUTE_CODES = frozenset({"NoRoute", "NoSegment", "NoMatch"})


class OsrmHttp:
    """An osrm-routed server (or any server speaking its route service v1) at ``url``."""

    name = "osrm-http"

    def __init__(
        self,
        url: str,
        *,
        profile: str = "driving",
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.profile = profile
        self._client = make_client(url, timeout_s, transport)

    def route(self, origin: Point, destination: Point, *, avoid: Sequence[BaseGeometry] = ()) -> Route:
        where = f"{origin.x:.6f},{origin.y:.6f};{destination.x:.6f},{destination.y:.6f}"
        answer = request_json(
            self._client,
            self.name,
            "GET",
            f"/route/v1/{self.profile}/{where}",
            params={"overview": "full", "geometries": "polyline6", "steps": "true"},
            classify=self._classify,
        )
        if not isinstance(answer, dict) or answer.get("code") != "Ok":
            raise self._classify(200, answer)
        try:
            return parse_route(answer, self.name, avoided=not avoid)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise BadAnswer(self.name, f"unreadable route answer ({type(exc).__name__}: {exc})") from exc

    def _classify(self, status: int, body: Any) -> RoutingError:
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message", "") if isinstance(body, dict) else ""
        if code in _NO_ROUTE_CODES:
            return NoRoute(self.name, f"{code}: {message}")
        return BadAnswer(self.name, f"HTTP {status}, code {code}: {message}")

    def close(self) -> None:
        self._client.close()


def parse_route(answer: dict[str, Any], engine: str, *, avoided: bool) -> Route:
    """A ``Route`` from OSRM's answer: the first route's polyline6 shape, distance, duration, step names."""
    best = answer["routes"][0]
    coords = polyline.decode(best["geometry"], precision=6)
    if len(coords) < 2:
        coords = coords * 2
    names: list[str] = []
    for leg in best.get("legs", ()):
        for step in leg.get("steps", ()):
            name = step.get("name") or ""
            if name and name not in names:
                names.append(name)
    return Route(
        line=LineString(coords),
        length_m=float(best["distance"]),
        duration_s=float(best["duration"]),
        engine=engine,
        approximate=False,
        street_names=tuple(names),
        avoided=avoided,
    )
