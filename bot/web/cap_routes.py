"""The CAP 1.2 feed as Starlette routes: ``/feeds/cap.atom`` lists the alerts in force (Atom, each entry
linking to its alert), and every issued emergency version is a CAP alert at ``/feeds/cap/<identifier>.xml``,
a URL that never changes (an Update's ``references`` name the earlier ones, which stay there).

Answered like the other feeds (``bot.web.feed_routes.FeedEndpoints``): a body is built once per change of
the store, in a worker thread (``closures.feeds.FeedCache`` over the emergencies' snapshot), gzipped once,
sent with a strong ETag (``If-None-Match`` → 304) and open CORS. An alert no longer listed (an emergency
that ended days ago) is read from the database on request, also off the event loop. An identifier that
names no issued version is a 404: a draft never went out.

Links (the Atom's own, its entries', each alert's ``web``) use the host the request came to, as the
closures' Atom feed does, so the cache keeps one body per host (and per language for the Atom).
"""

from __future__ import annotations

import re
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.i18n import LANGUAGES, get_translator
from bot.services import Services
from bot.web.feed_routes import CORS, PREFLIGHT, FeedEndpoints
from closures.cap_alerts import CapSeries, CapSnapshot, alert_of, cap_series_of, cap_snapshot
from closures.feeds import FeedCache
from closures.formats.cap import CAP_MIME, CapAlert, alert_xml
from closures.formats.cap_atom import cap_atom

ATOM_TYPE = "application/atom+xml; charset=utf-8"
CAP_TYPE = f"{CAP_MIME}; charset=utf-8"
_IDENTIFIER = re.compile(r"^[^\s,<&/]{1,200}$")  # what CAP allows in an identifier, and never a path
_METHODS = ["GET", "HEAD", "OPTIONS"]


class UnknownAlert(LookupError):
    """No issued emergency version has this identifier."""


def cap_routes(services: Services, feeds: FeedEndpoints) -> list[BaseRoute]:
    """``/feeds/cap.atom`` and ``/feeds/cap/{identifier}.xml``."""
    cap = CapEndpoints(services, feeds)
    return [
        Route("/feeds/cap.atom", cap.atom, methods=_METHODS, name="feed_cap_atom"),
        Route("/feeds/cap/{identifier}.xml", cap.alert, methods=_METHODS, name="feed_cap_alert"),
    ]


class CapEndpoints:
    def __init__(self, services: Services, feeds: FeedEndpoints) -> None:
        self.settings = services.settings
        self.engine = services.engine
        self.feeds = feeds
        self.cache = FeedCache(
            services.engine,
            clock=services.clock,
            check_interval=timedelta(seconds=self.settings.index_check_interval_s),
            take=cap_snapshot,
            max_keys=64,  # keys come partly from requests (host, identifier): bounded
        )

    async def atom(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        lang = request.query_params.get("lang") or self.settings.default_language
        lang = lang if lang in LANGUAGES else self.settings.default_language
        base = str(request.base_url).rstrip("/")

        def build(snap: CapSnapshot) -> bytes:
            return cap_atom(
                [self._alert(s, len(s.versions) - 1, base) for s in snap.series],
                as_of=snap.as_of,
                title=get_translator(lang).t("feeds.cap.title"),
                publisher=self.settings.feed_publisher,
                self_url=f"{base}/feeds/cap.atom" + ("?lang=en" if lang == "en" else ""),
                url_of=lambda alert: f"{base}/feeds/cap/{alert.identifier}.xml",
                lang=lang,
            )

        key = f"cap.atom:{lang}:{base}"
        return await self.feeds.respond("cap.atom", request, self.cache, key, build, media_type=ATOM_TYPE)

    async def alert(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        identifier = str(request.path_params["identifier"])
        base = str(request.base_url).rstrip("/")

        def build(snap: CapSnapshot) -> bytes:
            found = snap.find(identifier) or cap_series_of(self.engine, identifier)  # listed, or read now
            if found is None:
                raise UnknownAlert(identifier)
            return alert_xml(self._alert(*found, base))

        try:
            if not _IDENTIFIER.match(identifier):
                raise UnknownAlert(identifier)
            key = f"cap:{identifier}:{base}"
            return await self.feeds.respond("cap", request, self.cache, key, build, media_type=CAP_TYPE)
        except UnknownAlert:
            return PlainTextResponse(f"no CAP alert {identifier}\n", status_code=404, headers=CORS)

    def _alert(self, series: CapSeries, position: int, base: str) -> CapAlert:
        return alert_of(
            series,
            position,
            sender=self.settings.cap_sender_id(),
            web=f"{base}/",  # the map page: the roads the emergency closed are on it
            event_name=lambda hazard, lang: get_translator(lang).t(f"emergency.hazard.{hazard}"),
        )
