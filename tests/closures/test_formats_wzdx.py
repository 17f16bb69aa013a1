"""WZDx 4.2: what each closure becomes in the feed, and what survives export → import, field by field."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from closures.errors import ValidationError
from closures.formats.wzdx import OPEN_END_ESTIMATE, read_work_zone_feed, work_zone_feed
from closures.rules import geometry_of
from tests.closures.feeds_support import SCHEMAS, load_variety, snapshot_of


@pytest.fixture
def feed(service, clock):
    load_variety(service, clock)
    snap = snapshot_of(service, clock)
    built = work_zone_feed(
        snap.items, as_of=snap.as_of, publisher="Riyadh roads", municipalities=snap.municipalities
    )
    return snap, json.loads(json.dumps(built))


def _by_id(feed: dict) -> dict[str, dict]:
    return {f["id"]: f for f in feed["features"]}


def test_feed_info_names_the_publisher_and_every_municipality_as_a_data_source(feed):
    snap, built = feed
    info = built["feed_info"]
    assert info["publisher"] == "Riyadh roads"
    assert info["version"] == "4.2"
    assert info["update_date"] == snap.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(s["data_source_id"], s["organization_name"]) for s in info["data_sources"]] == [
        ("jeddah", "Jeddah Municipality"),
        ("riyadh", "Riyadh Municipality"),
    ]


def test_each_closure_is_a_work_zone_with_its_impact_direction_and_dates(feed, clock):
    _, built = feed
    events = _by_id(built)
    point = events["t-point"]["properties"]
    assert point["core_details"] == {
        "data_source_id": "riyadh",
        "event_type": "work-zone",
        "road_names": ["حادث على طريق الملك فهد", "Crash on King Fahd Rd"],
        "direction": "northbound",  # NNW is nearest north
        "name": "Crash on King Fahd Rd",
        "description": "Two-car crash",
        "creation_date": "2026-11-27T09:00:00Z",
        "update_date": "2026-11-27T09:00:00Z",
    }
    assert point["vehicle_impact"] == "some-lanes-closed"
    assert point["start_date"] == "2026-11-27T08:40:00Z"
    assert point["end_date"] == "2026-11-27T11:00:00Z"
    assert point["is_start_date_verified"] is point["is_end_date_verified"] is True
    assert point["location_method"] == "other"
    assert point["event_status"] == "active"
    line = events["t-line-open-end"]["properties"]
    assert line["vehicle_impact"] == "all-lanes-closed"
    assert line["event_status"] == "planned"
    assert events["t-area"]["properties"]["core_details"]["direction"] == "undefined"  # both directions
    assert events["t-southbound"]["properties"]["core_details"]["direction"] == "southbound"


def test_an_open_ended_closure_gets_an_estimated_end_a_week_on(feed, clock):
    snap, built = feed
    line = _by_id(built)["t-line-open-end"]["properties"]
    start = clock.now + timedelta(hours=1)
    assert line["end_date"] == (max(start, snap.as_of) + OPEN_END_ESTIMATE).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert line["is_end_date_verified"] is False
    assert line["end_date_accuracy"] == "estimated"


def test_points_become_a_two_point_multipoint_and_areas_a_closed_line(feed):
    snap, built = feed
    events = _by_id(built)
    stored = {i.ref: geometry_of(i.closure) for i in snap.items}
    point = events["t-point"]["geometry"]
    assert point["type"] == "MultiPoint"
    assert point["coordinates"][0] == point["coordinates"][1]
    assert Point(point["coordinates"][0]).distance(stored["t-point"]) < 1e-6
    area = events["t-area"]["geometry"]
    assert area["type"] == "LineString"
    assert area["coordinates"][0] == area["coordinates"][-1]
    assert Polygon(area["coordinates"]).equals_exact(stored["t-area"], 1e-6)
    hull = events["t-multiarea"]["geometry"]
    assert Polygon(hull["coordinates"]).covers(stored["t-multiarea"].buffer(-1e-7))
    merged = LineString(events["t-multiline"]["geometry"]["coordinates"])
    assert merged.buffer(1e-7).covers(stored["t-multiline"])


def test_export_then_import_keeps_place_times_severity_direction_and_texts(feed, clock):
    snap, built = feed
    items = {
        i.draft.ref: i for i in read_work_zone_feed(json.dumps(built), now=clock.now, source="wzdx:test")
    }
    assert set(items) == {i.ref for i in snap.items}
    for original in snap.items:
        c, item = original.closure, items[original.ref]
        d = item.draft
        assert item.municipality == "riyadh"
        assert item.status == "open"
        assert d.source == "wzdx:test"
        assert d.starts_at == c.starts_at
        assert d.ends_at == (c.ends_at or d.ends_at)  # an open end comes back as the estimate
        assert d.severity == c.severity
        assert d.direction == c.direction
        assert d.title_ar == c.title_ar
        assert d.title_en == c.title_en
        assert (d.description_en or d.description_ar) == (c.description_en or c.description_ar)
        if c.kind in ("point", "area") and original.ref != "t-multiarea":
            assert d.geometry.equals_exact(geometry_of(c), 1e-6), original.ref
        # lost in WZDx: the reason (every event is a work zone), the point's radius, lanes and detour texts
        assert d.reason == "roadworks"
        assert d.radius_m is None
        assert d.lanes_ar is d.detour_ar is None
    assert items["t-point"].draft.heading == "N"  # northbound: the 16-point heading is rounded to 4
    assert items["t-line-open-end"].draft.ends_at is not None


def test_lifted_and_cancelled_events_are_read_as_such():
    feed = json.loads(
        (SCHEMAS / "wzdx-4.2" / "examples" / "scenario1_simple_linestring_example.geojson").read_text()
    )
    feed["features"][0]["properties"]["event_status"] = "completed"
    feed["features"][1]["properties"]["event_status"] = "cancelled"
    items = read_work_zone_feed(json.dumps(feed), now=None, source="wzdx:x")  # type: ignore[arg-type]
    assert [i.status for i in items[:2]] == ["lifted", "cancelled"]
    # a feed in English only: its first road name stands in for the Arabic title, which the model needs
    assert (items[0].draft.title_ar, items[0].draft.title_en) == ("I-80", None)
    assert items[1].draft.title_ar == "128th Street"  # road names before the event's name (often a code)
    assert items[0].municipality == "1"
    assert items[0].draft.heading == "N"
    assert items[0].draft.direction == "one"
    assert items[0].draft.geometry.geom_type == "LineString"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "feed"),
        ('{"type": "FeatureCollection"}', "feed"),
        ('{"features": [{"id": "a", "properties": {}}]}', "features[1].core_details"),
        (
            '{"features": [{"id": "a", "properties": {"core_details": {"road_names": ["X"]}, '
            '"start_date": "2026-11-27T10:00:00Z"}, "geometry": {"type": "Polygon", "coordinates": []}}]}',
            "features[1].geometry",
        ),
        (
            '{"features": [{"id": "a", "properties": {"core_details": {"road_names": ["X"]}, '
            '"start_date": "soon"}, "geometry": {"type": "LineString", '
            '"coordinates": [[46.6, 24.7], [46.7, 24.7]]}}]}',
            "features[1].start_date",
        ),
    ],
)
def test_a_bad_feed_is_refused_naming_where(text, field):
    with pytest.raises(ValidationError) as caught:
        read_work_zone_feed(text, now=None, source="wzdx")  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_multipoint_of_distinct_points_reads_as_the_line_through_them():
    feature = {
        "id": "mp",
        "type": "Feature",
        "properties": {
            "core_details": {"road_names": ["طريق"], "event_type": "work-zone", "direction": "unknown"},
            "start_date": "2026-11-27T10:00:00+03:00", "end_date": "2026-11-27T12:00:00+03:00",
        },
        "geometry": {"type": "MultiPoint", "coordinates": [[46.6, 24.7], [46.61, 24.71]]},
    }  # fmt: skip
    [item] = read_work_zone_feed(json.dumps({"features": [feature]}), now=None, source="w")  # type: ignore[arg-type]
    assert item.draft.geometry.equals(shapely.LineString([(46.6, 24.7), (46.61, 24.71)]))
    assert item.draft.direction == "both"
    assert item.draft.heading is None
    assert item.draft.starts_at.isoformat() == "2026-11-27T07:00:00+00:00"
