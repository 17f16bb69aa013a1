"""What ``/new`` and ``/emergency`` share of the map editor (the Mini App, ``bot.webapp``): the editor's
address for a question and the token naming it, reading a drawing that comes back, and the filter that
tells the two conversations' drawings apart.

A drawing reaches the bot as a private message with ``web_app_data``, which both conversations take in any
state. An emergency's area carries its municipality (the editor was opened for it), so
:data:`EMERGENCY_AREA` matches exactly those: ``/emergency`` takes them, ``/new`` everything else, whichever
is asked first and whatever state either is in.
"""

from __future__ import annotations

import logging
import secrets

from telegram import Message
from telegram.ext import filters

from bot.context import BotContext
from bot.handlers.common import reply
from bot.handlers.staff.auth import Operator
from bot.text.staff_questions import RADII_M
from bot.webapp.drawing import BadDrawing, Drawing, for_emergency, read_web_app_data
from bot.webapp.links import editor_url

log = logging.getLogger(__name__)


class _EmergencyArea(filters.MessageFilter):
    """A ``web_app_data`` message carrying an emergency's area."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        return message.web_app_data is not None and for_emergency(message.web_app_data.data)


EMERGENCY_AREA = _EmergencyArea(name="EMERGENCY_AREA")


def editor_link(
    context: BotContext,
    op: Operator,
    token: str | None,
    *,
    closure_id: int | None = None,
    emergency_in: int | None = None,
) -> tuple[str, str] | None:
    """``(url, token)``: the editor's address for a question, named by ``token`` (a new one when None);
    None without ``WEBAPP_URL``. The draft keeps the token until its question is answered, so the drawing
    that comes back is known to answer it."""
    base = context.services.settings.webapp_url
    if base is None:
        return None
    token = token or secrets.token_urlsafe(9)
    url = editor_url(base, lang=op.tr.lang, token=token, closure_id=closure_id, emergency_in=emergency_in)
    return url, token


async def read_drawing(message: Message, op: Operator) -> Drawing | None:
    """The drawing in the message; None (after telling the operator) when it is not one the editor sends."""
    assert message.web_app_data is not None
    try:
        return read_web_app_data(message.web_app_data.data, radii=RADII_M)
    except BadDrawing as exc:
        log.warning("a web_app_data message from user %s is not a drawing: %s", op.user_id, exc)
        await reply(message, op.tr.t("staff.drawn.unreadable"))
        return None
