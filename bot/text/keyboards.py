"""The buttons sent with the texts: inline keyboards (and the share-location keyboard), in one language.

Each button's ``callback_data`` is what the handler registered for it matches (``pin:ID``, ``more:N``, …).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    WebAppInfo,
)

from bot.i18n import LANGUAGES, Translator

LANGUAGE_NAMES = {"ar": "العربية", "en": "English"}  # each in its own language, whatever the reader's


def results(
    tr: Translator,
    closure_ids: Sequence[int],
    *,
    offset: int,
    next_offset: int | None,
    at: tuple[float, float],
    previous: tuple[float, float] | None = None,
    live_map_url: str | None = None,
) -> InlineKeyboardMarkup:
    """Under a page of closures near a driver at ``at`` (lat, lon): a numbered button per closure opening
    its full block, five to a row, "more", and on the first page "save" and, when the driver sent another
    point moments ago (``previous``), "Route from the previous point?"; the live map inside Telegram (a
    Mini App at ``live_map_url``) when there is one.

    The points travel in the buttons' data, so any process of the bot can answer a tap.
    """
    numbers = [
        InlineKeyboardButton(
            tr.t("button.details", number=tr.number(offset + i + 1)), callback_data=f"i:{cid}:{_ll(at)}"
        )
        for i, cid in enumerate(closure_ids)
    ]
    rows = [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
    if next_offset is not None:
        rows.append([InlineKeyboardButton(tr.t("button.more"), callback_data=f"more:{next_offset}")])
    if offset == 0 and previous is not None:
        data = f"rp:{_ll(previous)},{_ll(at)}"
        rows.append([InlineKeyboardButton(tr.t("button.route_previous"), callback_data=data)])
    if offset == 0:
        rows.append([InlineKeyboardButton(tr.t("button.save_place"), callback_data="save:point")])
    if live_map_url is not None:
        rows.append([InlineKeyboardButton(tr.t("button.live_map"), web_app=WebAppInfo(url=live_map_url))])
    return InlineKeyboardMarkup(rows)


def closure_map(tr: Translator, closure_id: int) -> InlineKeyboardMarkup:
    """Under one closure's full block: its pin on the map."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tr.t("button.map"), callback_data=f"pin:{closure_id}")]]
    )


def route(tr: Translator, closure_ids: Sequence[int]) -> InlineKeyboardMarkup:
    """Under the closures along a route: a map pin per closure (numbered as listed), and "save"."""
    pins = [
        InlineKeyboardButton(f"{tr.number(i + 1)}. {tr.t('button.map')}", callback_data=f"pin:{cid}")
        for i, cid in enumerate(closure_ids)
    ]
    rows = [pins[i : i + 2] for i in range(0, len(pins), 2)]
    rows.append([InlineKeyboardButton(tr.t("button.save_route"), callback_data="save:route")])
    return InlineKeyboardMarkup(rows)


def _ll(point: tuple[float, float]) -> str:
    """(lat, lon) in button data: five decimals, about a metre."""
    return f"{point[0]:.5f},{point[1]:.5f}"


def choices(labels: Iterable[str], data_prefix: str) -> InlineKeyboardMarkup:
    """One button per candidate place, ``<data_prefix><index>``, under "Which place did you mean?"."""
    rows = [
        [InlineKeyboardButton(label, callback_data=f"{data_prefix}{i}")] for i, label in enumerate(labels)
    ]
    return InlineKeyboardMarkup(rows)


def saved_places(tr: Translator, names: Iterable[str]) -> InlineKeyboardMarkup:
    """Under ``/places``: per saved place or route, "check now" and delete."""
    rows = [
        [
            InlineKeyboardButton(tr.t("button.check", name=name), callback_data=f"chk:{i}"),
            InlineKeyboardButton(tr.t("button.delete", name=name), callback_data=f"delplace:{i}"),
        ]
        for i, name in enumerate(names)
    ]
    return InlineKeyboardMarkup(rows)


def radius_presets(tr: Translator, metres: Sequence[int]) -> InlineKeyboardMarkup:
    """Under ``/radius``: the usual search radii, one tap each."""
    buttons = [InlineKeyboardButton(tr.distance(m), callback_data=f"rad:{m}") for m in metres]
    return InlineKeyboardMarkup([buttons])


def subscribe(names: Iterable[str]) -> InlineKeyboardMarkup:
    """Under ``/subscribe``: one button per saved place to watch."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(name, callback_data=f"sub:{i}")] for i, name in enumerate(names)]
    )


def forget(tr: Translator) -> InlineKeyboardMarkup:
    """Under ``/forget``'s question: delete everything, or keep it."""
    buttons = [
        InlineKeyboardButton(tr.t("button.confirm_forget"), callback_data="forget:yes"),
        InlineKeyboardButton(tr.t("button.cancel"), callback_data="forget:no"),
    ]
    return InlineKeyboardMarkup([buttons])


def languages() -> InlineKeyboardMarkup:
    """Under ``/language``: each language, named in itself."""
    buttons = [InlineKeyboardButton(LANGUAGE_NAMES[lang], callback_data=f"lang:{lang}") for lang in LANGUAGES]
    return InlineKeyboardMarkup([buttons])


def share_location(tr: Translator) -> ReplyKeyboardMarkup:
    """The keyboard button that shares the driver's location (private chats only: Telegram refuses it
    elsewhere)."""
    button = KeyboardButton(tr.t("button.share_location"), request_location=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True)


def more_closures(tr: Translator, which: str, next_offset: int | None) -> InlineKeyboardMarkup | None:
    """Under a page of ``/list`` or ``/mine`` (``which``): "more" when there is a next page."""
    if next_offset is None:
        return None
    button = InlineKeyboardButton(tr.t("button.more"), callback_data=f"spage:{which}:{next_offset}")
    return InlineKeyboardMarkup([[button]])


def retry_dead(tr: Translator, item_ids: Iterable[int]) -> InlineKeyboardMarkup | None:
    """Under ``/outbox``: a retry button per dead letter shown (none: no keyboard)."""
    rows = [
        [InlineKeyboardButton(tr.t("button.retry", id=str(item_id)), callback_data=f"outbox:retry:{item_id}")]
        for item_id in item_ids
    ]
    return InlineKeyboardMarkup(rows) if rows else None
