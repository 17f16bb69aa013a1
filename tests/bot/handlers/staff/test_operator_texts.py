"""What operators read: a real title required, areas in hectares or km², staff commands on /start, /extend
asking once, names instead of internal labels."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import shapely
from shapely.geometry import box

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from bot.text.staff_views import shape
from closures.models import Closure
from closures.rules import ClosureDraft
from closures.service import Actor
from tests.bot.handlers.staff.conftest import ADMIN, BESIDE, RIYADH, RIYADH_EN, StaffBot

USERS = pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])


async def at_title(bot: StaffBot, user: FakeUser, reason: str = "other"):  # type: ignore[no-untyped-def]
    """/new through to the Arabic title question, with no geocoder (so no street is known)."""
    await bot.say(user, "/new")
    answer = await bot.press(user, await bot.send_location(user, *BESIDE), "sg:r:100")
    for data in (f"sr:{reason}", "ss:full", "sd:both", "st:now"):
        answer = await bot.press(user, answer, data)
    answer = await bot.say(user, "3h")
    return await bot.press(user, answer, "sx:skip")


@USERS
async def test_the_other_reason_is_labelled_other_not_closure(staff_bot: StaffBot, user: FakeUser) -> None:
    tr = get_translator(user.language_code or "ar")
    await staff_bot.say(user, "/new")
    reason = await staff_bot.press(user, await staff_bot.send_location(user, *BESIDE), "sg:r:100")
    labels = {
        b["callback_data"]: b["text"] for row in reason.params["reply_markup"]["inline_keyboard"] for b in row
    }
    assert labels["sr:other"] == tr.t("reason.other")
    assert labels["sr:other"] not in ("إغلاق", "Closure")


@USERS
async def test_without_a_known_street_no_title_is_proposed_and_a_bare_reason_is_refused(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    question = await at_title(bot, user)
    assert question.text == tr.t("staff.ask.title_ar")
    assert "reply_markup" not in question.params  # no "Use «Closure»" to publish by mistake
    before = bot.writes()
    for vague in ("إغلاق", "Roadworks", tr.t("reason.other"), "ab"):
        assert (await bot.say(user, vague)).text == tr.t("staff.title.too_vague")
    assert (await bot.say(user, "إغلاق طريق الملك فهد جنوبًا")).text == tr.t("staff.ask.title_en")
    assert bot.writes() == before


def test_areas_read_in_square_metres_hectares_or_square_kilometres() -> None:
    en = get_translator("en")
    lon, lat = 46.675, 24.71
    small = box(lon, lat, lon + 0.0005, lat + 0.0005)  # ~2,500 m²
    middle = box(lon, lat, lon + 0.0033, lat + 0.0033)  # ~12 ha
    large = box(lon, lat, lon + 0.02, lat + 0.02)  # ~4.5 km²
    assert shape(small, None, en).endswith(" m²")
    assert shape(middle, None, en) == "Area, 12.2 ha"  # 330 m × 370 m
    assert shape(large, None, en).endswith(" km²")


@pytest.mark.parametrize(("user", "admin"), [(RIYADH_EN, False), (ADMIN, True)], ids=["staff", "admin"])
async def test_staff_start_lists_the_staff_commands(staff_bot: StaffBot, user: FakeUser, admin: bool) -> None:
    tr = get_translator(user.language_code or "ar")
    text = (await staff_bot.say(user, "/start")).text or ""
    assert tr.t("staff.help.header") in text
    for command in ("/new", "/mine", "/lift", "/history"):
        assert f"\n{command} — " in text
    assert ("\n/outbox — " in text) is admin
    driver = (await staff_bot.say(FakeUser(7999, language_code="en"), "/start")).text or ""
    assert get_translator("en").t("staff.help.header") not in driver


async def test_extend_without_a_time_says_how_once(staff_bot: StaffBot) -> None:
    tr = get_translator("en")
    closure = next(iter(staff_bot.services.listing.open_in([1]).closures))
    answer = await staff_bot.say(RIYADH_EN, f"/extend {closure.id}")
    assert answer.text == tr.t("staff.extend.usage")


async def test_show_names_an_import_in_words(staff_bot: StaffBot) -> None:
    tr = get_translator("ar")
    now = staff_bot.clock.now
    draft = ClosureDraft(
        geometry=shapely.Point(BESIDE[1], BESIDE[0]), radius_m=50, reason="roadworks",
        title_ar="إغلاق شارع العليا", starts_at=now, ends_at=None,
    )  # fmt: skip
    closure = staff_bot.services.closures.register("riyadh", draft, Actor.system("import"))
    since = len(staff_bot.api.calls)
    staff_bot.api.user_sends_text(RIYADH, f"/show {closure.id}")
    (detail,) = await staff_bot.api.wait_for_count(
        lambda c: c.method == "sendMessage" and c.chat_id == RIYADH.id, 1, since=since
    )
    text = (detail.text or "").replace("\u2068", "").replace("\u2069", "")
    assert (
        tr.t("staff.show.by", actor=tr.t("staff.actor.import")).replace("\u2068", "").replace("\u2069", "")
        in text
    )
    assert "import" not in text


@USERS
async def test_the_start_question_offers_time_buttons_and_an_example_that_is_not_past(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    zone = bot.services.zone(1)
    await bot.say(user, "/new")
    answer = await bot.press(user, await bot.send_location(user, *BESIDE), "sg:r:100")
    for data in ("sr:roadworks", "ss:full", "sd:both"):
        answer = await bot.press(user, answer, data)

    buttons = {
        b["callback_data"]: b["text"] for row in answer.params["reply_markup"]["inline_keyboard"] for b in row
    }
    assert list(buttons) == ["st:now", "st:in1h", "st:tonight", "st:tomorrow"]  # it is noon in Riyadh
    assert buttons["st:tonight"] == tr.t("staff.button.tonight")
    example = (bot.clock.now.astimezone(zone) + timedelta(days=1)).strftime("%Y-%m-%d") + " 22:00"
    shown = example.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) if user is RIYADH else example
    assert shown in (answer.text or "").replace("\u2068", "").replace("\u2069", "")

    closure = await confirm_from_end(bot, user, await bot.press(user, answer, "st:tonight"))
    tonight = datetime.combine(bot.clock.now.astimezone(zone).date(), time(22, 0), tzinfo=zone)
    assert closure.starts_at == tonight.astimezone(UTC)


async def confirm_from_end(bot: StaffBot, user: FakeUser, end_question: ApiCall) -> Closure:
    """From the end question to Confirm: 3 h, no detour, a typed title, no English title."""
    await bot.press(user, await bot.say(user, "3h"), "sx:skip")
    preview = await bot.press(user, await bot.say(user, "إغلاق شارع العليا"), "te:skip")
    await bot.press(user, preview, "sv:confirm")
    return bot.newest()


@USERS
async def test_a_start_typed_in_everyday_words_is_taken(staff_bot: StaffBot, user: FakeUser) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    zone = bot.services.zone(1)
    await bot.say(user, "/new")
    answer = await bot.press(user, await bot.send_location(user, *BESIDE), "sg:r:100")
    for data in ("sr:roadworks", "ss:full", "sd:both"):
        answer = await bot.press(user, answer, data)

    end_question = await bot.say(user, "غدا ١٠ م")

    assert end_question.text == bot.question(tr, "staff.ask.end")
    closure = await confirm_from_end(bot, user, end_question)
    tomorrow = datetime.combine(
        bot.clock.now.astimezone(zone).date() + timedelta(days=1), time(22, 0), tzinfo=zone
    )
    assert closure.starts_at == tomorrow.astimezone(UTC)
    assert closure.ends_at == tomorrow.astimezone(UTC) + timedelta(hours=3)
