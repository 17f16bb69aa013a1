"""A driver types a place name: the real bot looks it up on a local Nominatim (127.0.0.1) and answers as for a
sent location. The reference answers are the bot's own answers to the gazetteer's coordinates sent as a
location by another driver, and those are checked against geodesic distances in ``test_nearby``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import KINGDOM_CENTRE, buttons, listed
from tests.bot.handlers.test_route import ask_route
from tests.fakes.nominatim import GAZETTEER, Entry, GeocodingServer, bot_geocoder_settings

LANGS = pytest.mark.parametrize("lang", ["ar", "en"])
MALAZ = next(e for e in GAZETTEER if e.name_en == "Al Malaz")
KINGDOM = next(e for e in GAZETTEER if e.name_en == "Kingdom Centre")
TAHLIA_RIYADH, TAHLIA_JEDDAH = (e for e in GAZETTEER if e.name_en == "Tahlia Street")


@pytest.fixture
def bot_overrides(geocoding_server: GeocodingServer) -> dict[str, Any]:
    """The bot's geocoder is the local Nominatim."""
    return bot_geocoder_settings(geocoding_server)


async def say(bot: RunningBot, user: FakeUser, text: str, count: int = 1) -> list[ApiCall]:
    """The user types ``text``; the bot's next ``count`` messages to them."""
    since = len(bot.api.calls)
    bot.api.user_sends_text(user, text)
    return await bot.api.wait_for_count(
        lambda c: c.method == "sendMessage" and c.chat_id == user.id, count, since=since
    )


async def press_for(
    bot: RunningBot, user: FakeUser, message: ApiCall, data: str, count: int
) -> list[ApiCall]:
    since = len(bot.api.calls)
    bot.api.user_presses_button(user, message, data)
    return await bot.api.wait_for_count(
        lambda c: c.method == "sendMessage" and c.chat_id == user.id, count, since=since
    )


async def answer_at(bot: RunningBot, entry: Entry, lang: str, user_id: int) -> ApiCall:
    """What another driver hears for a location sent at the entry's point."""
    return await bot.send_location(FakeUser(user_id, language_code=lang), entry.lat, entry.lon)


