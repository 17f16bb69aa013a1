""" "Check now" under ``/places``: what is closed at a saved place, or along a saved route, this moment."""

from __future__ import annotations

from shapely.geometry import Point
from telegram import Message, Update
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext, BotHandler
from bot.handlers import nearby, route
from bot.handlers.common import blocking, driver_of


async def on_check(update: Update, context: BotContext) -> None:
    """``chk:N``: the N-th saved place answered as a sent location, or the saved route as a route."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    me = await driver_of(update, context)
    saved = await blocking(context.services.drivers.places, me.user_id)
    index = int((query.data or "chk:0").removeprefix("chk:"))
    if index >= len(saved) or not isinstance(query.message, Message):
        return  # the list was changed meanwhile: the driver sends /places again
    geometry = saved[index].geometry
    if geometry.geom_type == "LineString":
        first, last = geometry.coords[0], geometry.coords[-1]
        await route.answer_route(query.message, context, me, Point(first), Point(last))
        return
    point = geometry if isinstance(geometry, Point) else geometry.representative_point()
    await nearby.send_nearby(query.message, context, me, point, offset=0)


def handlers() -> list[BotHandler]:
    return [CallbackQueryHandler(on_check, pattern=r"^chk:\d+$")]
