"""The buttons under a partner's CAP alert in a staff member's chat: Declare (with the playbooks its area
touches, or without), Dismiss, and End (after the partner cancelled an alert confirmed here).

Each press goes through the emergency service as the staff member (only staff of that municipality, or a
settings admin, may): Declare is ``confirm`` (the declaration is then posted like any other), Dismiss is
``discard`` (nothing was ever published), End is ``end`` at the version the staff member saw. Once pressed
— or when the draft was handled already, by a colleague or by the partner's Cancel — the buttons go and
the chat says what happened; a refusal that can still change (another municipality's staff) keeps them.
"""

from __future__ import annotations

import re

import shapely
from telegram import Message, Update
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import operator_of
from bot.handlers.staff.emergency_flow import problem
from bot.services import Services
from closures.errors import EmergencyConflict, NotFound, Refusal, ValidationError

PATTERN = re.compile(
    r"^cap:(?:(?P<act>[cnd]):(?P<draft>\d{1,12})|e:(?P<first>\d{1,12}):(?P<version>\d{1,6}))$"
)
_SETTLED = {Refusal.NOT_A_DRAFT, Refusal.ALREADY_ENDED, Refusal.EXPIRY_IN_PAST, Refusal.EXPIRY_TOO_SOON}


def handlers() -> list[CallbackQueryHandler[BotContext, None]]:
    return [CallbackQueryHandler(on_button, pattern=PATTERN)]


async def on_button(update: Update, context: BotContext) -> None:
    """Declare, dismiss or end as the button says; then say what happened under the alert."""
    query = update.callback_query
    assert query is not None
    op = await operator_of(update, context)
    if op is None:
        return
    match = PATTERN.match(query.data or "")
    assert match is not None  # the handler's pattern
    services, tr = context.services, op.tr
    settled = True
    try:
        if match["act"] == "d":
            await blocking(services.emergencies.discard, int(match["draft"]), op.actor)
            text = tr.t("cap.dismissed")
        elif match["act"]:
            draft_id = int(match["draft"])
            books = await blocking(_touching, services, draft_id) if match["act"] == "c" else ()
            issued = await blocking(services.emergencies.confirm, draft_id, op.actor, playbooks=books)
            text = tr.t("emergency.declared", id=issued.emergency.first_id)
        else:
            first_id, version = int(match["first"]), int(match["version"])
            await blocking(services.emergencies.end, first_id, op.actor, expected_version=version)
            text = tr.t("emergency.ended", id=first_id)
    except EmergencyConflict as exc:
        text = tr.t("emergency.conflict", id=exc.first_id, version=exc.current)
    except NotFound:
        text = tr.t("emergency.refused.not_a_draft")
    except ValidationError as exc:
        text, settled = problem(exc, tr), exc.code in _SETTLED
    await query.answer()
    if settled:
        await query.edit_message_reply_markup(None)
    if isinstance(query.message, Message):
        await reply(query.message, text)


def _touching(services: Services, draft_id: int) -> tuple[str, ...]:
    """The slugs of the playbooks the draft's area touches, as they stand now."""
    draft = services.emergencies.get(draft_id)
    area = shapely.from_geojson(draft.area_geojson)
    return tuple(book.slug for book in services.emergencies.playbooks.touching(draft.municipality_id, area))
