"""Files staff upload (GeoJSON, KML, GPX) → one valid geometry, or a typed error.

A file is read only when it is small (:data:`MAX_FILE_BYTES`); XML is parsed with ``defusedxml`` and any
document type declaration is refused, so no entity can expand or reach outside the file. Which format a
file is comes from its name, else from its first bytes. KML placemarks (points, lines, polygons, also inside
a ``MultiGeometry``) and GPX tracks and routes (else waypoints) become one geometry as several GeoJSON
features do, then pass :func:`geo.parse.validate` like any other input.

>>> points = b'<trkpt lat="24.70" lon="46.67"/><trkpt lat="24.71" lon="46.68"/>'
>>> gpx = b"<gpx><trk><trkseg>" + points + b"</trkseg></trk></gpx>"
>>> geometry_from_file("walk.gpx", gpx).wkt
'LINESTRING (46.67 24.7, 46.68 24.71)'
"""

from __future__ import annotations

from enum import StrEnum
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoError, GeometryError, Reason
from geo.geojson import combine, read_features
from geo.parse import Limits, validate

MAX_FILE_BYTES = 1024 * 1024
DEFAULT_LIMITS = Limits()
SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".gpx": "gpx"}


class FileProblem(StrEnum):
    """Why a file was refused before its geometry could be read."""

    TOO_BIG = "file_too_big"
    UNREADABLE = "file_unreadable"
    UNSUPPORTED = "file_unsupported"


class FileError(GeoError):
    def __init__(self, problem: FileProblem, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)


def file_format(name: str | None, head: bytes) -> str:
    """'geojson', 'kml' or 'gpx', from the file name, else from the content; FileError otherwise."""
    lowered = (name or "").lower()
    for suffix, kind in SUFFIXES.items():
        if lowered.endswith(suffix):
            return kind
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512]
    if start.startswith(b"{"):
        return "geojson"
    if start.startswith(b"<"):
        if b"<kml" in start:
            return "kml"
        if b"<gpx" in start:
            return "gpx"
    raise FileError(FileProblem.UNSUPPORTED, name or "-")


def geometry_from_file(
    name: str | None,
    data: bytes,
    *,
    boundary: BaseGeometry | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_bytes: int = MAX_FILE_BYTES,
) -> BaseGeometry:
    """The validated geometry a GeoJSON, KML or GPX file describes."""
    if len(data) > max_bytes:
        raise FileError(FileProblem.TOO_BIG, f"{len(data)} > {max_bytes} bytes")
    kind = file_format(name, data)
    if kind == "geojson":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FileError(FileProblem.UNREADABLE, str(exc)) from None
        geom = combine([g for g, _ in read_features(text)])
    else:
        root = _xml(data)
        geom = combine(_kml_shapes(root) if kind == "kml" else _gpx_shapes(root))
    return validate(geom, boundary=boundary, limits=limits)


def _xml(data: bytes) -> Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, defusedxml.DefusedXmlException, ValueError) as exc:
        raise FileError(FileProblem.UNREADABLE, str(exc)) from None


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element.iter() if _local(child) == name]


def _kml_shapes(root: Element) -> list[BaseGeometry]:
    shapes: list[BaseGeometry] = []
    for element in root.iter():
        kind = _local(element)
        if kind == "Point":
            shapes.extend(Point(xy) for xy in _kml_coordinates(element)[:1])
        elif kind == "LineString":
            shapes.append(_line(_kml_coordinates(element)))
        elif kind == "Polygon":
            outer = [_kml_coordinates(b) for b in _children(element, "outerBoundaryIs")]
            inner = [_kml_coordinates(b) for b in _children(element, "innerBoundaryIs")]
            if not outer or len(outer[0]) < 4:
                raise GeometryError(Reason.ZERO_LENGTH, "a KML polygon needs a ring of three corners")
            shapes.append(Polygon(outer[0], [ring for ring in inner if len(ring) >= 4]))
    if not shapes:
        raise GeometryError(Reason.EMPTY, "no Point, LineString or Polygon in the KML")
    return shapes


def _kml_coordinates(element: Element) -> list[tuple[float, float]]:
    text = " ".join(c.text or "" for c in _children(element, "coordinates"))
    out = []
    for token in text.split():
        parts = token.split(",")
        try:
            out.append((float(parts[0]), float(parts[1])))
        except (IndexError, ValueError):
            raise FileError(FileProblem.UNREADABLE, f"KML coordinates {token[:40]!r}") from None
    return out


def _gpx_shapes(root: Element) -> list[BaseGeometry]:
    lines: list[BaseGeometry] = [_line(_gpx_points(seg, "trkpt")) for seg in _children(root, "trkseg")]
    lines += [_line(_gpx_points(rte, "rtept")) for rte in _children(root, "rte")]
    if lines:
        return lines
    points: list[BaseGeometry] = [Point(xy) for xy in _gpx_points(root, "wpt")]
    if not points:
        raise GeometryError(Reason.EMPTY, "no track, route or waypoint in the GPX")
    return points


def _gpx_points(element: Element, name: str) -> list[tuple[float, float]]:
    out = []
    for point in _children(element, name):
        try:
            out.append((float(point.attrib["lon"]), float(point.attrib["lat"])))
        except (KeyError, ValueError):
            raise FileError(FileProblem.UNREADABLE, f"a GPX {name} without lat and lon") from None
    return out


def _line(coords: list[tuple[float, float]]) -> LineString:
    if len(coords) < 2:
        raise GeometryError(Reason.ZERO_LENGTH if coords else Reason.EMPTY, "a line needs two positions")
    return LineString(coords)
