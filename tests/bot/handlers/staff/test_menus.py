"""Staff and admins find their commands in Telegram's menu: set at start-up for everyone on the staff, given
by ``/staff add``, changed with the role, taken away by ``/staff remove``; drivers keep the default menu."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from telegram import BotCommandScopeChat

from bot.handlers import menus
from bot.localapi import ApiCall, FakeUser
from tests.bot.handlers.staff.conftest import (
    ADMIN,
    JEDDAH,
    RIYADH,
    RIYADH_ADMIN,
    RIYADH_EN,
    STRANGER,
    StaffBot,
)

DRIVER = ["start", "route", "radius", "language", "places", "subscribe", "forget"]
STAFF = [
    *DRIVER, "emergency", "new", "mine", "list", "show", "edit", "extend", "lift", "cancel_closure",
    "history", "playbooks",
]  # fmt: skip
ADMINS = [*STAFF, "staff", "outbox"]
NEWCOMER = FakeUser(7555, first_name="Fahad", language_code="ar")


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"outbox_worker": False}  # start-up runs for real here; the worker has its own tests


async def commands(bot: StaffBot, user: FakeUser | None, lang: str | None) -> list[str]:
    """The menu Telegram holds for ``user``'s chat (None: the default scope) in ``lang``, read over HTTP."""
    scope = BotCommandScopeChat(user.id) if user is not None else None
    return [c.command for c in await bot.app.bot.get_my_commands(scope=scope, language_code=lang)]


async def description(bot: StaffBot, user: FakeUser, lang: str | None, name: str) -> str:
    menu = await bot.app.bot.get_my_commands(scope=BotCommandScopeChat(user.id), language_code=lang)
    return next(c.description for c in menu if c.command == name)


def for_chat(method: str, user: FakeUser) -> Any:
    return lambda c: c.method == method and (c.params.get("scope") or {}).get("chat_id") == user.id


async def menu_calls(bot: StaffBot, method: str, user: FakeUser, since: int) -> list[ApiCall]:
    """The two calls (Arabic, English) of ``method`` for ``user``'s chat after call number ``since``."""
    return await bot.api.wait_for_count(for_chat(method, user), 2, since=since)


async def open_chats(bot: StaffBot, *users: FakeUser) -> None:
    """Each user writes to the bot (and is answered): from now on Telegram knows their chat.

    Not with /start, which sets a staff member's menu by itself (see the last test).
    """
    for user in users:
        await bot.say(user, "hello")


async def start_up(bot: StaffBot) -> menus.MenuReport:
    """What ``run_polling`` does before polling: the application's post_init; then its background round."""
    assert bot.app.post_init is not None
    await bot.app.post_init(bot.app)
    return await menus.start_up_round(bot.app)


