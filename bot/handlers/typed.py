"""What a driver types that is meant as a location: coordinates, a map link (short ones are followed), GeoJSON
or WKT. Such text is read and judged as staff's is, with the same precise reason when it is refused, and is
never sent to a geocoder; anything else is a place name (``place_search``), unless it cannot be one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.context import BotContext
from bot.handlers.common import Driver, blocking, reply
from bot.services import Services
from bot.text.wording import geometry_problem
from geo.errors import GeometryError, Reason
from geo.parse import looks_like_geometry, parse_geometry
from geo.shortlinks import ShortLinkError, is_short_link

log = logging.getLogger(__name__)

type AnswerPoint = Callable[..., Awaitable[None]]  # nearby.on_point(update, context, point, *, me)
USE_POINT_PATTERN = r"^sw:-?\d+\.\d+,-?\d+\.\d+$"
# Characters no street or district name has: markup, code, SQL. Such text is refused, not looked up.
_NOT_A_NAME = re.compile(r"[<>{}\[\];=\\|`$]|--")


def is_location_text(text: str) -> bool:
    """Text meant as a location or a shape, not a place name."""
    return looks_like_geometry(text)


def cannot_be_a_name(text: str) -> bool:
    return _NOT_A_NAME.search(text) is not None


async def on_location_text(
    update: Update, context: BotContext, me: Driver, text: str, answer: AnswerPoint
) -> None:
    """Read the text as a location and answer it, or say precisely what is wrong with it."""
    message = update.effective_message
    assert message is not None
    services = context.services
    try:
        if is_short_link(text):
            point = await _resolve(services, text)
            if point is None:
                await reply(message, me.tr.t("link.unresolved"))
                return
        else:
            covered = await blocking(_covered, services)
            geometry = await blocking(parse_geometry, text, boundary=covered, limits=services.closures.limits)
            if not isinstance(geometry, Point):
                await reply(message, me.tr.t("input.point_only"))
                return
            point = geometry
    except GeometryError as exc:
        await _refuse(message, me, text, exc)
        return
    await answer(update, context, point, me=me)


async def on_use_point(update: Update, context: BotContext, me: Driver, answer: AnswerPoint) -> None:
    """ "Yes, use …" under "did you mean …?": that point, as if it had been sent."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    lat, lon = (float(n) for n in (query.data or "").removeprefix("sw:").split(","))
    await answer(update, context, Point(lon, lat), me=me)


async def _resolve(services: Services, text: str) -> Point | None:
    try:
        return await services.short_links.resolve(text)
    except ShortLinkError as exc:
        log.warning("short map link not resolved: %s", exc)
        return None


async def _refuse(message: Message, me: Driver, text: str, exc: GeometryError) -> None:
    if (exc.reason is Reason.UNRECOGNISED and "://" in text) or text.strip().lower().startswith("geo:"):
        await reply(message, me.tr.t("link.no_coordinates"))
        return
    markup = None
    if exc.meant is not None:
        label = me.tr.t("button.use_point", point=me.tr.coordinates(*exc.meant))
        data = f"sw:{exc.meant[0]:.5f},{exc.meant[1]:.5f}"
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])
    await reply(message, geometry_problem(exc, me.tr), reply_markup=markup)


def _covered(services: Services) -> BaseGeometry | None:
    """The boxes of the municipalities the bot covers: the swapped-order check needs somewhere to be."""
    boxes = services.municipality_boxes()
    return shapely.union_all([shapely.box(*box) for box in boxes.values()]) if boxes else None
