"""Who is asking, for every staff command: their language, the municipalities they may act in, as whom.

Anyone who is not staff anywhere hears "not authorised" in their language, nothing else happens, and the
attempt is logged. Which municipality a closure belongs to is checked again by the service on every write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Message, Update

from bot.context import BotContext
from bot.handlers.common import blocking, driver_of, reply
from bot.i18n import Translator
from closures.errors import NotFound
from closures.models import Closure
from closures.service import Actor
from closures.staff import Membership, actor_for
from geo.parse import normalise_digits

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Operator:
    """A staff member (or settings admin) as the staff handlers need them."""

    user_id: int
    tr: Translator
    memberships: tuple[Membership, ...]
    actor: Actor

    def membership(self, municipality_id: int) -> Membership | None:
        return next((m for m in self.memberships if m.municipality_id == municipality_id), None)

    def municipality_ids(self, *, admin: bool = False) -> list[int]:
        return [m.municipality_id for m in self.memberships if m.is_admin or not admin]

    def name_of(self, membership: Membership) -> str:
        return membership.name_ar if self.tr.lang == "ar" else membership.name_en


async def operator_of(update: Update, context: BotContext, *, admin: bool = False) -> Operator | None:
    """The staff member behind ``update``; None (after saying "not authorised") for anyone else.

    With ``admin``, only someone who administers at least one municipality passes.
    """
    me = await driver_of(update, context)
    services = context.services
    memberships = tuple(await blocking(services.staff.memberships, me.user_id))
    if not memberships or (admin and not any(m.is_admin for m in memberships)):
        await refuse(update, me.tr)
        return None
    actor = actor_for(me.user_id, frozenset(services.settings.admin_user_ids))
    return Operator(me.user_id, me.tr, memberships, actor)


async def refuse(update: Update, tr: Translator) -> None:
    """Say "not authorised" (for a button: in its answer, not into its chat) and log the attempt."""
    message = update.effective_message
    user = update.effective_user
    query = update.callback_query
    what = (
        f"button {query.data!r}" if query else (message.text or "-").split(maxsplit=1)[0] if message else "-"
    )
    log.warning("refused staff command %s from user %s", what, user.id if user else "-")
    if query is not None:
        await query.answer(tr.t("error.not_authorised"), show_alert=True)
    elif message is not None:
        await reply(message, tr.t("error.not_authorised"))


def closure_id_arg(args: list[str] | None) -> int | None:
    """The closure number from ``/command 12``: a leading #, Arabic-Indic digits and grouping welcome."""
    first = normalise_digits(args[0]).lstrip("#").replace(",", "").replace("\u066c", "") if args else ""
    return int(first) if first.isdigit() and len(first) < 12 else None


async def named_closure(update: Update, context: BotContext) -> tuple[Operator, Message, Closure] | None:
    """The closure a command names, if it exists and lies in one of the operator's municipalities."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None:
        return None
    closure_id = closure_id_arg(context.args)
    try:
        closure = await blocking(context.services.closures.get, closure_id or 0)
    except NotFound:
        await reply(message, op.tr.t("staff.not_found", id=closure_id or "-"))
        return None
    if op.membership(closure.municipality_id) is None:
        await refuse(update, op.tr)
        return None
    return op, message, closure
