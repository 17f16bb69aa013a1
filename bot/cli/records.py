"""``roadbot closure …``, ``near``, ``import`` and ``export``: the closures themselves."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point

from bot.cli.common import CliError, Context, km, local, print_json, read_text_arg
from bot.cli.geometry_arg import read_geometry_arg
from bot.handlers.staff.timeinput import parse_end, parse_when
from closures.formats.geojson import closure_feature
from closures.lifecycle import phase_at
from closures.listing import ClosureListing
from closures.models import Closure, Direction, Reason, Severity
from closures.rules import ClosureDraft, geometry_of
from closures.service import Actor
from closures.views import Found
from geo.measure import COMPASS_CODES, direction_code, distance_m
from geo.parse import parse_coordinates

CLI_ACTOR = Actor.system("cli")


def register(commands: Any) -> None:
    closure = commands.add_parser("closure", help="register and manage closures").add_subparsers(
        dest="closure_command", metavar="ACTION", required=True
    )
    cmd = closure.add_parser("add", help="register a closure")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument(
        "--geometry", required=True, help="GeoJSON, WKT, 'lat,lon' or a map link; inline or a file"
    )
    cmd.add_argument("--reason", required=True, choices=[r.value for r in Reason])
    cmd.add_argument("--title-ar", required=True)
    cmd.add_argument("--title-en")
    cmd.add_argument(
        "--start", help="'now', ISO 8601, or 'YYYY-MM-DD HH:MM' local time (default: the Feature's, else now)"
    )
    cmd.add_argument(
        "--end",
        help="a time, a duration after the start ('3h'), or 'open' (default: the Feature's, else open)",
    )
    cmd.add_argument("--radius", type=float, help="metres around a point closure (default 100)")
    cmd.add_argument("--severity", choices=[s.value for s in Severity], default="full")
    cmd.add_argument("--lanes-ar")
    cmd.add_argument("--lanes-en")
    cmd.add_argument("--direction", choices=[d.value for d in Direction], default="both")
    cmd.add_argument(
        "--heading", choices=COMPASS_CODES, help="traffic direction affected, with --direction one"
    )
    for name in ("description-ar", "description-en", "detour-ar", "detour-en"):
        cmd.add_argument(f"--{name}")
    cmd.add_argument("--allow-past-start", action="store_true", help="accept a start over an hour ago")
    cmd.add_argument("--json", action="store_true", help="print the new closure as one JSON object")
    cmd.set_defaults(handler=closure_add)

    cmd = closure.add_parser("list", help="list closures (open ones unless --all)")
    cmd.add_argument("--municipality", metavar="SLUG")
    cmd.add_argument("--all", action="store_true", help="include ended, lifted and cancelled closures")
    cmd.add_argument("--near", metavar="LAT,LON", help="add distance and direction from this point")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=closure_list)

    for action, text in (("lift", "reopen the road now"), ("cancel", "withdraw a closure")):
        cmd = closure.add_parser(action, help=text)
        cmd.add_argument("id", type=int)
        cmd.add_argument("--version", type=int, help="refuse if the closure changed since this version")
        cmd.set_defaults(handler=closure_lift if action == "lift" else closure_cancel)
    cmd = closure.add_parser("extend", help="move the end later")
    cmd.add_argument("id", type=int)
    cmd.add_argument("end", help="a new end time, or a duration from the current end ('2h')")
    cmd.add_argument("--version", type=int, help="refuse if the closure changed since this version")
    cmd.set_defaults(handler=closure_extend)
    cmd = closure.add_parser("history", help="the audit trail of one closure")
    cmd.add_argument("id", type=int)
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=closure_history)

    cmd = commands.add_parser("near", help="what a driver at LAT LON would be told")
    cmd.add_argument("lat", help="latitude, or the whole 'lat, lon' pair in one argument")
    cmd.add_argument("lon", nargs="?", help="longitude (omit when LAT holds the pair)")
    cmd.add_argument("--radius", type=float, default=5000.0, help="metres (default 5000)")
    cmd.add_argument("--at", help="another moment than now (ISO 8601)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=near)


def closure_add(ctx: Context, args: argparse.Namespace) -> None:
    muni = ctx.municipality(args.municipality)
    tz, now = ZoneInfo(muni.timezone), ctx.service.clock()
    text = read_text_arg(args.geometry)
    placed = read_geometry_arg(text, args.start, args.end, tz=tz, now=now, limits=ctx.service.limits)
    draft = ClosureDraft(
        geometry=placed.geometry,
        reason=args.reason,
        starts_at=placed.starts_at,
        ends_at=placed.ends_at,
        radius_m=args.radius,
        **{name: getattr(args, name) for name in _TEXT_ARGS},
    )
    closure = ctx.service.register(muni.slug, draft, CLI_ACTOR, allow_past_start=args.allow_past_start)
    if args.json:
        print_json(closure_feature(closure, muni.slug))
    else:
        print(
            f"registered closure {closure.id} ({closure.kind}, {local(closure.starts_at, tz)} → "
            f"{local(closure.ends_at, tz)})"
        )


_TEXT_ARGS = (
    "title_ar", "title_en", "severity", "lanes_ar", "lanes_en", "direction", "heading",
    "description_ar", "description_en", "detour_ar", "detour_en",
)  # fmt: skip


def closure_list(ctx: Context, args: argparse.Namespace) -> None:
    origin = _point(args.near) if args.near else None
    rows = closures_in(ctx, args.municipality, include_all=args.all)
    now, zones = ctx.service.clock(), ctx.timezones()
    items = []
    for closure, slug in rows:
        item = _summary(closure, slug, phase_at(closure, now).value)
        if origin is not None:
            # Measured here rather than through the driver query, which leaves out closures that are
            # over, or start beyond the horizon: a listing shows them all. Same rule: to the edge.
            geometry = geometry_of(closure)
            distance = max(0.0, distance_m(origin, geometry) - (closure.radius_m or 0.0))
            item |= {"distance_m": round(distance, 1), "compass": direction_code(origin, geometry, points=8)}
        items.append(item)
    if args.json:
        print_json({"count": len(items), "closures": items})
        return
    for item, (closure, _) in zip(items, rows, strict=True):
        tz = zones[closure.municipality_id]
        where = (
            f"{km(item['distance_m']):>8} {item['compass'] or '':<3} "
            if item.get("distance_m") is not None
            else ""
        )
        print(
            f"#{item['id']:<5} {item['phase']:<9} {where}{local(closure.starts_at, tz)} → "
            f"{local(closure.ends_at, tz)}  {item['title']}"
        )


def closure_lift(ctx: Context, args: argparse.Namespace) -> None:
    closure = ctx.service.lift(args.id, CLI_ACTOR, expected_version=args.version)
    print(f"closure {closure.id} lifted (version {closure.version})")


def closure_cancel(ctx: Context, args: argparse.Namespace) -> None:
    closure = ctx.service.cancel(args.id, CLI_ACTOR, expected_version=args.version)
    print(f"closure {closure.id} cancelled (version {closure.version})")


def closure_extend(ctx: Context, args: argparse.Namespace) -> None:
    current = ctx.service.get(args.id)
    tz = ctx.timezones()[current.municipality_id]
    start = current.ends_at or current.starts_at
    new_end = parse_end(args.end, start=start, tz=tz, now=ctx.service.clock())
    if new_end is None:
        raise CliError("extend needs an end time or a duration")
    closure = ctx.service.extend(args.id, new_end, CLI_ACTOR, expected_version=args.version)
    print(f"closure {closure.id} now ends {local(closure.ends_at, tz)} (version {closure.version})")


def closure_history(ctx: Context, args: argparse.Namespace) -> None:
    events = ctx.service.history(args.id)
    items: list[dict[str, Any]] = [
        {"version": e.version, "action": e.action, "actor": e.actor, "at": e.at.isoformat(),
         "changed": _changed(e.before_json, e.after_json)}
        for e in events
    ]  # fmt: skip
    if args.json:
        print_json({"closure_id": args.id, "events": items})
        return
    for item in items:
        print(
            f"v{item['version']:<3} {item['at'][:19]} {item['action']:<10} {item['actor']:<12} "
            f"{', '.join(item['changed'])}"
        )


def near(ctx: Context, args: argparse.Namespace) -> None:
    point = _point(args.lat if args.lon is None else f"{args.lat},{args.lon}")
    if not (math.isfinite(args.radius) and args.radius > 0):
        raise CliError("--radius must be a number of metres more than 0")
    at = parse_when(args.at, tz=ZoneInfo("UTC"), now=ctx.service.clock()) if args.at else None
    found = ctx.queries.near(point, args.radius, at=at)
    if args.json:
        print_json({"lat": point.y, "lon": point.x, "radius_m": args.radius, "count": len(found),
                    "closures": [found_json(f) for f in found]})  # fmt: skip
        return
    print_found(found, ctx.timezones())


def found_json(found: Found) -> dict[str, Any]:
    c = found.closure
    return {
        "id": c.id, "ref": c.ref, "title": c.title_en or c.title_ar, "title_ar": c.title_ar,
        "title_en": c.title_en, "distance_m": round(found.distance_m, 1), "compass": found.direction,
        "phase": found.phase.value, "reason": c.reason, "severity": c.severity, "kind": c.kind,
        "starts_at": c.starts_at, "ends_at": c.ends_at, "detour_ar": c.detour_ar, "detour_en": c.detour_en,
        "position_m": None if found.position_m is None else round(found.position_m, 1),
    }  # fmt: skip


def print_found(found: list[Found], zones: dict[int, ZoneInfo]) -> None:
    if not found:
        print("  no closures here")
    for f in found:
        c, tz = f.closure, zones[f.closure.municipality_id]
        if f.phase.value == "active":
            timing = f"until {local(c.ends_at, tz)}" if c.ends_at else "until further notice"
        else:
            timing = f"from {local(c.starts_at, tz)}"
        where = f"at km {f.position_m / 1000:.1f}" if f.position_m is not None else f.direction or "here"
        title = c.title_en or c.title_ar
        print(f"  #{c.id:<4} {km(f.distance_m):>8} {where:<9} {f.phase.value:<9} {timing:<26} {title}")
        if c.detour_en or c.detour_ar:
            print(f"  {'':<5} detour: {c.detour_en or c.detour_ar}")


def closures_in(ctx: Context, slug: str | None, *, include_all: bool) -> list[tuple[Closure, str]]:
    now = ctx.service.clock()
    only = ctx.municipality(slug).slug if slug else None  # an unknown slug is one line and exit 2
    rows = ClosureListing(ctx.ready_engine(), clock=ctx.service.clock).every(municipality=only)
    if include_all:
        return rows
    return [(c, s) for c, s in rows if phase_at(c, now).value in ("scheduled", "active")]


def _summary(closure: Closure, slug: str, phase: str) -> dict[str, Any]:
    return {
        "id": closure.id,
        "ref": closure.ref,
        "municipality": slug,
        "title": closure.title_en or closure.title_ar,
        "title_ar": closure.title_ar,
        "title_en": closure.title_en,
        "phase": phase,
        "kind": closure.kind,
        "reason": closure.reason,
        "starts_at": closure.starts_at,
        "ends_at": closure.ends_at,
        "version": closure.version,
        "distance_m": None,
        "compass": None,
    }


def _point(text: str) -> Point:
    point = parse_coordinates(text)
    if point is None:
        raise CliError(f"not a latitude,longitude pair: {text!r}")
    return point


def _changed(before: str | None, after: str) -> list[str]:
    old, new = json.loads(before) if before else {}, json.loads(after)
    skip = {"version", "updated_at"}
    return sorted(k for k in new if k not in skip and old.get(k) != new[k]) if old else ["created"]
