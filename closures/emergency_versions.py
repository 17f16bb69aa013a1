"""Rows of emergency versions: how a version is made from a draft, found, superseded, and audited.

Everything here works in the caller's session (``closures.emergencies`` holds the transaction).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlmodel import Session, col, select

from closures import reach
from closures.emergency_models import (
    AreaSource,
    Emergency,
    EmergencyAction,
    EmergencyClosure,
    EmergencyEvent,
    EmergencyState,
    MessageType,
    Playbook,
)
from closures.emergency_rules import ClippedArea, cap_terms, check_expiry, required_text, short_name
from closures.errors import EmergencyConflict, NotFound, Refusal, ValidationError
from closures.models import Closure, Municipality
from closures.playbooks import PlaybookView
from closures.rules import ClosureDraft
from closures.service import Actor, authorise
from closures.store import rows_matched


@dataclass(frozen=True, kw_only=True)
class EmergencyDraft:
    """What an operator declares. ``area`` is needed when ``area_from`` is "drawn" (tapped, pasted)."""

    hazard: str
    level: str
    headline_ar: str
    headline_en: str
    instruction_ar: str
    instruction_en: str
    expires_at: datetime
    area: BaseGeometry | None = None
    area_from: str = AreaSource.DRAWN.value
    area_desc_ar: str | None = None  # default: the playbook's, else the municipality's name
    area_desc_en: str | None = None
    playbooks: Sequence[str] = ()
    exercise: bool = False
    source: str = "staff"
    source_sender: str | None = None
    source_identifier: str | None = None
    source_sent: datetime | None = None


EDITABLE = frozenset({
    "level", "headline_ar", "headline_en", "instruction_ar", "instruction_en", "expires_at", "area",
    "area_from", "area_desc_ar", "area_desc_en", "playbooks",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Plan:
    """What a declaration (or update) would do, before it is made: for the operator's preview."""

    area: ClippedArea
    area_desc_ar: str
    area_desc_en: str
    playbooks: tuple[PlaybookView, ...]
    closures: tuple[ClosureDraft, ...]  # registered when confirmed (none for an exercise)
    reach: reach.Count | None  # who it reaches now (counted for a preview)
    draft: EmergencyDraft
    municipality: Municipality  # (detached)

    @property
    def descs(self) -> tuple[str, str]:
        return self.area_desc_ar, self.area_desc_en

    def as_version(
        self, actor: Actor, now: datetime, *, msg_type: MessageType = MessageType.ALERT
    ) -> Emergency:
        """The version this plan would issue, unsaved: what a preview shows is what will be posted."""
        return new_version(
            self.municipality, self.draft, self.area, self.descs, actor, now, msg_type=msg_type,
            state=EmergencyState.DRAFT,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Issued:
    """A version as written, with the closures it brought and what happened to earlier ones."""

    emergency: Emergency
    closures: tuple[Closure, ...] = ()  # registered with this version
    changed: tuple[Closure, ...] = ()  # extended, shortened, lifted or cancelled with it


def updated_draft(
    session: Session, current: Emergency, changes: Mapping[str, Any], now: datetime
) -> EmergencyDraft:
    """The current version with ``changes``, as a draft to check again (times as changed)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(Refusal.BAD_VALUE, field=sorted(unknown)[0], detail="not an editable field")
    base = replace(draft_of(current), playbooks=())
    if {"area", "area_from"} & set(changes):  # a new area: its description too, unless given
        base = replace(base, area_from=AreaSource.DRAWN.value, area_desc_ar=None, area_desc_en=None)
    draft = replace(base, **changes)
    if draft.playbooks:  # a playbook already activated brings nothing twice
        assert current.first_id is not None
        done = activated(session, current.first_id)
        draft = replace(draft, playbooks=tuple(s for s in draft.playbooks if s not in done))
    if "expires_at" in changes:
        check_expiry(draft.expires_at, now)
    return draft


def is_active(emergency: Emergency, now: datetime) -> bool:
    """In force at ``now``: issued, not ended, not expired."""
    return (
        emergency.state == EmergencyState.ISSUED.value
        and emergency.msg_type != MessageType.CANCEL.value
        and emergency.expires_at > now
    )


def identifier(muni: Municipality, now: datetime) -> str:
    """Unique per version and never reused: CAP's identifier (no spaces, commas, < or &)."""
    return f"roadbot-{muni.slug}-{now.astimezone(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def new_version(
    muni: Municipality, draft: EmergencyDraft, area: ClippedArea, desc: tuple[str, str], actor: Actor,
    now: datetime, *, msg_type: MessageType, state: EmergencyState,
) -> Emergency:  # fmt: skip
    """A first version (or an update, once the caller sets ``first_id`` and ``version``) from a draft."""
    terms = cap_terms(draft.hazard, draft.level)
    minx, miny, maxx, maxy = area.geometry.bounds
    assert muni.id is not None

    def text(name: str) -> str:  # checked by the plan already; trimmed the same way here
        return required_text(name, getattr(draft, name), 10_000)

    return Emergency(
        identifier=identifier(muni, now), municipality_id=muni.id, version=1, msg_type=msg_type.value,
        state=state.value, exercise=draft.exercise, hazard=draft.hazard, level=draft.level,
        cap_category=terms.category, cap_severity=terms.severity, cap_urgency=terms.urgency,
        cap_certainty=terms.certainty, cap_response=terms.response, headline_ar=text("headline_ar"),
        headline_en=text("headline_en"), instruction_ar=text("instruction_ar"),
        instruction_en=text("instruction_en"),
        area_desc_ar=desc[0], area_desc_en=desc[1],
        area_geojson=shapely.to_geojson(area.geometry), area_source=draft.area_from,
        area_m2=round(area.area_m2, 1), clipped_share=area.clipped_share,
        min_lon=minx, min_lat=miny, max_lon=maxx, max_lat=maxy,
        sent_at=now if state is EmergencyState.ISSUED else None, expires_at=draft.expires_at,
        source=draft.source, source_sender=draft.source_sender, source_identifier=draft.source_identifier,
        source_sent=draft.source_sent, created_by=actor.name, created_at=now, updated_at=now,
    )  # fmt: skip


