"""``roadbot db``, ``roadbot municipality`` and ``roadbot staff``: setting up who and where."""

from __future__ import annotations

import argparse
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from pyproj.exceptions import ProjError

from bot.cli.common import CliError, Context, print_json, read_text_arg
from bot.cli.progress import progress
from closures import municipalities
from closures.formats.geojson import BOUNDARY_LIMITS, ImportedMunicipality, read_municipalities
from closures.models import Role
from closures.service import Actor
from closures.staff import StaffDirectory
from closures.store import current_revision, pending_revisions, upgrade
from geo.parse import parse_geometry
from geo.projection import Projection

CLI_ACTOR = Actor.system("cli")


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="create or migrate the database").add_subparsers(
        dest="db_command", metavar="ACTION", required=True
    )
    cmd = db.add_parser("upgrade", help="apply migrations up to the newest schema")
    cmd.set_defaults(handler=db_upgrade)
    cmd = db.add_parser("current", help="print the schema revision")
    cmd.set_defaults(handler=lambda ctx, args: print(current_revision(ctx.existing_engine()) or "none"))

    muni = commands.add_parser("municipality", help="municipalities and their boundaries").add_subparsers(
        dest="muni_command", metavar="ACTION", required=True
    )
    cmd = muni.add_parser("add", help="add or update one municipality")
    cmd.add_argument("slug", help="short name, e.g. riyadh")
    cmd.add_argument("--name-ar", required=True)
    cmd.add_argument("--name-en", required=True)
    cmd.add_argument("--boundary", required=True, help="GeoJSON/WKT polygon, inline or a file")
    cmd.add_argument("--timezone", default="Asia/Riyadh")
    cmd.add_argument("--radius", type=int, default=5000, help="default driver radius in metres")
    cmd.add_argument("--epsg", type=int, help="metric CRS to use instead of the UTM zone")
    cmd.set_defaults(handler=municipality_add)
    cmd = muni.add_parser("load", help="add or update every municipality in a GeoJSON FeatureCollection")
    cmd.add_argument("file")
    cmd.set_defaults(handler=municipality_load)
    cmd = muni.add_parser("list", help="list municipalities")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=municipality_list)

    staff = commands.add_parser("staff", help="who may register closures").add_subparsers(
        dest="staff_command", metavar="ACTION", required=True
    )
    cmd = staff.add_parser("add", help="authorise a Telegram user for a municipality")
    cmd.add_argument("user_id", type=int, help="Telegram user id")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument("--role", choices=[r.value for r in Role], default=Role.STAFF.value)
    cmd.add_argument("--name", help="a name to recognise them by")
    cmd.set_defaults(handler=staff_add)
    cmd = staff.add_parser("remove", help="withdraw a user's authorisation")
    cmd.add_argument("user_id", type=int)
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.set_defaults(handler=staff_remove)
    cmd = staff.add_parser("list", help="list staff")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=staff_list)


def db_upgrade(ctx: Context, args: argparse.Namespace) -> None:
    """Apply the pending migrations one by one, with a progress bar (a fresh PostgreSQL takes seconds)."""
    pending = pending_revisions(ctx.engine)
    for revision in progress(pending, total=len(pending), label="migrating"):
        upgrade(ctx.engine, revision)
    print(f"database at revision {current_revision(ctx.engine)}")


def save_municipality(ctx: Context, item: ImportedMunicipality) -> str:
    """Insert or update by slug; returns 'added' or 'updated'."""
    _check_zone_and_crs(item)
    return municipalities.save(ctx.ready_engine(), item)


MAX_SCALE_ERROR = 0.01  # 1 %: UTM stays within 0.1 % in its zone and 0.7 % one zone over


def _check_zone_and_crs(item: ImportedMunicipality) -> None:
    """Refuse a zone or CRS that cannot be loaded: stored, it would break every later command."""
    try:
        ZoneInfo(item.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(f"{item.slug}: unknown time zone {item.timezone!r} (e.g. Asia/Riyadh)") from None
    if item.epsg is not None:
        try:
            projection = Projection(item.epsg)
        except (ProjError, ValueError) as exc:
            raise CliError(f"{item.slug}: EPSG:{item.epsg} is not a metric projection ({exc})") from None
        # Metric is not enough: every distance and radius is measured in this CRS, so it must be true to
        # scale over the municipality (Web Mercator, say, is 10 % long in Riyadh).
        error = projection.scale_error(shapely.from_geojson(item.boundary_geojson))
        if error > MAX_SCALE_ERROR:
            raise CliError(
                f"{item.slug}: EPSG:{item.epsg} distorts distances by up to {error:.1%} over the "
                f"municipality (at most {MAX_SCALE_ERROR:.0%}): leave --epsg out for the local UTM zone, "
                "or choose a local CRS"
            )


def municipality_add(ctx: Context, args: argparse.Namespace) -> None:
    boundary = parse_geometry(read_text_arg(args.boundary), limits=BOUNDARY_LIMITS)
    if boundary.geom_type not in ("Polygon", "MultiPolygon"):
        raise CliError(f"--boundary must be a polygon, not a {boundary.geom_type}")
    item = ImportedMunicipality(
        args.slug,
        args.name_ar,
        args.name_en,
        shapely.to_geojson(boundary),
        args.timezone,
        args.radius,
        args.epsg,
    )
    print(f"{save_municipality(ctx, item)} municipality {args.slug}")


def municipality_load(ctx: Context, args: argparse.Namespace) -> None:
    for item in read_municipalities(read_text_arg(args.file)):
        print(f"{save_municipality(ctx, item)} municipality {item.slug}")


def municipality_list(ctx: Context, args: argparse.Namespace) -> None:
    items = [
        {"id": m.id, "slug": m.slug, "name_ar": m.name_ar, "name_en": m.name_en, "timezone": m.timezone}
        for m in municipalities.every(ctx.ready_engine())
    ]
    if args.json:
        print_json({"municipalities": items})
        return
    for m in items:
        print(f"{m['slug']:<16} {m['name_en']} / {m['name_ar']} ({m['timezone']})")


def _directory(ctx: Context) -> StaffDirectory:
    return StaffDirectory(ctx.ready_engine())


def staff_add(ctx: Context, args: argparse.Namespace) -> None:
    muni = ctx.municipality(args.municipality)
    member = _directory(ctx).add(muni.slug, args.user_id, args.role, actor=CLI_ACTOR, name=args.name)
    print(f"user {member.user_id} is {member.role} of {member.municipality}")


def staff_remove(ctx: Context, args: argparse.Namespace) -> None:
    muni = ctx.municipality(args.municipality)
    _directory(ctx).remove(muni.slug, args.user_id, actor=CLI_ACTOR)
    print(f"user {args.user_id} is no longer staff of {muni.slug}")


def staff_list(ctx: Context, args: argparse.Namespace) -> None:
    rows = [
        {"user_id": m.user_id, "role": m.role, "municipality": m.municipality, "name": m.name}
        for m in _directory(ctx).list()
    ]
    if args.json:
        print_json({"staff": rows})
        return
    for r in rows:
        print(f"{r['user_id']:<14} {r['role']:<6} {r['municipality']:<12} {r['name'] or ''}")
