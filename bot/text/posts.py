"""Posts for followers: pure functions from a post's context to channel HTML and X text, Arabic first.

Channel posts put the Arabic block first and the English block under it, HTML-escaped, within Telegram's
limits (4096 for a text, 1024 for a photo caption, counted in UTF-16 units and measured on the HTML
source, an over-estimate). X posts are plain text, one language each (Arabic, then English as a reply),
within 280 weighted characters as twitter-text counts them (Arabic letters 1, emoji 2, URLs 23), with the
configured hashtags and no URL unless one is given (on X's pay-per-use API a post with a URL costs more).

Long staff text never breaks a limit: each post is composed at decreasing levels of detail (clipped
detour, then no detour, then shorter titles) until it fits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import FSI, PDI, Translator, get_translator
from bot.text.twittertext import parse_tweet
from bot.text.wording import REASON_ICON, direction, in_language, reason_of, severity
from closures.lifecycle import Phase, phase_at
from closures.models import PostEvent
from closures.outbox import Claimed
from closures.publishing import Place, PostContext
from closures.views import ClosureView

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
X_LIMIT = 280
_ICON = {
    PostEvent.ANNOUNCED: "",
    PostEvent.STARTED: "⛔",
    PostEvent.UPDATED: "✏️",
    PostEvent.EXTENDED: "⏳",
    PostEvent.LIFTED: "✅",
    PostEvent.ENDED: "✅",
    PostEvent.CANCELLED: "❎",
}
# (detour characters, lanes characters, title characters, with the reason/severity line): most detail first
_LEVELS = (
    (600, 200, 200, True),
    (200, 100, 200, True),
    (0, 60, 120, True),
    (0, 0, 80, False),
    (0, 0, 40, False),
)
_CHANGED_FIELDS = (
    ("times", ("starts_at", "ends_at")),
    ("location", ("geometry", "radius_m")),
    ("lanes", ("severity", "lanes_ar", "lanes_en")),
    ("direction", ("direction", "heading")),
    ("detour", ("detour_ar", "detour_en")),
    ("title", ("title_ar", "title_en")),
    ("reason", ("reason",)),
)


@dataclass(frozen=True, slots=True)
class XPost:
    arabic: str
    english: str | None


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def x_length(text: str) -> int:
    """Weighted length by the twitter-text rules."""
    return int(parse_tweet(text).weightedLength)


def x_valid(text: str) -> bool:
    return bool(parse_tweet(text).valid)


def _x_weight(text: str) -> int:
    """The weighted length, or more than the limit when twitter-text finds the text invalid."""
    parsed = parse_tweet(text)
    return int(parsed.weightedLength) if parsed.valid else X_LIMIT + 1


def channel_text(ctx: PostContext, *, limit: int = TEXT_LIMIT) -> str:
    """The channel post (caption or text): Arabic block, then English, HTML, within ``limit``."""
    return _fit(lambda level: _bilingual(ctx, level, html_mode=True), utf16_length, limit)


def announcement_caption(ctx: PostContext, *, limit: int = CAPTION_LIMIT) -> str:
    """The announcement as the original post shows it (also what an update edits it into)."""
    return _fit(
        lambda level: _bilingual(ctx, level, html_mode=True, as_event=PostEvent.ANNOUNCED),
        utf16_length,
        limit,
    )


def changes_text(ctx: PostContext, *, limit: int = TEXT_LIMIT) -> str:
    """The reply under the original post that says what happened (started, changed, lifted, …)."""
    return channel_text(ctx, limit=limit)


def x_post(
    ctx: PostContext,
    *,
    hashtags_ar: Sequence[str] = (),
    hashtags_en: Sequence[str] = (),
    url: str | None = None,
    english: bool = True,
) -> XPost:
    """The Arabic post and (if wanted) its English reply, each valid by twitter-text."""
    arabic = _fit_x(ctx, get_translator("ar"), hashtags_ar, url)
    return XPost(arabic, _fit_x(ctx, get_translator("en"), hashtags_en, url) if english else None)


def preview(view: ClosureView, event: PostEvent, place: Place, now: datetime) -> str:
    """The channel post ``event`` would publish for ``view`` (the closure as it will be): shown to staff
    before they make the change."""
    item = Claimed(
        id=0, closure_id=view.id, closure_version=view.version, event=event, destination="preview",
        due_at=now, attempts=0, token="", in_doubt_since=None, payload=None,
    )  # fmt: skip
    ctx = PostContext(item, view, None, place, None, None, now)
    return channel_text(ctx)


def alert_text(ctx: PostContext, tr: Translator, body: str, *, name: str, limit: int = TEXT_LIMIT) -> str:
    """A subscriber's alert: a header naming their place, then ``body`` (a rendered closure block)."""
    key = "subscribe.alert" if ctx.item.event is PostEvent.ANNOUNCED else "alert.started"
    text = f"<b>{tr.t(key, name=html.escape(name, quote=False))}</b>\n{body}"
    return text if utf16_length(text) <= limit else text[: limit - 1] + "…"


