"""The buttons sent with the texts: inline keyboards (and the share-location keyboard), in one language.

Each button's ``callback_data`` is what the handler registered for it matches (``pin:ID``, ``more:N``, …).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.i18n import LANGUAGES, Translator

LANGUAGE_NAMES = {"ar": "العربية", "en": "English"}  # each in its own language, whatever the reader's


def results(
    tr: Translator, closure_ids: Sequence[int], *, offset: int, next_offset: int | None
) -> InlineKeyboardMarkup:
    """Under a page of closures near a driver: a map pin per closure, "more", and (first page) "save"."""
    rows = [
        [
            InlineKeyboardButton(
                f"{tr.number(offset + i + 1)}. {tr.t('button.map')}", callback_data=f"pin:{cid}"
            )
        ]
        for i, cid in enumerate(closure_ids)
    ]
    if next_offset is not None:
        rows.append([InlineKeyboardButton(tr.t("button.more"), callback_data=f"more:{next_offset}")])
    if offset == 0:
        rows.append([InlineKeyboardButton(tr.t("button.save_place"), callback_data="save:point")])
    return InlineKeyboardMarkup(rows)


def save_route(tr: Translator) -> InlineKeyboardMarkup:
    """Under the closures along a route."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tr.t("button.save_route"), callback_data="save:route")]]
    )


def choices(labels: Iterable[str], data_prefix: str) -> InlineKeyboardMarkup:
    """One button per candidate place, ``<data_prefix><index>``, under "Which place did you mean?"."""
    rows = [
        [InlineKeyboardButton(label, callback_data=f"{data_prefix}{i}")] for i, label in enumerate(labels)
    ]
    return InlineKeyboardMarkup(rows)


def saved_places(tr: Translator, names: Iterable[str]) -> InlineKeyboardMarkup:
    """Under ``/places``: a delete button per saved place."""
    rows = [
        [InlineKeyboardButton(tr.t("button.delete", name=name), callback_data=f"delplace:{i}")]
        for i, name in enumerate(names)
    ]
    return InlineKeyboardMarkup(rows)


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
