"""Short map links that phones share (``maps.app.goo.gl/…``, ``goo.gl/maps/…``, ``maps.apple/p/…``): the
redirect they answer with is followed to the full link, whose coordinates :mod:`geo.links` reads.

Following a link someone typed is a way into our network, so it is bounded on every side: only links on the
map providers' short hosts are resolved; each redirect is followed only to a host on the providers' list
(never elsewhere, and never a private address, since only named hosts are allowed); at most
``max_redirects`` hops; one time limit for the whole resolution; no body is read. The first ``Location``
that already carries coordinates ends it, so the map page itself is never fetched.

``base_url`` sends every request to one server instead of the link's own host (a proxy; a local stand-in
in tests), keeping the path and the ``Host`` header.

>>> is_short_link("https://maps.app.goo.gl/AbCdEf"), is_short_link("https://www.google.com/maps/@24.7,46.6,15z")
(True, False)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from shapely.geometry import Point

from geo.coords import normalise_digits
from geo.links import parse_map_link

log = logging.getLogger(__name__)

SHORT_HOSTS = frozenset({"maps.app.goo.gl", "goo.gl", "maps.apple", "maps.apple.com", "apple.co"})
# Where a short link may lead: the providers' own map hosts (and their short hosts, for a chain of hops).
FOLLOW_HOSTS = SHORT_HOSTS | frozenset(
    {"google.com", "www.google.com", "maps.google.com", "www.google.com.sa", "google.com.sa"}
    | {"maps.apple.com", "beta.maps.apple.com", "collections.apple.com"}
)
USER_AGENT = "road-closure-bot (short map links)"


class ShortLinkError(Exception):
    """The short link could not be turned into coordinates; the detail is for logs."""


def _link_of(text: str) -> str | None:
    """The link on the last line of ``text`` (a share sheet puts the place's name first), scheme added."""
    stripped = text.strip()
    link = normalise_digits(stripped[stripped.rfind("\n") + 1 :]).strip()
    if not link or any(c.isspace() for c in link) or len(link) > 2048:
        return None
    return link if "://" in link else f"https://{link}"


def is_short_link(text: str, hosts: frozenset[str] = SHORT_HOSTS) -> bool:
    """Whether ``text`` ends with a link on a short-link host (``goo.gl`` only for its ``/maps`` links)."""
    link = _link_of(text)
    if link is None:
        return False
    try:
        parts = urlsplit(link)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or host not in hosts:
        return False
    return host != "goo.gl" or parts.path.startswith("/maps")


@dataclass(frozen=True, slots=True)
class ShortLinkResolver:
    """Follows a short map link's redirects to the coordinates the full link carries."""

    timeout_s: float = 3.0
    max_redirects: int = 4
    follow_hosts: frozenset[str] = FOLLOW_HOSTS
    short_hosts: frozenset[str] = SHORT_HOSTS
    base_url: str | None = None  # every request to this server instead (a proxy, a test stand-in)

    async def resolve(self, text: str) -> Point:
        """``Point(lon, lat)`` of the place the short link in ``text`` leads to; else ShortLinkError."""
        link = _link_of(text)
        if link is None or not is_short_link(text, self.short_hosts):
            raise ShortLinkError(f"not a short map link: {text[:80]!r}")
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._follow(link)
        except TimeoutError:
            raise ShortLinkError(f"no answer within {self.timeout_s} s for {link}") from None
        except httpx.HTTPError as exc:
            raise ShortLinkError(f"{type(exc).__name__} for {link}: {exc}") from None

    async def _follow(self, link: str) -> Point:
        async with httpx.AsyncClient(
            follow_redirects=False, timeout=self.timeout_s, headers={"User-Agent": USER_AGENT}
        ) as client:
            for _ in range(self.max_redirects):
                url, host = self._request_url(link)
                async with client.stream("GET", url, headers={"Host": host}) as response:
                    location = response.headers.get("location")
                    status = response.status_code
                if status not in (301, 302, 303, 307, 308) or not location:
                    raise ShortLinkError(f"HTTP {status} without a redirect for {link}")
                link = urljoin(link, location)
                point = parse_map_link(link)  # the coordinates are in the link: no need to open it
                if point is not None:
                    return point
                next_host = (urlsplit(link).hostname or "").lower()
                if next_host not in self.follow_hosts:
                    raise ShortLinkError(f"a redirect off the map providers, to {next_host!r}")
        raise ShortLinkError(f"more than {self.max_redirects} redirects, or none with coordinates")

    def _request_url(self, link: str) -> tuple[str, str]:
        """Where to send the request for ``link``, and the Host header it carries."""
        parts = urlsplit(link)
        host = parts.netloc
        if self.base_url is None:
            return link, host
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.base_url.rstrip("/") + path, host