# --- composition --------------------------------------------------------------------------------------


def _fit(compose: Callable[[int], str], measure: Callable[[str], int], limit: int) -> str:
    text = ""
    for level in range(len(_LEVELS)):
        text = compose(level)
        if measure(text) <= limit:
            return text
    raise ValueError(f"a post does not fit in {limit} even at the least detail: {measure(text)}")


def _fit_x(ctx: PostContext, tr: Translator, hashtags: Sequence[str], url: str | None) -> str:
    tail = " ".join([*([url] if url else []), *hashtags])

    def compose(level: int) -> str:
        lines = _lines(ctx, tr, level, html_mode=False)
        text = "\n".join([*lines, *([tail] if tail else [])])
        return _needed_isolates(text) if tr.lang == "ar" else text

    def weight(text: str) -> int:  # every character weighs at least 1 (a URL 23): skip hopeless parses
        return X_LIMIT + 1 if len(text) - len(url or "") > X_LIMIT else _x_weight(text)

    return _fit(compose, weight, X_LIMIT)


def _bilingual(ctx: PostContext, level: int, *, html_mode: bool, as_event: PostEvent | None = None) -> str:
    blocks = [
        "\n".join(_lines(ctx, get_translator(lang), level, html_mode=html_mode, as_event=as_event))
        for lang in ("ar", "en")
    ]
    return "\n\n".join(blocks)


