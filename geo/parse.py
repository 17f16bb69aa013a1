"""User text → valid shapely geometry in (x=lon, y=lat), or a :class:`GeometryError` with a reason code.

Staff describe a closure however their phone lets them: a shared map link, typed coordinates (often
with Arabic digits), GeoJSON from a GIS desk, WKT from a database. :func:`parse_geometry` recognises
which, reads it, and :func:`validate` decides whether the result is something a driver can be told
about: finite, on Earth, not drawn with lat and lon swapped, not self-crossing, and not so big or so
long that it is surely a mistake. Every refusal carries a :class:`~geo.errors.Reason`; no other
exception escapes, whatever the text. GeoJSON is read by :mod:`geo.geojson`; WKT, here.

>>> parse_geometry("24.7136, 46.6753")
<POINT (46.675 24.714)>
>>> parse_geometry('{"type": "LineString", "coordinates": [[46.67, 24.71], [46.68, 24.72]]}').geom_type
'LineString'
>>> try:
...     parse_geometry("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))")  # a bow-tie
... except GeometryError as exc:
...     print(exc.reason)
self_intersecting
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj.exceptions import ProjError
from shapely.errors import ShapelyError
from shapely.geometry import GeometryCollection, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geo.coords import (
    check_ranges,
    looks_like_coordinates,
    normalise_digits,
    parse_coordinates,
    read_coordinates,
)
from geo.errors import GeometryError, Reason
from geo.geojson import combine, read_features
from geo.links import SCHEMELESS_LINK as _SCHEMELESS_LINK
from geo.links import parse_map_link, read_map_link
from geo.projection import Projection

__all__ = [
    "Limits",
    "looks_like_geometry",
    "normalise_digits",
    "parse_coordinates",
    "parse_geojson",
    "parse_geojson_features",
    "parse_geometry",
    "parse_map_link",
    "parse_wkt",
    "validate",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds beyond which input is surely a mistake (or an attack) rather than a road closure."""

    max_vertices: int = 10_000
    max_line_m: float = 100_000.0  # total length of the lines, on a local metric projection
    max_area_m2: float = 500_000_000.0  # total area of the polygons: 500 km²
    max_input_chars: int = 1_000_000  # checked before any parsing


_SUPPORTED = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"})
_WKT_OTHER = frozenset(
    {"GEOMETRYCOLLECTION", "LINEARRING", "CIRCULARSTRING", "COMPOUNDCURVE", "CURVEPOLYGON"}
    | {"MULTICURVE", "MULTISURFACE", "TRIANGLE", "TIN", "POLYHEDRALSURFACE"}
)
_WKT_KEYWORDS = frozenset(kind.upper() for kind in _SUPPORTED) | _WKT_OTHER
_LOCAL_SPAN_DEG = 12.0  # widest longitude span measured on the local UTM zone (≤ ~1 % scale error)
_WORLD_EQUAL_AREA_EPSG = 6933  # WGS 84 / NSIDC EASE-Grid 2.0 Global: cylindrical equal-area
_WKT_HEAD = re.compile(r"\s*(?:SRID=(?P<srid>[0-9]+)\s*;\s*)?(?P<kind>[A-Za-z]*)")


def parse_geometry(
    text: str, *, boundary: BaseGeometry | None = None, limits: Limits = Limits()
) -> BaseGeometry:
    """Recognise the format of ``text``, read it, and :func:`validate` the result.

    Tried in order: a map link, a typed coordinate pair, GeoJSON (text starting with ``{``), WKT (text
    starting with a WKT keyword). ``boundary`` (the municipality, WGS84) only feeds the swapped-order
    heuristic; whether the geometry lies inside it is the service's decision, with its own tolerance.
    """
    if len(text) > limits.max_input_chars:
        raise GeometryError(Reason.TOO_LARGE_INPUT, f"{len(text)} characters")
    text = normalise_digits(text).strip()
    if not text:
        raise GeometryError(Reason.EMPTY, "no text")
    geom: BaseGeometry | None = read_map_link(text)
    if geom is None:
        geom = read_coordinates(text)
    if geom is None:
        if text.startswith("{"):
            geom = combine([g for g, _ in read_features(text)])
        elif _wkt_head(text)[1] in _WKT_KEYWORDS:
            geom = _read_wkt(text)
        else:
            raise GeometryError(Reason.UNRECOGNISED, text[:40])
    return validate(geom, boundary=boundary, limits=limits)


_LINK = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|geo:|www\.)", re.IGNORECASE)


