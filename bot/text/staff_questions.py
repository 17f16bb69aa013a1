"""What ``/new`` and ``/edit`` ask, with the buttons of each question, and the titles they propose.

Each question is named like the conversation state that waits for its answer (``reason``, ``dir``, …); the
conversation (``bot.handlers.staff``) decides which one comes next. Button data start with the prefix the
conversation's handlers match (``sr:`` a reason, ``ss:`` a severity, …).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.i18n import FSI, PDI, Translator, get_translator
from closures.models import Reason

HEADINGS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
RADII_M = (50, 100, 250, 500)  # the radii a point closure is offered, under its pin and in the map editor
_OTHER_SCRIPT = {"ar": re.compile("[A-Za-z]"), "en": re.compile("[\u0590-\u08ff]")}

type Rows = list[list[InlineKeyboardButton]]


@dataclass(frozen=True, slots=True)
class TimeChoices:
    """What the start and end questions offer, computed from the clock: an example that is never in the
    past, and the start buttons that are still ahead (("now", "now"), ("tonight", "tonight"), …)."""

    example: str
    starts: tuple[tuple[str, str], ...]


def time_choices(now: datetime, tz: tzinfo) -> TimeChoices:
    """Tomorrow 22:00 as the example; Now, In 1 hour, Tonight 22:00 (while it is ahead), Tomorrow 06:00."""
    local = now.astimezone(tz)
    example = f"{(local + timedelta(days=1)).date().isoformat()} 22:00"
    starts = [("now", "now"), ("in_1h", "in1h")]
    if local.hour < 21:  # "tonight 22:00" only while it is more than an hour away
        starts.append(("tonight", "tonight"))
    starts.append(("tomorrow_morning", "tomorrow"))
    return TimeChoices(example, tuple(starts))


def question(
    name: str,
    tr: Translator,
    *,
    titles: Mapping[str, str],
    geocoding: bool,
    fields: Iterable[str],
    times: TimeChoices,
    draw_url: str | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question ``name`` and its buttons. ``titles`` are the proposed titles by language, ``fields`` the
    groups the "Edit a field" menu offers (any name not listed here is that menu); ``draw_url`` opens the map
    editor under the place question."""
    text, rows = _question(name, tr, titles=titles, geocoding=geocoding, fields=fields, times=times)
    if name == "geometry" and draw_url is not None:
        rows = [*draw_rows(tr, draw_url), *rows]
        text = f"{text}\n\n{tr.t('staff.ask.draw')}"
    return text, InlineKeyboardMarkup(rows) if rows else None


def draw_rows(tr: Translator, url: str) -> Rows:
    """The "Draw on the map" button: a Telegram Mini App (``web_app``) opening the map editor at ``url``."""
    return [[InlineKeyboardButton(tr.t("staff.button.draw"), web_app=WebAppInfo(url=url))]]


