"""What the bot keeps about a driver: language, radius, saved places, subscriptions — and forgetting it.

Blocking (database); the bot calls it from a worker thread. Geometry in lon/lat.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import select

from closures.errors import NotFound, Refusal, ValidationError
from closures.lifecycle import Clock, system_clock
from closures.models import Driver, SavedPlace, Subscription
from closures.store import session_scope

RADIUS_RANGE_M = (100, 50_000)
SUBSCRIPTION_RADIUS_RANGE_M = (100, 20_000)
MAX_PLACES = 20
MAX_NAME = 64


_READ_PROFILE = sa.select(Driver.language, Driver.radius_m).where(  # type: ignore[call-overload]
    Driver.telegram_user_id == sa.bindparam("user_id")
)


@dataclass(frozen=True, slots=True)
class Profile:
    language: str | None
    radius_m: int | None


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


@dataclass
class DriverDirectory:
    engine: Engine
    clock: Clock = system_clock

    def profile(self, user_id: int) -> Profile:
        """Read on every update a driver sends, so a plain Core query: a third of an ORM ``get``."""
        with self.engine.connect() as conn:
            row = conn.execute(_READ_PROFILE, {"user_id": user_id}).first()
        return Profile(row.language, row.radius_m) if row else Profile(None, None)

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
                sa.delete(SavedPlace).where(SavedPlace.telegram_user_id == user_id, SavedPlace.name == name)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound("place", name)
            session.execute(
                sa.delete(Subscription).where(
                    Subscription.telegram_user_id == user_id, Subscription.name == name
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
        """Delete everything kept about this user."""
        with session_scope(self.engine, write=True) as session:
            counts = [
                session.execute(sa.delete(table).where(column == user_id)).rowcount  # type: ignore[attr-defined]
                for table, column in (
                    (Driver, Driver.telegram_user_id),
                    (SavedPlace, SavedPlace.telegram_user_id),
                    (Subscription, Subscription.telegram_user_id),
                )
            ]
        return Forgotten(*counts)

    def _update(self, user_id: int, **values: object) -> None:
        now = self.clock()
        with session_scope(self.engine, write=True) as session:
            row = session.get(Driver, user_id) or Driver(telegram_user_id=user_id, created_at=now)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = now
            session.add(row)


def _name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise ValidationError(Refusal.MISSING_FIELD, field="name")
    if len(clean) > MAX_NAME:
        raise ValidationError(Refusal.TEXT_TOO_LONG, field="name", detail=f"{len(clean)} > {MAX_NAME}")
    return clean