def looks_like_geometry(text: str) -> bool:
    """Whether ``text`` is meant as a location or a shape (coordinates, GeoJSON, WKT, a link), never as a
    place name: such text is read and judged here, and is not sent to a geocoder.

    >>> texts = ("24.7, 46.6", '{"type":', "POLYGON ((", "maps.app.goo.gl/x", "العليا")
    >>> [looks_like_geometry(t) for t in texts]
    [True, True, True, True, False]
    """
    stripped = normalise_digits(text).strip()
    last_line = stripped[stripped.rfind("\n") + 1 :].strip()
    return (
        stripped[:1] in ("{", "[")
        or _wkt_head(stripped)[1] in _WKT_KEYWORDS
        or bool(_LINK.match(last_line))
        or _SCHEMELESS_LINK.match(last_line) is not None
        or looks_like_coordinates(stripped)
    )


def parse_geojson(text: str) -> BaseGeometry:
    """A GeoJSON geometry, Feature or FeatureCollection as one validated geometry.

    Several features become one Multi* geometry when they are all points, all lines or all polygons,
    and a GeometryCollection otherwise; a collection of one feature is that feature's geometry.
    """
    return validate(combine([geom for geom, _ in read_features(text)]))


def parse_geojson_features(
    text: str, *, limits: Limits = Limits()
) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Each feature's validated geometry with its properties, for importing closures in bulk.

    A bare geometry counts as one feature with no properties. The text is taken as it is (no digit
    folding): property values are Arabic text whose direction marks are the author's to keep.
    """
    return [(validate(geom, limits=limits), properties) for geom, properties in read_features(text)]


def parse_wkt(text: str) -> BaseGeometry:
    """A WKT (or ``SRID=4326;`` EWKT) point, line or polygon, single or multi, as a validated geometry."""
    return validate(_read_wkt(text))


def validate(
    geom: BaseGeometry, *, boundary: BaseGeometry | None = None, limits: Limits = Limits()
) -> BaseGeometry:
    """Return ``geom`` as a valid 2-D geometry fit to describe a closure, or raise :class:`GeometryError`.

    Cheap checks come first so that hostile input never reaches projection or repair: type, emptiness,
    vertex count, finiteness. Then, with a ``boundary``, the swapped-order heuristic: a geometry that
    does not touch the municipality but would if x and y were exchanged was almost certainly typed as
    (lat, lon) where (lon, lat) was expected, and saying so helps more than "out of range" or "outside".
    Then ranges, shape (zero-length lines; polygon repair while it stays one polygon), and size.
    """
    _check_kind(geom)
    parts = shapely.get_parts(shapely.get_parts(geom))
    if geom.is_empty or shapely.is_empty(parts).any():
        raise GeometryError(Reason.EMPTY, f"empty {geom.geom_type}")
    count = int(shapely.get_num_coordinates(geom))
    if count > limits.max_vertices:
        raise GeometryError(Reason.TOO_MANY_VERTICES, f"{count} > {limits.max_vertices}")
    geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise GeometryError(Reason.NOT_FINITE, "a coordinate is NaN or infinite")
    if boundary is not None and _probably_swapped(geom, boundary):
        meant = (geom.x, geom.y) if isinstance(geom, Point) else None  # (lat, lon) once swapped back
        raise GeometryError(
            Reason.PROBABLY_SWAPPED, "lies outside the boundary unless x and y are swapped", meant=meant
        )
    check_ranges(coords)
    try:
        geom = _clean(geom)
    except ShapelyError as exc:  # GEOS could not node or repair the rings
        raise GeometryError(Reason.SELF_INTERSECTING, str(exc)) from None
    _check_size(geom, limits)
    return geom


def _check_kind(geom: BaseGeometry) -> None:
    members = geom.geoms if isinstance(geom, GeometryCollection) else [geom]
    for member in members:
        if member.geom_type not in _SUPPORTED:
            raise GeometryError(Reason.UNSUPPORTED_TYPE, member.geom_type)


def _probably_swapped(geom: BaseGeometry, boundary: BaseGeometry) -> bool:
    """True when ``geom`` misses the boundary entirely but its x/y mirror image touches it.

    "Touches" is ``intersects``: a closure crossing the municipal edge is not a swap, and a swapped
    pair lands hundreds of kilometres away, far beyond any tolerance, so the loose test loses nothing.
    """
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    try:
        return not boundary.intersects(geom) and bool(boundary.intersects(swapped))
    except ShapelyError:  # an invalid boundary is the caller's bug; no heuristic then
        return False


def _clean(geom: BaseGeometry) -> BaseGeometry:
    """Refuse zero-length lines; repair polygons when repair keeps each one a single polygon.

    Overlapping or edge-sharing members of a MultiPolygon (e.g. two features drawn over each other)
    are merged into their union rather than refused: the closed area is the same.
    """
    kind = geom.geom_type
    if kind in ("LineString", "MultiLineString"):
        if (shapely.length(shapely.get_parts(geom)) == 0.0).any():
            raise GeometryError(Reason.ZERO_LENGTH, "a line whose points are all the same")
        return geom
    if isinstance(geom, Polygon):
        return _repair_polygon(geom)
    if isinstance(geom, MultiPolygon):
        polygons = [_repair_polygon(polygon) for polygon in geom.geoms]
        merged = MultiPolygon(polygons)
        return merged if merged.is_valid else shapely.union_all(polygons)
    if isinstance(geom, GeometryCollection):
        return GeometryCollection([_clean(member) for member in geom.geoms])
    return geom


def _repair_polygon(polygon: Polygon) -> Polygon:
    """``make_valid`` accepted only if it yields exactly one polygon (stray lines and points dropped).

    A ring that touches itself or doubles back in a spike repairs to one polygon plus leftovers, and
    the polygon is what the author drew. A bow-tie repairs to two polygons: which one was meant cannot
    be known, so it is refused. A polygon with no area at all (every corner on one line) is ZERO_LENGTH,
    like a line with no length: it was drawn, but collapsed.
    """
    if polygon.is_valid:
        return polygon
    repaired = shapely.get_parts(shapely.get_parts(shapely.make_valid(polygon)))
    polygons = [part for part in repaired if part.geom_type == "Polygon" and not part.is_empty]
    if not polygons:
        raise GeometryError(Reason.ZERO_LENGTH, "a polygon with no area")
    if len(polygons) > 1:
        raise GeometryError(Reason.SELF_INTERSECTING, shapely.is_valid_reason(polygon))
    return polygons[0]


def _check_size(geom: BaseGeometry, limits: Limits) -> None:
    """Total line length and total polygon area, in metres, within the limits.

    Measured on the local UTM zone, as everywhere else in ``geo``. A transverse Mercator is only
    faithful a few degrees either side of its meridian and folds over beyond 90°, so a shape wider
    than :data:`_LOCAL_SPAN_DEG` (a mistake or an attack, never a closure) is measured instead on a
    world equal-area projection: exact areas, lengths good enough to show they are far too long.
    """
    parts = shapely.get_parts(shapely.get_parts(geom))
    kinds = shapely.get_type_id(parts)
    lines, polygons = kinds == shapely.GeometryType.LINESTRING, kinds == shapely.GeometryType.POLYGON
    if not (lines.any() or polygons.any()):
        return
    with np.errstate(all="ignore"):
        try:
            minx, _, maxx, _ = geom.bounds
            local = maxx - minx <= _LOCAL_SPAN_DEG
            projection = Projection.for_geometry(geom) if local else Projection(_WORLD_EQUAL_AREA_EPSG)
            metric = shapely.get_parts(shapely.get_parts(projection.to_metric(geom)))
            length = float(shapely.length(metric[lines]).sum())
            area = float(shapely.area(metric[polygons]).sum())
        except (ProjError, ValueError):
            length = area = math.inf
    # "not <=" so that NaN or inf (a shape projected far outside its zone) counts as too large
    if lines.any() and not length <= limits.max_line_m:
        raise GeometryError(Reason.TOO_LONG, f"{length:.0f} m > {limits.max_line_m:.0f} m")
    if polygons.any() and not area <= limits.max_area_m2:
        raise GeometryError(Reason.TOO_BIG, f"{area:.0f} m² > {limits.max_area_m2:.0f} m²")


# --- WKT -------------------------------------------------------------------------------------------


def _wkt_head(text: str) -> tuple[str | None, str, int]:
    """The SRID of an EWKT prefix (if any), the first word upper-cased, and where that word starts."""
    match = _WKT_HEAD.match(text)
    if match is None:  # every part of the pattern is optional, so this is for the type checker
        return None, "", 0
    return match["srid"], match["kind"].upper(), match.start("kind")


def _read_wkt(text: str) -> BaseGeometry:
    srid, kind, start = _wkt_head(text)
    if srid is not None and srid != "4326":
        raise GeometryError(Reason.UNSUPPORTED_TYPE, f"SRID={srid}: only WGS84 (4326) coordinates")
    if kind in _WKT_OTHER:
        raise GeometryError(Reason.UNSUPPORTED_TYPE, kind)
    try:
        with np.errstate(all="ignore"):  # "1e400" overflows to inf; validate reports it as NOT_FINITE
            geom = shapely.from_wkt(text[start:], on_invalid="raise")
    except (ShapelyError, ValueError, TypeError, NotImplementedError) as exc:
        reason = Reason.RING_NOT_CLOSED if "closed linestring" in str(exc) else Reason.NOT_WKT
        raise GeometryError(reason, str(exc)) from None
    if geom.geom_type not in _SUPPORTED:
        raise GeometryError(Reason.UNSUPPORTED_TYPE, geom.geom_type)
    return geom
