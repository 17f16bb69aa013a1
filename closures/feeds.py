"""What the public feeds hold, read once per change: active and upcoming closures of every municipality.

``feed_snapshot`` reads them with the store's change counter and ``as_of``, the moment the feed's content
last changed (the latest closure write, start or end passed). ``as_of`` comes from the data alone, so every
process over one database builds byte-identical feeds and so sends the same ETag.

``FeedCache`` keeps one built body per feed until the counter moves or a closure starts or ends (the
snapshot's ``valid_until``). It learns of writes made through the same engine in this process at once
(``local_writes``) and reads the counter for other processes' writes at most once per ``check_interval``,
as ``ClosureQueries`` does (and rarely while a ``closures.notices`` listener tells it of them). Blocking:
the web endpoints call ``get`` from a worker thread and ``peek`` (no I/O) inline.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast, overload
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from closures.formats.common import FeedItem, FeedMunicipality
from closures.lifecycle import Clock, next_transition, system_clock
from closures.models import Closure, Municipality, Status
from closures.store import change_counter, local_writes, session_scope
from geo.geojson import many_from_geojson

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    items: list[FeedItem]
    municipalities: list[FeedMunicipality]
    counter: int
    as_of: datetime  # when the content last changed (from the data: the same in every process)
    taken_at: datetime
    valid_until: datetime | None  # the next start or end among the items: the content changes then


def feed_snapshot(engine: Engine, now: datetime) -> FeedSnapshot:
    """Open closures that have not ended (active, or upcoming however far ahead), soonest start first."""
    counter = change_counter(engine)  # first: a write landing during the read moves it again
    with session_scope(engine) as session:
        munis = {
            m.id: FeedMunicipality(m.slug, m.name_ar, m.name_en, ZoneInfo(m.timezone))
            for m in session.exec(select(Municipality).order_by(col(Municipality.slug)))
        }
        rows = session.exec(
            select(Closure)
            .where(
                col(Closure.status) == Status.OPEN.value,
                sa.or_(col(Closure.ends_at).is_(None), col(Closure.ends_at) > now),
            )
            .order_by(col(Closure.starts_at), col(Closure.id))
        ).all()
        last_write, last_end, last_start = session.execute(
            sa.select(
                sa.func.max(col(Closure.updated_at)),
                sa.func.max(sa.case((col(Closure.ends_at) <= now, col(Closure.ends_at)))),
                sa.func.max(sa.case((col(Closure.starts_at) <= now, col(Closure.starts_at)))),
            )
        ).one()
    shapes = many_from_geojson([row.geometry_geojson for row in rows])  # vectorised, a few hundred a call
    items = [
        FeedItem(row, munis[row.municipality_id], shape) for row, shape in zip(rows, shapes, strict=True)
    ]
    moments = [m for m in (last_write, last_end, last_start) if m is not None]
    as_of = max((_utc(m) for m in moments), default=EPOCH)
    upcoming = [t for item in items if (t := next_transition(item.closure, now)) is not None]
    return FeedSnapshot(items, list(munis.values()), counter, as_of, now, min(upcoming, default=None))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Built:
    body: bytes
    etag: str  # a strong validator, quoted: the hash of the body
    as_of: datetime
    gzipped: bytes  # the body compressed once, for clients that accept gzip (feeds run to megabytes)

    @property
    def gzip_etag(self) -> str:
        """The gzip representation's own strong validator (RFC 9110: one per representation)."""
        return f'{self.etag[:-1]}-gz"'


class Snapshot(Protocol):
    """What a cache needs of a snapshot: the store's counter it was read at, and how long it holds."""

    @property
    def counter(self) -> int: ...
    @property
    def as_of(self) -> datetime: ...
    @property
    def valid_until(self) -> datetime | None: ...


type Builder[S] = Callable[[S], bytes]


@dataclass
class _State[T: Snapshot]:
    snapshot: T
    local_writes: int
    checked_s: float
    bodies: dict[str, Built] = field(default_factory=dict)


