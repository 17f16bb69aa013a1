"""closures.formats.cap and cap_read: CAP 1.2 written valid against the OASIS schema, read back the same, and
every hostile or broken input refused with a reason (an XML bomb at once, not after gigabytes)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from shapely.geometry import Polygon, box

from closures.formats.cap import (
    CapAlert,
    CapArea,
    CapCircle,
    CapInfo,
    CapReference,
    CapStatus,
    MsgType,
    alert_xml,
    cap_time,
    polygon_text,
    short_text,
)
from closures.formats.cap_atom import cap_atom
from closures.formats.cap_read import CapError, CapProblem, read_alert, read_cap
from tests.closures.cap_support import rule_errors, sample, schema_errors

RIYADH_TZ = timezone(timedelta(hours=3))
SENT = datetime(2026, 11, 27, 12, 0, tzinfo=RIYADH_TZ)
RIYADH = box(46.45, 24.455, 47.05, 25.05)
SENDER = "riyadh@roads.example.org"


def _info(language: str, headline: str, *areas: CapArea, **kw) -> CapInfo:
    values = {
        "language": language,
        "categories": ("Met",),
        "event": "سيول" if language == "ar-SA" else "Flood",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "headline": headline,
        "description": "وصف" if language == "ar-SA" else "Description",
        "instruction": "ابتعدوا عن الأنفاق" if language == "ar-SA" else "Keep away from underpasses",
        "response_types": ("Avoid",),
        "effective": SENT,
        "expires": SENT + timedelta(hours=6),
        "sender_name": "أمانة منطقة الرياض" if language == "ar-SA" else "Riyadh Municipality",
        "web": "https://roads.example.org/#emergency-1",
        "areas": areas,
    }
    return CapInfo(**(values | kw))


AREA = CapArea("وادي حنيفة", (box(46.6, 24.6, 46.7, 24.7),))
TWO_PARTS = CapArea("شمال وجنوب الرياض", (box(46.6, 24.9, 46.7, 25.0), box(46.6, 24.5, 46.7, 24.6)))
ALERT = CapAlert(
    identifier="riyadh.emergency.1.1",
    sender=SENDER,
    sent=SENT,
    status=CapStatus.ACTUAL,
    msg_type=MsgType.ALERT,
    infos=(_info("ar-SA", "إنذار: سيول في الرياض", AREA), _info("en-US", "Warning: floods in Riyadh", AREA)),
)
UPDATE = replace(
    ALERT,
    identifier="riyadh.emergency.1.2",
    sent=SENT + timedelta(hours=1),
    msg_type=MsgType.UPDATE,
    references=(CapReference(SENDER, ALERT.identifier, ALERT.sent),),
    infos=(_info("ar-SA", "تحديث", TWO_PARTS), _info("en-US", "Update", TWO_PARTS)),
)
CANCEL = replace(
    UPDATE,
    identifier="riyadh.emergency.1.3",
    sent=SENT + timedelta(hours=2),
    msg_type=MsgType.CANCEL,
    references=(*UPDATE.references, CapReference(SENDER, UPDATE.identifier, UPDATE.sent)),
)
EXERCISE = replace(ALERT, identifier="riyadh.emergency.2.1", status=CapStatus.TEST, note="تمرين")


@pytest.mark.parametrize(
    "alert", [ALERT, UPDATE, CANCEL, EXERCISE], ids=["alert", "update", "cancel", "test"]
)
def test_every_kind_of_message_is_valid_cap_and_keeps_our_rules(alert):
    document = alert_xml(alert)
    assert schema_errors(document) == []
    assert rule_errors(document, within=RIYADH) == []


def test_the_schema_and_the_rules_refuse_broken_copies():
    """The checks above can fail: each of these breakages is caught by the schema or by the rules."""
    good = alert_xml(UPDATE).decode()
    for old, new in (
        ("<msgType>Update</msgType>", "<msgType>Alarm</msgType>"),
        ("<scope>Public</scope>", ""),
        ("2026-11-27T13:00:00+03:00</sent>", "2026-11-27T10:00:00Z</sent>"),
        ("<category>Met</category>", "<category>Weather</category>"),
    ):
        assert old in good
        assert schema_errors(good.replace(old, new).encode()), new
    ring = good.split("<polygon>")[1].split("</polygon>")[0]
    lon_first = " ".join(",".join(reversed(p.split(","))) for p in ring.split())
    open_ring = " ".join(ring.split()[:-1])
    for breakage in (
        good.replace(ring, lon_first),
        good.replace(ring, open_ring),
        good.replace("<areaDesc>شمال وجنوب الرياض", "<areaDesc>" + "ش" * 50),
        good.replace(good.split("<references>")[1].split("</references>")[0], ""),
    ):
        assert rule_errors(breakage.encode(), within=RIYADH), breakage[:80]


def test_times_carry_their_offset_and_utc_is_written_minus_zero():
    assert cap_time(SENT) == "2026-11-27T12:00:00+03:00"
    assert cap_time(datetime(2026, 11, 27, 9, 0, 30, 999, tzinfo=UTC)) == "2026-11-27T09:00:30-00:00"
    with pytest.raises(ValueError, match="time zone"):
        cap_time(datetime(2026, 11, 27, 9, 0))


def test_a_polygon_is_closed_lat_lon_pairs_with_five_decimals():
    text = polygon_text(Polygon([(46.123456789, 24.1), (46.2, 24.1), (46.2, 24.2)]))
    pairs = text.split()
    assert pairs[0] == "24.10000,46.12346"
    assert pairs[0] == pairs[-1]
    assert len(pairs) == 4
    with pytest.raises(ValueError, match="4 pairs"):
        polygon_text(Polygon([(46.1, 24.1), (46.1000001, 24.1), (46.1, 24.1000001)]))


def test_short_text_cuts_at_a_word_under_fifty_characters():
    long_ar = "أنفاق طريق الملك فهد وطريق خريص وطريق الأمير محمد بن عبدالعزيز"
    cut = short_text(long_ar)
    assert len(cut) < 50
    assert cut.endswith("…")
    assert long_ar.startswith(cut[:-1])
    assert short_text("  Wadi   Hanifah\n") == "Wadi Hanifah"


def test_a_round_trip_gives_back_the_same_alert():
    circles = replace(AREA, circles=(CapCircle(46.83, 24.61, 3.0),), geocodes=(("district", "olaya"),))
    rich = replace(
        CANCEL,
        source="staff",
        codes=("roadbot",),
        incidents="flood-2026",
        infos=(
            _info(
                "ar-SA", "إلغاء", circles, event_codes=(("hazard", "flood"),), parameters=(("level", "red"),)
            ),
            _info("en-US", "Ended", TWO_PARTS, onset=SENT, contact="ops@roads.example.org"),
        ),
    )
    for alert in (ALERT, UPDATE, CANCEL, EXERCISE, rich):
        [back] = read_cap(alert_xml(alert)).alerts
        assert back == alert


_TEXT = (
    st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), min_size=1)
    .map(lambda t: " ".join(t.split()))
    .filter(bool)
)


@settings(max_examples=60, deadline=None)
@given(headline=_TEXT, description=_TEXT, instruction=_TEXT)
def test_any_text_survives_the_round_trip(headline, description, instruction):
    info = _info("ar-SA", headline, AREA, description=description, instruction=instruction)
    alert = replace(ALERT, infos=(info,))
    assert read_cap(alert_xml(alert)).alerts == [alert]


def test_the_ncm_style_arabic_flood_alert_is_read_whole():
    [alert] = read_cap(sample("ncm_flood_riyadh.xml")).alerts
    assert schema_errors(sample("ncm_flood_riyadh.xml")) == []
    assert alert.key == ("alerts@ncm.example.sa", "NCM-RYD-2026-11-27-0042")
    assert (alert.msg_type, alert.status, alert.references) == (MsgType.ALERT, CapStatus.ACTUAL, ())
    arabic, english = alert.infos
    assert arabic.language == "ar-SA"
    assert arabic.headline == "إنذار أحمر: أمطار غزيرة وسيول على منطقة الرياض"
    assert english.severity == "Severe"
    assert arabic.expires == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert arabic.event_codes == (("NCM", "FLOOD"),)
    region, valleys = arabic.areas
    assert region.polygons[0].bounds == (46.30, 24.30, 47.30, 25.20)  # read as lat,lon: x is longitude
    assert valleys.circles == (CapCircle(46.83, 24.61, 3.0),)
    assert alert.info("en") is english
    assert alert.expires == arabic.expires
    assert alert.geometry().covers(shapely.Point(46.7, 24.7))


def test_the_update_and_the_cancel_name_what_they_follow():
    [update] = read_cap(sample("ncm_flood_riyadh_update.xml")).alerts
    [cancel] = read_cap(sample("ncm_flood_riyadh_cancel.xml")).alerts
    first = CapReference(
        "alerts@ncm.example.sa", "NCM-RYD-2026-11-27-0042", datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    )
    assert update.references == (first,)
    assert cancel.msg_type is MsgType.CANCEL
    assert [r.identifier for r in cancel.references] == ["NCM-RYD-2026-11-27-0042", "NCM-RYD-2026-11-27-0043"]
    for name in ("ncm_flood_riyadh_update.xml", "ncm_flood_riyadh_cancel.xml"):
        assert schema_errors(sample(name)) == []


def test_an_atom_feed_gives_embedded_alerts_linked_ones_and_what_it_could_not_read():
    document = read_cap(sample("ncm_feed.atom"), base_url="https://ncm.example.sa/feeds/cap.atom")
    assert document.is_feed
    assert document.links == ["https://ncm.example.sa/feeds/alerts/NCM-RYD-2026-11-27-0042.xml"]
    [dust] = document.alerts
    assert dust.identifier == "NCM-RYD-2026-11-27-0050"
    assert dust.info("ar").event == "غبار مثار"
    assert document.rejected == [
        ("urn:ncm:notice:weekly-outlook", "neither embeds a CAP alert nor links to one")
    ]


def test_an_rss_feed_of_cap_links_is_read_too():
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Alerts</title>
      <item><title>a</title><link>https://met.example/a.html</link>
        <enclosure url="https://met.example/a.cap" type="application/cap+xml" length="1"/></item>
      <item><title>b</title><link>https://met.example/b.xml</link></item>
    </channel></rss>"""
    assert read_cap(rss).links == ["https://met.example/a.cap", "https://met.example/b.xml"]


