"""The ``/emergency`` conversation's shared parts: its states in the order an operator under stress meets
them — municipality (if several), area, hazard, level, headline and instruction in Arabic and English
(proposals from the hazard and level, one tap each), expiry (3, 6, 12 hours or typed), playbooks — the
``@step`` every answer is wrapped in, asking a state's question, and the preview (what will be posted, whom
it reaches, what was cut off). An update asks only the group of fields being changed. The answers are in
``emergency_answers``; the wiring, Confirm and the update and end choices in ``emergency``.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.ext import ConversationHandler

from bot.context import BotContext
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import Operator, operator_of
from bot.handlers.staff.emergency_draft import Declaration
from bot.handlers.staff.timeinput import TimeInputError
from bot.i18n import Translator
from bot.text import emergency_staff as ask_text
from closures.emergency_models import AlertLevel, EmergencyAction, Hazard, MessageType
from closures.errors import NotFound, Refusal, ValidationError
from geo.errors import GeometryError
from geo.files import FileError

MUNI, AREA, HAZARD, LEVEL = "em_muni", "em_area", "em_hazard", "em_level"
HEADLINE_AR, HEADLINE_EN, INSTRUCTION_AR, INSTRUCTION_EN = "em_ha", "em_he", "em_ia", "em_ie"
EXPIRY, PLAYBOOKS, PREVIEW, CHANGE, WHICH, ENDING = (
    "em_expiry",
    "em_pb",
    "em_preview",
    "em_change",
    "em_which",
    "em_end",
)
ORDER = (AREA, HAZARD, LEVEL, HEADLINE_AR, HEADLINE_EN, INSTRUCTION_AR, INSTRUCTION_EN, EXPIRY, PLAYBOOKS)
GROUPS = {
    "level": (LEVEL,), "expiry": (EXPIRY,), "area": (AREA,), "headline": (HEADLINE_AR, HEADLINE_EN),
    "instruction": (INSTRUCTION_AR, INSTRUCTION_EN), "playbooks": (PLAYBOOKS,),
}  # fmt: skip
TEXT_OF = {
    HEADLINE_AR: "headline_ar",
    HEADLINE_EN: "headline_en",
    INSTRUCTION_AR: "instruction_ar",
    INSTRUCTION_EN: "instruction_en",
}
_FIELD_STATE = {
    "area": AREA, "area_desc_ar": AREA, "area_desc_en": AREA, "hazard": HAZARD, "level": LEVEL,
    "expires_at": EXPIRY, "playbooks": PLAYBOOKS, **{name: state for state, name in TEXT_OF.items()},
}  # fmt: skip
END = ConversationHandler.END
type State = str | int
type Answer = Callable[[Update, BotContext, Operator, Message, Declaration], Awaitable[State]]


def step(answer: Answer) -> Callable[[Update, BotContext], Coroutine[Any, Any, State]]:
    """A conversation callback: the operator, the message to answer and the draft (gone: start again)."""

    @functools.wraps(answer)
    async def callback(update: Update, context: BotContext) -> State:
        op = await operator_of(update, context)
        message = update.effective_message
        if op is None or message is None:
            Declaration.clear(context)
            return END
        if update.callback_query is not None:
            await update.callback_query.answer()
        draft = Declaration.load(context)
        if draft is None:
            await reply(message, op.tr.t("emergency.draft_lost"))
            return END
        return await answer(update, context, op, message, draft)

    return callback


def data(update: Update) -> str:
    return (update.callback_query.data or "") if update.callback_query else ""


def problem(exc: Exception, tr: Translator) -> str:
    """The operator's sentence for a refused answer or declaration."""
    match exc:
        case GeometryError():
            return tr.t(f"geo.{exc.reason.value}")
        case FileError():
            return tr.t(f"staff.{exc.problem.value}")
        case ValidationError():
            return tr.t(f"emergency.refused.{exc.code.value}")
        case TimeInputError():
            return tr.t(f"staff.time.{exc.code}")
    raise exc


def state_for(field: str | None) -> str:
    return _FIELD_STATE.get(field or "", PREVIEW)


async def following(
    message: Message, context: BotContext, op: Operator, draft: Declaration, state: str
) -> State:
    """The question after ``state``: the next of the declaration, or of the update's group, or the preview."""
    if draft.mode == "update":
        group = GROUPS[draft.group or ""]
        after = group[group.index(state) + 1] if state in group and state != group[-1] else PREVIEW
    else:
        after = ORDER[ORDER.index(state) + 1] if state != ORDER[-1] else PREVIEW
    return await ask(message, context, op, draft, after)


