"""An Atom feed (RFC 4287) of closures for feed readers, with GeoRSS Simple geometry.

Entries are newest change first. Each entry's ``id`` is a UUID derived from the closure's stable ref, so a
reader recognises an edited closure as the same entry (its ``updated`` moves). The entry title is the
closure's own title in the feed's language (Arabic by default, English on request, the Arabic title where
there is no English one); the summary holds both languages' texts, each marked with its language and
direction, and the local start and end times. No sentence is made up here: every word is the closure's own.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from shapely.geometry.base import BaseGeometry

from closures.formats.common import EXPORT_REFS, FeedItem, path_of, release_children, utc_z
from closures.models import Closure

ATOM = "http://www.w3.org/2005/Atom"
GEORSS = "http://www.georss.org/georss"
XHTML = "http://www.w3.org/1999/xhtml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ATOM)
ET.register_namespace("georss", GEORSS)
ET.register_namespace("xhtml", XHTML)


def entry_id(ref: str) -> str:
    return f"urn:uuid:{uuid.uuid5(EXPORT_REFS, f'closure:{ref}')}"


def atom_feed(
    items: Sequence[FeedItem],
    *,
    as_of: datetime,
    title: str,
    publisher: str,
    self_url: str,
    page_url: str,
    lang: str = "ar",
) -> bytes:
    """The Atom document, UTF-8. ``page_url`` is where a person sees the closures (the map page)."""
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: lang})
    _text(feed, "id", f"urn:uuid:{uuid.uuid5(EXPORT_REFS, f'feed:{publisher}:{lang}')}")
    _text(feed, "title", title)
    _text(feed, "updated", utc_z(as_of))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": self_url, "type": "application/atom+xml"})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "href": page_url, "type": "text/html"})
    _text(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", publisher)
    _text(feed, "generator", "road-closure-bot")
    for item in sorted(items, key=lambda i: (i.closure.updated_at, i.closure.id or 0), reverse=True):
        _entry(feed, item, lang=lang, page_url=page_url)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    release_children(feed)
    return body


def _entry(feed: ET.Element, item: FeedItem, *, lang: str, page_url: str) -> None:
    c, muni = item.closure, item.municipality
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    _text(entry, "id", entry_id(item.ref))
    title = (c.title_en if lang == "en" else None) or c.title_ar
    _text(entry, "title", title).set(XML_LANG, "en" if title == c.title_en and lang == "en" else "ar")
    _text(entry, "updated", utc_z(c.updated_at))
    _text(entry, "published", utc_z(c.created_at))
    _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", muni.name_en if lang == "en" else muni.name_ar)
    ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "href": f"{page_url}#closure-{c.id}"})
    for scheme, term in (("reason", c.reason), ("severity", c.severity), ("municipality", muni.slug)):
        ET.SubElement(entry, f"{{{ATOM}}}category", {"term": term, "scheme": f"urn:roadbot:{scheme}"})
    summary = ET.SubElement(entry, f"{{{ATOM}}}summary", {"type": "xhtml"})
    wrapper = ET.SubElement(summary, f"{{{XHTML}}}div")
    times = " → ".join(item.local(t).strftime("%Y-%m-%d %H:%M") for t in (c.starts_at, c.ends_at) if t)
    for code, direction in (("ar", "rtl"), ("en", "ltr")):
        texts = [getattr(c, f"{name}_{code}") for name in ("title", "lanes", "description", "detour")]
        if not any(texts):
            continue
        block = ET.SubElement(wrapper, f"{{{XHTML}}}div", {"lang": code, "dir": direction})
        for text in [t for t in texts if t] + [times]:
            ET.SubElement(block, f"{{{XHTML}}}p").text = text
    _georss(entry, c, item.geometry)


def _georss(entry: ET.Element, closure: Closure, geometry: BaseGeometry) -> None:
    path = path_of(geometry)
    kind = {"Point": "point", "Polygon": "polygon"}.get(geometry.geom_type, "line")
    if kind == "line" and len(path) < 2:
        kind = "point"
    element = ET.SubElement(entry, f"{{{GEORSS}}}{kind}")
    element.text = " ".join(f"{lat:.6f} {lon:.6f}" for lon, lat in path)
    if closure.radius_m:
        ET.SubElement(entry, f"{{{GEORSS}}}radius").text = f"{closure.radius_m:.0f}"


def _text(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = text
    return element
