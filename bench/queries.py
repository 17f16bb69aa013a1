"""Benchmark: SpatialIndex point and route queries against a naive geodesic scan, timed in the same run.

    .venv/bin/python bench/queries.py [--quick] [--json-only]

For N = 1,000 / 10,000 / 100,000 seeded closures (60 % points, 30 % lines of 100 m-3 km, 10 % areas up
to ~1 km²) spread over Riyadh ("city") or the whole kingdom ("country"), it times

* ``SpatialIndex.near(point, 500 m)`` and ``SpatialIndex.along(30 km route, 200 m)``: every call as the
  bot would make it, projection of the query included; a few warm-up calls first, so the figures are
  steady-state (cached pyproj transformers), not first-call;
* the naive baseline a newcomer would write: a Python loop over every closure calling
  ``geopy.distance.geodesic`` (see ``naive_near`` and ``naive_along`` for exactly what they compute).

The baseline is slow, so it runs on few queries; where a scan would take minutes, it scans a random
sample of the closures and scales the time by N / sample (a linear scan costs the same per closure);
such rows say ``"baseline_extrapolated": true``. The last stdout line is one JSON object with every
figure and whether the targets are met. The exit status is 0 whether or not they are.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import numpy as np
import shapely
from geopy.distance import geodesic
from shapely.geometry import LineString, Point

from geo.index import SpatialIndex

SIZES = (1_000, 10_000, 100_000)
RADIUS_M = 500.0
CORRIDOR_M = 200.0
ROUTE_M = 30_000.0
M_PER_DEG = 111_320.0  # for laying out synthetic closures only; nothing is measured with it
TARGETS = {
    "point_100k_country_median_us_max": 50.0,
    "point_100k_country_speedup_min": 1_000.0,
    "route_10k_city_median_us_max": 5_000.0,
}


@dataclass(frozen=True)
class Spread:
    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]


SPREADS = (
    Spread("city", lon=(46.45, 47.05), lat=(24.45, 25.05)),  # Riyadh
    Spread("country", lon=(36.5, 55.5), lat=(16.5, 32.0)),  # Saudi Arabia's bounding box
)


@dataclass(frozen=True)
class Plan:
    """How many queries each measurement gets."""

    index_points: int
    index_routes: int
    baseline_points: dict[int, int]  # N -> queries
    baseline_routes: dict[int, int]
    point_scan_cap: int | None  # scan at most this many closures per baseline query (None: all)
    route_scan_cap: int | None


FULL = Plan(
    index_points=2_000,
    index_routes=200,
    baseline_points={1_000: 10, 10_000: 3, 100_000: 2},
    baseline_routes={1_000: 2, 10_000: 1, 100_000: 1},
    point_scan_cap=None,
    route_scan_cap=500,
)
QUICK = Plan(
    index_points=200,
    index_routes=20,
    baseline_points={1_000: 3, 10_000: 1, 100_000: 1},
    baseline_routes={1_000: 1, 10_000: 1, 100_000: 1},
    point_scan_cap=5_000,
    route_scan_cap=100,
)


@dataclass
class Row:
    n: int
    spread: str
    query: str
    build_ms: float
    index_queries: int
    index_median_us: float
    index_p95_us: float
    index_mean_hits: float
    baseline_queries: int
    baseline_scanned: int
    baseline_extrapolated: bool
    baseline_median_us: float
    baseline_p95_us: float
    ratio: float


# --- synthetic closures and queries --------------------------------------------------------------------


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
    return shapely.linestrings(np.column_stack([xs, ys]), indices=owner)


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
    return shapely.polygons(shapely.linearrings(np.column_stack([ring_x, ring_y]), indices=ring_owner))


def _cumsum_by(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum restarting at each group's first element."""
    total = np.cumsum(values)
    return total - np.repeat(total[first] - values[first], counts)


def make_points(rng: np.random.Generator, count: int, spread: Spread) -> list[Point]:
    """Query points uniformly inside ``spread``."""
    return list(shapely.points(rng.uniform(*spread.lon, count), rng.uniform(*spread.lat, count)))


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


