"""Closures as drivers read them: pure functions from query results to Telegram HTML in one language.

Nothing here talks to Telegram; handlers send what these return with ``parse_mode=HTML``. Every value
that came from staff or a user (titles, lanes, detours) is clipped and HTML-escaped here; catalogue texts
are HTML-safe by construction. Every message stays within Telegram's 4096-character limit: a page lists
fewer closures when they are long, and says how many more there are.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.i18n import Translator
from bot.text.wording import DEFAULT_ZONE, REASON_ICON, direction, in_language, reason_of, severity
from closures.lifecycle import Phase
from closures.models import Reason
from closures.views import Found

MESSAGE_LIMIT = 4096  # Telegram's limit, in UTF-16 code units of the text
_BUDGET = MESSAGE_LIMIT - 96  # measured on the HTML source (an over-estimate), with room for a caller's line
_TITLE_MAX = 200
_LANES_MAX = 200
_DETOUR_MAX = 600


@dataclass(frozen=True, slots=True)
class Page:
    """One message of a results list: its text, how many closures it lists, where the next page starts."""

    text: str
    shown: int
    next_offset: int | None


def closure_line(found: Found, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """One closure of a results list: title, reason, how far and which way, lanes, direction, time, detour."""
    return closure_block(found, tr, tz, now, where=where_near(found, tr))


def route_message(
    found_list: Sequence[Found],
    tr: Translator,
    zones: Mapping[int, tzinfo],
    now: datetime,
    route_length_m: float,
    *,
    approximate: bool,
    blocked: bool,
) -> str:
    """The text of :func:`route_page`."""
    return route_page(
        found_list, tr, zones, now, route_length_m, approximate=approximate, blocked=blocked
    ).text


def route_page(
    found_list: Sequence[Found],
    tr: Translator,
    zones: Mapping[int, tzinfo],
    now: datetime,
    route_length_m: float,
    *,
    approximate: bool,
    blocked: bool,
) -> Page:
    """Closures along a route in the order the driver meets them, each placed by its kilometre."""
    length = tr.distance(route_length_m)
    if found_list:
        head = [f"<b>{tr.n('route.header', len(found_list), length=length)}</b>"]
    else:
        head = [tr.t("route.clear", length=length)]
    if blocked:
        head.append(tr.t("route.blocked"))
    tail = [tr.t("route.approximate")] if approximate else []
    blocks = [
        numbered(i, closure_block(f, tr, zone_of(zones, f), now, where=_where_on_route(f, tr)), tr)
        for i, f in enumerate(found_list)
    ]
    return fit(tr, head, blocks, tail, remaining_after_page=len(found_list), offset=0)


def none_nearby(tr: Translator, radius_m: float, nearest: Found | None) -> str:
    """Nothing within the radius: say how far and which way the nearest closure is, if there is one."""
    if nearest is None:
        return tr.t("results.none_at_all")
    radius, distance = tr.distance(radius_m), tr.distance(nearest.distance_m)
    if nearest.direction is None:
        return tr.t("results.none_within_distance", radius=radius, distance=distance)
    return tr.t(
        "results.none_within", radius=radius, distance=distance, direction=tr.compass(nearest.direction)
    )


def live_alert(ahead: Sequence[Found], tr: Translator, tz: tzinfo, now: datetime) -> str:
    """One message for a driver sharing their live location: the closures on their way, how far each is,
    and when one that is not in force yet begins."""

    def item(f: Found, one: bool) -> str:
        title = _user_text(in_language(tr, f.closure.title_ar, f.closure.title_en) or "", _TITLE_MAX)
        values = {"title": title, "distance": tr.distance(f.distance_m)}
        if f.phase is Phase.SCHEDULED:
            values["time"] = tr.time(f.closure.starts_at, tz, now)
            return tr.t("live.alert_starts" if one else "live.alert_item_starts", **values)
        return tr.t("live.alert" if one else "live.alert_item", **values)

    if len(ahead) == 1:
        return item(ahead[0], True)
    lines = [f"<b>{tr.n('live.alerts_header', len(ahead))}</b>"]
    lines += [f"• {item(f, False)}" for f in ahead]
    return "\n".join(lines)


# --- one closure ---


@dataclass(frozen=True, slots=True)
class ClosureParts:
    """One closure's facts as sentences of one language, each Telegram-HTML-safe (user text escaped)."""

    title: str
    reason_code: str
    reason: str
    severity: str
    direction: str
    timing: str
    detour: str | None


