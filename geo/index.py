"""SpatialIndex: an immutable STRtree over projected geometries with a parallel id array.

Geometries arrive in lon/lat. Each is stored projected to the UTM zone of its own centre, one STRtree per
zone, so that a country-wide index keeps metre accuracy everywhere; a city index has a single partition.
A query projects the driver's point (or route) into each zone it could reach, so one query usually costs
one coordinate transform and one tree query. ``near_many`` answers many points at once the same way, with
one transform, one bulk tree query and one array of distances per zone for all of them.

>>> from shapely.geometry import LineString, Point
>>> index = SpatialIndex([7, 9], [Point(46.6753, 24.7136), Point(46.70, 24.75)])
>>> [(hit.id, round(hit.distance_m)) for hit in index.near(Point(46.6753, 24.7226), 2_000)]
[(7, 997)]
>>> route = LineString([(46.60, 24.7136), (46.75, 24.7136)])
>>> [(hit.id, round(hit.position_m)) for hit in index.along(route, 200)]
[(7, 7619)]
>>> [[hit.id for hit in hits] for hits in index.near_many([Point(46.70, 24.7501), Point(40, 20)], 500)]
[[9], []]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.projection import Projection, utm_epsg

# Metres per degree of latitude, rounded down so that degree margins err on the wide side.
_M_PER_DEG = 110_000.0


@dataclass(frozen=True, slots=True)
class Hit:
    """One indexed geometry found by a query: its id, metres away, and metres along the route if any."""

    id: int
    distance_m: float
    position_m: float | None = None


@dataclass(frozen=True, slots=True)
class _Partition:
    projection: Projection
    tree: STRtree
    ids: np.ndarray
    geoms: np.ndarray  # projected, parallel to ids
    bounds: tuple[float, float, float, float]  # lon/lat bounds of the partition's geometries


class SpatialIndex:
    """Immutable index answering "which geometries lie within r metres of this point / along this route"."""

    def __init__(
        self,
        ids: Sequence[int],
        geometries: Sequence[BaseGeometry],
        *,
        projection: Projection | None = None,
    ) -> None:
        if len(ids) != len(geometries):
            raise ValueError(f"ids and geometries differ in length: {len(ids)} != {len(geometries)}")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        geoms = np.asarray(geometries, dtype=object)
        if len(geoms) and (shapely.is_empty(geoms).any() or shapely.is_missing(geoms).any()):
            raise ValueError("geometries must not be empty or None")
        id_array = np.asarray(ids, dtype=np.int64)
        self._size = len(id_array)
        self._partitions = [
            _build_partition(Projection(epsg), id_array[mask], geoms[mask])
            for epsg, mask in _group_by_zone(geoms, projection)
        ]

    def __len__(self) -> int:
        return self._size

    def near(self, point: Point, radius_m: float) -> list[Hit]:
        """Geometries within ``radius_m`` of a lon/lat point, nearest first (ties by id)."""
        _check_distance("radius_m", radius_m)
        lon, lat = point.x, point.y
        query_bounds = (lon, lat, lon, lat)
        margins = _margins(query_bounds, radius_m)  # the same for every partition
        hits: list[Hit] = []
        for part in self._partitions:
            if not _reaches(part.bounds, query_bounds, margins):
                continue
            # Array in, array out: shapely's scalar paths cost several times more per call.
            here = shapely.points([part.projection.point_to_metric(lon, lat)])
            found = part.tree.query(here, predicate="dwithin", distance=radius_m)[1]
            if len(found):
                dists = shapely.distance(part.geoms[found], here[0])
                hits.extend(Hit(int(i), float(d)) for i, d in zip(part.ids[found], dists, strict=True))
        hits.sort(key=lambda h: (h.distance_m, h.id))
        return hits

    def near_many(self, points: Sequence[Point] | np.ndarray, radius_m: float) -> list[list[Hit]]:
        """``near`` for many lon/lat points at once: one list per point, each exactly what ``near`` gives.

        Each zone projects the points it could reach in one call, answers them with one bulk tree query,
        and measures every pair found in one array call, so a point costs microseconds, not a ``near``.
        """
        _check_distance("radius_m", radius_m)
        lonlat = _lonlat(points)
        found_at, found_ids, found_m = [], [], []
        for part in self._partitions:
            reach = np.flatnonzero(_reaching(part.bounds, lonlat, radius_m))
            if not len(reach):
                continue
            # an (n, 2) array in gives an array of n points out (the stubs also allow a single Point)
            here = cast(np.ndarray, shapely.points(part.projection.to_metric_xy(lonlat[reach])))
            at, tree_at = part.tree.query(here, predicate="dwithin", distance=radius_m)
            found_at.append(reach[at])
            found_ids.append(part.ids[tree_at])
            found_m.append(shapely.distance(part.geoms[tree_at], here[at]))
        if not found_at:
            return [[] for _ in range(len(lonlat))]
        at, ids, metres = (np.concatenate(found) for found in (found_at, found_ids, found_m))
        order = np.lexsort((ids, metres, at))  # by point, then nearest first, ties by id: as ``near``
        hits = [Hit(i, d) for i, d in zip(ids[order].tolist(), metres[order].tolist(), strict=True)]
        ends = np.searchsorted(at[order], np.arange(len(lonlat) + 1)).tolist()
        return [hits[start:end] for start, end in itertools.pairwise(ends)]

    def along(self, route: LineString, corridor_m: float) -> list[Hit]:
        """Geometries within ``corridor_m`` of a lon/lat route, ordered by where the route meets them."""
        _check_distance("corridor_m", corridor_m)
        if route.is_empty or route.geom_type != "LineString":
            raise ValueError("route must be a non-empty LineString")
        query_bounds = route.bounds
        margins = _margins(query_bounds, corridor_m)
        hits: list[Hit] = []
        for part in self._partitions:
            if not _reaches(part.bounds, query_bounds, margins):
                continue
            line = part.projection.to_metric(route)
            found = part.tree.query(line, predicate="dwithin", distance=corridor_m)
            if not len(found):
                continue
            geoms = part.geoms[found]
            dists = shapely.distance(geoms, line)
            positions = _positions(line, geoms)
            hits.extend(
                Hit(int(i), float(d), float(p))
                for i, d, p in zip(part.ids[found], dists, positions, strict=True)
            )
        hits.sort(key=lambda h: (h.position_m, h.distance_m, h.id))
        return hits


def _check_distance(name: str, metres: float) -> None:
    if not metres >= 0 or not math.isfinite(metres):
        raise ValueError(f"{name} must be a finite number >= 0, got {metres!r}")


def _lonlat(points: Sequence[Point] | np.ndarray) -> np.ndarray:
    """The (lon, lat) rows of non-empty points, checked up front."""
    geoms = np.asarray(points, dtype=object).reshape(-1)
    if len(geoms) and (shapely.get_type_id(geoms) != 0).any():  # missing geometries have type id -1
        raise ValueError("points must all be Points")
    lonlat = shapely.get_coordinates(geoms)
    if len(lonlat) != len(geoms):
        raise ValueError("points must not be empty")
    return lonlat


def _group_by_zone(geoms: np.ndarray, projection: Projection | None) -> list[tuple[int, np.ndarray]]:
    if not len(geoms):
        return []
    if projection is not None:
        return [(projection.epsg, np.ones(len(geoms), dtype=bool))]
    bounds = shapely.bounds(geoms)
    centre_lon = (bounds[:, 0] + bounds[:, 2]) / 2.0
    centre_lat = (bounds[:, 1] + bounds[:, 3]) / 2.0
    zones = np.fromiter(
        (utm_epsg(lon, lat) for lon, lat in zip(centre_lon, centre_lat, strict=True)),
        dtype=np.int64,
        count=len(geoms),
    )
    return [(int(epsg), zones == epsg) for epsg in np.unique(zones)]


def _build_partition(projection: Projection, ids: np.ndarray, geoms: np.ndarray) -> _Partition:
    projected = projection.many_to_metric(geoms)
    minx, miny, _, _ = shapely.bounds(geoms).min(axis=0)
    _, _, maxx, maxy = shapely.bounds(geoms).max(axis=0)
    return _Partition(
        projection=projection,
        tree=STRtree(projected),
        ids=ids,
        geoms=projected,
        bounds=(float(minx), float(miny), float(maxx), float(maxy)),
    )


def _margins(query_bounds: tuple[float, float, float, float], radius_m: float) -> tuple[float, float]:
    """``radius_m`` in degrees of longitude and latitude around the query bounds, erring on the wide side."""
    dlat = radius_m / _M_PER_DEG + 1e-6
    coslat = max(math.cos(math.radians(max(abs(query_bounds[1]), abs(query_bounds[3])) + dlat)), 1e-6)
    return dlat / coslat, dlat


def _reaches(
    part_bounds: tuple[float, float, float, float],
    query_bounds: tuple[float, float, float, float],
    margins: tuple[float, float],
) -> bool:
    """Cheap lon/lat test: could anything in the partition lie within the margins of the query bounds?"""
    qminx, qminy, qmaxx, qmaxy = query_bounds
    pminx, pminy, pmaxx, pmaxy = part_bounds
    dlon, dlat = margins
    return not (qmaxx + dlon < pminx or qminx - dlon > pmaxx or qmaxy + dlat < pminy or qminy - dlat > pmaxy)


def _reaching(
    part_bounds: tuple[float, float, float, float], lonlat: np.ndarray, radius_m: float
) -> np.ndarray:
    """``_reaches`` for an (n, 2) array of lon/lat points: which of them the partition could be near."""
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    pminx, pminy, pmaxx, pmaxy = part_bounds
    dlat = radius_m / _M_PER_DEG + 1e-6
    coslat = np.maximum(np.cos(np.radians(np.abs(lat) + dlat)), 1e-6)
    dlon = dlat / coslat
    return ~((lon + dlon < pminx) | (lon - dlon > pmaxx) | (lat + dlat < pminy) | (lat - dlat > pmaxy))


def _positions(line: LineString, geoms: np.ndarray) -> np.ndarray:
    """Metres along ``line`` where it first touches each geometry, or passes closest to it.

    A closure overlapping kilometres of the route is placed where the driver first meets it; one beside
    the route, at the foot of the shortest line between them.
    """
    contact = shapely.intersection(line, geoms)
    feet = shapely.get_point(shapely.shortest_line(geoms, line), 1)
    positions = shapely.line_locate_point(line, feet)
    for i in np.flatnonzero(~shapely.is_empty(contact)):
        coords = shapely.get_coordinates(contact[i])
        positions[i] = shapely.line_locate_point(line, shapely.points(coords)).min()
    return positions
