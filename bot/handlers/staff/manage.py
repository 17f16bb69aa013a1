"""Staff commands outside the ``/new`` conversation: who is staff, lists, details, and quick changes.

``/staff add|remove|list`` (admins), ``/mine``, ``/list``, ``/show ID``, ``/extend ID 2h`` (or to a time),
``/lift ID``, ``/cancel_closure ID``, ``/history ID``. Every change goes through the service (audit event and
outbox rows in one transaction); a closure of another municipality is refused like a stranger's attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext, BotHandler
from bot.handlers import menus
from bot.handlers.common import blocking, reply
from bot.handlers.staff import confirm
from bot.handlers.staff.auth import Operator, named_closure, operator_of, refuse
from bot.handlers.staff.conversation import STAFF_BUTTONS
from bot.handlers.staff.timeinput import TimeInputError, parse_end
from bot.text import keyboards, staff_views
from closures.errors import ConflictError, NotFound, Refusal, ValidationError
from closures.models import Closure, Role
from closures.rules import geometry_of
from closures.service import Actor, ClosureService
from geo.measure import pin_of
from geo.parse import normalise_digits

PAGE_SIZE = 10


async def staff_command(update: Update, context: BotContext) -> None:
    """``/staff list``; ``/staff add|remove ID [admin|staff] [municipality]`` (or in reply to the person)."""
    op = await operator_of(update, context, admin=True)
    message = update.effective_message
    if op is None or message is None:
        return
    args = list(context.args or ["list"])
    action, words = args[0].lower(), [normalise_digits(w) for w in args[1:]]
    directory = context.services.staff
    if action == "list":
        members = await blocking(directory.list, [m.slug for m in op.memberships if m.is_admin])
        await reply(message, staff_views.staff_list(members, op.tr))
        return
    if action not in ("add", "remove"):
        await reply(message, op.tr.t("staff.staff.usage"))
        return
    await _change_staff(update, context, op, message, action, words)


async def list_command(update: Update, context: BotContext) -> None:
    """``/list``: the open closures of the operator's municipalities; ``/mine``: those they registered."""
    op = await operator_of(update, context)
    if op is None or update.effective_message is None:
        return
    mine = (update.effective_message.text or "").lstrip("/").startswith("mine")
    await _send_page(update.effective_message, context, op, "mine" if mine else "list", 0)


async def on_page(update: Update, context: BotContext) -> None:
    """The "more" button under a list."""
    op = await operator_of(update, context)
    query = update.callback_query
    if op is None or query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    which, _, offset = (query.data or "").removeprefix("spage:").partition(":")
    await _send_page(query.message, context, op, which, int(offset or 0))


async def show(update: Update, context: BotContext) -> None:
    """``/show ID``: the closure's pin and details."""
    found = await named_closure(update, context)
    if found is None:
        return
    op, message, closure = found
    services = context.services
    geometry = geometry_of(closure)
    pin = pin_of(geometry)
    await message.reply_location(latitude=pin.y, longitude=pin.x)
    names = await _names(update, context, [closure.created_by])
    zone, now = services.zone(closure.municipality_id), services.clock()
    await reply(message, staff_views.detail(closure, op.tr, zone, now, names))


async def history(update: Update, context: BotContext) -> None:
    """``/history ID``: the audit trail, oldest first."""
    found = await named_closure(update, context)
    if found is None:
        return
    op, message, closure = found
    services = context.services
    events = await blocking(services.closures.history, closure.id)
    names = await _names(update, context, (e.actor for e in events))
    text = staff_views.history(events, op.tr, services.zone(closure.municipality_id), services.clock(), names)
    await reply(message, f"<b>{op.tr.t('staff.history.header', id=closure.id)}</b>\n{text}")


async def _names(update: Update, context: BotContext, actors: Iterable[str]) -> dict[int, str]:
    """Staff names for these actors: as stored with /staff add, else the asker's own Telegram name."""
    names = await blocking(context.services.staff.names, staff_views.actor_ids(actors))
    user = update.effective_user
    if user is not None and user.id not in names:
        names[user.id] = user.full_name
    return names


async def change(update: Update, context: BotContext) -> None:
    """``/extend ID 2h`` (or to a time, or "open"); ``/lift ID`` and ``/cancel_closure ID`` ask first."""
    found = await named_closure(update, context)
    if found is None:
        return
    op, message, closure = found
    services = context.services
    action = (message.text or "").lstrip("/").split(maxsplit=1)[0].split("@")[0]
    if action in confirm.ACTIONS:  # public at once on the channel and X: ask first, showing the post
        await confirm.ask(message, context, op, closure, action)
        return
    when = " ".join((context.args or [])[1:])
    tz, now = services.zone(closure.municipality_id), services.clock()
    try:
        closure = await blocking(_apply, services.closures, closure, op.actor, action, when, tz, now)
    except ValidationError as exc:
        if exc.code is Refusal.NOT_AUTHORISED:
            await refuse(update, op.tr)
            return
        await reply(message, op.tr.t(f"staff.refused.{exc.code.value}"))
        return
    except TimeInputError as exc:
        if not when.strip():  # no time at all: say how, once
            await reply(message, op.tr.t("staff.extend.usage"))
            return
        await reply(message, op.tr.t(f"staff.time.{exc.code}") + "\n" + op.tr.t("staff.extend.usage"))
        return
    except ConflictError:  # changed in the instant between reading and writing: the operator tries again
        await reply(message, op.tr.t("staff.conflict.retry", id=closure.id))
        return
    until = staff_views.until_text(closure.ends_at, op.tr, tz, now)
    await reply(message, op.tr.t(f"staff.done.{action}", id=closure.id, until=until))


