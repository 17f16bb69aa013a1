"""Playbooks: a municipality's named, pre-drafted sets of closures (with their detours) for an emergency.

A playbook is drafted on a calm day ("Khurais Rd underpasses": the six underpasses that flood first, each
with its detour) and activated in one step when the emergency comes: its closures are then registered,
starting at once and ending with the emergency (or after the playbook's own duration for that closure).
Each closure is checked as a real one would be when the playbook is saved, so activation cannot fail on a
closure drafted outside the municipality.

Blocking (database); the bot calls it from a worker thread.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from closures import municipalities, rules
from closures.emergency_models import Hazard, Playbook, PlaybookClosure
from closures.emergency_rules import (
    MAX_AREA_DESC,
    check_choice,
    check_slug,
    clean_text,
    clip_area,
    required_text,
)
from closures.errors import ClosureError, NotFound, Refusal, ValidationError
from closures.lifecycle import Clock, system_clock
from closures.models import Direction, Municipality, Severity
from closures.rules import ClosureDraft
from closures.service import Actor, authorise
from closures.store import session_scope
from geo.errors import GeometryError
from geo.parse import Limits

MAX_CLOSURES = 200
MAX_DURATION_MIN = 7 * 24 * 60


@dataclass(frozen=True, kw_only=True)
class PlannedClosure:
    """One closure of a playbook: a closure draft without its times. Geometry in lon/lat."""

    geometry: BaseGeometry
    reason: str
    title_ar: str
    title_en: str | None = None
    radius_m: float | None = None
    severity: str = Severity.FULL.value
    lanes_ar: str | None = None
    lanes_en: str | None = None
    direction: str = Direction.BOTH.value
    heading: str | None = None
    description_ar: str | None = None
    description_en: str | None = None
    detour_ar: str | None = None
    detour_en: str | None = None
    duration_min: int | None = None  # None: it ends with the emergency


_PLANNED = tuple(f.name for f in fields(PlannedClosure) if f.name not in ("geometry", "duration_min"))


@dataclass(frozen=True, kw_only=True)
class PlaybookDraft:
    slug: str
    name_ar: str
    name_en: str
    closures: Sequence[PlannedClosure]
    hazard: str | None = None
    area: BaseGeometry | None = None
    area_desc_ar: str | None = None
    area_desc_en: str | None = None


@dataclass(frozen=True, slots=True)
class PlaybookView:
    """A stored playbook as callers see it (no session)."""

    id: int
    municipality_id: int
    slug: str
    name_ar: str
    name_en: str
    hazard: str | None
    area: BaseGeometry | None
    area_desc_ar: str | None
    area_desc_en: str | None
    closures: tuple[PlannedClosure, ...]
    updated_at: datetime


class PlaybookClosureInvalid(ClosureError):
    """The playbook's closure at ``position`` (from 1) is refused; ``cause`` says why."""

    def __init__(self, position: int, cause: ValidationError | GeometryError) -> None:
        self.position = position
        self.cause = cause
        super().__init__(f"closure {position}: {cause}")


def drafts_for(
    playbook: PlaybookView, *, starts_at: datetime, ends_at: datetime
) -> list[tuple[ClosureDraft, bool]]:
    """The closure drafts activating ``playbook`` at ``starts_at`` registers, each with whether its end
    follows the emergency's (``ends_at``) rather than the playbook's own duration."""
    out = []
    for planned in playbook.closures:
        minutes = planned.duration_min
        end = ends_at if minutes is None else starts_at + timedelta(minutes=minutes)
        values = {name: getattr(planned, name) for name in _PLANNED}
        draft = ClosureDraft(geometry=planned.geometry, starts_at=starts_at, ends_at=end, **values)
        out.append((draft, minutes is None))
    return out


