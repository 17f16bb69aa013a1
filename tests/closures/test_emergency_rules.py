"""The emergency rules as plain functions: the CAP terms of each level, the area cut to the municipality
(its share outside measured on the ellipsoid, independently of the code), and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from closures.emergency_models import AlertLevel, Hazard
from closures.emergency_rules import cap_terms, check_expiry, check_slug, clean_text, clip_area, short_name
from closures.errors import Refusal, ValidationError
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from geo.projection import Projection

GEOD = Geod(ellps="WGS84")
BOUNDARY = shapely.box(46.45, 24.455, 47.05, 25.05)  # the sample Riyadh boundary's box
PROJECTION = Projection(32638)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _geodesic_area(polygon: Polygon) -> float:
    area, _ = GEOD.geometry_area_perimeter(polygon)
    return abs(area)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("advice", ("Minor", "Future", "Possible", "Monitor")),
        ("alert", ("Moderate", "Expected", "Likely", "Prepare")),
        ("warning", ("Severe", "Expected", "Likely", "Avoid")),
        ("alarm", ("Extreme", "Immediate", "Likely", "Avoid")),
    ],
)
def test_each_level_of_the_saudi_scale_maps_to_its_cap_terms(level, expected):
    terms = cap_terms("flood", level)
    assert (terms.severity, terms.urgency, terms.certainty, terms.response) == expected


def test_cap_severity_rises_with_the_level():
    order = ["Minor", "Moderate", "Severe", "Extreme"]
    ranks = [order.index(cap_terms("fire", level.value).severity) for level in AlertLevel]
    assert ranks == sorted(ranks) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("hazard", "category"),
    [("flood", "Met"), ("sandstorm", "Met"), ("fire", "Fire"), ("security", "Security"), ("other", "Other")],
)
def test_each_hazard_has_its_cap_category(hazard, category):
    assert cap_terms(hazard, "alert").category == category
    assert {h.value for h in Hazard} >= {hazard}


@pytest.mark.parametrize(
    ("hazard", "level", "field"), [("tsunami", "alarm", "hazard"), ("flood", "red", "level")]
)
def test_an_unknown_hazard_or_level_is_refused_naming_it(hazard, level, field):
    with pytest.raises(ValidationError) as caught:
        cap_terms(hazard, level)
    assert (caught.value.code, caught.value.field) == (Refusal.BAD_VALUE, field)


def test_an_area_inside_the_municipality_is_kept_whole():
    area = shapely.box(46.70, 24.70, 46.72, 24.72)
    clipped = clip_area(area, BOUNDARY, PROJECTION)
    assert clipped.clipped_share == 0.0
    assert clipped.geometry.equals(area)
    assert clipped.area_m2 == pytest.approx(_geodesic_area(area), rel=2e-3)


def test_an_area_larger_than_the_municipality_is_cut_and_the_share_outside_reported():
    # a box three times the municipality's width, centred on it: about 8/9 of it lies outside
    area = shapely.box(45.85, 23.86, 47.65, 25.65)
    clipped = clip_area(area, BOUNDARY, PROJECTION)
    expected = 1 - _geodesic_area(BOUNDARY) / _geodesic_area(area)
    assert clipped.clipped_share == pytest.approx(expected, abs=0.01)
    assert clipped.geometry.equals(BOUNDARY)


def test_an_area_half_outside_reports_half():
    area = shapely.box(46.95, 24.70, 47.15, 24.80)  # the boundary runs at 47.05, half-way across
    clipped = clip_area(area, BOUNDARY, PROJECTION)
    inside = shapely.box(46.95, 24.70, 47.05, 24.80)
    assert clipped.clipped_share == pytest.approx(
        1 - _geodesic_area(inside) / _geodesic_area(area), abs=0.005
    )
    assert clipped.clipped_share == pytest.approx(0.5, abs=0.01)


def test_an_area_outside_the_municipality_is_refused():
    with pytest.raises(ValidationError) as caught:
        clip_area(shapely.box(39.1, 21.5, 39.2, 21.6), BOUNDARY, PROJECTION)  # Jeddah
    assert caught.value.code is Refusal.OUTSIDE_MUNICIPALITY


def test_an_area_that_only_touches_the_boundary_is_outside():
    with pytest.raises(ValidationError) as caught:
        clip_area(shapely.box(47.05, 24.7, 47.1, 24.8), BOUNDARY, PROJECTION)
    assert caught.value.code is Refusal.OUTSIDE_MUNICIPALITY


def test_a_self_intersecting_area_is_refused_as_such():
    bow_tie = Polygon([(46.7, 24.7), (46.8, 24.8), (46.8, 24.7), (46.7, 24.8), (46.7, 24.7)])
    with pytest.raises(GeometryError) as caught:
        clip_area(bow_tie, BOUNDARY, PROJECTION)
    assert caught.value.reason is GeoReason.SELF_INTERSECTING


def test_an_empty_area_is_refused_as_empty():
    with pytest.raises(GeometryError) as caught:
        clip_area(Polygon(), BOUNDARY, PROJECTION)
    assert caught.value.reason is GeoReason.EMPTY


@pytest.mark.parametrize("geometry", [Point(46.7, 24.7), LineString([(46.7, 24.7), (46.8, 24.8)])])
def test_a_point_or_a_line_is_not_an_area(geometry):
    with pytest.raises(ValidationError) as caught:
        clip_area(geometry, BOUNDARY, PROJECTION)
    assert caught.value.code is Refusal.NOT_AN_AREA


@settings(max_examples=60, deadline=None)
@given(
    st.floats(46.0, 47.4), st.floats(24.0, 25.4), st.floats(0.01, 0.8), st.floats(0.01, 0.8),
)  # fmt: skip
def test_the_clipped_share_and_the_area_kept_add_up_to_the_area_given(lon, lat, width, height):
    area = shapely.box(lon, lat, lon + width, lat + height)
    if PROJECTION.to_metric(shapely.intersection(area, BOUNDARY)).area < 1_000:
        with pytest.raises(ValidationError) as caught:
            clip_area(area, BOUNDARY, PROJECTION)
        assert caught.value.code is Refusal.OUTSIDE_MUNICIPALITY
        return
    clipped = clip_area(area, BOUNDARY, PROJECTION)
    given_m2 = PROJECTION.to_metric(area).area
    assert BOUNDARY.buffer(1e-9).covers(clipped.geometry)
    assert clipped.area_m2 + clipped.clipped_share * given_m2 == pytest.approx(given_m2, rel=1e-3)


def test_an_expiry_in_the_past_is_refused():
    with pytest.raises(ValidationError) as caught:
        check_expiry(NOW - timedelta(minutes=1), NOW)
    assert (caught.value.code, caught.value.field) == (Refusal.EXPIRY_IN_PAST, "expires_at")


@pytest.mark.parametrize(
    ("delta", "code"),
    [(timedelta(minutes=2), Refusal.EXPIRY_TOO_SOON), (timedelta(days=8), Refusal.EXPIRY_TOO_FAR)],
)
def test_an_expiry_too_soon_or_too_far_is_refused(delta, code):
    with pytest.raises(ValidationError) as caught:
        check_expiry(NOW + delta, NOW)
    assert caught.value.code is code


def test_an_expiry_without_a_time_zone_is_refused():
    with pytest.raises(ValidationError) as caught:
        check_expiry(datetime(2026, 11, 27, 18, 0), NOW)
    assert caught.value.code is Refusal.BAD_VALUE


def test_texts_are_trimmed_and_invisible_ones_count_as_missing():
    assert clean_text("headline_ar", "  سيول  ", 160) == "سيول"
    with pytest.raises(ValidationError) as caught:
        clean_text("headline_ar", " \u200f ", 160)
    assert (caught.value.code, caught.value.field) == (Refusal.MISSING_FIELD, "headline_ar")
    with pytest.raises(ValidationError) as caught:
        clean_text("headline_en", "x" * 161, 160)
    assert caught.value.code is Refusal.TEXT_TOO_LONG


def test_a_long_name_is_cut_under_fifty_characters_for_cap():
    assert short_name("أمانة منطقة الرياض") == "أمانة منطقة الرياض"
    cut = short_name("Khurais Road underpasses between Exit 28 and the Eastern Ring Road")
    assert len(cut) < 50
    assert cut.endswith("…")


@pytest.mark.parametrize("slug", ["Khurais-Underpasses", "wadi-hanifah", "a1"])
def test_playbook_slugs_are_lower_case_letters_digits_and_dashes(slug):
    assert check_slug(slug) == slug.lower()


@pytest.mark.parametrize("slug", ["", "-x", "wadi hanifah", "وادي", "x" * 65])
def test_other_slugs_are_refused(slug):
    with pytest.raises(ValidationError):
        check_slug(slug)
