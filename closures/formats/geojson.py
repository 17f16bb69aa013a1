"""GeoJSON (RFC 7946) export and import of closures and municipalities.

Exported features carry every field a closure has, with absolute ISO 8601 times. Imported features may
instead carry ``start_offset_h`` / ``duration_h`` (hours relative to the moment of import): the sample data
uses them so that the demo shows current closures on whatever day it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely

from closures.errors import Refusal, ValidationError
from closures.formats.common import read_instant, stable_ref
from closures.models import Closure, Municipality, Status
from closures.rules import ClosureDraft
from geo.parse import Limits, parse_geojson_features

# A municipality is far bigger than any closure: its boundary gets room for a whole region.
BOUNDARY_LIMITS = Limits(max_vertices=200_000, max_area_m2=200_000e6, max_line_m=float("inf"))

_TEXT_FIELDS = (
    "title_ar", "title_en", "description_ar", "description_en", "detour_ar", "detour_en",
    "lanes_ar", "lanes_en",
)  # fmt: skip
_CHOICE_FIELDS = ("reason", "severity", "direction", "heading")


@dataclass(frozen=True, slots=True)
class ImportedClosure:
    """One feature read from a file: which municipality it names (if any), the draft it makes, and what
    was decided about it (``open``, or ``lifted``/``cancelled`` for a closure that is over)."""

    municipality: str | None
    draft: ClosureDraft
    status: str = "open"


@dataclass(frozen=True, slots=True)
class ImportedMunicipality:
    slug: str
    name_ar: str
    name_en: str
    boundary_geojson: str
    timezone: str
    default_radius_m: int
    epsg: int | None
    language: str | None = None  # the language its public pages open in; None: the reader's browser


def closure_feature(closure: Closure, municipality_slug: str | None = None) -> dict[str, Any]:
    """One closure as a GeoJSON Feature; ``id`` is the closure id."""
    properties: dict[str, Any] = {
        "ref": closure.ref,
        "municipality": municipality_slug,
        "kind": closure.kind,
        "radius_m": closure.radius_m,
        "status": closure.status,
        "version": closure.version,
        "starts_at": closure.starts_at.isoformat(),
        "ends_at": closure.ends_at.isoformat() if closure.ends_at else None,
        "source": closure.source,
    }
    properties.update({name: getattr(closure, name) for name in _CHOICE_FIELDS + _TEXT_FIELDS})
    return {
        "type": "Feature",
        "id": closure.id,
        "geometry": json.loads(closure.geometry_geojson),
        "properties": properties,
    }


def exported_feature(closure: Closure, slug: str) -> dict[str, Any]:
    """The closure's feature with a ``ref`` even when it was registered without one (see ``stable_ref``)."""
    feature = closure_feature(closure, slug)
    feature["properties"]["ref"] = stable_ref(closure, slug)
    return feature


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def read_closures(text: str, *, now: datetime, source: str = "geojson") -> list[ImportedClosure]:
    """Drafts from a FeatureCollection (bad geometry: ``GeometryError``; the rest: ``ValidationError``)."""
    out = []
    for geometry, props in parse_geojson_features(text):
        starts_at, ends_at = _times(props, now)
        values = {
            name: _text(props, name) for name in _TEXT_FIELDS + _CHOICE_FIELDS if props.get(name) is not None
        }
        draft = ClosureDraft(
            geometry=geometry,
            starts_at=starts_at,
            ends_at=ends_at,
            radius_m=_number(props, "radius_m"),
            ref=_text(props, "ref") if props.get("ref") is not None else None,
            source=_text(props, "source") if props.get("source") else source,
            **{"reason": "other", "title_ar": "", **values},
        )
        muni = props.get("municipality")
        status = props.get("status") or Status.OPEN.value
        if status not in {s.value for s in Status}:
            raise ValidationError(Refusal.BAD_VALUE, field="status", detail=repr(status))
        out.append(ImportedClosure(str(muni) if muni else None, draft, status=str(status)))
    return out


def read_municipalities(text: str) -> list[ImportedMunicipality]:
    out = []
    for geometry, props in parse_geojson_features(text, limits=BOUNDARY_LIMITS):
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValidationError(
                Refusal.BAD_VALUE, field="boundary", detail=f"{geometry.geom_type} is not an area"
            )
        epsg = _number(props, "epsg")
        out.append(
            ImportedMunicipality(
                slug=_text(props, "slug"),
                name_ar=_text(props, "name_ar"),
                name_en=_text(props, "name_en"),
                boundary_geojson=shapely.to_geojson(geometry),
                timezone=str(props.get("timezone") or "Asia/Riyadh"),
                default_radius_m=int(_number(props, "default_radius_m") or 5000),
                epsg=int(epsg) if epsg else None,
                language=_language(props),
            )
        )
    return out


def _language(props: dict[str, Any]) -> str | None:
    value = props.get("language")
    if value is None:
        return None
    if value not in ("ar", "en"):
        raise ValidationError(Refusal.BAD_VALUE, field="language", detail=f"{value!r}: ar or en")
    return str(value)


def municipality_feature(muni: Municipality) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": muni.id,
        "geometry": json.loads(muni.boundary_geojson),
        "properties": {
            "slug": muni.slug,
            "name_ar": muni.name_ar,
            "name_en": muni.name_en,
            "timezone": muni.timezone,
            "default_radius_m": muni.default_radius_m,
            "epsg": muni.epsg,
            "language": muni.language,
        },
    }


def _times(props: dict[str, Any], now: datetime) -> tuple[datetime, datetime | None]:
    if props.get("starts_at") is not None:
        starts_at = read_instant(props, "starts_at")
        assert starts_at is not None  # present: checked above
        return starts_at, read_instant(props, "ends_at", required=False)
    if props.get("start_offset_h") is None:
        raise ValidationError(Refusal.MISSING_FIELD, field="starts_at")
    # From the top of the hour, so that a demo's times read naturally ("until 18:00", not "until 18:07").
    base = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    starts_at = base + timedelta(hours=_number(props, "start_offset_h") or 0.0)
    duration = _number(props, "duration_h")
    return starts_at, (starts_at + timedelta(hours=duration) if duration is not None else None)


def _number(props: dict[str, Any], name: str) -> float | None:
    value = props.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(value))
    return float(value)


def _text(props: dict[str, Any], name: str) -> str:
    value = props.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(Refusal.MISSING_FIELD if value in (None, "") else Refusal.BAD_VALUE, field=name)
    return value
