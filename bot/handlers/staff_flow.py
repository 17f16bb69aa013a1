"""The ``/new`` and ``/edit`` conversation's shared parts: its states, the draft kept in user data, and the
question each state asks. Answers are handled in ``staff_geometry`` and ``staff_fields``; the wiring, the
preview's buttons and the write are in ``staff_new``.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ConversationHandler

from bot import staff_render
from bot.context import BotContext
from bot.handlers.common import reply
from bot.handlers.staff_auth import Operator, operator_of
from bot.i18n import FSI, PDI, Translator, get_translator
from bot.staffdraft import Draft
from bot.timeinput import TimeInputError
from closures.errors import ValidationError
from closures.models import Reason
from geo.errors import GeometryError
from geo.files import FileError

GEOMETRY, REASON, SEVERITY, LANES, DIRECTION, HEADING = (
    "geometry",
    "reason",
    "severity",
    "lanes",
    "dir",
    "heading",
)
START, START_PAST, END, DETOUR, TITLE_AR, TITLE_EN = (
    "start",
    "start_past",
    "end",
    "detour",
    "title_ar",
    "title_en",
)
PREVIEW, FIELD = "preview", "field"
type State = str | int  # a state name, or ConversationHandler.END (-1)
END_CONVERSATION = ConversationHandler.END
DRAFT_KEY = "staff_draft"
RADII_M = (50, 100, 250, 500)
HEADINGS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
# Field groups as the "Edit a field" menu offers them → the state that asks for the group's first value.
GROUPS = {
    "geometry": GEOMETRY,
    "reason": REASON,
    "severity": SEVERITY,
    "direction": DIRECTION,
    "starts_at": START,
    "ends_at": END,
    "detour": DETOUR,
    "title": TITLE_AR,
}
_ORDER = list(GROUPS)
_OTHER_SCRIPT = {"ar": re.compile("[A-Za-z]"), "en": re.compile("[\u0590-\u08ff]")}
_FIELD_STATE = {
    "radius_m": GEOMETRY, "lanes_ar": LANES, "lanes_en": LANES, "heading": HEADING,
    "title_ar": TITLE_AR, "title_en": TITLE_EN, "detour_ar": DETOUR, "detour_en": DETOUR,
}  # fmt: skip


def load(context: BotContext) -> Draft:
    return Draft.load(context.user_data.get(DRAFT_KEY) if context.user_data is not None else None)


def keep(context: BotContext, draft: Draft) -> None:
    if context.user_data is not None:
        context.user_data[DRAFT_KEY] = draft.dump()


def clear(context: BotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)


async def step(update: Update, context: BotContext) -> tuple[Operator, Message, Draft] | None:
    """The operator, the message to answer and the draft, for one answer; None ends a stranger's turn."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None:
        clear(context)
        return None
    if update.callback_query is not None:
        await update.callback_query.answer()
    return op, message, load(context)


def problem(exc: Exception, tr: Translator) -> str:
    """The operator's sentence for a refused answer."""
    match exc:
        case GeometryError():
            return tr.t(f"geo.{exc.reason.value}")
        case FileError():
            return tr.t(f"staff.{exc.problem.value}")
        case ValidationError():
            return tr.t(f"staff.refused.{exc.code.value}")
        case TimeInputError():
            return tr.t(f"staff.time.{exc.code}")
    raise exc


def state_for_field(name: str | None) -> str:
    """Where to ask again for a field the service refused."""
    return _FIELD_STATE.get(name or "", GROUPS.get(name or "", PREVIEW))


async def done(message: Message, context: BotContext, op: Operator, draft: Draft, group: str) -> State:
    """A group of fields is answered: back to the preview when editing, else on to the next question."""
    following = _ORDER[_ORDER.index(group) + 1] if group != _ORDER[-1] else None
    state = PREVIEW if draft.editing or following is None else GROUPS[following]
    return await ask(message, context, op, draft, state)


