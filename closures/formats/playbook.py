"""A playbook as a GeoJSON (RFC 7946) FeatureCollection, out and back in without loss.

The collection's features are the playbook's closures, in order; the playbook itself rides in a foreign
member of the collection (RFC 7946 §6.1), so any GIS tool shows the closures and keeps the rest::

    {
      "type": "FeatureCollection",
      "playbook": {
        "slug": "khurais-underpasses",            lower-case letters, digits, dashes (required)
        "name_ar": "أنفاق طريق خريص",               (required)
        "name_en": "Khurais Rd underpasses",      (required)
        "hazard": "flood",                        flood | sandstorm | fire | security | other, or null
        "area": {"type": "Polygon", ...},          the area the emergency covers when it activates, or null
        "area_desc_ar": "...", "area_desc_en": "..."   CAP areaDesc for that area (< 50 characters), or null
      },
      "features": [
        {"type": "Feature", "geometry": {...},
         "properties": {
           "title_ar": "...", "title_en": "...", "reason": "flood", "severity": "full",
           "radius_m": 100, "direction": "both", "heading": null, "lanes_ar": null, "lanes_en": null,
           "description_ar": null, "description_en": null, "detour_ar": "...", "detour_en": "...",
           "duration_min": null                     null: the closure ends with the emergency
         }}
      ]
    }

A file without the ``playbook`` member may give the same keys as properties of the collection's first
feature prefixed ``playbook_`` (``playbook_slug`` …) — some tools drop foreign members — or take the slug
and names from the command line.
"""

from __future__ import annotations

import json
from typing import Any

import shapely

from closures.errors import Refusal, ValidationError
from closures.playbooks import PlannedClosure, PlaybookDraft, PlaybookView
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from geo.geojson import read_features
from geo.parse import validate

MEMBER = "playbook"
_META = ("slug", "name_ar", "name_en", "hazard", "area_desc_ar", "area_desc_en")
_TEXTS = (
    "title_ar", "title_en", "reason", "severity", "direction", "heading", "lanes_ar", "lanes_en",
    "description_ar", "description_en", "detour_ar", "detour_en",
)  # fmt: skip
MAX_FILE_CHARS = 5_000_000


def playbook_collection(playbook: PlaybookView) -> dict[str, Any]:
    """The playbook as a FeatureCollection (see the module docstring)."""
    meta: dict[str, Any] = {name: getattr(playbook, name) for name in _META}
    meta["area"] = json.loads(shapely.to_geojson(playbook.area)) if playbook.area is not None else None
    features = []
    for planned in playbook.closures:
        properties: dict[str, Any] = {name: getattr(planned, name) for name in _TEXTS}
        properties["radius_m"] = planned.radius_m
        properties["duration_min"] = planned.duration_min
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(planned.geometry)),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", MEMBER: meta, "features": features}


def read_playbook(text: str, **overrides: str | None) -> PlaybookDraft:
    """A draft from a FeatureCollection; keyword ``overrides`` (slug, name_ar, …) win over the file's.

    Unreadable text: ``GeometryError`` (as any GeoJSON); a missing or wrong value: ``ValidationError``.
    """
    if len(text) > MAX_FILE_CHARS:
        raise GeometryError(GeoReason.TOO_LARGE_INPUT, f"{len(text)} characters > {MAX_FILE_CHARS}")
    features = read_features(text)  # refuses what is not GeoJSON, before anything else is read
    document = json.loads(text.lstrip("\ufeff \t\r\n"))
    meta = _meta(document, features)
    meta.update({k: v for k, v in overrides.items() if v is not None})
    closures = [_planned(validate(geometry), props) for geometry, props in features]
    area = meta.get("area")
    return PlaybookDraft(
        slug=_required(meta, "slug"),
        name_ar=_required(meta, "name_ar"),
        name_en=_required(meta, "name_en"),
        hazard=_optional(meta, "hazard"),
        area=_area(area) if area is not None else None,
        area_desc_ar=_optional(meta, "area_desc_ar"),
        area_desc_en=_optional(meta, "area_desc_en"),
        closures=closures,
    )


def _meta(document: Any, features: list[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    member = document.get(MEMBER) if isinstance(document, dict) else None
    if member is not None:
        if not isinstance(member, dict):
            raise ValidationError(Refusal.BAD_VALUE, field=MEMBER, detail="not an object")
        return dict(member)
    first = features[0][1] if features else {}
    return {name: first[f"playbook_{name}"] for name in (*_META, "area") if f"playbook_{name}" in first}


def _planned(geometry: Any, props: dict[str, Any]) -> PlannedClosure:
    values = {name: props[name] for name in _TEXTS if props.get(name) is not None}
    for name, value in values.items():
        if not isinstance(value, str):
            raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(value))
    return PlannedClosure(
        geometry=geometry,
        radius_m=_number(props, "radius_m"),
        duration_min=_whole(props, "duration_min"),
        **{"reason": "other", "title_ar": "", **values},
    )


def _area(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValidationError(Refusal.BAD_VALUE, field="area", detail="not a GeoJSON geometry")
    return validate(read_features(json.dumps(value))[0][0])


def _required(meta: dict[str, Any], name: str) -> str:
    value = meta.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(Refusal.MISSING_FIELD if value in (None, "") else Refusal.BAD_VALUE, field=name)
    return value


def _optional(meta: dict[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(value))
    return value


def _number(props: dict[str, Any], name: str) -> float | None:
    value = props.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(value))
    return float(value)


def _whole(props: dict[str, Any], name: str) -> int | None:
    value = _number(props, name)
    if value is not None and value != int(value):
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(props[name]))
    return None if value is None else int(value)
