"""``/emergency``: declare one (``/emergency exercise`` to rehearse it), ``/emergency update`` and
``/emergency end`` for one in force — one conversation, guided and bilingual like ``/new``.

The questions and the preview are in ``emergency_flow``, the answers in ``emergency_answers``; this module
wires the states, picks the emergency to change or end, and makes the one write on Confirm (declare,
update or end, through ``EmergencyService``: the version, its closures, its audit and its posts in one
transaction). ``/cancel`` works at every step; the draft is persisted like the closures' drafts.
"""

from __future__ import annotations

import html
import warnings

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.context import BotCallback, BotContext, BotHandler
from bot.handlers.common import blocking, driver_of, reply
from bot.handlers.staff import emergency_answers as a
from bot.handlers.staff.auth import Operator, operator_of
from bot.handlers.staff.emergency_draft import Declaration
from bot.handlers.staff.emergency_flow import (
    AREA,
    CHANGE,
    END,
    ENDING,
    EXPIRY,
    GROUPS,
    HAZARD,
    HEADLINE_AR,
    HEADLINE_EN,
    INSTRUCTION_AR,
    INSTRUCTION_EN,
    LEVEL,
    MUNI,
    PLAYBOOKS,
    PREVIEW,
    WHICH,
    State,
    ask,
    data,
    refused,
    step,
)  # fmt: skip
from bot.text import emergency_staff as ask_text
from closures.emergency_models import Emergency
from closures.errors import EmergencyConflict, NotFound, ValidationError
from geo.errors import GeometryError

NAME = "staff_emergency"
BUTTONS = r"^e[ahltxpvcuem]:"  # every button of this conversation


