"""Live location: follow the edits of a shared live location and warn of closures ahead, once each."""

from __future__ import annotations

from shapely.geometry import Point
from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.context import BotContext, BotHandler
from bot.handlers.common import LIVE_LOCATION, blocking, driver_of, live_period, reply
from bot.handlers.trip import ALERT_DISTANCE_M, TRIP_KEY, Trip
from bot.text import answers


async def on_live_start(update: Update, context: BotContext) -> None:
    """A new live location: start a trip and say so."""
    message = update.effective_message
    assert message is not None
    assert message.location is not None
    if context.user_data is None:
        return
    trip = Trip(message.message_id)
    trip.advance(Point(message.location.longitude, message.location.latitude), context.services.clock())
    context.user_data[TRIP_KEY] = trip
    me = await driver_of(update, context)
    await reply(message, me.tr.t("live.started"))


async def on_live_edit(update: Update, context: BotContext) -> None:
    """A live-location fix (an edited message), or the end of sharing."""
    message = update.edited_message
    if message is None or message.location is None or context.user_data is None:
        return
    trip: Trip | None = context.user_data.get(TRIP_KEY)
    me = await driver_of(update, context)
    if live_period(message.location) is None:  # sharing stopped
        if trip is not None and trip.message_id == message.message_id:
            context.user_data.pop(TRIP_KEY, None)
            await reply(message, me.tr.t("live.stopped"))
        return
    if trip is None or trip.message_id != message.message_id:
        trip = context.user_data[TRIP_KEY] = Trip(message.message_id)
    services = context.services
    now = services.clock()
    point = Point(message.location.longitude, message.location.latitude)
    if not trip.advance(point, now).moving:
        return
    found = await blocking(services.queries.near, point, ALERT_DISTANCE_M, at=now, limit=20)
    ahead = trip.to_warn(found, now)
    if not ahead:
        return
    trip.warned(ahead, now)
    tz = services.zone(ahead[0].closure.municipality_id)
    await reply(message, answers.live_alert(ahead, me.tr, tz, now))  # one message, however many


def handlers() -> list[BotHandler]:
    private = filters.ChatType.PRIVATE
    return [
        MessageHandler(private & ~filters.UpdateType.EDITED_MESSAGE & LIVE_LOCATION, on_live_start),
        MessageHandler(private & filters.UpdateType.EDITED_MESSAGE & filters.LOCATION, on_live_edit),
    ]
