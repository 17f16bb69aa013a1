"""Geodesic oracle for the geo tests: metres on the WGS84 ellipsoid, computed with pyproj.Geod only.

Nothing here projects. A segment is the geodesic between two consecutive vertices; the distance from a
point to it is minimised by a vectorised golden-section search along the segment (the distance from a
point to the points of a short geodesic is unimodal). Only topology (does a polygon cover a point, does
a geometry touch the route) is decided by shapely in lon/lat, where it cannot disagree with the ellipsoid
except within millimetres of an edge — far from any radius the tests probe.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

GEOD = Geod(ellps="WGS84")
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0
_ITERATIONS = 48  # shrinks a 50 km bracket below a micrometre


def offset(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from (lon, lat) along the geodesic leaving at ``azimuth``."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(lon2), float(lat2)


def geodesic(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (lon, lat) pairs."""
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def segment_distances(
    plon: np.ndarray, plat: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point and edge row (alon, alat, blon, blat): metres apart, metres along the edge, its length.

    Points and edges pair up row by row (1-D arrays of equal length).
    """
    plon, plat = np.ascontiguousarray(plon, dtype=float), np.ascontiguousarray(plat, dtype=float)
    alon, alat, blon, blat = (np.ascontiguousarray(edges[:, k], dtype=float) for k in range(4))
    azimuth, _, length = GEOD.inv(alon, alat, blon, blat)
    length = np.asarray(length)

    def dist(s: np.ndarray) -> np.ndarray:
        lon, lat, _ = GEOD.fwd(alon, alat, azimuth, s)
        return np.asarray(GEOD.inv(plon, plat, lon, lat)[2])

    lo, hi = np.zeros_like(length), length.copy()
    for _ in range(_ITERATIONS):
        x1, x2 = hi - _INV_PHI * (hi - lo), lo + _INV_PHI * (hi - lo)
        left = dist(x1) < dist(x2)
        hi, lo = np.where(left, x2, hi), np.where(left, lo, x1)
    where = np.stack([(lo + hi) / 2.0, np.zeros_like(length), length])
    candidates = np.stack([dist(row) for row in where])
    best = candidates.argmin(axis=0)
    rows = np.arange(len(best))
    return candidates[best, rows], where[best, rows], length


def segments(geom: BaseGeometry) -> np.ndarray:
    """Rows (alon, alat, blon, blat) of a geometry's edges; a point is one degenerate edge."""
    if isinstance(geom, Point):
        return np.array([[geom.x, geom.y, geom.x, geom.y]])
    ring = geom.exterior.coords if isinstance(geom, Polygon) else geom.coords
    coords = np.asarray(ring)[:, :2]
    return np.hstack([coords[:-1], coords[1:]])


def _azimuths_lengths(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    azimuth, _, length = GEOD.inv(edges[:, 0], edges[:, 1], edges[:, 2], edges[:, 3])
    return np.asarray(azimuth), np.asarray(length)


class GeodesicScan:
    """Brute force: geodesic metres from a query point to every geometry, by scanning all their edges."""

    def __init__(self, geoms: list[BaseGeometry]) -> None:
        self.geoms = geoms
        parts = [segments(g) for g in geoms]
        self._edges = np.vstack(parts)
        self._owner = np.repeat(np.arange(len(geoms)), [len(p) for p in parts])
        self._areas = np.array([isinstance(g, Polygon) for g in geoms])
        azimuth, length = _azimuths_lengths(self._edges)
        self._half = length / 2.0
        self._mid_lon, self._mid_lat, _ = GEOD.fwd(self._edges[:, 0], self._edges[:, 1], azimuth, self._half)

    def distances(self, point: Point, *, cutoff_m: float = math.inf) -> np.ndarray:
        """Metres from ``point`` to each geometry (0 inside a polygon).

        Exact up to ``cutoff_m``; a geometry further away gets some value above ``cutoff_m``.
        """
        plon, plat = np.full(len(self._edges), point.x), np.full(len(self._edges), point.y)
        # Triangle inequality: an edge is at least (metres to its midpoint - half its length) away.
        d = np.asarray(GEOD.inv(plon, plat, self._mid_lon, self._mid_lat)[2]) - self._half
        close = d <= cutoff_m
        if close.any():
            d[close] = segment_distances(plon[close], plat[close], self._edges[close])[0]
        out = np.full(len(self.geoms), np.inf)
        np.minimum.at(out, self._owner, d)
        out[self._areas & shapely.covers(np.asarray(self.geoms, dtype=object), point)] = 0.0
        return out


def foot_position(route: LineString, point: Point) -> float:
    """Geodesic metres along ``route`` to the point of it nearest ``point``."""
    edges = segments(route)
    d, along, length = segment_distances(np.full(len(edges), point.x), np.full(len(edges), point.y), edges)
    start = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    return float((start + along)[d.argmin()])


def _closest_pairs(route: LineString, geom: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Metres apart and metres along the route for every (vertex, edge) pair of route and geometry.

    Two polylines that do not cross are closest at a vertex of one of them, so these pairs hold the
    minimum.
    """
    edges, pts = segments(route), shapely.get_coordinates(geom)
    _, lengths = _azimuths_lengths(edges)
    starts = np.concatenate([[0.0], np.cumsum(lengths)])
    # Geometry vertices against route edges: the foot lies on the edge.
    d1, along, _ = segment_distances(
        np.repeat(pts[:, 0], len(edges)), np.repeat(pts[:, 1], len(edges)), np.tile(edges, (len(pts), 1))
    )
    p1 = np.tile(starts[:-1], len(pts)) + along
    # Route vertices against geometry edges: the foot is the route vertex itself.
    route_pts, geom_edges = shapely.get_coordinates(route), segments(geom)
    d2, _, _ = segment_distances(
        np.repeat(route_pts[:, 0], len(geom_edges)),
        np.repeat(route_pts[:, 1], len(geom_edges)),
        np.tile(geom_edges, (len(route_pts), 1)),
    )
    p2 = np.repeat(starts, len(geom_edges))
    return np.concatenate([d1, d2]), np.concatenate([p1, p2])


def route_distance(route: LineString, geom: BaseGeometry) -> float:
    """Geodesic metres between a route and a geometry: 0 where they meet."""
    if route.intersects(geom):
        return 0.0
    return float(_closest_pairs(route, geom)[0].min())


def meeting_positions(route: LineString, geom: BaseGeometry, *, tie_m: float) -> tuple[float, float]:
    """Geodesic metres along ``route`` to where it first touches ``geom``, or else passes closest to it.

    Passing closest can be ill-conditioned (a road almost parallel to the route, a point inside a bend),
    so the answer is a range: every candidate foot whose distance is within ``tie_m`` of the shortest.
    """
    contact = route.intersection(geom)
    if not contact.is_empty:
        first = min(foot_position(route, Point(c)) for c in shapely.get_coordinates(contact))
        return first, first
    d, p = _closest_pairs(route, geom)
    near = d <= d.min() + tie_m
    return float(p[near].min()), float(p[near].max())


def route_through(start: tuple[float, float], legs: list[tuple[float, float]]) -> LineString:
    """A route from ``start`` following (azimuth, metres) legs, each leg a geodesic."""
    coords = [start]
    for azimuth, metres in legs:
        coords.append(offset(*coords[-1], azimuth, metres))
    return LineString(coords)


def point_along(route: LineString, metres: float) -> tuple[tuple[float, float], float]:
    """The point ``metres`` along a lon/lat route (geodesic legs) and the route's azimuth there."""
    for a, b in zip(route.coords[:-1], route.coords[1:], strict=True):
        azimuth, _, length = GEOD.inv(a[0], a[1], b[0], b[1])
        if metres <= length:
            lon, lat, back = GEOD.fwd(a[0], a[1], azimuth, metres)
            return (float(lon), float(lat)), (float(back) + 180.0) % 360.0
        metres -= length
    raise ValueError("beyond the end of the route")


def route_length(route: LineString) -> float:
    """Geodesic length of a lon/lat polyline in metres."""
    return float(sum(geodesic(a, b) for a, b in zip(route.coords[:-1], route.coords[1:], strict=True)))


def random_closures(
    rng: np.random.Generator, anchors: list[tuple[float, float]], spread_m: float, count: int
) -> list[BaseGeometry]:
    """A seeded mix like real closures: 60 % points, 30 % lines 100 m-3 km, 10 % areas up to ~1 km².

    Each geometry starts within ``spread_m`` of a randomly chosen anchor; every vertex is placed by
    Geod.fwd, so sizes are true metres whatever the latitude.
    """
    geoms: list[BaseGeometry] = []
    for _ in range(count):
        lon, lat = anchors[rng.integers(len(anchors))]
        base = offset(lon, lat, rng.uniform(0, 360), spread_m * math.sqrt(rng.uniform()))
        kind = rng.uniform()
        if kind < 0.6:
            geoms.append(Point(base))
        elif kind < 0.9:
            heading, total = rng.uniform(0, 360), rng.uniform(100, 3000)
            legs = int(rng.integers(1, 4))
            coords = [base]
            for _ in range(legs):
                coords.append(offset(*coords[-1], heading, total / legs))
                heading += rng.uniform(-40, 40)
            geoms.append(LineString(coords))
        else:
            turn, radius = rng.uniform(0, 90), rng.uniform(40, 550)
            ring = [
                offset(*base, turn + 90 * k + rng.uniform(-20, 20), radius * rng.uniform(0.6, 1.0))
                for k in range(4)
            ]
            geoms.append(Polygon(ring))
    return geoms
