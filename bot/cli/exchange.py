"""``roadbot import`` and ``roadbot export``: closures in and out as GeoJSON."""

from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import fields
from typing import Any

from sqlmodel import select

from bot.cli.common import CliError, Context, print_json, read_text_arg
from bot.cli.records import closures_in
from bot.progress import progress
from closures.formats.geojson import closure_feature, feature_collection, read_closures
from closures.models import Closure, Municipality, Status
from closures.rules import ClosureDraft, geometry_of
from closures.service import Actor
from closures.store import session_scope

IMPORT_ACTOR = Actor.system("import")


def register(commands: Any) -> None:
    cmd = commands.add_parser("import", help="import closures from a GeoJSON FeatureCollection")
    cmd.add_argument("file", help="a file, or - for standard input")
    cmd.add_argument("--municipality", metavar="SLUG", help="for features that name none")
    cmd.add_argument("--json", action="store_true", help="print a JSON summary")
    cmd.set_defaults(handler=import_closures)
    cmd = commands.add_parser("export", help="export closures as a GeoJSON FeatureCollection")
    cmd.add_argument("--output", "-o", help="file to write (default: standard output)")
    cmd.add_argument("--municipality", metavar="SLUG")
    cmd.add_argument("--all", action="store_true", help="include ended, lifted and cancelled closures")
    cmd.set_defaults(handler=export_closures)


def import_closures(ctx: Context, args: argparse.Namespace) -> None:
    summary = import_file(ctx, read_text_arg(args.file), default_municipality=args.municipality)
    if args.json:
        print_json(summary)
    else:
        print(
            f"imported {summary['added']} new, {summary['updated']} updated, {summary['unchanged']} unchanged"
        )


def import_file(ctx: Context, text: str, *, default_municipality: str | None) -> dict[str, int]:
    """Register each feature; one whose ``ref`` is known updates that closure, so re-import is idempotent."""
    items = read_closures(text, now=ctx.service.clock(), source="import")
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    for item in progress(items, total=len(items), label="importing"):
        slug = item.municipality or default_municipality
        if slug is None:
            raise CliError("a feature names no municipality: pass --municipality SLUG")
        existing = _by_ref(ctx, slug, item.draft.ref) if item.draft.ref else None
        if existing is None:
            ctx.service.register(slug, item.draft, IMPORT_ACTOR, allow_past_start=True)
            counts["added"] += 1
            continue
        changes = {k: v for k, v in _draft_values(item.draft).items() if _differs(existing, k, v)}
        if changes and existing.status == Status.OPEN:
            ctx.service.update(existing.id, existing.version, changes, IMPORT_ACTOR, allow_past_start=True)
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


def export_closures(ctx: Context, args: argparse.Namespace) -> None:
    rows = closures_in(ctx, args.municipality, include_all=args.all)
    text = json.dumps(
        feature_collection(_exported(c, slug) for c, slug in rows), ensure_ascii=False, indent=1
    )
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        except OSError as exc:
            raise CliError(f"{args.output}: {exc.strerror or exc}") from None
        print(f"wrote {len(rows)} closures to {args.output}")
    else:
        print(text)


def _exported(closure: Closure, slug: str) -> dict[str, Any]:
    """The closure's feature, with a ``ref`` even when it was registered without one.

    Import matches features to closures by ``ref``; without one, importing the same file twice would
    register everything twice. The ref made here is stable (the same closure always gets the same one,
    whatever it has become since) and unique across databases (it hashes the creation instant).
    """
    feature = closure_feature(closure, slug)
    if feature["properties"]["ref"] is None:
        identity = f"{slug}/{closure.id}/{closure.created_at.isoformat()}"
        feature["properties"]["ref"] = f"{slug}-{uuid.uuid5(_EXPORT_REFS, identity).hex[:16]}"
    return feature


_EXPORT_REFS = uuid.UUID("5d0c1f4e-8a53-4c1e-9a57-2f6a0b3c7d91")  # namespace of refs made on export


def _by_ref(ctx: Context, slug: str, ref: str) -> Closure | None:
    with session_scope(ctx.ready_engine()) as session:
        query = select(Closure).join(Municipality).where(Municipality.slug == slug, Closure.ref == ref)
        return session.exec(query).first()


def _draft_values(draft: ClosureDraft) -> dict[str, Any]:
    return {f.name: getattr(draft, f.name) for f in fields(draft) if f.name not in ("ref", "source")}


def _differs(closure: Closure, name: str, value: Any) -> bool:
    if name == "geometry":
        return not geometry_of(closure).equals_exact(value, 1e-9)
    return getattr(closure, name) != value
