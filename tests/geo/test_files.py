"""Uploaded files → geometry: GeoJSON, KML and GPX read into the shape they describe; anything too big,
unreadable, hostile (XML entities, external references) or of another kind refused with a typed error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.errors import GeometryError, Reason
from geo.files import MAX_FILE_BYTES, FileError, FileProblem, file_format, geometry_from_file
from geo.parse import Limits

LINE = [(46.6800, 24.7000), (46.6750, 24.7100), (46.6700, 24.7150)]


def kml(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{body}</Document></kml>'
    ).encode()


def coords(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y},0" for x, y in points)


def gpx(body: str) -> bytes:
    return (
        f'<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">{body}</gpx>'.encode()
    )


def test_a_geojson_file_is_read_like_pasted_geojson() -> None:
    feature = {
        "type": "Feature",
        "properties": {"name": "طريق"},
        "geometry": {"type": "LineString", "coordinates": LINE},
    }
    data = ("\ufeff" + json.dumps({"type": "FeatureCollection", "features": [feature]})).encode()
    assert geometry_from_file("closure.geojson", data).equals(LineString(LINE))
    assert geometry_from_file("closure.json", data).equals(LineString(LINE))


def test_kml_placemarks_points_lines_and_polygons() -> None:
    line = kml(
        f"<Placemark><name>x</name><LineString><coordinates>{coords(LINE)}</coordinates></LineString></Placemark>"
    )
    assert geometry_from_file("road.kml", line).equals(LineString(LINE))
    point = kml("<Placemark><Point><coordinates>46.68,24.70,0</coordinates></Point></Placemark>")
    assert geometry_from_file("pin.kml", point).equals(Point(46.68, 24.70))
    ring = [*LINE, (46.6850, 24.7050), LINE[0]]
    polygon = kml(
        "<Placemark><Polygon><outerBoundaryIs><LinearRing>"
        f"<coordinates>{coords(ring)}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
    )
    assert geometry_from_file("area.kml", polygon).equals(Polygon(ring))


def test_kml_multigeometry_of_lines_is_one_multiline() -> None:
    first, second = LINE[:2], LINE[1:]
    body = (
        "<Placemark><MultiGeometry>"
        f"<LineString><coordinates>{coords(first)}</coordinates></LineString>"
        f"<LineString><coordinates>{coords(second)}</coordinates></LineString>"
        "</MultiGeometry></Placemark>"
    )
    geometry = geometry_from_file("roads.kml", kml(body))
    assert geometry.geom_type == "MultiLineString"
    assert [list(g.coords) for g in geometry.geoms] == [first, second]


def test_gpx_tracks_and_routes_are_lines_waypoints_only_without_them() -> None:
    points = "".join(f'<trkpt lat="{y}" lon="{x}"><ele>600</ele></trkpt>' for x, y in LINE)
    track = gpx(f'<wpt lat="24.7" lon="46.6"/><trk><name>t</name><trkseg>{points}</trkseg></trk>')
    assert geometry_from_file("walk.gpx", track).equals(LineString(LINE))
    route = gpx("<rte>" + "".join(f'<rtept lat="{y}" lon="{x}"/>' for x, y in LINE) + "</rte>")
    assert geometry_from_file("route.gpx", route).equals(LineString(LINE))
    assert geometry_from_file("spot.gpx", gpx('<wpt lat="24.7" lon="46.68"/>')).equals(Point(46.68, 24.7))


def test_the_format_comes_from_the_name_else_from_the_content() -> None:
    assert file_format("ROAD.KML", b"") == "kml"
    assert file_format(None, b'\xef\xbb\xbf  {"type": "Point"}') == "geojson"
    assert file_format("upload.bin", b"<?xml version='1.0'?><kml>") == "kml"
    assert file_format("track", b"<gpx>") == "gpx"
    with pytest.raises(FileError) as refused:
        file_format("notes.txt", b"hello")
    assert refused.value.problem is FileProblem.UNSUPPORTED


def test_a_file_over_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(FileError) as refused:
        geometry_from_file("big.geojson", b" " * (MAX_FILE_BYTES + 1))
    assert refused.value.problem is FileProblem.TOO_BIG


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.kml", b"<kml><Placemark><Point><coordinates>46,24"),
        ("latin1.geojson", '{"type": "Point", "coordinates": [46.6, 24.7], "x": "é"}'.encode("latin-1")),
        ("bad.kml", kml("<Placemark><Point><coordinates>east,north</coordinates></Point></Placemark>")),
        (
            "bad.gpx",
            gpx('<trk><trkseg><trkpt lat="north" lon="46"/><trkpt lat="24" lon="46"/></trkseg></trk>'),
        ),
    ],
)
def test_unreadable_files_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(FileError) as refused:
        geometry_from_file(name, data)
    assert refused.value.problem is FileProblem.UNREADABLE


@pytest.mark.parametrize(
    "doctype",
    [
        # a "billion laughs", in small
        '<!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        '<!DOCTYPE kml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',  # an external entity
        '<!DOCTYPE kml SYSTEM "http://example.invalid/kml.dtd">',  # an external DTD
    ],
)
def test_xml_with_a_document_type_declaration_is_refused_unexpanded(doctype: str) -> None:
    data = f'<?xml version="1.0"?>{doctype}<kml><Placemark><name>&b;</name></Placemark></kml>'.encode()
    with pytest.raises(FileError) as refused:
        geometry_from_file("evil.kml", data)
    assert refused.value.problem is FileProblem.UNREADABLE


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.kml", kml("<Placemark><name>nothing</name></Placemark>"), Reason.EMPTY),
        ("empty.gpx", gpx("<metadata/>"), Reason.EMPTY),
        ("one.gpx", gpx('<trk><trkseg><trkpt lat="24.7" lon="46.6"/></trkseg></trk>'), Reason.ZERO_LENGTH),
        (
            "far.kml",
            kml("<Placemark><Point><coordinates>46.6,95</coordinates></Point></Placemark>"),
            Reason.LAT_OUT_OF_RANGE,
        ),
        ("bad.geojson", b'{"type": "LineString", "coordinates": [[46.6, 24.7]', Reason.NOT_JSON),
    ],
)
def test_geometry_problems_in_files_carry_the_geo_reason(name: str, data: bytes, reason: Reason) -> None:
    with pytest.raises(GeometryError) as refused:
        geometry_from_file(name, data)
    assert refused.value.reason is reason


def test_files_obey_the_same_size_limits_as_typed_shapes() -> None:
    far = [(46.0, 24.0), (47.5, 25.5)]
    with pytest.raises(GeometryError) as refused:
        geometry_from_file(
            "long.kml",
            kml(f"<Placemark><LineString><coordinates>{coords(far)}</coordinates></LineString></Placemark>"),
        )
    assert refused.value.reason is Reason.TOO_LONG
    many = [(46.6 + i * 1e-5, 24.7) for i in range(50)]
    with pytest.raises(GeometryError) as refused:
        geometry_from_file(
            "many.gpx",
            gpx("<rte>" + "".join(f'<rtept lat="{y}" lon="{x}"/>' for x, y in many) + "</rte>"),
            limits=Limits(max_vertices=10),
        )
    assert refused.value.reason is Reason.TOO_MANY_VERTICES


lon = st.floats(46.65, 46.7, allow_nan=False)  # within ~7 km: any 12-point zigzag stays under 100 km
lat = st.floats(24.65, 24.7, allow_nan=False)
tracks = st.lists(st.tuples(lon, lat), min_size=2, max_size=12, unique=True)


def _read(name: str, data: bytes) -> list[tuple[float, float]] | Reason:
    try:
        return list(geometry_from_file(name, data).coords)
    except GeometryError as exc:  # points on top of each other make no line
        return exc.reason


@given(tracks)
def test_a_line_written_as_kml_or_gpx_reads_back_as_the_same_line(points: list[tuple[float, float]]) -> None:
    as_kml = kml(
        f"<Placemark><LineString><coordinates>{coords(points)}</coordinates></LineString></Placemark>"
    )
    as_gpx = gpx(
        "<trk><trkseg>" + "".join(f'<trkpt lat="{y!r}" lon="{x!r}"/>' for x, y in points) + "</trkseg></trk>"
    )
    from_kml, from_gpx = _read("x.kml", as_kml), _read("x.gpx", as_gpx)
    assert from_kml == from_gpx
    assert from_kml in ([(x, y) for x, y in points], Reason.ZERO_LENGTH)
