"""``/new`` and ``/edit ID``: one conversation that drafts a closure, previews it, and writes it on Confirm.

The questions are asked in ``flow``, answered in ``geometry``, ``drawn`` (the map editor) and ``fields``;
this module wires the states together and handles the preview: Confirm (the only write, through the
service, in one transaction with its audit event and outbox rows), Edit a field, Cancel. ``/cancel`` works
at every step.
The state and the draft are persisted (``bot.handlers.persistence``), so a half-finished conversation
survives a restart of the bot.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import BotContext
from bot.handlers.common import blocking, driver_of, reply
from bot.handlers.staff import drawn
from bot.handlers.staff import fields as f
from bot.handlers.staff import geometry as g
from bot.handlers.staff.auth import Operator, named_closure, operator_of
from bot.handlers.staff.draft import Draft
from bot.handlers.staff.flow import (
    DETOUR,
    DIRECTION,
    END,
    END_CONVERSATION,
    FIELD,
    GEOMETRY,
    GROUPS,
    HEADING,
    LANES,
    PREVIEW,
    REASON,
    SEVERITY,
    START,
    START_PAST,
    TITLE_AR,
    TITLE_EN,
    State,
    ask,
    clear,
    problem,
    state_for_field,
    step,
)  # fmt: skip
from bot.handlers.staff.map_editor import EMERGENCY_AREA
from bot.text import staff_views
from closures.errors import ConflictError, NotFound, Refusal, ValidationError
from closures.lifecycle import Phase, phase_at
from geo.errors import GeometryError

NAME = "staff_new"
STAFF_BUTTONS = r"^(s[grsdhtpexvf]|t[ae]):"  # the buttons of /new and /edit


async def new(update: Update, context: BotContext) -> State:
    """Start a closure draft and ask where the closure is."""
    op = await operator_of(update, context)
    if op is None or update.effective_message is None:
        return END_CONVERSATION
    return await ask(update.effective_message, context, op, Draft(), GEOMETRY)


async def edit(update: Update, context: BotContext) -> State:
    """Load a closure of the operator's municipality into a draft and offer its fields."""
    found = await named_closure(update, context)
    if found is None:
        return END_CONVERSATION
    op, message, closure = found
    if phase_at(closure, context.services.clock()) in (Phase.LIFTED, Phase.CANCELLED, Phase.ENDED):
        await reply(message, op.tr.t("staff.refused.not_open"))
        return END_CONVERSATION
    draft = Draft.of_closure(closure)
    draft.editing = True
    await reply(message, op.tr.t("staff.editing", id=closure.id))
    return await ask(message, context, op, draft, FIELD)


