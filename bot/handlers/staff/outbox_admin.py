"""/outbox for admins: the publishing backlog, the dead letters, and retrying one of them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext, BotHandler
from bot.handlers.common import addressed_to_me, blocking, driver_of, reply
from bot.i18n import Translator
from bot.publish import wiring as publishing
from bot.text import keyboards, staff_views
from closures.publishing import backlog, retry_dead

RETRY_BUTTONS = 5  # under the newest dead letters


async def outbox(update: Update, context: BotContext) -> None:
    """Show the backlog and dead letters; ``/outbox retry <id>`` queues a dead letter again."""
    message = update.effective_message
    if not addressed_to_me(update, context) or message is None or update.effective_user is None:
        return
    me = await driver_of(update, context)
    if not await _is_admin(context, me.user_id):
        await reply(message, me.tr.t("error.not_authorised"))
        return
    args = context.args or []
    if args and args[0] == "retry":
        if len(args) != 2 or not args[1].lstrip("#").isdigit():
            await reply(message, me.tr.t("outbox.usage"))
            return
        await reply(message, await _retry(context, int(args[1].lstrip("#")), me.user_id, me.tr))
        return
    report = await blocking(backlog, context.services.engine)
    text = staff_views.outbox_report(report, me.tr, now=context.services.clock())
    markup = keyboards.retry_dead(me.tr, (d.id for d in report.dead[:RETRY_BUTTONS]))
    await reply(message, text, reply_markup=markup)


async def retry_pressed(update: Update, context: BotContext) -> None:
    """The "Retry #id" button under a dead letter."""
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    me = await driver_of(update, context)
    if not await _is_admin(context, me.user_id):
        await query.answer(me.tr.t("error.not_authorised"), show_alert=True)
        return
    text = await _retry(context, int(query.data.rpartition(":")[2]), me.user_id, me.tr)
    await query.answer(text)


async def _retry(context: BotContext, item_id: int, user_id: int, tr: Translator) -> str:
    services = context.services
    done = await blocking(retry_dead, services.engine, item_id, now=services.clock(), actor=f"tg:{user_id}")
    if not done:
        return tr.t("outbox.not_dead", id=str(item_id))
    publishing.wake(context.application)
    return tr.t("outbox.retried", id=str(item_id))


async def _is_admin(context: BotContext, user_id: int) -> bool:
    services = context.services
    if user_id in services.settings.admin_user_ids:
        return True
    memberships = await blocking(services.staff.memberships, user_id)
    return any(m.is_admin for m in memberships)


def handlers() -> list[BotHandler]:
    return [
        CommandHandler("outbox", outbox),
        CallbackQueryHandler(retry_pressed, pattern=r"^outbox:retry:\d+$"),
    ]
