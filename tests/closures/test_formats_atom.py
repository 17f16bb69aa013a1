"""The Atom feed: well-formed RFC 4287 with stable entry ids, the closure's own texts in both languages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from defusedxml.ElementTree import fromstring
from shapely.geometry import Point

from closures.formats.atom import ATOM, GEORSS, XHTML, XML_LANG, atom_feed, entry_id
from closures.rules import geometry_of
from closures.service import Actor
from tests.closures.feeds_support import load_variety, snapshot_of

A = f"{{{ATOM}}}"


def _feed(snap, lang="ar"):
    return fromstring(
        atom_feed(
            snap.items,
            as_of=snap.as_of,
            title="إغلاقات الطرق",
            publisher="Riyadh roads",
            self_url="https://roads.example/feeds/closures.atom",
            page_url="https://roads.example/",
            lang=lang,
        )
    )


@pytest.fixture
def snap(service, clock):
    load_variety(service, clock)
    return snapshot_of(service, clock)


def test_the_feed_has_the_elements_rfc_4287_requires(snap):
    feed = _feed(snap)
    assert feed.tag == f"{A}feed"
    assert feed.findtext(f"{A}title") == "إغلاقات الطرق"
    assert feed.findtext(f"{A}updated") == snap.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert feed.findtext(f"{A}id").startswith("urn:uuid:")
    assert feed.find(f"{A}link[@rel='self']").get("href") == "https://roads.example/feeds/closures.atom"
    entries = feed.findall(f"{A}entry")
    assert len(entries) == len(snap.items)
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert entry.findtext(f"{A}{name}"), name
        assert entry.find(f"{A}author/{A}name") is not None


def test_entries_use_the_closures_own_titles_and_both_languages_in_the_summary(snap):
    by_id = {e.findtext(f"{A}id"): e for e in _feed(snap).findall(f"{A}entry")}
    point = by_id[entry_id("t-point")]
    assert point.findtext(f"{A}title") == "حادث على طريق الملك فهد"
    blocks = point.findall(f"{A}summary/{{{XHTML}}}div/{{{XHTML}}}div")
    assert [(b.get("lang"), b.get("dir")) for b in blocks] == [("ar", "rtl"), ("en", "ltr")]
    english = [p.text for p in blocks[1]]
    assert english == [
        "Crash on King Fahd Rd", "Left lane closed", "Two-car crash", "Olaya St",
        "2026-11-27 11:40 → 2026-11-27 14:00",
    ]  # fmt: skip
    assert point.findtext(f"{{{GEORSS}}}radius") == "150"
    lat, lon = map(float, point.findtext(f"{{{GEORSS}}}point").split())
    stored = geometry_of(next(i.closure for i in snap.items if i.ref == "t-point"))
    assert stored.distance(Point(lon, lat)) < 1e-6
    in_english = {e.findtext(f"{A}id"): e for e in _feed(snap, "en").findall(f"{A}entry")}
    assert in_english[entry_id("t-point")].findtext(f"{A}title") == "Crash on King Fahd Rd"
    area = in_english[entry_id("t-area")].find(f"{A}title")
    assert (area.text, area.get(XML_LANG)) == ("فعالية في حي العليا", "ar")  # no English title: the Arabic


def test_an_edit_keeps_the_entry_id_and_moves_updated_to_the_top(service, clock, snap):
    before = _feed(snap).findall(f"{A}entry")
    closure = next(i.closure for i in snap.items if i.ref == "t-area")
    clock.advance(timedelta(minutes=5))
    service.update(closure.id, closure.version, {"title_en": "Olaya event"}, Actor.system("test"))
    after = _feed(snapshot_of(service, clock)).findall(f"{A}entry")
    assert sorted(e.findtext(f"{A}id") for e in before) == sorted(e.findtext(f"{A}id") for e in after)
    assert after[0].findtext(f"{A}id") == entry_id("t-area")
    assert after[0].findtext(f"{A}updated") == "2026-11-27T09:05:00Z"
