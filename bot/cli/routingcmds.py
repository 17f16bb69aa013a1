"""``roadbot routing``: build Valhalla tiles from an OpenStreetMap extract, and try the configured router."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shapely.geometry import Point

from bot.cli.common import CliError, Context, km, print_json
from bot.cli.progress import progress
from bot.services.engines import engine_from_settings
from geo.coords import parse_coordinates
from geo.errors import RoutingError
from geo.routing import Route, StraightLineRouter
from geo.valhalla_tiles import STAGES, TilesError, build_tiles


class RoutingFailed(CliError):
    """The routing engine failed; said in one line (exit 1, unlike bad usage)."""


def register(commands: Any) -> None:
    routing = commands.add_parser("routing", help="road routing: build Valhalla tiles, try the router")
    sub = routing.add_subparsers(dest="routing_command", metavar="ACTION", required=True)

    build = sub.add_parser(
        "build",
        help="build Valhalla routing tiles from an OpenStreetMap .osm.pbf extract",
        epilog="Exit codes: 0 built; 1 the build failed; 2 bad input (no such file, pyvalhalla missing).",
    )
    build.add_argument("--pbf", type=Path, required=True, help="the extract, e.g. gcc-states-latest.osm.pbf")
    build.add_argument(
        "--tiles-dir",
        type=Path,
        help="where the tiles go (default: $ROUTING_TILES_DIR or var/valhalla_tiles)",
    )
    build.add_argument("--threads", type=int, default=0, help="build threads (default: every core)")
    build.add_argument("--json", action="store_true", help="print one JSON object")
    build.set_defaults(handler=build_command)

    route = sub.add_parser(
        "route",
        help='a route between two places with the configured engine, e.g. "24.69,46.67" "24.72,46.69"',
        epilog="Exit codes: 0 routed; 1 the engine failed or found no route; 2 bad input.",
    )
    route.add_argument("origin", help='"lat,lon"')
    route.add_argument("destination", help='"lat,lon"')
    route.add_argument("--json", action="store_true", help="print one JSON object")
    route.set_defaults(handler=route_command)


def build_command(ctx: Context, args: argparse.Namespace) -> int:
    tiles_dir = args.tiles_dir or ctx.settings.routing_tiles_dir
    stages = _Stages()
    try:
        built = build_tiles(args.pbf, tiles_dir, on_stage=stages.done, threads=args.threads)
    except TilesError as exc:
        stages.close()
        if "no such file" in str(exc) or "not installed" in str(exc) or "holds other files" in str(exc):
            raise CliError(str(exc)) from exc
        print(f"roadbot: build failed: {exc}", file=sys.stderr)
        return 1
    stages.close()
    summary = {
        "tiles_dir": str(built.tiles_dir),
        "config": str(built.config),
        "tiles": built.tiles,
        "size_bytes": built.size_bytes,
        "seconds": round(built.seconds, 2),
    }
    if args.json:
        print_json(summary)
    else:
        print(f"built {built.tiles} tiles ({built.size_bytes / 1e6:.1f} MB) in {built.seconds:.1f} s")
        print(f"tiles: {built.tiles_dir}")
        print(f"to route on them: ROUTING_ENGINE=valhalla ROUTING_TILES_DIR={built.tiles_dir}")
    return 0


def route_command(ctx: Context, args: argparse.Namespace) -> int:
    origin, destination = _point(args.origin), _point(args.destination)
    engine = engine_from_settings(ctx.settings) or StraightLineRouter()
    started = time.monotonic()
    try:
        route = engine.route(origin, destination)
    except RoutingError as exc:
        raise RoutingFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    seconds = time.monotonic() - started
    if args.json:
        print_json({**route_json(route), "seconds": round(seconds, 4)})
    else:
        label = " (approximate: no road engine configured)" if route.approximate else ""
        print(f"{route.engine}{label}: {km(route.length_m)}, {route.duration_s / 60:.0f} min")
        if route.street_names:
            print("via " + ", ".join(route.street_names))
    return 0


def route_json(route: Route) -> dict[str, Any]:
    return {
        "engine": route.engine,
        "approximate": route.approximate,
        "length_m": round(route.length_m, 1),
        "duration_s": round(route.duration_s, 1),
        "street_names": list(route.street_names),
        "line": [[round(x, 6), round(y, 6)] for x, y in route.line.coords],
    }


def _point(text: str) -> Point:
    point = parse_coordinates(text)
    if point is None:
        raise CliError(f'not a "lat,lon" pair: {text!r}')
    return point


class _Stages:
    """Drives the progress bar from the builder's stage callbacks (the bar pulls, the builder pushes).

    ``progress`` draws "k done" when asked for item k + 1, so one item is taken ahead at the start.
    """

    def __init__(self) -> None:
        self._bar: Iterator[int] = progress(
            iter(range(len(STAGES))), total=len(STAGES), label="building tiles"
        )
        next(self._bar, None)
        self._reached = 0

    def done(self, count: int, stage: str) -> None:
        while self._reached < count:
            next(self._bar, None)
            self._reached += 1

    def close(self) -> None:
        """End the bar: drawn full and closed with a newline when every stage ran, else cut short."""
        if self._reached == len(STAGES):
            next(self._bar, None)  # the generator's end writes the newline
        elif sys.stderr.isatty():
            print(file=sys.stderr)
