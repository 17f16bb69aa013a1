"""Benchmark: SpatialIndex point, route and batch queries against a naive geodesic scan, a loop of single
queries, and PostGIS, all timed in the same run.

    .venv/bin/python -m bench.queries [--quick] [--json-only] [--target NAME=VALUE ...]

For N = 1,000 / 10,000 / 100,000 seeded closures (60 % points, 30 % lines of 100 m-3 km, 10 % areas up
to ~1 km²) spread over Riyadh ("city") or the whole kingdom ("country"), it times

* ``SpatialIndex.near(point, 500 m)`` and ``SpatialIndex.along(30 km route, 200 m)``: every call as the
  bot would make it, projection of the query included; a few warm-up calls first, so the figures are
  steady-state (cached pyproj transformers), not first-call;
* against the naive baseline a newcomer would write: a Python loop over every closure calling
  ``geopy.distance.geodesic`` (``bench/naive_scan.py`` says exactly what it computes). It
  is slow, so it runs on few queries; where a scan would take minutes, it scans a random sample of the
  closures and scales the time by N / sample (a linear scan costs the same per closure); such rows say
  ``"baseline_extrapolated": true``;
* ``SpatialIndex.near_many(points, 500 m)``, thousands of points in one vectorised call (what the
  emergency fan-out and the flood bench ask: the closures near each of thousands of drivers' last
  locations), against a loop of ``near`` over the same points; the answers must be the same;
* when ``ROADBOT_TEST_POSTGRES_URL`` names a server: the same closures in a PostGIS table with a GiST index
  on geography and the same point and route queries through ``ST_DWithin`` (``bench/postgis.py``), one
  round trip each; the answers must agree with ours within 0.5 % (the spheroid against our metric
  projection). Without a server the JSON says ``"postgis": null`` and why, and those figures are null.

Targets (``bench/verdict.py``: ``--target`` replaces one; the name reads query_N_spread_figure_min|max):

* ``point_100k_country_median_us_max`` 50: a driver's location is answered in the event loop, so a point
  query must stay far below a millisecond at a country's worth of closures (issue 2);
* ``point_100k_country_speedup_min`` 1,000 against the naive scan, and ``route_10k_city_median_us_max``
  5,000: a route check inside a reply's budget at a city's density (issue 2);
* ``batch_100k_country_speedup_min`` 10: one vectorised call must save what a loop of single queries
  spends in Python around the geometry work (issue 12: a loop costs 63-116 µs a point where ~2 µs is
  possible). In a dense city (33 closures within 500 m of a point at 100k) the GEOS distance work per hit
  dominates both, so the batch gains less there; its figures are reported, not targeted;
* ``point_100k_country_postgis_ratio_min`` 10: the in-memory index must beat asking PostGIS by 10× a
  query, or keeping it would not be worth its memory and its rebuilds (issue 12). Route queries are
  compared and reported but not targeted: ours also places each closure along the route, which the
  ``ST_DWithin`` query does not;
* and always: the batch answers equal the loop's, and PostGIS agrees with us, whenever it was measured.

The last stdout line is one JSON object with every figure, the targets and ``passed``; the exit status is
1 when a target was missed (or the answers differed), else 0 (targets not measured in a smaller run are
null, not missed).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import numpy as np
import psycopg

from bench import postgis
from bench.naive_scan import latlon_points, latlon_vertices, naive_along, naive_near
from bench.progress import Progress
from bench.synthetic import ROUTE_M, SPREADS, Spread, make_closures, make_points, make_routes
from bench.verdict import add_target_option, chosen, finish, met, overall
from geo.index import Hit, SpatialIndex

SIZES = (1_000, 10_000, 100_000)
RADIUS_M = 500.0
CORRIDOR_M = 200.0
TARGETS = {
    "point_100k_country_median_us_max": 50.0,
    "point_100k_country_speedup_min": 1_000.0,
    "route_10k_city_median_us_max": 5_000.0,
    "batch_100k_country_speedup_min": 10.0,
    "point_100k_country_postgis_ratio_min": 10.0,
}
_TARGET = re.compile(r"(point|route|batch)_(\d+)k_(city|country)_([a-z_]+)_(min|max)")
# figure in a target's name -> the field of a Row (point, route) or of a BatchRow (batch) it reads
_ROW_FIGURES = {"median_us": "index_median_us", "speedup": "ratio", "postgis_ratio": "postgis_ratio"}
_BATCH_FIGURES = {"us_per_point": "batch_us_per_point", "speedup": "speedup"}


@dataclass(frozen=True)
class Plan:
    """How many queries each measurement gets."""

    index_points: int
    index_routes: int
    baseline_points: dict[int, int]  # N -> queries
    baseline_routes: dict[int, int]
    point_scan_cap: int | None  # scan at most this many closures per baseline query (None: all)
    route_scan_cap: int | None
    batch_points: int
    batch_repeats: int
    postgis_points: int
    postgis_routes: int


FULL = Plan(
    index_points=2_000,
    index_routes=200,
    baseline_points={1_000: 10, 10_000: 3, 100_000: 2},
    baseline_routes={1_000: 2, 10_000: 1, 100_000: 1},
    point_scan_cap=None,
    route_scan_cap=500,
    batch_points=5_000,
    batch_repeats=3,
    postgis_points=300,
    postgis_routes=30,
)
QUICK = Plan(
    index_points=200,
    index_routes=20,
    baseline_points={1_000: 3, 10_000: 1, 100_000: 1},
    baseline_routes={1_000: 1, 10_000: 1, 100_000: 1},
    point_scan_cap=5_000,
    route_scan_cap=100,
    batch_points=1_000,
    batch_repeats=2,
    postgis_points=50,
    postgis_routes=5,
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
    postgis_queries: int | None = None
    postgis_median_us: float | None = None
    postgis_p95_us: float | None = None
    postgis_ratio: float | None = None  # PostGIS time ÷ ours, on the same queries
    postgis_disagreements: int | None = None  # closures answered differently beyond rounding


@dataclass
class BatchRow:
    n: int
    spread: str
    points: int
    mean_hits: float
    batch_us_per_point: float
    loop_us_per_point: float
    speedup: float
    same_answers: bool


# --- timing and reporting ------------------------------------------------------------------------------


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


def time_batch(index: SpatialIndex, points: Sequence[Any], repeats: int) -> tuple[float, float, bool, float]:
    """µs per point of one ``near_many`` call and of a loop of ``near``; whether they agree; mean hits."""
    batch, loop = [], []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter_ns()
        together = index.near_many(points, RADIUS_M)
        batch.append((time.perf_counter_ns() - start) / 1_000.0 / len(points))
        gc.collect()
        start = time.perf_counter_ns()
        each = [index.near(point, RADIUS_M) for point in points]
        loop.append((time.perf_counter_ns() - start) / 1_000.0 / len(points))
    mean_hits = float(np.mean([len(hits) for hits in each]))
    return statistics.median(batch), statistics.median(loop), together == each, mean_hits


def _median_p95(times: Sequence[float]) -> tuple[float, float]:
    return float(np.median(times)), float(np.percentile(times, 95))


def _estimate_seconds(plan: Plan, sizes: Sequence[int], with_postgis: bool) -> dict[tuple[int, str], float]:
    """Rough seconds per (N, measurement), only to weight the progress bar."""
    per_pair = 80e-6  # one geopy geodesic
    out = {}
    for n in sizes:
        point_scan = min(n, plan.point_scan_cap or n) * 2.3 * per_pair
        route_scan = min(n, plan.route_scan_cap or n) * 45 * per_pair
        out[(n, "build")] = n * 8e-6 + 0.05
        out[(n, "point")] = plan.index_points * 60e-6
        out[(n, "route")] = plan.index_routes * 3e-3
        out[(n, "batch")] = plan.batch_points * plan.batch_repeats * 70e-6
        out[(n, "point-baseline")] = plan.baseline_points.get(n, 1) * point_scan
        out[(n, "route-baseline")] = plan.baseline_routes.get(n, 1) * route_scan
        if with_postgis:
            out[(n, "postgis")] = n * 40e-6 + plan.postgis_points * 400e-6 + plan.postgis_routes * 15e-3
    return out


def run(
    plan: Plan, sizes: Sequence[int], seed: int, progress_stream: TextIO, db: postgis.PostGIS | None
) -> tuple[list[Row], list[BatchRow]]:
    """Every measurement for every spread and N: two Rows (point, route) and a BatchRow per (spread, N)."""
    costs = _estimate_seconds(plan, sizes, db is not None)
    progress = Progress(sum(costs.values()) * len(SPREADS), progress_stream)
    rows: list[Row] = []
    batches: list[BatchRow] = []
    for which, spread in enumerate(SPREADS):
        for n in sizes:
            rng = np.random.default_rng([seed, which, n])
            more_rows, batch = measure(plan, spread, n, rng, progress, costs, db)
            rows += more_rows
            batches.append(batch)
    progress.finish()
    return rows, batches


def measure(
    plan: Plan,
    spread: Spread,
    n: int,
    rng: np.random.Generator,
    progress: Progress,
    costs: dict[tuple[int, str], float],
    db: postgis.PostGIS | None,
) -> tuple[list[Row], BatchRow]:
    """Build one index of N closures over ``spread``; time its queries, the naive scans and PostGIS."""
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
    progress.stage(f"{where}: batch against a loop")
    crowd = make_points(rng, plan.batch_points, spread)
    batch_us, loop_us, same, mean_hits = time_batch(index, crowd, plan.batch_repeats)
    progress.advance(costs[(n, "batch")])
    batch = BatchRow(
        n, spread.name, len(crowd), round(mean_hits, 2), round(batch_us, 2), round(loop_us, 2),
        round(loop_us / batch_us, 1), same,
    )  # fmt: skip

    point_sample = _sample(rng, n, plan.point_scan_cap)
    vertices = latlon_vertices(geoms[point_sample])
    queries = [(p.y, p.x) for p in points[: plan.baseline_points.get(n, 1)]]
    progress.stage(f"{where}: naive point scan")
    naive_point_us, _ = time_calls(
        lambda q: naive_near(q, vertices, RADIUS_M), queries, progress, costs[(n, "point-baseline")]
    )

    route_sample = _sample(rng, n, plan.route_scan_cap)
    spots = latlon_points(geoms[route_sample])
    naive_routes = [[(y, x) for x, y in r.coords] for r in routes[: plan.baseline_routes.get(n, 1)]]
    progress.stage(f"{where}: naive route scan")
    naive_route_us, _ = time_calls(
        lambda r: naive_along(r, spots, CORRIDOR_M), naive_routes, progress, costs[(n, "route-baseline")]
    )
    rows = [
        _row(n, spread, "point", build_ms, point_us, point_hits, naive_point_us, len(point_sample)),
        _row(n, spread, "route", build_ms, route_us, route_hits, naive_route_us, len(route_sample)),
    ]
    if db is not None:
        progress.stage(f"{where}: PostGIS")
        db.load(range(n), geoms)
        k, m = plan.postgis_points, plan.postgis_routes
        for point in points[:10]:
            db.near(point, RADIUS_M)  # warm-up: statements prepared, pages cached
        _compare(
            rows[0], db, lambda p: db.near(p, RADIUS_M), points[:k], point_us[:k], point_hits[:k], RADIUS_M
        )
        _compare(
            rows[1],
            db,
            lambda r: db.along(r, CORRIDOR_M),
            routes[:m],
            route_us[:m],
            route_hits[:m],
            CORRIDOR_M,
        )
        progress.advance(costs[(n, "postgis")])
    return rows, batch


def _compare(
    row: Row,
    db: postgis.PostGIS,
    call: Callable[[Any], postgis.Answer],
    queries: Sequence[Any],
    our_us: Sequence[float],
    our_hits: Sequence[list[Hit]],
    within_m: float,
) -> None:
    """Time PostGIS on the same queries as ours and count where the answers differ (into ``row``)."""
    their_us, theirs = postgis.timed(call, queries)
    ours = [[(hit.id, hit.distance_m) for hit in hits] for hits in our_hits]
    median, p95 = _median_p95(their_us)
    row.postgis_queries = len(queries)
    row.postgis_median_us, row.postgis_p95_us = round(median, 1), round(p95, 1)
    row.postgis_ratio = round(median / float(np.median(our_us)), 1)
    row.postgis_disagreements = postgis.disagreements(ours, theirs, within_m)


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


# --- targets ---------------------------------------------------------------------------------------------


def known_target(name: str) -> bool:
    match = _TARGET.fullmatch(name)
    if match is None:
        return False
    figures = _BATCH_FIGURES if match[1] == "batch" else _ROW_FIGURES
    return match[4] in figures


def figure(name: str, rows: Sequence[Row], batches: Sequence[BatchRow]) -> float | None:
    """The measured figure a target names, or None when this run did not measure it."""
    match = _TARGET.fullmatch(name)
    assert match is not None, name
    query, n, spread, field = match[1], int(match[2]) * 1_000, match[3], match[4]
    if query == "batch":
        found: Row | BatchRow | None = next((b for b in batches if (b.n, b.spread) == (n, spread)), None)
        attribute = _BATCH_FIGURES[field]
    else:
        found = next((r for r in rows if (r.n, r.spread, r.query) == (n, spread, query)), None)
        attribute = _ROW_FIGURES[field]
    value = getattr(found, attribute) if found is not None else None
    return None if value is None else float(value)


def verdict(
    targets: dict[str, float], rows: Sequence[Row], batches: Sequence[BatchRow], postgis_failed: bool
) -> dict[str, bool | None]:
    """Whether each target is met (None when not measured), whether the answers agree, and ``all``."""
    passed = {name: met(name, bound, figure(name, rows, batches)) for name, bound in targets.items()}
    passed["batch_same_answers"] = all(b.same_answers for b in batches) if batches else None
    compared = [r.postgis_disagreements for r in rows if r.postgis_disagreements is not None]
    passed["postgis_agrees"] = False if postgis_failed else (not any(compared) if compared else None)
    passed["all"] = overall(passed)
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
    ("PostGIS µs", 10, lambda r: "-" if r.postgis_median_us is None else f"{r.postgis_median_us:,.0f}"),
    ("÷ ours", 7, lambda r: "-" if r.postgis_ratio is None else f"{r.postgis_ratio:,.1f}×"),
]


def table(rows: Sequence[Row], batches: Sequence[BatchRow]) -> str:
    """The figures as a fixed-width table, one line per (N, spread, query), then the batch lines."""
    head = " ".join(f"{name:>{width}}" for name, width, _ in _COLUMNS)
    lines = [head, "-" * len(head)]
    lines += [" ".join(f"{show(r):>{width}}" for _, width, show in _COLUMNS) for r in rows]
    lines.append(
        "* naive time scaled from a scan of that many closures to all N (a linear scan costs N × one)"
    )
    lines += [
        f"batch N={b.n:,} {b.spread}: {b.points:,} points, {b.batch_us_per_point:.2f} µs a point in one "
        f"near_many against {b.loop_us_per_point:.1f} µs in a loop of near = {b.speedup:.1f}× "
        f"({b.mean_hits:.1f} hits a point; {'same' if b.same_answers else 'DIFFERENT'} answers)"
        for b in batches
    ]
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
    add_target_option(parser, TARGETS, known=known_target)
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    sizes = [n for n in SIZES if args.max_n is None or n <= args.max_n] or [args.max_n]
    targets = chosen(TARGETS, args.target)
    started = time.monotonic()
    server = postgis.server_url()
    info: dict[str, Any] | None = None
    reason = server.reason if isinstance(server, postgis.Unavailable) else None
    if isinstance(server, str):
        try:
            with postgis.temporary_postgis(server) as db:
                info = {"version": db.version}
                rows, batches = run(plan, sizes, args.seed, stderr, db)
        except psycopg.Error as exc:
            reason = f"PostGIS failed: {type(exc).__name__}: {exc}".strip()
    if info is None:
        rows, batches = run(plan, sizes, args.seed, stderr, None)
    passed = verdict(targets, rows, batches, postgis_failed=isinstance(server, str) and info is None)
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
        "postgis": info,
        **({"postgis_reason": reason} if reason else {}),
        "results": [asdict(r) for r in rows],
        "batch": [asdict(b) for b in batches],
        "targets": targets,
        "passed": passed,
    }
    if not args.json_only:
        print(table(rows, batches), file=stdout)
        if reason:
            print(f"PostGIS: not compared ({reason})", file=stdout)
        print(f"targets: {targets}", file=stdout)
        print(f"passed:  {passed}", file=stdout)
    return finish(report, stdout)


if __name__ == "__main__":
    sys.exit(main())
