"""What makes a closure acceptable: the checks every change passes, as plain functions.

``checked`` turns a draft into column values or raises a typed error (``closures.errors.ValidationError``
or ``geo.errors.GeometryError``); it reads nothing and writes nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from closures.errors import Refusal, ValidationError
from closures.models import Closure, Direction, Kind, Municipality, Reason, Severity
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from geo.measure import COMPASS_CODES
from geo.parse import Limits, validate
from geo.projection import Projection

DEFAULT_POINT_RADIUS_M = 100.0
POINT_RADIUS_RANGE_M = (10.0, 5_000.0)
MAX_TITLE = 200
MAX_LANES = 200
MAX_TEXT = 2_000
_LIMITS = {"title": MAX_TITLE, "lanes": MAX_LANES}

_KIND_OF = {
    "Point": Kind.POINT,
    "LineString": Kind.LINE,
    "MultiLineString": Kind.LINE,
    "Polygon": Kind.AREA,
    "MultiPolygon": Kind.AREA,
}


@dataclass(frozen=True, kw_only=True)
class ClosureDraft:
    """Everything a closure is made of, before it is stored. Geometry in lon/lat."""

    geometry: BaseGeometry
    reason: str
    starts_at: datetime
    ends_at: datetime | None
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
    ref: str | None = None
    source: str = "staff"


def checked(
    draft: ClosureDraft,
    muni: Municipality,
    *,
    now: datetime,
    limits: Limits,
    allow_past_start: bool,
    max_past_start: timedelta,
    tolerance_m: float,
) -> dict[str, Any]:
    """Validate a draft for a municipality and return the closure's column values."""
    _check_choices(draft)
    _check_times(draft, now=now, allow_past=allow_past_start, max_past_start=max_past_start)
    texts = _check_texts(draft)
    boundary, projection = _boundary(muni.boundary_geojson, muni.epsg)
    geometry = validate(draft.geometry, boundary=boundary, limits=limits)
    kind = _KIND_OF.get(geometry.geom_type)
    if kind is None:
        raise GeometryError(GeoReason.UNSUPPORTED_TYPE, f"a closure cannot be a {geometry.geom_type}")
    radius = _check_radius(draft.radius_m, kind)
    allowed = projection.to_metric(boundary).buffer(tolerance_m)
    if not allowed.contains(projection.to_metric(geometry)):
        raise ValidationError(Refusal.OUTSIDE_MUNICIPALITY, field="geometry", detail=muni.slug)
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    return {
        **texts,
        "geometry_geojson": shapely.to_geojson(geometry),
        "kind": kind.value,
        "radius_m": radius,
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "reason": draft.reason,
        "severity": draft.severity,
        "direction": draft.direction,
        "heading": draft.heading if draft.direction == Direction.ONE else None,
        "starts_at": draft.starts_at,
        "ends_at": draft.ends_at,
        "ref": draft.ref,
        "source": draft.source,
    }


def _check_choices(draft: ClosureDraft) -> None:
    for name, choices in (("reason", Reason), ("severity", Severity), ("direction", Direction)):
        if getattr(draft, name) not in {c.value for c in choices}:
            raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(getattr(draft, name)))
    if draft.direction == Direction.ONE:
        if not draft.heading:
            raise ValidationError(Refusal.MISSING_FIELD, field="heading")
        if draft.heading not in COMPASS_CODES:
            raise ValidationError(Refusal.BAD_VALUE, field="heading", detail=repr(draft.heading))


def _check_times(draft: ClosureDraft, *, now: datetime, allow_past: bool, max_past_start: timedelta) -> None:
    for name in ("starts_at", "ends_at"):
        value = getattr(draft, name)
        if value is not None and value.tzinfo is None:
            raise ValidationError(Refusal.BAD_VALUE, field=name, detail="time without a time zone")
    if draft.ends_at is not None and draft.ends_at <= draft.starts_at:
        raise ValidationError(Refusal.END_BEFORE_START, field="ends_at")
    if allow_past:
        return
    if draft.starts_at < now - max_past_start:
        raise ValidationError(Refusal.START_IN_PAST, field="starts_at")
    if draft.ends_at is not None and draft.ends_at <= now:
        raise ValidationError(Refusal.END_IN_PAST, field="ends_at")


def _check_texts(draft: ClosureDraft) -> dict[str, str | None]:
    title_ar = _clean(draft.title_ar)
    if not title_ar:
        raise ValidationError(Refusal.MISSING_FIELD, field="title_ar")
    out: dict[str, str | None] = {"title_ar": title_ar}
    for name in (
        "title_en",
        "lanes_ar",
        "lanes_en",
        "description_ar",
        "description_en",
        "detour_ar",
        "detour_en",
    ):
        out[name] = _clean(getattr(draft, name)) or None
    for name, value in out.items():
        limit = _LIMITS.get(name.split("_")[0], MAX_TEXT)
        if value is not None and len(value) > limit:
            raise ValidationError(Refusal.TEXT_TOO_LONG, field=name, detail=f"{len(value)} > {limit}")
    return out


def _clean(text: str | None) -> str:
    """Trimmed text, or "" when it holds nothing visible (only spaces or invisible direction marks)."""
    text = (text or "").strip()
    return text if any(unicodedata.category(ch)[0] not in "ZC" for ch in text) else ""


def _check_radius(radius: float | None, kind: Kind) -> float | None:
    if kind is not Kind.POINT:
        return None
    if radius is None:
        return DEFAULT_POINT_RADIUS_M
    low, high = POINT_RADIUS_RANGE_M
    if not low <= radius <= high:
        raise ValidationError(Refusal.BAD_VALUE, field="radius_m", detail=f"{radius} not in [{low}, {high}]")
    return float(radius)


def boundary_of(muni: Municipality) -> tuple[BaseGeometry, Projection]:
    """The municipality's boundary (lon/lat) and its metric projection, parsed once per boundary."""
    return _boundary(muni.boundary_geojson, muni.epsg)


@lru_cache(maxsize=64)
def _boundary(geojson: str, epsg: int | None) -> tuple[BaseGeometry, Projection]:
    boundary = shapely.from_geojson(geojson)
    projection = Projection(epsg) if epsg else Projection.for_geometry(boundary)
    return boundary, projection


def draft_of(closure: Closure) -> ClosureDraft:
    """The draft a stored closure would have come from (for edits: change a field, check it all again)."""
    return ClosureDraft(
        geometry=geometry_of(closure),
        **{name: getattr(closure, name) for name in _DRAFT_COLUMNS},
    )


_DRAFT_COLUMNS = (
    "reason", "starts_at", "ends_at", "title_ar", "title_en", "radius_m", "severity", "lanes_ar", "lanes_en",
    "direction", "heading", "description_ar", "description_en", "detour_ar", "detour_en", "ref", "source",
)  # fmt: skip


def geometry_of(closure: Closure) -> BaseGeometry:
    return shapely.from_geojson(closure.geometry_geojson)


def snapshot(closure: Closure) -> dict[str, Any]:
    """A JSON-ready copy of the closure's columns, for the audit trail."""
    out: dict[str, Any] = {}
    for name in Closure.model_fields:
        value = getattr(closure, name)
        out[name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    return out
