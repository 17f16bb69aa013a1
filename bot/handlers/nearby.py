"""A driver sends a point (shared location, venue, typed coordinates, map link) and hears what is closed.

The same point may instead be a step of ``/route``; ``on_point`` decides, so every way of sending a point
behaves alike. A second point within ten minutes is answered like the first (what is near it), with a
"Route from the previous point?" button under the answer: a route is asked for, never guessed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from shapely.geometry import Point
from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext, BotHandler
from bot.handlers import place_search, route, typed
from bot.handlers.common import (
    LIVE_LOCATION,
    MAX_TEXT_IN,
    Driver,
    blocking,
    driver_from,
    driver_of,
    last_point,
    remember_point,
    reply,
)
from bot.handlers.places import on_place_name
from bot.handlers.trip import moving_heading
from bot.text import answers, keyboards, results
from bot.webapp.links import map_url
from closures.views import Found
from geo.measure import geodesic_m, pin_of

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
    if typed.is_location_text(text):
        await typed.on_location_text(update, context, me, text, on_point)
    elif typed.cannot_be_a_name(text):
        await reply(message, me.tr.t("input.not_a_place"))
    else:
        await place_search.on_place_query(update, context, me, text, on_point)


async def on_use_point(update: Update, context: BotContext) -> None:
    """ "Yes, use …" under "did you mean …?"."""
    await typed.on_use_point(update, context, await driver_of(update, context), on_point)


async def on_place_pick(update: Update, context: BotContext) -> None:
    """A button under "Which place did you mean?"."""
    await place_search.on_pick(update, context, on_point)


async def on_point(update: Update, context: BotContext, point: Point, *, me: Driver | None = None) -> None:
    """A step of ``/route``, or the closures around this point."""
    message = update.effective_message
    assert message is not None
    now = context.services.clock()
    data = context.user_data if context.user_data is not None else {}
    nearby: Nearby | None = None
    if route.waiting_for_point(context):
        me = me or await driver_of(update, context)
        if await route.on_route_point(update, context, me, point):
            return
    if me is None:
        # The common case, a plain location: the driver's settings and the query in one trip to the store.
        me, nearby = await _driver_and_nearby(update, context, point, now)
    previous = last_point(data, within=ROUTE_WINDOW, now=now)
    remember_point(data, point, now)
    data["last_query"] = (point.x, point.y, me.radius_m)
    from_previous = previous if previous is not None and _apart(previous, point) else None
    await send_nearby(message, context, me, point, offset=0, nearby=nearby, previous=from_previous)


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
    previous: Point | None = None,
) -> None:
    """One page of the closures within the driver's radius: summary, in force, upcoming, detail buttons.

    ``nearby`` is the query's answer when the caller already has it; ``previous`` a point the driver sent
    moments before, offered as the start of a route.
    """
    services = context.services
    now = services.clock()
    if nearby is None:
        nearby = await _nearby(context, point, me.radius_m, now)
    found, nearest = nearby
    if not found:
        text = answers.none_nearby(me.tr, me.radius_m, nearest)
        markup = (
            keyboards.results(
                me.tr, [], offset=0, next_offset=None, at=_lat_lon(point), previous=_lat_lon(previous)
            )
            if previous is not None
            else None
        )
        await reply(message, text if nearest else me.tr.t("location.outside"), reply_markup=markup)
        return
    heading = moving_heading(context.user_data or {}, now)
    page = results.results_page(
        found,
        me.tr,
        services.zones,
        now,
        me.radius_m,
        offset=offset,
        page_size=PAGE_SIZE,
        heading_deg=heading,
    )
    ordered = results.in_force_first(found)
    shown = [f.closure.id for f in ordered[offset : offset + page.shown]]
    base = services.settings.webapp_url
    live_map = map_url(base, lang=me.tr.lang, lat=point.y, lon=point.x, closure_ids=shown) if base else None
    markup = keyboards.results(
        me.tr,
        shown,
        offset=offset,
        next_offset=page.next_offset,
        at=_lat_lon(point),
        previous=_lat_lon(previous) if previous is not None else None,
        live_map_url=live_map,
    )
    await reply(message, page.text, reply_markup=markup)


async def on_details(update: Update, context: BotContext) -> None:
    """A closure's numbered button: its full block, as seen from the point it was listed for."""
    query = update.callback_query
    assert query is not None
    _, closure_id, lat_lon = (query.data or "").split(":")
    lat, lon = (float(n) for n in lat_lon.split(","))
    services = context.services
    now = services.clock()
    found = await blocking(services.queries.measure, int(closure_id), Point(lon, lat), at=now)
    me = await driver_of(update, context)
    if found is None or not isinstance(query.message, Message):
        await query.answer(me.tr.t("timing.over"))
        return
    await query.answer()
    text = answers.closure_line(found, me.tr, services.zone(found.closure.municipality_id), now)
    await reply(query.message, text, reply_markup=keyboards.closure_map(me.tr, found.closure.id))


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


def _lat_lon(point: Point | None) -> tuple[float, float]:
    assert point is not None
    return (point.y, point.x)


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
        CallbackQueryHandler(on_details, pattern=r"^i:\d+:-?\d+\.\d+,-?\d+\.\d+$"),
        CallbackQueryHandler(on_place_pick, pattern=place_search.PICK_PATTERN),
        CallbackQueryHandler(on_use_point, pattern=typed.USE_POINT_PATTERN),
    ]