def _lines(
    ctx: PostContext, tr: Translator, level: int, *, html_mode: bool, as_event: PostEvent | None = None
) -> list[str]:
    detour_max, lanes_max, title_max, details = _LEVELS[level]
    c, event = ctx.closure, as_event or ctx.item.event
    zone, now = ZoneInfo(ctx.place.timezone), ctx.now

    def user(text: str | None, limit: int) -> str:
        return _clip(text or "", limit, html_mode)

    title = user(in_language(tr, c.title_ar, c.title_en), title_max)
    if tr.lang != "ar":
        title = tr.embed(title)

    def when(dt: datetime) -> str:
        return tr.time(dt, zone, now)

    if event is PostEvent.STARTED and ctx.late_since is not None:
        headline = tr.t("post.active_since", title=title, time=when(c.starts_at))
    elif event is PostEvent.ENDED and ctx.late_since is not None and c.ends_at is not None:
        headline = tr.t("post.ended_at", title=title, time=when(c.ends_at))
    elif event is PostEvent.ANNOUNCED and _names_a_closure(tr, title):
        headline = tr.t("post.announced_titled", title=title)  # the title says "closure": not twice
    else:
        headline = tr.t(f"post.{event.value}", title=title)
    icon = _ICON[event] or REASON_ICON.get(reason_of(c), "⚠️")
    lines = [f"{icon} <b>{headline}</b>" if html_mode else f"{icon} {headline}"]
    if event is PostEvent.UPDATED and ctx.before is not None:
        changed = _changed(ctx.before, c)
        if changed:
            fields = tr.t("post.list_separator").join(tr.t(f"post.field.{name}") for name in changed)
            lines.append(tr.t("post.changed", fields=fields))
    if event in (PostEvent.ANNOUNCED, PostEvent.UPDATED) and details:
        reason = tr.t(f"reason.{reason_of(c).value}")
        lanes = (lambda written: user(written, lanes_max)) if lanes_max else None
        lines.append(f"{reason} · {severity(c, tr, lanes=lanes)} · {direction(c, tr)}")
    if event in (PostEvent.ANNOUNCED, PostEvent.UPDATED, PostEvent.EXTENDED, PostEvent.STARTED):
        timing = _timing(c, tr, when, phase_at(c, now), event)
        if event is PostEvent.EXTENDED and ctx.before is not None and ctx.before.ends_at != c.ends_at:
            was = ctx.before.ends_at
            timing += " · " + (tr.t("post.was_until", time=when(was)) if was else tr.t("post.was_open_ended"))
        lines.append(f"🕒 {timing}")
    if event is PostEvent.LIFTED and c.ends_at is not None and c.ends_at > now:
        lines.append(f"🕒 {tr.t('post.was_planned_until', time=when(c.ends_at))}")
    detour = in_language(tr, c.detour_ar, c.detour_en)
    if detour and detour_max and event in (PostEvent.ANNOUNCED, PostEvent.UPDATED, PostEvent.STARTED):
        lines.append(f"🔀 {tr.t('closure.detour', detour=user(detour, detour_max))}")
    if event is PostEvent.ANNOUNCED:
        lines.append(
            f"📍 {tr.t('post.where', city=ctx.place.name_ar if tr.lang == 'ar' else ctx.place.name_en)}"
        )
    return lines


def _timing(
    c: ClosureView, tr: Translator, when: Callable[[datetime], str], phase: Phase, event: PostEvent
) -> str:
    until = tr.t("timing.until", time=when(c.ends_at)) if c.ends_at else tr.t("timing.open_ended")
    if event is PostEvent.EXTENDED or event is PostEvent.STARTED:
        return until
    if phase is Phase.SCHEDULED:
        return f"{tr.t('timing.starts', time=when(c.starts_at))} · {until}"
    if phase is Phase.ACTIVE:
        return f"{tr.t('timing.started', time=when(c.starts_at))} · {until}"
    return tr.t("timing.over")


def _changed(before: ClosureView, after: ClosureView) -> list[str]:
    out = []
    for name, columns in _CHANGED_FIELDS:
        for column in columns:
            old, new = getattr(before, column), getattr(after, column)
            same = old.equals(new) if column == "geometry" else old == new
            if not same:
                out.append(name)
                break
    return out


_ISOLATED = re.compile(f"{FSI}([^{FSI}{PDI}]*){PDI}")
_LEFT_TO_RIGHT = re.compile("[A-Za-z\u00c0-\u024f]")


def _needed_isolates(text: str) -> str:
    """Arabic X text without the direction marks that change nothing: X counts each as 2 characters, and
    Arabic words and Arabic-Indic numbers lay out right in an Arabic line without them. Only a value with
    Latin letters (a street name, a hashtag in English) keeps its isolates."""
    while True:
        stripped = _ISOLATED.sub(lambda m: m[0] if _LEFT_TO_RIGHT.search(m[1]) else m[1], text)
        if stripped == text:
            return text
        text = stripped


def _names_a_closure(tr: Translator, title: str) -> bool:
    """Whether the title already says it is a closure ("… closed", «إغلاق …»)."""
    return any(word in title.lower() for word in tr.t("post.closure_words").split("|"))


def _clip(text: str, limit: int, html_mode: bool) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return html.escape(text, quote=False) if html_mode else text
