"""CAP 1.2 (OASIS Common Alerting Protocol) as plain values, written as XML, and an Atom index of alerts.

``CapAlert`` holds one message with its ``CapInfo`` blocks (one per language) and their ``CapArea``\\ s;
:func:`alert_xml` writes it in the element order the OASIS schema fixes, and ``closures.formats.cap_read``
reads it back into the same values, so a round trip gives the same content; ``closures.formats.cap_atom``
lists alerts in an Atom feed. Nothing here knows a database: ``closures.cap_alerts`` maps emergencies to
these values.

On the wire (CAP 1.2, section 3.3):

* times carry their offset, never ``Z``; UTC is written ``-00:00``, as the standard asks;
* a polygon is whitespace-separated ``lat,lon`` pairs (latitude first), a closed ring of at least four
  pairs; coordinates keep 5 decimals (about a metre), the precision that matters for a road;
* a circle is ``lat,lon radius`` with the radius in kilometres;
* ``references`` is whitespace-separated ``sender,identifier,sent`` triples, one per earlier message.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11 = "urn:oasis:names:tc:emergency:cap:1.1"
CAP_MIME = "application/cap+xml"
DECIMALS = 5
MAX_AREA_DESC = 49  # "under 50 characters": short enough for a phone's alert banner
# what XML 1.0 cannot carry at all (control characters, lone surrogates): dropped rather than sent broken
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class CapStatus(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


@dataclass(frozen=True, slots=True)
class CapReference:
    """An earlier message this one updates or cancels."""

    sender: str
    identifier: str
    sent: datetime

    def text(self) -> str:
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


@dataclass(frozen=True, slots=True)
class CapCircle:
    lon: float
    lat: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class CapArea:
    """An ``<area>``: its description and its shapes, polygons in WGS84 (lon, lat) as everywhere else."""

    description: str
    polygons: tuple[Polygon, ...] = ()
    circles: tuple[CapCircle, ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value): read and kept, never matched


@dataclass(frozen=True, slots=True)
class CapInfo:
    """One ``<info>``: what the alert says in one language."""

    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    response_types: tuple[str, ...] = ()
    event_codes: tuple[tuple[str, str], ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    areas: tuple[CapArea, ...] = ()


@dataclass(frozen=True, slots=True)
class CapAlert:
    """One CAP message (``<alert>``)."""

    identifier: str
    sender: str
    sent: datetime
    status: CapStatus
    msg_type: MsgType
    scope: str = "Public"
    source: str | None = None
    note: str | None = None
    codes: tuple[str, ...] = ()
    references: tuple[CapReference, ...] = ()
    incidents: str | None = None
    infos: tuple[CapInfo, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str]:
        """What names the message everywhere: its sender and identifier."""
        return (self.sender, self.identifier)

    @property
    def expires(self) -> datetime | None:
        """When the last of its infos expires; None if any of them never does (or there is no info)."""
        ends = [info.expires for info in self.infos]
        return None if not ends or None in ends else max(e for e in ends if e is not None)

    def info(self, language: str) -> CapInfo | None:
        """The info in ``language`` ("ar" matches "ar-SA"), else None."""
        prefix = language.lower().split("-")[0]
        for info in self.infos:
            if info.language.lower().split("-")[0] == prefix:
                return info
        return None

    def geometry(self) -> BaseGeometry:
        """Every polygon and circle of every info as one WGS84 geometry (circles approximated)."""
        shapes: list[BaseGeometry] = []
        for info in self.infos:
            for area in info.areas:
                shapes.extend(area.polygons)
                shapes.extend(circle_polygon(c) for c in area.circles)
        return shapely.union_all(shapes) if shapes else Polygon()


def circle_polygon(circle: CapCircle, *, segments: int = 32) -> Polygon:
    """A circle as a polygon in (lon, lat), its radius true in metres (a local projection)."""
    from geo.projection import Projection

    projection = Projection.utm_for(circle.lon, circle.lat)
    x, y = projection.point_to_metric(circle.lon, circle.lat)
    radius_m = max(circle.radius_km, 0.001) * 1000.0
    return projection.to_wgs84(shapely.Point(x, y).buffer(radius_m, quad_segs=max(1, segments // 4)))


def cap_time(when: datetime) -> str:
    """``2026-11-27T12:00:00+03:00``: whole seconds with the offset; UTC as ``-00:00`` (CAP 1.2, 3.3.2)."""
    if when.tzinfo is None:
        raise ValueError("a CAP time needs a time zone")
    text = when.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if when.utcoffset() == timedelta(0) else text


def polygon_text(polygon: Polygon, *, decimals: int = DECIMALS) -> str:
    """The outer ring as closed ``lat,lon`` pairs; repeated pairs (after rounding) written once."""
    pairs: list[tuple[float, float]] = []
    for lon, lat in shapely.get_coordinates(polygon.exterior).tolist():
        pair = (round(lat, decimals), round(lon, decimals))
        if not pairs or pairs[-1] != pair:
            pairs.append(pair)
    if pairs[0] != pairs[-1]:
        pairs.append(pairs[0])
    if len(pairs) < 4:
        raise ValueError(f"a CAP polygon needs 4 pairs, this ring has {len(pairs)} after rounding")
    return " ".join(f"{lat:.{decimals}f},{lon:.{decimals}f}" for lat, lon in pairs)


def circle_text(circle: CapCircle) -> str:
    return f"{circle.lat:.{DECIMALS}f},{circle.lon:.{DECIMALS}f} {circle.radius_km:g}"


def short_text(text: str, limit: int = MAX_AREA_DESC) -> str:
    """``text`` on one line, cut at a word within ``limit`` characters with an ellipsis when longer."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,،-") + "…"