def _apply(
    closures: ClosureService,
    closure: Closure,
    actor: Actor,
    action: str,
    when: str,
    tz: ZoneInfo,
    now: datetime,
) -> Closure:
    """Extend (blocking: runs in a worker thread)."""
    assert closure.id is not None
    end = parse_end(when, start=closure.ends_at or now, tz=tz, now=now)
    if end is None:  # open-ended from now on: an edit of the end, as extend() takes a time
        return closures.update(closure.id, closure.version, {"ends_at": None}, actor)
    return closures.extend(closure.id, end, actor)


async def stale_button(update: Update, context: BotContext) -> None:
    """A button of ``/new`` pressed outside it (a finished draft, or someone else's): say so, or refuse."""
    op = await operator_of(update, context)
    if op is not None and update.callback_query is not None:
        await update.callback_query.answer(op.tr.t("staff.stale_button"))


async def _send_page(message: Message, context: BotContext, op: Operator, which: str, offset: int) -> None:
    services = context.services
    if which == "mine":
        page = await blocking(services.listing.created_by, op.actor.name, offset=offset, limit=PAGE_SIZE)
    else:
        page = await blocking(services.listing.open_in, op.municipality_ids(), offset=offset, limit=PAGE_SIZE)
    if not page.closures:
        await reply(message, op.tr.t("staff.list.empty"))
        return
    text = staff_views.closure_list(page.closures, page.total, op.tr, services.zone, services.clock())
    await reply(message, text, reply_markup=keyboards.more_closures(op.tr, which, page.next_offset))


async def _change_staff(
    update: Update, context: BotContext, op: Operator, message: Message, action: str, words: list[str]
) -> None:
    target, role, slug = _staff_args(message, words, op)
    if target is None or slug is None:
        await reply(message, op.tr.t("staff.staff.usage"))
        return
    directory = context.services.staff
    try:
        if action == "add":
            await blocking(directory.add, slug, target, role, actor=op.actor, name=_name_of(message))
        else:
            await blocking(directory.remove, slug, target, actor=op.actor)
    except ValidationError:
        await refuse(update, op.tr)
        return
    except NotFound as exc:
        key = "staff.staff.usage" if exc.what == "municipality" else "staff.staff.not_member"
        await reply(message, op.tr.t(key, user=str(target), municipality=slug))
        return
    await menus.refresh_menu(context.bot, directory, target)  # their commands follow their new role
    key = "staff.staff.added" if action == "add" else "staff.staff.removed"
    await reply(
        message, op.tr.t(key, user=str(target), role=op.tr.t(f"staff.role.{role}"), municipality=slug)
    )


def _staff_args(message: Message, words: list[str], op: Operator) -> tuple[int | None, str, str | None]:
    """Who (an id, or the author of the replied-to or forwarded message), which role, which municipality."""
    target = next((int(w) for w in words if w.isdigit()), None)
    replied = message.reply_to_message
    if target is None and replied is not None:
        origin = replied.forward_origin
        sender = getattr(origin, "sender_user", None) if origin else replied.from_user
        target = sender.id if sender is not None and not sender.is_bot else None
    roles = {r.value for r in Role}
    role = next((w.lower() for w in words if w.lower() in roles), Role.STAFF.value)
    named = [w.lower() for w in words if not w.isdigit() and w.lower() not in roles]
    admin_of = [m.slug for m in op.memberships if m.is_admin]
    slug = named[0] if named else (admin_of[0] if len(admin_of) == 1 else None)
    return target, role, slug


def _name_of(message: Message) -> str | None:
    replied = message.reply_to_message
    if replied is None:
        return None
    sender = (
        getattr(replied.forward_origin, "sender_user", None) if replied.forward_origin else replied.from_user
    )
    return sender.full_name if sender is not None else None


def handlers() -> list[BotHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("staff", staff_command, filters=private),
        CommandHandler(["list", "mine"], list_command, filters=private),
        CommandHandler("show", show, filters=private),
        CommandHandler("history", history, filters=private),
        CommandHandler(["extend", "lift", "cancel_closure"], change, filters=private),
        CallbackQueryHandler(on_page, pattern=r"^spage:(list|mine):\d+$"),
        *confirm.handlers(),
        CallbackQueryHandler(stale_button, pattern=STAFF_BUTTONS),
    ]
