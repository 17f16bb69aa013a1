"""What staff read: a draft's preview, a closure's details, lists, the audit trail, what changed meanwhile.

Pure functions to Telegram HTML in one language, like ``bot.text.answers`` (whose closure block the preview
reuses, so the preview reads as followers will read the closure). Staff-written values are escaped here.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from shapely.geometry.base import BaseGeometry

from bot.i18n import Translator
from bot.text.answers import closure_block
from bot.text.wording import DEFAULT_ZONE
from closures.lifecycle import phase_at
from closures.models import Closure, ClosureEvent, Kind
from closures.publishing import Backlog
from closures.rules import geometry_of
from closures.staff import StaffMember
from closures.views import ClosureView, Found, kind_of
from geo.projection import Projection

# Column of a closure → the label of the field a person knows it by (None: not worth naming).
FIELD_OF_COLUMN: dict[str, str | None] = {
    "geometry_geojson": "geometry", "kind": "geometry", "radius_m": "geometry",
    "min_lon": None, "min_lat": None, "max_lon": None, "max_lat": None,
    "reason": "reason", "severity": "severity", "lanes_ar": "severity", "lanes_en": "severity",
    "direction": "direction", "heading": "direction", "starts_at": "starts_at", "ends_at": "ends_at",
    "detour_ar": "detour", "detour_en": "detour", "title_ar": "title", "title_en": "title",
    "description_ar": "description", "description_en": "description", "status": "status",
    "lifted_at": "status", "ref": None, "source": None, "created_by": None, "created_at": None,
    "updated_at": None, "version": None, "id": None, "municipality_id": None,
}  # fmt: skip


def preview(view: ClosureView, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """A draft (as a view) as followers will read it, under a heading, with its English title if any."""
    lines = [f"<b>{tr.t('staff.preview.header')}</b>", "", _block(view, tr, tz, now)]
    if view.title_en and tr.lang == "ar":
        lines.append(tr.t("staff.preview.title_en", title=escape(view.title_en)))
    return "\n".join(lines)


def detail(closure: Closure, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """``/show``: number, phase and version, the closure as drivers read it, who registered it."""
    view = ClosureView.of(closure, geometry_of(closure))
    head = tr.t(
        "staff.show.header",
        id=closure.id,
        phase=tr.t(f"staff.phase.{phase_at(closure, now).value}"),
        version=closure.version,
    )
    by = tr.t("staff.show.by", actor=closure.created_by)
    return "\n".join([f"<b>{head}</b>", _block(view, tr, tz, now), by])


def list_item(closure: Closure, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """One line of ``/list`` or ``/mine``."""
    title = closure.title_en if tr.lang == "en" and closure.title_en else closure.title_ar
    until = until_text(closure.ends_at, tr, tz, now)
    return tr.t(
        "staff.list.item",
        id=closure.id,
        title=escape(title),
        phase=tr.t(f"staff.phase.{phase_at(closure, now).value}"),
        until=until,
    )


def closure_list(
    closures: Sequence[Closure], total: int, tr: Translator, zone: Callable[[int], tzinfo], now: datetime
) -> str:
    """One page of ``/list`` or ``/mine``: how many there are in all, then a line per closure shown."""
    lines = [f"<b>{tr.n('staff.list.header', total)}</b>"]
    lines += [list_item(c, tr, zone(c.municipality_id), now) for c in closures]
    return "\n".join(lines)


def staff_list(members: Sequence[StaffMember], tr: Translator) -> str:
    """``/staff list``: each member with their role, municipality and name."""
    if not members:
        return tr.t("staff.staff.none")
    lines = [f"<b>{tr.t('staff.staff.header')}</b>"]
    for m in members:
        name = escape(m.name or "—")
        role = tr.t(f"staff.role.{m.role}")
        lines.append(
            tr.t("staff.staff.item", user=str(m.user_id), role=role, municipality=m.municipality, name=name)
        )
    return "\n".join(lines)


def until_text(ends_at: datetime | None, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """'Until 10:00 PM', or 'Until further notice'."""
    if ends_at is None:
        return tr.t("timing.open_ended")
    return tr.t("timing.until", time=tr.time(ends_at, tz, now))


def history(events: Iterable[ClosureEvent], tr: Translator, tz: tzinfo, now: datetime) -> str:
    """``/history``: one line per change, oldest first, naming the fields it changed."""
    lines = []
    for event in events:
        line = tr.t(
            "staff.history.item",
            version=event.version,
            action=tr.t(f"staff.action.{event.action}"),
            actor=event.actor,
            time=tr.time(event.at, tz, now),
        )
        if event.before_json:
            before, after = json.loads(event.before_json), json.loads(event.after_json)
            changed = labels((k for k in after if before.get(k) != after[k]), tr)
            if changed:
                line += "\n    " + tr.t("staff.history.changed", fields=changed)
        lines.append(line)
    return "\n".join(lines)


def conflict(changes: Mapping[str, tuple[Any, Any]], tr: Translator, tz: tzinfo, now: datetime) -> str:
    """What someone else changed meanwhile: each field a person knows, with its value now."""
    seen: dict[str, str] = {}
    for column, (_, value) in changes.items():
        name = FIELD_OF_COLUMN.get(column, column)
        if name is not None and name not in seen:
            seen[name] = _value(column, value, tr, tz, now)
    items = [f"• {tr.t(f'staff.field.{name}')}: {value}" for name, value in seen.items()]
    return "\n".join(items)


def labels(columns: Iterable[str], tr: Translator) -> str:
    """The fields these columns belong to, each named once, as a list in the reader's language."""
    names = dict.fromkeys(n for c in columns if (n := FIELD_OF_COLUMN.get(c, c)) is not None)
    return ("، " if tr.lang == "ar" else ", ").join(tr.t(f"staff.field.{n}") for n in names)


