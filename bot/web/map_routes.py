"""The map's routes: the page, its closures as JSON, and the municipalities' boundaries under them.

Database work runs in worker threads; the map's JSON is built once per change of the closures (and of the
day, which relative times depend on) and then answered from memory, or with 304 to a page that has it.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, overload

import sqlalchemy.exc
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.i18n import get_translator
from bot.services import Services
from bot.web.json_pieces import release_in_steps
from bot.web.map_page import PageOptions, closures_collection, map_page, pick_language
from closures import municipalities
from closures.lifecycle import Phase
from closures.models import Municipality

log = logging.getLogger(__name__)
UNAVAILABLE_HEADERS = {"Retry-After": "30"}


@dataclass(frozen=True, slots=True)
class MapBody:
    etag: str
    json: bytes
    gzip: bytes  # compressed once per version, not per request


class MapData:
    """The map's JSON per language, rebuilt only when what it shows may have changed."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._cache: dict[str, tuple[tuple[Any, ...], MapBody]] = {}  # lang → (key, body)
        # One build per language at a time: the requests that come while it runs wait for it and take its
        # body, instead of each building the same map again (N times the CPU, and the GIL taken from the
        # event loop N times as long). An unchanged map is answered without the lock.
        self._building: dict[str, threading.Lock] = {}

    def get(self, lang: str) -> MapBody:
        """The closures in ``lang`` now (blocking: may read the store's counter and rebuild)."""
        made = self._current(lang)
        if made is not None:
            return made
        with self._building.setdefault(lang, threading.Lock()):
            return self._current(lang, build=True)  # built meanwhile by the request this one waited for?

    @overload
    def _current(self, lang: str) -> MapBody | None: ...
    @overload
    def _current(self, lang: str, *, build: Literal[True]) -> MapBody: ...

    def _current(self, lang: str, *, build: bool = False) -> MapBody | None:
        services = self._services
        now = services.clock()
        relevant = services.queries.relevant(at=now)
        # What the texts depend on: the closures and their phases, and each zone's date ("tomorrow").
        days = tuple(now.astimezone(zone).date() for _, zone in sorted(services.zones.items()))
        key = (relevant.counter, relevant.built_at, relevant.since, days)
        cached = self._cache.get(lang)
        if cached is not None and cached[0] == key:
            return cached[1]
        if not build:
            return None
        collection = closures_collection(relevant.found, get_translator(lang), services.zones, now)
        body = _dumps(collection)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        made = MapBody(etag, body, gzip.compress(body, compresslevel=6, mtime=0))
        self._cache[lang] = (key, made)
        return made


def _dumps(collection: dict[str, Any]) -> bytes:
    # Feature by feature: one json.dumps call holds the GIL throughout, and thousands of features in one
    # call would stall the event loop's thread for that long.
    features = collection.pop("features")
    head = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))[:-1]
    parts = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    release_in_steps(features)  # and freed a slice at a time, not in one call (bot.web.json_pieces)
    return f'{head},"features":[{",".join(parts)}]}}'.encode()


def municipality_boundaries(services: Services, lang: str) -> bytes:
    """Every municipality's boundary as GeoJSON, named in ``lang`` (blocking)."""
    features = [
        {
            "type": "Feature",
            "id": m.slug,
            "geometry": json.loads(m.boundary_geojson),
            "properties": {"slug": m.slug, "name": (m.name_en or m.name_ar) if lang == "en" else m.name_ar},
        }
        for m in municipalities.every(services.engine, order="id")
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def _opening_municipality(services: Services, asked: str | None) -> Municipality | None:
    """The municipality the page opens on: the one asked for, else the one with most closures in force
    now (then most coming up), else the first (blocking)."""
    every = municipalities.every(services.engine, order="id")
    chosen = next((m for m in every if m.slug == asked), None) if asked else None
    if chosen is not None or not every:
        return chosen or (every[0] if every else None)
    found = services.queries.relevant(at=services.clock()).found
    active = Counter(f.closure.municipality_id for f in found if f.phase is Phase.ACTIVE)
    upcoming = Counter(f.closure.municipality_id for f in found)
    return max(every, key=lambda m: (active[m.id or 0], upcoming[m.id or 0], -(m.id or 0)))


def map_routes(services: Services) -> list[BaseRoute]:
    """``/`` (the page), ``/map/closures.json`` and ``/map/boundaries.json``, in the reader's language."""
    settings = services.settings
    map_data = MapData(services)

    def language(request: Request) -> str:
        asked, accepted = request.query_params.get("lang"), request.headers.get("accept-language")
        return pick_language(asked, accepted, settings.default_language)

    async def page(request: Request) -> Response:
        """The map page on one municipality (``?m=slug``, else the one with most closures in force), in
        ``?lang=``, else that municipality's language, else the browser's."""
        try:
            shown = await asyncio.to_thread(_opening_municipality, services, request.query_params.get("m"))
        except sqlalchemy.exc.SQLAlchemyError:
            log.warning("the map page cannot read the municipalities", exc_info=True)
            shown = None
        asked, accepted = request.query_params.get("lang"), request.headers.get("accept-language")
        own = shown.language if shown is not None else None
        lang = pick_language(asked, None if own else accepted, own or settings.default_language)
        name = None if shown is None else (shown.name_en or shown.name_ar) if lang == "en" else shown.name_ar
        options = PageOptions(
            closures_url=f"map/closures.json?lang={lang}",
            boundaries_url=f"map/boundaries.json?lang={lang}",
            refresh_s=settings.map_refresh_s,
            tile_url=settings.map_tile_url,
            tile_attribution=settings.map_tile_attribution,
            municipality=(shown.id or 0, shown.slug, name or shown.slug) if shown is not None else None,
        )
        headers = {"Content-Language": lang, "Vary": "Accept-Language", "Cache-Control": "no-cache"}
        return HTMLResponse(map_page(get_translator(lang), options), headers=headers)

    async def closures_json(request: Request) -> Response:
        """Active and upcoming closures with their texts; 304 when the page already has this version."""
        lang = language(request)
        try:
            body = await asyncio.to_thread(map_data.get, lang)
        except sqlalchemy.exc.SQLAlchemyError as exc:  # the page keeps what it has and says so
            log.warning("map: the closures cannot be read: %s", type(exc).__name__)
            return JSONResponse({"error": "unavailable"}, status_code=503, headers=UNAVAILABLE_HEADERS)
        headers = {"ETag": body.etag, "Cache-Control": "no-cache", "Vary": "Accept-Language, Accept-Encoding"}
        if _etags(request.headers.get("if-none-match")) & {body.etag, "*"}:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(body.gzip, media_type="application/json", headers=headers)
        return Response(body.json, media_type="application/json", headers=headers)

    async def boundaries_json(request: Request) -> Response:
        """The municipalities' boundaries, drawn under the closures."""
        try:
            body = await asyncio.to_thread(municipality_boundaries, services, language(request))
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("map: the boundaries cannot be read: %s", type(exc).__name__)
            return JSONResponse({"error": "unavailable"}, status_code=503, headers=UNAVAILABLE_HEADERS)
        return Response(body, media_type="application/json", headers={"Cache-Control": "max-age=300"})

    return [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/map/closures.json", closures_json, methods=["GET", "HEAD"]),
        Route("/map/boundaries.json", boundaries_json, methods=["GET", "HEAD"]),
    ]


def _etags(header: str | None) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as RFC 9110 says for GET)."""
    return {tag.strip().removeprefix("W/") for tag in (header or "").split(",") if tag.strip()}
