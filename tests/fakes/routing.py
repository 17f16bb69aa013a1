"""A local routing engine on 127.0.0.1 speaking Valhalla's and OSRM's route APIs, with fault switches.

Its routes bend through a point ``bend_deg`` east of the midpoint (so they are not the straight line; a
large bend makes a road wildly longer than the straight way), are encoded as polyline6 like the real
engines', and carry street names. ``mode`` injects faults: "ok", "no_route" (Valhalla error 442 / OSRM
NoRoute, HTTP 400), "bad_request" (a 400 for a malformed request), "error" (500), "garbage" (200 with a body
that is not JSON), "hold" (the request waits until ``release`` is set or the server stops).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from pyproj import Geod

from geo import polyline
from geo.errors import BadAnswer, NoRoute, RoutingError, RoutingTimeout, RoutingUnavailable
from tests.fakes.local_http import LocalHTTPServer, QuietHandler

STREETS = ("Fake Street", "Test Road")
_GEOD = Geod(ellps="WGS84")
_OSRM_PATH = re.compile(r"^/route/v1/(\w+)/([-\d.]+),([-\d.]+);([-\d.]+),([-\d.]+)(\?.*)?$")


def bent_line(
    a: tuple[float, float], b: tuple[float, float], bend_deg: float = 0.001
) -> list[tuple[float, float]]:
    """(lon, lat) from ``a`` to ``b`` through a point ``bend_deg`` east of their midpoint."""
    return [a, ((a[0] + b[0]) / 2 + bend_deg, (a[1] + b[1]) / 2), b]


def line_length_m(coords: list[tuple[float, float]]) -> float:
    lons, lats = zip(*coords, strict=True)
    return float(_GEOD.line_length(lons, lats))


def valhalla_answer(
    a: tuple[float, float], b: tuple[float, float], bend_deg: float = 0.001
) -> dict[str, Any]:
    coords = bent_line(a, b, bend_deg)
    km = line_length_m(coords) / 1000
    summary = {"length": round(km, 3), "time": round(km * 120, 3), "min_lat": min(a[1], b[1])}
    maneuvers = [
        {"type": 1, "instruction": f"Drive on {STREETS[0]}.", "street_names": [STREETS[0]], "length": km / 2},
        {"type": 10, "instruction": f"Turn right onto {STREETS[1]}.", "street_names": [STREETS[1]]},
        {"type": 4, "instruction": "You have arrived at your destination."},
    ]
    leg = {"maneuvers": maneuvers, "summary": summary, "shape": polyline.encode(coords, precision=6)}
    return {
        "trip": {
            "locations": [
                {"type": "break", "lon": a[0], "lat": a[1]},
                {"type": "break", "lon": b[0], "lat": b[1]},
            ],
            "legs": [leg],
            "summary": summary,
            "status_message": "Found route between points",
            "status": 0,
            "units": "kilometers",
            "language": "en-US",
        }
    }


def osrm_answer(a: tuple[float, float], b: tuple[float, float], bend_deg: float = 0.001) -> dict[str, Any]:
    coords = bent_line(a, b, bend_deg)
    metres = line_length_m(coords)
    steps = [
        {"name": STREETS[0], "distance": metres / 2, "duration": metres / 20, "maneuver": {"type": "depart"}},
        {"name": STREETS[1], "distance": metres / 2, "duration": metres / 20, "maneuver": {"type": "turn"}},
        {"name": STREETS[1], "distance": 0, "duration": 0, "maneuver": {"type": "arrive"}},
    ]
    route = {
        "geometry": polyline.encode(coords, precision=6),
        "legs": [
            {
                "steps": steps,
                "summary": "",
                "weight": metres / 10,
                "duration": metres / 10,
                "distance": metres,
            }
        ],
        "weight_name": "routability",
        "weight": metres / 10,
        "duration": metres / 10,
        "distance": metres,
    }
    waypoints = [{"hint": "", "distance": 1.0, "name": STREETS[0], "location": list(a)}]
    return {"code": "Ok", "routes": [route], "waypoints": waypoints}


# Each fault mode and the typed error an adapter must turn it into.
FAULTS: dict[str, type[RoutingError]] = {
    "no_route": NoRoute,
    "bad_request": BadAnswer,
    "error": RoutingUnavailable,
    "garbage": BadAnswer,
    "hold": RoutingTimeout,
}


class RoutingServer(LocalHTTPServer):
    """``url`` for geo.valhalla.ValhallaHttp and geo.osrm.OsrmHttp; ``requests`` records (path, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.mode = "ok"
        self.bend_deg = 0.001  # how far east of the midpoint each route bends (a long way round when large)
        self.release = threading.Event()
        self.received = threading.Event()
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # Valhalla: POST /route with a JSON body
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                server._record(self.path, body)
                if self._faulted("valhalla"):
                    return
                a, b = ((loc["lon"], loc["lat"]) for loc in body["locations"])
                self._json(200, valhalla_answer(a, b, server.bend_deg))

            def do_GET(self) -> None:  # OSRM: GET /route/v1/driving/lon,lat;lon,lat?…
                server._record(self.path, None)
                match = _OSRM_PATH.match(self.path)
                if match is None:
                    self._json(400, {"code": "InvalidUrl", "message": f"URL string malformed: {self.path}"})
                    return
                if self._faulted("osrm"):
                    return
                lon1, lat1, lon2, lat2 = (float(v) for v in match.groups()[1:5])
                self._json(200, osrm_answer((lon1, lat1), (lon2, lat2), server.bend_deg))

            def _faulted(self, engine: str) -> bool:
                mode = server.mode
                if mode == "hold":
                    server.release.wait(30)  # until the test releases it or the server stops
                    mode = "ok"
                if mode == "no_route":
                    self._json(400, _ERRORS[engine]["no_route"])
                elif mode == "bad_request":
                    self._json(400, _ERRORS[engine]["bad_request"])
                elif mode == "error":
                    self._json(500, _ERRORS[engine]["error"])
                elif mode == "garbage":
                    self._raw(200, b"<html>proxy error</html>", "text/html")
                return mode != "ok"

            def _json(self, status: int, body: Any) -> None:
                self._raw(status, json.dumps(body).encode(), "application/json")

            def _raw(self, status: int, data: bytes, kind: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except ConnectionError:
                    return  # the client gave up waiting (a timeout under test)

        super().__init__(Handler)

    def _record(self, path: str, body: Any) -> None:
        self.requests.append((path, body))
        self.received.set()

    @property
    def url(self) -> str:
        return self.url_for()

    def _release_held(self) -> None:
        super()._release_held()
        self.release.set()  # a "hold" waits on ``release``


# The engines' own error bodies (Valhalla: error_code/error/status_code/status; OSRM: code/message).
_ERRORS: dict[str, dict[str, Any]] = {
    "valhalla": {
        "no_route": {"error_code": 442, "error": "No path could be found for input", "status_code": 400,
                     "status": "Bad Request"},
        "bad_request": {"error_code": 106, "error": "Try any of:'/route' '/locate'", "status_code": 400,
                        "status": "Bad Request"},
        "error": {"error_code": 599, "error": "Unknown", "status_code": 500,
                  "status": "Internal Server Error"},
    },
    "osrm": {
        "no_route": {"code": "NoRoute", "message": "Impossible route between points"},
        "bad_request": {"code": "InvalidValue", "message": "Query string malformed close to position 30"},
        "error": {"code": "InternalError", "message": "internal error"},
    },
}  # fmt: skip
