"""Routes: ``/route`` asks for a start and a destination; "Route from the previous point?" under an answer
to a second point does the same with the two points sent.

The route comes from the configured Router (a labelled straight line until a road engine is set up); the
closures within the corridor are listed in the order the driver meets them. When a full closure active now
blocks the route and the router follows real roads, a route avoiding it (``closures.detours``) is offered
with its extra length and time, or the driver is told that no way around is known.
"""

from __future__ import annotations

import math

from shapely.geometry import Point
from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext, BotHandler
from bot.handlers.common import Driver, addressed_to_me, blocking, driver_of, reply
from bot.text import answers, keyboards
from closures.detours import Detour, blocks, find_detour


async def route_command(update: Update, context: BotContext) -> None:
    """Ask for the start of the route; the next point the driver sends is it."""
    message = update.effective_message
    if not addressed_to_me(update, context) or message is None or context.user_data is None:
        return
    me = await driver_of(update, context)
    context.user_data["route_step"] = ("start", None)
    await reply(message, me.tr.t("route.ask_start"))


def waiting_for_point(context: BotContext) -> bool:
    """A /route is waiting for its start or destination (so the next point is not a plain location)."""
    return context.user_data is not None and "route_step" in context.user_data


async def on_route_point(update: Update, context: BotContext, me: Driver, point: Point) -> bool:
    """If a /route is waiting for a point, take this one; True when it was used."""
    message = update.effective_message
    state = context.user_data.get("route_step") if context.user_data is not None else None
    if state is None or message is None or context.user_data is None:
        return False
    step, start = state
    if step == "start":
        context.user_data["route_step"] = ("destination", point)
        await reply(message, me.tr.t("route.ask_destination"))
        return True
    context.user_data.pop("route_step", None)
    await answer_route(message, context, me, start, point)
    return True


async def answer_route(
    message: Message, context: BotContext, me: Driver, origin: Point, destination: Point
) -> None:
    """Route, closures along it in order, whether one blocks it, and the way around when there is one."""
    services = context.services
    now = services.clock()
    corridor = services.settings.route_corridor_m
    route = await blocking(services.router.route, origin, destination)
    found = await blocking(services.queries.along, route.line, corridor, at=now)
    blocked = any(blocks(f) for f in found)
    page = answers.route_page(
        found, me.tr, services.zones, now, route.length_m, approximate=route.approximate, blocked=blocked
    )
    text = page.text
    if blocked and not route.approximate:
        detour = await blocking(
            find_detour,
            services.router,
            origin,
            destination,
            route,
            found,
            lambda line: services.queries.along(line, corridor, at=now),
        )
        text += "\n\n" + _detour_note(me, detour)
    if context.user_data is not None:
        context.user_data["last_route"] = list(route.line.coords)
    shown = [f.closure.id for f in found[: page.shown]]
    await reply(message, text, reply_markup=keyboards.route(me.tr, shown))


def _detour_note(me: Driver, detour: Detour | None) -> str:
    if detour is None:
        return me.tr.t("route.no_detour")
    minutes = math.ceil(detour.extra_s / 60) if detour.extra_s >= 1 else 0
    return me.tr.t(
        "route.detour",
        length=me.tr.distance(detour.route.length_m),
        extra=me.tr.distance(detour.extra_m),
        extra_time=me.tr.n("route.minutes", minutes),
    )


async def on_route_previous(update: Update, context: BotContext) -> None:
    """ "Route from the previous point?": the closures along the way from the point before to this one."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    numbers = [float(n) for n in (query.data or "").removeprefix("rp:").split(",")]
    if len(numbers) != 4 or not isinstance(query.message, Message):
        return
    lat1, lon1, lat2, lon2 = numbers
    me = await driver_of(update, context)
    await answer_route(query.message, context, me, Point(lon1, lat1), Point(lon2, lat2))


ROUTE_PREVIOUS = r"^rp:-?\d+\.\d+,-?\d+\.\d+,-?\d+\.\d+,-?\d+\.\d+$"


def handlers() -> list[BotHandler]:
    return [
        CommandHandler("route", route_command),
        CallbackQueryHandler(on_route_previous, pattern=ROUTE_PREVIOUS),
    ]
