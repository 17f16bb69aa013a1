"""Reading CAP safely: one alert, or a feed (Atom or RSS) whose entries embed alerts or link to them.

The input comes from outside (a met service's feed, a file an operator was sent), so it is read with
``defusedxml`` and refused, with a ``CapError`` saying why, when it

* is larger than ``max_bytes`` (checked before any parsing);
* has a DTD at all: entity expansion ("billion laughs", an XML bomb) and external entities need one, and
  CAP never does, so the refusal is immediate, whatever the DTD holds;
* is not XML, or is XML but neither a CAP alert (1.2, or 1.1, whose elements CAP 1.2 kept) nor a feed.

Within a feed, an entry that embeds a broken alert, or neither embeds nor links one, is reported in
``CapDocument.rejected`` and the other entries are still read. Values come back as
``closures.formats.cap`` dataclasses; coordinates as shapely (lon, lat), as everywhere else.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urljoin

import shapely
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from shapely.geometry import MultiPolygon, Polygon

from closures.errors import ClosureError
from closures.formats.atom import ATOM
from closures.formats.cap import (
    CAP11,
    CAP12,
    CapAlert,
    CapArea,
    CapCircle,
    CapInfo,
    CapReference,
    CapStatus,
    MsgType,
)

MAX_BYTES = 10 * 1024 * 1024
_NAMESPACES = (CAP12, CAP11)
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_PAIR = re.compile(rf"^({_NUMBER}),({_NUMBER})$")
_CIRCLE = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s+({_NUMBER})\s*$")


class CapProblem(StrEnum):
    TOO_LARGE = "too_large"
    FORBIDDEN_XML = "forbidden_xml"  # a DTD or entities: an XML bomb, or a reach for external files
    NOT_XML = "not_xml"
    NOT_CAP = "not_cap"
    BAD_FIELD = "bad_field"


class CapError(ClosureError):
    """CAP input refused; ``problem`` says what kind of refusal, the message says exactly why."""

    def __init__(self, problem: CapProblem, detail: str, *, where: str | None = None) -> None:
        self.problem = problem
        self.detail = detail
        self.where = where
        super().__init__(f"{where}: {detail}" if where else detail)


@dataclass(frozen=True, slots=True)
class CapDocument:
    alerts: list[CapAlert]  # read whole: the document itself, or alerts a feed embeds
    links: list[str] = field(default_factory=list)  # alerts a feed links to (to fetch, absolute URLs)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (which entry, why)
    is_feed: bool = False


def read_cap(data: bytes | str, *, max_bytes: int = MAX_BYTES, base_url: str | None = None) -> CapDocument:
    """A single alert, or a feed of them. ``base_url`` resolves a feed's relative links."""
    root = _parse(data, max_bytes=max_bytes)
    namespace, _, name = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if name == "alert" and namespace in _NAMESPACES:
        return CapDocument([_alert(root, namespace)])
    if (namespace, name) == (ATOM, "feed"):
        entries = [(e, _atom_links(e)) for e in root.iter(f"{{{ATOM}}}entry")]
        return _feed(entries, base_url, id_of=lambda e: _text(e, f"{{{ATOM}}}id"))
    if (namespace, name) == ("", "rss"):
        items = [(i, _rss_links(i)) for i in root.iter("item")]
        return _feed(items, base_url, id_of=lambda i: _text(i, "guid") or _text(i, "link"))
    what = f"<{name}> in namespace {namespace}" if namespace else f"<{name}>"
    raise CapError(CapProblem.NOT_CAP, f"{what} is neither a CAP 1.2 (or 1.1) alert nor an Atom or RSS feed")


