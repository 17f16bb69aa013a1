"""What people read about an emergency: the channel post, the X posts and each person's direct message —
pure functions of a prepared row (``closures.emergency_publishing.EmergencyPost``), Arabic first.

Short enough for a red light: the level and headline first, then what to do, where, until when, and the
roads it closed. A post that would break a limit is composed again with less (a clipped instruction, fewer
road names, no area line) until it fits: 4096 UTF-16 units for a Telegram text, 280 weighted characters
on X (each language its own post, the English one a reply).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.i18n import Translator, get_translator
from bot.text.posts import TEXT_LIMIT, X_LIMIT, XPost, utf16_length, x_length
from closures.emergency_models import AlertLevel, Emergency, EmergencyAction, ReachReason
from closures.emergency_publishing import BroughtClosure, EmergencyPost
from closures.lifecycle import Phase

# The NCM's colours (see closures.emergency_rules for the scale and where its wording comes from).
LEVEL_ICON = {
    AlertLevel.ADVICE.value: "🟢",
    AlertLevel.ALERT.value: "🟡",
    AlertLevel.WARNING.value: "🟠",
    AlertLevel.ALARM.value: "🔴",
}
_EVENT_ICON = {EmergencyAction.ENDED: "✅", EmergencyAction.EXPIRED: "⌛"}
# (instruction characters, road names listed, with the area line): most detail first
_LEVELS = ((500, 5, True), (240, 3, True), (120, 1, True), (80, 0, False), (40, 0, False))


def level_name(tr: Translator, level: str) -> str:
    """'🔴 Red alarm' — the icon and the level's name as the NCM's scale reads."""
    return f"{LEVEL_ICON.get(level, '⚠️')} {tr.t(f'emergency.level.{level}')}"


def hazard_name(tr: Translator, hazard: str) -> str:
    return tr.t(f"emergency.hazard.{hazard}")


def in_language(version: Emergency, stem: str, lang: str) -> str:
    """The headline, instruction or area description in ``lang`` (Arabic when English is empty)."""
    value = getattr(version, f"{stem}_{lang}", None) or getattr(version, f"{stem}_ar")
    return str(value)


def lines(
    post: EmergencyPost, tr: Translator, level: int = 0, *, html_mode: bool = True, staff: bool = False
) -> list[str]:
    """One language's block of a post (or direct message) at a level of detail (0: all of it)."""
    instruction_max, roads_max, with_area = _LEVELS[level]
    v, event = post.version, post.item.event
    zone = ZoneInfo(post.place.timezone)

    def text(value: str, limit: int | None = None) -> str:
        return _clip(value, limit, html_mode)

    def bold(value: str) -> str:
        return f"<b>{value}</b>" if html_mode else value

    headline = text(in_language(v, "headline", tr.lang), 160)
    out = []
    if v.exercise:
        out.append(f"🧪 {bold(tr.t('emergency.post.exercise'))}")
    if event in _EVENT_ICON:
        key = "emergency.post.ended" if event is EmergencyAction.ENDED else "emergency.post.expired"
        out.append(f"{_EVENT_ICON[event]} {bold(tr.t(key, headline=headline))}")
        area = text(in_language(v, "area_desc", tr.lang))
        out.append(tr.t("emergency.post.over", area=area))
        if event is EmergencyAction.ENDED and any(c.phase is Phase.LIFTED for c in post.closures):
            out.append(f"🛣️ {tr.t('emergency.post.reopened')}")
        return out
    prefix = f"{tr.t('emergency.post.update')} · " if event is EmergencyAction.UPDATED else ""
    out.append(f"{level_name(tr, v.level)} · {hazard_name(tr, v.hazard)}")
    out.append(bold(f"{prefix}{headline}"))
    out.append(f"👉 {text(in_language(v, 'instruction', tr.lang), instruction_max)}")
    if with_area:
        out.append(f"📍 {tr.t('emergency.post.area', area=text(in_language(v, 'area_desc', tr.lang)))}")
    out.append(f"⏳ {tr.t('emergency.post.until', time=tr.time(v.expires_at, zone, post.now))}")
    roads = _roads(post.closures, tr, roads_max, text)
    if roads:
        out.append(f"🚧 {roads}")
    return out


def channel_post(post: EmergencyPost, *, limit: int = TEXT_LIMIT) -> str:
    """The channel's post: the Arabic block, then the English one, HTML, within ``limit``."""

    def compose(level: int) -> str:
        return "\n\n".join("\n".join(lines(post, get_translator(lang), level)) for lang in ("ar", "en"))

    return _fit(compose, utf16_length, limit)


def x_posts(
    post: EmergencyPost, *, hashtags_ar: Sequence[str] = (), hashtags_en: Sequence[str] = ()
) -> XPost:
    """The Arabic post and its English reply, each within X's 280 weighted characters."""

    def one(lang: str, hashtags: Sequence[str]) -> str:
        tail = " ".join(hashtags)

        def compose(level: int) -> str:
            return "\n".join(
                [*lines(post, get_translator(lang), level, html_mode=False), *([tail] if tail else [])]
            )

        return _fit(compose, x_length, X_LIMIT)

    return XPost(one("ar", hashtags_ar), one("en", hashtags_en))


def direct_message(post: EmergencyPost, tr: Translator, *, limit: int = TEXT_LIMIT) -> str:
    """One person's message, in their language, with why they get it."""
    reason = (post.item.payload or {}).get("reason")
    why = tr.t(f"emergency.dm.why.{reason}") if reason in {r.value for r in ReachReason} else ""

    def compose(level: int) -> str:
        body = lines(post, tr, level)
        if why and post.item.event in (EmergencyAction.DECLARED, EmergencyAction.UPDATED):
            body.append(f"ℹ️ {why}")
        return "\n".join(body)

    return _fit(compose, utf16_length, limit)


def _roads(
    closures: Sequence[BroughtClosure], tr: Translator, most: int, text: Callable[[str, int | None], str]
) -> str:
    open_ = [c for c in closures if c.phase in (Phase.ACTIVE, Phase.SCHEDULED)]
    if not open_ or most == 0:
        return tr.n("emergency.post.closed_count", len(open_)) if open_ else ""
    names = [text(c.title_ar if tr.lang == "ar" else (c.title_en or c.title_ar), 60) for c in open_[:most]]
    listed = tr.t("post.list_separator").join(names)
    more = len(open_) - len(names)
    return tr.t("emergency.post.closed", roads=listed) + (
        f" {tr.n('emergency.post.more', more)}" if more else ""
    )


def _fit(compose: Callable[[int], str], measure: Callable[[str], int], limit: int) -> str:
    text = ""
    for level in range(len(_LEVELS)):
        text = compose(level)
        if measure(text) <= limit:
            return text
    raise ValueError(f"an emergency post does not fit in {limit} even at the least detail: {measure(text)}")


def _clip(text: str, limit: int | None, html_mode: bool) -> str:
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return html.escape(text, quote=False) if html_mode else text


def duration(tr: Translator, minutes: float) -> str:
    """'2 hours', '90 minutes': whole hours in hours, anything else in minutes."""
    whole = round(minutes)
    if whole % 60 == 0:
        return tr.n("emergency.duration.hours", whole // 60)
    return tr.n("emergency.duration.minutes", whole)


def kept_for(tr: Translator, window: timedelta) -> str:
    """How long drivers' last locations are kept, for /start and /forget."""
    return duration(tr, window.total_seconds() / 60)
