"""A local geocoding server on 127.0.0.1 speaking Nominatim's ``/search`` and ``/reverse`` (``format=json``
as geopy asks, and ``jsonv2``) and Photon's ``/api`` and ``/reverse`` (GeoJSON), over a small gazetteer
of real Riyadh and Jeddah places, with fault switches. Fixture: ``geocoding_server``.

``mode``: "ok"; "rate_limited" (429 with ``Retry-After``); "error" (500); "garbage" (200, not JSON);
"hold" (the request waits until ``release`` is set, or the server stops: for client timeouts).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.local_http import LocalHTTPServer, QuietHandler

RETRY_AFTER_S = 7


@dataclass(frozen=True)
class Entry:
    """One gazetteer place: names and address parts in Arabic and English, (lat, lon), OSM class/type."""

    osm_id: int
    name_ar: str
    name_en: str
    lat: float
    lon: float
    category: str
    type: str
    city_ar: str
    city_en: str
    suburb_ar: str = ""
    suburb_en: str = ""
    importance: float = 0.5

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_ar

    def address(self, lang: str) -> dict[str, str]:
        en = lang == "en"
        out = {"city": self.city_en if en else self.city_ar, "country": "Saudi Arabia" if en else "السعودية"}
        if self.suburb_ar:
            out["suburb"] = self.suburb_en if en else self.suburb_ar
        if self.category == "highway":
            out["road"] = self.name(lang)
        else:
            out[self.type] = self.name(lang)
        out["country_code"] = "sa"
        return out

    def display_name(self, lang: str) -> str:
        parts = [self.name(lang), (self.suburb_en if lang == "en" else self.suburb_ar)]
        parts += [
            self.city_en if lang == "en" else self.city_ar,
            "Saudi Arabia" if lang == "en" else "السعودية",
        ]
        return ", ".join(p for p in parts if p)


GAZETTEER = (
    Entry(1, "برج المملكة", "Kingdom Centre", 24.7114, 46.6744, "building", "commercial", "الرياض", "Riyadh",
          "العليا", "Al Olaya", 0.6),
    Entry(2, "طريق الملك فهد", "King Fahd Road", 24.7050, 46.6780, "highway", "primary", "الرياض", "Riyadh",
          "العليا", "Al Olaya", 0.55),
    Entry(3, "حي الملز", "Al Malaz", 24.6650, 46.7350, "place", "suburb", "الرياض", "Riyadh",
          importance=0.45),
    Entry(4, "شارع التحلية", "Tahlia Street", 24.6950, 46.6850, "highway", "secondary", "الرياض", "Riyadh",
          "العليا", "Al Olaya", 0.4),
    Entry(5, "شارع التحلية", "Tahlia Street", 21.5460, 39.1520, "highway", "secondary", "جدة", "Jeddah",
          "الأندلس", "Al Andalus", 0.4),
    Entry(6, "كورنيش جدة", "Jeddah Corniche", 21.5900, 39.1050, "highway", "primary", "جدة", "Jeddah",
          importance=0.5),
)  # fmt: skip


def matches(entry: Entry, query: str) -> bool:
    q = query.casefold().strip()
    return bool(q) and any(q in n.casefold() or n.casefold() in q for n in (entry.name_ar, entry.name_en))


def _in_box(entry: Entry, box: tuple[float, float, float, float]) -> bool:
    lon1, lat1, lon2, lat2 = box
    return min(lon1, lon2) <= entry.lon <= max(lon1, lon2) and min(lat1, lat2) <= entry.lat <= max(lat1, lat2)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return 111_320.0 * math.hypot(lat1 - lat2, (lon1 - lon2) * k)


def nominatim_json(entry: Entry, lang: str, *, v2: bool, details: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "place_id": 100_000 + entry.osm_id,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
        "osm_type": "way" if entry.category == "highway" else "node",
        "osm_id": entry.osm_id,
        "lat": f"{entry.lat:.7f}",
        "lon": f"{entry.lon:.7f}",
        "type": entry.type,
        "importance": entry.importance,
        "display_name": entry.display_name(lang),
        "boundingbox": [f"{entry.lat - 0.001:.7f}", f"{entry.lat + 0.001:.7f}",
                        f"{entry.lon - 0.001:.7f}", f"{entry.lon + 0.001:.7f}"],
    }  # fmt: skip
    if v2:
        out.update(category=entry.category, place_rank=26, addresstype=entry.type, name=entry.name(lang))
    else:
        out["class"] = entry.category
    if details:
        out["address"] = entry.address(lang)
    return out


def photon_feature(entry: Entry, lang: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "osm_id": entry.osm_id,
        "osm_type": "W" if entry.category == "highway" else "N",
        "osm_key": entry.category,
        "osm_value": entry.type,
        "name": entry.name(lang),
        "city": entry.city_en if lang == "en" else entry.city_ar,
        "country": "Saudi Arabia" if lang == "en" else "السعودية",
        "countrycode": "SA",
        "type": "street" if entry.category == "highway" else "house",
    }
    if entry.suburb_ar:
        props["district"] = entry.suburb_en if lang == "en" else entry.suburb_ar
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [entry.lon, entry.lat]},
            "properties": props}  # fmt: skip


@dataclass(frozen=True)
class Request:
    path: str
    params: dict[str, str]
    user_agent: str


class GeocodingServer(LocalHTTPServer):
    """``domain`` is "127.0.0.1:PORT" (scheme http); ``requests`` lists what was asked, in order."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.mode = "ok"
        self.release = threading.Event()  # "hold" lets a request go when set
        self.held = threading.Event()  # set when a request starts being held
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                server.requests.append(Request(url.path, params, self.headers.get("User-Agent", "")))
                if server.mode == "hold":
                    server.held.set()
                    while not (server.release.is_set() or server.stopping.is_set()):
                        server.release.wait(0.05)
                if server.mode == "rate_limited":
                    self._send(429, b'{"error": "Too many requests"}', {"Retry-After": str(RETRY_AFTER_S)})
                elif server.mode == "error":
                    self._send(500, b"<html><body>Internal Server Error</body></html>", {})
                elif server.mode == "garbage":
                    self._send(200, b"<html>not json", {})
                else:
                    body = server.answer(url.path, params)
                    if body is None:
                        self._send(404, b'{"error": "unknown path"}', {})
                    else:
                        self._send(200, json.dumps(body, ensure_ascii=False).encode(), {})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def searches(self) -> list[Request]:
        return [r for r in self.requests if r.path in ("/search", "/api")]

    def reverses(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/reverse"]

    def answer(self, path: str, p: dict[str, str]) -> Any:
        lang = "en" if p.get("accept-language", p.get("lang", "")).startswith("en") else "ar"
        if path == "/search":
            found = self.search(p.get("q", ""), p)
            v2, details = p.get("format") == "jsonv2", p.get("addressdetails") == "1"
            return [nominatim_json(e, lang, v2=v2, details=details) for e in found]
        if path == "/api":
            return {"type": "FeatureCollection", "features": [photon_feature(e, lang) for e in self.search(
                p.get("q", ""), p)]}  # fmt: skip
        if path == "/reverse":
            entry = self.nearest_road(float(p["lat"]), float(p["lon"]))
            if "format" not in p:  # Photon
                features = [photon_feature(entry, lang)] if entry else []
                return {"type": "FeatureCollection", "features": features}
            if entry is None:
                return {"error": "Unable to geocode"}
            return nominatim_json(entry, lang, v2=p["format"] == "jsonv2", details=True)
        return None

    def search(self, query: str, p: dict[str, str]) -> list[Entry]:
        found = [e for e in GAZETTEER if matches(e, query)]
        if "countrycodes" in p:
            found = [e for e in found if "sa" in p["countrycodes"].split(",")]
        box = tuple(float(v) for v in p["viewbox"].split(",")) if "viewbox" in p else None
        if box is None and "bbox" in p:  # Photon: minLon,minLat,maxLon,maxLat
            box = tuple(float(v) for v in p["bbox"].split(","))
        if box is not None and (p.get("bounded") == "1" or "bbox" in p):
            found = [e for e in found if _in_box(e, box)]  # type: ignore[arg-type]
        elif box is not None:  # a viewbox without bounded only ranks: inside first
            found.sort(key=lambda e: not _in_box(e, box))  # type: ignore[arg-type]
        return found[: int(p.get("limit", 10))]

    def nearest_road(self, lat: float, lon: float, within_m: float = 1_500.0) -> Entry | None:
        roads = [(e, _metres(lat, lon, e.lat, e.lon)) for e in GAZETTEER if e.category == "highway"]
        best = min(roads, key=lambda r: r[1])
        return best[0] if best[1] <= within_m else None


def bot_geocoder_settings(server: GeocodingServer) -> dict[str, Any]:
    """Settings for a bot whose geocoder is this server: no spacing between requests, a short timeout."""
    return {
        "geocoder": "nominatim",
        "geocoder_domain": server.domain,
        "geocoder_scheme": "http",
        "geocoder_min_interval_s": 0.0,
        "geocoder_timeout_s": 1.0,
    }


@pytest.fixture
def geocoding_server() -> Iterator[GeocodingServer]:
    """A running local Nominatim/Photon on 127.0.0.1 (a free port), stopped after the test."""
    with GeocodingServer().running() as server:
        yield server