async def ask(message: Message, context: BotContext, op: Operator, draft: Draft, state: str) -> State:
    """Send the question of ``state`` (with its buttons) and return ``state``."""
    keep(context, draft)
    if state == PREVIEW:
        await show_preview(message, context, op, draft)
        return state
    text, rows = _question(state, op, draft, geocoding=context.services.geocoder is not None)
    markup = InlineKeyboardMarkup(rows) if rows else None
    await reply(message, text, reply_markup=markup)
    return state


async def show_preview(message: Message, context: BotContext, op: Operator, draft: Draft) -> None:
    """The closure's pin, then the text followers will see, with Confirm / Edit a field / Cancel."""
    geometry = draft.geometry
    assert geometry is not None
    pin = geometry if geometry.geom_type == "Point" else geometry.representative_point()
    await message.reply_location(latitude=pin.y, longitude=pin.x)
    services = context.services
    tz = services.zone(draft.municipality_id or 0)
    text = staff_render.preview(draft, op.tr, tz, services.clock())
    buttons = [
        ("staff.button.confirm", "sv:confirm"),
        ("staff.button.edit", "sv:edit"),
        ("button.cancel", "sv:cancel"),
    ]
    rows = [[_button(op, key, data)] for key, data in buttons]
    await reply(message, text, reply_markup=InlineKeyboardMarkup(rows))


def _question(
    state: str, op: Operator, draft: Draft, *, geocoding: bool
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    t = op.tr.t
    match state:
        case "geometry":
            names = t("staff.ask.place_name") if geocoding else t("staff.ask.no_geocoder")
            return f"{t('staff.ask.geometry')}\n\n{names}", []
        case "reason":
            return t("staff.ask.reason"), _pairs(
                [_button(op, f"reason.{r.value}", f"sr:{r.value}") for r in Reason]
            )
        case "severity":
            return t("staff.ask.severity"), [[_button(op, "staff.button.full", "ss:full")],
                                             [_button(op, "staff.button.partial", "ss:partial")]]  # fmt: skip
        case "lanes":
            return t("staff.ask.lanes"), []
        case "dir":
            return t("staff.ask.direction"), [[_button(op, "staff.button.both", "sd:both")],
                                              [_button(op, "staff.button.one", "sd:one")]]  # fmt: skip
        case "heading":
            buttons = [InlineKeyboardButton(op.tr.compass(c), callback_data=f"sh:{c}") for c in HEADINGS]
            return t("staff.ask.heading"), _pairs(buttons)
        case "start":
            return t("staff.ask.start"), [[_button(op, "staff.button.now", "st:now")]]
        case "end":
            return t("staff.ask.end"), [[_button(op, "staff.button.open_ended", "se:open")]]
        case "detour":
            return t("staff.ask.detour"), [[_button(op, "staff.button.no_detour", "sx:skip")]]
        case "title_ar":
            use = op.tr.t("staff.button.use", title=proposal(draft, "ar"))
            return t("staff.ask.title_ar"), [[InlineKeyboardButton(use, callback_data="ta:use")]]
        case "title_en":
            use = op.tr.t("staff.button.use", title=proposal(draft, "en"))
            return t("staff.ask.title_en"), [[InlineKeyboardButton(use, callback_data="te:use")],
                                             [_button(op, "staff.button.skip", "te:skip")]]  # fmt: skip
        case _:  # FIELD: the "Edit a field" menu
            labels = [_button(op, f"staff.field.{group}", f"sf:{group}") for group in GROUPS]
            return t("staff.ask.field"), _pairs(labels)


def proposal(draft: Draft, lang: str) -> str:
    """A title proposed from the reason, on the street found by reverse geocoding the closure when known."""
    tr = get_translator(lang)
    reason = tr.t(f"reason.{draft.get('reason') or 'other'}")
    street = draft.streets.get(lang)
    if not street:
        return reason
    title = tr.t("staff.title.on_street", reason=reason, street=street)
    # The title is stored and posted: drop the direction isolates where every part is in the title's own
    # script (they only matter around a street name in the other script, kept as the geocoder gave it).
    return title if _OTHER_SCRIPT[lang].search(street) else title.replace(FSI, "").replace(PDI, "")


def _button(op: Operator, key: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(op.tr.t(key), callback_data=data)


def _pairs(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