def shape(geometry: BaseGeometry, radius_m: float | None, tr: Translator) -> str:
    """'Point, radius 100 m', 'Line, 1.2 km', 'Area, 3,400 m²'."""
    kind = kind_of(geometry)
    if kind is Kind.POINT:
        return tr.t("staff.shape.point", radius=tr.distance(radius_m or 0))
    metric = Projection.for_geometry(geometry).to_metric(geometry)
    if kind is Kind.LINE:
        return tr.t("staff.shape.line", length=tr.distance(metric.length))
    if metric.area < 1_000_000:
        return tr.t("staff.shape.area_m2", area=tr.number(metric.area))
    return tr.t("staff.shape.area_km2", area=tr.number(metric.area / 1e6, 1))


def _block(view: ClosureView, tr: Translator, tz: tzinfo, now: datetime) -> str:
    found = Found(view, phase_at(view, now), 0.0, None)
    # the block drivers and followers read, placed by its shape instead of a distance from the reader
    return closure_block(found, tr, tz, now, where=shape(view.geometry, view.radius_m, tr))


def _value(column: str, value: Any, tr: Translator, tz: tzinfo, now: datetime) -> str:
    if value is None:
        return "—"
    if column in ("starts_at", "ends_at", "lifted_at"):
        return tr.time(datetime.fromisoformat(value), tz, now)
    if column in ("reason", "severity", "direction"):
        return tr.t(f"{column}.{value}")
    if column == "status":
        return tr.t(f"staff.status.{value}")
    if column in ("geometry_geojson", "kind", "radius_m"):
        return tr.t("staff.conflict.new_shape")
    if column == "heading":
        return tr.compass(value)
    return escape(str(value))


_OUTBOX_STATUSES = ("pending", "claimed", "done", "skipped", "dead")


def outbox_report(report: Backlog, tr: Translator, *, now: datetime) -> str:
    """``/outbox`` for admins: counts per status, the next due time, how many never-sent posts go out again
    by themselves, and the newest dead letters — each saying whether it may have been posted (look first)
    or provably was not (safe to retry)."""
    counts = {status: report.counts.get(status, 0) for status in _OUTBOX_STATUSES}
    lines = [f"<b>{tr.t('outbox.summary', **counts)}</b>"]
    if report.next_due is not None:
        lines.append(tr.t("outbox.next_due", time=tr.time(report.next_due, DEFAULT_ZONE, now)))
    elif not counts["claimed"]:
        lines.append(tr.t("outbox.idle"))
    if report.retrying:
        lines.append(tr.n("outbox.retrying", report.retrying))
    if report.dead:
        lines += ["", tr.t("outbox.dead_header")]
        for d in report.dead:
            item = tr.t(
                "outbox.dead_item", id=str(d.id), closure=str(d.closure_id), event=d.event,
                destination=html.escape(d.destination), attempts=d.attempts,
                reason=html.escape(d.reason[:300]),
            )  # fmt: skip
            where = html.escape(d.destination.partition(":")[2] or d.destination)
            case = (
                tr.t("outbox.dead_in_doubt", destination=where)
                if d.in_doubt
                else tr.t("outbox.dead_not_sent")
            )
            lines.append(f"• {item}\n  {case}")
    else:
        lines.append(tr.t("outbox.no_dead"))
    return "\n".join(lines)


def escape(text: str | None) -> str:
    return html.escape(text or "", quote=False)