# --- the naive baseline --------------------------------------------------------------------------------

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


def _latlon_vertices(geoms: np.ndarray) -> list[list[tuple[float, float]]]:
    """Each closure's distinct vertices as (lat, lon); a ring's closing repeat is dropped."""
    counts = shapely.get_num_coordinates(geoms)
    parts = np.split(shapely.get_coordinates(geoms)[:, ::-1], np.cumsum(counts)[:-1])
    is_area = shapely.get_type_id(geoms) == 3
    return [
        [(float(a), float(b)) for a, b in (part[:-1] if area else part)]
        for part, area in zip(parts, is_area, strict=True)
    ]


def _latlon_points(geoms: np.ndarray) -> list[tuple[float, float]]:
    """One (lat, lon) per closure: the point itself, or a point on the road or inside the area."""
    coords = shapely.get_coordinates(shapely.point_on_surface(geoms))
    return [(float(lat), float(lon)) for lon, lat in coords]


# --- timing and reporting ------------------------------------------------------------------------------


class Progress:
    """A progress bar on stderr when it is a terminal; otherwise a plain line now and then."""

    def __init__(self, total: float, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.stream = max(total, 1e-9), 0.0, stream
        self.tty = stream.isatty()
        self.started = self.last = time.monotonic()
        self.label = ""

    def stage(self, label: str) -> None:
        self.label = label
        if not self.tty and time.monotonic() - self.last >= 3.0:
            self._line()
        self._draw()

    def advance(self, amount: float, note: str = "") -> None:
        self.done = min(self.total, self.done + amount)
        if self.tty and time.monotonic() - self.last >= 0.1:
            self._draw(note)

    def finish(self) -> None:
        self.done = self.total
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"[bench] done in {time.monotonic() - self.started:.0f} s\n")
        self.stream.flush()

    def _draw(self, note: str = "") -> None:
        if not self.tty:
            return
        filled = int(30 * self.done / self.total)
        bar = "#" * filled + "-" * (30 - filled)
        text = f"[{bar}] {100 * self.done / self.total:3.0f}%  {self.label} {note}"
        self.stream.write("\r\033[K" + text[: shutil.get_terminal_size().columns - 1])
        self.stream.flush()
        self.last = time.monotonic()

    def _line(self) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[bench] {100 * self.done / self.total:3.0f}%  {elapsed:4.0f} s  {self.label}\n")
        self.stream.flush()
        self.last = time.monotonic()


def time_calls(
    call: Callable[[Any], Any], items: Sequence[Any], progress: Progress, weight: float
) -> tuple[list[float], list[Any]]:
    """Microseconds per call of ``call(item)`` for each item, and the results."""
    gc.collect()
    times, results = [], []
    for count, item in enumerate(items, start=1):
        start = time.perf_counter_ns()
        result = call(item)
        times.append((time.perf_counter_ns() - start) / 1_000.0)
        results.append(result)
        progress.advance(weight / len(items), f"{count}/{len(items)}")
    return times, results


def _median_p95(times: Sequence[float]) -> tuple[float, float]:
    return float(np.median(times)), float(np.percentile(times, 95))


def _estimate_seconds(plan: Plan, sizes: Sequence[int]) -> dict[tuple[int, str], float]:
    """Rough seconds per (N, measurement), only to weight the progress bar."""
    per_pair = 80e-6  # one geopy geodesic
    out = {}
    for n in sizes:
        point_scan = min(n, plan.point_scan_cap or n) * 2.3 * per_pair
        route_scan = min(n, plan.route_scan_cap or n) * 45 * per_pair
        out[(n, "build")] = n * 8e-6 + 0.05
        out[(n, "point")] = plan.index_points * 60e-6
        out[(n, "route")] = plan.index_routes * 3e-3
        out[(n, "point-baseline")] = plan.baseline_points.get(n, 1) * point_scan
        out[(n, "route-baseline")] = plan.baseline_routes.get(n, 1) * route_scan
    return out


