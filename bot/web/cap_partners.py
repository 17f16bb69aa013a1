"""CAP from partners (a met service, civil defence): a document read, the alerts it links to fetched, and
the whole applied as draft emergencies (``closures.cap_import``), for ``roadbot import --format cap`` and
``PARTNER_FEEDS`` entries with ``"format": "cap"``.

A document is a single alert or a feed (Atom or RSS) whose entries embed alerts or link to them. Linked
alerts are fetched with the same bounded fetcher as every partner feed (``fetch_feed``: a timeout, a size
limit, an HTTP error is one line), at most ``MAX_LINKED`` of them per feed and ``CONCURRENT`` at a time;
one that cannot be fetched or read is reported and the others are still applied. A document that is not
CAP at all (or is an XML bomb) is refused whole, with ``CapError``, before anything is applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from closures.cap_import import CapImporter, CapImportReport
from closures.emergencies import EmergencyService
from closures.formats.cap import CapAlert
from closures.formats.cap_read import CapError, read_alert, read_cap

MAX_LINKED = 50
CONCURRENT = 4

Fetch = Callable[[str], Awaitable[str | None]]  # a URL's text; None: not modified since last applied


@dataclass
class CapRead:
    """What a document gave: the alerts read whole, and what could not be (as the report lists it)."""

    alerts: list[CapAlert] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"alert", "error"}
    links: list[str] = field(default_factory=list)  # every linked alert's URL, fetched or not


async def read_cap_source(text: str, *, url: str | None, fetch: Fetch | None, max_bytes: int) -> CapRead:
    """Read ``text`` (from ``url``, which resolves a feed's relative links) and fetch what it links to.

    Without ``fetch`` (a file read offline) links are reported, not followed. Raises ``CapError`` when
    the document itself is refused.
    """
    document = read_cap(text, max_bytes=max_bytes, base_url=url)
    read = CapRead(
        list(document.alerts), [{"alert": where, "error": why} for where, why in document.rejected]
    )
    read.links = list(document.links)
    followed = [link for link in document.links if urlsplit(link).scheme in ("http", "https")]
    for link in document.links:
        if link not in followed:
            read.rejected.append(
                {"alert": link, "error": "a relative link with no URL to resolve it against"}
            )
    if len(followed) > MAX_LINKED:
        extra = len(followed) - MAX_LINKED
        read.rejected.append(
            {"alert": f"{extra} more linked alerts", "error": f"a feed links {MAX_LINKED} at most"}
        )
        followed = followed[:MAX_LINKED]
    if fetch is None:
        read.rejected += [{"alert": link, "error": "linked, not fetched (a file)"} for link in followed]
        return read
    limit = asyncio.Semaphore(CONCURRENT)

    async def one(link: str) -> CapAlert | str | None:
        async with limit:
            try:
                body = await fetch(link)
                return None if body is None else read_alert(body, max_bytes=max_bytes)
            except CapError as exc:
                return f"not a CAP alert: {exc}"
            except Exception as exc:  # the fetcher's own failure (FetchError): one line, the rest goes on
                return str(exc)

    for link, outcome in zip(followed, await asyncio.gather(*(one(u) for u in followed)), strict=True):
        if isinstance(outcome, CapAlert):
            read.alerts.append(outcome)
        elif isinstance(outcome, str):
            read.rejected.append({"alert": link, "error": outcome})
    return read


def apply_cap(
    emergencies: EmergencyService,
    read: CapRead,
    *,
    source: str,
    admins: tuple[int, ...] = (),
    only: str | None = None,
    progress: Callable[[Iterable[CapAlert], int], Iterable[CapAlert]] | None = None,
) -> CapImportReport:
    """Apply what was read (blocking: a worker thread); the read's refusals lead the report's."""
    importer = CapImporter(emergencies, admins=admins, only=only)
    report = importer.apply(read.alerts, source=source, progress=progress)
    report.rejected[:0] = read.rejected
    return report
