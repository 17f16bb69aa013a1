"""Drivers' last locations, noted for emergencies: every location a driver shares with the bot (and every
move of a live location) is kept for ``EMERGENCY_RECENT_H`` so that a flood warning can reach whoever is
there. It runs before every other handler and answers nothing; the noting costs a dictionary write (the
store is written in batches: ``bot.services.flushing``). /start and /forget tell drivers so.

Not noted: a venue (a place picked from a list, not where the driver is) and the points staff tap while
drawing a closure or an emergency's area.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.context import BotContext, BotHandler
from bot.handlers.common import driver_of, live_period

DRAWING = ("staff_draft", "emergency_draft")  # user-data keys of the staff conversations that take points


async def note(update: Update, context: BotContext) -> None:
    """Keep the location as the driver's last one (no reply)."""
    message = update.effective_message
    if message is None or message.location is None or message.venue is not None:
        return
    if context.user_data is not None and any(key in context.user_data for key in DRAWING):
        return
    services = context.services
    now = services.clock()
    period = live_period(message.location)
    live_until = None
    if period:  # a live location lasts from its first message's date
        started = message.date if message.date.tzinfo else message.date.replace(tzinfo=now.tzinfo)
        live_until = started + timedelta(seconds=period)
    me = await driver_of(update, context)
    location = message.location
    services.locations.note(
        me.user_id, location.longitude, location.latitude, at=now, language=me.tr.lang, live_until=live_until
    )


def handlers() -> list[BotHandler]:
    return [MessageHandler(filters.ChatType.PRIVATE & filters.LOCATION, note)]
