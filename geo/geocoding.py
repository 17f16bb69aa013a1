"""Place names ⇄ points: a ``Geocoder`` protocol, a TTL cache in front of any geocoder, and geopy's
geocoders behind a rate limiter, with geopy's errors turned into :mod:`geo.errors` in one place.

Forward geocoding turns "حي العليا" or "King Fahd Road" into candidate places, biased to a box (the
municipality the person is in) and to the configured countries; reverse geocoding names the street at a
point, in the language asked for. Geocoders are blocking (one HTTP request, spaced by the rate limiter):
async callers run them in a worker thread. Which geopy geocoder, and how it is asked, lives in
:mod:`geo.geopy_providers`; no geopy type leaves ``geo``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from geopy import exc as geopy_errors
from geopy.extra.rate_limiter import RateLimiter
from shapely.geometry import Point

from geo.coords import normalise_digits
from geo.errors import (
    GeocoderRateLimited,
    GeocoderRefused,
    GeocoderTimeout,
    GeocoderUnavailable,
    GeocodingError,
)

if TYPE_CHECKING:
    from geo.geopy_providers import Provider

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200  # longer is not a place name; Nominatim refuses very long queries anyway
# Tatweel (ـ) stretches letters and harakat mark vowels; place names are indexed without either.
_ARABIC_DECORATION = re.compile("[\u0640\u064b-\u065f\u0670]")
_SPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Place:
    """A geocoded place: its point (x=lon, y=lat), a short name, the full address, and its street."""

    point: Point
    name: str
    address: str
    street: str | None = None
    kind: str | None = None  # what the service says it is, e.g. "highway/primary" or "place/suburb"


@dataclass(frozen=True, slots=True)
class Bias:
    """Where to look first: a box (min_lon, min_lat, max_lon, max_lat); ``bounded`` keeps results inside."""

    box: tuple[float, float, float, float] | None = None
    bounded: bool = False

    @property
    def centre(self) -> Point | None:
        if self.box is None:
            return None
        min_lon, min_lat, max_lon, max_lat = self.box
        return Point((min_lon + max_lon) / 2, (min_lat + max_lat) / 2)


NO_BIAS = Bias()


class Geocoder(Protocol):
    name: str

    def forward(
        self, query: str, *, bias: Bias = NO_BIAS, language: str = "ar", limit: int = 5
    ) -> list[Place]:
        """Candidate places for a name, best first; empty when nothing matches. Raises GeocodingError."""
        ...

    def reverse(self, point: Point, *, language: str = "ar") -> Place | None:
        """The place (and street) at a point; None when there is nothing there. Raises GeocodingError."""
        ...


def clean_query(text: str) -> str:
    """The query as it is sent: ASCII digits, no tatweel or harakat, single spaces.

    >>> clean_query("  شارع   ٣٠  ")
    'شارع 30'
    >>> clean_query("طَرِيـــق الملك فهد")
    'طريق الملك فهد'
    """
    flat = _ARABIC_DECORATION.sub("", normalise_digits(text))
    return _SPACE_RUN.sub(" ", flat).strip()[:MAX_QUERY_CHARS]


class TTLCache[K, V]:
    """A bounded, thread-safe map whose entries expire ``ttl_s`` seconds after they were put.

    The least recently used entry goes first when full. ``clock`` is monotonic seconds (injected in tests).
    """

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s < 0 or max_entries < 1:
            raise ValueError(f"ttl_s must be >= 0 and max_entries >= 1, not {ttl_s} and {max_entries}")
        self.ttl_s, self.max_entries, self._clock = ttl_s, max_entries, clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[bool, V | None]:
        """(True, value) when a fresh entry exists, else (False, None)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return False, None
            self._entries.move_to_end(key)
            return True, entry[1]

    def put(self, key: K, value: V) -> None:
        if self.ttl_s == 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class CachedGeocoder:
    """Any geocoder, with answers (including "nothing found") kept for a while; failures are not kept."""

    def __init__(self, inner: Geocoder, cache: TTLCache[tuple[Any, ...], Any]) -> None:
        self.inner, self.cache = inner, cache
        self.name = inner.name

    def forward(
        self, query: str, *, bias: Bias = NO_BIAS, language: str = "ar", limit: int = 5
    ) -> list[Place]:
        key = ("forward", clean_query(query).casefold(), bias, language, limit)
        hit, value = self.cache.get(key)
        if hit:
            return list(value or ())
        found = self.inner.forward(query, bias=bias, language=language, limit=limit)
        self.cache.put(key, tuple(found))
        return found

    def reverse(self, point: Point, *, language: str = "ar") -> Place | None:
        key = ("reverse", round(point.x, 5), round(point.y, 5), language)  # ~1 m
        hit, value = self.cache.get(key)
        if hit:
            return value
        found = self.inner.reverse(point, language=language)
        self.cache.put(key, found)
        return found


