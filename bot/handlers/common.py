"""What every handler shares: the user's language and radius, blocking work off the loop, safe replies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point
from telegram import Location, Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.ext import filters

from bot.config import Settings
from bot.context import BotContext
from bot.i18n import Translator, get_translator, resolve_language
from closures.drivers import Profile

MAX_TEXT_IN = 1_000  # longer text cannot be a location, a link or a place name


class _LiveLocation(filters.MessageFilter):
    """A location that is being shared live (Telegram marks it with a live period)."""

    def filter(self, message: Message) -> bool:
        return bool(message.location and live_period(message.location))


LIVE_LOCATION = _LiveLocation(name="LIVE_LOCATION")


def live_period(location: Location) -> int | None:
    """Seconds the live location lasts, or None for a plain one (read raw: PTB 22 deprecates the int form)."""
    value = location.to_dict().get("live_period")
    return int(value) if value else None


@dataclass(frozen=True, slots=True)
class Driver:
    """The user as the handlers need them: id, translator, search radius."""

    user_id: int
    tr: Translator
    radius_m: int


async def blocking[T](func: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run database or geometry work in a worker thread so the event loop keeps serving others."""
    return await asyncio.to_thread(func, *args, **kwargs)


async def driver_of(update: Update, context: BotContext) -> Driver:
    """The user's stored language and radius, falling back to Telegram's language and the defaults."""
    user = update.effective_user
    assert user is not None
    services = context.services
    return driver_from(user, await services.profiles.get(user.id), services.settings)


def driver_from(user: User, profile: Profile, settings: Settings) -> Driver:
    """The Driver a stored profile makes of a Telegram user (pure: callable from a worker thread)."""
    lang = resolve_language(profile.language, user.language_code, settings.default_language)
    return Driver(user.id, get_translator(lang), profile.radius_m or settings.default_radius_m)


def addressed_to_me(update: Update, context: BotContext) -> bool:
    """In private chats always; in groups only commands that name this bot (``/start@this_bot``)."""
    message = update.effective_message
    chat = update.effective_chat
    if chat is None or message is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    first = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    return bool(context.bot.username) and first.lower().endswith(f"@{context.bot.username.lower()}")


LAST_POINT_KEY = "last_point"


def remember_point(data: dict[Any, Any], point: Point, at: datetime) -> None:
    """Keep the driver's last point, as JSON so the store can keep it across processes (``persistence``)."""
    data[LAST_POINT_KEY] = [point.x, point.y, at.isoformat()]


def last_point(
    data: Mapping[Any, Any], *, within: timedelta | None = None, now: datetime | None = None
) -> Point | None:
    """The driver's last point (sent no longer than ``within`` before ``now``, when given)."""
    kept = data.get(LAST_POINT_KEY)
    if not isinstance(kept, list) or len(kept) != 3:
        return None
    lon, lat, at = kept
    if within is not None and now is not None and now - datetime.fromisoformat(at) > within:
        return None
    return Point(lon, lat)


async def reply(message: Message, text: str, **kwargs: Any) -> Message:
    """Reply with Telegram HTML (catalogue texts are HTML-safe; rendered values are escaped)."""
    return await message.reply_text(text, parse_mode=ParseMode.HTML, **kwargs)
