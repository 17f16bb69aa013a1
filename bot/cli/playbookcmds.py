"""``roadbot playbook list|show|import|export|remove``: a municipality's playbooks, in and out as GeoJSON
(the format: ``closures.formats.playbook``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import CliError, Context, print_json, read_text_arg
from closures.formats.playbook import playbook_collection, read_playbook
from closures.playbooks import PlaybookView
from closures.service import Actor

CLI_ACTOR = Actor.system("cli")


def register(commands: Any) -> None:
    playbook = commands.add_parser(
        "playbook", help="emergency playbooks: pre-drafted closures"
    ).add_subparsers(dest="playbook_command", metavar="ACTION", required=True)
    cmd = playbook.add_parser("list", help="a municipality's playbooks")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=list_playbooks)

    cmd = playbook.add_parser("show", help="one playbook's closures and detours")
    cmd.add_argument("name", help="the playbook's slug")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument("--json", action="store_true", help="print it as its GeoJSON FeatureCollection")
    cmd.set_defaults(handler=show)

    cmd = playbook.add_parser("import", help="add (or with --replace, replace) a playbook from GeoJSON")
    cmd.add_argument("file", help="a GeoJSON FeatureCollection ('-': stdin)")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument("--replace", action="store_true", help="replace a playbook of the same slug")
    cmd.add_argument("--slug", help="its slug, if the file gives none (or to override it)")
    cmd.add_argument("--name-ar", help="its Arabic name, if the file gives none")
    cmd.add_argument("--name-en", help="its English name, if the file gives none")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=import_playbook)

    cmd = playbook.add_parser("export", help="write a playbook as GeoJSON (importable again)")
    cmd.add_argument("name")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument("-o", "--output", help="a file (default: stdout)")
    cmd.set_defaults(handler=export)

    cmd = playbook.add_parser("remove", help="delete a playbook (closures it brought stay)")
    cmd.add_argument("name")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.set_defaults(handler=remove)


def _summary(book: PlaybookView) -> dict[str, Any]:
    return {
        "slug": book.slug,
        "name_ar": book.name_ar,
        "name_en": book.name_en,
        "hazard": book.hazard,
        "has_area": book.area is not None,
        "closures": len(book.closures),
    }


def list_playbooks(ctx: Context, args: argparse.Namespace) -> None:
    books = ctx.emergencies.playbooks.list(ctx.municipality(args.municipality).slug)
    if args.json:
        print_json({"count": len(books), "playbooks": [_summary(b) for b in books]})
        return
    if not books:
        print("no playbooks")
    for b in books:
        area = "own area" if b.area is not None else "no area"
        print(f"{b.slug:<28} {len(b.closures):>3} closures  {area:<8}  {b.name_en}")


def show(ctx: Context, args: argparse.Namespace) -> None:
    book = ctx.emergencies.playbooks.get(ctx.municipality(args.municipality).slug, args.name)
    if args.json:
        print_json(playbook_collection(book))
        return
    print(f"{book.slug}: {book.name_en} / {book.name_ar} ({book.hazard or 'any hazard'})")
    for n, c in enumerate(book.closures, 1):
        until = f"for {c.duration_min} min" if c.duration_min else "until the emergency ends"
        detour = f" — detour: {c.detour_en}" if c.detour_en else ""
        print(f"{n:>3}. {c.title_en or c.title_ar} ({until}){detour}")


def import_playbook(ctx: Context, args: argparse.Namespace) -> None:
    muni = ctx.municipality(args.municipality)
    draft = read_playbook(
        read_text_arg(args.file), slug=args.slug, name_ar=args.name_ar, name_en=args.name_en
    )
    book = ctx.emergencies.playbooks.save(muni.slug, draft, CLI_ACTOR, replace=args.replace)
    if args.json:
        print_json(_summary(book))
    else:
        print(f"saved playbook {book.slug} with {len(book.closures)} closures")


def export(ctx: Context, args: argparse.Namespace) -> None:
    book = ctx.emergencies.playbooks.get(ctx.municipality(args.municipality).slug, args.name)
    text = json.dumps(playbook_collection(book), ensure_ascii=False, indent=1) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{args.output}: {exc.strerror}") from exc
    print(f"wrote playbook {book.slug} ({len(book.closures)} closures) to {args.output}", file=sys.stderr)


def remove(ctx: Context, args: argparse.Namespace) -> None:
    ctx.emergencies.playbooks.remove(ctx.municipality(args.municipality).slug, args.name, CLI_ACTOR)
    print(f"removed playbook {args.name}")
