"""A driver sends a point (shared location, venue, typed coordinates, map link) and hears what is closed.

The same point may instead finish a route (``/route``, or a second point within ten minutes) or name a
place being saved; ``on_point`` decides, so every way of sending a point behaves alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from shapely.geometry import Point
from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext, BotHandler
from bot.handlers import place_search, route
from bot.handlers.common import LIVE_LOCATION, MAX_TEXT_IN, Driver, blocking, driver_from, driver_of, reply
from bot.handlers.places import on_place_name
from bot.text import answers, keyboards
from closures.views import Found
from geo.errors import GeometryError
from geo.measure import geodesic_m, pin_of
from geo.parse import parse_coordinates, parse_map_link

PAGE_SIZE = 10
NEAREST_SEARCH_M = 500_000.0  # beyond this the driver is outside every city we cover
ROUTE_WINDOW = timedelta(minutes=10)
MAX_ROUTE_M = 1_000_000.0  # farther apart than this, the second point is a new question, not a destination

type Nearby = tuple[list[Found], Found | None]  # within the radius, or else the nearest further away


async def on_location(update: Update, context: BotContext) -> None:
    """A shared location or a venue (not a live location: ``live`` follows those)."""
    message = update.effective_message
    assert message is not None
    location = message.venue.location if message.venue else message.location
    assert location is not None
    await on_point(update, context, Point(location.longitude, location.latitude))


async def on_text(update: Update, context: BotContext) -> None:
    """Typed text: a place name being saved, else coordinates or a map link, else a place to look up."""
    message = update.effective_message
    assert message is not None
    me = await driver_of(update, context)
    text = message.text or ""
    if len(text) > MAX_TEXT_IN:
        await reply(message, me.tr.t("input.too_long"))
        return
    if await on_place_name(update, context, me, text):
        return
    try:
        point = parse_map_link(text) or parse_coordinates(text)
    except GeometryError as exc:
        await reply(message, me.tr.t(f"geo.{exc.reason.value}"))
        return
    if point is None:
        await place_search.on_place_query(update, context, me, text, on_point)
        return
    await on_point(update, context, point, me=me)


async def on_place_pick(update: Update, context: BotContext) -> None:
    """A button under "Which place did you mean?"."""
    await place_search.on_pick(update, context, on_point)


async def on_point(update: Update, context: BotContext, point: Point, *, me: Driver | None = None) -> None:
    """Route step, route from the previous point, or the closures around this one."""
    message = update.effective_message
    assert message is not None
    now = context.services.clock()
    data = context.user_data if context.user_data is not None else {}
    previous = data.get("last_point")
    route_from: Point | None = None  # a point sent moments ago: this one ends a route from there
    if previous is not None and now - previous[1] <= ROUTE_WINDOW and _apart(previous[0], point):
        route_from = previous[0]
    nearby: Nearby | None = None
    if me is None and route_from is None and not route.waiting_for_point(context):
        # The common case, a plain location: the driver's settings and the query in one trip to the store.
        me, nearby = await _driver_and_nearby(update, context, point, now)
    else:
        me = me or await driver_of(update, context)
        if await route.on_route_point(update, context, me, point):
            return
        if route_from is not None:
            data.pop("last_point", None)
            await route.answer_route(message, context, me, route_from, point)
            return
    data["last_point"] = (point, now)
    data["last_query"] = (point.x, point.y, me.radius_m)
    await send_nearby(message, context, me, point, offset=0, nearby=nearby)


async def _driver_and_nearby(
    update: Update, context: BotContext, point: Point, now: datetime
) -> tuple[Driver, Nearby]:
    user = update.effective_user
    assert user is not None
    services = context.services
    queries = services.queries
    if not queries.is_current(now):
        # The index must be checked against the store: the driver's settings and the query in one trip.
        def look() -> tuple[Driver, Nearby]:
            me = driver_from(user, services.drivers.profile(user.id), services.settings)
            return me, queries.near_or_nearest(point, float(me.radius_m), beyond_m=NEAREST_SEARCH_M, at=now)

        return await blocking(look)
    # The profile comes from the cache, or from one trip shared with the other updates of this moment.
    me = driver_from(user, await services.profiles.get(user.id), services.settings)
    return me, await _nearby(context, point, me.radius_m, now)


async def _nearby(context: BotContext, point: Point, radius_m: int, now: datetime) -> Nearby:
    """The query, on the event loop when the index needs no I/O: in-memory work of ~0.2 ms (the sample
    closures, 1,000 random points around Riyadh, 4 found on average), less than a worker-thread trip."""
    queries = context.services.queries
    search = partial(queries.near_or_nearest, point, float(radius_m), beyond_m=NEAREST_SEARCH_M, at=now)
    return search() if queries.is_current(now) else await blocking(search)


async def send_nearby(
    message: Message,
    context: BotContext,
    me: Driver,
    point: Point,
    *,
    offset: int,
    nearby: Nearby | None = None,
) -> None:
    """One page of the closures within the driver's radius, with pin buttons and a "more" button.

    ``nearby`` is the query's answer when the caller already has it.
    """
    services = context.services
    now = services.clock()
    if nearby is None:
        nearby = await _nearby(context, point, me.radius_m, now)
    found, nearest = nearby
    if not found:
        text = answers.none_nearby(me.tr, me.radius_m, nearest)
        await reply(message, text if nearest else me.tr.t("location.outside"))
        return
    page = answers.results_page(
        found, me.tr, services.zones, now, me.radius_m, offset=offset, page_size=PAGE_SIZE
    )
    shown = [f.closure.id for f in found[offset : offset + page.shown]]
    markup = keyboards.results(me.tr, shown, offset=offset, next_offset=page.next_offset)
    await reply(message, page.text, reply_markup=markup)


async def on_more(update: Update, context: BotContext) -> None:
    """The "more" button: the next page of the last query."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    last = context.user_data.get("last_query") if context.user_data is not None else None
    if last is None or not isinstance(query.message, Message):
        return
    lon, lat, radius_m = last
    me = await driver_of(update, context)
    offset = int((query.data or "more:0").removeprefix("more:") or 0)
    await send_nearby(
        query.message, context, Driver(me.user_id, me.tr, radius_m), Point(lon, lat), offset=offset
    )


