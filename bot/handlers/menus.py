"""Telegram's command menu: the drivers' for everyone, and per chat the staff's for municipality staff.

Telegram shows a person the commands of the narrowest scope that has any: their own chat's
(``BotCommandScopeChat``) before the default. So staff and admins get a chat-scoped menu (driver commands
first, then the staff commands their role allows), in Arabic without a language code and in English for
apps set to English; someone who is no longer staff loses it and sees the drivers' menu again.

Setting a chat's menu fails for someone who never opened a chat with the bot (400 "chat not found"), on
flood control (429) or a timeout: each is logged and skipped; a menu is never worth a failed start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from bot.i18n import LANGUAGES, get_translator
from bot.singletons import Singleton
from closures.locks import ProcessLock
from closures.models import Role
from closures.staff import StaffDirectory, StaffMember

log = logging.getLogger(__name__)

# (command, catalogue key of its description), in menu order.
DRIVER_COMMANDS = (
    ("start", "command.start"),
    ("route", "command.route"),
    ("radius", "command.radius"),
    ("language", "command.language"),
    ("places", "command.places"),
    ("subscribe", "command.subscribe"),
    ("forget", "command.forget"),
)
STAFF_COMMANDS = (
    ("emergency", "command.emergency"),
    ("new", "command.new"),
    ("mine", "command.mine"),
    ("list", "command.list"),
    ("show", "command.show"),
    ("edit", "command.edit"),
    ("extend", "command.extend"),
    ("lift", "command.lift"),
    ("cancel_closure", "command.cancel_closure"),
    ("history", "command.history"),
    ("playbooks", "command.playbooks"),
)
ADMIN_COMMANDS = (
    ("staff", "command.staff"),
    ("outbox", "command.outbox"),
)

MENUS_LOCK = "command-menus"
_SINGLETON = "menus_singleton"  # in bot_data: (the task competing for the lock, the event that stops it)
_ROUND = "menus_first_round"


@dataclass
class MenuReport:
    """What a round of setting staff menus did: user ids set, cleared, and skipped with the reason."""

    set: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def menu(role: str | None, lang: str) -> list[BotCommand]:
    """The commands someone with ``role`` (None: a driver, ``staff`` or ``admin``) sees, in ``lang``."""
    entries: list[tuple[str, str]] = list(DRIVER_COMMANDS)
    if role in (Role.STAFF, Role.ADMIN):
        entries += STAFF_COMMANDS
    if role == Role.ADMIN:
        entries += ADMIN_COMMANDS
    tr = get_translator(lang)
    return [BotCommand(name, tr.t(key)) for name, key in entries]


def strongest_role(roles: Iterable[str]) -> str | None:
    """``admin`` if any of ``roles`` is, else ``staff`` if there are any, else None."""
    roles = set(roles)
    if Role.ADMIN in roles:
        return Role.ADMIN.value
    return Role.STAFF.value if roles else None


def roles_of(members: Sequence[StaffMember], admin_user_ids: Iterable[int]) -> dict[int, str]:
    """Each staff member's and settings admin's strongest role across municipalities, by user id."""
    by_user: dict[int, list[str]] = {}
    for member in members:
        by_user.setdefault(member.user_id, []).append(member.role)
    for user_id in admin_user_ids:
        by_user.setdefault(user_id, []).append(Role.ADMIN.value)
    return {user_id: role for user_id, roles in by_user.items() if (role := strongest_role(roles))}


async def set_driver_menus(bot: Bot) -> None:
    """The default menu: driver commands, in Arabic for everyone and in English for English apps."""
    for lang in LANGUAGES:
        await bot.set_my_commands(menu(None, lang), language_code=_code(lang))


async def apply_menu(bot: Bot, user_id: int, role: str | None) -> str | None:
    """Give ``user_id``'s chat the menu of ``role``, or remove it for None; the failure, if any, else None."""
    scope = BotCommandScopeChat(chat_id=user_id)
    try:
        for lang in LANGUAGES:
            if role is None:
                await bot.delete_my_commands(scope=scope, language_code=_code(lang))
            else:
                await bot.set_my_commands(menu(role, lang), scope=scope, language_code=_code(lang))
    except BadRequest as exc:  # typically "chat not found": they never opened a chat with the bot
        log.info("command menu for user %s skipped: %s", user_id, exc.message)
        return exc.message
    except TelegramError as exc:  # flood control, timeouts, Telegram down: the next start-up tries again
        log.warning("command menu for user %s failed: %s: %s", user_id, type(exc).__name__, exc.message)
        return exc.message
    return None


