"""The official schemas accept every feed the sample data and the test closures make: WZDx 4.2 (JSON Schema)
and Waze CIFS (XSD); and they are strict enough to refuse a broken copy, so these tests can fail.
"""

from __future__ import annotations

import copy
import json

import pytest
from lxml import etree

from closures.formats.cifs import cifs_xml
from closures.formats.wzdx import work_zone_feed
from tests.closures.feeds_support import (
    SCHEMAS,
    cifs_schema,
    load_sample,
    load_variety,
    snapshot_of,
    wzdx_errors,
)


@pytest.fixture(params=["sample", "variety"])
def snapshot(request, service, clock):
    (load_sample if request.param == "sample" else load_variety)(service, clock)
    snap = snapshot_of(service, clock)
    assert snap.items, "the feed has closures to check"
    return snap


def _wzdx(snap) -> dict:
    return json.loads(
        json.dumps(
            work_zone_feed(snap.items, as_of=snap.as_of, publisher="Test", municipalities=snap.municipalities)
        )
    )


def test_official_wzdx_examples_pass_the_validator_as_set_up_here():
    examples = sorted((SCHEMAS / "wzdx-4.2" / "examples").glob("*.geojson"))
    assert len(examples) == 3
    for example in examples:
        assert wzdx_errors(json.loads(example.read_text(encoding="utf-8"))) == [], example.name


def test_wzdx_feed_of_every_closure_is_valid_against_the_official_schema(snapshot):
    feed = _wzdx(snapshot)
    assert len(feed["features"]) == len(snapshot.items)
    assert wzdx_errors(feed) == []
    kinds = {f["geometry"]["type"] for f in feed["features"]}
    assert kinds <= {"LineString", "MultiPoint"}


def test_the_wzdx_schema_refuses_a_broken_copy(snapshot):
    feed = _wzdx(snapshot)
    for breakage in (
        lambda f: f.pop("feed_info"),
        lambda f: f["features"][0]["properties"]["core_details"].update(event_type="closure"),
        lambda f: f["features"][0].update(geometry={"type": "Polygon", "coordinates": [[[0, 0]] * 4]}),
        lambda f: f["features"][0]["properties"].update(vehicle_impact="closed"),
        lambda f: f["features"][0]["properties"].pop("end_date"),
    ):
        broken = copy.deepcopy(feed)
        breakage(broken)
        assert wzdx_errors(broken), "the validator must catch this"


def test_cifs_xml_of_every_closure_is_valid_against_the_official_xsd(snapshot):
    schema = cifs_schema()
    document = etree.fromstring(cifs_xml(snapshot.items, as_of=snapshot.as_of))
    assert schema.validate(document), schema.error_log
    assert len(document.findall("incident")) == len(snapshot.items)


def test_the_cifs_xsd_refuses_a_broken_copy(snapshot):
    schema = cifs_schema()
    for tag, value in (("type", "CLOSED"), ("direction", "NORTH"), ("starttime", "tomorrow")):
        document = etree.fromstring(cifs_xml(snapshot.items, as_of=snapshot.as_of))
        document.find(f"incident/{tag}").text = value
        assert not schema.validate(document), tag
    document = etree.fromstring(cifs_xml(snapshot.items, as_of=snapshot.as_of))
    incident = document.find("incident")
    incident.remove(incident.find("polyline"))
    assert not schema.validate(document)