def read_alert(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> CapAlert:
    """Exactly one alert (what a feed entry links to)."""
    document = read_cap(data, max_bytes=max_bytes)
    if document.is_feed or len(document.alerts) != 1:
        raise CapError(CapProblem.NOT_CAP, "a feed where a single CAP alert was expected")
    return document.alerts[0]


def _parse(data: bytes | str, *, max_bytes: int) -> ET.Element:
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise CapError(
            CapProblem.TOO_LARGE, f"{size} bytes, more than the {max_bytes} a CAP document may have"
        )
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CapError(
            CapProblem.FORBIDDEN_XML,
            f"refused: the document declares a DTD or entities ({type(exc).__name__}), which CAP never "
            "needs and an XML bomb does",
        ) from None
    except ET.ParseError as exc:
        raise CapError(CapProblem.NOT_XML, f"not XML: {exc}") from None


def _feed(
    entries: list[tuple[ET.Element, list[str]]],
    base_url: str | None,
    *,
    id_of: Callable[[ET.Element], str | None],
) -> CapDocument:
    alerts: list[CapAlert] = []
    links: list[str] = []
    rejected: list[tuple[str, str]] = []
    for number, (entry, hrefs) in enumerate(entries, start=1):
        name = id_of(entry) or f"entry {number}"
        embedded = [e for e in entry.iter() if e.tag in (f"{{{ns}}}alert" for ns in _NAMESPACES)]
        try:
            if embedded:
                alerts.extend(_alert(e, e.tag[1:].partition("}")[0]) for e in embedded)
            elif hrefs:
                links.append(urljoin(base_url or "", hrefs[0]))
            else:
                rejected.append((name, "neither embeds a CAP alert nor links to one"))
        except CapError as exc:
            rejected.append((name, str(exc)))
    return CapDocument(alerts, links, rejected, is_feed=True)


def _atom_links(entry: ET.Element) -> list[str]:
    """Where an Atom entry's alert is: a link (or content ``src``) typed as CAP first, else its alternate."""
    typed, alternate = [], []
    for link in entry.findall(f"{{{ATOM}}}link"):
        href = link.get("href")
        if href and "cap" in (link.get("type") or ""):
            typed.append(href)
        elif href and (link.get("rel") or "alternate") == "alternate":
            alternate.append(href)
    content = entry.find(f"{{{ATOM}}}content")
    if content is not None and (src := content.get("src")) and "cap" in (content.get("type") or ""):
        typed.append(src)
    return typed or alternate


def _rss_links(item: ET.Element) -> list[str]:
    enclosures = [e.get("url") or "" for e in item.iter("enclosure") if "cap" in (e.get("type") or "")]
    link = _text(item, "link")
    return [u for u in enclosures if u] or ([link] if link else [])


# --- one alert ---------------------------------------------------------------------------------------


def _alert(root: ET.Element, ns: str) -> CapAlert:
    get = _Reader(root, ns, where="alert")
    identifier = get.required("identifier")
    get.where = f"alert {identifier}"
    return CapAlert(
        identifier=identifier,
        sender=get.required("sender"),
        sent=get.instant("sent"),
        status=get.choice("status", CapStatus),
        msg_type=get.choice("msgType", MsgType),
        scope=get.required("scope"),
        source=get.text("source"),
        note=get.text("note"),
        codes=tuple(get.texts("code")),
        references=_references(get.text("references") or "", get.where),
        incidents=get.text("incidents"),
        infos=tuple(_info(el, ns, get.where) for el in root.findall(f"{{{ns}}}info")),
    )


def _info(element: ET.Element, ns: str, where: str) -> CapInfo:
    get = _Reader(element, ns, where=f"{where} info")
    return CapInfo(
        language=get.text("language") or "en-US",
        categories=tuple(get.texts("category")),
        event=get.required("event"),
        urgency=get.required("urgency"),
        severity=get.required("severity"),
        certainty=get.required("certainty"),
        headline=get.text("headline"),
        description=get.text("description"),
        instruction=get.text("instruction"),
        response_types=tuple(get.texts("responseType")),
        event_codes=get.pairs("eventCode"),
        effective=get.time("effective"),
        onset=get.time("onset"),
        expires=get.time("expires"),
        sender_name=get.text("senderName"),
        web=get.text("web"),
        contact=get.text("contact"),
        parameters=get.pairs("parameter"),
        areas=tuple(_area(el, ns, get.where) for el in element.findall(f"{{{ns}}}area")),
    )


def _area(element: ET.Element, ns: str, where: str) -> CapArea:
    get = _Reader(element, ns, where=f"{where} area")
    description = get.text("areaDesc") or ""
    polygons = tuple(p for text in get.texts("polygon") for p in polygon_of(text, where=get.where))
    circles = tuple(circle_of(text, where=get.where) for text in get.texts("circle"))
    return CapArea(description, polygons, circles, get.pairs("geocode"))


def polygon_of(text: str, *, where: str = "polygon") -> list[Polygon]:
    """A ``<polygon>``'s ``lat,lon`` pairs as valid (lon, lat) polygons (a self-crossing one is split)."""
    points = []
    for pair in text.split():
        match = _PAIR.match(pair)
        if not match:
            raise CapError(CapProblem.BAD_FIELD, f"polygon pair {pair[:40]!r} is not lat,lon", where=where)
        lat, lon = float(match[1]), float(match[2])
        _check_position(lat, lon, where)
        points.append((lon, lat))
    if len(points) >= 3 and points[0] != points[-1]:
        points.append(points[0])  # CAP requires a closed ring; some senders forget: close it for them
    if len(points) < 4:
        raise CapError(CapProblem.BAD_FIELD, f"polygon of {len(points)} pairs (a ring needs 4)", where=where)
    shape = shapely.make_valid(Polygon(points))
    parts = [shape] if isinstance(shape, Polygon) else getattr(shape, "geoms", [])
    flat = [p for part in parts for p in (part.geoms if isinstance(part, MultiPolygon) else [part])]
    polygons = [p for p in flat if isinstance(p, Polygon) and p.area > 0]
    if not polygons:
        raise CapError(CapProblem.BAD_FIELD, "polygon encloses no area", where=where)
    return polygons


def circle_of(text: str, *, where: str = "circle") -> CapCircle:
    match = _CIRCLE.match(text)
    if not match:
        raise CapError(CapProblem.BAD_FIELD, f"circle {text[:60]!r} is not 'lat,lon radius'", where=where)
    lat, lon, radius = float(match[1]), float(match[2]), float(match[3])
    _check_position(lat, lon, where)
    if not 0 <= radius <= 2000:
        raise CapError(CapProblem.BAD_FIELD, f"circle radius {radius} km", where=where)
    return CapCircle(lon, lat, radius)


def _check_position(lat: float, lon: float, where: str) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapError(CapProblem.BAD_FIELD, f"{lat},{lon} is not a latitude,longitude", where=where)


def _references(text: str, where: str) -> tuple[CapReference, ...]:
    out = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            detail = f"reference {triple[:80]!r} is not sender,identifier,sent"
            raise CapError(CapProblem.BAD_FIELD, detail, where=where)
        out.append(CapReference(parts[0], parts[1], _instant(parts[2], f"{where} references")))
    return tuple(out)


def _instant(text: str, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CapError(CapProblem.BAD_FIELD, f"{text[:40]!r} is not a time", where=where) from None
    if when.tzinfo is None:
        raise CapError(CapProblem.BAD_FIELD, f"{text} has no time zone", where=where)
    return when


def _text(element: ET.Element, tag: str) -> str | None:
    child = element.find(tag)
    text = (child.text or "").strip() if child is not None else ""
    return text or None


class _Reader:
    """The children of one CAP element, by local name, with the refusals for what is missing or wrong."""

    def __init__(self, element: ET.Element, ns: str, *, where: str) -> None:
        self.element, self.ns, self.where = element, ns, where

    def texts(self, name: str) -> list[str]:
        found = self.element.findall(f"{{{self.ns}}}{name}")
        return [t for t in ((e.text or "").strip() for e in found) if t]

    def text(self, name: str) -> str | None:
        values = self.texts(name)
        return values[0] if values else None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise CapError(CapProblem.BAD_FIELD, f"<{name}> is missing", where=self.where)
        return value

    def choice[E: StrEnum](self, name: str, kind: type[E]) -> E:
        value = self.required(name)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(k.value for k in kind)
            raise CapError(
                CapProblem.BAD_FIELD, f"<{name}> {value!r} is not one of {allowed}", where=self.where
            ) from None

    def time(self, name: str) -> datetime | None:
        value = self.text(name)
        return _instant(value, f"{self.where} {name}").astimezone(UTC) if value else None

    def instant(self, name: str) -> datetime:
        return _instant(self.required(name), f"{self.where} {name}").astimezone(UTC)

    def pairs(self, name: str) -> tuple[tuple[str, str], ...]:
        out = []
        for holder in self.element.findall(f"{{{self.ns}}}{name}"):
            value_name = _text(holder, f"{{{self.ns}}}valueName")
            if value_name:
                out.append((value_name, _text(holder, f"{{{self.ns}}}value") or ""))
        return tuple(out)
