"""The public feeds as Starlette routes: GeoJSON, WZDx, Waze CIFS (JSON and XML) and Atom; and CAP
(``bot.web.cap_routes``), answered the same way.

Each feed holds the active and upcoming closures of every municipality. A body is built once per change of
the store (``closures.feeds.FeedCache``) in a worker thread, never on the event loop; a request whose
``If-None-Match`` names the current ETag gets ``304 Not Modified``. Each body is also gzipped once per
change and sent so to clients that accept it (10,000 closures make megabytes of feed). CORS is open (any
origin may read the feeds), with an answer to preflight requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.utils import format_datetime

import sqlalchemy.exc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.i18n import LANGUAGES, get_translator
from bot.services import Services
from bot.web.json_pieces import compact_json, release_in_steps
from closures.feeds import Built, FeedCache, FeedSnapshot, Snapshot
from closures.formats.atom import atom_feed
from closures.formats.cifs import cifs_json, cifs_xml
from closures.formats.geojson import exported_feature, feature_collection
from closures.formats.wzdx import work_zone_feed

log = logging.getLogger(__name__)

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag, Last-Modified"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since, Cache-Control",
    "Access-Control-Max-Age": "86400",
}
CONTENT_TYPES = {
    "closures.geojson": "application/geo+json",
    "wzdx.json": "application/geo+json",
    "waze.json": "application/json",
    "waze.xml": "application/xml; charset=utf-8",
    "closures.atom": "application/atom+xml; charset=utf-8",
}


type Builder = Callable[[FeedSnapshot], bytes]


def _json(data: object) -> bytes:
    body = compact_json(data)  # json.dumps's bytes, without holding the GIL for a whole feed (json_pieces)
    release_in_steps(data)  # built for this body alone: freed in slices, not in one long call
    return body


def feed_builders(services: Services) -> dict[str, Builder]:
    """The body of each feed (except Atom, which depends on the request) from a snapshot: pure work."""
    settings = services.settings

    def geojson(snap: FeedSnapshot) -> bytes:
        return _json(feature_collection(exported_feature(i.closure, i.municipality.slug) for i in snap.items))

    def wzdx(snap: FeedSnapshot) -> bytes:
        return _json(
            work_zone_feed(
                snap.items,
                as_of=snap.as_of,
                publisher=settings.feed_publisher,
                municipalities=snap.municipalities,
                update_frequency_s=settings.feed_max_age_s or None,
            )
        )

    return {
        "closures.geojson": geojson,
        "wzdx.json": wzdx,
        "waze.json": lambda snap: _json(cifs_json(snap.items, as_of=snap.as_of)),
        "waze.xml": lambda snap: cifs_xml(snap.items, as_of=snap.as_of),
    }


def feed_routes(services: Services, feeds: FeedEndpoints | None = None) -> list[BaseRoute]:
    """``/feeds/<name>`` for every feed, sharing one cache over ``services.engine``."""
    feeds = feeds or FeedEndpoints(services)
    return [
        Route(f"/feeds/{name}", feeds.endpoint(name), methods=["GET", "HEAD", "OPTIONS"])
        for name in CONTENT_TYPES
    ]


class FeedEndpoints:
    """The feeds' request handling: a body from the cache (built in a worker thread when the store moved),
    then 304 or the body, gzipped when the client accepts it."""

    def __init__(self, services: Services) -> None:
        settings = self.settings = services.settings
        self.cache = FeedCache(
            services.engine,
            clock=services.clock,
            check_interval=timedelta(seconds=settings.index_check_interval_s),
        )
        self.builders = feed_builders(services)
        self.cache_control = f"public, max-age={settings.feed_max_age_s}"

    def endpoint(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return await self.serve(name, request)

        serve.__name__ = f"feed_{name.replace('.', '_')}"
        return serve

    async def serve(self, name: str, request: Request) -> Response:
        """One request for feed ``name``: preflight, 503 without a database, 304, or the body."""
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        key, build = self.atom_builder(request) if name == "closures.atom" else (name, self.builders[name])
        return await self.respond(name, request, self.cache, key, build)

    async def respond[S: Snapshot](
        self,
        name: str,
        request: Request,
        cache: FeedCache[S],
        key: str,
        build: Callable[[S], bytes],
        *,
        media_type: str | None = None,
    ) -> Response:
        """The body for ``key`` from ``cache`` (built in a worker thread when the store moved), answered;
        503 while the database does not answer."""
        built = cache.peek(key)
        if built is None:
            try:
                built = await asyncio.to_thread(cache.get, key, build)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("feed %s: database unavailable: %s", name, exc.__class__.__name__)
                return JSONResponse(
                    {"error": "database unavailable"},
                    status_code=503,
                    headers={**CORS, "Retry-After": "5", "Cache-Control": "no-store"},
                )
        return self.answer(name, request, built, media_type=media_type)

    def answer(self, name: str, request: Request, built: Built, *, media_type: str | None = None) -> Response:
        """304 when the client has this content, else the body (gzipped if it accepts that), sent as
        ``media_type`` (default: the feed ``name``'s)."""
        media_type = media_type or CONTENT_TYPES[name]
        zipped = _accepts_gzip(request.headers.get("accept-encoding", ""))
        headers = {
            **CORS,
            "ETag": built.gzip_etag if zipped else built.etag,
            "Cache-Control": self.cache_control,
            "Last-Modified": format_datetime(built.as_of, usegmt=True),
            "Vary": "Accept-Encoding",
        }
        if _matches(request.headers.get("if-none-match"), built):
            return Response(status_code=304, headers=headers)
        if zipped:
            headers["Content-Encoding"] = "gzip"
            return Response(built.gzipped, media_type=media_type, headers=headers)
        return Response(built.body, media_type=media_type, headers=headers)

    def atom_builder(self, request: Request) -> tuple[str, Builder]:
        """Atom's cache key and builder: its language and its links depend on the request."""
        settings = self.settings
        lang = request.query_params.get("lang") or settings.default_language
        lang = lang if lang in LANGUAGES else settings.default_language
        base = str(request.base_url).rstrip("/")

        def build(snap: FeedSnapshot) -> bytes:
            return atom_feed(
                snap.items,
                as_of=snap.as_of,
                title=get_translator(lang).t("feeds.atom.title"),
                publisher=settings.feed_publisher,
                self_url=f"{base}{request.url.path}" + ("?lang=en" if lang == "en" else ""),
                page_url=f"{base}/",
                lang=lang,
            )

        return f"closures.atom:{lang}:{base}", build


def _matches(header: str | None, built: Built) -> bool:
    """Does ``If-None-Match`` name this content, in either encoding? (weak comparison, as RFC 9110 asks)"""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or built.etag in tags or built.gzip_etag in tags


def _accepts_gzip(header: str) -> bool:
    """Does ``Accept-Encoding`` allow gzip (named or ``*``, with a weight above zero)?"""
    for part in header.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        weight = params.strip().removeprefix("q=")
        try:
            return not params.strip() or float(weight) > 0
        except ValueError:
            return False
    return False
