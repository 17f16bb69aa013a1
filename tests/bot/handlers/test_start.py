"""/start, /language and /radius: the greeting, the driver's language and search radius, and their storage."""

from __future__ import annotations

import pytest

from bot.i18n import Translator, get_translator
from bot.localapi import FakeUser
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import (
    KINGDOM_CENTRE,
    assert_arabic_numerals,
    closures_near,
    header,
    listed,
    press,
)

LANGS = pytest.mark.parametrize("lang", ["ar", "en"])


def greeting(tr: Translator) -> str:
    """/start's answer: what the bot does, and that a last location is kept two hours (EMERGENCY_RECENT_H)."""
    kept = tr.t("start.locations_kept", duration=tr.n("emergency.duration.hours", 2))
    return f"{tr.t('start.welcome')}\n\n{tr.t('help.text')}\n\n{kept}"


@LANGS
async def test_start_greets_says_what_the_bot_does_and_offers_the_location_button(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(301, language_code=lang)

    answer = await running_bot.ask(user, "/start")

    assert answer.text == greeting(tr)
    assert answer.params["parse_mode"] == "HTML"
    assert answer.params["reply_markup"] == {
        "keyboard": [[{"text": tr.t("button.share_location"), "request_location": True}]],
        "resize_keyboard": True,
    }


async def test_language_button_switches_to_english_and_the_choice_is_kept(running_bot: RunningBot) -> None:
    ar, en = get_translator("ar"), get_translator("en")
    user = FakeUser(302, language_code="ar")

    menu = await running_bot.ask(user, "/language")
    assert menu.text == ar.t("language.choose")
    assert menu.params["reply_markup"]["inline_keyboard"] == [
        [{"text": "العربية", "callback_data": "lang:ar"}, {"text": "English", "callback_data": "lang:en"}]
    ]

    switched = await press(running_bot, user, menu, "lang:en", method="editMessageText")

    assert switched.text == en.t("language.switched")
    assert running_bot.services.drivers.profile(user.id).language == "en"
    later = await running_bot.ask(user, "/start")  # Telegram still says "ar": the stored choice wins
    assert later.text == greeting(en)


async def test_language_follows_telegrams_language_code_with_arabic_by_default(
    running_bot: RunningBot,
) -> None:
    codes = {"en-US": "en", "en": "en", "ar-SA": "ar", "fr": "ar", None: "ar"}
    for user_id, (code, lang) in enumerate(codes.items(), start=310):
        tr = get_translator(lang)
        answer = await running_bot.ask(FakeUser(user_id, language_code=code), "/start")
        assert answer.text == greeting(tr), code


@LANGS
async def test_radius_is_stored_and_used_for_the_next_location(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(304, language_code=lang)

    answer = await running_bot.ask(user, "/radius 2")

    assert answer.text == tr.t("radius.set", radius=tr.distance(2_000))
    assert running_bot.services.drivers.profile(user.id).radius_m == 2_000
    nearby = await running_bot.send_location(user, *KINGDOM_CENTRE)
    expected = closures_near(*KINGDOM_CENTRE, 2_000)
    assert (
        header(nearby.text or "")
        == f"<b>{tr.n('results.header', len(expected), radius=tr.distance(2_000))}</b>"
    )
    assert len(listed(nearby.text or "")) == len(expected) < len(closures_near(*KINGDOM_CENTRE, 5_000))
    if lang == "ar":
        assert_arabic_numerals(answer.text or "")


@LANGS
async def test_radius_out_of_bounds_or_unreadable_is_refused_and_alone_explained(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(305, language_code=lang)
    refusal = tr.t("radius.out_of_bounds", min=tr.distance(100), max=tr.distance(50_000))

    for typed in ("0", "999km", "abc", "60", "50001"):
        assert (await running_bot.ask(user, f"/radius {typed}")).text == refusal, typed
    usage = await running_bot.ask(user, "/radius")  # alone: the current radius and how to change it

    assert usage.text == tr.t("radius.usage", radius=tr.distance(5_000))
    assert running_bot.services.drivers.profile(user.id).radius_m is None
    if lang == "ar":
        assert_arabic_numerals(refusal)
        assert_arabic_numerals(usage.text or "")


async def test_bare_radius_numbers_below_100_are_km_and_from_100_metres(running_bot: RunningBot) -> None:
    """``/radius 999`` is 999 m (within bounds), not 999 km: the bot reads bare numbers under 100 as km."""
    user = FakeUser(307, language_code="en")
    for typed, metres in (("999", 999), ("3000", 3_000), ("7", 7_000), ("2.5km", 2_500), ("800m", 800)):
        await running_bot.ask(user, f"/radius {typed}")
        assert running_bot.services.drivers.profile(user.id).radius_m == metres, typed