def closure_parts(found: Found, tr: Translator, tz: tzinfo, now: datetime) -> ClosureParts:
    """Title, reason, severity, direction, time and detour of a closure, as a list item shows them."""
    c = found.closure
    title = _user_text(in_language(tr, c.title_ar, c.title_en) or "", _TITLE_MAX)
    if tr.lang != "ar":
        # An Arabic title in an English list keeps its own direction; an Arabic line is left bare so that
        # clients still find its first strong (Arabic) letter and lay the paragraph out right to left.
        title = tr.embed(title)
    reason = reason_of(c)
    detour = in_language(tr, c.detour_ar, c.detour_en)
    return ClosureParts(
        title=title,
        reason_code=reason.value,
        reason=tr.t(f"reason.{reason.value}"),
        severity=severity(c, tr, lanes=lambda lanes: _user_text(lanes, _LANES_MAX)),
        direction=direction(c, tr),
        timing=_timing(found, tr, tz, now),
        detour=tr.t("closure.detour", detour=_user_text(detour, _DETOUR_MAX)) if detour else None,
    )


def closure_block(found: Found, tr: Translator, tz: tzinfo, now: datetime, *, where: str) -> str:
    """A closure as every list shows it, placed by ``where`` (how far and which way, its km, its shape)."""
    parts = closure_parts(found, tr, tz, now)
    lines = [
        f"<b>{parts.title}</b>",
        f"{REASON_ICON[Reason(parts.reason_code)]} {parts.reason} · {where}",
        f"{parts.severity} · {parts.direction}",
        f"🕒 {parts.timing}",
    ]
    if parts.detour:
        lines.append(f"🔀 {parts.detour}")
    return "\n".join(lines)


def where_near(found: Found, tr: Translator) -> str:
    if found.direction is None:
        return tr.t("closure.inside")
    return tr.t(
        "closure.distance_direction",
        distance=tr.distance(found.distance_m),
        direction=tr.compass(found.direction),
    )


def _where_on_route(found: Found, tr: Translator) -> str:
    if found.position_m is None:
        return where_near(found, tr)
    return tr.t("closure.at_km", km=tr.number(found.position_m / 1000, 1))


def _timing(found: Found, tr: Translator, tz: tzinfo, now: datetime) -> str:
    c = found.closure
    until = tr.t("timing.until", time=tr.time(c.ends_at, tz, now)) if c.ends_at else None
    start = tr.time(c.starts_at, tz, now)
    match found.phase:
        case Phase.SCHEDULED:
            return f"{tr.t('timing.starts', time=start)} · {until or tr.t('timing.open_ended')}"
        case Phase.ACTIVE if until:
            return until
        case Phase.ACTIVE:
            return f"{tr.t('timing.started', time=start)} · {tr.t('timing.open_ended')}"
        case _:
            return tr.t("timing.over")


# --- text helpers ---


def _user_text(text: str, limit: int) -> str:
    """Staff- or user-written text, clipped to ``limit`` characters and HTML-escaped."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=False)


def numbered(index: int, block: str, tr: Translator) -> str:
    return f"{tr.number(index + 1)}. {block}"


def zone_of(zones: Mapping[int, tzinfo], found: Found) -> tzinfo:
    return zones.get(found.closure.municipality_id, DEFAULT_ZONE)


def _length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), measured on the HTML source."""
    return len(text.encode("utf-16-le")) // 2


def fit(
    tr: Translator,
    head: list[str],
    blocks: list[str],
    tail: list[str],
    *,
    remaining_after_page: int,
    offset: int,
) -> Page:
    """Join head, as many blocks as fit (at least one) and tail, with a 'more' line for the rest."""

    def compose(shown: int) -> str:
        rest = remaining_after_page - shown
        more = [tr.n("results.more", rest)] if rest > 0 else []
        return "\n\n".join([*head, *blocks[:shown], *more, *tail])

    shown = min(1, len(blocks))
    text = compose(shown)
    while shown < len(blocks):
        candidate = compose(shown + 1)
        if _length(candidate) > _BUDGET:
            break
        shown, text = shown + 1, candidate
    next_offset = offset + shown if remaining_after_page - shown > 0 else None
    return Page(text, shown, next_offset)