async def ask(message: Message, context: BotContext, op: Operator, draft: Declaration, state: str) -> State:
    """Send the question of ``state`` with its buttons (the preview is ``emergency.show_preview``)."""
    tr, services = op.tr, context.services
    if state == PREVIEW:
        return await show_preview(message, context, op, draft)
    if state in (AREA, PLAYBOOKS):
        books = await blocking(services.emergencies.playbooks.list, draft.municipality_id or 0)
        if state == AREA:
            books = [b for b in books if b.area is not None]
        draft.offered = [b.slug for b in books]
        draft.offered_names = [b.name_ar if tr.lang == "ar" else b.name_en for b in books]
        if state == PLAYBOOKS and not books:
            return await following(message, context, op, draft, PLAYBOOKS)
    draft.keep(context)
    text, markup = _question(state, tr, draft)
    await reply(message, text, reply_markup=markup)
    return state


def _question(state: str, tr: Translator, draft: Declaration) -> tuple[str, Any]:
    match state:
        case "em_area":
            return tr.t("emergency.ask.area"), ask_text.area(
                tr, draft.offered_names, points=len(draft.points)
            )
        case "em_hazard":
            return tr.t("emergency.ask.hazard"), ask_text.hazards(tr)
        case "em_level":
            return tr.t("emergency.ask.level"), ask_text.levels(tr)
        case "em_expiry":
            return tr.t("emergency.ask.expiry"), ask_text.expiry(tr)
        case "em_pb":
            chosen = [slug in draft.playbooks for slug in draft.offered]
            return tr.t("emergency.ask.playbooks"), ask_text.playbooks(tr, draft.offered_names, chosen)
        case "em_change":
            return tr.t("emergency.ask.change"), ask_text.changes(tr)
    name = TEXT_OF[state]
    proposal = html.escape(proposed(draft, name), quote=False)
    return tr.t(f"emergency.ask.{name}", proposal=proposal), ask_text.use_proposal(tr, name)


def proposed(draft: Declaration, name: str) -> str:
    """The headline or instruction proposed for ``name`` (e.g. ``headline_en``) from the draft so far."""
    stem, lang = name.rsplit("_", 1)
    hazard, level = draft.hazard or Hazard.OTHER.value, draft.level or AlertLevel.ALERT.value
    if stem == "instruction":
        return ask_text.instruction_proposal(lang, hazard)
    area = draft.texts.get(f"area_{lang}") or ""
    return ask_text.headline_proposal(lang, hazard, level, area)


# --- the preview ------------------------------------------------------------------------------------------


async def show_preview(message: Message, context: BotContext, op: Operator, draft: Declaration) -> State:
    """The area's pin, then the post as it will go out, whom it reaches and what was cut; Confirm / Cancel."""
    services, now = context.services, context.services.clock()
    update = draft.mode == "update"
    try:
        if update:
            assert draft.first_id is not None
            plan = await blocking(services.emergencies.plan_update, draft.first_id, draft.changes(), op.actor)
            version = plan.as_version(op.actor, now, msg_type=MessageType.UPDATE)
        else:
            plan = await blocking(
                services.emergencies.plan, draft.municipality_id or 0, draft.declaration(), op.actor
            )
            version = plan.as_version(op.actor, now)
    except (ValidationError, GeometryError, NotFound) as exc:
        return await refused(message, context, op, draft, exc)
    event = EmergencyAction.UPDATED if update else EmergencyAction.DECLARED
    post = ask_text.preview_post(plan, version, now, event=event)
    pin = plan.area.geometry.representative_point()
    await message.reply_location(latitude=pin.y, longitude=pin.x)
    text = ask_text.preview(plan, post, op.tr, update=update)
    await reply(message, text, reply_markup=ask_text.preview_buttons(op.tr, update=update))
    draft.keep(context)
    return PREVIEW


async def refused(
    message: Message, context: BotContext, op: Operator, draft: Declaration, exc: Exception
) -> State:
    """The service refused: say why, then ask again for the answer at fault (or end, when it is final)."""
    final = isinstance(exc, NotFound) or (
        isinstance(exc, ValidationError) and exc.code in (Refusal.NOT_AUTHORISED, Refusal.ALREADY_ENDED)
    )
    if final:
        Declaration.clear(context)
        await reply(
            message, op.tr.t("emergency.draft_lost") if isinstance(exc, NotFound) else problem(exc, op.tr)
        )
        return END
    await reply(message, problem(exc, op.tr))
    state = AREA if isinstance(exc, GeometryError) else state_for(getattr(exc, "field", None))
    if state == PREVIEW:  # nothing to ask again: the draft as it stands cannot go
        Declaration.clear(context)
        return END
    draft.group = next((g for g, states in GROUPS.items() if state in states), draft.group)
    return await ask(message, context, op, draft, state)
