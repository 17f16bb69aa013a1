"""Subscriber alerts: one private message per driver, in their language, rendered like a driver's answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.i18n import get_translator
from bot.publish import InDoubt
from bot.publish.gate import GatedPublisher
from bot.publish.telegram_channel import in_doubt_reason, telegram_failure
from bot.text.answers import closure_line
from bot.text.posts import alert_text
from closures.lifecycle import phase_at
from closures.publishing import PostContext
from closures.views import Found


class AlertPublisher(GatedPublisher):
    """Sends ``alert:<user>`` rows; a driver who blocked the bot raises ``RecipientGone``."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def publish(self, ctx: PostContext, *, in_doubt_since: datetime | None) -> str:
        if in_doubt_since is not None:
            raise InDoubt(in_doubt_reason(in_doubt_since))
        payload = ctx.item.payload or {}
        chat = int(payload["chat_id"])
        tr = get_translator(str(payload.get("language") or "ar"))
        found = Found(
            ctx.closure,
            phase_at(ctx.closure, ctx.now),
            float(payload["distance_m"]),
            payload.get("direction"),
        )
        body = closure_line(found, tr, ZoneInfo(ctx.place.timezone), ctx.now)
        text = alert_text(ctx, tr, body, name=str(payload["name"]))
        try:
            message = await self.bot.send_message(chat, text, parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            raise telegram_failure(exc, chat) from exc
        return str(message.message_id)
