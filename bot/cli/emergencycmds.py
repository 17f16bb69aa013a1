"""``roadbot emergency declare|update|end|list|show``: emergencies from the shell (playbooks are in
``playbookcmds``).

An emergency declared here is posted by the running bot's outbox worker like one declared on Telegram
(the channel post, X, a message to each person reached); ``--dry-run`` only says what it would do.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.common import CliError, Context, local, print_json, read_text_arg
from bot.handlers.staff.timeinput import parse_end
from bot.text.emergency_staff import headline_proposal, instruction_proposal
from closures.emergencies import EmergencyDraft, Issued, Plan
from closures.emergency_models import AlertLevel, AreaSource, Emergency, Hazard
from closures.emergency_rules import AREA_LIMITS
from closures.service import Actor
from geo.parse import parse_geometry

CLI_ACTOR = Actor.system("cli")
_TEXTS = ("headline_ar", "headline_en", "instruction_ar", "instruction_en", "area_desc_ar", "area_desc_en")


def register(commands: Any) -> None:
    emergency = commands.add_parser("emergency", help="declare, update and end emergencies").add_subparsers(
        dest="emergency_command", metavar="ACTION", required=True
    )
    cmd = emergency.add_parser("declare", help="declare an emergency (posted by the running bot)")
    cmd.add_argument("--municipality", required=True, metavar="SLUG")
    cmd.add_argument("--hazard", required=True, choices=[h.value for h in Hazard])
    cmd.add_argument(
        "--level",
        required=True,
        choices=[lv.value for lv in AlertLevel],
        help="the NCM colour scale: advice (green), alert (yellow), warning (orange), alarm (red)",
    )
    _area_arguments(cmd)
    cmd.add_argument("--expires", required=True, help="a duration ('6h') or a time ('22:00', ISO 8601)")
    _text_arguments(cmd, proposals=True)
    cmd.add_argument("--playbook", action="append", default=[], metavar="NAME", help="activate (repeatable)")
    cmd.add_argument("--exercise", action="store_true", help="a rehearsal: staff only, no road closed")
    cmd.add_argument("--dry-run", action="store_true", help="say what it would do and whom it reaches")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=declare)

    cmd = emergency.add_parser("update", help="issue a new version of an emergency in force")
    cmd.add_argument("id", type=int, help="the emergency's number")
    cmd.add_argument("--level", choices=[lv.value for lv in AlertLevel])
    _area_arguments(cmd, required=False)
    cmd.add_argument("--expires", help="a new end: a duration from now ('3h') or a time")
    _text_arguments(cmd, proposals=False)
    cmd.add_argument("--playbook", action="append", default=[], metavar="NAME", help="activate (repeatable)")
    cmd.add_argument("--version", type=int, help="refuse if another version was issued since this one")
    cmd.add_argument("--dry-run", action="store_true", help="say what it would do and whom it reaches")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=update)

    cmd = emergency.add_parser("end", help="end an emergency (its closures reopen; everyone reached is told)")
    cmd.add_argument("id", type=int)
    cmd.add_argument("--version", type=int, help="refuse if another version was issued since this one")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=end)

    cmd = emergency.add_parser("list", help="emergencies in force (all recent ones with --all)")
    cmd.add_argument("--municipality", metavar="SLUG")
    cmd.add_argument("--all", action="store_true", help="include ended and expired emergencies")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=list_emergencies)

    cmd = emergency.add_parser("show", help="an emergency's versions and audit trail")
    cmd.add_argument("id", type=int)
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=show)


def _area_arguments(cmd: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = cmd.add_mutually_exclusive_group(required=required)
    group.add_argument("--area", help="GeoJSON or WKT polygon, inline or a file ('-': stdin)")
    group.add_argument("--whole", action="store_true", help="the whole municipality")
    group.add_argument("--playbook-area", action="store_true", help="the area of the --playbook(s)")
    cmd.add_argument("--area-desc-ar", help="a short name of the area in Arabic (under 50 characters)")
    cmd.add_argument("--area-desc-en", help="the same in English")


def _text_arguments(cmd: argparse.ArgumentParser, *, proposals: bool) -> None:
    default = " (default: proposed from the hazard and level)" if proposals else ""
    for name in ("headline-ar", "headline-en", "instruction-ar", "instruction-en"):
        cmd.add_argument(f"--{name}", help=f"{name.replace('-', ' ')}{default}")


def _area_from(args: argparse.Namespace) -> tuple[Any, str]:
    if args.whole:
        return None, AreaSource.MUNICIPALITY.value
    if args.playbook_area:
        return None, AreaSource.PLAYBOOK.value
    if args.area:
        return parse_geometry(read_text_arg(args.area), limits=AREA_LIMITS), AreaSource.DRAWN.value
    return None, AreaSource.DRAWN.value


def _expiry(ctx: Context, text: str, zone: ZoneInfo) -> datetime:
    now = ctx.service.clock()
    expires = parse_end(text, start=now, tz=zone, now=now)
    if expires is None:
        raise CliError("an emergency needs an end: give a duration or a time")
    return expires


def declare(ctx: Context, args: argparse.Namespace) -> None:
    muni = ctx.municipality(args.municipality)
    zone = ZoneInfo(muni.timezone)
    area, area_from = _area_from(args)
    texts = {name: getattr(args, name) for name in _TEXTS}
    for lang in ("ar", "en"):
        desc = texts[f"area_desc_{lang}"] or getattr(muni, f"name_{lang}")
        texts[f"headline_{lang}"] = texts[f"headline_{lang}"] or headline_proposal(
            lang, args.hazard, args.level, desc
        )
        texts[f"instruction_{lang}"] = texts[f"instruction_{lang}"] or instruction_proposal(lang, args.hazard)
    draft = EmergencyDraft(
        hazard=args.hazard,
        level=args.level,
        expires_at=_expiry(ctx, args.expires, zone),
        area=area,
        area_from=area_from,
        playbooks=tuple(args.playbook),
        exercise=args.exercise,
        **texts,
    )
    if args.dry_run:
        _said_plan(ctx.emergencies.plan(muni.slug, draft, CLI_ACTOR), args)
        return
    _said_issued(ctx.emergencies.declare(muni.slug, draft, CLI_ACTOR), args, zone, "declared")


def update(ctx: Context, args: argparse.Namespace) -> None:
    current = ctx.emergencies.current(args.id)
    zone = ctx.timezones().get(current.municipality_id) or ZoneInfo("Asia/Riyadh")
    changes: dict[str, Any] = {name: getattr(args, name) for name in _TEXTS if getattr(args, name)}
    if args.level:
        changes["level"] = args.level
    if args.expires:
        changes["expires_at"] = _expiry(ctx, args.expires, zone)
    if args.area or args.whole or args.playbook_area:
        changes["area"], changes["area_from"] = _area_from(args)
    if args.playbook:
        changes["playbooks"] = tuple(args.playbook)
    if not changes:
        raise CliError("nothing to change: give --level, --expires, --area, a text or --playbook")
    if args.dry_run:
        _said_plan(ctx.emergencies.plan_update(args.id, changes, CLI_ACTOR), args)
        return
    issued = ctx.emergencies.update(args.id, changes, CLI_ACTOR, expected_version=args.version)
    _said_issued(issued, args, zone, "updated")


def end(ctx: Context, args: argparse.Namespace) -> None:
    issued = ctx.emergencies.end(args.id, CLI_ACTOR, expected_version=args.version)
    zone = ctx.timezones().get(issued.emergency.municipality_id, ZoneInfo("Asia/Riyadh"))
    _said_issued(issued, args, zone, "ended")


def list_emergencies(ctx: Context, args: argparse.Namespace) -> None:
    emergencies = ctx.emergencies
    rows = emergencies.listing(args.municipality) if args.all else emergencies.active(args.municipality)
    zones, active = ctx.timezones(), emergencies.active(args.municipality)
    if args.json:
        print_json({"count": len(rows), "emergencies": [summary(e) for e in rows]})
        return
    if not rows:
        print("no emergency in force" if not args.all else "no emergency")
    for e in rows:
        zone = zones.get(e.municipality_id, ZoneInfo("Asia/Riyadh"))
        state = "ended" if e.msg_type == "cancel" else ("in force" if e in active else "expired")
        test = " EXERCISE" if e.exercise else ""
        print(
            f"#{e.first_id:<4} v{e.version:<3} {e.level:<8} {e.hazard:<9} {state:<8}{test} "
            f"until {local(e.expires_at, zone)}  {e.headline_en}"
        )


def show(ctx: Context, args: argparse.Namespace) -> None:
    versions = ctx.emergencies.series(args.id)
    history = ctx.emergencies.history(args.id)
    links = ctx.emergencies.closures_of(args.id)
    if args.json:
        trail = [{"version": h.version, "action": h.action, "actor": h.actor, "at": h.at} for h in history]
        brought = [
            {"id": c.id, "title_en": c.title_en, "status": c.status, "follows_expiry": link.follows_expiry}
            for link, c in links
        ]
        print_json({"versions": [summary(v) for v in versions], "history": trail, "closures": brought})
        return
    for h in history:
        print(f"v{h.version:<3} {h.action:<10} {h.at.isoformat(timespec='minutes')}  by {h.actor}")
    for link, c in links:
        own = "" if link.follows_expiry else " (own end)"
        print(f"closure #{c.id} {c.status:<9} {c.title_en or c.title_ar}{own}")


def summary(e: Emergency) -> dict[str, Any]:
    """One version as scripts read it (times ISO 8601, the area as GeoJSON)."""
    names = (
        "first_id", "version", "identifier", "msg_type", "exercise", "hazard", "level", "cap_severity",
        "cap_urgency", "cap_certainty", *_TEXTS, "sent_at", "expires_at", "clipped_share", "source",
    )  # fmt: skip
    return {name: getattr(e, name) for name in names} | {"area": json.loads(e.area_geojson)}


def _said_plan(plan: Plan, args: argparse.Namespace) -> None:
    reach = plan.reach
    data = {
        "clipped_share": plan.area.clipped_share,
        "area_km2": round(plan.area.area_m2 / 1e6, 3),
        "closures": [d.title_en or d.title_ar for d in plan.closures],
        "reach": {
            "subscribers": reach.subscribers,
            "drivers": reach.drivers,
            "staff": reach.staff,
            "total": reach.total,
        }
        if reach
        else None,
    }
    if args.json:
        print_json(data)
        return
    people = "?"
    if reach is not None:
        people = f"{reach.total} people ({reach.subscribers} subscribers, {reach.drivers} drivers, "
        people += f"{reach.staff} staff)"
    print(
        f"would reach {people}; area {data['area_km2']} km², {plan.area.clipped_share:.0%} cut off at the "
        f"boundary; {len(plan.closures)} closures"
    )


def _said_issued(issued: Issued, args: argparse.Namespace, zone: ZoneInfo, verb: str) -> None:
    e = issued.emergency
    if args.json:
        print_json(
            summary(e)
            | {"closures": [c.id for c in issued.closures], "changed": [c.id for c in issued.changed]}
        )
        return
    cut = f", {e.clipped_share:.0%} of the area given cut off at the boundary" if e.clipped_share else ""
    print(
        f"{verb} emergency {e.first_id} (version {e.version}, {e.level} {e.hazard}, until "
        f"{local(e.expires_at, zone)}){cut}; {len(issued.closures)} closures registered, "
        f"{len(issued.changed)} changed"
    )