@pytest.mark.parametrize(("lang", "typed"), [("ar", "برج المملكة"), ("en", "Kingdom Centre")])
async def test_a_place_name_gets_the_closures_near_it(
    running_bot: RunningBot, geocoding_server: GeocodingServer, lang: str, typed: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(701, language_code=lang)
    assert (KINGDOM.lat, KINGDOM.lon) == KINGDOM_CENTRE

    found, nearby = await say(running_bot, user, typed, count=2)

    assert found.text == tr.t("geocode.found", name=KINGDOM.display_name(lang))
    reference = await answer_at(running_bot, KINGDOM, lang, 702)
    assert nearby.text == reference.text
    assert len(listed(nearby.text or "")) >= 3
    assert buttons(nearby)[0][1].startswith("i:")  # the first closure's detail button
    (request,) = geocoding_server.searches()  # the driver's language, Saudi Arabia, leaning to our cities
    assert (request.params["q"], request.params["accept-language"], request.params["countrycodes"]) == (
        typed,
        lang,
        "sa",
    )
    areas = running_bot.services.municipality_boxes().values()
    covered = [
        min(a[0] for a in areas),
        min(a[1] for a in areas),
        max(a[2] for a in areas),
        max(a[3] for a in areas),
    ]
    assert [float(v) for v in request.params["viewbox"].split(",")] == pytest.approx(covered)


async def test_the_search_is_biased_to_the_city_of_the_drivers_last_location(
    running_bot: RunningBot, geocoding_server: GeocodingServer
) -> None:
    tr = get_translator("en")
    user = FakeUser(703, language_code="en")
    await running_bot.send_location(user, TAHLIA_JEDDAH.lat + 0.02, TAHLIA_JEDDAH.lon)  # in Jeddah
    running_bot.clock.advance(timedelta(minutes=11))  # long enough that a new point is not a route's end

    (choose,) = await say(running_bot, user, "Tahlia Street")

    assert choose.text == tr.t("geocode.choose")
    assert [text.split(", ")[2] for text, _ in buttons(choose)] == ["Jeddah", "Riyadh"]
    request = geocoding_server.searches()[-1].params
    jeddah = next(
        box
        for box in running_bot.services.municipality_boxes().values()
        if box[0] <= TAHLIA_JEDDAH.lon <= box[2] and box[1] <= TAHLIA_JEDDAH.lat <= box[3]
    )
    assert [float(v) for v in request["viewbox"].split(",")] == pytest.approx(list(jeddah))
    assert "bounded" not in request
    assert (request["countrycodes"], request["accept-language"]) == ("sa", "en")


@LANGS
async def test_an_ambiguous_name_offers_buttons_and_a_pick_answers_for_that_place(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(704, language_code=lang)

    (choose,) = await say(running_bot, user, "شارع التحلية" if lang == "ar" else "Tahlia Street")

    assert choose.text == tr.t("geocode.choose")
    assert buttons(choose) == [
        (TAHLIA_RIYADH.display_name(lang), "gp:0"),
        (TAHLIA_JEDDAH.display_name(lang), "gp:1"),
    ]
    found, nearby = await press_for(running_bot, user, choose, "gp:0", 2)
    assert found.text == tr.t("geocode.found", name=TAHLIA_RIYADH.display_name(lang))
    assert nearby.text == (await answer_at(running_bot, TAHLIA_RIYADH, lang, 705)).text


@LANGS
async def test_an_unknown_name_is_said_to_be_not_found(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(706, language_code=lang)
    (answer,) = await say(running_bot, user, "Atlantis & Co")  # (markup is refused before any search)
    assert answer.text == tr.t("geocode.not_found", query="Atlantis &amp; Co")


@pytest.mark.parametrize(
    ("mode", "key"),
    [("error", "geocode.unavailable"), ("garbage", "geocode.unavailable"), ("rate_limited", "geocode.busy")],
)
@LANGS
async def test_a_geocoder_failure_is_explained_and_locations_still_work(
    running_bot: RunningBot, geocoding_server: GeocodingServer, lang: str, mode: str, key: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(707, language_code=lang)
    geocoding_server.mode = mode

    (answer,) = await say(running_bot, user, "Kingdom Centre")

    assert answer.text == tr.t(key)
    nearby = await running_bot.send_location(user, *KINGDOM_CENTRE)
    assert nearby.text == (await answer_at(running_bot, KINGDOM, lang, 708)).text


async def test_a_geocoder_that_does_not_answer_in_time_is_explained(
    running_bot: RunningBot, geocoding_server: GeocodingServer
) -> None:
    tr = get_translator("ar")
    user = FakeUser(709, language_code="ar")
    geocoding_server.mode = "hold"
    try:
        (answer,) = await say(running_bot, user, "برج المملكة")
        assert answer.text == tr.t("geocode.timeout")
        assert geocoding_server.held.is_set()
    finally:
        geocoding_server.release.set()
    geocoding_server.mode = "ok"
    found, _ = await say(running_bot, user, "برج المملكة", count=2)  # and it works again
    assert found.text == tr.t("geocode.found", name=KINGDOM.display_name("ar"))


async def test_a_cached_name_is_not_asked_again(
    running_bot: RunningBot, geocoding_server: GeocodingServer
) -> None:
    await say(running_bot, FakeUser(710, language_code="en"), "Al Malaz", count=2)
    await say(running_bot, FakeUser(711, language_code="en"), "al malaz", count=2)
    assert len(geocoding_server.searches()) == 1


@LANGS
async def test_route_between_two_place_names(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(712, language_code=lang)
    start, end = (KINGDOM.name(lang), MALAZ.name(lang))

    assert (await running_bot.ask(user, "/route")).text == tr.t("route.ask_start")
    found, ask = await say(running_bot, user, start, count=2)
    assert found.text == tr.t("geocode.found", name=KINGDOM.display_name(lang))
    assert ask.text == tr.t("route.ask_destination")
    found, route = await say(running_bot, user, end, count=2)
    assert found.text == tr.t("geocode.found", name=MALAZ.display_name(lang))

    other = FakeUser(713, language_code=lang)
    reference = await ask_route(running_bot, other, (KINGDOM.lat, KINGDOM.lon), (MALAZ.lat, MALAZ.lon))
    assert route.text == reference.text
    assert tr.t("button.save_route") in [text for text, _ in buttons(route)]


async def test_a_route_start_picked_among_several_places_asks_for_the_destination(
    running_bot: RunningBot,
) -> None:
    tr = get_translator("en")
    user = FakeUser(714, language_code="en")
    await running_bot.ask(user, "/route")

    (choose,) = await say(running_bot, user, "Tahlia Street")
    found, ask = await press_for(running_bot, user, choose, "gp:0", 2)

    assert found.text == tr.t("geocode.found", name=TAHLIA_RIYADH.display_name("en"))
    assert ask.text == tr.t("route.ask_destination")
    found, route = await say(running_bot, user, "Al Malaz", count=2)
    reference = await ask_route(
        running_bot,
        FakeUser(715, language_code="en"),
        (TAHLIA_RIYADH.lat, TAHLIA_RIYADH.lon),
        (MALAZ.lat, MALAZ.lon),
    )
    assert route.text == reference.text
