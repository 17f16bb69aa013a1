"""The command menus as plain data: who sees which commands, in which language, and that each is handled."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from telegram import Bot
from telegram.ext import CommandHandler, ConversationHandler
from telegram.request import HTTPXRequest

from bot.app import build_application
from bot.handlers.menus import apply_menu, menu, roles_of, strongest_role
from bot.localapi import FakeUser, LocalBotApi
from bot.services import Services
from closures.staff import StaffMember
from tests.bot.conftest import bot_settings

DRIVER = ["start", "route", "radius", "language", "places", "subscribe", "forget"]
STAFF = [
    "emergency",
    "new",
    "mine",
    "list",
    "show",
    "edit",
    "extend",
    "lift",
    "cancel_closure",
    "history",
    "playbooks",
]
ADMIN = ["staff", "outbox"]


def names(role: str | None, lang: str) -> list[str]:
    return [c.command for c in menu(role, lang)]


def test_drivers_staff_and_admins_each_see_their_commands_in_order() -> None:
    for lang in ("ar", "en"):
        assert names(None, lang) == DRIVER
        assert names("staff", lang) == DRIVER + STAFF
        assert names("admin", lang) == DRIVER + STAFF + ADMIN


def test_descriptions_come_from_the_catalogue_in_each_language() -> None:
    arabic = {c.command: c.description for c in menu("admin", "ar")}
    english = {c.command: c.description for c in menu("admin", "en")}
    assert arabic["new"] == "تسجيل إغلاق جديد"
    assert english["new"] == "Register a new closure"
    assert english["outbox"] == "Publishing backlog and failed posts"
    for text in [*arabic.values(), *english.values()]:
        assert 1 <= len(text) <= 256
        assert not text.startswith("command.")  # a key missing from the catalogue shows as itself
    assert all(arabic[name] != english[name] for name in STAFF + ADMIN)  # translated, not copied


def test_the_strongest_role_across_municipalities_decides() -> None:
    assert strongest_role([]) is None
    assert strongest_role(["staff"]) == "staff"
    assert strongest_role(["staff", "admin"]) == "admin"
    members = [
        StaffMember(1, "staff", "jeddah", None),
        StaffMember(1, "admin", "riyadh", None),
        StaffMember(2, "staff", "riyadh", None),
    ]
    assert roles_of(members, admin_user_ids=[3, 2]) == {1: "admin", 2: "admin", 3: "admin"}
    assert roles_of(members, admin_user_ids=[]) == {1: "admin", 2: "staff"}


async def test_every_command_in_a_menu_is_one_the_bot_answers(bot_api: LocalBotApi, tmp_path: Path) -> None:
    services = Services.build(bot_settings(bot_api, tmp_path / "bot.sqlite"))
    try:
        app = build_application(services, rate_limit=False)
        handled: set[str] = set()
        for handler in (h for group in app.handlers.values() for h in group):
            inner = handler.entry_points if isinstance(handler, ConversationHandler) else [handler]
            handled |= {c for h in inner if isinstance(h, CommandHandler) for c in h.commands}
        assert set(names("admin", "en")) <= handled
    finally:
        services.close()


async def test_a_timeout_is_logged_and_reported_not_raised(
    bot_api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    bot_api.user_sends_text(FakeUser(5), "hello")  # the bot knows the chat
    bot_api.delay_next("setMyCommands", 1.0)  # a slow Telegram, slower than the read timeout
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(bot_api.token, base_url=bot_api.base_url, request=request) as bot:
        with caplog.at_level(logging.INFO, logger="bot.handlers.menus"):
            failure = await apply_menu(bot, 5, "staff")
        assert failure is not None
        assert any(r.levelno == logging.WARNING and "TimedOut" in r.getMessage() for r in caplog.records)
