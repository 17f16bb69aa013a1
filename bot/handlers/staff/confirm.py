"""``/lift ID`` and ``/cancel_closure ID`` go public on the channel and X, so they ask first: the post that
will go out, then "Yes, post it" or "Cancel". The button carries the closure's version, so a closure changed
in between is not lifted on the strength of an old preview.
"""

from __future__ import annotations

import dataclasses

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext, BotHandler
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import Operator, operator_of, refuse
from bot.i18n import Translator
from bot.text import posts, staff_views
from closures import municipalities
from closures.errors import ConflictError, NotFound, Refusal, ValidationError
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, PostEvent, Status
from closures.publishing import Place
from closures.rules import geometry_of
from closures.views import ClosureView

ACTIONS = {
    "lift": (PostEvent.LIFTED, Status.LIFTED),
    "cancel_closure": (PostEvent.CANCELLED, Status.CANCELLED),
}
PATTERN = r"^sq:(lift|cancel_closure):\d+:\d+$"


async def ask(message: Message, context: BotContext, op: Operator, closure: Closure, action: str) -> None:
    """Show the post that lifting or cancelling will publish, and ask to confirm it."""
    services = context.services
    now = services.clock()
    phase = phase_at(closure, now)
    refusal = _refusal(action, phase)
    if refusal is not None:
        await reply(message, op.tr.t(f"staff.refused.{refusal.value}"))
        return
    event, status = ACTIONS[action]
    place = await blocking(_place, context, closure.municipality_id)
    after = dataclasses.replace(
        ClosureView.of(closure, geometry_of(closure)), status=status.value, version=closure.version + 1
    )
    post = posts.preview(after, event, place, now)
    text = f"<b>{op.tr.t(f'staff.confirm.{action}', id=closure.id)}</b>\n\n{post}"
    await reply(message, text, reply_markup=_buttons(op.tr, action, closure))


async def on_confirm(update: Update, context: BotContext) -> None:
    """ "Yes, post it": lift or cancel the closure as it was previewed."""
    query = update.callback_query
    op = await operator_of(update, context)
    if op is None or query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    _, action, closure_id, version = (query.data or "").split(":")
    services = context.services
    change = services.closures.lift if action == "lift" else services.closures.cancel
    try:
        closure = await blocking(services.closures.get, int(closure_id))
        if op.membership(closure.municipality_id) is None:
            await refuse(update, op.tr)
            return
        closure = await blocking(change, int(closure_id), op.actor, expected_version=int(version))
    except NotFound:
        await reply(query.message, op.tr.t("staff.not_found", id=closure_id))
        return
    except ConflictError:
        await reply(query.message, op.tr.t("staff.confirm.changed", id=closure_id))
        return
    except ValidationError as exc:
        await reply(query.message, op.tr.t(f"staff.refused.{exc.code.value}"))
        return
    tz = services.zone(closure.municipality_id)
    until = staff_views.until_text(closure.ends_at, op.tr, tz, services.clock())
    await reply(query.message, op.tr.t(f"staff.done.{action}", id=closure.id, until=until))


async def on_keep(update: Update, context: BotContext) -> None:
    """ "Cancel" under the question: nothing changes, nothing is posted."""
    query = update.callback_query
    op = await operator_of(update, context)
    if op is None or query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    await reply(query.message, op.tr.t("staff.confirm.kept"))


def _refusal(action: str, phase: Phase) -> Refusal | None:
    if action == "lift" and phase is Phase.SCHEDULED:
        return Refusal.NOT_STARTED
    return None if phase in (Phase.ACTIVE, Phase.SCHEDULED) else Refusal.NOT_OPEN


def _place(context: BotContext, municipality_id: int) -> Place:
    muni = next(m for m in municipalities.every(context.services.engine) if m.id == municipality_id)
    return Place(muni.slug, muni.name_ar, muni.name_en, muni.timezone)


def _buttons(tr: Translator, action: str, closure: Closure) -> InlineKeyboardMarkup:
    yes = InlineKeyboardButton(
        tr.t(f"staff.button.confirm_{action}"), callback_data=f"sq:{action}:{closure.id}:{closure.version}"
    )
    return InlineKeyboardMarkup([[yes], [InlineKeyboardButton(tr.t("button.cancel"), callback_data="sq:no")]])


def handlers() -> list[BotHandler]:
    return [
        CallbackQueryHandler(on_confirm, pattern=PATTERN),
        CallbackQueryHandler(on_keep, pattern=r"^sq:no$"),
    ]
