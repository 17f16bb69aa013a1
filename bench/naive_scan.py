"""The naive baseline of bench/queries.py: what a newcomer would write, a Python loop over every closure
measuring geopy geodesic distances. See each function for exactly what it computes (and how it flatters
itself, so that the speed-ups measured against it are if anything understated).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from geopy.distance import geodesic

_GEODESIC = geodesic()  # one instance, reused: a new one per pair would make the baseline 1.5x slower


def naive_near(
    query: tuple[float, float], closures: Sequence[Sequence[tuple[float, float]]], radius_m: float
) -> list[tuple[float, int]]:
    """Linear scan: for every closure, the geopy geodesic distance from the query to its nearest vertex.

    ``query`` and the vertices are (lat, lon). A point closure has one vertex; a road or area is taken at
    its nearest vertex (not the nearest point of an edge), so the scan does less work than an exact answer
    would need and the speed-up it yields is, if anything, understated. Returns (metres, closure) within
    ``radius_m``, nearest first.
    """
    hits: list[tuple[float, int]] = []
    for k, vertices in enumerate(closures):
        metres = min(_GEODESIC.measure(query, v) for v in vertices) * 1_000.0
        if metres <= radius_m:
            hits.append((metres, k))
    hits.sort()
    return hits


def naive_along(
    route: Sequence[tuple[float, float]], closures: Sequence[tuple[float, float]], corridor_m: float
) -> list[tuple[int, float, int]]:
    """Linear scan: for every closure, geopy geodesic distances from one point of it to every route vertex.

    ``closures`` holds one (lat, lon) per closure (the point itself, or a point on the road or in the
    area); ``route`` is the route's vertices. A closure is a hit when some route vertex lies within
    ``corridor_m``; hits are ordered by the index of that vertex. Far cruder (and cheaper) than measuring
    to the route's edges, so again the speed-up is understated. Returns (vertex index, metres, closure).
    """
    hits: list[tuple[int, float, int]] = []
    for k, where in enumerate(closures):
        metres, vertex = min((_GEODESIC.measure(where, v) * 1_000.0, i) for i, v in enumerate(route))
        if metres <= corridor_m:
            hits.append((vertex, metres, k))
    hits.sort()
    return hits


def latlon_vertices(geoms: np.ndarray) -> list[list[tuple[float, float]]]:
    """Each closure's distinct vertices as (lat, lon); a ring's closing repeat is dropped."""
    counts = shapely.get_num_coordinates(geoms)
    parts = np.split(shapely.get_coordinates(geoms)[:, ::-1], np.cumsum(counts)[:-1])
    is_area = shapely.get_type_id(geoms) == 3
    return [
        [(float(a), float(b)) for a, b in (part[:-1] if area else part)]
        for part, area in zip(parts, is_area, strict=True)
    ]


def latlon_points(geoms: np.ndarray) -> list[tuple[float, float]]:
    """One (lat, lon) per closure: the point itself, or a point on the road or inside the area."""
    coords = shapely.get_coordinates(shapely.point_on_surface(geoms))
    return [(float(lat), float(lon)) for lon, lat in coords]
