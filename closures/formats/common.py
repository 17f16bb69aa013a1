"""What every feed format shares: one closure as a feed sees it, stable ids, and plain geometry helpers.

The feed builders (``wzdx``, ``cifs``, ``atom``) are pure functions of a list of ``FeedItem`` and the
moment the data last changed (``as_of``), so the same database gives byte-identical feeds in every process
(and one ETag behind a load balancer).
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from closures.errors import Refusal, ValidationError
from closures.lifecycle import Phase, phase_at
from closures.models import Closure
from geo.measure import COMPASS_CODES, bearing_deg, compass_code

EXPORT_REFS = uuid.UUID("5d0c1f4e-8a53-4c1e-9a57-2f6a0b3c7d91")  # namespace of refs made on export
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


@dataclass(frozen=True, slots=True)
class FeedMunicipality:
    slug: str
    name_ar: str
    name_en: str
    timezone: ZoneInfo


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One closure in a feed, with the municipality it belongs to and its geometry, parsed once for every
    format (rows are detached: safe across threads)."""

    closure: Closure
    municipality: FeedMunicipality
    geometry: BaseGeometry

    @property
    def ref(self) -> str:
        return stable_ref(self.closure, self.municipality.slug)

    def phase(self, at: datetime) -> Phase:
        return phase_at(self.closure, at)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.municipality.timezone)


def stable_ref(closure: Closure, slug: str) -> str:
    """The closure's ``ref``, or one made for it that never changes and is unique across databases.

    Import matches features to closures by ``ref``; without one, importing the same file twice would
    register everything twice. The ref made here hashes the creation instant, so the same closure always
    gets the same one, whatever it has become since.
    """
    if closure.ref:
        return closure.ref
    identity = f"{slug}/{closure.id}/{closure.created_at.isoformat()}"
    return f"{slug}-{uuid.uuid5(EXPORT_REFS, identity).hex[:16]}"


def utc_z(when: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, whole seconds (WZDx asks for UTC)."""
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local_iso(when: datetime, tz: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset, whole seconds (e.g. ``2026-11-27T12:00:00+03:00``)."""
    return when.astimezone(tz).replace(microsecond=0).isoformat()


def has_arabic(text: str | None) -> bool:
    return bool(text and _ARABIC.search(text))


def path_of(geometry: BaseGeometry) -> list[tuple[float, float]]:
    """The geometry as one path of (lon, lat) vertices, for formats that take only a line.

    A line is itself; a point is its one vertex; an area is its outer ring, closed (holes are dropped: a
    driver goes round the whole area); a multi-line is its parts merged where they touch and otherwise
    joined end to start, in order; a multi-polygon is the outer ring of its convex hull (one ring around
    every part, so no closed road is left outside).
    """
    match geometry:
        case Point():
            return [(geometry.x, geometry.y)]
        case LineString():
            return _pairs(geometry)
        case Polygon():
            return _pairs(geometry.exterior)
        case MultiLineString():
            merged = shapely.line_merge(geometry)
            parts = merged.geoms if isinstance(merged, MultiLineString) else [merged]
            return [(x, y) for part in parts for x, y, *_ in part.coords]
        case MultiPolygon():
            return path_of(geometry.convex_hull)
        case MultiPoint():
            return [(p.x, p.y) for p in geometry.geoms]
    raise ValueError(f"no path for a {geometry.geom_type}")


def _pairs(geometry: BaseGeometry) -> list[tuple[float, float]]:
    return [(x, y) for x, y in shapely.get_coordinates(geometry).tolist()]


def oriented(path: list[tuple[float, float]], heading: str | None) -> list[tuple[float, float]]:
    """The path, reversed when it runs against ``heading`` (a one-way closure's affected direction).

    Formats that carry direction in the order of the vertices (CIFS ONE_DIRECTION) need the first vertex
    where the driver enters the closure.
    """
    if heading not in COMPASS_CODES or len(path) < 2 or path[0] == path[-1]:
        return path
    wanted = COMPASS_CODES.index(heading) * 22.5
    actual = bearing_deg(Point(path[0]), Point(path[-1]))
    return path if abs((actual - wanted + 180.0) % 360.0 - 180.0) <= 90.0 else path[::-1]


def heading_of(path: list[tuple[float, float]]) -> str | None:
    """The 16-point compass code from the path's first vertex to its last; None when they coincide."""
    if len(path) < 2 or path[0] == path[-1]:
        return None
    return compass_code(bearing_deg(Point(path[0]), Point(path[-1])))


def geometry_from_path(path: list[tuple[float, float]]) -> BaseGeometry:
    """Back from a path: one place is a point, a closed ring of 4+ vertices an area, anything else a line."""
    distinct = list(dict.fromkeys(path))
    if len(distinct) == 1:
        return Point(distinct[0])
    if len(path) >= 4 and path[0] == path[-1]:
        return Polygon(path)
    return LineString(path)


def read_instant(record: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    """An ISO 8601 time with a zone (``Z`` too) from ``record[name]``, in UTC; a typed error otherwise."""
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise ValidationError(Refusal.MISSING_FIELD, field=name)
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail=str(value)) from None
    if when.tzinfo is None:
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail="time without a time zone")
    return when.astimezone(UTC)


def release_children(element: ET.Element, *, step: int = 100) -> None:
    """Free a serialised tree's children ``step`` at a time: freeing a feed of 10,000 entries (200,000
    elements) at once is one call that holds the GIL, every other thread's turn, for ~60 ms."""
    while len(element):
        del element[-step:]