class SpacedLimiter(RateLimiter):
    """geopy's thread-safe RateLimiter (at most one request per ``min_delay_seconds``, shared by forward
    and reverse) with an injectable clock and sleep, and a bound on the wait: a caller who would queue
    longer than ``max_wait_s`` behind others is told the service is busy instead of hanging on."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        min_delay_seconds: float,
        max_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # No retries: a failed request is reported at once (the bot answers a person who is waiting).
        super().__init__(func, min_delay_seconds=min_delay_seconds, max_retries=0, swallow_exceptions=False)
        self.max_wait_s, self._clock_fn, self._sleep_fn = max_wait_s, clock, sleep

    def _clock(self) -> float:
        return self._clock_fn()

    def _sleep(self, seconds: float) -> None:
        self._sleep_fn(seconds)

    def _acquire_request_slot(self) -> None:
        waited = 0.0
        for wait in self._acquire_request_slot_gen():
            if waited + wait > self.max_wait_s:
                raise GeocoderRateLimited("too many lookups queued here", retry_after=wait)
            self._sleep(wait)
            waited += wait


@contextmanager
def geopy_failures(service: str) -> Iterator[None]:
    """The one place where geopy's exceptions (and answers it could not read) become ``geo.errors``."""
    try:
        yield
    except GeocodingError:
        raise
    except geopy_errors.GeocoderRateLimited as exc:
        raise GeocoderRateLimited(f"{service}: {exc}", retry_after=exc.retry_after) from exc
    except geopy_errors.GeocoderTimedOut as exc:
        raise GeocoderTimeout(f"{service}: {exc}") from exc
    except (
        geopy_errors.GeocoderAuthenticationFailure,
        geopy_errors.GeocoderInsufficientPrivileges,
        geopy_errors.GeocoderQuotaExceeded,
    ) as exc:
        raise GeocoderRefused(f"{service}: {exc}") from exc
    except geopy_errors.GeopyError as exc:  # unavailable, server errors, unparseable JSON, refused queries
        raise GeocoderUnavailable(f"{service}: {type(exc).__name__}: {exc}") from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # JSON of an unexpected shape
        raise GeocoderUnavailable(f"{service}: unreadable answer: {type(exc).__name__}: {exc}") from exc


class GeopyGeocoder:
    """A geopy geocoder behind the rate limiter, asked and read the way its provider wants."""

    def __init__(
        self, provider: Provider, service: Any, *, countries: tuple[str, ...], limiter: SpacedLimiter
    ) -> None:
        self.provider, self.service, self.countries = provider, service, countries
        self.name = provider.name
        self._limited = limiter

    @classmethod
    def limited(
        cls,
        provider: Provider,
        service: Any,
        *,
        countries: tuple[str, ...] = (),
        min_interval_s: float = 1.0,
        max_wait_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> GeopyGeocoder:
        limiter = SpacedLimiter(
            _call, min_delay_seconds=min_interval_s, max_wait_s=max_wait_s, clock=clock, sleep=sleep
        )
        return cls(provider, service, countries=countries, limiter=limiter)

    def forward(
        self, query: str, *, bias: Bias = NO_BIAS, language: str = "ar", limit: int = 5
    ) -> list[Place]:
        text = clean_query(query)
        if not text:
            return []
        args = self.provider.forward_args(bias, language, limit, self.countries)
        with geopy_failures(self.name):
            found = self._limited(self.service.geocode, text, exactly_one=False, **args) or []
            places = [self.provider.read(location) for location in found]
        return [p for p in places if p is not None][:limit]

    def reverse(self, point: Point, *, language: str = "ar") -> Place | None:
        args = self.provider.reverse_args(language)
        with geopy_failures(self.name):
            found = self._limited(self.service.reverse, (point.y, point.x), exactly_one=True, **args)
            return self.provider.read(found) if found is not None else None


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What the limiter spaces: any request of the service, forward or reverse alike."""
    return method(*args, **kwargs)