AREA_COLUMNS = (
    "area_geojson", "area_source", "area_m2", "clipped_share", "min_lon", "min_lat", "max_lon", "max_lat",
)  # fmt: skip
NOT_COPIED = {"id", "identifier", "version", "msg_type", "state", "superseded_by", "sent_at"}


def copied(row: Emergency) -> dict[str, Any]:
    return {name: getattr(row, name) for name in Emergency.model_fields if name not in NOT_COPIED}


def draft_of(row: Emergency) -> EmergencyDraft:
    names = {f.name for f in fields(EmergencyDraft)} - {"area", "area_from", "playbooks"}
    return EmergencyDraft(
        area=shapely.from_geojson(row.area_geojson),
        area_from=AreaSource.IMPORTED.value
        if row.area_source == AreaSource.IMPORTED.value
        else AreaSource.DRAWN.value,
        **{name: getattr(row, name) for name in names},
    )


def activated(session: Session, first_id: int) -> set[str]:
    """The slugs of the playbooks the emergency activated already."""
    return set(
        session.execute(
            sa.select(col(Playbook.slug))
            .join(EmergencyClosure, col(EmergencyClosure.playbook_id) == col(Playbook.id))
            .where(col(EmergencyClosure.emergency_id) == first_id)
        ).scalars()
    )


def current(session: Session, first_id: int) -> Emergency:
    row = session.exec(
        select(Emergency).where(
            col(Emergency.first_id) == first_id,
            col(Emergency.state) == EmergencyState.ISSUED.value,
            col(Emergency.superseded_by).is_(None),
        )
    ).first()
    if row is None:
        raise NotFound("emergency", first_id)
    return row