@step
async def on_preview(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """Confirm, Edit a field, or Cancel under the preview."""
    choice = (update.callback_query.data or "") if update.callback_query else ""
    if choice == "sv:edit":
        return await ask(message, context, op, draft, FIELD)
    return await confirm(message, context, op, draft)


@step
async def on_field(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """A field picked from the "Edit a field" menu: ask for it, then come back to the preview."""
    group = (update.callback_query.data or "").removeprefix("sf:") if update.callback_query else ""
    draft.editing, draft.points = True, []
    return await ask(message, context, op, draft, GROUPS.get(group, FIELD))


async def confirm(message: Message, context: BotContext, op: Operator, draft: Draft) -> State:
    """Write the draft through the service: register a new closure, or update the edited one."""
    services = context.services
    if draft.geometry is None or draft.municipality_id is None:
        clear(context)
        await reply(message, op.tr.t("staff.draft_lost"))
        return END_CONVERSATION
    try:
        if draft.closure_id is None:
            closure = await blocking(
                services.closures.register, draft.municipality_id, draft.closure_draft(), op.actor,
                allow_past_start=draft.past_ok,
            )  # fmt: skip
        elif not draft.changed():
            clear(context)
            await reply(message, op.tr.t("staff.unchanged", id=draft.closure_id))
            return END_CONVERSATION
        else:
            closure = await blocking(
                services.closures.update, draft.closure_id, draft.version, draft.changes(), op.actor,
                allow_past_start=draft.past_ok,
            )  # fmt: skip
    except ConflictError as exc:
        return await _conflict(message, context, op, draft, exc)
    except (ValidationError, GeometryError, NotFound) as exc:
        return await _refused(message, context, op, draft, exc)
    clear(context)
    key = "staff.registered" if draft.closure_id is None else "staff.updated"
    await reply(message, op.tr.t(key, id=closure.id, version=closure.version))
    return END_CONVERSATION


async def cancel(update: Update, context: BotContext) -> State:
    """Drop the draft; nothing was written."""
    me = await driver_of(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    clear(context)
    if update.effective_message is not None:
        await reply(update.effective_message, me.tr.t("staff.cancelled"))
    return END_CONVERSATION


async def unexpected(update: Update, context: BotContext) -> None:
    """Anything the current question does not expect: say what to do instead (the state stays)."""
    me = await driver_of(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer(me.tr.t("staff.stale_button"))
    elif update.effective_message is not None:
        await reply(update.effective_message, me.tr.t("staff.unexpected"))


async def _conflict(
    message: Message, context: BotContext, op: Operator, draft: Draft, exc: ConflictError
) -> State:
    """Someone changed the closure meanwhile: show what, keep the operator's changes on top, ask again."""
    services = context.services
    fresh = await blocking(services.closures.get, exc.closure_id)
    tz, now = services.zone(fresh.municipality_id), services.clock()
    changed = staff_views.conflict(exc.changes, op.tr, tz, now)
    await reply(
        message,
        f"{op.tr.t('staff.conflict', id=exc.closure_id)}\n{changed}\n\n{op.tr.t('staff.conflict.again')}",
    )
    draft.rebase(fresh)
    return await ask(message, context, op, draft, PREVIEW)


async def _refused(
    message: Message, context: BotContext, op: Operator, draft: Draft, exc: Exception
) -> State:
    """The service refused: say why, then ask again for the field at fault (or end, when it is final)."""
    if isinstance(exc, NotFound) or (isinstance(exc, ValidationError) and exc.code is Refusal.NOT_AUTHORISED):
        clear(context)
        await reply(
            message, op.tr.t("error.not_authorised" if isinstance(exc, ValidationError) else "staff.gone")
        )
        return END_CONVERSATION
    await reply(message, problem(exc, op.tr))
    state = GEOMETRY if isinstance(exc, GeometryError) else state_for_field(getattr(exc, "field", None))
    draft.editing = True
    return await ask(message, context, op, draft, state)


type Handler = BaseHandler[Update, BotContext, object]
type Callback = Callable[[Update, BotContext], Coroutine[Any, Any, object]]


def conversation() -> ConversationHandler[BotContext]:
    """Every state of ``/new`` and ``/edit`` with the answers it takes; ``/cancel`` and strays in any."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    text = private & filters.TEXT & ~filters.COMMAND
    drawing = filters.StatusUpdate.WEB_APP_DATA

    def button(callback: Callback, pattern: str) -> Handler:
        return CallbackQueryHandler(callback, pattern=pattern)

    states: dict[object, list[Handler]] = {
        GEOMETRY: [
            MessageHandler(private & filters.LOCATION, g.on_location),
            MessageHandler(private & filters.Document.ALL, g.on_document),
            MessageHandler(text, g.on_text),
            button(g.on_radius, r"^sg:r:\d+$"),
            button(g.on_done, r"^sg:(line|area)$"),
            button(g.on_place_pick, r"^sg:p:\d$"),
        ],
        REASON: [button(f.on_reason, r"^sr:[a-z]+$")],
        SEVERITY: [button(f.on_severity, r"^ss:(full|partial)$")],
        LANES: [MessageHandler(text, f.on_lanes)],
        DIRECTION: [button(f.on_direction, r"^sd:(both|one)$")],
        HEADING: [button(f.on_heading, r"^sh:[NSEW]{1,3}$")],
        START: [button(f.on_start, r"^st:(now|in1h|tonight|tomorrow)$"), MessageHandler(text, f.on_start)],
        START_PAST: [button(f.on_start_past, r"^sp:(yes|no)$")],
        END: [button(f.on_end, r"^se:open$"), MessageHandler(text, f.on_end)],
        DETOUR: [button(f.on_detour, r"^sx:skip$"), MessageHandler(text, f.on_detour)],
        TITLE_AR: [button(f.on_title_ar, r"^ta:use$"), MessageHandler(text, f.on_title_ar)],
        TITLE_EN: [button(f.on_title_en, r"^te:(use|skip)$"), MessageHandler(text, f.on_title_en)],
        PREVIEW: [button(on_preview, r"^sv:(confirm|edit)$")],
        FIELD: [button(on_field, r"^sf:[a-z_]+$")],
    }
    fallbacks: list[Handler] = [
        CommandHandler("cancel", cancel),
        button(cancel, r"^sv:cancel$"),
        button(unexpected, STAFF_BUTTONS),
        MessageHandler(private & ~drawing, unexpected),  # a drawing is an entry point's, or /emergency's
    ]
    entry: list[Handler] = [
        CommandHandler("new", new, filters=private),
        CommandHandler("edit", edit, filters=private),
        # a shape from the map editor, in any state: ``drawn`` decides which draft it answers, if any (an
        # emergency's area is /emergency's)
        MessageHandler(private & drawing & ~EMERGENCY_AREA, drawn.on_drawing),
    ]
    # Buttons are per user, not per message (any of our messages may be tapped): PTB warns of that.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=entry,
            states=states,
            fallbacks=fallbacks,
            name=NAME,
            persistent=True,
            allow_reentry=True,
        )
