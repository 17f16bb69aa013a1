"""Partner feeds: fetch a neighbouring agency's WZDx, CIFS or GeoJSON feed and apply it to the registry, or a
met service's CAP alerts and draft them as emergencies (``bot.web.cap_partners``).

``fetch_feed`` reads a URL with a timeout and a size limit and turns every failure (an HTTP error status,
a timeout, an unreachable host, a body too large or not text) into one ``FetchError`` with a plain
message. ``PartnerPoller`` polls the feeds in ``Settings.partner_feeds``, each on its own interval: it
fetches on the event loop (httpx, async; a conditional GET with the ETag of the feed it last applied, so an
unchanged feed costs a 304) and applies the import in a worker thread. A failed poll is
logged and changes nothing (``closures.importing`` prunes only after reading a feed whole); the next poll
runs as planned. A partner's removed event is lifted (or cancelled, if it had not started) on the next
successful poll. A CAP feed's linked alerts are fetched conditionally too: an alert unchanged since it was
applied costs a 304.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import sqlalchemy.exc
from sqlalchemy.engine import Engine

from bot.config import PartnerFeed, Settings
from bot.singletons import Singleton
from bot.web.cap_partners import CapRead, apply_cap, read_cap_source
from closures.cap_import import CapImportReport
from closures.emergencies import EmergencyService
from closures.errors import ClosureError
from closures.importing import READERS, ImportReport, apply_import
from closures.locks import ProcessLock
from closures.service import Actor, ClosureService
from geo.errors import GeometryError

log = logging.getLogger(__name__)
POLL_ACTOR = Actor.system("poll")
USER_AGENT = "road-closure-bot (partner feed import)"
PARTNER_FEEDS_LOCK = "partner-feeds"


class FetchError(Exception):
    """A feed could not be fetched; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Fetched:
    text: str | None  # None: not modified since the ETag the caller gave
    etag: str | None


async def fetch_feed(
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    client: httpx.AsyncClient | None = None,
    etag: str | None = None,
) -> Fetched:
    """The body of ``url`` as text (blocking nothing: async); with ``etag``, a conditional request."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url}: not an http(s) URL")
    own = client is None
    client = client or httpx.AsyncClient(follow_redirects=True, headers={"User-Agent": USER_AGENT})
    headers = {"If-None-Match": etag} if etag else {}
    try:
        async with client.stream("GET", url, timeout=timeout_s, headers=headers) as response:
            if response.status_code == 304 and etag:
                return Fetched(None, etag)
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url}: larger than {_size(max_bytes)} ({_size(int(declared))})")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: larger than {_size(max_bytes)}")
                chunks.append(chunk)
            encoding = response.charset_encoding or "utf-8"
            new_etag = response.headers.get("etag")
    except httpx.TimeoutException:
        raise FetchError(f"{url}: no answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}") from None
    finally:
        if own:
            await client.aclose()
    try:
        return Fetched(b"".join(chunks).decode(encoding), new_etag)
    except (UnicodeDecodeError, LookupError):
        raise FetchError(f"{url}: the body is not {encoding} text") from None


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def default_source(fmt: str, url: str | None) -> str:
    """What imported closures' ``source`` says: ``<format>:<host>`` for a URL, ``<format>:file`` else."""
    host = urlsplit(url).hostname if url else None
    return f"{fmt}:{host or 'file'}"[:64]


@dataclass(frozen=True, slots=True)
class PollResult:
    url: str
    source: str
    report: ImportReport | CapImportReport | None
    error: str | None
    not_modified: bool = False  # the partner answered 304 to the ETag of the feed applied last time

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "source": self.source,
            "ok": self.error is None,
            "error": self.error,
            "not_modified": self.not_modified,
            **({"report": self.report.as_dict()} if self.report else {}),
        }


