"""Publishing an emergency: its channel post (pinned while it lasts), its X post, and one direct message
per person, each later version answering the first.

- Channel (``emergency-telegram:<chat>``): the first version is posted and pinned; an update answers the
  first post and takes the pin (the pin always shows what holds now); the end and the expiry answer it
  too and take every pin of the emergency off. Pinning is best effort: once the post is out, a failed pin
  is logged, never a reason to post again.
- X (``emergency-x:<account>``): the Arabic post, the English one as its reply; later versions reply to
  the first. Budget, duplicates and attempts in doubt work as for closures (``bot.publish.x``).
- Direct message (``emergency-dm:<user>``): in the person's language; updates and the end answer their
  first message. A person who blocked the bot is ``RecipientGone``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import datetime

import aiohttp
import tweepy
from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.i18n import get_translator
from bot.publish import InDoubt, Rejected, RetryLater
from bot.publish.gate import GatedPublisher
from bot.publish.intent import current_send
from bot.publish.telegram_channel import in_doubt_reason, telegram_failure
from bot.publish.x import XPublisher, XStyle, _norm, _until_tomorrow, x_failure
from bot.text.emergency import channel_post, direct_message, x_posts
from closures.emergency_models import EmergencyAction
from closures.emergency_publishing import EmergencyPost

logger = logging.getLogger(__name__)
_PINNING = (EmergencyAction.DECLARED, EmergencyAction.UPDATED)


def _answering(post: EmergencyPost) -> ReplyParameters | None:
    return ReplyParameters(int(post.reply_to), allow_sending_without_reply=True) if post.reply_to else None


class EmergencyChannelPublisher(GatedPublisher):
    """Every ``emergency-telegram:<chat>`` row."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def publish(self, post: EmergencyPost, *, in_doubt_since: datetime | None) -> str:
        if in_doubt_since is not None:
            raise InDoubt(in_doubt_reason(in_doubt_since))
        chat = post.item.target
        try:
            message = await self.bot.send_message(
                chat, channel_post(post), parse_mode=ParseMode.HTML, reply_parameters=_answering(post)
            )
        except TelegramError as exc:
            raise telegram_failure(exc, chat) from exc
        if (send := current_send()) is not None:  # the post is out: a crash while pinning leaves it done
            await send.posted_as(str(message.message_id))
        await self._move_pin(post, chat, message.message_id)
        return str(message.message_id)

    async def _move_pin(self, post: EmergencyPost, chat: str, new: int) -> None:
        """Pin the newest version (not an end), then take the earlier pins off."""
        try:
            if post.item.event in _PINNING:
                await self.bot.pin_chat_message(chat, new, disable_notification=True)
            for earlier in post.earlier:
                await self.bot.unpin_chat_message(chat, int(earlier))
        except TelegramError as exc:
            logger.warning("pins of emergency %s in %s not moved: %s", post.item.emergency_id, chat, exc)


def rendering_key(post: EmergencyPost) -> Hashable:
    """Everything a person's direct message is rendered from (``direct_message``), the person aside: the
    version (issued versions never change; ``updated_at`` to be sure), the event, the language, why they
    are reached, the closures as of now, and now itself (times read "today", "tomorrow" from it)."""
    version = post.version
    reason = (post.item.payload or {}).get("reason")
    return (
        version.first_id, version.version, version.id, version.updated_at, post.item.event,
        post.language or "ar", reason, post.closures, post.place.timezone, post.now,
    )  # fmt: skip


class RenderedTexts:
    """The direct messages already rendered: a fan-out sends the same few texts (one per language and
    reason) to thousands of people, so each is rendered once per prepared batch, not once per person."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._texts: dict[Hashable, str] = {}

    def __call__(self, post: EmergencyPost) -> str:
        key = rendering_key(post)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= self.size:
                self._texts.clear()  # old batches' keys (an earlier "now"): never asked for again
            text = self._texts[key] = direct_message(post, get_translator(post.language or "ar"))
        return text


class EmergencyDmPublisher(GatedPublisher):
    """Every ``emergency-dm:<user>`` row."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.texts = RenderedTexts()

    async def publish(self, post: EmergencyPost, *, in_doubt_since: datetime | None) -> str:
        if in_doubt_since is not None:
            raise InDoubt(in_doubt_reason(in_doubt_since))
        chat = int(post.item.target)
        try:
            message = await self.bot.send_message(
                chat, self.texts(post), parse_mode=ParseMode.HTML, reply_parameters=_answering(post)
            )
        except TelegramError as exc:
            raise telegram_failure(exc, chat) from exc
        return str(message.message_id)


class EmergencyXPublisher:
    """Every ``emergency-x:<account>`` row, through the closures' X publisher: its signed clients, daily
    budget, duplicate handling and look-up of our own posts (the same package's internals, shared rather
    than copied)."""

    reconciles = True
    intent_per_attempt = True  # the X publisher's create_tweet commits the row's intent before each send

    def __init__(self, x: XPublisher, *, style: Callable[[str], XStyle] = lambda slug: XStyle()) -> None:
        self.x = x
        self.style = style

    async def publish(self, post: EmergencyPost, *, in_doubt_since: datetime | None) -> str:
        name = post.item.target
        if name not in self.x.accounts:
            raise Rejected(f"no keys configured for X account {name!r}")
        style = self.style(post.place.slug)
        texts = x_posts(post, hashtags_ar=style.hashtags_ar, hashtags_en=style.hashtags_en)
        try:
            client, me = await self.x._client(name)
            ours = await self.x._recent(client, me, in_doubt_since) if in_doubt_since else {}
            primary = ours.get(_norm(texts.arabic))
            if primary is None:
                primary = await self.x._tweet(
                    client, me, name, texts.arabic, reply_to=post.reply_to, media=None
                )
                if primary is None:
                    raise RetryLater("daily X budget spent", retry_after=_until_tomorrow(self.x.clock()))
            english = texts.english if style.english_reply else None
            reply = english is not None and primary != "duplicate" and _norm(english) not in ours
            if (
                reply
                and await self.x._tweet(client, me, name, english or "", reply_to=primary, media=None) is None
            ):
                logger.warning("daily X budget spent: English reply of outbox row %s left out", post.item.id)
            return primary
        except tweepy.TweepyException as exc:
            raise x_failure(exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if isinstance(exc, aiohttp.ClientConnectorError):
                raise RetryLater(f"X unreachable: {exc}") from exc
            raise InDoubt(f"in doubt: {type(exc).__name__} after the request was sent") from exc
