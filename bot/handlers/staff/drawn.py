"""A closure's place drawn in the map editor (a Telegram Mini App), handed back by the web server.

The server (``bot/web/editor_routes.py``) has checked who drew it and that it can be a closure's place;
here it is one more answer to the place question, through the same ``settle`` as a pasted GeoJSON (the
parser, the limits, the municipality and its tolerance). It arrives as a private message with
``web_app_data`` whatever the conversation's state, since it is one of its entry points:

- for the draft whose place question opened the editor (the token matches), or from the bot's menu button
  while a draft waits for its place: the place is set, shown back as a map, and the next question asked;
- from the menu button with no draft open: a new ``/new`` starts with it;
- for a place question already answered, or a draft since closed: the operator is told so, and nothing
  changes.

An emergency's area drawn for ``/emergency`` never comes here (``map_editor.EMERGENCY_AREA``).
"""

from __future__ import annotations

import asyncio
import logging

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from telegram import Message, Update

from bot.context import BotContext
from bot.handlers.common import blocking, reply
from bot.handlers.staff import geometry as g
from bot.handlers.staff.auth import Operator, operator_of
from bot.handlers.staff.draft import Draft
from bot.handlers.staff.flow import (
    DRAFT_KEY,
    END_CONVERSATION,
    GEOMETRY,
    State,
    done,
    draw_button,
    load,
    problem,
)
from bot.handlers.staff.map_editor import read_drawing
from bot.text import staff_views
from bot.webapp.drawing import Drawing
from geo.errors import GeometryError
from geo.parse import parse_geometry
from geo.render import render_map

log = logging.getLogger(__name__)


async def on_drawing(update: Update, context: BotContext) -> State | None:
    """A shape from the map editor: the answer to the place question it was opened from."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None or message.web_app_data is None:
        return END_CONVERSATION
    drawing = await read_drawing(message, op)
    if drawing is None:
        return None  # whatever was going on goes on
    draft = _draft_for(context, drawing)
    if draft is None:
        closed = DRAFT_KEY not in (context.user_data or {})
        await reply(message, op.tr.t("staff.drawn.closed" if closed else "staff.drawn.stale"))
        return None
    try:
        shape = await blocking(parse_geometry, drawing.geometry, limits=context.services.closures.limits)
    except GeometryError as exc:
        again = f"{problem(exc, op.tr)}\n\n{op.tr.t('staff.ask.geometry_again')}"
        await reply(message, again, reply_markup=draw_button(context, op, draft))
        return GEOMETRY
    draft.points = []
    radius = drawing.radius_m if shape.geom_type == "Point" else None
    if isinstance(shape, Point) and radius is None:
        return await g.add_point(message, context, op, draft, shape)  # the radius is asked, as for a pin
    placed = await g.settle(message, context, op, draft, shape, radius)
    if placed is None:
        return GEOMETRY
    await _show(message, context, op, placed, radius)
    return await done(message, context, op, draft, "geometry")


def _draft_for(context: BotContext, drawing: Drawing) -> Draft | None:
    """The draft this drawing answers, a new one for a menu-button drawing, or None when it answers none."""
    if DRAFT_KEY not in (context.user_data or {}):
        return Draft() if drawing.draft is None else None
    draft = load(context)
    if draft.map_token is None or drawing.draft not in (None, draft.map_token):
        return None
    return draft


async def _show(
    message: Message, context: BotContext, op: Operator, shape: BaseGeometry, radius: float | None
) -> None:
    """The drawn place as a map, so the operator sees what the bot received."""
    caption = op.tr.t("staff.drawn.received", shape=staff_views.shape(shape, radius, op.tr))
    tiles = context.services.settings.map_tiles()
    try:
        png = await asyncio.to_thread(render_map, shape, radius_m=radius, tiles=tiles)
    except (OSError, ValueError) as exc:  # no map today: the words still say what was received
        log.warning("the drawing could not be rendered: %s", exc)
        await reply(message, caption)
        return
    await message.reply_photo(photo=png, caption=caption)
