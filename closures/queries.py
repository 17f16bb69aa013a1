"""Which closures a driver should hear of: near a point, or along a route.

A ``ClosureQueries`` keeps a ``SpatialIndex`` over every open closure that has not ended, as an in-memory
cache of the store, and rebuilds it when the store's change counter moved — whichever process wrote.
Writes made through the same engine in this process are known at once without I/O (``local_writes``);
the counter itself (one indexed row: other processes' writes) is read before a query at most once per
``check_interval`` — with the default of zero, before every query — and, while a ``closures.notices``
listener hears every other process's writes at once (PostgreSQL), only as a rare safety net. Time is
applied at query time, so the index stays valid as closures start and end; it is also rebuilt after
``max_age`` so that ended closures drop out.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from closures.lifecycle import Clock, is_relevant, phase_at, system_clock
from closures.models import Closure, Status
from closures.store import change_counter, local_writes
from closures.views import ClosureView, Found
from geo.geojson import many_from_geojson
from geo.index import Hit, SpatialIndex
from geo.measure import compass_code, direction_bearings, distance_m

DEFAULT_HORIZON = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Relevant:
    """Every closure a driver may hear of from ``since`` until ``until``, and the snapshot it was read from.

    The same object is returned while neither the snapshot nor any closure's phase changes, so a caller
    can cache what it derives from it by identity (``since`` and ``counter`` tell two apart).
    """

    counter: int  # the store's change counter the snapshot was built at
    built_at: datetime
    since: datetime
    until: datetime  # the next start, end, or entry into the horizon: the list may change then
    found: list[Found]  # active ones and those starting within the horizon; distance 0, no direction


@dataclass(frozen=True, slots=True)
class _Snapshot:
    counter: int
    built_at: datetime
    index: SpatialIndex
    views: dict[int, ClosureView]
    max_radius_m: float
    ticket: int = 0  # taken when its build read the counter: it holds every write before then


@dataclass(frozen=True, slots=True)
class _Checked:
    """A snapshot found in step with the store: this process's write count then, and when (monotonic s)."""

    snapshot: _Snapshot
    local_writes: int
    at_s: float