async def test_start_up_gives_staff_and_admins_their_menus_and_skips_unknown_chats(
    staff_bot: StaffBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = staff_bot
    await open_chats(bot, ADMIN, RIYADH, RIYADH_EN, RIYADH_ADMIN, STRANGER)  # JEDDAH never wrote to the bot
    with caplog.at_level(logging.INFO, logger="bot.handlers.menus"):
        report = await start_up(bot)
    assert sorted(report.set) == sorted([ADMIN.id, RIYADH.id, RIYADH_EN.id, RIYADH_ADMIN.id])
    assert list(report.skipped) == [JEDDAH.id]
    assert "chat not found" in report.skipped[JEDDAH.id].lower()
    assert any(str(JEDDAH.id) in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    for lang in (None, "en"):  # Arabic is the default, English for apps set to English
        assert await commands(bot, None, lang) == DRIVER  # drivers' menu unchanged
        assert await commands(bot, RIYADH, lang) == STAFF
        assert await commands(bot, RIYADH_EN, lang) == STAFF
        assert await commands(bot, RIYADH_ADMIN, lang) == ADMINS
        assert await commands(bot, ADMIN, lang) == ADMINS  # an admin from the settings, without a staff row
        assert await commands(bot, STRANGER, lang) == []  # no chat menu: Telegram shows the default
    assert await description(bot, RIYADH, None, "new") == "تسجيل إغلاق جديد"
    assert await description(bot, RIYADH, "en", "new") == "Register a new closure"
    assert await description(bot, ADMIN, None, "staff") == "الموظفون: عرض، إضافة، إزالة"


async def test_a_failing_telegram_skips_one_member_and_start_up_goes_on(
    staff_bot: StaffBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = staff_bot
    await open_chats(bot, ADMIN, RIYADH, RIYADH_EN, RIYADH_ADMIN, JEDDAH)
    await menus.set_driver_menus(bot.app.bot)
    bot.api.fail_next("setMyCommands", status=429, retry_after=5)  # flood control, after any retries
    with caplog.at_level(logging.INFO, logger="bot.handlers.menus"):
        report = await menus.set_staff_menus(bot.app.bot, bot.services.staff)  # start-up's background round
    assert list(report.skipped) == [RIYADH.id]  # the first in user-id order met the 429
    assert sorted(report.set) == sorted([ADMIN.id, RIYADH_EN.id, RIYADH_ADMIN.id, JEDDAH.id])
    assert any(r.levelno == logging.WARNING and str(RIYADH.id) in r.getMessage() for r in caplog.records)
    assert await commands(bot, JEDDAH, "en") == STAFF


async def test_staff_add_gives_the_menu_a_role_change_updates_it_and_remove_takes_it_away(
    staff_bot: StaffBot,
) -> None:
    bot = staff_bot
    await open_chats(bot, NEWCOMER)
    await start_up(bot)
    since = len(bot.api.calls)
    added = await bot.say(RIYADH_ADMIN, f"/staff add {NEWCOMER.id}")
    assert added.text == f"User {NEWCOMER.id} is now staff of riyadh."
    assert all(c.ok for c in await menu_calls(bot, "setMyCommands", NEWCOMER, since))
    assert await commands(bot, NEWCOMER, None) == STAFF
    assert await commands(bot, NEWCOMER, "en") == STAFF

    since = len(bot.api.calls)
    await bot.say(RIYADH_ADMIN, f"/staff add {NEWCOMER.id} admin")
    await menu_calls(bot, "setMyCommands", NEWCOMER, since)
    assert await commands(bot, NEWCOMER, None) == ADMINS
    assert await commands(bot, NEWCOMER, "en") == ADMINS

    since = len(bot.api.calls)
    await bot.say(RIYADH_ADMIN, f"/staff add {NEWCOMER.id} staff")
    await menu_calls(bot, "setMyCommands", NEWCOMER, since)
    assert await commands(bot, NEWCOMER, "en") == STAFF

    since = len(bot.api.calls)
    removed = await bot.say(RIYADH_ADMIN, f"/staff remove {NEWCOMER.id}")
    assert removed.text == f"User {NEWCOMER.id} is no longer staff of riyadh."
    assert all(c.ok for c in await menu_calls(bot, "deleteMyCommands", NEWCOMER, since))
    assert await commands(bot, NEWCOMER, None) == []  # back to the drivers' default menu
    assert await commands(bot, NEWCOMER, "en") == []
    assert await commands(bot, None, None) == DRIVER


async def test_removal_from_one_municipality_keeps_the_menu_of_another(staff_bot: StaffBot) -> None:
    bot = staff_bot
    await open_chats(bot, RIYADH)
    since = len(bot.api.calls)
    await bot.say(ADMIN, f"/staff add {RIYADH.id} staff jeddah")
    await menu_calls(bot, "setMyCommands", RIYADH, since)
    since = len(bot.api.calls)
    await bot.say(ADMIN, f"/staff remove {RIYADH.id} riyadh")
    await menu_calls(bot, "setMyCommands", RIYADH, since)
    assert not any(for_chat("deleteMyCommands", RIYADH)(c) for c in bot.api.calls[since:])
    assert await commands(bot, RIYADH, None) == STAFF


async def test_adding_someone_who_never_opened_the_bot_still_adds_them(
    staff_bot: StaffBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = staff_bot
    since = len(bot.api.calls)
    with caplog.at_level(logging.INFO, logger="bot.handlers.menus"):
        added = await bot.say(RIYADH_ADMIN, f"/staff add {NEWCOMER.id}")
        failed = await bot.api.wait_for(for_chat("setMyCommands", NEWCOMER), since=since)
    assert added.text == f"User {NEWCOMER.id} is now staff of riyadh."
    assert failed.error is not None
    assert failed.error["error_code"] == 400
    assert bot.services.staff.role_in(NEWCOMER.id, "riyadh") == "staff"
    assert any(str(NEWCOMER.id) in r.getMessage() for r in caplog.records)


async def test_a_staff_member_skipped_at_start_up_gets_the_menu_on_start(staff_bot: StaffBot) -> None:
    bot = staff_bot
    report = await start_up(bot)
    assert JEDDAH.id in report.skipped  # never opened a chat with the bot
    since = len(bot.api.calls)
    await bot.say(JEDDAH, "/start")
    assert all(c.ok for c in await menu_calls(bot, "setMyCommands", JEDDAH, since))
    assert await commands(bot, JEDDAH, None) == STAFF
    assert await commands(bot, JEDDAH, "en") == STAFF
    since = len(bot.api.calls)
    await bot.say(STRANGER, "/start")  # a driver: the default menu, and no call about menus at all
    assert not any(c.method.endswith("MyCommands") for c in bot.api.calls[since:])
