"""closures.cap_import from the outside: a partner's CAP alert becomes a draft for the staff of each
municipality it meets and nothing is published; its Update replaces the draft, its Cancel withdraws it (or,
confirmed, offers the staff an End); what cannot be followed is refused in the report, and importing the
same messages again writes nothing."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import box

from closures.cap_alerts import alert_of, cap_series_of
from closures.cap_import import CapImporter
from closures.cap_models import CapMessage
from closures.cap_notices import CapNotice, StaleNotice, cap_notice
from closures.emergencies import EmergencyService
from closures.emergency_models import Emergency
from closures.formats.cap import alert_xml
from closures.formats.cap_read import read_cap
from closures.models import OutboxItem
from closures.service import Actor, ClosureService
from closures.store import session_scope
from tests.closures.cap_support import event_name, sample
from tests.closures.conftest import JEDDAH_STAFF, RIYADH_STAFF
from tests.closures.emergency_support import khurais_playbook, table_counts

pytestmark = pytest.mark.usefixtures("staff")
STAFF = Actor.telegram(RIYADH_STAFF)
NCM = "alerts@ncm.example.sa"
ADMIN = 9009


@pytest.fixture
def importer(emergencies) -> CapImporter:
    return CapImporter(emergencies, admins=[ADMIN])


def _read(*names: str):
    return [a for name in names for a in read_cap(sample(name)).alerts]


def _drafts(engine) -> list[Emergency]:
    with session_scope(engine) as session:
        return list(session.scalars(sa.select(Emergency).order_by(Emergency.id)))


def _notices(engine) -> list[tuple[str, str, dict]]:
    with session_scope(engine) as session:
        rows = session.scalars(
            sa.select(OutboxItem).where(OutboxItem.destination.like("cap-staff:%")).order_by(OutboxItem.id)
        )
        return [(r.destination, r.event, json.loads(r.payload_json or "{}")) for r in rows]


def _public_posts(engine) -> list[OutboxItem]:
    with session_scope(engine) as session:
        query = sa.select(OutboxItem).where(~OutboxItem.destination.like("cap-staff:%"))
        return list(session.scalars(query))


def test_an_alert_over_riyadh_becomes_a_draft_for_its_staff_and_publishes_nothing(
    importer, engine, emergencies
):
    emergencies.playbooks.save("riyadh", khurais_playbook(), Actor.system("cli"))
    report = importer.apply(_read("ncm_flood_riyadh.xml"), source="cap:ncm.example.sa")

    assert (report.drafted, report.rejected, report.outside) == (1, [], [])
    [draft] = _drafts(engine)
    assert draft.state == "draft"
    assert (draft.hazard, draft.level) == ("flood", "warning"), "Severe is the Saudi orange warning"
    assert draft.headline_ar == "إنذار أحمر: أمطار غزيرة وسيول على منطقة الرياض"
    assert (
        draft.instruction_en == "Keep away from valleys and underpasses; do not drive through flooded roads."
    )
    assert (draft.source_sender, draft.source_identifier) == (NCM, "NCM-RYD-2026-11-27-0042")
    assert draft.expires_at == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert draft.clipped_share > 0.3, "the region's polygon reaches far past the municipality: cut"
    assert draft.area_desc_ar.startswith("منطقة الرياض")
    assert len(draft.area_desc_ar) < 50
    assert _public_posts(engine) == [], "nothing is ever published from an import alone"

    notices = _notices(engine)
    assert [d for d, _, _ in notices] == [f"cap-staff:{RIYADH_STAFF}", f"cap-staff:{ADMIN}"]
    assert {what["what"] for _, _, what in notices} == {"drafted"}
    assert notices[0][2]["playbooks"] == ["khurais-underpasses"], "the playbooks its area touches"
    with session_scope(engine) as session:
        [message] = session.scalars(sa.select(CapMessage))
    assert message.description_ar.startswith("أمطار غزيرة مصحوبة")


def test_importing_the_same_messages_again_writes_nothing(importer, engine):
    alerts = _read("ncm_flood_riyadh.xml", "ncm_flood_riyadh_update.xml")
    importer.apply(alerts, source="cap:ncm")
    before = table_counts(engine) | {"notices": len(_notices(engine))}
    report = importer.apply(alerts, source="cap:ncm")
    assert report.unchanged == 2
    assert not report.changed
    assert table_counts(engine) | {"notices": len(_notices(engine))} == before


def test_an_update_replaces_the_draft_and_the_staff_are_told_again(importer, engine):
    importer.apply(_read("ncm_flood_riyadh.xml"), source="cap:ncm")
    report = importer.apply(_read("ncm_flood_riyadh_update.xml"), source="cap:ncm")
    assert report.replaced == 1
    old, new = _drafts(engine)
    assert old.state == "discarded"
    assert new.state == "draft"
    assert new.level == "alarm", "raised to Extreme: the red alarm"
    assert new.headline_en == "Update: floods running in Riyadh's valleys"
    assert new.expires_at == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert [n["what"] for _, _, n in _notices(engine)][-2:] == ["replaced", "replaced"]


def test_a_cancel_withdraws_the_draft_even_after_an_update(importer, engine):
    importer.apply(_read("ncm_flood_riyadh.xml", "ncm_flood_riyadh_update.xml"), source="cap:ncm")
    report = importer.apply(_read("ncm_flood_riyadh_cancel.xml"), source="cap:ncm")
    assert report.withdrawn == 1
    assert {d.state for d in _drafts(engine)} == {"discarded"}
    assert [n["what"] for _, _, n in _notices(engine)][-1] == "withdrawn"
    assert _public_posts(engine) == []


def test_a_cancel_of_a_confirmed_alert_offers_an_end_and_ends_nothing(importer, engine, emergencies, clock):
    importer.apply(_read("ncm_flood_riyadh.xml"), source="cap:ncm")
    [draft] = _drafts(engine)
    issued = emergencies.confirm(draft.id, STAFF)
    posts = len(_public_posts(engine))
    assert posts > 0, "confirming is a declaration: it is posted"

    clock.advance(timedelta(hours=4))
    report = importer.apply(_read("ncm_flood_riyadh_cancel.xml"), source="cap:ncm")
    assert report.noted == 1
    assert emergencies.current(issued.emergency.first_id).msg_type == "alert", "never ended on its own"
    assert len(_public_posts(engine)) == posts
    [(_, event, payload)] = [n for n in _notices(engine) if n[2]["what"] == "source-cancelled"][:1]
    assert event == "ended"
    notice = cap_notice(engine, emergency_id=issued.emergency.first_id, payload=payload, now=clock.now)
    assert isinstance(notice, CapNotice)
    assert notice.offers_end
    emergencies.end(issued.emergency.first_id, STAFF)
    stale = cap_notice(engine, emergency_id=issued.emergency.first_id, payload=payload, now=clock.now)
    assert stale == StaleNotice("the emergency has ended already")


def test_an_update_of_a_confirmed_alert_is_noted_for_the_staff_and_changes_nothing(
    importer, engine, emergencies
):
    importer.apply(_read("ncm_flood_riyadh.xml"), source="cap:ncm")
    [draft] = _drafts(engine)
    issued = emergencies.confirm(draft.id, STAFF)
    report = importer.apply(_read("ncm_flood_riyadh_update.xml"), source="cap:ncm")
    assert report.noted == 1
    assert emergencies.current(issued.emergency.first_id).version == 1
    assert "source-updated" in [n["what"] for _, _, n in _notices(engine)]


def test_an_update_whose_references_are_unknown_is_refused(importer, engine):
    before = table_counts(engine)
    report = importer.apply(_read("ncm_flood_riyadh_update.xml"), source="cap:ncm")
    [refusal] = report.rejected
    assert refusal["alert"] == f"{NCM} NCM-RYD-2026-11-27-0043"
    assert refusal["error"] == f"its references ({NCM},NCM-RYD-2026-11-27-0042) name no alert read here"
    assert table_counts(engine) == before


def test_an_expired_update_is_refused_and_an_expired_alert_drafts_nothing(importer, engine, clock):
    clock.now = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # past both the alert's and the update's expiry
    report = importer.apply(_read("ncm_flood_riyadh.xml", "ncm_flood_riyadh_update.xml"), source="cap:ncm")
    assert report.expired == 1
    assert report.late == [
        {"alert": f"{NCM} NCM-RYD-2026-11-27-0042", "expired": "2026-11-27T18:00:00+00:00"}
    ]
    [refusal] = report.rejected
    assert "Update expired at 2026-11-27T21:00:00+00:00, before it was read" in refusal["error"]
    assert _drafts(engine) == []


def test_a_draft_whose_source_expired_is_dropped_by_the_next_import(importer, engine, clock):
    importer.apply(_read("ncm_flood_riyadh.xml"), source="cap:ncm")
    clock.now = datetime(2026, 11, 27, 18, 0, 1, tzinfo=UTC)
    report = importer.apply([], source="cap:ncm")
    assert report.expired == 1
    assert [d.state for d in _drafts(engine)] == ["discarded"]


EMPTY_QUARTER = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>NCM-SHR-1</identifier><sender>alerts@ncm.example.sa</sender><sent>2026-11-27T11:00:00+03:00</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><language>ar-SA</language><category>Met</category><event>رياح شديدة</event><urgency>Expected</urgency>
  <severity>Moderate</severity><certainty>Likely</certainty><expires>2026-11-27T23:00:00+03:00</expires>
  <area><areaDesc>الربع الخالي</areaDesc>
    <polygon>20.0,50.0 20.0,51.0 21.0,51.0 21.0,50.0 20.0,50.0</polygon></area>
  </info></alert>""".encode()


