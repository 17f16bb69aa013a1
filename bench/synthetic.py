"""Synthetic closures and queries for the benchmarks, seeded: over Riyadh ("city") or the kingdom ("country").

Closures are 60 % points, 30 % lines of 100 m-3 km, 10 % areas up to ~1 km²; laid out in degrees from metres
with a flat-earth factor (nothing is measured with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point

ROUTE_M = 30_000.0
M_PER_DEG = 111_320.0  # for laying out synthetic closures only; nothing is measured with it


@dataclass(frozen=True)
class Spread:
    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]


SPREADS = (
    Spread("city", lon=(46.45, 47.05), lat=(24.45, 25.05)),  # Riyadh
    Spread("country", lon=(36.5, 55.5), lat=(16.5, 32.0)),  # Saudi Arabia's bounding box
)


def make_closures(rng: np.random.Generator, n: int, spread: Spread) -> np.ndarray:
    """N closures in lon/lat, anchored uniformly in ``spread``: 60 % points, 30 % lines, 10 % areas."""
    lon = rng.uniform(*spread.lon, n)
    lat = rng.uniform(*spread.lat, n)
    kind = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    geoms = np.empty(n, dtype=object)
    is_point, is_line, is_area = kind == 0, kind == 1, kind == 2
    geoms[is_point] = shapely.points(lon[is_point], lat[is_point])
    geoms[is_line] = _lines(rng, lon[is_line], lat[is_line])
    geoms[is_area] = _areas(rng, lon[is_area], lat[is_area])
    return geoms


def _metres_to_deg(lat: np.ndarray, east: np.ndarray, north: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return east / (M_PER_DEG * np.cos(np.radians(lat))), north / M_PER_DEG


def _lines(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Roads of 100 m-3 km with 2-5 vertices, turning up to 30° at each."""
    count = len(lon)
    if not count:
        return np.empty(0, dtype=object)
    vertices = rng.integers(2, 6, count)
    step = rng.uniform(100.0, 3_000.0, count) / (vertices - 1)
    heading = rng.uniform(0.0, 2 * math.pi, count)
    owner = np.repeat(np.arange(count), vertices)
    first = np.concatenate([[0], np.cumsum(vertices)[:-1]])
    turn = rng.uniform(-math.pi / 6, math.pi / 6, len(owner))
    turn[first] = 0.0
    angle = heading[owner] + _cumsum_by(turn, first, vertices)
    move = np.where(np.isin(np.arange(len(owner)), first), 0.0, step[owner])
    dlon, dlat = _metres_to_deg(lat[owner], move * np.sin(angle), move * np.cos(angle))
    xs = lon[owner] + _cumsum_by(dlon, first, vertices)
    ys = lat[owner] + _cumsum_by(dlat, first, vertices)
    return np.asarray(shapely.linestrings(np.column_stack([xs, ys]), indices=owner))


def _areas(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Star-shaped areas of 5-8 vertices reaching 30-620 m from their centre (so at most ~1 km²)."""
    count = len(lon)
    if not count:
        return np.empty(0, dtype=object)
    vertices = rng.integers(5, 9, count)
    radius = rng.uniform(30.0, 620.0, count)
    owner = np.repeat(np.arange(count), vertices)
    first = np.concatenate([[0], np.cumsum(vertices)[:-1]])
    rank = np.arange(len(owner)) - np.repeat(first, vertices)
    angle = 2 * math.pi * (rank + rng.uniform(-0.3, 0.3, len(owner))) / vertices[owner]
    reach = radius[owner] * rng.uniform(0.7, 1.0, len(owner))
    dlon, dlat = _metres_to_deg(lat[owner], reach * np.sin(angle), reach * np.cos(angle))
    # Close each ring by repeating its first vertex.
    xs, ys = lon[owner] + dlon, lat[owner] + dlat
    ring_owner = np.insert(owner, np.cumsum(vertices), np.arange(count))
    ring_x = np.insert(xs, np.cumsum(vertices), xs[first])
    ring_y = np.insert(ys, np.cumsum(vertices), ys[first])
    rings = shapely.linearrings(np.column_stack([ring_x, ring_y]), indices=ring_owner)
    return np.asarray(shapely.polygons(rings))


def _cumsum_by(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum restarting at each group's first element."""
    total = np.cumsum(values)
    return total - np.repeat(total[first] - values[first], counts)


def make_points(rng: np.random.Generator, count: int, spread: Spread) -> list[Point]:
    """Query points uniformly inside ``spread``."""
    return list(np.asarray(shapely.points(rng.uniform(*spread.lon, count), rng.uniform(*spread.lat, count))))


def make_routes(rng: np.random.Generator, count: int, spread: Spread) -> list[LineString]:
    """30 km routes of 30-60 vertices, gently turning, wholly inside ``spread``."""
    routes: list[LineString] = []
    while len(routes) < count:
        vertices = int(rng.integers(30, 61))
        step = ROUTE_M / (vertices - 1)
        angle = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0.0, math.radians(12), vertices - 1))
        lon0, lat0 = rng.uniform(*spread.lon), rng.uniform(*spread.lat)
        dlon, dlat = _metres_to_deg(np.full(vertices - 1, lat0), step * np.sin(angle), step * np.cos(angle))
        xs = lon0 + np.concatenate([[0.0], np.cumsum(dlon)])
        ys = lat0 + np.concatenate([[0.0], np.cumsum(dlat)])
        inside = (xs >= spread.lon[0]) & (xs <= spread.lon[1]) & (ys >= spread.lat[0]) & (ys <= spread.lat[1])
        if inside.all():
            routes.append(LineString(np.column_stack([xs, ys])))
    return routes