def _question(
    name: str,
    tr: Translator,
    *,
    titles: Mapping[str, str],
    geocoding: bool,
    fields: Iterable[str],
    times: TimeChoices,
) -> tuple[str, Rows]:
    t = tr.t
    match name:
        case "geometry":
            names = t("staff.ask.place_name") if geocoding else t("staff.ask.no_geocoder")
            return f"{t('staff.ask.geometry')}\n\n{names}", []
        case "reason":
            return t("staff.ask.reason"), _pairs(
                [_button(tr, f"reason.{r.value}", f"sr:{r.value}") for r in Reason]
            )
        case "severity":
            return t("staff.ask.severity"), [[_button(tr, "staff.button.full", "ss:full")],
                                             [_button(tr, "staff.button.partial", "ss:partial")]]  # fmt: skip
        case "lanes":
            return t("staff.ask.lanes"), []
        case "dir":
            return t("staff.ask.direction"), [[_button(tr, "staff.button.both", "sd:both")],
                                              [_button(tr, "staff.button.one", "sd:one")]]  # fmt: skip
        case "heading":
            buttons = [InlineKeyboardButton(tr.heading(c), callback_data=f"sh:{c}") for c in HEADINGS]
            return t("staff.ask.heading"), _pairs(buttons)
        case "start":
            buttons = [_button(tr, f"staff.button.{key}", f"st:{data}") for key, data in times.starts]
            return t("staff.ask.start", example=_digits(tr, times.example)), _pairs(buttons)
        case "end":
            open_ended = _button(tr, "staff.button.open_ended", "se:open")
            return t("staff.ask.end", example=_digits(tr, times.example)), [[open_ended]]
        case "detour":
            return t("staff.ask.detour"), [[_button(tr, "staff.button.no_detour", "sx:skip")]]
        case "title_ar":  # a proposal only when it names the street: a bare reason is no title
            rows = [[InlineKeyboardButton(t("staff.button.use", title=titles["ar"]), callback_data="ta:use")]]
            return t("staff.ask.title_ar"), rows if titles["ar"] else []
        case "title_en":
            use = [InlineKeyboardButton(t("staff.button.use", title=titles["en"]), callback_data="te:use")]
            return t("staff.ask.title_en"), [*([use] if titles["en"] else []),
                                             [_button(tr, "staff.button.skip", "te:skip")]]  # fmt: skip
        case _:  # the "Edit a field" menu
            labels = [_button(tr, f"staff.field.{group}", f"sf:{group}") for group in fields]
            return t("staff.ask.field"), _pairs(labels)


def proposal(reason: str | None, street: str | None, lang: str) -> str:
    """A title proposed from the reason, on the street found by reverse geocoding the closure; none ("")
    without a street, since a reason alone ("Roadworks") tells followers nothing of where."""
    tr = get_translator(lang)
    if not street:
        return ""
    reason_text = tr.t(f"reason.{reason or 'other'}")
    title = tr.t("staff.title.on_street", reason=reason_text, street=street)
    # The title is stored and posted: drop the direction isolates where every part is in the title's own
    # script (they only matter around a street name in the other script, kept as the geocoder gave it).
    return title if _OTHER_SCRIPT[lang].search(street) else title.replace(FSI, "").replace(PDI, "")


def too_vague(title: str) -> bool:
    """A title that is only a reason or the word "closure", in either language: it names no place."""
    text = title.strip().lower()
    vague = {get_translator(lang).t(f"reason.{r.value}").lower() for lang in ("ar", "en") for r in Reason}
    vague |= {"إغلاق", "اغلاق", "closure", "road closure", "closed", "مغلق"}
    return text in vague or len(text) < 4


def preview_buttons(tr: Translator) -> InlineKeyboardMarkup:
    """Under the preview: Confirm, Edit a field, Cancel."""
    buttons = [
        ("staff.button.confirm", "sv:confirm"),
        ("staff.button.edit", "sv:edit"),
        ("button.cancel", "sv:cancel"),
    ]
    return InlineKeyboardMarkup([[_button(tr, key, data)] for key, data in buttons])


def radii(tr: Translator, radii_m: Sequence[int]) -> InlineKeyboardMarkup:
    """Under the first point: the radius that makes it the closure."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tr.distance(r), callback_data=f"sg:r:{r}") for r in radii_m]]
    )


def points_done(tr: Translator, count: int) -> InlineKeyboardMarkup:
    """Under the second point and after: Done (a line), and from three points Done as area."""
    rows = [[_button(tr, "staff.button.done_line", "sg:line")]]
    if count >= 3:
        rows.append([_button(tr, "staff.button.done_area", "sg:area")])
    return InlineKeyboardMarkup(rows)


def start_in_the_past(tr: Translator) -> InlineKeyboardMarkup:
    """Under "That start is over an hour ago": yes it is, or ask again."""
    return InlineKeyboardMarkup(
        [[_button(tr, "staff.button.past_yes", "sp:yes")], [_button(tr, "staff.button.past_no", "sp:no")]]
    )


def _digits(tr: Translator, text: str) -> str:
    """Arabic questions write their examples in Arabic-Indic digits (the answer may use either)."""
    return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) if tr.lang == "ar" else text


def _button(tr: Translator, key: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(tr.t(key), callback_data=data)


def _pairs(buttons: list[InlineKeyboardButton]) -> Rows:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
