"""rules.checked on its own: the column values an accepted draft becomes, and the edges of each limit.

Pure: the municipalities come from the sample file without a database. Every refusal is also tried through
the service (tests/closures/test_service.py), where nothing may be written afterwards.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import MultiLineString, Point, Polygon

from closures.errors import Refusal, ValidationError
from closures.formats.geojson import read_municipalities
from closures.models import Closure, Municipality
from closures.rules import ClosureDraft, checked, draft_of, snapshot
from geo.parse import Limits
from tests.closures.conftest import DRIVER, KING_FAHD, TITLE_AR, offset
from tests.conftest import DATA

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
WEST_CORNER = (46.45, 24.622)  # Riyadh's westernmost boundary vertex: due west of it, it is the nearest


def _municipality(slug: str) -> Municipality:
    text = (DATA / "municipalities.geojson").read_text(encoding="utf-8")
    item = next(m for m in read_municipalities(text) if m.slug == slug)
    return Municipality(
        id=1, slug=item.slug, name_ar=item.name_ar, name_en=item.name_en,
        boundary_geojson=item.boundary_geojson, epsg=item.epsg,
    )  # fmt: skip


RIYADH = _municipality("riyadh")


def _draft(**overrides: object) -> ClosureDraft:
    values: dict[str, object] = {
        "geometry": KING_FAHD,
        "reason": "roadworks",
        "starts_at": NOW + timedelta(hours=1),
        "ends_at": NOW + timedelta(hours=5),
        "title_ar": TITLE_AR,
    }
    return ClosureDraft(**{**values, **overrides})  # type: ignore[arg-type]


def _check(draft: ClosureDraft, *, allow_past_start: bool = False) -> dict:
    return checked(
        draft,
        RIYADH,
        now=NOW,
        limits=Limits(),
        allow_past_start=allow_past_start,
        max_past_start=timedelta(hours=1),
        tolerance_m=500.0,
    )


def _refusal(draft: ClosureDraft) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _check(draft)
    return caught.value


def test_an_accepted_line_becomes_its_columns():
    values = _check(_draft(title_ar=f"  {TITLE_AR}\n", detour_ar="   ", lanes_en=" Two right lanes "))

    assert values["kind"] == "line"
    assert values["radius_m"] is None
    assert shapely.from_geojson(values["geometry_geojson"]).equals(KING_FAHD)
    assert (values["min_lon"], values["min_lat"], values["max_lon"], values["max_lat"]) == KING_FAHD.bounds
    assert values["title_ar"] == TITLE_AR  # trimmed
    assert values["detour_ar"] is None  # blank means absent
    assert values["lanes_en"] == "Two right lanes"
    assert values["starts_at"] == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("geometry", "kind"),
    [
        (Point(DRIVER), "point"),
        (KING_FAHD, "line"),
        (MultiLineString([KING_FAHD.coords, [offset(DRIVER, 90, 500), offset(DRIVER, 90, 900)]]), "line"),
        (Polygon([offset(DRIVER, a, 300) for a in (0, 90, 180, 270)]), "area"),
    ],
)
def test_kind_follows_the_geometry_type(geometry, kind):
    assert _check(_draft(geometry=geometry))["kind"] == kind


def test_a_point_gets_the_default_radius_and_a_line_never_has_one():
    assert _check(_draft(geometry=Point(DRIVER)))["radius_m"] == 100.0
    assert _check(_draft(geometry=Point(DRIVER), radius_m=250))["radius_m"] == 250.0
    assert _check(_draft(radius_m=250))["radius_m"] is None


@pytest.mark.parametrize("radius", [10.0, 5_000.0])
def test_point_radius_limits_are_inclusive(radius):
    assert _check(_draft(geometry=Point(DRIVER), radius_m=radius))["radius_m"] == radius


@pytest.mark.parametrize("radius", [9.99, 5_000.01, 0.0, -50.0])
def test_point_radius_outside_the_range_is_refused(radius):
    error = _refusal(_draft(geometry=Point(DRIVER), radius_m=radius))
    assert (error.code, error.field) == (Refusal.BAD_VALUE, "radius_m")


def test_heading_is_kept_only_for_one_direction():
    assert _check(_draft(direction="one", heading="NNW"))["heading"] == "NNW"
    assert _check(_draft(direction="both", heading="NNW"))["heading"] is None


def test_heading_must_be_a_compass_code():
    error = _refusal(_draft(direction="one", heading="north"))
    assert (error.code, error.field) == (Refusal.BAD_VALUE, "heading")


def test_start_exactly_at_the_past_limit_is_accepted():
    _check(_draft(starts_at=NOW - timedelta(hours=1)))
    error = _refusal(_draft(starts_at=NOW - timedelta(hours=1, seconds=1)))
    assert error.code is Refusal.START_IN_PAST


def test_end_equal_to_start_is_refused():
    error = _refusal(_draft(ends_at=NOW + timedelta(hours=1)))
    assert (error.code, error.field) == (Refusal.END_BEFORE_START, "ends_at")


@pytest.mark.parametrize("name", ["starts_at", "ends_at"])
def test_a_time_without_a_zone_is_refused(name):
    naive = (NOW + timedelta(hours=2)).replace(tzinfo=None)
    error = _refusal(_draft(**{name: naive}))
    assert (error.code, error.field) == (Refusal.BAD_VALUE, name)


def test_end_may_be_open():
    assert _check(_draft(ends_at=None))["ends_at"] is None


@pytest.mark.parametrize(
    ("name", "limit"),
    [("title_ar", 200), ("title_en", 200), ("lanes_ar", 200), ("lanes_en", 200), ("description_ar", 2_000),
     ("description_en", 2_000), ("detour_ar", 2_000), ("detour_en", 2_000)],
)  # fmt: skip
def test_text_limits_are_inclusive(name, limit):
    assert _check(_draft(**{name: "ط" * limit}))[name] == "ط" * limit
    error = _refusal(_draft(**{name: "ط" * (limit + 1)}))
    assert (error.code, error.field) == (Refusal.TEXT_TOO_LONG, name)


@pytest.mark.parametrize(("metres", "accepted"), [(300.0, True), (480.0, True), (800.0, False)])
def test_geometry_may_reach_past_the_boundary_by_the_tolerance(metres, accepted):
    outside = Point(offset(WEST_CORNER, 270, metres))
    assert not shapely.from_geojson(RIYADH.boundary_geojson).contains(outside)
    draft = _draft(geometry=outside, radius_m=10)
    if accepted:
        assert _check(draft)["kind"] == "point"
    else:
        error = _refusal(draft)
        assert (error.code, error.field, error.detail) == (Refusal.OUTSIDE_MUNICIPALITY, "geometry", "riyadh")


def test_a_stored_closure_gives_back_the_draft_it_came_from():
    draft = _draft(
        geometry=Point(DRIVER), radius_m=150.0, severity="partial", lanes_ar="الحارة اليسرى",
        lanes_en="Left lane", direction="one", heading="NNW", title_en="Crash", description_ar="تصادم",
        description_en="Crash", detour_ar="طريق العليا", detour_en="Olaya St", ref="riyadh-002",
        source="import",
    )  # fmt: skip
    closure = Closure(municipality_id=1, created_by="test", **_check(draft))

    again = draft_of(closure)

    assert again.geometry.equals(draft.geometry)
    assert replace(again, geometry=draft.geometry) == draft


def test_snapshot_is_json_with_iso_times():
    closure = Closure(id=7, municipality_id=1, created_by="test", **_check(_draft()))
    data = json.loads(json.dumps(snapshot(closure)))
    assert data["id"] == 7
    assert data["starts_at"] == "2026-11-27T10:00:00+00:00"
    assert data["title_ar"] == TITLE_AR
    assert set(data) == set(Closure.model_fields)


def test_title_of_only_invisible_direction_marks_is_missing() -> None:
    from closures.rules import _clean

    assert _clean("\u200f\u200e ") == ""
    assert _clean(" \u200fطريق الملك فهد ") == "\u200fطريق الملك فهد"