class PartnerPoller:
    """Polls partner feeds into the registry; one instance per process (the bot's or ``roadbot poll``)."""

    def __init__(
        self,
        settings: Settings,
        service: ClosureService,
        *,
        client: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_result: Callable[[PollResult], None] | None = None,
        emergencies: EmergencyService | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.emergencies = emergencies  # for CAP feeds (built from ``service`` when not given)
        self._client = client
        self._monotonic = monotonic
        self._on_result = on_result  # told of every poll's outcome (metrics, tests)
        self._etags: dict[str, str] = {}  # per URL, the ETag of the last feed applied whole
        self._pending: dict[str, str] = {}  # a CAP feed's linked alerts' ETags, until the feed is applied

    async def poll(self, feed: PartnerFeed) -> PollResult:
        """Fetch one feed and apply it; every failure is logged and returned, never raised."""
        result = await self._poll(feed)
        if self._on_result is not None:
            self._on_result(result)
        return result

    async def _poll(self, feed: PartnerFeed) -> PollResult:
        source = feed.source or default_source(feed.format, feed.url)
        try:
            fetched = await fetch_feed(
                feed.url,
                timeout_s=self.settings.partner_timeout_s,
                max_bytes=self.settings.partner_max_bytes,
                client=self._client,
                etag=self._etags.get(feed.url),
            )
            if fetched.text is None:  # 304: the feed is what was applied last time
                empty = CapImportReport() if feed.format == "cap" else ImportReport()
                return PollResult(feed.url, source, empty, None, not_modified=True)
            if feed.format == "cap":
                self._pending = {}
                read = await read_cap_source(
                    fetched.text,
                    url=feed.url,
                    fetch=self._fetch_linked,
                    max_bytes=self.settings.partner_max_bytes,
                )
                report: ImportReport | CapImportReport = await asyncio.to_thread(
                    self._apply_cap, feed, read, source
                )
                self._etags.update(self._pending)
            else:
                report = await asyncio.to_thread(self._apply, feed, fetched.text, source)
        except FetchError as exc:
            return self._failed(feed, source, str(exc))
        except (ClosureError, GeometryError) as exc:
            return self._failed(feed, source, f"{feed.url}: unreadable feed: {exc}")
        except sqlalchemy.exc.SQLAlchemyError as exc:  # the next poll tries again; the feed is still there
            first = str(exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc).splitlines()[0]
            return self._failed(feed, source, f"{feed.url}: database problem: {first}")
        for rejected in report.rejected:
            what = rejected.get("ref", rejected.get("alert"))
            log.warning("partner feed %s: %s refused: %s", feed.url, what, rejected["error"])
        if report.changed:
            log.info("partner feed %s: %s", feed.url, report.as_dict())
        if fetched.etag:
            self._etags[feed.url] = fetched.etag
        return PollResult(feed.url, source, report, None)

    async def poll_all(self) -> list[PollResult]:
        """Every configured feed once, one after the other (they share the database's write lock)."""
        return [await self.poll(feed) for feed in self.settings.partner_feeds]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll each feed every ``interval_s`` until ``stop`` is set (first polls at once)."""
        feeds = list(self.settings.partner_feeds)
        due = [self._monotonic()] * len(feeds)
        while feeds and not stop.is_set():
            now = self._monotonic()
            for i, feed in enumerate(feeds):
                if due[i] <= now and not stop.is_set():
                    await self.poll(feed)
                    due[i] = self._monotonic() + feed.interval_s
            wait = max(0.0, min(due) - self._monotonic())
            with contextlib.suppress(TimeoutError):  # the next feed is due
                await asyncio.wait_for(stop.wait(), timeout=wait)

    def _failed(self, feed: PartnerFeed, source: str, error: str) -> PollResult:
        log.warning("partner feed %s; nothing changed, next poll in %g s", error, feed.interval_s)
        return PollResult(feed.url, source, None, error)

    async def _fetch_linked(self, url: str) -> str | None:
        """A CAP feed's linked alert; None when it is what was applied last time (a 304)."""
        fetched = await fetch_feed(
            url,
            timeout_s=self.settings.partner_timeout_s,
            max_bytes=self.settings.partner_max_bytes,
            client=self._client,
            etag=self._etags.get(url),
        )
        if fetched.etag:
            self._pending[url] = fetched.etag  # kept once the feed was applied
        return fetched.text

    def _apply_cap(self, feed: PartnerFeed, read: CapRead, source: str) -> CapImportReport:
        if self.emergencies is None:
            self.emergencies = EmergencyService(
                self.service.engine, clock=self.service.clock, closures=self.service
            )
        return apply_cap(
            self.emergencies, read, source=source, admins=self.settings.admin_user_ids, only=feed.municipality
        )

    def _apply(self, feed: PartnerFeed, text: str, source: str) -> ImportReport:
        items = READERS[feed.format](text, now=self.service.clock(), source=source)
        return apply_import(
            self.service,
            items,
            POLL_ACTOR,
            municipality=feed.municipality,
            source=source,
            prune_source=source,
        )


async def poll_partners(
    settings: Settings,
    service: ClosureService,
    stop: asyncio.Event,
    *,
    emergencies: EmergencyService | None = None,
) -> None:
    """Every partner feed on its interval until ``stop`` is set; returns at once when none is configured."""
    await PartnerPoller(settings, service, emergencies=emergencies).run(stop)


def partner_polling(
    settings: Settings,
    service: ClosureService,
    engine: Engine,
    *,
    emergencies: EmergencyService | None = None,
) -> Singleton:
    """What a long-running process (the bot, the web server, ``roadbot poll``) runs: :func:`poll_partners`
    in one process of all those sharing the database (``bot.singletons``)."""
    return Singleton(
        ProcessLock(engine, PARTNER_FEEDS_LOCK),
        lambda quit_job: poll_partners(settings, service, quit_job, emergencies=emergencies),
        check_s=settings.singleton_check_s,
        what="partner polling",
    )