def run(plan: Plan, sizes: Sequence[int], seed: int, progress_stream: TextIO) -> list[Row]:
    """Every measurement for every spread and N; two Rows (point, route) per (spread, N)."""
    costs = _estimate_seconds(plan, sizes)
    progress = Progress(sum(costs.values()) * len(SPREADS), progress_stream)
    rows: list[Row] = []
    for which, spread in enumerate(SPREADS):
        for n in sizes:
            rng = np.random.default_rng([seed, which, n])
            rows += measure(plan, spread, n, rng, progress, costs)
    progress.finish()
    return rows


def measure(
    plan: Plan,
    spread: Spread,
    n: int,
    rng: np.random.Generator,
    progress: Progress,
    costs: dict[tuple[int, str], float],
) -> list[Row]:
    """Build one index of N closures over ``spread``; time its queries and the naive scans."""
    where = f"N={n:,} {spread.name}"
    progress.stage(f"{where}: building")
    geoms = make_closures(rng, n, spread)
    start = time.perf_counter_ns()
    index = SpatialIndex(list(range(n)), list(geoms))
    build_ms = (time.perf_counter_ns() - start) / 1e6
    progress.advance(costs[(n, "build")])

    points = make_points(rng, plan.index_points, spread)
    routes = make_routes(rng, plan.index_routes, spread)
    for point in points[:20]:
        index.near(point, RADIUS_M)  # warm-up: transformers built, caches hot
    for route in routes[:3]:
        index.along(route, CORRIDOR_M)

    progress.stage(f"{where}: index point queries")
    point_us, point_hits = time_calls(
        lambda p: index.near(p, RADIUS_M), points, progress, costs[(n, "point")]
    )
    progress.stage(f"{where}: index route queries")
    route_us, route_hits = time_calls(
        lambda r: index.along(r, CORRIDOR_M), routes, progress, costs[(n, "route")]
    )

    point_sample = _sample(rng, n, plan.point_scan_cap)
    vertices = _latlon_vertices(geoms[point_sample])
    queries = [(p.y, p.x) for p in points[: plan.baseline_points.get(n, 1)]]
    progress.stage(f"{where}: naive point scan")
    naive_point_us, _ = time_calls(
        lambda q: naive_near(q, vertices, RADIUS_M), queries, progress, costs[(n, "point-baseline")]
    )

    route_sample = _sample(rng, n, plan.route_scan_cap)
    spots = _latlon_points(geoms[route_sample])
    naive_routes = [[(y, x) for x, y in r.coords] for r in routes[: plan.baseline_routes.get(n, 1)]]
    progress.stage(f"{where}: naive route scan")
    naive_route_us, _ = time_calls(
        lambda r: naive_along(r, spots, CORRIDOR_M), naive_routes, progress, costs[(n, "route-baseline")]
    )
    return [
        _row(n, spread, "point", build_ms, point_us, point_hits, naive_point_us, len(point_sample)),
        _row(n, spread, "route", build_ms, route_us, route_hits, naive_route_us, len(route_sample)),
    ]


def _sample(rng: np.random.Generator, n: int, cap: int | None) -> np.ndarray:
    if cap is None or cap >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _row(
    n: int,
    spread: Spread,
    query: str,
    build_ms: float,
    index_us: Sequence[float],
    index_hits: Sequence[list[Any]],
    naive_us: Sequence[float],
    scanned: int,
) -> Row:
    scale = n / scanned  # a linear scan over N closures costs N / scanned times the sample's
    index_median, index_p95 = _median_p95(index_us)
    naive_median, naive_p95 = _median_p95([t * scale for t in naive_us])
    return Row(
        n=n,
        spread=spread.name,
        query=query,
        build_ms=round(build_ms, 1),
        index_queries=len(index_us),
        index_median_us=round(index_median, 1),
        index_p95_us=round(index_p95, 1),
        index_mean_hits=round(float(np.mean([len(h) for h in index_hits])), 2),
        baseline_queries=len(naive_us),
        baseline_scanned=scanned,
        baseline_extrapolated=scanned < n,
        baseline_median_us=round(naive_median, 1),
        baseline_p95_us=round(naive_p95, 1),
        ratio=round(naive_median / index_median, 1),
    )