def test_an_area_outside_every_municipality_is_reported_and_drafts_nothing(importer, engine):
    report = importer.apply(read_cap(EMPTY_QUARTER).alerts, source="cap:ncm")
    assert report.outside == [{"alert": f"{NCM} NCM-SHR-1", "area": "الربع الخالي"}]
    assert _drafts(engine) == []
    assert _notices(engine) == []


def test_an_alert_over_two_municipalities_drafts_one_emergency_in_each(importer, engine):
    kingdom = sample("ncm_flood_riyadh.xml").replace(
        b"24.30,46.30 24.30,47.30 25.20,47.30 25.20,46.30 24.30,46.30",
        b"21.00,39.00 21.00,47.30 25.20,47.30 25.20,39.00 21.00,39.00",
    )
    report = importer.apply(read_cap(kingdom).alerts, source="cap:ncm")
    assert report.drafted == 2
    assert len({d.municipality_id for d in _drafts(engine)}) == 2
    told = {d for d, _, _ in _notices(engine)}
    assert {f"cap-staff:{RIYADH_STAFF}", f"cap-staff:{JEDDAH_STAFF}"} <= told


def test_a_feed_followed_for_one_municipality_drafts_only_there(emergencies, engine):
    kingdom = sample("ncm_flood_riyadh.xml").replace(
        b"24.30,46.30 24.30,47.30 25.20,47.30 25.20,46.30 24.30,46.30",
        b"21.00,39.00 21.00,47.30 25.20,47.30 25.20,39.00 21.00,39.00",
    )
    report = CapImporter(emergencies, only="jeddah").apply(read_cap(kingdom).alerts, source="cap:ncm")
    assert report.drafted == 1
    [draft] = _drafts(engine)
    assert {d for d, _, _ in _notices(engine)} == {f"cap-staff:{JEDDAH_STAFF}"}
    assert draft.min_lon < 40, "Jeddah's"


