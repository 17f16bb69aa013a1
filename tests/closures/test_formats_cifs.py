"""Waze CIFS, JSON and XML: what each closure becomes, and what survives export → import, field by field."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from defusedxml.ElementTree import fromstring
from shapely.geometry import LineString, Point, Polygon

from closures.errors import ValidationError
from closures.formats.cifs import cifs_json, cifs_xml, read_incidents
from closures.rules import geometry_of
from geo.measure import COMPASS_CODES
from tests.closures.feeds_support import load_variety, snapshot_of


@pytest.fixture
def snap(service, clock):
    load_variety(service, clock)
    return snapshot_of(service, clock)


def _incidents(snap) -> dict[str, dict]:
    return {i["id"]: i for i in json.loads(json.dumps(cifs_json(snap.items, as_of=snap.as_of)))["incidents"]}


def _pairs(polyline: str) -> list[tuple[float, float]]:
    """(lon, lat) pairs of a CIFS polyline, checking each number has exactly six decimals."""
    numbers = polyline.split()
    assert all(len(n.split(".")[1]) == 6 for n in numbers), polyline
    return [(float(numbers[i + 1]), float(numbers[i])) for i in range(0, len(numbers), 2)]


def test_full_closures_are_road_closed_and_partial_ones_the_lane_types_waze_lists(snap):
    incidents = _incidents(snap)
    kinds = {ref: (i["type"], i.get("subtype")) for ref, i in incidents.items()}
    assert kinds == {
        "t-point": ("ACCIDENT", None),
        "t-line-open-end": ("ROAD_CLOSED", "ROAD_CLOSED_CONSTRUCTION"),
        "t-area": ("ROAD_CLOSED", "ROAD_CLOSED_EVENT"),
        "t-multiline": ("HAZARD", "HAZARD_WEATHER_FLOOD"),
        "t-multiarea": ("ROAD_CLOSED", "ROAD_CLOSED_HAZARD"),
        "t-southbound": ("CONSTRUCTION", None),
    }


def test_times_carry_riyadh_offset_and_an_open_end_has_no_endtime(snap, clock):
    incidents = _incidents(snap)
    assert incidents["t-point"]["starttime"] == "2026-11-27T11:40:00+03:00"
    assert incidents["t-point"]["endtime"] == "2026-11-27T14:00:00+03:00"
    assert incidents["t-line-open-end"]["starttime"] == "2026-11-27T13:00:00+03:00"
    assert "endtime" not in incidents["t-line-open-end"]
    assert incidents["t-point"]["updatetime"] == "2026-11-27T12:00:00+03:00"


def test_polylines_are_lat_lon_with_six_decimals_and_one_way_ones_run_with_the_traffic(snap):
    incidents = _incidents(snap)
    stored = {i.ref: geometry_of(i.closure) for i in snap.items}
    point = _pairs(incidents["t-point"]["polyline"])
    assert len(point) == 2
    assert point[0] == point[1]
    assert Point(point[0]).distance(stored["t-point"]) < 1e-6
    area = _pairs(incidents["t-area"]["polyline"])
    assert area[0] == area[-1]
    assert Polygon(area).equals_exact(stored["t-area"], 1e-6)
    # t-southbound was drawn south to north but closes the southbound side: the polyline runs south
    south = _pairs(incidents["t-southbound"]["polyline"])
    assert south[0][1] > south[-1][1]
    assert LineString(south).equals_exact(LineString(stored["t-southbound"].coords[::-1]), 1e-6)
    assert incidents["t-southbound"]["direction"] == "ONE_DIRECTION"
    assert incidents["t-area"]["direction"] == "BOTH_DIRECTIONS"


def test_street_is_the_arabic_title_and_description_both_languages(snap):
    point = _incidents(snap)["t-point"]
    assert point["street"] == "حادث على طريق الملك فهد"
    assert point["description"] == "تصادم بين مركبتين\nTwo-car crash"
    assert point["source"] == {"reference": "riyadh", "name": "Riyadh Municipality"}


def test_xml_holds_the_same_incidents_as_json(snap):
    root = fromstring(cifs_xml(snap.items, as_of=snap.as_of))
    from_json = _incidents(snap)
    assert root.get("timestamp") == snap.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    for element in root.iter("incident"):
        data = from_json[element.get("id")]
        for child in element:
            if child.tag == "source":
                assert {c.tag: c.text for c in child} == data["source"]
            else:
                assert child.text == data[child.tag], child.tag
        assert len(element) == len(data) - 1  # every field but the id, which is an attribute


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_export_then_import_keeps_place_times_kind_direction_and_texts(snap, clock, kind):
    text = (
        json.dumps(cifs_json(snap.items, as_of=snap.as_of))
        if kind == "json"
        else cifs_xml(snap.items, as_of=snap.as_of).decode()
    )
    items = {i.draft.ref: i for i in read_incidents(text, now=clock.now, source="cifs:test")}
    assert set(items) == {i.ref for i in snap.items}
    for original in snap.items:
        c, item, ref = original.closure, items[original.ref], original.ref
        d = item.draft
        assert item.municipality == "riyadh"
        assert (d.source, d.starts_at, d.ends_at, d.severity) == (
            "cifs:test",
            c.starts_at,
            c.ends_at,
            c.severity,
        )
        assert d.title_ar == c.title_ar
        assert d.description_ar == c.description_ar, ref
        assert d.description_en == (c.description_en or (c.title_en if not c.description_ar else None)), ref
        assert d.direction == (c.direction if c.kind != "point" else "both"), ref
        if c.kind in ("point", "area") and ref != "t-multiarea":
            assert d.geometry.equals_exact(geometry_of(c), 1e-6), ref
        # lost in CIFS: the English title, lanes, detours and a point's radius
        assert d.title_en is d.lanes_ar is d.detour_en is d.radius_m is None
    assert items["t-area"].draft.reason == "event"
    assert items["t-point"].draft.reason == "accident"
    assert items["t-multiline"].draft.reason == "flood"
    assert items["t-southbound"].draft.reason == "roadworks"  # maintenance is construction in CIFS
    assert items["t-multiarea"].draft.reason == "other"  # a hazard of any kind
    # a one-way line's heading comes back from its polyline: within one compass point of the original
    back = COMPASS_CODES.index(items["t-line-open-end"].draft.heading)
    assert min(abs(back - COMPASS_CODES.index("NNW")), 16 - abs(back - COMPASS_CODES.index("NNW"))) <= 1


def test_cifs_v1_location_nesting_is_read_too(clock):
    xml = """<incidents><incident id="abc-1"><type>ROAD_CLOSED</type><description>Closed</description>
    <location><street>Tahlia St</street><polyline>24.70 46.67 24.71 46.68</polyline>
    <direction>BOTH_DIRECTIONS</direction></location><starttime>2026-11-27T10:00:00+03:00</starttime>
    </incident></incidents>"""
    [item] = read_incidents(xml, now=clock.now)
    assert item.draft.title_ar == "Tahlia St"
    assert item.draft.geometry.equals(LineString([(46.67, 24.70), (46.68, 24.71)]))
    assert item.draft.starts_at == clock.now + timedelta(hours=-2)
    assert item.municipality is None


def _one(fields: str) -> str:
    return '{"incidents": [{"id": "x1", "type": "ROAD_CLOSED", "street": "St", ' + fields + "}]}"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("<incidents><incident", "feed"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><incidents>&a;</incidents>', "feed"),  # no entities (defusedxml)
        ("<closures/>", "feed"),
        ('{"incidents": 3}', "feed"),
        (_one('"polyline": "24.7 46.6 24.8"'), "incidents[1].polyline"),
        (_one('"polyline": "24.7 46.6 24.8 46.7"'), "incidents[1].starttime"),
        (_one('"polyline": "24.7 46.6 24.8 46.7", "starttime": "2026-11-27"'), "incidents[1].starttime"),
    ],
)  # fmt: skip
def test_a_bad_feed_is_refused_naming_where(text, field, clock):
    with pytest.raises(ValidationError) as caught:
        read_incidents(text, now=clock.now)
    assert caught.value.field == field
