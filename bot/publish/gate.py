"""The one gate every Bot API request of the bot passes: python-telegram-bot's rate-limiter hook.

Used for every send of the process — channel posts, subscriber alerts, any kind of direct message the
outbox carries, and the replies to people — so that they share one budget (:mod:`bot.publish.pacing`).
For each single HTTP attempt it:

1. waits for the pacer (overall limit, per-chat limit, any flood-control pause);
2. inside an outbox publish, commits the row's intent just before an attempt that may post
   (:mod:`bot.publish.intent`) — never before or during a wait;
3. makes the request. A 429 pauses the pacer for its ``retry_after`` — every send of the bot, not only
   this one. An outbox send is then handed back to the worker (which reschedules the row: nothing was
   sent), while a reply to a person is tried again here, at most ``max_retries`` times.

With ``paid_broadcast`` the outbox's sends carry ``allow_paid_broadcast`` (Telegram then allows up to
1000 messages a second, for a fee per message); replies to people never do.
Timeouts are PTB's per request, so they run from the moment the request leaves, never from the queue.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from telegram import Bot
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.config import Settings
from bot.publish.intent import current_send
from bot.publish.pacing import Pacer
from closures.sendrate import slots_for

logger = logging.getLogger(__name__)
_NOT_POSTING = frozenset({"sendChatAction"})
_EDITS = ("edit", "stopMessageLiveLocation", "stopPoll")


def posts(endpoint: str) -> bool:
    """Does this Bot API method create a message (so that an attempt in doubt could double it)?"""
    return (endpoint.startswith(("send", "copyMessage", "forwardMessage"))) and endpoint not in _NOT_POSTING


def paced(endpoint: str) -> bool:
    """Does it count against Telegram's message limits (posting and editing do; reading does not)?"""
    return posts(endpoint) or endpoint.startswith(_EDITS)


def gated(bot: object) -> bool:
    """Do this bot's requests pass a :class:`TelegramGate`?"""
    return isinstance(getattr(bot, "rate_limiter", None), TelegramGate)


class GatedPublisher:
    """A publisher sending through ``self.bot``: through the gate, the outbox's intent is committed per HTTP
    attempt (the worker reads ``intent_per_attempt``; without the gate it commits one intent itself)."""

    bot: Bot

    @property
    def intent_per_attempt(self) -> bool:
        return gated(self.bot)


def retry_after_s(exc: RetryAfter) -> float:
    """A 429's ``retry_after`` in seconds (PTB 22 warns that the property's type will change)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramGate(BaseRateLimiter[None]):
    """Paces, pauses and records outbox intents for one bot's requests (see the module docstring)."""

    def __init__(self, pacer: Pacer, *, paid_broadcast: bool = False, max_retries: int = 3) -> None:
        self.pacer = pacer
        self.paid_broadcast = paid_broadcast
        self.max_retries = max_retries

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self.pacer.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        send = current_send()
        posting = posts(endpoint)
        if send is not None and posting and self.paid_broadcast:
            data = {**data, "allow_paid_broadcast": True}
            args = (endpoint, data)
        retries = 0
        while True:
            if paced(endpoint):
                async with self.pacer.slot(
                    data.get("chat_id"),
                    urgent=send is None,
                    last_sent=send.last_sent_here if send is not None else None,
                ):  # the intent is the last thing before the request leaves, after every wait
                    if send is not None and posting:
                        await send.before_attempt()
            elif send is not None and posting:
                await send.before_attempt()
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_s(exc)
                self.pacer.pause(seconds)
                if send is not None and posting:
                    await send.not_sent()
                logger.warning("telegram flood control on %s: every send waits %g s", endpoint, seconds)
                if send is not None or retries >= self.max_retries:
                    raise
                retries += 1
                continue
            if send is not None and posting:
                send.answered()
            return result


def gate_for(settings: Settings, engine: Engine) -> TelegramGate:
    """The bot's gate as the settings say: Telegram's limits (shared through PostgreSQL), paid broadcast."""
    pacer = Pacer(
        slots_for(engine), rate=settings.telegram_rate(), chat_rate=settings.telegram_chat_rate_msg_s
    )
    return TelegramGate(pacer, paid_broadcast=settings.telegram_paid_broadcast)