class ClosureQueries:
    """Thread-safe query side. Blocking when it reads the database: async code calls it from a worker thread,
    or inline while ``is_current`` says no read is due.

    ``check_interval`` bounds how stale other processes' writes may be; ``monotonic`` times it (injectable).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = system_clock,
        horizon: timedelta = DEFAULT_HORIZON,
        max_age: timedelta = timedelta(hours=1),
        check_interval: timedelta = timedelta(0),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if check_interval < timedelta(0):
            raise ValueError(f"check_interval must not be negative, got {check_interval}")
        self._engine = engine
        self._clock = clock
        self.horizon = horizon
        self._max_age = max_age
        self._interval_s = check_interval.total_seconds()
        self._monotonic = monotonic
        self._tickets = itertools.count(1)  # orders queries and builds (atomic under the GIL)
        self._local_writes = local_writes(engine)
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked: _Checked | None = None
        self._relevant: Relevant | None = None

    def is_current(self, at: datetime | None = None) -> bool:
        """Whether a query for ``at`` can be answered without reading the database (no I/O itself).

        True when no write went through this engine in this process since the store's counter was last
        read, that read is younger than ``check_interval`` (never, when it is zero), and the index is
        younger than ``max_age``.
        """
        checked = self._checked
        return checked is not None and self._fresh(checked, at or self._clock())

    def near(
        self, point: Point, radius_m: float, *, at: datetime | None = None, limit: int | None = None
    ) -> list[Found]:
        """Closures whose nearest edge lies within ``radius_m`` of a lon/lat point, nearest first.

        ``limit`` keeps only the nearest few, and spares the direction work for the rest.
        """
        at = at or self._clock()
        return self._near(self._current(at), point, radius_m, at, limit)

    def near_many(
        self, points: Sequence[Point], radius_m: float, *, at: datetime | None = None
    ) -> list[list[Found]]:
        """``near`` for many points at once (one vectorised index query for all): one list per point."""
        at = at or self._clock()
        snap = self._current(at)
        hits = snap.index.near_many(points, radius_m + snap.max_radius_m)
        return [self._kept(snap, p, found, radius_m, at, None) for p, found in zip(points, hits, strict=True)]

    def near_or_nearest(
        self, point: Point, radius_m: float, *, beyond_m: float, at: datetime | None = None
    ) -> tuple[list[Found], Found | None]:
        """``near(point, radius_m)``; when that finds nothing, also the nearest closure within ``beyond_m``.

        One read of the store's counter for both, where two ``near`` calls would read it twice.
        """
        at = at or self._clock()
        snap = self._current(at)
        found = self._near(snap, point, radius_m, at, None)
        if found:
            return found, None
        nearest = self._near(snap, point, beyond_m, at, 1)
        return [], nearest[0] if nearest else None

    def measure(self, closure_id: int, point: Point, *, at: datetime | None = None) -> Found | None:
        """One indexed closure as a query from ``point`` finds it (distance to its edge, which way)."""
        at = at or self._clock()
        view = self._current(at).views.get(closure_id)
        if view is None:
            return None
        distance = max(0.0, distance_m(point, view.geometry) - (view.radius_m or 0.0))
        (bearing,) = direction_bearings(point, [view.geometry])
        return Found(view, phase_at(view, at), distance, _eight(bearing), bearing_deg=bearing)

    def view(self, closure_id: int, *, at: datetime | None = None) -> ClosureView | None:
        """The indexed closure with this id, if it is still open and not ended."""
        return self._current(at or self._clock()).views.get(closure_id)

    def along(
        self, route: LineString, corridor_m: float = 200.0, *, at: datetime | None = None
    ) -> list[Found]:
        """Closures within ``corridor_m`` of a lon/lat route, in the order the driver meets them."""
        at = at or self._clock()
        snap = self._current(at)
        start = Point(route.coords[0])
        kept = []
        for hit in snap.index.along(route, corridor_m + snap.max_radius_m):
            view = snap.views[hit.id]
            distance = max(0.0, hit.distance_m - (view.radius_m or 0.0))
            if distance <= corridor_m and is_relevant(view, at, self.horizon):
                kept.append((hit, view, distance))
        bearings = direction_bearings(start, [view.geometry for _, view, _ in kept])
        found = [
            Found(view, phase_at(view, at), distance, _eight(bearing), hit.position_m, bearing)
            for (hit, view, distance), bearing in zip(kept, bearings, strict=True)
        ]
        found.sort(key=lambda f: (f.position_m, f.distance_m, f.closure.id))
        return found

    def relevant(self, *, at: datetime | None = None) -> Relevant:
        """Every active closure and every one starting within the horizon, soonest first (for lists, maps)."""
        at = at or self._clock()
        snap = self._current(at)
        last = self._relevant
        same_snapshot = last is not None and (last.counter, last.built_at) == (snap.counter, snap.built_at)
        if last is not None and same_snapshot and last.since <= at < last.until:
            return last
        found = [
            Found(view, phase_at(view, at), 0.0, None)
            for view in snap.views.values()
            if is_relevant(view, at, self.horizon)
        ]
        found.sort(key=lambda f: (f.closure.starts_at, f.closure.id))
        moments = (
            moment
            for view in snap.views.values()
            for moment in (view.starts_at - self.horizon, view.starts_at, view.ends_at)
            if moment is not None and moment > at
        )
        until = min(moments, default=datetime.max.replace(tzinfo=at.tzinfo))
        self._relevant = Relevant(snap.counter, snap.built_at, at, until, found)
        return self._relevant

    def refresh(self) -> None:
        """Rebuild the index from the store now."""
        writes, checked_s = self._local_writes.value, self._monotonic()
        with self._lock:
            snap = self._snapshot = self._build(self._clock())
        self._checked = _Checked(snap, writes, checked_s)

    @property
    def built_at(self) -> datetime | None:
        return self._snapshot.built_at if self._snapshot else None

    def _near(
        self, snap: _Snapshot, point: Point, radius_m: float, at: datetime, limit: int | None
    ) -> list[Found]:
        return self._kept(
            snap, point, snap.index.near(point, radius_m + snap.max_radius_m), radius_m, at, limit
        )

    def _kept(
        self, snap: _Snapshot, point: Point, hits: list[Hit], radius_m: float, at: datetime, limit: int | None
    ) -> list[Found]:
        """The hits within ``radius_m`` of a point closure's circle or another's edge, relevant ``at``."""
        candidates = []
        for hit in hits:
            view = snap.views[hit.id]
            distance = max(0.0, hit.distance_m - (view.radius_m or 0.0))
            if distance <= radius_m and is_relevant(view, at, self.horizon):
                candidates.append((distance, view))
        candidates.sort(key=lambda pair: (pair[0], pair[1].id))
        kept = candidates[:limit]
        bearings = direction_bearings(point, [view.geometry for _, view in kept])
        return [
            Found(view, phase_at(view, at), distance, _eight(bearing), bearing_deg=bearing)
            for (distance, view), bearing in zip(kept, bearings, strict=True)
        ]

    def _fresh(self, checked: _Checked, at: datetime) -> bool:
        return (
            checked.local_writes == self._local_writes.value
            and self._monotonic() - checked.at_s < self._local_writes.check_interval_s(self._interval_s)
            and at - checked.snapshot.built_at < self._max_age
        )

    def _current(self, at: datetime) -> _Snapshot:
        checked = self._checked
        if checked is not None and self._fresh(checked, at):
            return checked.snapshot
        # Count local writes before reading the counter: one committing in between is counted again later.
        writes, checked_s = self._local_writes.value, self._monotonic()
        ticket = next(self._tickets)
        counter = change_counter(self._engine)
        snap = self._snapshot
        if snap is None or snap.counter != counter or at - snap.built_at >= self._max_age:
            with self._lock:
                snap = self._snapshot
                # A build that began after this query looked holds all it must see: queries that queued
                # behind one build share the next (an import's thousand writes would otherwise cost a
                # build per query, each outdated by the time the next query got the lock).
                if snap is None or (
                    snap.ticket < ticket and (snap.counter != counter or at - snap.built_at >= self._max_age)
                ):
                    snap = self._snapshot = self._build(at)
        self._checked = _Checked(snap, writes, checked_s)
        return snap

    def _build(self, at: datetime) -> _Snapshot:
        # Read the counter first: a write landing during the read moves it again and forces a new build.
        ticket = next(self._tickets)
        counter = change_counter(self._engine)
        with Session(self._engine) as session:
            rows = list(
                session.exec(
                    select(Closure).where(
                        col(Closure.status) == Status.OPEN.value,
                        sa.or_(col(Closure.ends_at).is_(None), col(Closure.ends_at) > at),
                    )
                )
            )
        geometries: list[BaseGeometry] = many_from_geojson([row.geometry_geojson for row in rows])
        views = {v.id: v for v in (ClosureView.of(r, g) for r, g in zip(rows, geometries, strict=True))}
        index = SpatialIndex(list(views), geometries)
        max_radius = max((v.radius_m or 0.0 for v in views.values()), default=0.0)
        return _Snapshot(counter, at, index, views, max_radius, ticket)


def _eight(bearing: float | None) -> str | None:
    """The 8-point compass code drivers read ("north-east", never "east-north-east")."""
    return None if bearing is None else compass_code(bearing, points=8)
