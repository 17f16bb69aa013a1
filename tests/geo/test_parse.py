"""geo.parse: every input format a staff member may send, and every reason a geometry is refused."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LinearRing, LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from geo.errors import GeometryError, Reason
from geo.parse import (
    Limits,
    looks_like_geometry,
    normalise_digits,
    parse_coordinates,
    parse_geojson,
    parse_geojson_features,
    parse_geometry,
    parse_map_link,
    parse_wkt,
    validate,
)

RIYADH = box(46.4, 24.4, 47.0, 25.1)  # a rough municipal boundary, WGS84 (lon, lat)
BANGKOK = box(100.4, 13.6, 100.7, 13.9)  # a city whose longitude is not a possible latitude
KINGDOM_CENTRE = Point(46.6753, 24.7136)
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
RLM = "\u200f"


def reason_of(text: str, **kwargs: object) -> Reason:
    with pytest.raises(GeometryError) as caught:
        parse_geometry(text, **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


def assert_same_point(got: BaseGeometry | None, want: Point = KINGDOM_CENTRE, tol: float = 1e-9) -> None:
    assert isinstance(got, Point)
    assert got.x == pytest.approx(want.x, abs=tol)
    assert got.y == pytest.approx(want.y, abs=tol)


def square(lon: float, lat: float, side: float) -> str:
    return box(lon, lat, lon + side, lat + side).wkt


# --- one input per reason code -------------------------------------------------------------------

REASON_EXAMPLES: dict[Reason, str] = {
    Reason.NOT_JSON: '{"type": "Point", "coordinates": [46.6, 24.7]',
    Reason.NOT_WKT: "LINESTRING (46.6 24.7, 46.7",
    Reason.RING_NOT_CLOSED: "POLYGON ((46.6 24.7, 46.7 24.7, 46.7 24.8))",
    Reason.UNRECOGNISED: "near the old water tower",
    Reason.UNSUPPORTED_TYPE: '{"type": "Circle", "coordinates": [46.6, 24.7], "radius": 50}',
    Reason.EMPTY: "POLYGON EMPTY",
    Reason.NOT_FINITE: '{"type": "Point", "coordinates": [NaN, 24.7]}',
    Reason.LAT_OUT_OF_RANGE: "95.5, 46.6",
    Reason.LON_OUT_OF_RANGE: "24.7, 190.5",
    Reason.PROBABLY_SWAPPED: '{"type": "Point", "coordinates": [24.7136, 46.6753]}',
    Reason.SELF_INTERSECTING: "POLYGON ((46.6 24.7, 46.7 24.8, 46.7 24.7, 46.6 24.8, 46.6 24.7))",
    Reason.ZERO_LENGTH: '{"type": "LineString", "coordinates": [[46.6, 24.7], [46.6, 24.7]]}',
    Reason.TOO_MANY_VERTICES: "MULTIPOINT (" + ", ".join(f"46.6 24.{i:05d}" for i in range(10_001)) + ")",
    Reason.TOO_LONG: "LINESTRING (46.6 24.5, 46.6 25.5)",
    Reason.TOO_BIG: square(46.4, 24.4, 0.5),
    Reason.TOO_LARGE_INPUT: " " * 1_000_001,
}


def test_every_reason_code_has_an_example() -> None:
    assert set(REASON_EXAMPLES) == set(Reason)


@pytest.mark.parametrize(("reason", "text"), REASON_EXAMPLES.items(), ids=[r.name for r in REASON_EXAMPLES])
def test_each_reason_code_is_raised_for_its_example(reason: Reason, text: str) -> None:
    assert reason_of(text, boundary=RIYADH) is reason


# --- digits and typed coordinates ----------------------------------------------------------------


def test_normalise_digits_folds_arabic_and_persian_digits_and_separators() -> None:
    assert normalise_digits("٢٤٫٧١٣٦، ۴۶٫۶۷۵۳") == "24.7136, 46.6753"


def test_normalise_digits_drops_direction_marks_and_widens_odd_spaces() -> None:
    marks = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\ufeff"
    assert normalise_digits(f"{marks}24.7\u00a046.6\u202f1{marks}") == "24.7 46.6 1"


def test_normalise_digits_drops_arabic_thousands_separator_between_digits_only() -> None:
    assert normalise_digits("١٬٢٣٤") == "1234"
    assert normalise_digits("٢٤٫٧ ٬ ٤٦٫٦") == "24.7 , 46.6"


@pytest.mark.parametrize(
    "text",
    ["24.7136, 46.6753", "24.7136 46.6753", "24.7136,46.6753", "(24.7136, 46.6753)", "  24.7136 ;46.6753 "],
)
def test_typed_pair_is_read_latitude_first(text: str) -> None:
    assert_same_point(parse_coordinates(text))


def test_arabic_indic_digits_parse_as_latitude_first() -> None:
    assert_same_point(parse_coordinates("٢٤٫٧١٣٦، ٤٦٫٦٧٥٣"))


def test_persian_digits_parse_as_latitude_first() -> None:
    assert_same_point(parse_coordinates("۲۴٫۷۱۳۶، ۴۶٫۶۷۵۳"))


def test_stray_right_to_left_marks_are_ignored() -> None:
    assert_same_point(parse_coordinates(f"{RLM}٢٤٫٧١٣٦{RLM}، {RLM}٤٦٫٦٧٥٣{RLM}"))


@pytest.mark.parametrize(
    "text",
    [
        "24.7136N 46.6753E",
        "24.7136 N, 46.6753 E",
        "N24.7136 E46.6753",
        "46.6753E 24.7136N",
        "24.7136° N 46.6753° E",
    ],
)
def test_hemisphere_letters_name_the_axis(text: str) -> None:
    assert_same_point(parse_coordinates(text))


def test_southern_and_western_hemispheres_are_negative() -> None:
    assert_same_point(parse_coordinates("33.8688S 151.2093W"), Point(-151.2093, -33.8688))


@pytest.mark.parametrize(
    "text", ["24°42'49\"N 46°40'31\"E", "24°42′49″N, 46°40′31″E", "24° 42' 49\" N 46° 40' 31\" E"]
)
def test_degrees_minutes_seconds_are_converted(text: str) -> None:
    want = Point(46 + 40 / 60 + 31 / 3600, 24 + 42 / 60 + 49 / 3600)
    assert_same_point(parse_coordinates(text), want)


def test_degrees_and_decimal_minutes_are_converted() -> None:
    assert_same_point(parse_coordinates("24°42.816'N 46°40.518'E"), Point(46 + 40.518 / 60, 24 + 42.816 / 60))


@pytest.mark.parametrize(
    "text",
    [
        "Riyadh",
        "24.7136",
        "24.7 46.6 12",
        "24.713646.6753",
        "24.7N 46.6S",
        "-24.7S 46.6E",
        "24°61'N 46°E",
        "",
    ],
)
def test_text_that_is_not_a_coordinate_pair_gives_none(text: str) -> None:
    assert parse_coordinates(text) is None


def test_typed_pair_with_impossible_latitude_is_refused() -> None:
    with pytest.raises(GeometryError) as caught:
        parse_coordinates("124.7, 46.6")
    assert caught.value.reason is Reason.LAT_OUT_OF_RANGE


def test_typed_pair_with_impossible_longitude_is_refused() -> None:
    with pytest.raises(GeometryError) as caught:
        parse_coordinates("24.7, -246.6")
    assert caught.value.reason is Reason.LON_OUT_OF_RANGE


# --- map links -----------------------------------------------------------------------------------

MAP_LINKS = {
    "google_viewport": "https://www.google.com/maps/@24.7136,46.6753,15z",
    "google_q": "https://www.google.com/maps?q=24.7136,46.6753",
    "google_ll": "https://maps.google.com/maps?ll=24.7136,46.6753&z=15",
    "google_place_pin": "https://www.google.com/maps/place/Kingdom+Centre/@24.71,46.67,17z/"
    "data=!3m1!4b1!4m6!3m5!1s0x3e2f:0x1!8m2!3d24.7136!4d46.6753!16s%2Fm%2F02",
    "google_daddr": "https://maps.google.com/?daddr=24.7136,46.6753",
    "google_search_api": "https://www.google.com/maps/search/?api=1&query=24.7136%2C46.6753",
    "google_dir_api": "https://www.google.com/maps/dir/?api=1&destination=24.7136,46.6753",
    "google_place_path": "https://www.google.com.sa/maps/place/24.7136,46.6753",
    "google_without_scheme": "google.com/maps/@24.7136,46.6753,15z",
    "apple_ll": "https://maps.apple.com/?ll=24.7136,46.6753",
    "apple_q_sll": "https://maps.apple.com/?q=Kingdom+Centre&sll=24.7136,46.6753",
    "apple_coordinate": "https://maps.apple.com/place?coordinate=24.7136,46.6753&name=Kingdom",
    "osm_marker": "https://www.openstreetmap.org/?mlat=24.7136&mlon=46.6753#map=15/24.70/46.60",
    "osm_fragment": "https://www.openstreetmap.org/#map=17/24.7136/46.6753",
    "geo_uri": "geo:24.7136,46.6753",
    "geo_uri_uncertainty": "geo:24.7136,46.6753;u=35",
    "geo_uri_android_query": "geo:0,0?q=24.7136,46.6753(Kingdom Centre)",
    "share_text_with_label": "برج المملكة\nhttps://maps.apple.com/?ll=24.7136,46.6753",
}


@pytest.mark.parametrize("link", MAP_LINKS.values(), ids=MAP_LINKS.keys())
def test_map_link_coordinates_become_a_lon_lat_point(link: str) -> None:
    assert_same_point(parse_map_link(link))
    assert_same_point(parse_geometry(link, boundary=RIYADH))


@pytest.mark.parametrize(
    "text",
    [
        "https://maps.app.goo.gl/AbCdEf123",
        "https://goo.gl/maps/AbCdEf123",
        "https://www.google.com/maps/place/Kingdom+Centre",
        "https://example.com/?ll=24.7136,46.6753",
        "geo:0,0?q=Kingdom+Centre",
        "http://[not-a-host",
        "24.7136, 46.6753",
    ],
)
def test_text_that_is_not_a_link_with_coordinates_gives_none(text: str) -> None:
    assert parse_map_link(text) is None


def test_map_link_with_impossible_latitude_is_refused() -> None:
    with pytest.raises(GeometryError) as caught:
        parse_map_link("https://www.google.com/maps/@124.7,46.6,15z")
    assert caught.value.reason is Reason.LAT_OUT_OF_RANGE


def test_map_pin_wins_over_the_viewport_centre() -> None:
    link = "https://www.google.com/maps/place/X/@24.0,46.0,12z/data=!8m2!3d24.7136!4d46.6753"
    assert_same_point(parse_map_link(link))


# --- GeoJSON -------------------------------------------------------------------------------------


def feature(geometry: Mapping[str, object] | None, **properties: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


POINT_GJ = {"type": "Point", "coordinates": [46.6753, 24.7136]}
LINE_GJ = {"type": "LineString", "coordinates": [[46.67, 24.71], [46.68, 24.72]]}


def test_link_inside_geojson_properties_does_not_hijack_the_geometry() -> None:
    text = json.dumps({**feature(POINT_GJ), "note": "was https://www.google.com/maps/@21.5433,39.1728,15z"})
    assert_same_point(parse_geometry(text, boundary=RIYADH))
    assert_same_point(parse_geometry(json.dumps(json.loads(text), indent=2), boundary=RIYADH))


def test_geojson_geometry_is_read_lon_lat() -> None:
    assert_same_point(parse_geojson(json.dumps(POINT_GJ)))


def test_geojson_feature_gives_its_geometry() -> None:
    assert parse_geojson(json.dumps(feature(LINE_GJ))).equals(LineString([(46.67, 24.71), (46.68, 24.72)]))


def test_feature_collection_of_one_feature_gives_that_geometry() -> None:
    collection = {"type": "FeatureCollection", "features": [feature(POINT_GJ)]}
    assert_same_point(parse_geojson(json.dumps(collection)))


def test_feature_collection_of_points_gives_a_multipoint() -> None:
    other = {"type": "Point", "coordinates": [46.7, 24.8]}
    collection = {"type": "FeatureCollection", "features": [feature(POINT_GJ), feature(other)]}
    assert parse_geojson(json.dumps(collection)).geom_type == "MultiPoint"


def test_feature_collection_of_mixed_features_gives_a_geometry_collection() -> None:
    collection = {"type": "FeatureCollection", "features": [feature(POINT_GJ), feature(LINE_GJ)]}
    geom = parse_geometry(json.dumps(collection))
    assert geom.geom_type == "GeometryCollection"
    assert [g.geom_type for g in geom.geoms] == ["Point", "LineString"]


def test_geojson_features_keep_their_properties_for_import() -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [feature(POINT_GJ, name="طريق الملك فهد", lanes=2), feature(LINE_GJ)],
    }
    (point, first), (line, second) = parse_geojson_features(json.dumps(collection, ensure_ascii=False))
    assert_same_point(point)
    assert first == {"name": "طريق الملك فهد", "lanes": 2}
    assert line.geom_type == "LineString"
    assert second == {}


def test_geojson_features_are_each_validated() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[46.6, 24.7], [46.7, 24.8], [46.7, 24.7], [46.6, 24.8]]]}
    collection = {"type": "FeatureCollection", "features": [feature(POINT_GJ), feature(bow_tie)]}
    with pytest.raises(GeometryError) as caught:
        parse_geojson_features(json.dumps(collection))
    assert caught.value.reason is Reason.SELF_INTERSECTING


def test_third_coordinate_is_dropped() -> None:
    geom = parse_geometry('{"type": "LineString", "coordinates": [[46.67, 24.71, 600], [46.68, 24.72, 610]]}')
    assert not geom.has_z
    assert geom.equals(LineString([(46.67, 24.71), (46.68, 24.72)]))


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Feature", "geometry": null, "properties": {}}',
        '{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [46.6, 24.7]}]}',
        '{"type": "Point", "coordinates": ["46.6", "24.7"]}',
        '{"type": "Point", "coordinates": [46.6]}',
        '{"type": "Point", "coordinates": [true, false]}',
        '{"name": "not geojson"}',
        '{"type": ["Point"], "coordinates": [46.6, 24.7]}',
    ],
)
def test_json_that_is_not_supported_geojson_is_refused(text: str) -> None:
    assert reason_of(text) is Reason.UNSUPPORTED_TYPE


def test_json_array_at_the_top_is_not_geojson() -> None:
    with pytest.raises(GeometryError) as caught:
        parse_geojson("[46.6, 24.7]")
    assert caught.value.reason is Reason.UNSUPPORTED_TYPE


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Point", "coordinates": [Infinity, 24.7]}',
        '{"type": "Point", "coordinates": [46.6, -Infinity]}',
        '{"type": "Point", "coordinates": [1e400, 24.7]}',
        '{"type": "Point", "coordinates": [1' + "0" * 400 + ", 24.7]}",
    ],
)
def test_non_finite_geojson_numbers_are_refused(text: str) -> None:
    assert reason_of(text) is Reason.NOT_FINITE


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Point", "coordinates": []}',
        '{"type": "LineString"}',
        '{"type": "FeatureCollection", "features": []}',
        '{"type": "MultiPolygon", "coordinates": [[]]}',
    ],
)
def test_geojson_without_coordinates_is_empty(text: str) -> None:
    assert reason_of(text) is Reason.EMPTY


def test_deeply_nested_json_is_refused_without_recursion_error() -> None:
    assert reason_of('{"type": "Point", "coordinates": ' + "[" * 200_000) is Reason.NOT_JSON
    assert reason_of('{"c": ' + "[" * 100_000 + "]" * 100_000 + "}") is Reason.NOT_JSON


# --- WKT -----------------------------------------------------------------------------------------


def test_wkt_is_read_in_lon_lat_order() -> None:
    assert_same_point(parse_wkt("POINT (46.6753 24.7136)"))
    assert parse_geometry("linestring(46.67 24.71, 46.68 24.72)").geom_type == "LineString"


def test_wkt_with_srid_4326_is_accepted_and_other_srids_refused() -> None:
    assert_same_point(parse_geometry("SRID=4326;POINT(46.6753 24.7136)"))
    assert reason_of("SRID=32638;POINT(669000 2734000)") is Reason.UNSUPPORTED_TYPE


def test_wkt_z_and_m_are_dropped() -> None:
    assert not parse_geometry("POINT Z (46.6753 24.7136 612)").has_z
    assert_same_point(parse_geometry("POINT M (46.6753 24.7136 3)"))


@pytest.mark.parametrize(
    "text", ["GEOMETRYCOLLECTION (POINT (46.6 24.7))", "CIRCULARSTRING (46.6 24.7, 46.7 24.8, 46.8 24.7)"]
)
def test_unsupported_wkt_types_are_refused(text: str) -> None:
    assert reason_of(text) is Reason.UNSUPPORTED_TYPE


@pytest.mark.parametrize("text", ["POINT (46.6)", "POINT (46.6 24.7) x", "POLYGON ((46.6 24.7, 46.7 24.7"])
def test_malformed_wkt_is_refused(text: str) -> None:
    assert reason_of(text) is Reason.NOT_WKT


def test_a_ring_that_does_not_close_says_so_not_geos() -> None:
    with pytest.raises(GeometryError) as caught:
        parse_geometry("POLYGON ((46.6 24.7, 46.7 24.7, 46.7 24.8, 46.6 24.8))")
    assert caught.value.reason is Reason.RING_NOT_CLOSED
    assert "LinearRing" in caught.value.detail  # GEOS's text stays in the detail, for logs only


def test_typed_pairs_of_non_numbers_are_read_so_their_fault_can_be_named() -> None:
    assert reason_of("NaN, NaN") is Reason.NOT_FINITE
    assert reason_of("1e999, 46.6753") is Reason.NOT_FINITE
    assert reason_of("1e2, 46.6753") is Reason.LAT_OUT_OF_RANGE


def test_a_swapped_point_names_the_point_meant() -> None:
    riyadh = shapely.box(46.4, 24.4, 47.0, 25.0)
    with pytest.raises(GeometryError) as caught:
        parse_geometry("46.6753, 24.7136", boundary=riyadh)
    assert caught.value.reason is Reason.PROBABLY_SWAPPED
    assert caught.value.meant == (24.7136, 46.6753)


@pytest.mark.parametrize(
    ("text", "meant"),
    [("24.7, 46.6", True), ('{"type": "Point"}', True), ("POLYGON ((", True), ("maps.app.goo.gl/abc", True),
     ("https://example.org/x", True), ("NaN, NaN", True), ("-inf", True), ("geo:24.7,46.6", True),
     ("حي العليا", False), ("King Fahd Road", False), ("Exit 5", False), ("شارع ١٥", False)],
)  # fmt: skip
def test_what_looks_like_a_location_is_told_from_a_place_name(text: str, meant: bool) -> None:
    assert looks_like_geometry(text) is meant


# --- validation ----------------------------------------------------------------------------------


def test_lat_lon_swapped_in_geojson_is_detected_with_a_boundary() -> None:
    line = '{"type": "LineString", "coordinates": [[24.71, 46.67], [24.72, 46.68]]}'
    assert reason_of(line, boundary=RIYADH) is Reason.PROBABLY_SWAPPED


def test_lon_lat_typed_instead_of_lat_lon_is_detected_with_a_boundary() -> None:
    assert reason_of("46.6753, 24.7136", boundary=RIYADH) is Reason.PROBABLY_SWAPPED


def test_swap_is_reported_before_an_out_of_range_latitude() -> None:
    swapped_bangkok = '{"type": "Point", "coordinates": [13.75, 100.5]}'
    assert reason_of(swapped_bangkok) is Reason.LAT_OUT_OF_RANGE
    assert reason_of(swapped_bangkok, boundary=BANGKOK) is Reason.PROBABLY_SWAPPED


def test_swapped_looking_geometry_passes_without_a_boundary() -> None:
    assert_same_point(parse_geometry("POINT (24.7136 46.6753)"), Point(24.7136, 46.6753))


def test_geometry_outside_the_boundary_is_not_refused_here() -> None:
    jeddah = "21.5433, 39.1728"
    assert_same_point(parse_geometry(jeddah, boundary=RIYADH), Point(39.1728, 21.5433))


def test_geometry_crossing_the_boundary_is_not_called_swapped() -> None:
    crossing = "LINESTRING (46.3 24.7, 46.5 24.7)"
    assert parse_geometry(crossing, boundary=RIYADH).geom_type == "LineString"


def test_bow_tie_polygon_is_refused() -> None:
    bow_tie = "POLYGON ((46.60 24.70, 46.62 24.72, 46.62 24.70, 46.60 24.72, 46.60 24.70))"
    assert reason_of(bow_tie) is Reason.SELF_INTERSECTING


def test_polygon_with_a_spike_is_repaired_to_one_polygon() -> None:
    spike = (
        "POLYGON ((46.60 24.70, 46.62 24.70, 46.62 24.71, 46.63 24.71, 46.62 24.71,"
        " 46.62 24.72, 46.60 24.72, 46.60 24.70))"
    )
    geom = parse_geometry(spike, boundary=RIYADH)
    assert geom.geom_type == "Polygon"
    assert geom.is_valid
    assert geom.equals(box(46.60, 24.70, 46.62, 24.72))


def test_polygon_whose_ring_touches_itself_is_repaired_to_one_polygon_with_a_hole() -> None:
    pinched = Polygon(
        [
            (46.60, 24.70),
            (46.64, 24.70),
            (46.64, 24.74),
            (46.62, 24.74),
            (46.63, 24.72),
            (46.61, 24.72),
            (46.62, 24.74),
            (46.60, 24.74),
        ]
    )
    assert not pinched.is_valid
    geom = validate(pinched)
    assert geom.geom_type == "Polygon"
    assert geom.is_valid
    assert len(geom.interiors) == 1


def test_collinear_polygon_has_zero_length() -> None:
    assert reason_of("POLYGON ((46.6 24.7, 46.7 24.7, 46.8 24.7, 46.6 24.7))") is Reason.ZERO_LENGTH


def test_line_through_one_repeated_point_has_zero_length() -> None:
    assert reason_of("LINESTRING (46.6 24.7, 46.6 24.7, 46.6 24.7)") is Reason.ZERO_LENGTH


def test_overlapping_polygons_of_a_multipolygon_are_merged() -> None:
    first, second = box(46.60, 24.70, 46.62, 24.72), box(46.61, 24.71, 46.63, 24.73)
    geom = parse_geometry(shapely.MultiPolygon([first, second]).wkt)
    assert geom.is_valid
    assert geom.area == pytest.approx(first.union(second).area)


def test_country_size_polygon_is_too_big() -> None:
    arabian_peninsula = square(35.0, 16.0, 16.0)
    assert reason_of(arabian_peninsula) is Reason.TOO_BIG


def test_whole_world_polygon_is_too_big() -> None:
    assert reason_of("POLYGON ((-180 -90, 180 -90, 180 90, -180 90, -180 -90))") is Reason.TOO_BIG


def test_district_size_polygon_is_accepted() -> None:
    assert parse_geometry(square(46.6, 24.7, 0.1), boundary=RIYADH).area == pytest.approx(0.01)


def test_line_across_the_antimeridian_is_too_long() -> None:
    assert reason_of("LINESTRING (-179.9 0, 179.9 0)") is Reason.TOO_LONG


def test_limits_are_configurable() -> None:
    line = "LINESTRING (46.60 24.70, 46.61 24.70, 46.62 24.70)"
    assert parse_geometry(line).geom_type == "LineString"
    with pytest.raises(GeometryError) as too_many:
        parse_geometry(line, limits=Limits(max_vertices=2))
    assert too_many.value.reason is Reason.TOO_MANY_VERTICES
    with pytest.raises(GeometryError) as too_long:
        parse_geometry(line, limits=Limits(max_line_m=1_000.0))
    assert too_long.value.reason is Reason.TOO_LONG


def test_oversized_input_is_refused_before_parsing() -> None:
    text = "{" + "[" * 1_000_000
    started = time.perf_counter()
    assert reason_of(text) is Reason.TOO_LARGE_INPUT
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "geom",
    [
        LinearRing([(0, 0), (1, 1), (1, 0)]),
        shapely.GeometryCollection([shapely.GeometryCollection([Point(1, 2)])]),
    ],
)
def test_validate_refuses_unsupported_shapely_types(geom: BaseGeometry) -> None:
    with pytest.raises(GeometryError) as caught:
        validate(geom)
    assert caught.value.reason is Reason.UNSUPPORTED_TYPE


# --- properties ----------------------------------------------------------------------------------

_NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-200, 200).map(lambda v: f"{v:.6f}"),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "9" * 400, "-0", "", "--1", "1.2.3"]),
)
_SEPARATORS = st.sampled_from([", ", ",", " ", "، ", ";", "", "  ", RLM])


# The nesting depth of each GeoJSON type's coordinates; WKT has the same depth in parentheses.
DEPTHS = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
NEAR_RIYADH = st.tuples(st.floats(46.60, 46.62), st.floats(24.70, 24.72))
ODD_POSITION = st.lists(
    st.one_of(_NUMBER_TEXT, st.sampled_from(['"46.6"', "true", "null", "{}"])), max_size=4
)


def _nested(draw: st.DrawFn, depth: int, position: Callable[[float, float], str], brackets: str) -> str:
    """Coordinates nested ``depth`` deep: mostly positions near Riyadh, often in a simple closed ring."""
    if depth == 0:
        return _leaf(draw, position, brackets)
    if depth > 1:  # mostly one part or ring: more rings are holes, rarely inside by chance
        count = draw(st.sampled_from([1, 1, 1, 2, 3, 0]))
        members = [_nested(draw, depth - 1, position, brackets) for _ in range(count)]
    else:
        count = draw(st.sampled_from([4, 5, 6, 3, 2, 1, 0]))
        corners = [draw(NEAR_RIYADH) for _ in range(count)]
        if draw(st.booleans()):  # corners in angular order: a simple ring, so repair and size checks run
            cx, cy = sum(x for x, _ in corners) / (count or 1), sum(y for _, y in corners) / (count or 1)
            corners.sort(key=lambda c: math.atan2(c[1] - cy, c[0] - cx))
        members = [
            position(*c) if draw(st.integers(0, 19)) else _leaf(draw, position, brackets) for c in corners
        ]
        if draw(st.booleans()) and members:
            members.append(members[0])
    return brackets[0] + ", ".join(members) + brackets[1]


def _leaf(draw: st.DrawFn, position: Callable[[float, float], str], brackets: str) -> str:
    if draw(st.integers(0, 9)):
        return position(*draw(NEAR_RIYADH))
    return "[" + ", ".join(draw(ODD_POSITION)) + "]" if brackets == "[]" else draw(_NUMBER_TEXT)


def _depth(draw: st.DrawFn, kind: str) -> int:
    return DEPTHS.get(kind, 1) if draw(st.integers(0, 4)) else draw(st.integers(0, 4))


@st.composite
def near_json(draw: st.DrawFn) -> str:
    """GeoJSON-shaped text: real and bogus types, mostly well-nested coordinates, then a small mutation."""
    kind = draw(st.sampled_from([*DEPTHS, "GeometryCollection", "Circle"]))
    body = _nested(draw, _depth(draw, kind), lambda x, y: f"[{x}, {y}]", "[]")
    geometry = f'{{"type": "{kind}", "coordinates": {body}}}'
    one = f'{{"type": "Feature", "geometry": {geometry}}}'
    other = '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [46.6, 24.7]}}'
    wrapped = draw(
        st.sampled_from(
            [
                geometry,
                f'{{"type": "Feature", "properties": {{}}, "geometry": {geometry}}}',
                f'{{"type": "FeatureCollection", "features": [{one}]}}',
                f'{{"type": "FeatureCollection", "features": [{one}, {other}]}}',
            ]
        )
    )
    return _mutate(draw, wrapped)


@st.composite
def near_wkt(draw: st.DrawFn) -> str:
    """WKT-shaped text: any keyword, mostly well-nested rings near Riyadh, then a small mutation."""
    kind = draw(st.sampled_from([*DEPTHS, "GeometryCollection", "LinearRing", "Tin"]))
    body = _nested(draw, max(_depth(draw, kind), 1), lambda x, y: f"{x} {y}", "()")
    return _mutate(draw, f"{kind.upper()}{draw(st.sampled_from(['', ' ', ' Z ']))}{body}")


@st.composite
def near_coordinates(draw: st.DrawFn) -> str:
    """Typed-pair-shaped text: digits of any script, hemisphere letters, degree marks, separators."""
    parts = draw(
        st.lists(
            st.one_of(_NUMBER_TEXT, st.sampled_from(["N", "S", "E", "W", "°", "'", '"', "(", ")", "-"])),
            max_size=8,
        )
    )
    text = draw(_SEPARATORS).join(parts)
    if draw(st.booleans()):
        text = text.translate(ARABIC_INDIC).replace(".", "٫")
    return _mutate(draw, text)


@st.composite
def near_link(draw: st.DrawFn) -> str:
    """Map-link-shaped text for every provider, with numbers that may be bad."""
    template = draw(
        st.sampled_from([*MAP_LINKS.values(), "geo:{a},{b};crs=wgs84", "https://maps.apple.com/?q={a}"])
    )
    text = template
    for real in ("24.7136", "46.6753", "24.70", "46.60"):
        text = text.replace(real, draw(_NUMBER_TEXT))
    return _mutate(draw, text.replace("{a}", draw(_NUMBER_TEXT)).replace("{b}", draw(_NUMBER_TEXT)))


def _mutate(draw: st.DrawFn, text: str) -> str:
    """Sometimes cut, insert or replace a few characters, to reach the error paths of each reader."""
    if not text or draw(st.integers(0, 3)):
        return text
    at = draw(st.integers(0, len(text)))
    cut = draw(st.integers(0, 3))
    return text[:at] + draw(st.text(max_size=3)) + text[at + cut :]


ANY_INPUT = st.one_of(st.text(), near_json(), near_wkt(), near_coordinates(), near_link())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_INPUT, boundary=st.sampled_from([None, RIYADH]))
def test_any_text_gives_a_valid_geometry_or_a_geometry_error(
    text: str, boundary: BaseGeometry | None
) -> None:
    try:
        geom = parse_geometry(text, boundary=boundary)
    except GeometryError:
        return
    assert isinstance(geom, BaseGeometry)
    assert not geom.is_empty
    assert geom.is_valid
    assert not geom.has_z
    bounds = geom.bounds
    assert -180 <= bounds[0] <= bounds[2] <= 180
    assert -90 <= bounds[1] <= bounds[3] <= 90


LATITUDES = st.floats(-90, 90, allow_nan=False)
LONGITUDES = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(lat=LATITUDES, lon=LONGITUDES, digits=st.sampled_from([None, ARABIC_INDIC, PERSIAN]))
def test_typed_lat_lon_round_trips_to_the_same_point(
    lat: float, lon: float, digits: dict[int, str] | None
) -> None:
    text = f"{lat:.10f}, {lon:.10f}"
    if digits is not None:
        text = RLM + text.translate(digits).replace(".", "٫").replace(",", "،")
    point = parse_coordinates(text)
    assert point is not None
    assert abs(point.x - lon) <= 1e-9
    assert abs(point.y - lat) <= 1e-9
