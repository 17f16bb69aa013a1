"""``roadbot import --format cap FILE|URL``: a partner's CAP alerts drafted as emergencies for staff.

A single alert or a feed of them (Atom or RSS), from a file or a URL; the alerts a feed links to are
fetched, at most 50, with the same bounded fetcher as every import (a relative link needs the feed's URL).
Each alert whose area meets a municipality becomes a draft there and its staff get a direct message with
Confirm and Dismiss; nothing is published (see ``closures.cap_import``). The report counts what happened
and names what was refused or outside every municipality. Exit: 0 done, 1 something refused, 2 not CAP (or
an XML bomb), 3 database, 4 the document could not be fetched.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.common import MAX_INPUT_BYTES, CliError, Context, print_json, read_text_arg
from bot.cli.progress import progress
from bot.web.cap_partners import CapRead, apply_cap, read_cap_source
from bot.web.partners import default_source, fetch_feed
from closures.cap_import import CapImportReport

EXIT_REFUSED = 1


def import_cap(ctx: Context, args: argparse.Namespace) -> int:
    if args.prune:
        raise CliError("--prune does not apply to CAP: the partner's Cancel withdraws its draft")
    if args.municipality is not None:
        ctx.municipality(args.municipality)  # a clear error for an unknown slug before anything is read
    is_url = args.file.startswith(("http://", "https://"))
    read = asyncio.run(_read(ctx, args.file, is_url=is_url))
    source = args.source or default_source("cap", args.file if is_url else None)
    report = apply_cap(
        ctx.emergencies,
        read,
        source=source,
        admins=ctx.settings.admin_user_ids,
        only=args.municipality,
        progress=lambda alerts, n: progress(alerts, total=n, label="drafting"),
    )
    if args.json:
        print_json(report.as_dict())  # everything is in it: what expired and what lies outside too
    else:
        print(summary(report))
        for late in report.late:
            print(f"roadbot: {late['alert']}: expired at {late['expired']}, nothing drafted", file=sys.stderr)
        for outside in report.outside:
            where = f"its area ({outside['area']}) meets no municipality"
            print(f"roadbot: {outside['alert']}: {where}", file=sys.stderr)
    for rejected in report.rejected:
        print(f"roadbot: refused {rejected['alert']}: {rejected['error']}", file=sys.stderr)
    return EXIT_REFUSED if report.rejected else 0


async def _read(ctx: Context, where: str, *, is_url: bool) -> CapRead:
    settings = ctx.settings
    max_bytes = min(settings.partner_max_bytes, MAX_INPUT_BYTES)

    async def fetch(url: str) -> str:
        fetched = await fetch_feed(url, timeout_s=settings.partner_timeout_s, max_bytes=max_bytes)
        return fetched.text or ""

    text = await fetch(where) if is_url else read_text_arg(where)
    return await read_cap_source(text, url=where if is_url else None, fetch=fetch, max_bytes=max_bytes)


def summary(report: CapImportReport) -> str:
    counts = (
        f"drafted {report.drafted}, replaced {report.replaced}, withdrawn {report.withdrawn}, "
        f"expired {report.expired}, noted {report.noted}, unchanged {report.unchanged}"
    )
    extra = [f"{len(report.outside)} outside every municipality"] if report.outside else []
    extra += [f"{len(report.rejected)} refused"] if report.rejected else []
    return "; ".join([counts, *extra])
