"""Posting to Telegram channels: the announcement as a map with its caption and a location pin; every
later event as a reply to it, an update also editing the original caption.

Failures are sorted once, in :func:`telegram_failure`: flood control and server errors are retried;
a timeout or a broken connection *after* the request was written is in doubt — the Bot API cannot read a
channel's posts, so the worker never re-sends it on its own (see ``bot.publish.worker``).
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.publish import InDoubt, PublishError, RecipientGone, Rejected, RetryLater
from bot.publish.aiohttp_request import NOT_SENT as AIOHTTP_NOT_SENT
from bot.publish.gate import GatedPublisher, retry_after_s
from bot.publish.intent import current_send
from bot.publish.maps import MapMaker
from bot.text.posts import CAPTION_LIMIT, announcement_caption, changes_text, channel_text
from closures.models import PostEvent
from closures.publishing import PostContext
from geo.measure import pin_of

logger = logging.getLogger(__name__)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, *AIOHTTP_NOT_SENT)
_GONE = ("blocked by the user", "user is deactivated", "chat not found", "bot can't initiate")


class ChannelPublisher(GatedPublisher):
    """One publisher for every ``telegram:<channel>`` row."""

    def __init__(self, bot: Bot, maps: MapMaker, *, location_pin: bool = True) -> None:
        self.bot = bot
        self.maps = maps
        self.location_pin = location_pin

    async def publish(self, ctx: PostContext, *, in_doubt_since: datetime | None) -> str:
        if in_doubt_since is not None:
            raise InDoubt(in_doubt_reason(in_doubt_since))
        chat = ctx.item.target
        try:
            if ctx.item.event is PostEvent.ANNOUNCED or ctx.original_id is None:
                return await self._original(chat, ctx)
            return await self._follow_up(chat, ctx, int(ctx.original_id))
        except TelegramError as exc:
            raise telegram_failure(exc, chat) from exc

    async def _original(self, chat: str, ctx: PostContext) -> str:
        png = await self.maps.png(ctx.closure)
        if ctx.item.event is PostEvent.ANNOUNCED:
            caption = announcement_caption(ctx)
        else:  # a follow-up whose announcement never went out here: say it all in one post
            caption = channel_text(ctx, limit=CAPTION_LIMIT)
        message = await self.bot.send_photo(chat, photo=png, caption=caption, parse_mode=ParseMode.HTML)
        if (send := current_send()) is not None:
            await send.posted_as(str(message.message_id))
        if self.location_pin:
            pin = pin_of(ctx.closure.geometry)
            try:  # best effort: the post itself is out, so a failed pin must not make it go out twice
                await self.bot.send_location(
                    chat,
                    latitude=pin.y,
                    longitude=pin.x,
                    disable_notification=True,
                    reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
                )
            except TelegramError as exc:
                logger.warning("location pin for outbox row %s not sent: %s", ctx.item.id, exc)
        return str(message.message_id)

    async def _follow_up(self, chat: str, ctx: PostContext, original: int) -> str:
        if ctx.item.event in (PostEvent.UPDATED, PostEvent.EXTENDED):
            try:
                await self.bot.edit_message_caption(
                    chat, original, caption=announcement_caption(ctx), parse_mode=ParseMode.HTML
                )
            except BadRequest as exc:  # not modified, or the original was deleted: the reply still goes
                logger.info("original post %s of outbox row %s not edited: %s", original, ctx.item.id, exc)
        message = await self.bot.send_message(
            chat,
            changes_text(ctx),
            parse_mode=ParseMode.HTML,
            reply_parameters=ReplyParameters(original, allow_sending_without_reply=True),
        )
        return str(message.message_id)


def in_doubt_reason(since: datetime) -> str:
    return (
        f"in doubt: a send started at {since.isoformat(timespec='seconds')} left no outcome, and the Bot API "
        "cannot read a chat to check it; look, then retry it with /outbox if it is missing"
    )


def telegram_failure(exc: TelegramError, chat: int | str) -> PublishError:
    """What a Telegram error means for the outbox row (see the module docstring)."""
    private = _is_user(chat)
    if isinstance(exc, RetryAfter):
        seconds = retry_after_s(exc)
        return RetryLater(f"telegram flood control: retry after {seconds:g} s", retry_after=seconds)
    if isinstance(exc, Forbidden | BadRequest) and private and any(g in exc.message.lower() for g in _GONE):
        return RecipientGone(f"recipient gone: {exc.message}", user_id=int(chat))
    if isinstance(exc, ChatMigrated):
        return Rejected(f"the chat moved to {exc.new_chat_id}: update the configuration")
    if isinstance(exc, Forbidden | BadRequest):
        return Rejected(f"telegram refused: {exc.message}")
    if isinstance(exc, TimedOut | NetworkError):  # BadRequest is a NetworkError too: checked above
        cause = exc.__cause__
        answered = cause is None and not isinstance(exc, TimedOut)  # Telegram answered with a 5xx
        if answered or isinstance(cause, _NOT_SENT) or "Pool timeout" in exc.message:
            return RetryLater(f"telegram unavailable: {exc.message}")
        return InDoubt(f"in doubt: {type(exc).__name__} after the request was sent ({exc.message})")
    return RetryLater(f"telegram error: {exc.message}")


def _is_user(chat: int | str) -> bool:
    try:
        return int(chat) > 0
    except ValueError:
        return False
