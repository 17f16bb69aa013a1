"""An emergency's area drawn in the map editor (a Telegram Mini App), handed back by the web server.

The server (``bot/web/editor_routes.py``) has checked who drew it and that it can be an area of the
municipality the editor was opened for; here it is one more answer to ``/emergency``'s area question,
through the same parser and check as a pasted GeoJSON (the area limits, cut to the municipality with the
share cut said, an empty or self-intersecting area refused). It arrives as a private message with
``web_app_data`` whatever the conversation's state, since it is one of its entry points (only drawings
made for an emergency's area: ``map_editor.EMERGENCY_AREA``; the others are ``/new``'s):

- for the draft whose area question opened the editor (the token matches): the area is taken, and the
  next question asked;
- for an area question already answered, or a draft since closed: the operator is told so, and nothing
  changes.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.handlers.common import reply
from bot.handlers.staff.auth import operator_of
from bot.handlers.staff.emergency_answers import area_from_text
from bot.handlers.staff.emergency_draft import Declaration
from bot.handlers.staff.emergency_flow import END, State, draw_url
from bot.handlers.staff.map_editor import read_drawing
from bot.text.staff_questions import draw_rows


async def on_drawing(update: Update, context: BotContext) -> State | None:
    """An area from the map editor: the answer to the area question it was opened from."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None or message.web_app_data is None:
        Declaration.clear(context)
        return END
    drawing = await read_drawing(message, op)
    if drawing is None:
        return None  # whatever was going on goes on
    draft = Declaration.load(context)
    if draft is None or draft.map_token is None or drawing.draft != draft.map_token:
        await reply(message, op.tr.t("emergency.drawn.closed" if draft is None else "staff.drawn.stale"))
        return None
    url = draw_url(context, op, draft)  # the same question's editor again, under a refusal
    again = InlineKeyboardMarkup(draw_rows(op.tr, url)) if url else None
    return await area_from_text(message, context, op, draft, drawing.geometry, again=again)
