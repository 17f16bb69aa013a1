"""Waze CIFS (Closure and Incident Feed Specification v2), JSON and XML: build from closures, read back.

One incident per closure, its ``id`` the closure's stable ref. What each field carries:

* ``type``/``subtype``: a full closure is ``ROAD_CLOSED`` (subtype by reason: works
  ``ROAD_CLOSED_CONSTRUCTION``, an event ``ROAD_CLOSED_EVENT``, flood/crash/security ``ROAD_CLOSED_HAZARD``).
  CIFS has no partial closure type; a partial one is what Waze lists for lanes: works ``CONSTRUCTION``, a
  crash ``ACCIDENT``, a flood ``HAZARD``/``HAZARD_WEATHER_FLOOD``, anything else
  ``HAZARD``/``HAZARD_ON_ROAD_LANE_CLOSED``. (CIFS's ``lane_impact`` needs a count of closed lanes and a
  side, which the model keeps only as free text.)
* ``polyline``: "lat lon" pairs with 6 decimals. A line is its vertices (a multi-line, its parts merged or
  joined in order); an area, its outer ring closed; a point, the point twice (CIFS wants two coordinates).
  A one-way closure's polyline runs the way the affected traffic goes (its heading).
* ``direction``: ``ONE_DIRECTION`` or ``BOTH_DIRECTIONS``; reading ``ONE_DIRECTION``, the heading is the
  compass direction from the polyline's first to its last point (a point has none: both directions).
* ``street``: the Arabic title (the model has no street name); ``description``: the Arabic and English
  descriptions on two lines, else the English title, else the Arabic one. Reading, Arabic lines (by
  script) become the Arabic description, the others the English one.
* ``starttime``/``endtime`` in the municipality's time zone with its offset (``+03:00`` in Riyadh); an
  open-ended closure has no ``endtime``. ``source``: the municipality's slug and name.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from closures.errors import Refusal, ValidationError
from closures.formats.common import (
    FeedItem,
    geometry_from_path,
    has_arabic,
    heading_of,
    local_iso,
    oriented,
    path_of,
    read_instant,
    release_children,
    utc_z,
)
from closures.formats.geojson import ImportedClosure
from closures.models import Direction, Reason, Severity
from closures.rules import ClosureDraft

_FULL_SUBTYPE = {
    Reason.ROADWORKS: "ROAD_CLOSED_CONSTRUCTION",
    Reason.MAINTENANCE: "ROAD_CLOSED_CONSTRUCTION",
    Reason.EVENT: "ROAD_CLOSED_EVENT",
    Reason.FLOOD: "ROAD_CLOSED_HAZARD",
    Reason.ACCIDENT: "ROAD_CLOSED_HAZARD",
    Reason.SECURITY: "ROAD_CLOSED_HAZARD",
}
_PARTIAL_TYPE = {
    Reason.ROADWORKS: ("CONSTRUCTION", None),
    Reason.MAINTENANCE: ("CONSTRUCTION", None),
    Reason.ACCIDENT: ("ACCIDENT", None),
    Reason.FLOOD: ("HAZARD", "HAZARD_WEATHER_FLOOD"),
}
_REASON_OF = {
    "ROAD_CLOSED_CONSTRUCTION": Reason.ROADWORKS,
    "CONSTRUCTION": Reason.ROADWORKS,
    "HAZARD_ON_ROAD_CONSTRUCTION": Reason.ROADWORKS,
    "ROAD_CLOSED_EVENT": Reason.EVENT,
    "HAZARD_WEATHER_FLOOD": Reason.FLOOD,
    "ACCIDENT": Reason.ACCIDENT,
    "ACCIDENT_MAJOR": Reason.ACCIDENT,
    "ACCIDENT_MINOR": Reason.ACCIDENT,
}
_FIELDS = ("type", "subtype", "street", "polyline", "direction", "description", "starttime", "endtime")


def incidents(items: Sequence[FeedItem]) -> list[dict[str, Any]]:
    """Each closure as a CIFS incident: a flat mapping of element name to text (``source`` a mapping)."""
    return [incident(item) for item in items]


def incident(item: FeedItem) -> dict[str, Any]:
    c, tz = item.closure, item.municipality.timezone
    if c.severity == Severity.FULL:
        kind, subtype = "ROAD_CLOSED", _FULL_SUBTYPE.get(Reason(c.reason))
    else:
        kind, subtype = _PARTIAL_TYPE.get(Reason(c.reason), ("HAZARD", "HAZARD_ON_ROAD_LANE_CLOSED"))
    path = oriented(path_of(item.geometry), c.heading if c.direction == Direction.ONE else None)
    if len(path) == 1:
        path = path * 2
    street = c.title_ar if len(c.title_ar) >= 2 else f"{c.title_ar} {item.ref}"
    description = "\n".join(t for t in (c.description_ar, c.description_en) if t) or c.title_en or c.title_ar
    out: dict[str, Any] = {
        "id": item.ref,
        "creationtime": local_iso(c.created_at, tz),
        "updatetime": local_iso(c.updated_at, tz),
        "source": {"reference": item.municipality.slug, "name": item.municipality.name_en},
        "type": kind,
        "subtype": subtype,
        "street": street,
        "polyline": " ".join(f"{lat:.6f} {lon:.6f}" for lon, lat in path),
        "direction": "ONE_DIRECTION" if c.direction == Direction.ONE else "BOTH_DIRECTIONS",
        "description": description,
        "starttime": local_iso(c.starts_at, tz),
        "endtime": local_iso(c.ends_at, tz) if c.ends_at else None,
    }
    return {k: v for k, v in out.items() if v is not None}


def cifs_json(items: Sequence[FeedItem], *, as_of: datetime) -> dict[str, Any]:
    """The CIFS JSON document: ``{"timestamp": …, "incidents": […]}``."""
    return {"timestamp": utc_z(as_of), "incidents": incidents(items)}


def cifs_xml(items: Sequence[FeedItem], *, as_of: datetime) -> bytes:
    """The CIFS XML document (``<incidents>``, valid against Google's ``cifsv2.xsd``), UTF-8."""
    root = ET.Element("incidents", {"timestamp": utc_z(as_of)})
    for data in incidents(items):
        element = ET.SubElement(root, "incident", {"id": data["id"]})
        for name in ("creationtime", "updatetime"):
            ET.SubElement(element, name).text = data[name]
        source = ET.SubElement(element, "source")
        for name, value in data["source"].items():
            ET.SubElement(source, name).text = value
        for name in _FIELDS:
            if name in data:
                ET.SubElement(element, name).text = data[name]
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    release_children(root)  # freed in slices, not in one call that holds the GIL
    return body


# --- reading -------------------------------------------------------------------------------------------


def read_incidents(text: str | bytes, *, now: datetime, source: str = "cifs") -> list[ImportedClosure]:
    """Drafts from a CIFS feed, JSON or XML (told apart by the first character)."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    records = _xml_records(raw) if raw.lstrip().startswith("<") else _json_records(raw)
    out = []
    for number, record in enumerate(records, start=1):
        try:
            out.append(_read(record, source=source))
        except ValidationError as exc:
            where = f"incidents[{number}].{exc.field or ''}"
            raise ValidationError(exc.code, field=where, detail=exc.detail) from None
    return out


def _json_records(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(Refusal.BAD_VALUE, field="feed", detail=f"not JSON: {exc.msg}") from None
    records = data.get("incidents") if isinstance(data, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValidationError(Refusal.BAD_VALUE, field="feed", detail="no list of incidents")
    return records


def _xml_records(text: str) -> list[dict[str, Any]]:
    try:
        root = SafeET.fromstring(text.encode("utf-8"))
    except (ET.ParseError, DefusedXmlException) as exc:
        raise ValidationError(Refusal.BAD_VALUE, field="feed", detail=f"not XML: {exc}") from None
    if root.tag != "incidents":
        raise ValidationError(Refusal.BAD_VALUE, field="feed", detail=f"<{root.tag}> is not <incidents>")
    records = []
    for element in root.iter("incident"):
        record: dict[str, Any] = {"id": element.get("id")}
        location = element.find("location")  # CIFS v1 nesting, still accepted by Waze
        for holder in (location, element):
            if holder is not None:
                record |= {child.tag: (child.text or "").strip() for child in holder if len(child) == 0}
        source = element.find("source")
        if source is not None:
            record["source"] = {child.tag: (child.text or "").strip() for child in source}
        records.append(record)
    return records


def _read(record: dict[str, Any], *, source: str) -> ImportedClosure:
    ref = record.get("id")
    if not isinstance(ref, str | int) or not str(ref).strip():
        raise ValidationError(Refusal.MISSING_FIELD, field="id")
    kind, subtype = str(record.get("type") or ""), str(record.get("subtype") or "")
    if not kind:
        raise ValidationError(Refusal.MISSING_FIELD, field="type")
    path = _polyline(record.get("polyline"))
    heading = heading_of(path) if record.get("direction") == "ONE_DIRECTION" else None
    street = str(record.get("street") or "").strip()
    if not street:
        raise ValidationError(Refusal.MISSING_FIELD, field="street")
    lines = [ln.strip() for ln in str(record.get("description") or "").splitlines() if ln.strip()]
    arabic = "\n".join(ln for ln in lines if has_arabic(ln) and ln != street)
    other = "\n".join(ln for ln in lines if not has_arabic(ln))
    starts_at = read_instant(record, "starttime")
    assert starts_at is not None  # required: read_instant raised otherwise
    draft = ClosureDraft(
        geometry=geometry_from_path(path),
        reason=(_REASON_OF.get(subtype) or _REASON_OF.get(kind) or Reason.OTHER).value,
        starts_at=starts_at,
        ends_at=read_instant(record, "endtime", required=False),
        title_ar=street,
        severity=Severity.FULL.value if kind == "ROAD_CLOSED" else Severity.PARTIAL.value,
        direction=Direction.ONE.value if heading else Direction.BOTH.value,
        heading=heading,
        description_ar=arabic or None,
        description_en=other or None,
        ref=str(ref)[:200],
        source=source,
    )
    origin = record.get("source")
    muni = origin.get("reference") if isinstance(origin, dict) else None
    return ImportedClosure(str(muni) if muni else None, draft)


def _polyline(value: Any) -> list[tuple[float, float]]:
    numbers = re.split(r"[\s,]+", str(value or "").strip())
    try:
        values = [float(n) for n in numbers if n]
    except ValueError:
        raise ValidationError(Refusal.BAD_VALUE, field="polyline", detail="not numbers") from None
    if len(values) < 2 or len(values) % 2:
        raise ValidationError(Refusal.BAD_VALUE, field="polyline", detail="not pairs of lat lon")
    return [(values[i + 1], values[i]) for i in range(0, len(values), 2)]