def test_a_broken_alert_inside_a_feed_is_reported_and_the_rest_is_read():
    feed = sample("ncm_feed.atom").replace(b"<sender>alerts@ncm.example.sa</sender>", b"", 1)
    document = read_cap(feed)
    assert document.alerts == []
    assert document.links
    [(entry, why), _] = document.rejected
    assert entry == "urn:ncm:alert:NCM-RYD-2026-11-27-0050"
    assert "<sender> is missing" in why


def test_cap_1_1_is_read_as_well():
    old = sample("ncm_flood_riyadh.xml").replace(b"emergency:cap:1.2", b"emergency:cap:1.1")
    [alert] = read_cap(old).alerts
    assert alert.identifier == "NCM-RYD-2026-11-27-0042"
    assert len(alert.infos) == 2


def test_an_xml_bomb_is_refused_at_once():
    started = time.perf_counter()
    with pytest.raises(CapError) as caught:
        read_cap(sample("xml_bomb.xml"))
    assert time.perf_counter() - started < 0.5
    assert caught.value.problem is CapProblem.FORBIDDEN_XML
    assert "XML bomb" in str(caught.value)


def test_an_external_entity_is_refused_without_reading_the_file():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
      <alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""
    with pytest.raises(CapError) as caught:
        read_cap(xxe)
    assert caught.value.problem is CapProblem.FORBIDDEN_XML


