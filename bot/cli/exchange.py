"""``roadbot import``, ``roadbot export`` and ``roadbot poll``: closures in and out, partner feeds polled.

Import reads GeoJSON, WZDx or Waze CIFS (JSON or XML) from a file, standard input or an http(s) URL, and
applies it through ``closures.importing`` (idempotent by ``ref``; see there what each case does); CAP
alerts (``--format cap``) become draft emergencies instead (``bot.cli.capimport``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from bot.cli.capimport import import_cap
from bot.cli.capimport import summary as cap_summary
from bot.cli.common import MAX_INPUT_BYTES, CliError, Context, print_json, read_text_arg
from bot.cli.progress import progress
from bot.cli.records import closures_in
from bot.cli.webcmds import until_signalled
from bot.web.partners import PartnerPoller, default_source, fetch_feed, partner_polling
from closures.cap_import import CapImportReport
from closures.formats.geojson import exported_feature, feature_collection
from closures.importing import FORMATS, READERS, ImportReport, apply_import
from closures.service import Actor

IMPORT_ACTOR = Actor.system("import")
EXIT_REFUSED = 1


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "import",
        help="import closures from a file or URL: GeoJSON, WZDx or Waze CIFS (JSON or XML); or CAP alerts "
        "as draft emergencies",
    )
    cmd.add_argument("file", help="a file, an http(s) URL, or - for standard input")
    cmd.add_argument("--format", choices=(*FORMATS, "cap"), default="geojson", help="default: %(default)s")
    cmd.add_argument(
        "--municipality",
        metavar="SLUG",
        help="geojson: for features that name none; wzdx/cifs: where every event goes (default: the "
        "feed's data source / source reference); cap: draft only there (default: every municipality an "
        "alert's area meets)",
    )
    cmd.add_argument(
        "--source",
        help="what the closures' source says (default: FORMAT:HOST for a URL, FORMAT:file for a wzdx or "
        "cifs file, a GeoJSON feature's own source)",
    )
    cmd.add_argument(
        "--prune",
        action="store_true",
        help="lift (or cancel) open closures of this source that the feed no longer lists",
    )
    cmd.add_argument("--json", action="store_true", help="print a JSON summary")
    cmd.set_defaults(handler=import_closures)
    cmd = commands.add_parser("export", help="export closures as a GeoJSON FeatureCollection")
    cmd.add_argument("--output", "-o", help="file to write (default: standard output)")
    cmd.add_argument("--municipality", metavar="SLUG")
    cmd.add_argument("--all", action="store_true", help="include ended, lifted and cancelled closures")
    cmd.set_defaults(handler=export_closures)
    cmd = commands.add_parser("poll", help="poll the partner feeds of PARTNER_FEEDS into the registry")
    cmd.add_argument("--once", action="store_true", help="poll each feed once and stop")
    cmd.add_argument("--json", action="store_true", help="with --once: print one JSON object")
    cmd.set_defaults(handler=poll)


def import_closures(ctx: Context, args: argparse.Namespace) -> int:
    if args.format == "cap":
        return import_cap(ctx, args)
    is_url = args.file.startswith(("http://", "https://"))
    if is_url:
        settings = ctx.settings
        fetched = asyncio.run(
            fetch_feed(
                args.file,
                timeout_s=settings.partner_timeout_s,
                max_bytes=min(settings.partner_max_bytes, MAX_INPUT_BYTES),
            )
        )
        text = fetched.text or ""
    else:
        text = read_text_arg(args.file)
    source = args.source
    if source is None and (is_url or args.format != "geojson" or args.prune):
        source = default_source(args.format, args.file if is_url else None)
    report = import_text(
        ctx, text, fmt=args.format, municipality=args.municipality, source=source, prune=args.prune
    )
    if args.json:
        print_json(report.as_dict())
    else:
        over = (
            f", {report.lifted} lifted, {report.cancelled} cancelled"
            if report.lifted or report.cancelled
            else ""
        )
        gone = f", {report.removed} no longer listed (lifted)" if args.prune else ""
        print(
            f"imported {report.added} new, {report.updated} updated, {report.unchanged} unchanged{over}{gone}"
        )
    for rejected in report.rejected:
        print(f"roadbot: refused {rejected['ref'] or '(no ref)'}: {rejected['error']}", file=sys.stderr)
    return EXIT_REFUSED if report.rejected else 0


def import_text(
    ctx: Context,
    text: str,
    *,
    fmt: str = "geojson",
    municipality: str | None = None,
    source: str | None = None,
    prune: bool = False,
) -> ImportReport:
    """Read ``text`` in ``fmt`` and apply it (see ``closures.importing.apply_import``)."""
    if municipality is not None:
        ctx.municipality(municipality)  # a clear error for an unknown slug before anything is read
    items = READERS[fmt](text, now=ctx.service.clock(), source=source or "import")
    if prune and not items and municipality is None:
        raise CliError("--prune on an empty feed needs --municipality SLUG")
    geojson = fmt == "geojson"
    return apply_import(
        ctx.service,
        items,
        IMPORT_ACTOR,
        default_municipality=municipality if geojson else None,
        municipality=None if geojson else municipality,
        source=source,
        prune_source=source if prune else None,
        progress=lambda rows, n: progress(rows, total=n, label="importing"),
    )


def import_file(ctx: Context, text: str, *, default_municipality: str | None) -> dict[str, Any]:
    """Import a GeoJSON FeatureCollection (the demo's sample data); the summary as a plain dict."""
    return import_text(ctx, text, municipality=default_municipality).as_dict()


def poll(ctx: Context, args: argparse.Namespace) -> int:
    feeds = ctx.settings.partner_feeds
    if not feeds:
        raise CliError("no partner feeds configured: set PARTNER_FEEDS (a JSON list; see the README)")
    if not args.once:
        # Like the bots' own polling, in one process of all those sharing the database: say which.
        logging.getLogger("bot.singletons").setLevel(logging.INFO)
        print(f"polling {len(feeds)} partner feed(s); Ctrl-C stops", file=sys.stderr)
        singleton = partner_polling(ctx.settings, ctx.service, ctx.engine)
        return until_signalled(singleton.run)
    poller = PartnerPoller(ctx.settings, ctx.service)
    results = asyncio.run(poller.poll_all())
    if args.json:
        print_json({"feeds": [r.as_dict() for r in results]})
    else:
        for r in results:
            if r.report is None:
                print(f"{r.url}: failed: {r.error}")
            elif isinstance(r.report, CapImportReport):
                print(f"{r.url}: {cap_summary(r.report)}")
            else:
                rep = r.report
                print(
                    f"{r.url}: {rep.added} new, {rep.updated} updated, {rep.unchanged} unchanged, "
                    f"{rep.removed} no longer listed, {len(rep.rejected)} refused"
                )
    failed = any(r.error or (r.report and r.report.rejected) for r in results)
    return EXIT_REFUSED if failed else 0


def export_closures(ctx: Context, args: argparse.Namespace) -> None:
    rows = closures_in(ctx, args.municipality, include_all=args.all)
    text = json.dumps(
        feature_collection(exported_feature(c, slug) for c, slug in rows), ensure_ascii=False, indent=1
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
