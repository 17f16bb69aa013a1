"""GeoJSON export and import: closures survive the round trip, the sample data becomes current closures,
and a bad feature is refused naming the property at fault.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import Point, Polygon, shape

from closures.errors import Refusal, ValidationError
from closures.formats.geojson import (
    closure_feature,
    feature_collection,
    municipality_feature,
    read_closures,
    read_municipalities,
)
from closures.models import Municipality
from closures.rules import draft_of
from closures.service import Actor
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from geo.parse import validate
from tests.closures.conftest import DRIVER, GEOD, KING_FAHD, offset
from tests.conftest import DATA

SYSTEM = Actor.system("import")
NOW = datetime(2026, 11, 27, 9, 17, 42, tzinfo=UTC)
SAMPLE = (DATA / "sample_closures.geojson").read_text(encoding="utf-8")
MUNICIPALITIES = (DATA / "municipalities.geojson").read_text(encoding="utf-8")


def _collection(*properties: dict, geometry: dict | None = None) -> str:
    geometry = geometry or {"type": "Point", "coordinates": list(DRIVER)}
    features = [{"type": "Feature", "geometry": geometry, "properties": p} for p in properties]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def _props(**overrides: object) -> dict:
    base = {"title_ar": "إغلاق", "reason": "roadworks", "starts_at": "2026-11-27T10:00:00+03:00"}
    return {**base, **overrides}


def _refusal(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        read_closures(text, now=NOW)
    return caught.value


# --- export → import --------------------------------------------------------------------------------


def test_exported_closures_read_back_with_geometry_and_every_field(service, clock, make_draft):
    drafts = [
        make_draft(
            geometry=Point(offset(DRIVER, 30, 400)), radius_m=150, reason="accident", severity="partial",
            lanes_ar="الحارة اليسرى مغلقة", lanes_en="Left lane closed", direction="one", heading="NNW",
            description_ar="تصادم بين مركبتين", description_en="Two-car crash", detour_ar="طريق العليا",
            detour_en="Olaya St", ref="riyadh-crash-1",
        ),
        make_draft(geometry=KING_FAHD, direction="one", heading="NNW", ends_at=None, title_en=None),
        make_draft(
            geometry=Polygon([offset(DRIVER, a, 250) for a in (10, 100, 190, 280)]), reason="event",
            starts_at=clock.now + timedelta(hours=26, minutes=30), ends_at=clock.now + timedelta(hours=30),
        ),
    ]  # fmt: skip
    stored = [service.get(service.register("riyadh", d, SYSTEM).id) for d in drafts]

    text = json.dumps(feature_collection(closure_feature(c, "riyadh") for c in stored), ensure_ascii=False)
    items = read_closures(text, now=clock.now + timedelta(days=3))

    assert [json.loads(text)["features"][i]["id"] for i in range(3)] == [c.id for c in stored]
    for closure, item in zip(stored, items, strict=True):
        original = draft_of(closure)
        assert item.municipality == "riyadh"
        assert item.draft.geometry.equals_exact(original.geometry, tolerance=0)
        assert replace(item.draft, geometry=original.geometry) == original
        assert item.draft.starts_at.tzinfo is not None


def test_export_carries_status_version_and_kind(service, clock, make_draft):
    closure = service.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    service.lift(closure.id, SYSTEM)

    feature = closure_feature(service.get(closure.id), "riyadh")

    assert feature["type"] == "Feature"
    assert shape(feature["geometry"]).equals(KING_FAHD)
    props = feature["properties"]
    assert (props["status"], props["version"], props["kind"], props["municipality"]) == (
        "lifted",
        2,
        "line",
        "riyadh",
    )
    assert props["starts_at"] == clock.now.isoformat()


# --- the sample data --------------------------------------------------------------------------------


def test_sample_file_reads_into_29_drafts_with_times_from_the_top_of_the_hour():
    raw = json.loads(SAMPLE)["features"]
    top_of_hour = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    items = read_closures(SAMPLE, now=NOW)

    assert len(items) == len(raw) == 29
    assert [i.municipality for i in items].count("riyadh") == 26
    assert [i.municipality for i in items].count("jeddah") == 3
    for item, feature in zip(items, raw, strict=True):
        props = feature["properties"]
        start = top_of_hour + timedelta(hours=props["start_offset_h"])
        end = None if props["duration_h"] is None else start + timedelta(hours=props["duration_h"])
        assert (item.draft.starts_at, item.draft.ends_at) == (start, end), props["ref"]
        assert item.draft.ref == props["ref"]
        assert item.draft.title_ar == props["title_ar"]
        assert item.draft.radius_m == props["radius_m"]
        assert item.draft.geometry.equals(shape(feature["geometry"]))
        assert item.draft.source == "geojson"


def test_sample_file_registers_in_full(service, engine, clock):
    items = read_closures(SAMPLE, now=clock.now, source="sample")

    closures = [service.register(i.municipality, i.draft, SYSTEM, allow_past_start=True) for i in items]

    assert len({c.id for c in closures}) == 29
    assert {c.source for c in closures} == {"sample"}
    assert {c.kind for c in closures} == {"point", "line", "area"}


# --- bad features -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"title_ar": ""}, Refusal.MISSING_FIELD, "title_ar"),
        ({"title_ar": 42}, Refusal.BAD_VALUE, "title_ar"),
        ({"reason": 3}, Refusal.BAD_VALUE, "reason"),
        ({"radius_m": "150"}, Refusal.BAD_VALUE, "radius_m"),
        ({"radius_m": True}, Refusal.BAD_VALUE, "radius_m"),
        ({"starts_at": None, "start_offset_h": "2"}, Refusal.BAD_VALUE, "start_offset_h"),
        ({"starts_at": None, "start_offset_h": 2, "duration_h": "3"}, Refusal.BAD_VALUE, "duration_h"),
        ({"starts_at": "2026-11-27T10:00:00"}, Refusal.BAD_VALUE, "starts_at"),
        ({"ends_at": "2026-11-27 18:00"}, Refusal.BAD_VALUE, "ends_at"),
        ({"starts_at": "tomorrow morning"}, Refusal.BAD_VALUE, "starts_at"),
        ({"starts_at": None}, Refusal.MISSING_FIELD, "starts_at"),
    ],
    ids=["empty title", "numeric title", "numeric reason", "radius as text", "radius as boolean",
         "offset as text", "duration as text", "naive start", "naive end", "unreadable start", "no start"],
)  # fmt: skip
def test_bad_feature_is_refused_naming_the_property(overrides, code, field):
    error = _refusal(_collection(_props(**overrides)))
    assert (error.code, error.field) == (code, field)


def test_a_feature_without_a_title_is_refused_when_imported(service, engine):
    props = _props()
    del props["title_ar"]
    [item] = read_closures(_collection(props), now=NOW)

    with pytest.raises(ValidationError) as caught:
        service.register("riyadh", item.draft, SYSTEM, allow_past_start=True)

    assert (caught.value.code, caught.value.field) == (Refusal.MISSING_FIELD, "title_ar")


def test_one_bad_feature_refuses_the_whole_file():
    text = _collection(_props(), _props(), _props(radius_m="wide"))
    assert _refusal(text).field == "radius_m"


def test_times_in_utc_with_z_are_read_as_aware():
    [item] = read_closures(_collection(_props(starts_at="2026-11-27T07:00:00Z", ends_at=None)), now=NOW)
    assert item.draft.starts_at == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert item.draft.ends_at is None


def test_bad_geometry_is_a_geometry_error():
    bow_tie = {"type": "Polygon", "coordinates": [[[46.67, 24.70], [46.68, 24.71], [46.68, 24.70],
                                                    [46.67, 24.71], [46.67, 24.70]]]}  # fmt: skip
    with pytest.raises(GeometryError) as caught:
        read_closures(_collection(_props(), geometry=bow_tie), now=NOW)
    assert caught.value.reason is GeoReason.SELF_INTERSECTING


# --- municipalities ---------------------------------------------------------------------------------


def test_riyadh_boundary_is_read_though_far_bigger_than_any_closure():
    munis = {m.slug: m for m in read_municipalities(MUNICIPALITIES)}

    riyadh = munis["riyadh"]
    boundary = shapely.from_geojson(riyadh.boundary_geojson)
    area_km2 = abs(GEOD.geometry_area_perimeter(boundary)[0]) / 1e6
    assert 2_000 < area_km2 < 3_000  # about 2,500 km²
    with pytest.raises(GeometryError) as caught:
        validate(boundary)  # as a closure it would be refused
    assert caught.value.reason is GeoReason.TOO_BIG
    assert (riyadh.name_en, riyadh.timezone, riyadh.default_radius_m, riyadh.epsg) == (
        "Riyadh Municipality",
        "Asia/Riyadh",
        5000,
        32638,
    )
    assert munis["jeddah"].epsg == 32637


def test_a_line_is_not_a_municipal_boundary():
    line = {"type": "LineString", "coordinates": [[46.6, 24.6], [46.8, 24.8]]}
    text = _collection({"slug": "x", "name_ar": "س", "name_en": "X"}, geometry=line)

    with pytest.raises(ValidationError) as caught:
        read_municipalities(text)

    assert (caught.value.code, caught.value.field) == (Refusal.BAD_VALUE, "boundary")


def test_municipality_export_reads_back_the_same():
    [riyadh, jeddah] = read_municipalities(MUNICIPALITIES)
    stored = [
        Municipality(id=i, **{name: getattr(m, name) for name in m.__slots__})
        for i, m in enumerate((riyadh, jeddah), start=1)
    ]

    again = read_municipalities(json.dumps(feature_collection(municipality_feature(m) for m in stored)))

    assert again == [riyadh, jeddah]


def test_a_municipality_needs_a_slug():
    square = Polygon([offset(DRIVER, a, 5000) for a in (45, 135, 225, 315)])
    text = _collection({"name_ar": "س", "name_en": "X"}, geometry=json.loads(shapely.to_geojson(square)))

    with pytest.raises(ValidationError) as caught:
        read_municipalities(text)

    assert (caught.value.code, caught.value.field) == (Refusal.MISSING_FIELD, "slug")