def verdict(rows: Sequence[Row]) -> dict[str, bool | None]:
    """Whether each target is met; None when its row was not measured (e.g. with --max-n)."""
    by_key = {(r.n, r.spread, r.query): r for r in rows}
    point = by_key.get((100_000, "country", "point"))
    route = by_key.get((10_000, "city", "route"))
    passed: dict[str, bool | None] = {
        "point_100k_country_median": None
        if point is None
        else point.index_median_us <= TARGETS["point_100k_country_median_us_max"],
        "point_100k_country_speedup": None
        if point is None
        else point.ratio >= TARGETS["point_100k_country_speedup_min"],
        "route_10k_city_median": None
        if route is None
        else route.index_median_us <= TARGETS["route_10k_city_median_us_max"],
    }
    checked = [v for v in passed.values() if v is not None]
    passed["all"] = all(checked) if len(checked) == len(passed) else None
    return passed


# (heading, width, how to show the row's value)
_COLUMNS: list[tuple[str, int, Callable[[Row], str]]] = [
    ("N", 7, lambda r: f"{r.n:,}"),
    ("spread", 7, lambda r: r.spread),
    ("query", 5, lambda r: r.query),
    ("build ms", 8, lambda r: f"{r.build_ms:.1f}"),
    ("index med µs", 12, lambda r: f"{r.index_median_us:.1f}"),
    ("p95 µs", 8, lambda r: f"{r.index_p95_us:.1f}"),
    ("hits", 6, lambda r: f"{r.index_mean_hits:.1f}"),
    ("naive med µs", 13, lambda r: f"{r.baseline_median_us:,.0f}"),
    ("p95 µs", 13, lambda r: f"{r.baseline_p95_us:,.0f}"),
    ("runs", 4, lambda r: str(r.baseline_queries)),
    ("scanned", 8, lambda r: f"{r.baseline_scanned:,}" + ("*" if r.baseline_extrapolated else " ")),
    ("ratio", 10, lambda r: f"{r.ratio:,.0f}×"),
]


def table(rows: Sequence[Row]) -> str:
    """The figures as a fixed-width table, one line per (N, spread, query)."""
    head = " ".join(f"{name:>{width}}" for name, width, _ in _COLUMNS)
    lines = [head, "-" * len(head)]
    lines += [" ".join(f"{show(r):>{width}}" for _, width, show in _COLUMNS) for r in rows]
    lines.append(
        "* naive time scaled from a scan of that many closures to all N (a linear scan costs N × one)"
    )
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the benchmark; print the table (unless --json-only) and, last, one JSON line."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="bench/queries.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries (a smoke run); still every N")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    parser.add_argument("--seed", type=int, default=20_240_601, help="random seed (default: %(default)s)")
    parser.add_argument("--max-n", type=int, default=None, help=argparse.SUPPRESS)  # tests: tiny runs
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    sizes = [n for n in SIZES if args.max_n is None or n <= args.max_n] or [args.max_n]
    started = time.monotonic()
    rows = run(plan, sizes, args.seed, stderr)
    passed = verdict(rows)
    report = {
        "bench": "queries",
        "mode": "quick" if args.quick else "full",
        "seed": args.seed,
        "radius_m": RADIUS_M,
        "corridor_m": CORRIDOR_M,
        "route_m": ROUTE_M,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "seconds": round(time.monotonic() - started, 1),
        "results": [asdict(r) for r in rows],
        "targets": TARGETS,
        "passed": passed,
    }
    if not args.json_only:
        print(table(rows), file=stdout)
        print(f"targets: {json.dumps(TARGETS)}", file=stdout)
        print(f"passed:  {json.dumps(passed)}", file=stdout)
    print(json.dumps(report, separators=(",", ":")), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
