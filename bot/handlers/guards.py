"""Flood control in front of every handler, and the one error handler behind them all."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.context import BotContext, BotHandler
from bot.handlers.common import driver_of, reply
from bot.i18n import get_translator
from bot.services.throttle import Verdict

log = logging.getLogger(__name__)


async def flood_control(update: Update, context: BotContext) -> None:
    """Stop a user's update here when they exceed their rate; tell them once, then drop silently."""
    user = update.effective_user
    if user is None:
        return
    verdict = context.services.flood.check(user.id)
    if verdict is Verdict.ALLOW:
        return
    if verdict is Verdict.WARN and update.effective_message is not None:
        me = await driver_of(update, context)
        await reply(update.effective_message, me.tr.t("flood.slow_down"))
    log.info("flood control: %s update %s from user %s", verdict.value, update.update_id, user.id)
    raise ApplicationHandlerStop


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure with its context; tell the user a short apology in their language."""
    user = update.effective_user if isinstance(update, Update) else None
    log.error(
        "error handling update %s (user %s): %r",
        update.update_id if isinstance(update, Update) else "-",
        user.id if user else "-",
        context.error,
        exc_info=context.error,
    )
    if not isinstance(update, Update) or update.effective_message is None:
        return
    try:
        me = await driver_of(update, context)
        text = me.tr.t("error.generic")
    except Exception:  # the store itself may be what failed: apologise in the default language
        text = get_translator(context.services.settings.default_language).t("error.generic")
    try:
        await reply(update.effective_message, text)
    except TelegramError as exc:
        log.warning("could not send the apology for update %s: %r", update.update_id, exc)


def handlers() -> list[BotHandler]:
    return [TypeHandler(Update, flood_control)]
