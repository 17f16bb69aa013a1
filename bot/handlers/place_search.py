"""A driver types a place name ("حي العليا", "King Fahd Road"): it is looked up, and the place found is
answered exactly as a sent location would be (closures near it, or the next step of a ``/route``).

Several candidates come back as buttons; picking one does the same. Without a geocoder, or when it fails,
the driver is told in a sentence and everything else keeps working.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from shapely.geometry import Point
from telegram import Message, Update

from bot.context import BotContext
from bot.handlers import geocode
from bot.handlers.common import Driver, driver_of, last_point, reply
from bot.text import keyboards
from geo.errors import GeocodingError

type AnswerPoint = Callable[..., Awaitable[None]]  # drivers.on_point(update, context, point, *, me)
CHOICES_KEY = "place_choices"
PICK_PATTERN = r"^gp:\d$"


async def on_place_query(
    update: Update, context: BotContext, me: Driver, text: str, answer: AnswerPoint
) -> None:
    """Look the text up near the driver's last point; one place → ``answer``, several → buttons."""
    message = update.effective_message
    assert message is not None
    data = context.user_data if context.user_data is not None else {}
    services = context.services
    try:
        found = await geocode.find(
            services,
            text,
            bias=await geocode.bias_near(services, last_point(data)),
            language=me.tr.lang,
        )
    except GeocodingError as exc:
        await reply(message, geocode.problem_text(exc, me.tr))
        return
    if not found:
        await reply(message, me.tr.t("geocode.not_found", query=html.escape(text.strip())))
        return
    if len(found) == 1:
        await _use(update, context, me, message, geocode.label(found[0]), found[0].point, answer)
        return
    data[CHOICES_KEY] = [(p.point.x, p.point.y, geocode.label(p)) for p in found]
    markup = keyboards.choices((name for _, _, name in data[CHOICES_KEY]), "gp:")
    await reply(message, me.tr.t("geocode.choose"), reply_markup=markup)


async def on_pick(update: Update, context: BotContext, answer: AnswerPoint) -> None:
    """A candidate's button: that place, as if it had been the only one."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    choices = (context.user_data or {}).pop(CHOICES_KEY, None)
    index = int((query.data or "gp:0").removeprefix("gp:"))
    if not choices or index >= len(choices) or not isinstance(query.message, Message):
        return  # an old list, already used: the driver can type the name again
    lon, lat, name = choices[index]
    me = await driver_of(update, context)
    await _use(update, context, me, query.message, name, Point(lon, lat), answer)


async def _use(
    update: Update,
    context: BotContext,
    me: Driver,
    message: Message,
    name: str,
    point: Point,
    answer: AnswerPoint,
) -> None:
    await reply(message, me.tr.t("geocode.found", name=html.escape(name)))
    await answer(update, context, point, me=me)