@pytest.mark.parametrize(
    ("document", "problem", "words"),
    [
        (b'<?xml version="1.0"?><incidents timestamp="x"><incident id="1"/></incidents>', CapProblem.NOT_CAP,
         "<incidents> is neither a CAP"),
        (b'<alert xmlns="urn:example:not-cap"><identifier>1</identifier></alert>', CapProblem.NOT_CAP,
         "namespace urn:example:not-cap"),
        (b'{"type": "FeatureCollection", "features": []}', CapProblem.NOT_XML, "not XML"),
        (b"<html><body><p>Service unavailable</body></html>", CapProblem.NOT_XML, "not XML"),
        (b"", CapProblem.NOT_XML, "not XML"),
    ],
    ids=["cifs", "other-namespace", "json", "broken-html", "empty"],
)  # fmt: skip
def test_a_document_that_is_not_cap_is_refused_saying_what_it_is(document, problem, words):
    with pytest.raises(CapError) as caught:
        read_cap(document)
    assert caught.value.problem is problem
    assert words in str(caught.value)


def test_a_document_over_the_size_limit_is_refused_before_parsing():
    with pytest.raises(CapError) as caught:
        read_cap(b"<" * 2_000, max_bytes=1_000)
    assert caught.value.problem is CapProblem.TOO_LARGE
    assert "2000 bytes" in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (b"<identifier>NCM-RYD-2026-11-27-0042</identifier>", b"", "alert: <identifier> is missing"),
        (b"<msgType>Alert</msgType>", b"<msgType>Warning</msgType>", "<msgType> 'Warning' is not one of"),
        (b"<sent>2026-11-27T11:30:00+03:00</sent>", b"<sent>yesterday</sent>", "'yesterday' is not a time"),
        (b"<sent>2026-11-27T11:30:00+03:00</sent>", b"<sent>2026-11-27T11:30:00</sent>", "has no time zone"),
        (b"24.55,46.60 24.55,46.90", b"24.55;46.60 24.55,46.90", "'24.55;46.60' is not lat,lon"),
        (b"24.55,46.60 24.55,46.90", b"124.55,46.60 24.55,46.90", "124.55,46.6 is not a latitude"),
        (b"<circle>24.6100,46.8300 3</circle>", b"<circle>24.61 46.83</circle>", "is not 'lat,lon radius'"),
        (b"<polygon>24.55,46.60 24.55,46.90 24.70,46.90 24.70,46.60 24.55,46.60</polygon>",
         b"<polygon>24.55,46.60 24.55,46.90</polygon>", "polygon of 2 pairs"),
    ],
    ids=["identifier", "msgtype", "sent", "naive-sent", "pair", "latitude", "circle", "short-ring"],
)  # fmt: skip
def test_a_broken_field_is_refused_naming_the_alert_and_the_field(old, new, words):
    document = sample("ncm_flood_riyadh.xml")
    assert old in document
    with pytest.raises(CapError) as caught:
        read_cap(document.replace(old, new, 1))
    assert caught.value.problem is CapProblem.BAD_FIELD
    assert words in str(caught.value)