# --- writing ---------------------------------------------------------------------------------------


def alert_xml(alert: CapAlert) -> bytes:
    """The ``<alert>`` document, UTF-8, valid against the OASIS CAP 1.2 schema."""
    root = ET.Element(f"{{{CAP12}}}alert")
    _put(root, "identifier", alert.identifier)
    _put(root, "sender", alert.sender)
    _put(root, "sent", cap_time(alert.sent))
    _put(root, "status", alert.status.value)
    _put(root, "msgType", alert.msg_type.value)
    _put(root, "source", alert.source)
    _put(root, "scope", alert.scope)
    for code in alert.codes:
        _put(root, "code", code)
    _put(root, "note", alert.note)
    if alert.references:
        _put(root, "references", " ".join(ref.text() for ref in alert.references))
    _put(root, "incidents", alert.incidents)
    for info in alert.infos:
        _info(ET.SubElement(root, f"{{{CAP12}}}info"), info)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP12)


def _info(element: ET.Element, info: CapInfo) -> None:
    _put(element, "language", info.language)
    for category in info.categories:
        _put(element, "category", category)
    _put(element, "event", info.event)
    for response in info.response_types:
        _put(element, "responseType", response)
    for name in ("urgency", "severity", "certainty"):
        _put(element, name, getattr(info, name))
    _pairs(element, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires"):
        when = getattr(info, name)
        _put(element, name, cap_time(when) if when else None)
    for tag, name in (
        ("senderName", "sender_name"),
        ("headline", "headline"),
        ("description", "description"),
    ):
        _put(element, tag, getattr(info, name))
    for name in ("instruction", "web", "contact"):
        _put(element, name, getattr(info, name))
    _pairs(element, "parameter", info.parameters)
    for area in info.areas:
        holder = ET.SubElement(element, f"{{{CAP12}}}area")
        _put(holder, "areaDesc", area.description)
        for polygon in area.polygons:
            _put(holder, "polygon", polygon_text(polygon))
        for circle in area.circles:
            _put(holder, "circle", circle_text(circle))
        _pairs(holder, "geocode", area.geocodes)


def _put(parent: ET.Element, name: str, text: str | None) -> None:
    if text is not None:
        ET.SubElement(parent, f"{{{CAP12}}}{name}").text = NOT_XML.sub("", text)


def _pairs(parent: ET.Element, name: str, pairs: Sequence[tuple[str, str]]) -> None:
    for value_name, value in pairs:
        holder = ET.SubElement(parent, f"{{{CAP12}}}{name}")
        _put(holder, "valueName", value_name)
        _put(holder, "value", value)