class FeedCache[S: Snapshot]:
    """Built feed bodies, one per key (a format and its options), kept while the store has not changed.

    ``take`` reads a snapshot: the closures' (``feed_snapshot``) unless told otherwise (the CAP feed reads
    emergencies).
    """

    @overload
    def __init__(
        self: FeedCache[FeedSnapshot],
        engine: Engine,
        *,
        clock: Clock = ...,
        check_interval: timedelta = ...,
        monotonic: Callable[[], float] = ...,
        max_keys: int = ...,
    ) -> None: ...
    @overload
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = ...,
        check_interval: timedelta = ...,
        monotonic: Callable[[], float] = ...,
        max_keys: int = ...,
        take: Callable[[Engine, datetime], S],
    ) -> None: ...
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = system_clock,
        check_interval: timedelta = timedelta(0),
        monotonic: Callable[[], float] = time.monotonic,
        max_keys: int = 16,
        take: Callable[[Engine, datetime], S] | None = None,
    ) -> None:
        self._take = take
        self._engine = engine
        self._max_keys = max_keys  # keys come partly from requests (Atom's host): bounded
        self._clock = clock
        self._interval_s = check_interval.total_seconds()
        self._monotonic = monotonic
        self._local_writes = local_writes(engine)
        self._lock = threading.Lock()
        self._state: _State[S] | None = None
        self.builds = 0  # how many bodies were built (for tests and the benchmark)

    def peek(self, key: str) -> Built | None:
        """The body for ``key`` when it is known to be current without reading the database, else None."""
        state = self._state
        if state is None or not self._fresh(state, self._clock()):
            return None
        return state.bodies.get(key)

    def get(self, key: str, build: Builder[S]) -> Built:
        """The current body for ``key``: built from a fresh snapshot if the store moved (blocking)."""
        now = self._clock()
        state = self._current(now)
        built = state.bodies.get(key)
        if built is None:
            with self._lock:
                built = state.bodies.get(key)
                if built is None:
                    body = build(state.snapshot)
                    digest = hashlib.sha256(body).hexdigest()[:32]
                    zipped = gzip.compress(body, compresslevel=6, mtime=0)  # mtime 0: same bytes everywhere
                    built = Built(body, f'"{digest}"', state.snapshot.as_of, zipped)
                    self.builds += 1
                    if len(state.bodies) < self._max_keys:
                        state.bodies[key] = built
        return built

    def _fresh(self, state: _State[S], now: datetime) -> bool:
        until = state.snapshot.valid_until
        return (
            state.local_writes == self._local_writes.value
            and self._monotonic() - state.checked_s < self._local_writes.check_interval_s(self._interval_s)
            and (until is None or now < until)
        )

    def _current(self, now: datetime) -> _State[S]:
        state = self._state
        if state is not None and self._fresh(state, now):
            return state
        writes, checked_s = self._local_writes.value, self._monotonic()
        counter = change_counter(self._engine)
        if state is not None and self._holds(state, counter, now):
            state = _State(state.snapshot, writes, checked_s, state.bodies)
        else:
            with self._lock:
                latest = self._state  # another request may have taken a new snapshot meanwhile
                if latest is not None and latest is not state and self._holds(latest, counter, now):
                    state = latest
                else:
                    state = _State(self._snapshot(now), writes, checked_s)
        self._state = state
        return state

    def _snapshot(self, now: datetime) -> S:
        if self._take is not None:
            return self._take(self._engine, now)
        # without ``take`` the first overload applied, where S is FeedSnapshot
        return cast(S, feed_snapshot(self._engine, now))

    @staticmethod
    def _holds(state: _State[S], counter: int, now: datetime) -> bool:
        """Is ``state`` the store as of ``counter``, with no closure started or ended since?"""
        until = state.snapshot.valid_until
        return state.snapshot.counter == counter and (until is None or now < until)
