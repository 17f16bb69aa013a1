"""The ``/new`` and ``/edit`` conversation's shared parts: its states, the draft kept in user data, the
``@step`` every answer's callback is wrapped in, and asking the question of a state. Answers are handled in
``geometry`` and ``fields``; the wiring, the preview's buttons and the write are in ``conversation``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import ConversationHandler

from bot.context import BotContext
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import Operator, operator_of
from bot.handlers.staff.draft import Draft
from bot.handlers.staff.map_editor import editor_link
from bot.handlers.staff.timeinput import TimeInputError
from bot.i18n import LANGUAGES, Translator
from bot.publish.maps import MapMaker
from bot.publish.wiring import surroundings
from bot.text import staff_questions, staff_views
from bot.text.wording import geometry_problem
from closures.errors import ValidationError
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
RADII_M = staff_questions.RADII_M
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


type Answer = Callable[[Update, BotContext, Operator, Message, Draft], Awaitable[State]]


def step(answer: Answer) -> Callable[[Update, BotContext], Coroutine[Any, Any, State]]:
    """Make ``answer`` a callback of the conversation: it gets the operator, the message to answer and the
    draft. A stranger's turn ends the conversation there (after "not authorised"); a button is answered."""

    @functools.wraps(answer)
    async def callback(update: Update, context: BotContext) -> State:
        op = await operator_of(update, context)
        message = update.effective_message
        if op is None or message is None:
            clear(context)
            return END_CONVERSATION
        if update.callback_query is not None:
            await update.callback_query.answer()
        return await answer(update, context, op, message, load(context))

    return callback


def problem(exc: Exception, tr: Translator) -> str:
    """The operator's sentence for a refused answer."""
    match exc:
        case GeometryError():
            return geometry_problem(exc, tr)
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
    services = context.services
    text, markup = staff_questions.question(
        state,
        op.tr,
        titles={lang: proposal(draft, lang) for lang in LANGUAGES},
        geocoding=services.geocoder is not None,
        fields=GROUPS,
        draw_url=draw_url(context, op, draft) if state == GEOMETRY else None,
        times=staff_questions.time_choices(
            context.services.clock(), context.services.zone(draft.municipality_id or 0)
        ),
    )
    await reply(message, text, reply_markup=markup)
    return state


def draw_url(context: BotContext, op: Operator, draft: Draft) -> str | None:
    """The map editor's address for this draft's place question (None without ``WEBAPP_URL``).

    The draft keeps the token the address carries until its place is set, so the drawing that comes back
    is known to answer this question (``bot.handlers.staff.drawn``).
    """
    link = editor_link(context, op, draft.map_token, closure_id=draft.closure_id)
    if link is None:
        return None
    url, draft.map_token = link
    keep(context, draft)
    return url


def draw_button(context: BotContext, op: Operator, draft: Draft) -> InlineKeyboardMarkup | None:
    """Just the "Draw on the map" button, for a message asking for a place again (None without
    ``WEBAPP_URL``)."""
    url = draw_url(context, op, draft)
    return InlineKeyboardMarkup(staff_questions.draw_rows(op.tr, url)) if url else None


async def show_preview(message: Message, context: BotContext, op: Operator, draft: Draft) -> None:
    """The map that will be posted, then the text followers will see, with Confirm / Edit a field / Cancel."""
    geometry = draft.geometry
    assert geometry is not None
    png = await blocking(_preview_maps(context).render, draft.view())
    await message.reply_photo(png)
    services = context.services
    tz = services.zone(draft.municipality_id or 0)
    text = staff_views.preview(draft.view(), op.tr, tz, services.clock())
    await reply(message, text, reply_markup=staff_questions.preview_buttons(op.tr))


def _preview_maps(context: BotContext) -> MapMaker:
    """The post maps' maker, as the outbox worker has it (tiles, boundaries, landmark roads), made once."""
    maps = context.bot_data.get(_PREVIEW_MAPS)
    if not isinstance(maps, MapMaker):
        services = context.services
        maps = context.bot_data[_PREVIEW_MAPS] = MapMaker(
            services.settings.map_tiles(), surroundings=surroundings(services)
        )
    return maps


_PREVIEW_MAPS = "preview_maps"


def proposal(draft: Draft, lang: str) -> str:
    """The title proposed in ``lang``: the reason, on the street at the closure when it is known."""
    return staff_questions.proposal(draft.get("reason"), draft.streets.get(lang), lang)
