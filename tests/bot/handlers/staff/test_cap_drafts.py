"""A partner's CAP alert through the real Application over HTTP against the local Bot API: imported, it is a
direct message to each of the municipality's staff in their language (both, when they chose none), with the
playbooks its area touches
and Declare / Dismiss; nothing reaches the channel until one of them declares it; a colleague's late press
is told it was handled; the partner's Cancel then offers an End, which ends it only when pressed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from bot.publish import wiring
from closures.cap_import import CapImporter
from closures.emergency_models import Emergency, EmergencyClosure
from closures.formats.cap_read import read_cap
from closures.service import Actor
from closures.store import session_scope
from tests.bot.handlers.staff.conftest import (
    ADMIN,
    JEDDAH,
    RIYADH,
    RIYADH_ADMIN,
    RIYADH_EN,
    STRANGER,
    StaffBot,
)
from tests.closures.cap_support import sample
from tests.closures.emergency_support import khurais_playbook

CHANNEL = "@riyadh_roads"
ISO, POP = "\u2068", "\u2069"  # Arabic texts isolate each value: Latin names mix into right-to-left


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"publish_destinations": {"riyadh": {"telegram": [CHANNEL]}}, "outbox_worker": False}


async def drain(staff_bot: StaffBot) -> int:
    return await wiring.build_worker(staff_bot.services, staff_bot.app.bot).drain()


async def _started(staff_bot: StaffBot) -> None:
    """The staff have opened a chat with the bot (Telegram lets a bot write only to those who did); Sara
    chose English, the others no language."""
    for user in (RIYADH, RIYADH_EN, RIYADH_ADMIN, JEDDAH, ADMIN, STRANGER):
        await staff_bot.say(user, "/start")
    staff_bot.services.drivers.set_language(RIYADH_EN.id, "en")
    await drain(staff_bot)  # the sample closures' own posts, out of the way
    staff_bot.api.calls.clear()


def _import(staff_bot: StaffBot, *names: str):
    importer = CapImporter(staff_bot.services.emergencies, admins=staff_bot.settings.admin_user_ids)
    return importer.apply([a for n in names for a in read_cap(sample(n)).alerts], source="cap:ncm.example.sa")


def _dm(staff_bot: StaffBot, user: FakeUser, since: int = 0) -> list[ApiCall]:
    return [c for c in staff_bot.api.sent(user.id, "sendMessage")[since:]]


def _buttons(call: ApiCall) -> list[tuple[str, str]]:
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def _draft(staff_bot: StaffBot) -> Emergency:
    with session_scope(staff_bot.services.engine) as session:
        return session.scalars(sa.select(Emergency).order_by(Emergency.id.desc())).first()


async def test_staff_are_told_in_their_language_and_one_declares_it_with_the_playbooks(staff_bot: StaffBot):
    staff_bot.services.emergencies.playbooks.save("riyadh", khurais_playbook(), Actor.system("test"))
    await _started(staff_bot)
    assert _import(staff_bot, "ncm_flood_riyadh.xml").drafted == 1
    assert await drain(staff_bot) == 4, "three staff of Riyadh and the settings admin"
    draft = _draft(staff_bot)

    [english] = _dm(staff_bot, RIYADH_EN)
    assert english.text.startswith(
        "<b>📥 An alert from alerts@ncm.example.sa: a draft emergency for Riyadh Municipality. Nothing is "
        "published until you confirm it.</b>"
    )
    assert "🟠 Orange warning · Flooding" in english.text
    assert "of the alert's area lay outside Riyadh Municipality and was cut off" in english.text
    assert "ℹ️ The source says: Heavy rain with flash floods" in english.text
    assert "📘 Playbooks its area touches: Khurais Rd underpasses." in english.text
    assert "تنبيه" not in english.text, "in English only: her choice"
    assert _buttons(english) == [
        ("✅ Declare with the playbooks", f"cap:c:{draft.id}"),
        ("✅ Declare", f"cap:n:{draft.id}"),
        ("✖ Dismiss", f"cap:d:{draft.id}"),
    ]
    [both] = _dm(staff_bot, RIYADH)
    arabic, english_too = both.text.split("\n\n<b>📥 An alert from", 1)
    assert arabic.startswith(f"<b>📥 تنبيه من {ISO}alerts@ncm.example.sa{POP}: مسودة حالة طوارئ")
    assert f"خطط الطوارئ التي تمسّها منطقته: {ISO}أنفاق طريق خريص{POP}" in arabic
    assert "Playbooks its area touches" in english_too
    assert _buttons(both)[1] == ("✅ أعلِن / Declare", f"cap:n:{draft.id}")
    assert _dm(staff_bot, JEDDAH) == [], "Jeddah's staff are not told of Riyadh's draft"
    assert staff_bot.api.sent(CHANNEL) == [], "nothing is published from an import alone"

    done = await staff_bot.press(RIYADH_EN, english, f"cap:c:{draft.id}")
    assert done.text.startswith(f"Declared: emergency #{draft.id}.")
    edits = staff_bot.api.sent(RIYADH_EN.id, "editMessageReplyMarkup")
    assert len(edits) == 1, "the buttons went"
    issued = staff_bot.services.emergencies.current(draft.id)
    assert (issued.state, issued.created_by) == ("issued", "cap-import")
    with session_scope(staff_bot.services.engine) as session:
        brought = session.scalars(
            sa.select(EmergencyClosure).where(EmergencyClosure.emergency_id == draft.id)
        )
        assert len(list(brought)) == 3, "the playbook's three underpasses closed with it"
    await drain(staff_bot)
    [post] = staff_bot.api.sent(CHANNEL, "sendMessage")
    assert "إنذار أحمر: أمطار غزيرة وسيول على منطقة الرياض" in post.text

    late = await staff_bot.press(RIYADH, both, f"cap:d:{draft.id}")
    assert late.text == get_translator("ar").t("emergency.refused.not_a_draft")
    assert _draft(staff_bot).state == "issued", "a colleague's late Dismiss changes nothing"
    assert len(staff_bot.api.sent(RIYADH.id, "editMessageReplyMarkup")) == 1, "handled: its buttons went too"


async def test_dismissing_publishes_nothing_and_a_stranger_may_not_press(staff_bot: StaffBot):
    await _started(staff_bot)
    _import(staff_bot, "ncm_flood_riyadh.xml")
    await drain(staff_bot)
    draft = _draft(staff_bot)
    [message] = _dm(staff_bot, RIYADH_EN)
    assert _buttons(message) == [("✅ Declare", f"cap:n:{draft.id}"), ("✖ Dismiss", f"cap:d:{draft.id}")]
    assert "📘 No playbook's area touches it." in message.text

    since = len(staff_bot.api.calls)
    staff_bot.api.user_presses_button(STRANGER, message, f"cap:n:{draft.id}")
    refusal = await staff_bot.api.wait_for(lambda c: c.method == "answerCallbackQuery", since=since)
    assert refusal.params["text"] == get_translator("en").t("error.not_authorised")
    assert refusal.params["show_alert"] is True
    assert _draft(staff_bot).state == "draft"
    assert staff_bot.api.sent(RIYADH_EN.id, "editMessageReplyMarkup") == [], "refused: the buttons stay"

    done = await staff_bot.press(RIYADH_EN, message, f"cap:d:{draft.id}")
    assert done.text == "✖ Dismissed: nothing was published."
    assert _draft(staff_bot).state == "discarded"
    await drain(staff_bot)
    assert staff_bot.api.sent(CHANNEL) == []


async def test_the_partners_cancel_offers_an_end_that_ends_only_when_pressed(staff_bot: StaffBot):
    await _started(staff_bot)
    _import(staff_bot, "ncm_flood_riyadh.xml")
    await drain(staff_bot)
    draft = _draft(staff_bot)
    [message] = _dm(staff_bot, RIYADH_EN)
    await staff_bot.press(RIYADH_EN, message, f"cap:n:{draft.id}")
    await drain(staff_bot)
    before = len(_dm(staff_bot, RIYADH_EN))

    staff_bot.clock.advance(timedelta(hours=4))
    assert _import(staff_bot, "ncm_flood_riyadh_cancel.xml").noted == 1
    await drain(staff_bot)
    [notice] = [c for c in _dm(staff_bot, RIYADH_EN)[before:] if "cancelled the alert" in (c.text or "")]
    assert "The emergency is still in force: end it when the danger is over." in notice.text
    assert _buttons(notice) == [("⏹ End the emergency", f"cap:e:{draft.id}:1")]
    assert staff_bot.services.emergencies.current(draft.id).msg_type == "alert", "not ended on its own"

    ended = await staff_bot.press(RIYADH_EN, notice, f"cap:e:{draft.id}:1")
    assert ended.text.startswith(f"Emergency #{draft.id} is over.")
    assert staff_bot.services.emergencies.current(draft.id).msg_type == "cancel"
