"""Sending a staff notice about a partner's CAP alert (``cap-staff:<user>`` rows): one direct message in the
staff member's language (both, Arabic first, when they chose none), with the buttons of
``bot.text.cap_notices``.

A send in doubt (the process died between sending and recording) is not repeated on its own, as for every
Telegram message: a duplicate Confirm button is harmless, but the Bot API cannot tell us whether the first
one arrived, and the worker's rule for Telegram is one message at most. A staff member who blocked the bot
is ``RecipientGone``.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.publish import InDoubt
from bot.publish.gate import GatedPublisher
from bot.publish.telegram_channel import in_doubt_reason, telegram_failure
from bot.text.cap_notices import notice_message
from closures.cap_notices import CapNotice


class CapStaffPublisher(GatedPublisher):
    """Every ``cap-staff:<user>`` row."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def publish(self, notice: CapNotice, *, in_doubt_since: datetime | None) -> str:
        if in_doubt_since is not None:
            raise InDoubt(in_doubt_reason(in_doubt_since))
        assert notice.item is not None  # a notice the worker prepared names its row
        chat = int(notice.item.target)
        text, buttons = notice_message(notice, notice.now or notice.item.due_at, notice.language)
        try:
            message = await self.bot.send_message(chat, text, parse_mode=ParseMode.HTML, reply_markup=buttons)
        except TelegramError as exc:
            raise telegram_failure(exc, chat) from exc
        return str(message.message_id)
