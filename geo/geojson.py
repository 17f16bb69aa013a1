"""GeoJSON (RFC 7946) text → shapely geometry and properties, unvalidated; errors are :class:`GeometryError`.

The readers here only build shapes: every structural fault (not JSON, wrong type, a position that is not
two or three finite numbers, a ring too short) becomes a :class:`~geo.errors.GeometryError` with a reason
code, and nothing else escapes. Whether a shape is fit to describe a closure is :func:`geo.parse.validate`'s
decision, made after this.

>>> geom, properties = read_features('{"type": "Feature", "geometry": {"type": "Point", '
...                                  '"coordinates": [46.6753, 24.7136]}, "properties": {"ref": "a"}}')[0]
>>> geom, properties
(<POINT (46.675 24.714)>, {'ref': 'a'})
>>> combine([geom, geom]).geom_type
'MultiPoint'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import shapely
from shapely.errors import ShapelyError
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from geo.errors import GeometryError, Reason

__all__ = ["combine", "many_from_geojson", "read_features"]


GEOJSON_CHUNK = 500  # geometries per vectorised call: ~10 ms of GEOS each (see many_from_geojson)


def many_from_geojson(texts: Sequence[str], *, chunk: int = GEOJSON_CHUNK) -> list[BaseGeometry]:
    """``shapely.from_geojson`` over stored, valid geometries, ``chunk`` at a time: vectorised, yet no call
    long. ``from_geojson`` keeps the GIL for its whole array — 10,000 closures' geometries held every other
    thread, the event loop's among them, for ~220 ms on the 2-core machine — while 500 at a time cost ~10 ms
    a call and the same in all."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    out: list[BaseGeometry] = []
    for start in range(0, len(texts), chunk):
        out.extend(shapely.from_geojson(list(texts[start : start + chunk])))
    return out


def read_features(text: str) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Geometry (unvalidated) and properties of each feature; a bare geometry is one feature."""
    try:
        document = json.loads(text.lstrip("\ufeff \t\r\n"), parse_int=_parse_int)
    except RecursionError:
        raise GeometryError(Reason.NOT_JSON, "nested too deeply") from None
    except ValueError as exc:
        raise GeometryError(Reason.NOT_JSON, str(exc)) from None
    kind = document.get("type") if isinstance(document, dict) else None
    if kind == "FeatureCollection":
        features = _list(document.get("features"), "features")
        if not features:
            raise GeometryError(Reason.EMPTY, "a FeatureCollection without features")
        return [_feature(feature) for feature in features]
    if kind == "Feature":
        return [_feature(document)]
    return [(_geometry(document), {})]


def _parse_int(digits: str) -> int | float:
    """Ints as ints, except absurdly long ones, which become (possibly infinite) floats cheaply."""
    return int(digits) if len(digits) <= 300 else float(digits)


def _feature(value: Any) -> tuple[BaseGeometry, dict[str, Any]]:
    if not isinstance(value, dict) or value.get("type") != "Feature":
        raise GeometryError(Reason.UNSUPPORTED_TYPE, "a member of features is not a Feature")
    if value.get("geometry") is None:
        raise GeometryError(Reason.UNSUPPORTED_TYPE, "a Feature without geometry")
    properties = value.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise GeometryError(Reason.UNSUPPORTED_TYPE, "properties must be an object")
    return _geometry(value["geometry"]), properties


def _geometry(value: Any) -> BaseGeometry:
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in _BUILDERS:
        raise GeometryError(Reason.UNSUPPORTED_TYPE, f"GeoJSON type {kind!r}")
    coordinates = value.get("coordinates")
    if coordinates is None or coordinates == []:
        raise GeometryError(Reason.EMPTY, f"a {kind} without coordinates")
    try:
        return _BUILDERS[kind](coordinates)
    except GeometryError:
        raise
    except (ValueError, TypeError, ShapelyError) as exc:
        raise GeometryError(Reason.UNSUPPORTED_TYPE, str(exc)) from None


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise GeometryError(Reason.UNSUPPORTED_TYPE, f"{what} must be a list")
    return value


def _position(value: Any) -> tuple[float, float]:
    """(x, y) of a GeoJSON position; a third (Z) or further number is dropped."""
    position = _list(value, "a position")
    if len(position) < 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position):
        raise GeometryError(Reason.UNSUPPORTED_TYPE, "a position must be two or three numbers")
    try:
        x, y = float(position[0]), float(position[1])
    except OverflowError:  # an int of hundreds of digits
        x = y = math.inf
    if not (math.isfinite(x) and math.isfinite(y)):  # json.loads accepts NaN and Infinity, and 1e400 → inf
        raise GeometryError(Reason.NOT_FINITE, "a coordinate is NaN or infinite")
    return x, y


def _line(value: Any) -> LineString:
    points = [_position(p) for p in _list(value, "a line")]
    if len(points) < 2:
        raise GeometryError(Reason.ZERO_LENGTH if points else Reason.EMPTY, "a line needs two positions")
    return LineString(points)


def _ring(value: Any) -> list[tuple[float, float]]:
    points = [_position(p) for p in _list(value, "a ring")]
    if points and points[0] != points[-1]:
        points.append(points[0])  # GeoJSON asks for closed rings; closing one for the author is harmless
    if len(points) < 4:
        raise GeometryError(Reason.ZERO_LENGTH, "a ring needs three distinct corners")
    return points


def _polygon(value: Any) -> Polygon:
    rings = [_ring(ring) for ring in _list(value, "a polygon")]
    if not rings:
        raise GeometryError(Reason.EMPTY, "a polygon without rings")
    return Polygon(rings[0], rings[1:])


def _multi(
    build: Callable[[Any], BaseGeometry], cls: Callable[[list[Any]], BaseGeometry]
) -> Callable[[Any], BaseGeometry]:
    return lambda value: cls([build(member) for member in _list(value, "members")])


_BUILDERS: dict[str, Callable[[Any], BaseGeometry]] = {
    "Point": lambda value: Point(_position(value)),
    "MultiPoint": _multi(lambda value: Point(_position(value)), MultiPoint),
    "LineString": _line,
    "MultiLineString": _multi(_line, MultiLineString),
    "Polygon": _polygon,
    "MultiPolygon": _multi(_polygon, MultiPolygon),
}
# the parts of one dimension -> their Multi* geometry
_FAMILIES: dict[str, Callable[[list[Any]], BaseGeometry]] = {
    "Point": MultiPoint,
    "LineString": MultiLineString,
    "Polygon": MultiPolygon,
}


def combine(geoms: list[BaseGeometry]) -> BaseGeometry:
    """One geometry for several features: Multi* when they share a dimension, else a collection."""
    if len(geoms) == 1:
        return geoms[0]
    parts = [part for geom in geoms for part in shapely.get_parts(geom)]
    kinds = {part.geom_type for part in parts}
    if len(kinds) == 1:
        return _FAMILIES[kinds.pop()](parts)
    return GeometryCollection(geoms)
