"""Plain outlines of areas for formats that take only simple polygons with few vertices (CAP ``<polygon>``).

An alert area drawn on a map, or cut out of a detailed municipality boundary, can have thousands of
vertices and holes; a CAP consumer (a phone's alert service, a broadcaster's system) wants a handful of
outer rings. :func:`outlines_within` gives them, in WGS84 (lon, lat), such that

* every part of the area is covered (the outline is an outer approximation: a simplified ring that cut
  corners inward would leave a flooded road outside the alert), and
* every outline stays inside ``within`` (the municipality) by at least ``margin_m``, so that rounding the
  coordinates for the wire cannot push a vertex across the boundary.

A CAP consumer joins the pairs with straight lines in latitude and longitude, so the work is done in a
frame that keeps those lines straight: degrees scaled to metres at the area's latitude (an affine map,
within 0.5 % of true metres across a city). A map projection would bend them: a boundary edge straight in
UTM bows about 20 m off the same edge straight in degrees over 60 km. In that frame, the area is grown by
the tolerance and then Douglas-Peucker simplified by it (so it still covers the area), then cut by
``within`` shrunk by the margin. Where the boundary itself is what has the vertices, it is shrunk by 1.5
tolerances more and simplified by one, inward, before the cut: the outline then leaves out a strip at most
2.5 tolerances wide along the boundary. The tolerance doubles from 5 m until every ring has at most
``max_vertices``. Holes are filled (a CAP ring has none), the area's own and those of a municipality with
an enclave alike.

>>> import shapely
>>> teeth = [(46.6 + i / 1000, 24.7 + (i % 2) / 20000) for i in range(300)]
>>> wavy = shapely.Polygon([*teeth, (46.9, 24.6), (46.6, 24.6)])
>>> town = shapely.box(46.5, 24.5, 47.0, 25.0)
>>> [len(ring.exterior.coords) <= 40 for ring in outlines_within(wavy, town, max_vertices=40)]
[True]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from shapely.affinity import affine_transform
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

DEFAULT_MAX_VERTICES = 100  # what CAP consumers commonly accept per polygon (phone alert systems: 100)
_FIRST_TOLERANCE_M = 5.0
_M_PER_DEGREE = 111_195.0  # a degree of a great circle on the mean Earth (radius 6,371 km)
_MAX_ROUNDS = 16  # 5 m doubled 16 times is 330 km: far past any area's size


def outlines_within(
    area: BaseGeometry,
    within: BaseGeometry | None = None,
    *,
    max_vertices: int = DEFAULT_MAX_VERTICES,
    margin_m: float = 2.0,
    min_width_m: float = 25.0,
) -> list[Polygon]:
    """Outer rings (no holes) covering ``area`` inside ``within``, each with at most ``max_vertices``.

    A point or a line becomes an area ``min_width_m`` wide around it. Parts of ``area`` outside
    ``within`` are cut off; an area wholly outside gives no outline at all. ``within`` None: no boundary.
    """
    if max_vertices < 4:
        raise ValueError(f"a closed ring needs at least 4 vertices, not {max_vertices}")
    if area.is_empty:
        return []
    frame = _Frame.at(area if within is None else within)
    shape = frame.to_metres(area)
    if shape.geom_type not in ("Polygon", "MultiPolygon"):
        shape = shape.buffer(min_width_m / 2.0)
    shape = _outer(shape)
    inner = None if within is None else frame.to_metres(within).buffer(-margin_m)
    if inner is not None and inner.is_empty:
        return []
    outlines = _parts(shape if inner is None else shape.intersection(inner))
    tolerance = _FIRST_TOLERANCE_M
    for _ in range(_MAX_ROUNDS):
        if _fits(outlines, max_vertices):
            break
        grown = _outer(shape.buffer(tolerance * 1.5, quad_segs=2).simplify(tolerance))
        outlines = _parts(grown if inner is None else grown.intersection(inner))
        if inner is not None and not _fits(outlines, max_vertices):
            # the boundary itself is what has the vertices: shrunk by 1.5 tolerances and simplified by
            # one, it never reaches past ``inner``
            fence = inner.buffer(-tolerance * 1.5, quad_segs=2).simplify(tolerance)
            outlines = _parts(grown.intersection(fence))
        tolerance *= 2
    return [frame.to_degrees(p) for p in outlines]


@dataclass(frozen=True, slots=True)
class _Frame:
    """Degrees (lon, lat) to metres east and north of an origin, by a scale alone: lines stay straight."""

    lon0: float
    lat0: float
    east: float  # metres per degree of longitude at lat0
    north: float

    @classmethod
    def at(cls, shape: BaseGeometry) -> _Frame:
        minx, miny, maxx, maxy = shape.bounds
        lat0 = (miny + maxy) / 2.0
        return cls((minx + maxx) / 2.0, lat0, _M_PER_DEGREE * math.cos(math.radians(lat0)), _M_PER_DEGREE)

    def to_metres(self, shape: BaseGeometry) -> BaseGeometry:
        return affine_transform(
            shape, [self.east, 0, 0, self.north, -self.lon0 * self.east, -self.lat0 * self.north]
        )

    def to_degrees(self, shape: Polygon) -> Polygon:
        return affine_transform(shape, [1 / self.east, 0, 0, 1 / self.north, self.lon0, self.lat0])


def _fits(outlines: list[Polygon], max_vertices: int) -> bool:
    return all(len(p.exterior.coords) <= max_vertices for p in outlines)


def _outer(shape: BaseGeometry) -> BaseGeometry:
    """The polygonal parts of ``shape`` with their holes filled (a ring in CAP has no holes)."""
    parts = [Polygon(p.exterior) for p in _parts(shapely.make_valid(shape))]
    return shapely.union_all(parts) if parts else Polygon()


def _parts(shape: BaseGeometry) -> list[Polygon]:
    if isinstance(shape, Polygon):
        return [] if shape.is_empty else [Polygon(shape.exterior)]
    if isinstance(shape, MultiPolygon):
        return [Polygon(p.exterior) for p in shape.geoms if not p.is_empty]
    if hasattr(shape, "geoms"):  # a collection from an intersection: keep its areas, drop slivers of lines
        return [p for g in shape.geoms for p in _parts(g)]
    return []
