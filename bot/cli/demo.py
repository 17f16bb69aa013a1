"""``roadbot demo``: a fresh SQLite file with the sample data, and what drivers at a few spots are told."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, Point

from bot.cli.admin import save_municipality
from bot.cli.common import Context, km, print_json
from bot.cli.exchange import import_file
from bot.cli.records import found_json, print_found
from bot.config import Settings
from closures.formats.geojson import read_municipalities
from closures.store import upgrade
from geo.projection import Projection


def register(commands: Any) -> None:
    cmd = commands.add_parser("demo", help="load the sample closures into a fresh SQLite file and query them")
    cmd.add_argument(
        "--database", default="var/demo.sqlite", help="SQLite file to (re)create (default: %(default)s)"
    )
    cmd.add_argument("--radius", type=float, default=3000.0, help="metres around each spot (default 3000)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=demo)


def load_sample_database(settings: Settings, path: Path) -> tuple[Context, dict[str, int]]:
    """(Re)create the SQLite file ``path`` with the sample municipalities and closures.

    Returns a context on it and the import counts; closure times are relative to now.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ctx = Context(settings.model_copy(update={"database_url": f"sqlite:///{path}"}))
    data = ctx.settings.data_dir
    upgrade(ctx.engine)
    for item in read_municipalities((data / "municipalities.geojson").read_text(encoding="utf-8")):
        save_municipality(ctx, item)
    counts = import_file(
        ctx, (data / "sample_closures.geojson").read_text(encoding="utf-8"), default_municipality=None
    )
    return ctx, counts


def demo(ctx: Context, args: argparse.Namespace) -> None:
    path = Path(args.database)
    ctx, counts = load_sample_database(ctx.settings, path)
    data = ctx.settings.data_dir
    spots = json.loads((data / "demo_spots.json").read_text(encoding="utf-8"))
    report = _report(ctx, spots, args.radius)
    if args.json:
        for entry in report["spots"] + report["routes"]:
            entry["found"] = [found_json(f) for f in entry["found"]]
        print_json({"database": str(path), "imported": counts, **report})
        return
    print(f"Loaded {counts['added']} sample closures into {path}.\n")
    zones = ctx.timezones()
    for spot in report["spots"]:
        print(f"A driver at {spot['name_en']} ({spot['lat']}, {spot['lon']}), within {km(args.radius)}:")
        print_found(spot["found"], zones)
        print()
    for route in report["routes"]:
        length = km(route["length_m"])
        print(f"A driver going {route['name_en']} ({length} as the crow flies; no road router set up):")
        print_found(route["found"], zones)
        print()
    print(f"Try: roadbot --database-url sqlite:///{path} near 24.7114 46.6744 --radius 2000")


def _report(ctx: Context, spots: dict[str, Any], radius: float) -> dict[str, Any]:
    out: dict[str, Any] = {"spots": [], "routes": []}
    for spot in spots["spots"]:
        found = ctx.queries.near(Point(spot["lon"], spot["lat"]), radius)
        out["spots"].append({**spot, "found": found})
    for route in spots["routes"]:
        line = LineString(
            [(route["from"]["lon"], route["from"]["lat"]), (route["to"]["lon"], route["to"]["lat"])]
        )
        found = ctx.queries.along(line, 200.0)
        length = Projection.for_geometry(line).to_metric(line).length
        out["routes"].append({**route, "length_m": round(length, 1), "found": found})
    return out
