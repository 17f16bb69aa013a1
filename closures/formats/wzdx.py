"""WZDx 4.2 (Work Zone Data Exchange) WorkZoneFeed: build one from closures, and read one back.

Each closure is one ``work-zone`` road event (the only event type a WorkZoneFeed carries besides detours;
WZDx has no other kind for a flood or a crash, so their reason is not carried). Its municipality is the
data source (``data_source_id`` = the municipality's slug, listed in ``feed_info.data_sources``).

Geometry: WZDx takes only a LineString or a MultiPoint, so

* a line is the LineString itself; a multi-line is its parts merged where they touch, else joined in order;
* an area becomes a closed LineString along its outer ring (first vertex repeated last); a multi-area, the
  ring of its convex hull. Reading back, a closed LineString of four or more vertices is an area again;
* a point becomes a MultiPoint of that point twice (start and end of the event are the same place); the
  radius is not carried. Reading back, a MultiPoint whose points coincide is a point.

Other fields:

* ``road_names``: the model has no road-name field, so these are the closure's titles (Arabic, then
  English); ``name`` is the English title (else the Arabic) and ``description`` the description (English,
  else Arabic). Reading, Arabic text (by script) goes to the ``_ar`` fields and the rest to ``_en``.
* ``direction``: a one-way closure's heading, to the nearest of northbound/eastbound/southbound/westbound;
  both directions: ``undefined`` (WZDx names one direction per road event). Reading, a cardinal direction
  is a one-way closure with that heading; ``undefined``/``unknown``/loops are both directions.
* ``vehicle_impact``: full closure ``all-lanes-closed``, partial ``some-lanes-closed`` (reading, every
  other value but ``all-lanes-closed`` is partial).
* ``start_date``/``end_date`` in UTC; both verified, as staff set them. WZDx requires an end: an open-ended
  closure gets an estimated one, ``OPEN_END_ESTIMATE`` after its start or the feed time, whichever is later,
  with ``is_end_date_verified`` false and ``end_date_accuracy`` ``estimated``.
* ``location_method`` ``other`` (drawn on a map or imported), positions not verified on site.
* ``event_status``: planned or active; a lifted (``completed``) or cancelled event read back lifts or
  cancels its closure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from closures.errors import Refusal, ValidationError
from closures.formats.common import (
    FeedItem,
    FeedMunicipality,
    geometry_from_path,
    has_arabic,
    path_of,
    read_instant,
    utc_z,
)
from closures.formats.geojson import ImportedClosure
from closures.lifecycle import Phase
from closures.models import Direction, Severity, Status
from closures.rules import ClosureDraft
from geo.measure import COMPASS_CODES

VERSION = "4.2"
OPEN_END_ESTIMATE = timedelta(days=7)
_CARDINALS = ("northbound", "eastbound", "southbound", "westbound")
_HEADING_OF = {"northbound": "N", "eastbound": "E", "southbound": "S", "westbound": "W"}
_STATUS_OF = {Phase.SCHEDULED: "planned", Phase.ACTIVE: "active"}


def work_zone_feed(
    items: Sequence[FeedItem],
    *,
    as_of: datetime,
    publisher: str,
    municipalities: Sequence[FeedMunicipality],
    update_frequency_s: int | None = None,
) -> dict[str, Any]:
    """A WZDx 4.2 WorkZoneFeed of these closures; ``as_of`` is when the data last changed."""
    info: dict[str, Any] = {
        "publisher": publisher,
        "version": VERSION,
        "update_date": utc_z(as_of),
        "data_sources": [
            {"data_source_id": m.slug, "organization_name": m.name_en or m.name_ar} for m in municipalities
        ]
        or [{"data_source_id": "none", "organization_name": publisher}],
    }
    if update_frequency_s:
        info["update_frequency"] = max(1, int(update_frequency_s))
    return {
        "feed_info": info,
        "type": "FeatureCollection",
        "features": [road_event(item, as_of=as_of) for item in items],
    }


def road_event(item: FeedItem, *, as_of: datetime) -> dict[str, Any]:
    """One closure as a WZDx work-zone road event (a GeoJSON Feature)."""
    c = item.closure
    core: dict[str, Any] = {
        "data_source_id": item.municipality.slug,
        "event_type": "work-zone",
        "road_names": [t for t in (c.title_ar, c.title_en) if t],
        "direction": _direction(c.direction, c.heading),
        "name": c.title_en or c.title_ar,
        "creation_date": utc_z(c.created_at),
        "update_date": utc_z(c.updated_at),
    }
    description = c.description_en or c.description_ar
    if description:
        core["description"] = description
    if c.ends_at is not None:
        end, verified = c.ends_at, True
    else:
        end, verified = max(c.starts_at, as_of) + OPEN_END_ESTIMATE, False
    props: dict[str, Any] = {
        "core_details": core,
        "start_date": utc_z(c.starts_at),
        "end_date": utc_z(end),
        "is_start_date_verified": True,
        "is_end_date_verified": verified,
        "start_date_accuracy": "verified",
        "end_date_accuracy": "verified" if verified else "estimated",
        "is_start_position_verified": False,
        "is_end_position_verified": False,
        "location_method": "other",
        "vehicle_impact": "all-lanes-closed" if c.severity == Severity.FULL else "some-lanes-closed",
        "work_zone_type": "static",
    }
    status = _STATUS_OF.get(item.phase(as_of))
    if status:
        props["event_status"] = status
    return {"id": item.ref, "type": "Feature", "properties": props, "geometry": _geometry(item)}


def _geometry(item: FeedItem) -> dict[str, Any]:
    path = path_of(item.geometry)
    if len(path) == 1:
        point = [round(path[0][0], 7), round(path[0][1], 7)]
        return {"type": "MultiPoint", "coordinates": [point, point]}
    return {"type": "LineString", "coordinates": numpy.round(path, 7).tolist()}


def _direction(direction: str, heading: str | None) -> str:
    if direction != Direction.ONE or heading not in COMPASS_CODES:
        return "undefined"
    degrees = COMPASS_CODES.index(heading) * 22.5
    return _CARDINALS[int(((degrees + 45.0) % 360.0) // 90.0)]


# --- reading -------------------------------------------------------------------------------------------


def read_work_zone_feed(text: str, *, now: datetime, source: str = "wzdx") -> list[ImportedClosure]:
    """Drafts from a WZDx 4.x WorkZoneFeed (a ``ValidationError`` names what is wrong and where)."""
    try:
        feed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(Refusal.BAD_VALUE, field="feed", detail=f"not JSON: {exc.msg}") from None
    if not isinstance(feed, dict) or not isinstance(feed.get("features"), list):
        raise ValidationError(Refusal.BAD_VALUE, field="feed", detail="not a WZDx FeatureCollection")
    out = []
    for number, feature in enumerate(feed["features"], start=1):
        try:
            item = _read_event(feature, now=now, source=source)
        except ValidationError as exc:
            where = f"features[{number}].{exc.field or ''}"
            raise ValidationError(exc.code, field=where, detail=exc.detail) from None
        if item is not None:
            out.append(item)
    return out


def _read_event(feature: Any, *, now: datetime, source: str) -> ImportedClosure | None:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        raise ValidationError(Refusal.BAD_VALUE, field="properties", detail="not a road event")
    props = feature["properties"]
    core = props.get("core_details")
    if not isinstance(core, dict):
        raise ValidationError(Refusal.MISSING_FIELD, field="core_details")
    if core.get("event_type") not in (None, "work-zone", "detour", "restriction"):
        raise ValidationError(Refusal.BAD_VALUE, field="event_type", detail=repr(core.get("event_type")))
    ref = feature.get("id") or core.get("name")
    if not isinstance(ref, str | int) or not str(ref).strip():
        raise ValidationError(Refusal.MISSING_FIELD, field="id")
    texts = [t for t in [*(core.get("road_names") or []), core.get("name")] if isinstance(t, str) and t]
    title_ar = next((t for t in texts if has_arabic(t)), None)
    title_en = next((t for t in texts if not has_arabic(t)), None)
    if not (title_ar or title_en):
        raise ValidationError(Refusal.MISSING_FIELD, field="road_names")
    description = core.get("description") if isinstance(core.get("description"), str) else None
    direction = core.get("direction")
    heading = _HEADING_OF.get(direction) if isinstance(direction, str) else None
    impact = props.get("vehicle_impact")
    draft = ClosureDraft(
        geometry=_read_geometry(feature.get("geometry")),
        reason="roadworks" if core.get("event_type", "work-zone") == "work-zone" else "other",
        starts_at=_start(props, "start_date"),
        ends_at=read_instant(props, "end_date", required=False),
        title_ar=title_ar or title_en or "",
        title_en=title_en if title_ar else None,
        severity=Severity.FULL.value if impact == "all-lanes-closed" else Severity.PARTIAL.value,
        direction=Direction.ONE.value if heading else Direction.BOTH.value,
        heading=heading,
        description_ar=description if has_arabic(description) else None,
        description_en=description if description and not has_arabic(description) else None,
        ref=str(ref)[:200],
        source=source,
    )
    status = {"completed": Status.LIFTED.value, "cancelled": Status.CANCELLED.value}.get(
        props.get("event_status"), Status.OPEN.value
    )
    muni = core.get("data_source_id")
    return ImportedClosure(str(muni) if muni else None, draft, status=status)


def _read_geometry(geometry: Any) -> BaseGeometry:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("LineString", "MultiPoint"):
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise ValidationError(
            Refusal.BAD_VALUE, field="geometry", detail=f"{kind} is not LineString/MultiPoint"
        )
    coords: Any = geometry.get("coordinates")  # unchecked JSON: anything but pairs of numbers fails below
    try:
        path = [(float(c[0]), float(c[1])) for c in coords]
    except (TypeError, ValueError, IndexError):
        raise ValidationError(Refusal.BAD_VALUE, field="geometry", detail="bad coordinates") from None
    if not path:
        raise ValidationError(Refusal.BAD_VALUE, field="geometry", detail="no coordinates")
    if geometry["type"] == "MultiPoint":  # start and end (and any points between), or one place
        distinct = list(dict.fromkeys(path))
        return Point(distinct[0]) if len(distinct) == 1 else LineString(distinct)
    return geometry_from_path(path)


def _start(props: dict[str, Any], name: str) -> datetime:
    start = read_instant(props, name)
    assert start is not None  # required: read_instant raised otherwise
    return start