def test_an_open_ring_is_closed_and_a_bow_tie_is_split_into_valid_parts():
    open_ring = sample("ncm_flood_riyadh.xml").replace(b" 24.30,46.30</polygon>", b"</polygon>")
    [alert] = read_cap(open_ring).alerts
    assert alert.infos[0].areas[0].polygons[0].equals(box(46.30, 24.30, 47.30, 25.20))
    bow_tie = sample("ncm_flood_riyadh.xml").replace(
        b"24.30,46.30 24.30,47.30 25.20,47.30 25.20,46.30 24.30,46.30",
        b"24.30,46.30 25.20,47.30 25.20,46.30 24.30,47.30 24.30,46.30",
    )
    parts = read_cap(bow_tie).alerts[0].infos[0].areas[0].polygons
    assert len(parts) == 2
    assert all(p.is_valid for p in parts)


def test_bad_references_are_refused():
    document = sample("ncm_flood_riyadh_update.xml").replace(
        b"alerts@ncm.example.sa,NCM-RYD-2026-11-27-0042,2026-11-27T11:30:00+03:00", b"NCM-RYD-2026-11-27-0042"
    )
    with pytest.raises(CapError, match="is not sender,identifier,sent"):
        read_cap(document)


def test_read_alert_wants_exactly_one_alert():
    assert read_alert(sample("ncm_flood_riyadh.xml")).identifier == "NCM-RYD-2026-11-27-0042"
    with pytest.raises(CapError, match="a feed where a single CAP alert"):
        read_alert(sample("ncm_feed.atom"))


def test_the_atom_index_links_every_alert_newest_first_titled_in_its_language():
    body = cap_atom(
        [ALERT, UPDATE],
        as_of=UPDATE.sent,
        title="تنبيهات الطوارئ",
        publisher="Riyadh Municipality",
        self_url="https://roads.example.org/feeds/cap.atom",
        url_of=lambda a: f"https://roads.example.org/feeds/cap/{a.identifier}.xml",
        lang="en",
    )
    atom = "{http://www.w3.org/2005/Atom}"
    root = ET.fromstring(body)
    entries = root.findall(f"{atom}entry")
    assert [e.findtext(f"{atom}title") for e in entries] == ["Update", "Warning: floods in Riyadh"]
    links = [e.find(f"{atom}link") for e in entries]
    assert [link.get("type") for link in links] == ["application/cap+xml"] * 2
    assert links[0].get("href") == "https://roads.example.org/feeds/cap/riyadh.emergency.1.2.xml"
    assert len({e.findtext(f"{atom}id") for e in entries}) == 2
    assert etree.fromstring(body).nsmap[None] == "http://www.w3.org/2005/Atom"
    # and what we serve as an index, we can read as one
    assert read_cap(body).links == [link.get("href") for link in links]
