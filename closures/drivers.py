"""What the bot keeps about a driver: language, radius, saved places, subscriptions — and forgetting it
(their last location, kept for emergencies, too).

Blocking (database); the bot calls it from a worker thread. Geometry in lon/lat.

Profiles, read on every update a driver sends, may be kept in an in-process cache (``cache_ttl``): writes
through the directory update it at once; another process's writes are seen once the entry expires, or at
once where that process's notice is heard (``forget_cached``, on PostgreSQL: see ``closures.notices``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from closures.errors import NotFound, Refusal, ValidationError
from closures.lifecycle import Clock, system_clock
from closures.locations import LocationLog
from closures.models import Driver, DriverLocation, EmergencyRecipient, SavedPlace, Subscription
from closures.store import PROFILE, notify, rows_matched, session_scope

RADIUS_RANGE_M = (100, 50_000)
SUBSCRIPTION_RADIUS_RANGE_M = (100, 20_000)
MAX_PLACES = 20
MAX_NAME = 64


_READ_PROFILES = sa.select(col(Driver.telegram_user_id), col(Driver.language), col(Driver.radius_m)).where(
    col(Driver.telegram_user_id).in_(sa.bindparam("user_ids", expanding=True))
)


@dataclass(frozen=True, slots=True)
class Profile:
    language: str | None
    radius_m: int | None


_DEFAULT = Profile(None, None)  # a driver who never changed a setting
_READ_ALL_PROFILES = sa.select(col(Driver.telegram_user_id), col(Driver.language), col(Driver.radius_m))


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: str
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class Forgotten:
    """How many rows of each kind ``forget`` deleted."""

    profile: int
    places: int
    subscriptions: int
    location: int = 0  # the last location kept for emergencies
    emergencies: int = 0  # emergencies that would have sent them their updates and end


class ProfileCache:
    """Thread-safe, bounded (least recently used out) profiles that expire ``ttl`` after they were read."""

    def __init__(self, ttl: timedelta, *, max_size: int, monotonic: Callable[[], float]) -> None:
        if ttl < timedelta(0) or max_size < 1:
            raise ValueError(f"need ttl >= 0 and max_size >= 1, got {ttl} and {max_size}")
        self._ttl_s = ttl.total_seconds()
        self._max_size = max_size
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[float, Profile]] = OrderedDict()
        self._writes = 0  # moved by every local write: a read that raced one is not kept
        # Every stored profile at once (drivers who never changed a setting have no row): with it, any
        # driver's profile is known without I/O until it expires. Users written here since it was read
        # are "unsure" (the write's outcome may be unknown) and go to the store.
        self._snapshot: dict[int, Profile] | None = None
        self._snapshot_expires = 0.0
        self._unsure: dict[int, int] = {}

    @property
    def enabled(self) -> bool:
        return self._ttl_s > 0

    def get(self, user_id: int) -> Profile | None:
        with self._lock:
            entry = self._entries.get(user_id)
            now = self._monotonic()
            if entry is not None and now < entry[0]:
                self._entries.move_to_end(user_id)
                return entry[1]
            if entry is not None:
                del self._entries[user_id]
            if self._snapshot is not None and now < self._snapshot_expires and user_id not in self._unsure:
                return self._snapshot.get(user_id, _DEFAULT)
            return None

    def snapshot_fresh(self) -> bool:
        with self._lock:
            return self._snapshot is not None and self._monotonic() < self._snapshot_expires

    def set_snapshot(self, profiles: dict[int, Profile], reading: int) -> None:
        """Keep every profile read from the store; users written since ``reading`` stay unsure."""
        with self._lock:
            self._snapshot = profiles
            self._snapshot_expires = self._monotonic() + self._ttl_s
            self._unsure = {user: seq for user, seq in self._unsure.items() if seq > reading}

    def reading(self) -> int:
        """Call before reading the store; pass the result to ``keep``."""
        return self._writes

    def keep(self, user_id: int, profile: Profile, reading: int) -> None:
        """Keep a profile read from the store, unless a local write came after the read began."""
        with self._lock:
            if reading == self._writes:
                self._put(user_id, profile)

    def wrote(self, user_id: int, profile: Profile | None) -> None:
        """A write through this process committed: keep its result, or evict (``None``)."""
        with self._lock:
            self._writes += 1
            if profile is None:
                self._entries.pop(user_id, None)
                self._unsure[user_id] = self._writes
            elif self.enabled:
                self._put(user_id, profile)
            if profile is not None and self._snapshot is not None:
                self._snapshot[user_id] = profile

    def _put(self, user_id: int, profile: Profile) -> None:
        self._entries[user_id] = (self._monotonic() + self._ttl_s, profile)
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)


@dataclass
class DriverDirectory:
    """``cache_ttl`` (zero: no cache) bounds how stale another process's change to a profile may be here."""

    engine: Engine
    clock: Clock = system_clock
    cache_ttl: timedelta = field(default=timedelta(0), kw_only=True)
    cache_size: int = field(default=100_000, kw_only=True)
    monotonic: Callable[[], float] = field(default=time.monotonic, kw_only=True, repr=False)
    # this process's unwritten drivers' locations, which ``forget`` drops too
    locations: LocationLog | None = field(default=None, kw_only=True, repr=False)
    _cache: ProfileCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = ProfileCache(self.cache_ttl, max_size=self.cache_size, monotonic=self.monotonic)

    def profile(self, user_id: int) -> Profile:
        """Read on every update a driver sends: from the cache, else from the store."""
        return self.profiles([user_id])[user_id]

    def profiles(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        """Several drivers' profiles: those not cached in one plain Core query (a third of an ORM ``get``)."""
        out: dict[int, Profile] = {}
        missing = []
        for user_id in user_ids:
            cached = self._cache.get(user_id)
            if cached is None:
                missing.append(user_id)
            else:
                out[user_id] = cached
        if not missing:
            return out
        reading = self._cache.reading()
        with self.engine.connect() as conn:
            rows = conn.execute(_READ_PROFILES, {"user_ids": missing}).all()
        found = {row.telegram_user_id: Profile(row.language, row.radius_m) for row in rows}
        for user_id in missing:
            out[user_id] = profile = found.get(user_id) or _DEFAULT
            if self._cache.enabled:
                self._cache.keep(user_id, profile, reading)
        return out

    def cached_profile(self, user_id: int) -> Profile | None:
        """The profile if the cache or a fresh snapshot knows it, else None (no I/O)."""
        return self._cache.get(user_id)

    def snapshot_fresh(self) -> bool:
        return self._cache.snapshot_fresh()

    def forget_cached(self, user_id: int) -> None:
        """Another process changed this driver's profile: read it from the store next time (no I/O)."""
        self._cache.wrote(user_id, None)

    def load_snapshot(self) -> int:
        """Read every stored profile into the cache (blocking); afterwards, for ``cache_ttl``, no driver's
        profile needs the store — first-time drivers included. Returns how many rows were read."""
        if not self._cache.enabled:
            return 0
        reading = self._cache.reading()
        with self.engine.connect() as conn:
            rows = conn.execute(_READ_ALL_PROFILES).all()
        self._cache.set_snapshot({r.telegram_user_id: Profile(r.language, r.radius_m) for r in rows}, reading)
        return len(rows)

    def set_language(self, user_id: int, language: str) -> None:
        self._update(user_id, language=language)

    def set_radius(self, user_id: int, radius_m: int) -> None:
        low, high = RADIUS_RANGE_M
        if not low <= radius_m <= high:
            raise ValidationError(
                Refusal.BAD_VALUE, field="radius_m", detail=f"{radius_m} not in [{low}, {high}]"
            )
        self._update(user_id, radius_m=radius_m)

    def save_place(self, user_id: int, name: str, geometry: BaseGeometry) -> Place:
        """Save (or replace) a named point or route."""
        name = _name(name)
        kind = {"Point": "place", "LineString": "route"}.get(geometry.geom_type)
        if kind is None:
            raise ValidationError(Refusal.BAD_VALUE, field="geometry", detail=geometry.geom_type)
        with session_scope(self.engine, write=True) as session:
            row = session.exec(
                select(SavedPlace).where(SavedPlace.telegram_user_id == user_id, SavedPlace.name == name)
            ).first()
            if row is None:
                count = session.exec(
                    select(sa.func.count())
                    .select_from(SavedPlace)
                    .where(SavedPlace.telegram_user_id == user_id)
                ).one()
                if count >= MAX_PLACES:
                    raise ValidationError(
                        Refusal.BAD_VALUE, field="name", detail=f"at most {MAX_PLACES} places"
                    )
                row = SavedPlace(telegram_user_id=user_id, name=name, kind=kind, geometry_geojson="")
            row.kind, row.geometry_geojson = kind, shapely.to_geojson(geometry)
            session.add(row)
        return Place(name, kind, geometry)

    def places(self, user_id: int) -> list[Place]:
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(SavedPlace).where(SavedPlace.telegram_user_id == user_id).order_by(SavedPlace.name)
            )
            return [Place(r.name, r.kind, shapely.from_geojson(r.geometry_geojson)) for r in rows]

    def delete_place(self, user_id: int, name: str) -> None:
        """Delete a saved place and the alerts for it: a subscription never outlives its place."""
        name = _name(name)
        with session_scope(self.engine, write=True) as session:
            result = session.execute(
                sa.delete(SavedPlace).where(
                    col(SavedPlace.telegram_user_id) == user_id, col(SavedPlace.name) == name
                )
            )
            if not rows_matched(result):
                raise NotFound("place", name)
            session.execute(
                sa.delete(Subscription).where(
                    col(Subscription.telegram_user_id) == user_id, col(Subscription.name) == name
                )
            )

    def subscribe(self, user_id: int, place_name: str, radius_m: int, language: str) -> Subscription:
        """Ask to hear of new closures near a saved place (or along a saved route), within ``radius_m``."""
        low, high = SUBSCRIPTION_RADIUS_RANGE_M
        if not low <= radius_m <= high:
            raise ValidationError(
                Refusal.BAD_VALUE, field="radius_m", detail=f"{radius_m} not in [{low}, {high}]"
            )
        name = _name(place_name)
        with session_scope(self.engine, write=True) as session:
            place = session.exec(
                select(SavedPlace).where(SavedPlace.telegram_user_id == user_id, SavedPlace.name == name)
            ).first()
            if place is None:
                raise NotFound("place", place_name)
            sub = session.exec(
                select(Subscription).where(
                    Subscription.telegram_user_id == user_id, Subscription.name == name
                )
            ).first() or Subscription(
                telegram_user_id=user_id, name=name, kind=place.kind, geometry_geojson=""
            )
            sub.kind, sub.geometry_geojson = place.kind, place.geometry_geojson
            sub.radius_m, sub.language, sub.active = radius_m, language, True
            session.add(sub)
            return sub

    def subscriptions(self, user_id: int) -> list[Subscription]:
        with session_scope(self.engine) as session:
            query = select(Subscription).where(
                Subscription.telegram_user_id == user_id, Subscription.active == sa.true()
            )
            return list(session.exec(query.order_by(Subscription.name)))

    def forget(self, user_id: int) -> Forgotten:
        """Delete everything kept about this user, their last location included (and not yet written)."""
        if self.locations is not None:
            self.locations.discard(user_id)  # before the delete: a flush after it must not write it back
        try:
            with session_scope(self.engine, write=True) as session:
                counts = [
                    rows_matched(session.execute(sa.delete(table).where(column == user_id)))
                    for table, column in (
                        (Driver, col(Driver.telegram_user_id)),
                        (SavedPlace, col(SavedPlace.telegram_user_id)),
                        (Subscription, col(Subscription.telegram_user_id)),
                        (DriverLocation, col(DriverLocation.telegram_user_id)),
                        (EmergencyRecipient, col(EmergencyRecipient.telegram_user_id)),
                    )
                ]
                notify(session, PROFILE, str(user_id))
        finally:
            self._cache.wrote(user_id, None)
        return Forgotten(*counts)

    def _update(self, user_id: int, **values: object) -> None:
        now = self.clock()
        try:
            with session_scope(self.engine, write=True) as session:
                row = session.get(Driver, user_id) or Driver(telegram_user_id=user_id, created_at=now)
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
                session.add(row)
                notify(session, PROFILE, str(user_id))
        except BaseException:
            self._cache.wrote(user_id, None)  # whether it committed is unknown: read the store next time
            raise
        self._cache.wrote(user_id, Profile(row.language, row.radius_m))


def _name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise ValidationError(Refusal.MISSING_FIELD, field="name")
    if len(clean) > MAX_NAME:
        raise ValidationError(Refusal.TEXT_TOO_LONG, field="name", detail=f"{len(clean)} > {MAX_NAME}")
    return clean
