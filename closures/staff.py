"""Who may change closures where: the staff directory, with roles per municipality and its own audit trail.

Admins named in the settings (``admin_user_ids``) are admins of every municipality without a row; everyone
else is what the ``staff`` table says. Adding and removing staff is allowed to a system path (the command
line) and to admins of that municipality; every change is recorded as a ``StaffEvent``. Blocking
(database): the bot calls it from a worker thread.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from closures import municipalities
from closures.errors import NotFound, Refusal, ValidationError
from closures.lifecycle import Clock, system_clock
from closures.models import Municipality, Role, Staff, StaffEvent
from closures.service import Actor
from closures.store import session_scope
from geo.parse import Limits, validate
from geo.projection import Projection


@dataclass(frozen=True, slots=True)
class Membership:
    """A municipality someone may act in, and their role there."""

    municipality_id: int
    slug: str
    name_ar: str
    name_en: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class StaffMember:
    user_id: int
    role: str
    municipality: str
    name: str | None


@dataclass
class StaffDirectory:
    engine: Engine
    admin_user_ids: frozenset[int] = field(default_factory=frozenset)
    clock: Clock = system_clock

    def memberships(self, user_id: int) -> list[Membership]:
        """Every municipality ``user_id`` may act in, by slug; settings admins are admins of them all."""
        if user_id in self.admin_user_ids:
            return [_membership(m, Role.ADMIN.value) for m in municipalities.every(self.engine)]
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(Staff, Municipality)
                .join(Municipality)
                .where(Staff.telegram_user_id == user_id, Staff.active == True)  # noqa: E712
                .order_by(Municipality.slug)
            )
            return [_membership(m, s.role) for s, m in rows]

    def municipalities_of(self, user_id: int) -> list[str]:
        """The slugs of the municipalities ``user_id`` may act in."""
        return [m.slug for m in self.memberships(user_id)]

    def role_in(self, user_id: int, municipality: str | int) -> str | None:
        """``admin``, ``staff``, or None when ``user_id`` may not act in that municipality."""
        key = "slug" if isinstance(municipality, str) else "municipality_id"
        return next((m.role for m in self.memberships(user_id) if getattr(m, key) == municipality), None)

    def is_staff(self, user_id: int, municipality: str | int) -> bool:
        return self.role_in(user_id, municipality) is not None

    def is_admin(self, user_id: int, municipality: str | int) -> bool:
        return self.role_in(user_id, municipality) == Role.ADMIN

    def place(
        self,
        user_id: int,
        geometry: BaseGeometry,
        *,
        limits: Limits,
        tolerance_m: float,
        only: int | None = None,
    ) -> tuple[BaseGeometry, Membership]:
        """The validated geometry and which of the user's municipalities (or ``only`` that one) holds it.

        GeometryError for a shape that cannot be a closure (lat/lon swapped is told from the boundaries);
        ValidationError(OUTSIDE_MUNICIPALITY) when it lies outside every one of them, beyond the tolerance.
        """
        memberships = [m for m in self.memberships(user_id) if only is None or m.municipality_id == only]
        with session_scope(self.engine) as session:
            munis = [session.get(Municipality, m.municipality_id) for m in memberships]
        boundaries = [shapely.from_geojson(m.boundary_geojson) for m in munis if m is not None]
        geometry = validate(geometry, boundary=shapely.union_all(boundaries), limits=limits)
        for membership, muni, boundary in zip(memberships, munis, boundaries, strict=True):
            assert muni is not None
            projection = Projection(muni.epsg) if muni.epsg else Projection.for_geometry(boundary)
            allowed = projection.to_metric(boundary).buffer(tolerance_m)
            if allowed.contains(projection.to_metric(geometry)):
                return geometry, membership
        raise ValidationError(Refusal.OUTSIDE_MUNICIPALITY, field="geometry")

    def add(
        self,
        municipality: str | int,
        user_id: int,
        role: str = Role.STAFF.value,
        *,
        actor: Actor,
        name: str | None = None,
    ) -> StaffMember:
        """Authorise ``user_id`` in a municipality with ``role`` (or change their role); audited."""
        if role not in {r.value for r in Role}:
            raise ValidationError(Refusal.BAD_VALUE, field="role", detail=repr(role))
        now = self.clock()
        with session_scope(self.engine, write=True) as session:
            muni = self._municipality_for(session, municipality, actor)
            row = _row(session, user_id, muni)
            action = "added" if row is None or not row.active else "changed"
            assert muni.id is not None  # read from the table
            row = row or Staff(telegram_user_id=user_id, municipality_id=muni.id, added_by=actor.name)
            if action == "changed" and row.role == role and (name is None or name == row.display_name):
                return StaffMember(user_id, row.role, muni.slug, row.display_name)
            row.role, row.active, row.display_name = role, True, name or row.display_name
            session.add(row)
            session.add(_event(muni, user_id, action, role, actor, now))
            return StaffMember(user_id, role, muni.slug, row.display_name)

    def remove(self, municipality: str | int, user_id: int, *, actor: Actor) -> None:
        """Withdraw ``user_id``'s authorisation in a municipality; audited. NotFound if they had none."""
        now = self.clock()
        with session_scope(self.engine, write=True) as session:
            muni = self._municipality_for(session, municipality, actor)
            row = _row(session, user_id, muni)
            if row is None or not row.active:
                raise NotFound("staff member", f"{user_id} of {muni.slug}")
            row.active = False
            session.add(row)
            session.add(_event(muni, user_id, "removed", row.role, actor, now))

    def list(self, municipalities: Iterable[str] | None = None) -> builtins.list[StaffMember]:
        """Active staff, by municipality slug then user id; only of ``municipalities`` when given."""
        with session_scope(self.engine) as session:
            query = select(Staff, Municipality).join(Municipality).where(Staff.active == True)  # noqa: E712
            if municipalities is not None:
                query = query.where(col(Municipality.slug).in_(list(municipalities)))
            rows = session.exec(query.order_by(col(Municipality.slug), col(Staff.telegram_user_id)))
            return [StaffMember(s.telegram_user_id, s.role, m.slug, s.display_name) for s, m in rows]

    def names(self, user_ids: Iterable[int]) -> dict[int, str]:
        """The name each of these users is known by here (``display_name``), for those that have one."""
        ids = set(user_ids)
        if not ids:
            return {}
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(Staff.telegram_user_id, Staff.display_name).where(
                    col(Staff.telegram_user_id).in_(ids), col(Staff.display_name).is_not(None)
                )
            ).all()
        return {user_id: name for user_id, name in rows if name}

    def events(self, municipality: str | None = None) -> builtins.list[StaffEvent]:
        """The staff audit trail, oldest first."""
        with session_scope(self.engine) as session:
            query = select(StaffEvent).order_by(col(StaffEvent.id))
            if municipality is not None:
                query = query.join(Municipality).where(Municipality.slug == municipality)
            return list(session.exec(query))

    def _municipality_for(self, session: Session, key: str | int, actor: Actor) -> Municipality:
        muni = municipalities.by_key(session, key)
        if actor.telegram_user_id is None or actor.telegram_user_id in self.admin_user_ids:
            return muni  # the command line, or an admin of every municipality
        row = _row(session, actor.telegram_user_id, muni)
        if row is None or not row.active or row.role != Role.ADMIN:
            raise ValidationError(Refusal.NOT_AUTHORISED, detail=f"{actor.name} is not admin of {muni.slug}")
        return muni


def _row(session: Session, user_id: int, muni: Municipality) -> Staff | None:
    return session.exec(
        select(Staff).where(Staff.telegram_user_id == user_id, Staff.municipality_id == muni.id)
    ).first()


def _membership(muni: Municipality, role: str) -> Membership:
    assert muni.id is not None
    return Membership(muni.id, muni.slug, muni.name_ar, muni.name_en, role)


def _event(
    muni: Municipality, user_id: int, action: str, role: str, actor: Actor, now: datetime
) -> StaffEvent:
    assert muni.id is not None
    return StaffEvent(
        municipality_id=muni.id, telegram_user_id=user_id, action=action, role=role, actor=actor.name, at=now
    )


def actor_for(user_id: int, admin_user_ids: frozenset[int]) -> Actor:
    """The actor a Telegram user changes closures as.

    Settings admins hold every right in every municipality without a staff row, as the machine's operator
    does, so they act through the system path under their own name; everyone else is checked against the
    staff table by the service itself.
    """
    if user_id in admin_user_ids:
        return Actor(name=f"tg:{user_id}")
    return Actor.telegram(user_id)