async def on_pin(update: Update, context: BotContext) -> None:
    """A closure's pin button: send its location (the point, or a point on the line or area)."""
    query = update.callback_query
    assert query is not None
    closure_id = int((query.data or "pin:0").removeprefix("pin:") or 0)
    view = await blocking(context.services.queries.view, closure_id)
    if view is None or not isinstance(query.message, Message):
        me = await driver_of(update, context)
        await query.answer(me.tr.t("timing.over"))
        return
    await query.answer()
    where = pin_of(view.geometry)
    await query.message.reply_location(latitude=where.y, longitude=where.x)


async def on_other(update: Update, context: BotContext) -> None:
    """Anything else in a private chat (a sticker, a photo, an unknown command): say what works."""
    message = update.effective_message
    if message is None:
        return
    me = await driver_of(update, context)
    key = "help.text" if message.text and message.text.startswith("/") else "input.unreadable"
    await reply(message, me.tr.t(key))


def _apart(a: Point, b: Point) -> bool:
    """Two points that make a drive: not the same spot sent twice (~50 m), nor a jump across the world."""
    return abs(a.x - b.x) + abs(a.y - b.y) > 0.0005 and geodesic_m(a, b) <= MAX_ROUTE_M


def handlers() -> list[BotHandler]:
    private = filters.ChatType.PRIVATE
    still = ~filters.UpdateType.EDITED_MESSAGE
    return [
        MessageHandler(private & still & filters.VENUE, on_location),
        MessageHandler(private & still & filters.LOCATION & ~LIVE_LOCATION, on_location),
        MessageHandler(private & still & filters.TEXT & ~filters.COMMAND, on_text),
        MessageHandler(private & still & ~filters.StatusUpdate.ALL, on_other),
        CallbackQueryHandler(on_more, pattern=r"^more:\d+$"),
        CallbackQueryHandler(on_pin, pattern=r"^pin:\d+$"),
        CallbackQueryHandler(on_place_pick, pattern=place_search.PICK_PATTERN),
    ]
