"""An Atom feed (RFC 4287) that lists CAP alerts, each entry linking to its alert's CAP document.

This is how met services and alert hubs publish CAP: the feed says which alerts exist, each alert is a
document of its own at a stable URL. Entries are newest first; an entry's ``id`` follows the message
(sender and identifier), so a reader sees an Update as a new entry: CAP consumers want every message,
each one whole. ``closures.formats.cap_read`` reads such a feed back (its links).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime

from closures.formats.atom import ATOM  # registers Atom as the default namespace of Atom documents
from closures.formats.cap import CAP_MIME, NOT_XML, CapAlert, cap_time
from closures.formats.common import EXPORT_REFS

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def cap_atom(
    alerts: Sequence[CapAlert],
    *,
    as_of: datetime,
    title: str,
    publisher: str,
    self_url: str,
    url_of: Callable[[CapAlert], str],
    lang: str = "ar",
) -> bytes:
    """The feed: one entry per alert, titled with its headline in ``lang``, linking to ``url_of(alert)``."""
    feed = ET.Element(f"{{{ATOM}}}feed", {_XML_LANG: lang})
    _atom(feed, "id", f"urn:uuid:{uuid.uuid5(EXPORT_REFS, f'cap-feed:{publisher}')}")
    _atom(feed, "title", title)
    _atom(feed, "updated", cap_time(as_of))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": self_url, "type": "application/atom+xml"})
    _atom(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", publisher)
    _atom(feed, "generator", "road-closure-bot")
    for alert in sorted(alerts, key=lambda a: (a.sent, a.identifier), reverse=True):
        info = alert.info(lang) or (alert.infos[0] if alert.infos else None)
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _atom(entry, "id", f"urn:uuid:{uuid.uuid5(EXPORT_REFS, 'cap:' + ' '.join(alert.key))}")
        heading = (info.headline or info.event) if info else alert.msg_type.value
        _atom(entry, "title", heading).set(_XML_LANG, info.language if info else "en")
        _atom(entry, "updated", cap_time(alert.sent))
        _atom(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", (info and info.sender_name) or alert.sender)
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": CAP_MIME, "href": url_of(alert)})
        for scheme, term in (("msgType", alert.msg_type.value), ("status", alert.status.value)):
            ET.SubElement(entry, f"{{{ATOM}}}category", {"term": term, "scheme": f"urn:oasis:cap:{scheme}"})
        if info and info.description:
            _atom(entry, "summary", info.description).set(_XML_LANG, info.language)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)  # Atom: the default namespace


def _atom(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = NOT_XML.sub("", text)
    return element
