"""closures.cap_alerts: every issued emergency version is a CAP message valid against the OASIS schema and
true to our rules (areaDesc, rings inside the municipality, lat,lon, references), and the feed lists what a
consumer needs: emergencies in force, and a withdrawal for a day after it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import shapely
from shapely.geometry import Point, box

from closures.cap_alerts import CapSeries, alert_of, cap_series_of, cap_snapshot
from closures.formats.cap import CapStatus, MsgType, alert_xml
from closures.formats.cap_read import read_cap
from closures.formats.common import FeedMunicipality
from tests.closures.cap_support import (
    FLOOD_AREA,
    SENDER,
    T0,
    emergency_version,
    event_name,
    rule_errors,
    schema_errors,
    store_versions,
)
from tests.conftest import DATA

RIYADH_TZ = ZoneInfo("Asia/Riyadh")
WEB = "https://roads.example.org/#emergency-1"


@pytest.fixture(scope="module")
def riyadh_boundary() -> str:
    import json

    features = json.loads((DATA / "municipalities.geojson").read_text(encoding="utf-8"))["features"]
    [riyadh] = [f for f in features if f["properties"]["slug"] == "riyadh"]
    return json.dumps(riyadh["geometry"])


def _series(boundary: str, *versions) -> CapSeries:
    muni = FeedMunicipality("riyadh", "أمانة منطقة الرياض", "Riyadh Municipality", RIYADH_TZ)
    return CapSeries(tuple(versions), muni, boundary)


def _messages(boundary: str, *versions):
    series = _series(boundary, *versions)
    return [alert_of(series, i, sender=SENDER, web=WEB, event_name=event_name) for i in range(len(versions))]


def _alarm_then_update_then_end():
    first = emergency_version(1, id=1, first_id=1)
    update = emergency_version(
        1, id=2, first_id=1, version=2, msg_type="update", sent_at=T0 + timedelta(hours=1),
        headline_ar="تحديث: السيول تمتد إلى الملز", headline_en="Update: floods reach Al Malaz",
        area=shapely.union_all([FLOOD_AREA, box(46.72, 24.64, 46.80, 24.70)]),
    )  # fmt: skip
    end = emergency_version(
        1, id=3, first_id=1, version=3, msg_type="cancel", sent_at=T0 + timedelta(hours=3),
        cap_urgency="Past", cap_severity="Minor", cap_response="AllClear",
    )  # fmt: skip
    return first, update, end


def test_every_version_of_an_emergency_is_valid_cap_inside_the_municipality(riyadh_boundary):
    boundary = shapely.from_geojson(riyadh_boundary)
    exercise = emergency_version(1, id=9, first_id=9, exercise=True)
    two_parts = emergency_version(
        1,
        id=7,
        first_id=7,
        area=shapely.union_all([box(46.6, 24.9, 46.7, 25.0), box(46.6, 24.5, 46.7, 24.6)]),
    )
    messages = [*_messages(riyadh_boundary, *_alarm_then_update_then_end())]
    messages += _messages(riyadh_boundary, exercise) + _messages(riyadh_boundary, two_parts)
    for message in messages:
        document = alert_xml(message)
        assert schema_errors(document) == [], message.identifier
        assert rule_errors(document, within=boundary) == [], message.identifier
    assert [m.msg_type for m in messages] == [
        MsgType.ALERT,
        MsgType.UPDATE,
        MsgType.CANCEL,
        MsgType.ALERT,
        MsgType.ALERT,
    ]
    assert messages[3].status is CapStatus.TEST
    assert {m.status for m in messages[:3] + messages[4:]} == {CapStatus.ACTUAL}
    assert len(messages[4].infos[0].areas[0].polygons) == 2, "a multi-polygon is several polygons"


def test_updates_and_the_end_reference_every_earlier_message(riyadh_boundary):
    first, update, end = _messages(riyadh_boundary, *_alarm_then_update_then_end())
    assert first.references == ()
    assert [(r.sender, r.identifier, r.sent) for r in update.references] == [(SENDER, "riyadh-1-1", T0)]
    assert [r.identifier for r in end.references] == ["riyadh-1-1", "riyadh-1-2"]
    assert end.references[1].sent == T0 + timedelta(hours=1)
    text = alert_xml(end).decode()
    assert (
        "<references>riyadh@roads.example.org,riyadh-1-1,2026-11-27T12:00:00+03:00 "
        "riyadh@roads.example.org,riyadh-1-2,2026-11-27T13:00:00+03:00</references>"
    ) in text


def test_one_info_per_language_arabic_first_with_the_versions_own_words(riyadh_boundary):
    [message] = _messages(riyadh_boundary, emergency_version(1, id=1, first_id=1))
    arabic, english = message.infos
    assert (arabic.language, english.language) == ("ar-SA", "en-US")
    assert (arabic.event, english.event) == ("سيول", "Flood")
    assert arabic.headline == "إنذار أحمر: سيول في وادي حنيفة"
    assert english.instruction == "Keep away from underpasses and valley beds"
    assert (arabic.severity, arabic.urgency, arabic.certainty) == ("Extreme", "Immediate", "Observed")
    assert arabic.response_types == ("Avoid",)
    assert arabic.categories == ("Met",)
    assert arabic.sender_name == "أمانة منطقة الرياض"
    assert english.web == WEB
    assert message.sent.utcoffset() == timedelta(hours=3), "times in the municipality's zone"
    assert "<sent>2026-11-27T12:00:00+03:00</sent>" in alert_xml(message).decode()


def test_a_long_area_name_is_cut_under_fifty_characters(riyadh_boundary):
    long_name = "أنفاق طريق الملك فهد وطريق خريص وطريق الأمير محمد بن عبدالعزيز والدائري الشرقي"
    [message] = _messages(riyadh_boundary, emergency_version(1, id=1, first_id=1, area_desc_ar=long_name))
    description = message.infos[0].areas[0].description
    assert len(description) < 50
    assert description.endswith("…")


def test_a_very_detailed_area_is_simplified_and_kept_inside(riyadh_boundary):
    boundary = shapely.from_geojson(riyadh_boundary)
    detailed = Point(46.70, 24.70).buffer(0.08, quad_segs=2000).intersection(boundary)  # 8,000 vertices
    [message] = _messages(riyadh_boundary, emergency_version(1, id=1, first_id=1, area=detailed))
    [polygon] = message.infos[0].areas[0].polygons
    assert len(polygon.exterior.coords) <= 100
    assert boundary.covers(polygon)
    assert polygon.buffer(1e-9).covers(detailed.buffer(-0.0005)), (
        "the whole area, but for a strip at the edge"
    )
    assert rule_errors(alert_xml(message), within=boundary) == []


def test_our_cap_read_back_gives_the_same_message(riyadh_boundary):
    for message in _messages(riyadh_boundary, *_alarm_then_update_then_end()):
        assert read_cap(alert_xml(message)).alerts == [message]


def test_the_feed_lists_emergencies_in_force_and_a_withdrawal_for_a_day(engine, municipalities, clock):
    riyadh = municipalities["riyadh"].id
    first, update, end = _alarm_then_update_then_end()
    ongoing = emergency_version(riyadh, id=4, first_id=4, expires_at=T0 + timedelta(hours=2))
    lapsed = emergency_version(riyadh, id=5, first_id=5, expires_at=T0 - timedelta(minutes=1))
    draft = emergency_version(riyadh, id=6, first_id=6, state="draft", sent_at=None)
    store_versions(engine, *(replace_muni(v, riyadh) for v in (first, update)), ongoing, lapsed, draft)

    clock.now = T0 + timedelta(hours=1, minutes=30)
    snapshot = cap_snapshot(engine, clock.now)
    assert [[v.identifier for v in s.versions] for s in snapshot.series] == [
        ["riyadh-1-1", "riyadh-1-2"],
        ["riyadh-4-1"],
    ]
    assert snapshot.valid_until == T0 + timedelta(hours=2), "the listing changes when the first one expires"
    assert snapshot.as_of == T0 + timedelta(hours=1), "the latest message sent"
    assert snapshot.find("riyadh-1-1")[1] == 0

    store_versions(engine, replace_muni(end, riyadh))
    clock.now = T0 + timedelta(hours=3, minutes=5)
    listed = [s.current.identifier for s in cap_snapshot(engine, clock.now).series]
    assert listed == ["riyadh-1-3"], "ended: its Cancel is listed; the other expired"
    clock.now = T0 + timedelta(hours=27, minutes=1)
    assert cap_snapshot(engine, clock.now).series == []


def test_any_issued_message_is_found_by_its_identifier_listed_or_not(engine, municipalities):
    riyadh = municipalities["riyadh"].id
    first, update, _ = _alarm_then_update_then_end()
    draft = emergency_version(riyadh, id=6, first_id=6, state="draft", sent_at=None)
    store_versions(engine, replace_muni(first, riyadh), replace_muni(update, riyadh), draft)
    series, position = cap_series_of(engine, "riyadh-1-1")
    assert position == 0
    assert [v.identifier for v in series.versions] == ["riyadh-1-1", "riyadh-1-2"]
    assert cap_series_of(engine, "riyadh-1-2")[1] == 1
    assert cap_series_of(engine, "riyadh-6-1") is None, "a draft never went out"
    assert cap_series_of(engine, "nothing") is None


def replace_muni(version, muni_id):
    version.municipality_id = muni_id
    return version


@pytest.mark.usefixtures("staff")
def test_what_the_emergency_service_declares_updates_and_ends_is_listed_and_valid(
    engine, emergencies, declare, clock, municipalities
):
    from closures.service import Actor
    from closures.store import change_counter

    staff = Actor.telegram(1001)
    boundary = shapely.from_geojson(municipalities["riyadh"].boundary_geojson)
    counter = change_counter(engine)
    first = emergencies.declare("riyadh", declare(), staff).emergency
    assert change_counter(engine) > counter, "a declaration moves the counter: the CAP feed is rebuilt"
    clock.advance(timedelta(minutes=10))
    emergencies.update(first.first_id, {"level": "warning"}, staff)
    clock.advance(timedelta(minutes=10))
    emergencies.end(first.first_id, staff)
    [series] = cap_snapshot(engine, clock.now).series
    assert [v.msg_type for v in series.versions] == ["alert", "update", "cancel"]
    for i in range(3):
        document = alert_xml(alert_of(series, i, sender=SENDER, web=WEB, event_name=event_name))
        assert schema_errors(document) == []
        assert rule_errors(document, within=boundary) == []
