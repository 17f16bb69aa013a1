"""Playbooks: stored with every closure checked as a real one, listed, replaced, removed; activated with
the emergency's times; and out to GeoJSON and back without loss."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import shapely
from shapely.geometry import Point

from closures.errors import NotFound, Refusal, ValidationError
from closures.formats.playbook import playbook_collection, read_playbook
from closures.playbooks import PlaybookClosureInvalid, drafts_for
from closures.service import Actor
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from tests.closures.conftest import JEDDAH_POINT, JEDDAH_STAFF, RIYADH_STAFF
from tests.closures.emergency_support import KHURAIS, SYSTEM, khurais_playbook, square, underpasses

pytestmark = pytest.mark.usefixtures("staff")


@pytest.fixture
def playbooks(emergencies):
    return emergencies.playbooks


def test_a_saved_playbook_comes_back_as_drafted(playbooks):
    saved = playbooks.save("riyadh", khurais_playbook(), Actor.telegram(RIYADH_STAFF))

    again = playbooks.get("riyadh", "khurais-underpasses")
    assert again == saved
    assert [c.title_en for c in again.closures] == [f"Khurais underpass {i}" for i in (1, 2, 3)]
    assert [c.duration_min for c in again.closures] == [None, None, 120]
    assert [c.radius_m for c in again.closures] == [100.0] * 3  # a point closure's default radius
    assert again.area is not None
    assert again.area.equals(khurais_playbook().area)
    assert [p.slug for p in playbooks.list("riyadh")] == ["khurais-underpasses"]
    assert playbooks.list("jeddah") == []


def test_a_second_playbook_of_the_same_name_is_refused_unless_replacing(playbooks):
    playbooks.save("riyadh", khurais_playbook(), SYSTEM)
    with pytest.raises(ValidationError) as caught:
        playbooks.save("riyadh", khurais_playbook(), SYSTEM)
    assert caught.value.code is Refusal.DUPLICATE

    replaced = playbooks.save(
        "riyadh", khurais_playbook(name_en="Khurais Rd", closures=underpasses()[:1]), SYSTEM, replace=True
    )
    assert (replaced.name_en, len(replaced.closures)) == ("Khurais Rd", 1)
    assert len(playbooks.list("riyadh")) == 1


def test_a_closure_outside_the_municipality_is_refused_naming_its_position(playbooks):
    closures = [
        *underpasses(),
        underpasses()[0].__class__(geometry=JEDDAH_POINT, reason="flood", title_ar="x"),
    ]
    with pytest.raises(PlaybookClosureInvalid) as caught:
        playbooks.save("riyadh", khurais_playbook(closures=closures), SYSTEM)
    assert caught.value.position == 4
    assert isinstance(caught.value.cause, ValidationError)
    assert caught.value.cause.code is Refusal.OUTSIDE_MUNICIPALITY
    assert playbooks.list("riyadh") == []


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"closures": []}, Refusal.MISSING_FIELD),
        ({"slug": "Khurais underpasses"}, Refusal.BAD_VALUE),
        ({"name_ar": " "}, Refusal.MISSING_FIELD),
        ({"hazard": "meteor"}, Refusal.BAD_VALUE),
        ({"area": shapely.box(39.1, 21.5, 39.2, 21.6)}, Refusal.OUTSIDE_MUNICIPALITY),
    ],
)
def test_bad_playbooks_are_refused(playbooks, change, refusal):
    with pytest.raises(ValidationError) as caught:
        playbooks.save("riyadh", khurais_playbook(**change), SYSTEM)
    assert caught.value.code is refusal


def test_a_duration_out_of_range_is_refused(playbooks):
    bad = [underpasses()[0].__class__(geometry=Point(KHURAIS), reason="flood", title_ar="x", duration_min=0)]
    with pytest.raises(PlaybookClosureInvalid) as caught:
        playbooks.save("riyadh", khurais_playbook(closures=bad), SYSTEM)
    assert caught.value.cause.field == "duration_min"


def test_only_staff_of_the_municipality_manage_its_playbooks(playbooks):
    for actor in (Actor.telegram(555), Actor.telegram(JEDDAH_STAFF)):
        with pytest.raises(ValidationError) as caught:
            playbooks.save("riyadh", khurais_playbook(), actor)
        assert caught.value.code is Refusal.NOT_AUTHORISED
    playbooks.save("riyadh", khurais_playbook(), SYSTEM)
    with pytest.raises(ValidationError):
        playbooks.remove("riyadh", "khurais-underpasses", Actor.telegram(555))


def test_removing_a_playbook_forgets_it(playbooks):
    playbooks.save("riyadh", khurais_playbook(), SYSTEM)
    playbooks.remove("riyadh", "khurais-underpasses", SYSTEM)
    with pytest.raises(NotFound):
        playbooks.get("riyadh", "khurais-underpasses")
    with pytest.raises(NotFound):
        playbooks.remove("riyadh", "khurais-underpasses", SYSTEM)


def test_activation_starts_now_and_ends_with_the_emergency_unless_the_playbook_says(playbooks, clock):
    book = playbooks.save("riyadh", khurais_playbook(), SYSTEM)
    end = clock.now + timedelta(hours=6)

    drafts = drafts_for(book, starts_at=clock.now, ends_at=end)

    assert [(d.starts_at, d.ends_at, follows) for d, follows in drafts] == [
        (clock.now, end, True), (clock.now, end, True), (clock.now, clock.now + timedelta(hours=2), False),
    ]  # fmt: skip
    assert {d.detour_ar for d, _ in drafts} == {"استخدم الطريق الدائري الشرقي"}


def test_the_playbooks_meeting_an_area_are_found(playbooks):
    book = playbooks.save("riyadh", khurais_playbook(area=None), SYSTEM)
    near = square(KHURAIS, 300)
    far = square((46.55, 24.95), 300)
    assert [p.slug for p in playbooks.touching("riyadh", near)] == [book.slug]
    assert playbooks.touching("riyadh", far) == []


def test_a_playbook_round_trips_through_geojson(playbooks):
    saved = playbooks.save("riyadh", khurais_playbook(area_desc_en="Khurais Rd, exits 5–9"), SYSTEM)

    document = playbook_collection(saved)
    text = json.dumps(document, ensure_ascii=False)
    again = playbooks.save("riyadh", read_playbook(text), SYSTEM, replace=True)

    assert document["type"] == "FeatureCollection"
    assert document["playbook"]["slug"] == "khurais-underpasses"
    assert [f["properties"]["title_ar"] for f in document["features"]] == [f"نفق خريص {i}" for i in (1, 2, 3)]
    assert playbook_collection(again) == document
    assert again.closures == saved.closures


def test_a_file_without_the_foreign_member_takes_the_playbook_from_properties_or_the_command_line():
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(KHURAIS)}}
    plain = {"type": "FeatureCollection", "features": [feature | {"properties": {
        "title_ar": "نفق", "reason": "flood", "playbook_slug": "wadi", "playbook_name_ar": "وادي",
        "playbook_name_en": "Wadi",
    }}]}  # fmt: skip
    draft = read_playbook(json.dumps(plain))
    assert (draft.slug, draft.name_ar, draft.name_en) == ("wadi", "وادي", "Wadi")

    bare = {"type": "FeatureCollection", "features": [feature | {"properties": {"title_ar": "نفق"}}]}
    with pytest.raises(ValidationError) as caught:
        read_playbook(json.dumps(bare))
    assert (caught.value.code, caught.value.field) == (Refusal.MISSING_FIELD, "slug")
    named = read_playbook(json.dumps(bare), slug="wadi-hanifah", name_ar="وادي حنيفة", name_en="Wadi Hanifah")
    assert named.slug == "wadi-hanifah"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("not json", GeoReason.NOT_JSON), ('{"type": "FeatureCollection", "features": []}', GeoReason.EMPTY)],
)
def test_a_file_that_is_not_a_playbook_is_refused(text, reason):
    with pytest.raises(GeometryError) as caught:
        read_playbook(text)
    assert caught.value.reason is reason


def test_a_wrong_value_in_a_feature_is_refused_naming_it():
    document = playbook_collection_of(radius_m="wide")
    with pytest.raises(ValidationError) as caught:
        read_playbook(json.dumps(document))
    assert (caught.value.code, caught.value.field) == (Refusal.BAD_VALUE, "radius_m")


def playbook_collection_of(**properties: object) -> dict:
    return {
        "type": "FeatureCollection",
        "playbook": {"slug": "x", "name_ar": "س", "name_en": "X"},
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(KHURAIS)},
                "properties": {"title_ar": "نفق", **properties},
            }
        ],
    }
