"""What a driver reads at a red light: the closures around a point, summary first.

One summary line opens the answer (how many are in force now, the nearest and what it means for the
driver), then the closures in force now, two lines each, then the ones starting later, one line each. The
full block of any closure is one tap away (``bot.text.keyboards.results``: a numbered button per closure).
Pure, like ``bot.text.answers``; every page stays within Telegram's message limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from bot.i18n import Translator
from bot.text.answers import Page, closure_parts, fit, numbered, where_near, zone_of
from closures.lifecycle import Phase
from closures.models import Severity
from closures.views import Found


def in_force_first(found_list: Sequence[Found]) -> list[Found]:
    """Closures in force now (nearest first), then the upcoming ones (nearest first): the order shown."""
    return sorted(found_list, key=lambda f: f.phase is not Phase.ACTIVE)


def results_page(
    found_list: Sequence[Found],
    tr: Translator,
    zones: Mapping[int, tzinfo],
    now: datetime,
    radius_m: float,
    *,
    offset: int = 0,
    page_size: int = 10,
    heading_deg: float | None = None,
) -> Page:
    """The page starting at ``offset`` of ``in_force_first(found_list)``: summary, in force, upcoming.

    ``heading_deg`` is the heading of the driver's moving live trip, if any: closures then read as "on
    your way" or "behind you" instead of a compass point.
    """
    if offset < 0 or page_size < 1:
        raise ValueError(f"offset must be >= 0 and page_size >= 1, got {offset} and {page_size}")
    ordered = in_force_first(found_list)
    head = [summary(ordered, tr, radius_m, heading_deg=heading_deg)] if offset == 0 else []
    blocks: list[str] = []
    section: Phase | None = None
    for i, f in enumerate(ordered[offset : offset + page_size], start=offset):
        line = numbered(i, _brief(f, tr, zone_of(zones, f), now, heading_deg), tr)
        active = f.phase is Phase.ACTIVE
        if section is None or active != (section is Phase.ACTIVE):
            section = f.phase if active else Phase.SCHEDULED
            line = f"<b>{tr.t('results.in_force' if active else 'results.upcoming')}</b>\n{line}"
        blocks.append(line)
    return fit(tr, head, blocks, [], remaining_after_page=len(ordered) - offset, offset=offset)


def summary(
    ordered: Sequence[Found], tr: Translator, radius_m: float, *, heading_deg: float | None = None
) -> str:
    """The first line: how many are in force within the radius, and the nearest with what it means."""
    active = [f for f in ordered if f.phase is Phase.ACTIVE]
    radius = tr.distance(radius_m)
    if not active:
        return f"<b>{tr.n('results.summary_none_in_force', len(ordered), radius=radius)}</b>"
    nearest = active[0]
    meaning = tr.t(
        "results.means_full" if nearest.closure.severity == Severity.FULL else "results.means_partial"
    )
    where = where_driver(nearest, tr, heading_deg)
    return f"<b>{tr.n('results.summary', len(active), radius=radius, where=where, meaning=meaning)}</b>"


def where_driver(found: Found, tr: Translator, heading_deg: float | None) -> str:
    """How far and which way: "on your way" / "behind you" on a moving trip, else a compass point."""
    if heading_deg is None or found.bearing_deg is None:
        return where_near(found, tr)
    ahead = _angle(heading_deg, found.bearing_deg) <= 90.0
    key = "closure.on_your_way" if ahead else "closure.behind_you"
    return tr.t(key, distance=tr.distance(found.distance_m))


def _brief(found: Found, tr: Translator, tz: tzinfo, now: datetime, heading_deg: float | None) -> str:
    """In force: title, then where, lanes and until when. Upcoming: one line, title, where and start."""
    parts = closure_parts(found, tr, tz, now)
    where = where_driver(found, tr, heading_deg)
    if found.phase is Phase.ACTIVE:
        return f"<b>{parts.title}</b>\n{where} · {parts.severity} · {parts.timing}"
    starts = tr.t("timing.starts", time=tr.time(found.closure.starts_at, tz, now))
    return f"<b>{parts.title}</b> · {where} · {starts}"


def _angle(a: float, b: float) -> float:
    diff = abs(a - b) % 360.0
    return min(diff, 360.0 - diff)
