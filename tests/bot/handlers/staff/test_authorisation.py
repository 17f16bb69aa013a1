"""Who may do what: a stranger hears "not authorised" and nothing else happens (the attempt is logged);
staff of Jeddah cannot touch a Riyadh closure through any command; admins manage staff."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, StaffEvent
from closures.store import session_scope
from tests.bot.handlers.staff.conftest import (
    ADMIN,
    BESIDE,
    JEDDAH,
    RIYADH,
    RIYADH_ADMIN,
    RIYADH_EN,
    STRANGER,
    StaffBot,
)


def riyadh_active(bot: StaffBot) -> Closure:
    with session_scope(bot.services.engine) as session:
        rows = session.exec(select(Closure).where(Closure.municipality_id == 1).order_by(Closure.id))
        return next(c for c in rows if phase_at(c, bot.clock.now) is Phase.ACTIVE and c.ends_at is not None)


COMMANDS = [
    "/new", "/edit {id}", "/list", "/mine", "/show {id}", "/history {id}", "/extend {id} 2h", "/lift {id}",
    "/cancel_closure {id}", "/staff", "/staff list", "/staff add 5555", "/staff remove 7001",
]  # fmt: skip


async def only_answer(bot: StaffBot, user: FakeUser, text: str) -> list[ApiCall]:
    """What the bot sends the user after ``text``, once it has answered (answers end with a message)."""
    since = len(bot.api.calls)
    bot.api.user_sends_text(user, text)
    await bot.reply_to(user, since=since)
    await bot.api.wait_for(lambda c: c.method == "getUpdates", since=len(bot.api.calls))  # settle
    return [c for c in bot.api.calls[since:] if c.chat_id == user.id]


@pytest.mark.parametrize("command", COMMANDS)
async def test_a_stranger_is_told_not_authorised_nothing_else_happens_and_it_is_logged(
    staff_bot: StaffBot, command: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot, tr = staff_bot, get_translator("en")
    closure = riyadh_active(bot)
    before, staff_before = bot.writes(), bot.count(StaffEvent)
    with caplog.at_level(logging.WARNING, logger="bot.handlers.staff.auth"):
        calls = await only_answer(bot, STRANGER, command.format(id=closure.id))
    assert [(c.method, c.text) for c in calls] == [("sendMessage", tr.t("error.not_authorised"))]
    assert (bot.writes(), bot.count(StaffEvent)) == (before, staff_before)
    assert bot.closure(closure.id).version == closure.version
    assert f"refused staff command {command.split()[0]} from user {STRANGER.id}" in caplog.text


async def test_a_stranger_pressing_a_staff_button_is_refused_in_the_button_answer(
    staff_bot: StaffBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot, tr = staff_bot, get_translator("ar")
    await bot.say(RIYADH, "/new")
    radius = await bot.send_location(RIYADH, *BESIDE)
    before = bot.writes()
    since = len(bot.api.calls)
    with caplog.at_level(logging.WARNING, logger="bot.handlers.staff.auth"):
        bot.api.user_presses_button(STRANGER, radius, "sg:r:100")
        answer = await bot.api.wait_for(lambda c: c.method == "answerCallbackQuery", since=since)
    assert answer.params.get("text") == get_translator("en").t("error.not_authorised")
    assert [c for c in bot.api.calls[since:] if c.method.startswith("send")] == []
    assert f"refused staff command button 'sg:r:100' from user {STRANGER.id}" in caplog.text
    assert bot.writes() == before
    assert (await bot.press(RIYADH, radius, "sg:r:100")).text == tr.t(
        "staff.ask.reason"
    )  # Ahmed's draft is intact


@pytest.mark.parametrize(
    "command",
    ["/edit {id}", "/show {id}", "/history {id}", "/extend {id} 2h", "/lift {id}", "/cancel_closure {id}"],
)
async def test_staff_of_jeddah_cannot_touch_a_riyadh_closure_through_any_command(
    staff_bot: StaffBot, command: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot, tr = staff_bot, get_translator("ar")
    closure = riyadh_active(bot)
    before = bot.writes()
    with caplog.at_level(logging.WARNING, logger="bot.handlers.staff.auth"):
        calls = await only_answer(bot, JEDDAH, command.format(id=closure.id))
    assert [(c.method, c.text) for c in calls] == [("sendMessage", tr.t("error.not_authorised"))]
    assert bot.writes() == before
    assert bot.closure(closure.id).version == closure.version
    assert f"from user {JEDDAH.id}" in caplog.text


async def test_staff_of_jeddah_list_only_jeddah_and_cannot_register_in_riyadh(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    listed = (await bot.say(JEDDAH, "/list")).text or ""
    jeddah = bot.services.listing.open_in([2]).closures
    assert tr.n("staff.list.header", len(jeddah)) in listed
    assert all(f"رقم \u2068{tr.number(c.id)}\u2069 · " in listed for c in jeddah)
    await bot.say(JEDDAH, "/new")
    assert (await bot.send_location(JEDDAH, *BESIDE)).text == tr.t("staff.refused.outside_municipality")


async def test_staff_removed_mid_conversation_cannot_finish_it(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    await bot.say(RIYADH_EN, "/new")
    radius = await bot.send_location(RIYADH_EN, *BESIDE)
    preview = await bot.to_preview(RIYADH_EN, await bot.press(RIYADH_EN, radius, "sg:r:100"))
    await bot.say(ADMIN, f"/staff remove {RIYADH_EN.id} riyadh")
    before = bot.writes()
    since = len(bot.api.calls)
    bot.api.user_presses_button(RIYADH_EN, preview, "sv:confirm")
    answer = await bot.api.wait_for(lambda c: c.method == "answerCallbackQuery", since=since)
    assert answer.params.get("text") == tr.t("error.not_authorised")
    assert bot.writes() == before
    assert (await bot.send_location(RIYADH_EN, *BESIDE)).text != tr.t("staff.ask.radius")  # the draft is gone


async def test_a_settings_admin_registers_anywhere_and_the_audit_names_them(staff_bot: StaffBot) -> None:
    bot = staff_bot
    await bot.say(ADMIN, "/new")
    preview = await bot.to_preview(
        ADMIN, await bot.press(ADMIN, await bot.send_location(ADMIN, 21.54, 39.17), "sg:r:100")
    )
    await bot.press(ADMIN, preview, "sv:confirm")
    closure = bot.newest()
    assert (closure.municipality_id, closure.created_by) == (2, f"tg:{ADMIN.id}")
    assert [(e.action, e.actor) for e in bot.services.closures.history(closure.id)] == [
        ("registered", f"tg:{ADMIN.id}")
    ]


async def test_admins_add_list_and_remove_staff_of_their_municipality(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    newcomer = FakeUser(5555, first_name="Omar", language_code="en")
    added = await bot.say(RIYADH_ADMIN, "/staff add 5555")
    assert added.text == tr.t(
        "staff.staff.added", user="5555", role=tr.t("staff.role.staff"), municipality="riyadh"
    )
    listed = (await bot.say(RIYADH_ADMIN, "/staff list")).text or ""
    assert f"5555 · {tr.t('staff.role.staff')} · riyadh" in listed
    assert f"{JEDDAH.id}" not in listed  # only the municipalities they administer
    assert (
        await bot.say(newcomer, "/new")
    ).text == f"{tr.t('staff.ask.geometry')}\n\n{tr.t('staff.ask.no_geocoder')}"
    assert (await bot.say(newcomer, "/cancel")).text == tr.t("staff.cancelled")
    removed = await bot.say(RIYADH_ADMIN, "/staff remove 5555")
    assert removed.text == tr.t(
        "staff.staff.removed", user="5555", role=tr.t("staff.role.staff"), municipality="riyadh"
    )
    assert (await bot.say(newcomer, "/new")).text == tr.t("error.not_authorised")
    assert (await bot.say(RIYADH_ADMIN, "/staff remove 5555")).text == tr.t(
        "staff.staff.not_member", user="5555", municipality="riyadh"
    )
    trail = [(e.telegram_user_id, e.action, e.actor) for e in bot.services.staff.events("riyadh")][-2:]
    assert trail == [(5555, "added", f"tg:{RIYADH_ADMIN.id}"), (5555, "removed", f"tg:{RIYADH_ADMIN.id}")]


async def test_an_admin_of_riyadh_cannot_manage_jeddah_staff_and_plain_staff_cannot_manage_any(
    staff_bot: StaffBot,
) -> None:
    bot, tr = staff_bot, get_translator("en")
    before = bot.count(StaffEvent)
    assert (await bot.say(RIYADH_ADMIN, "/staff add 5555 jeddah")).text == tr.t("error.not_authorised")
    assert (await bot.say(RIYADH_ADMIN, f"/staff remove {JEDDAH.id} jeddah")).text == tr.t(
        "error.not_authorised"
    )
    assert (await bot.say(RIYADH_EN, "/staff add 5555")).text == tr.t("error.not_authorised")
    assert (await bot.say(RIYADH_ADMIN, "/staff add 5555 makkah")).text == tr.t("staff.staff.usage")
    assert (await bot.say(RIYADH_ADMIN, "/staff promote 5555")).text == tr.t("staff.staff.usage")
    assert bot.count(StaffEvent) == before
    assert bot.services.staff.memberships(5555) == []


async def test_staff_add_in_reply_to_a_message_forwarded_from_the_person(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    omar = {"id": 5556, "is_bot": False, "first_name": "عمر"}
    chat = ADMIN.as_private_chat()
    forwarded = bot.api.store_message(
        chat,
        ADMIN.as_user(),
        {"text": "السلام عليكم", "forward_origin": {"type": "user", "sender_user": omar, "date": 1}},
    )
    command = bot.api.store_message(
        chat,
        ADMIN.as_user(),
        {
            "text": "/staff add admin jeddah",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            "reply_to_message": forwarded,
        },
    )
    since = len(bot.api.calls)
    bot.api.queue_update("message", command)
    added = await bot.reply_to(ADMIN, since=since)
    assert added.text == tr.t(
        "staff.staff.added", user="5556", role=tr.t("staff.role.admin"), municipality="jeddah"
    )
    member = next(m for m in bot.services.staff.list(["jeddah"]) if m.user_id == 5556)
    assert (member.role, member.name) == ("admin", "عمر")