async def refresh_menu(bot: Bot, directory: StaffDirectory, user_id: int) -> str | None:
    """Bring ``user_id``'s menu in line with their memberships now (after an add, a remove, a role change)."""
    memberships = await asyncio.to_thread(directory.memberships, user_id)
    return await apply_menu(bot, user_id, strongest_role(m.role for m in memberships))


async def greet_menu(bot: Bot, directory: StaffDirectory, user_id: int) -> None:
    """On /start: staff get their menu now, e.g. added before they ever opened a chat with the bot.

    Drivers cost one database read and no call to Telegram: their menu is the default one.
    """
    memberships = await asyncio.to_thread(directory.memberships, user_id)
    if memberships:
        await apply_menu(bot, user_id, strongest_role(m.role for m in memberships))


async def set_staff_menus(bot: Bot, directory: StaffDirectory) -> MenuReport:
    """The staff menu for every staff member and settings admin; failures are logged and skipped."""
    members = await asyncio.to_thread(directory.list)
    report = MenuReport()
    for user_id, role in sorted(roles_of(members, directory.admin_user_ids).items()):
        failure = await apply_menu(bot, user_id, role)
        if failure is None:
            report.set.append(user_id)
        else:
            report.skipped[user_id] = failure
    log.info("staff command menus: %d set, %d skipped", len(report.set), len(report.skipped))
    return report


def start_menus(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Set the drivers' menu and every staff member's in the background (start-up does not wait), in one
    process of all those sharing the database (``bot.singletons``): the others leave it to that one, and
    one of them does it when that one stops or dies."""
    services = application.bot_data["services"]
    first_round: asyncio.Future[MenuReport] = asyncio.get_running_loop().create_future()

    async def set_all(_quit: asyncio.Event) -> None:
        await set_driver_menus(application.bot)
        report = await set_staff_menus(application.bot, services.staff)
        if not first_round.done():
            first_round.set_result(report)

    singleton = Singleton(
        ProcessLock(services.engine, MENUS_LOCK),
        set_all,
        check_s=services.settings.singleton_check_s,
        what="start-up command menus",
    )
    stop = asyncio.Event()
    application.bot_data[_SINGLETON] = (asyncio.create_task(singleton.run(stop), name="menus"), stop)
    application.bot_data[_ROUND] = first_round


async def stop_menus(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the background round if it still runs (a shutdown right after start-up); let the lock go."""
    entry: tuple[asyncio.Task[None], asyncio.Event] | None = application.bot_data.pop(_SINGLETON, None)
    if entry is not None:
        task, stop = entry
        stop.set()
        await task
    first_round: asyncio.Future[MenuReport] | None = application.bot_data.pop(_ROUND, None)
    if first_round is not None and not first_round.done():
        first_round.cancel()


def start_up_round(application: Application[Any, Any, Any, Any, Any, Any]) -> asyncio.Future[MenuReport]:
    """What this process's first round of start-up menus did, once it is done (it never is here while
    another process holds the menus' lock)."""
    return cast("asyncio.Future[MenuReport]", application.bot_data[_ROUND])


def _code(lang: str) -> str | None:
    """Arabic is the default (no language code); other languages by their code."""
    return None if lang == LANGUAGES[0] else lang