def test_test_messages_are_left_alone_and_an_exercise_is_drafted_as_one(importer, engine):
    document = sample("ncm_flood_riyadh.xml")
    test = read_cap(document.replace(b"<status>Actual</status>", b"<status>Test</status>")).alerts
    report = importer.apply(test, source="cap:ncm")
    assert report.rejected == [
        {"alert": f"{NCM} NCM-RYD-2026-11-27-0042", "error": "status Test: not for action"}
    ]
    exercise = document.replace(b"<status>Actual</status>", b"<status>Exercise</status>").replace(
        b"0042", b"0099"
    )
    importer.apply(read_cap(exercise).alerts, source="cap:ncm")
    [draft] = _drafts(engine)
    assert draft.exercise


def test_an_atom_feed_embedding_a_sandstorm_alert_drafts_it(importer, engine):
    report = importer.apply(read_cap(sample("ncm_feed.atom")).alerts, source="cap:ncm")
    assert report.drafted == 1
    [draft] = _drafts(engine)
    assert (draft.hazard, draft.level) == ("sandstorm", "alert")
    assert draft.headline_en == "Advisory: blowing dust over north Riyadh"
    assert draft.instruction_ar.startswith("رياح نشطة"), (
        "no instruction given: the description's first sentence"
    )


def test_our_own_cap_read_back_drafts_the_same_emergency(importer, engine, emergencies, declare):
    """Round trip: what we declare and serve as CAP, another system running this bot reads back as the same
    emergency (the same hazard, level, texts, expiry and area)."""
    issued = emergencies.declare("riyadh", declare(area=box(46.62, 24.62, 46.70, 24.70)), STAFF).emergency
    series, position = cap_series_of(engine, issued.identifier)
    document = alert_xml(
        alert_of(series, position, sender="riyadh@roads.example.org", web="https://x/", event_name=event_name)
    )
    report = importer.apply(read_cap(document).alerts, source="cap:roads.example.org")
    assert report.drafted == 1
    draft = _drafts(engine)[-1]
    texts = ("headline_ar", "headline_en", "instruction_ar", "instruction_en", "area_desc_ar", "area_desc_en")
    for name in ("hazard", "level", "expires_at", "exercise", *texts):
        assert getattr(draft, name) == getattr(issued, name), name
    ours, back = shapely.from_geojson(issued.area_geojson), shapely.from_geojson(draft.area_geojson)
    assert ours.symmetric_difference(back).area < 1e-8


def test_two_processes_importing_one_alert_at_once_draft_it_once(emergencies, engine, other_engine, clock):
    """Whatever the interleaving, one draft per municipality stays, its message is recorded once, and each
    staff member is told once: the table's unique key decides, and the loser drops only a draft of its own."""
    other = EmergencyService(other_engine, clock=clock, closures=ClosureService(other_engine, clock=clock))
    alerts = read_cap(sample("ncm_flood_riyadh.xml")).alerts
    start = threading.Barrier(2)
    reports = []

    def run(service):
        start.wait()
        reports.append(CapImporter(service, admins=[ADMIN]).apply(alerts, source="cap:ncm"))

    threads = [threading.Thread(target=run, args=(s,)) for s in (emergencies, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r.drafted for r in reports) == 1
    with session_scope(engine) as session:
        [message] = session.scalars(sa.select(CapMessage))
    live = [d for d in _drafts(engine) if d.state == "draft"]
    assert [d.id for d in live] == [message.emergency_id]
    told = [d for d, _, _ in _notices(engine)]
    assert sorted(told) == sorted({f"cap-staff:{RIYADH_STAFF}", f"cap-staff:{ADMIN}"})