def supersede(session: Session, old: Emergency, new: Emergency) -> None:
    """Mark ``old`` (the current version) superseded by ``new`` — only if nobody did meanwhile: the check
    lives in the UPDATE itself, so two writers of one version cannot both pass it."""
    done = rows_matched(
        session.execute(
            sa.update(Emergency)
            .where(col(Emergency.id) == old.id, col(Emergency.superseded_by).is_(None))
            .values(superseded_by=new.id)
            .execution_options(synchronize_session=False)
        )
    )
    if done != 1:
        assert old.first_id is not None  # someone issued a version in between: say which is current now
        raise EmergencyConflict(old.first_id, old.version, current(session, old.first_id).version)


def draft_for_change(session: Session, draft_id: int, actor: Actor) -> tuple[Emergency, Municipality]:
    row = session.get(Emergency, draft_id)
    if row is None:
        raise NotFound("emergency", draft_id)
    muni = session.get(Municipality, row.municipality_id)
    assert muni is not None
    authorise(session, muni, actor)
    if row.state != EmergencyState.DRAFT.value:
        raise ValidationError(Refusal.NOT_A_DRAFT, detail=row.state)
    return row, muni


def claim_draft(session: Session, row: Emergency, state: EmergencyState, now: datetime) -> None:
    done = rows_matched(
        session.execute(
            sa.update(Emergency)
            .where(col(Emergency.id) == row.id, col(Emergency.state) == EmergencyState.DRAFT.value)
            .values(state=state.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if done != 1:
        raise ValidationError(Refusal.NOT_A_DRAFT, detail="confirmed or discarded meanwhile")
    row.state, row.updated_at = state.value, now


def snapshot(row: Emergency) -> dict[str, Any]:
    """A JSON-ready copy of a version's columns, for the audit trail."""
    out: dict[str, Any] = {}
    for name in Emergency.model_fields:
        value = getattr(row, name)
        out[name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    return out


def audit(
    session: Session,
    row: Emergency,
    action: EmergencyAction,
    actor: Actor,
    now: datetime,
    *,
    before: Emergency | None,
) -> None:
    assert row.id is not None
    assert row.first_id is not None
    session.add(
        EmergencyEvent(
            emergency_id=row.id,
            first_id=row.first_id,
            version=row.version,
            action=action.value,
            actor=actor.name,
            at=now,
            before_json=json.dumps(snapshot(before), ensure_ascii=False) if before is not None else None,
            after_json=json.dumps(snapshot(row), ensure_ascii=False),
        )
    )


def area_of(draft: EmergencyDraft, books: Sequence[PlaybookView], boundary: BaseGeometry) -> BaseGeometry:
    match draft.area_from:
        case AreaSource.DRAWN.value | AreaSource.IMPORTED.value:
            if draft.area is None:
                raise ValidationError(Refusal.MISSING_FIELD, field="area")
            return draft.area
        case AreaSource.MUNICIPALITY.value:
            return boundary
        case AreaSource.PLAYBOOK.value:
            areas = [book.area for book in books if book.area is not None]
            if not areas:
                raise ValidationError(Refusal.NO_AREA, field="area", detail="no playbook with an area")
            return shapely.union_all(areas)
    raise ValidationError(Refusal.BAD_VALUE, field="area_from", detail=repr(draft.area_from))


def default_desc(lang: str, muni: Municipality, books: Sequence[PlaybookView], area_from: str) -> str:
    """CAP's areaDesc when the operator gave none: a name, never a sentence (the domain writes none)."""
    if area_from == AreaSource.PLAYBOOK.value:
        named = [b for b in books if b.area is not None]
        desc = getattr(named[0], f"area_desc_{lang}") or getattr(named[0], f"name_{lang}")
        return short_name(desc)
    return short_name(getattr(muni, f"name_{lang}"))
