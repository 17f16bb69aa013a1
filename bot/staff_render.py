"""What staff read: a draft's preview, a closure's details, lists, the audit trail, what changed meanwhile.

Pure functions to Telegram HTML in one language, like ``bot.render`` (whose closure block the preview reuses,
so the preview reads as followers will read the closure). Staff-written values are escaped here.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from shapely.geometry.base import BaseGeometry

from bot import render
from bot.i18n import Translator
from bot.staffdraft import Draft
from closures.lifecycle import phase_at
from closures.models import Closure, ClosureEvent, Kind
from closures.rules import geometry_of
from closures.views import ClosureView, Found
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
_KIND = {"Point": Kind.POINT, "MultiPoint": Kind.POINT, "LineString": Kind.LINE, "MultiLineString": Kind.LINE}


def preview(draft: Draft, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """The draft as followers will read it, under a heading, with its English title when there is one."""
    view = _view_of_draft(draft)
    lines = [f"<b>{tr.t('staff.preview.header')}</b>", "", _block(view, tr, tz, now)]
    if draft.get("title_en") and tr.lang == "ar":
        lines.append(tr.t("staff.preview.title_en", title=escape(draft.get("title_en"))))
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
    kind = _KIND.get(geometry.geom_type, Kind.AREA)
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
    return render._closure_block(found, tr, tz, now, where=shape(view.geometry, view.radius_m, tr))


def _view_of_draft(draft: Draft) -> ClosureView:
    geometry = draft.geometry
    assert geometry is not None
    return ClosureView(
        id=draft.closure_id or 0,
        municipality_id=draft.municipality_id or 0,
        ref=None,
        kind=_KIND.get(geometry.geom_type, Kind.AREA).value,
        geometry=geometry,
        status="open",
        version=draft.version or 0,
        **{name: draft.get(name) for name in _VIEW_FIELDS},
    )


_VIEW_FIELDS = (
    "radius_m", "reason", "severity", "lanes_ar", "lanes_en", "direction", "heading", "starts_at", "ends_at",
    "title_ar", "title_en", "detour_ar", "detour_en",
)  # fmt: skip


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


def escape(text: str | None) -> str:
    return html.escape(text or "", quote=False)