async def emergency(update: Update, context: BotContext) -> State:
    """``/emergency [exercise|update|end]``."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None:
        return END
    word = (context.args or [""])[0].lower()
    if word in ("update", "end", "تحديث", "إنهاء", "انهاء"):
        return await _choose(message, context, op, "end" if word in ("end", "إنهاء", "انهاء") else "update")
    draft = Declaration(exercise=word in ("exercise", "test", "تمرين"))
    active = await blocking(_active_of, context, op)
    if active:
        await reply(message, op.tr.n("emergency.already_active", len(active)))
    if len(op.memberships) > 1:
        draft.keep(context)
        choices = [(m.municipality_id, op.name_of(m)) for m in op.memberships]
        await reply(
            message,
            op.tr.t("emergency.ask.municipality"),
            reply_markup=ask_text.municipalities(op.tr, choices),
        )
        return MUNI
    only = op.memberships[0]
    draft.municipality_id = only.municipality_id
    draft.texts["area_ar"], draft.texts["area_en"] = only.name_ar, only.name_en
    return await ask(message, context, op, draft, AREA)


def _active_of(context: BotContext, op: Operator) -> list[Emergency]:
    emergencies = context.services.emergencies
    return [e for mid in op.municipality_ids() for e in emergencies.active(mid)]


async def _choose(message: Message, context: BotContext, op: Operator, mode: str) -> State:
    """The emergency to update or end: the only one in force, or a button per emergency."""
    active = await blocking(_active_of, context, op)
    if not active:
        await reply(message, op.tr.t("emergency.none_active"))
        return END
    if len(active) == 1:
        return await _picked(message, context, op, active[0], mode)
    Declaration(mode=mode).keep(context)
    await reply(message, op.tr.t("emergency.choose"), reply_markup=ask_text.which(active, op.tr))
    return WHICH


@step
async def on_which(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    first_id = int(data(update).removeprefix("eu:") or 0)
    try:
        version = await blocking(context.services.emergencies.current, first_id)
    except NotFound:
        return await refused(message, context, op, draft, NotFound("emergency", first_id))
    if op.membership(version.municipality_id) is None:
        return WHICH
    return await _picked(message, context, op, version, draft.mode)


async def _picked(
    message: Message, context: BotContext, op: Operator, version: Emergency, mode: str
) -> State:
    draft = Declaration.of(version, mode)
    membership = op.membership(version.municipality_id)
    if membership is not None:
        draft.texts["area_ar"], draft.texts["area_en"] = membership.name_ar, membership.name_en
    draft.keep(context)
    if mode == "end":
        headline = html.escape(
            version.headline_ar if op.tr.lang == "ar" else version.headline_en, quote=False
        )
        text = op.tr.t("emergency.end.confirm", id=version.first_id, headline=headline)
        await reply(message, text, reply_markup=ask_text.end_buttons(op.tr))
        return ENDING
    return await ask(message, context, op, draft, CHANGE)


@step
async def on_change(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """A field group picked from "What do you want to change?": ask its first question."""
    group = data(update).removeprefix("ec:")
    if group not in GROUPS:
        return CHANGE
    draft.group = group
    if group == "area":
        draft.points = []
    return await ask(message, context, op, draft, GROUPS[group][0])


@step
async def on_preview(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """Confirm (the one write), or change something else (an update)."""
    if data(update) == "ev:more" and draft.mode == "update":
        return await ask(message, context, op, draft, CHANGE)
    services = context.services
    try:
        if draft.mode == "update":
            assert draft.first_id is not None
            issued = await blocking(
                services.emergencies.update,
                draft.first_id,
                draft.changes(),
                op.actor,
                expected_version=draft.version,
            )
            text = op.tr.t("emergency.updated", id=draft.first_id, version=issued.emergency.version)
        else:
            issued = await blocking(
                services.emergencies.declare, draft.municipality_id or 0, draft.declaration(), op.actor
            )
            text = op.tr.t("emergency.declared", id=issued.emergency.first_id)
    except EmergencyConflict as exc:
        return await _conflict(message, context, op, exc)
    except (ValidationError, GeometryError, NotFound) as exc:
        return await refused(message, context, op, draft, exc)
    Declaration.clear(context)
    await reply(message, text)
    return END


@step
async def on_end(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """ "End it now" (or Cancel) under the question."""
    if data(update) != "ee:yes":
        return await cancel(update, context)
    assert draft.first_id is not None
    try:
        await blocking(
            context.services.emergencies.end, draft.first_id, op.actor, expected_version=draft.version
        )
    except EmergencyConflict as exc:
        return await _conflict(message, context, op, exc)
    except (ValidationError, NotFound) as exc:
        return await refused(message, context, op, draft, exc)
    Declaration.clear(context)
    await reply(message, op.tr.t("emergency.ended", id=draft.first_id))
    return END


async def _conflict(message: Message, context: BotContext, op: Operator, exc: EmergencyConflict) -> State:
    Declaration.clear(context)
    await reply(message, op.tr.t("emergency.conflict", id=exc.first_id, version=exc.current))
    return END


async def cancel(update: Update, context: BotContext) -> State:
    """Drop the draft; nothing was written."""
    me = await driver_of(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    Declaration.clear(context)
    if update.effective_message is not None:
        await reply(update.effective_message, me.tr.t("emergency.cancelled"))
    return END


async def unexpected(update: Update, context: BotContext) -> None:
    """Anything the current question does not expect: say what to do instead (the state stays)."""
    me = await driver_of(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer(me.tr.t("staff.stale_button"))
    elif update.effective_message is not None:
        await reply(update.effective_message, me.tr.t("emergency.unexpected"))


def conversation() -> ConversationHandler:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    text = private & filters.TEXT & ~filters.COMMAND

    def button(callback: BotCallback, pattern: str) -> BotHandler:
        return CallbackQueryHandler(callback, pattern=pattern)

    texts: dict[object, list[BotHandler]] = {
        state: [MessageHandler(text, a.on_text_for(state)), button(a.on_text_for(state), rf"^et:{field}$")]
        for state, field in ((HEADLINE_AR, "headline_ar"), (HEADLINE_EN, "headline_en"),
                             (INSTRUCTION_AR, "instruction_ar"), (INSTRUCTION_EN, "instruction_en"))
    }  # fmt: skip
    states: dict[object, list[BotHandler]] = {
        MUNI: [button(a.on_municipality, r"^em:\d+$")],
        AREA: [
            MessageHandler(private & filters.LOCATION, a.on_corner),
            MessageHandler(private & filters.Document.ALL, a.on_area_file),
            MessageHandler(text, a.on_area_text),
            button(a.on_area_button, r"^ea:(done|whole|p:\d+)$"),
        ],
        HAZARD: [button(a.on_hazard, r"^eh:[a-z]+$")],
        LEVEL: [button(a.on_level, r"^el:[a-z]+$")],
        **texts,
        EXPIRY: [button(a.on_expiry, r"^ex:\d+$"), MessageHandler(text, a.on_expiry)],
        PLAYBOOKS: [button(a.on_playbook, r"^ep:(\d+|go)$")],
        PREVIEW: [button(on_preview, r"^ev:(confirm|more)$")],
        CHANGE: [button(on_change, r"^ec:[a-z]+$")],
        WHICH: [button(on_which, r"^eu:\d+$")],
        ENDING: [button(on_end, r"^ee:(yes|no)$")],
    }
    fallbacks = [
        CommandHandler("cancel", cancel),
        button(cancel, r"^ev:cancel$"),
        button(unexpected, BUTTONS),
        MessageHandler(private, unexpected),
    ]
    entry: list[BotHandler] = [CommandHandler("emergency", emergency, filters=private)]
    with warnings.catch_warnings():  # buttons are per user, not per message (see the /new conversation)
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=entry,
            states=states,
            fallbacks=fallbacks,
            name=NAME,
            persistent=True,
            allow_reentry=True,
        )