@dataclass
class PlaybookService:
    engine: Engine
    clock: Clock = system_clock
    limits: Limits = field(default_factory=Limits)
    boundary_tolerance_m: float = 500.0

    def save(
        self, municipality: str | int, draft: PlaybookDraft, actor: Actor, *, replace: bool = False
    ) -> PlaybookView:
        """Check every closure of the playbook as if it were registered now, and store it.

        A playbook of the same slug is refused (``DUPLICATE``) unless ``replace``.
        """
        now = self.clock()
        with session_scope(self.engine, write=True) as session:
            muni = municipalities.by_key(session, municipality)
            authorise(session, muni, actor)
            row = self._checked(draft, muni, now)
            existing = session.exec(
                select(Playbook).where(
                    col(Playbook.municipality_id) == muni.id, col(Playbook.slug) == row.slug
                )
            ).first()
            if existing is not None and not replace:
                raise ValidationError(Refusal.DUPLICATE, field="slug", detail=row.slug)
            if existing is not None:
                session.execute(
                    sa.delete(PlaybookClosure).where(col(PlaybookClosure.playbook_id) == existing.id)
                )
                for name in ("name_ar", "name_en", "hazard", "area_geojson", "area_desc_ar", "area_desc_en"):
                    setattr(existing, name, getattr(row, name))
                existing.updated_at = now
                row = existing
            else:
                row.created_by, row.created_at, row.updated_at = actor.name, now, now
            session.add(row)
            session.flush()
            assert row.id is not None
            for position, planned in enumerate(draft.closures):
                session.add(_row_of(planned, row.id, position, muni, now, self))
            session.flush()
            return _view(session, row)

    def list(self, municipality: str | int) -> builtins.list[PlaybookView]:
        with session_scope(self.engine) as session:
            muni = municipalities.by_key(session, municipality)
            rows = session.exec(
                select(Playbook).where(col(Playbook.municipality_id) == muni.id).order_by(col(Playbook.slug))
            )
            return [_view(session, row) for row in rows]

    def get(self, municipality: str | int, slug: str) -> PlaybookView:
        with session_scope(self.engine) as session:
            return _view(session, _find(session, municipalities.by_key(session, municipality), slug))

    def remove(self, municipality: str | int, slug: str, actor: Actor) -> None:
        """Delete a playbook (closures it already brought stay: they are real closures now)."""
        with session_scope(self.engine, write=True) as session:
            muni = municipalities.by_key(session, municipality)
            authorise(session, muni, actor)
            row = _find(session, muni, slug)
            session.execute(sa.delete(PlaybookClosure).where(col(PlaybookClosure.playbook_id) == row.id))
            session.delete(row)

    def touching(self, municipality: str | int, area: BaseGeometry) -> builtins.list[PlaybookView]:
        """The playbooks whose area, or any of whose closures, meets ``area`` (for an imported alert)."""
        return [pb for pb in self.list(municipality) if _meets(pb, area)]

    def _checked(self, draft: PlaybookDraft, muni: Municipality, now: datetime) -> Playbook:
        slug = check_slug(draft.slug)
        name_ar = required_text("name_ar", draft.name_ar, rules.MAX_TITLE)
        name_en = required_text("name_en", draft.name_en, rules.MAX_TITLE)
        if draft.hazard is not None:
            check_choice("hazard", draft.hazard, Hazard)
        if not draft.closures:
            raise ValidationError(Refusal.MISSING_FIELD, field="closures")
        if len(draft.closures) > MAX_CLOSURES:
            raise ValidationError(
                Refusal.BAD_VALUE, field="closures", detail=f"{len(draft.closures)} > {MAX_CLOSURES}"
            )
        area_geojson = None
        if draft.area is not None:
            boundary, projection = rules.boundary_of(muni)
            area_geojson = shapely.to_geojson(clip_area(draft.area, boundary, projection).geometry)
        assert muni.id is not None
        return Playbook(
            municipality_id=muni.id,
            slug=slug,
            name_ar=name_ar,
            name_en=name_en,
            hazard=draft.hazard,
            area_geojson=area_geojson,
            area_desc_ar=clean_text("area_desc_ar", draft.area_desc_ar, MAX_AREA_DESC, required=False),
            area_desc_en=clean_text("area_desc_en", draft.area_desc_en, MAX_AREA_DESC, required=False),
            created_by="",
        )


def _row_of(
    planned: PlannedClosure, playbook_id: int, position: int, muni: Municipality, now: datetime,
    service: PlaybookService,
) -> PlaybookClosure:  # fmt: skip
    """The stored closure, checked as a closure starting now would be (times aside)."""
    duration = planned.duration_min
    try:
        if duration is not None and not 1 <= duration <= MAX_DURATION_MIN:
            raise ValidationError(Refusal.BAD_VALUE, field="duration_min", detail=f"{duration} min")
        values = {name: getattr(planned, name) for name in _PLANNED}
        draft = ClosureDraft(
            geometry=planned.geometry, starts_at=now, ends_at=now + timedelta(hours=1), **values
        )
        checked = rules.checked(
            draft, muni, now=now, limits=service.limits, allow_past_start=False,
            max_past_start=timedelta(0), tolerance_m=service.boundary_tolerance_m,
        )  # fmt: skip
    except (ValidationError, GeometryError) as exc:
        raise PlaybookClosureInvalid(position + 1, exc) from exc
    columns = {name: checked[name] for name in _PLANNED}
    return PlaybookClosure(
        playbook_id=playbook_id,
        position=position,
        geometry_geojson=checked["geometry_geojson"],
        duration_min=duration,
        **columns,
    )


def _find(session: Session, muni: Municipality, slug: str) -> Playbook:
    row = session.exec(
        select(Playbook).where(
            col(Playbook.municipality_id) == muni.id, col(Playbook.slug) == slug.strip().lower()
        )
    ).first()
    if row is None:
        raise NotFound("playbook", slug)
    return row


def _view(session: Session, row: Playbook) -> PlaybookView:
    assert row.id is not None
    closures = session.exec(
        select(PlaybookClosure)
        .where(col(PlaybookClosure.playbook_id) == row.id)
        .order_by(col(PlaybookClosure.position))
    )
    planned = tuple(
        PlannedClosure(
            geometry=shapely.from_geojson(c.geometry_geojson),
            duration_min=c.duration_min,
            **{name: getattr(c, name) for name in _PLANNED},
        )
        for c in closures
    )
    return PlaybookView(
        id=row.id,
        municipality_id=row.municipality_id,
        slug=row.slug,
        name_ar=row.name_ar,
        name_en=row.name_en,
        hazard=row.hazard,
        area=shapely.from_geojson(row.area_geojson) if row.area_geojson else None,
        area_desc_ar=row.area_desc_ar,
        area_desc_en=row.area_desc_en,
        closures=planned,
        updated_at=row.updated_at,
    )


def _meets(playbook: PlaybookView, area: BaseGeometry) -> bool:
    if playbook.area is not None and playbook.area.intersects(area):
        return True
    return any(c.geometry.intersects(area) for c in playbook.closures)
