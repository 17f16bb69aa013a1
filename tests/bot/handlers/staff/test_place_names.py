"""``/new`` with a geocoder (a local Nominatim on 127.0.0.1): a typed place name inside the operator's
municipality becomes the closure's point, and the proposed titles name the street the closure is on, in
Arabic and English, from reverse geocoding its geometry."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from shapely.geometry import Point

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from tests.bot.handlers.staff.conftest import (
    ADMIN,
    BESIDE,
    JEDDAH,
    KING_FAHD,
    RIYADH,
    RIYADH_EN,
    TYPED_TITLE,
    StaffBot,
)
from tests.fakes.nominatim import GAZETTEER, GeocodingServer, bot_geocoder_settings

ROAD = next(e for e in GAZETTEER if e.name_en == "King Fahd Road")
TAHLIA_RIYADH, TAHLIA_JEDDAH = (e for e in GAZETTEER if e.name_en == "Tahlia Street")


@pytest.fixture
def bot_overrides(geocoding_server: GeocodingServer) -> dict[str, Any]:
    """The bot's geocoder is the local Nominatim."""
    return bot_geocoder_settings(geocoding_server)


async def say_for(bot: StaffBot, user: FakeUser, text: str, count: int) -> list[ApiCall]:
    since = len(bot.api.calls)
    bot.api.user_sends_text(user, text)
    return await bot.api.wait_for_count(
        lambda c: c.method == "sendMessage" and c.chat_id == user.id, count, since=since
    )


def use_button(call: ApiCall) -> str:
    return str(call.params["reply_markup"]["inline_keyboard"][0][0]["text"])


@pytest.mark.parametrize(
    ("user", "typed"), [(RIYADH, "طريق الملك فهد"), (RIYADH_EN, "King Fahd Road")], ids=["ar", "en"]
)
async def test_a_place_name_is_the_closures_point_and_the_titles_name_its_street(
    staff_bot: StaffBot, geocoding_server: GeocodingServer, user: FakeUser, typed: str
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    lang = user.language_code or "ar"
    question = await bot.say(user, "/new")
    assert question.text == f"{tr.t('staff.ask.geometry')}\n\n{tr.t('staff.ask.place_name')}"

    found, radius = await say_for(bot, user, typed, 2)

    assert found.text == tr.t("geocode.found", name=ROAD.display_name(lang))
    assert radius.text == tr.t("staff.ask.radius")
    search = geocoding_server.searches()[0].params
    assert search["bounded"] == "1"  # only inside the operator's municipality (Riyadh)
    riyadh = next(
        b
        for b in bot.services.municipality_boxes().values()
        if b[0] <= ROAD.lon <= b[2] and b[1] <= ROAD.lat <= b[3]
    )
    assert [float(v) for v in search["viewbox"].split(",")] == pytest.approx(list(riyadh))

    answer = await bot.press(user, radius, "sg:r:100")
    for data in ("sr:roadworks", "ss:full", "sd:both", "st:now"):
        answer = await bot.press(user, answer, data)
    answer = await bot.say(user, "3h")
    title_ar = await bot.press(user, answer, "sx:skip")
    assert title_ar.text == tr.t("staff.ask.title_ar")
    assert use_button(title_ar) == tr.t("staff.button.use", title="أعمال طرق في طريق الملك فهد")
    title_en = await bot.press(user, title_ar, "ta:use")
    assert use_button(title_en) == tr.t("staff.button.use", title="Roadworks on King Fahd Road")
    preview = await bot.press(user, title_en, "te:use")
    await bot.press(user, preview, "sv:confirm")

    closure = bot.newest()
    assert shapely.from_geojson(closure.geometry_geojson).equals(Point(ROAD.lon, ROAD.lat))
    assert (closure.kind, closure.radius_m) == ("point", 100.0)
    assert (closure.title_ar, closure.title_en) == (
        "أعمال طرق في طريق الملك فهد",
        "Roadworks on King Fahd Road",
    )
    assert sorted(r.params["accept-language"] for r in geocoding_server.reverses()) == ["ar", "en"]


async def test_a_line_of_shared_locations_gets_the_street_at_its_middle(
    staff_bot: StaffBot, geocoding_server: GeocodingServer
) -> None:
    bot = staff_bot
    await bot.say(RIYADH_EN, "/new")
    await bot.send_location(RIYADH_EN, *KING_FAHD[0])
    done = await bot.send_location(RIYADH_EN, *KING_FAHD[1])
    reason = await bot.press(RIYADH_EN, done, "sg:line")
    preview = await bot.to_preview(RIYADH_EN, reason)  # takes the proposed Arabic title, skips the English

    middle = [(float(r.params["lat"]), float(r.params["lon"])) for r in geocoding_server.reverses()]
    halfway = ((KING_FAHD[0][0] + KING_FAHD[1][0]) / 2, (KING_FAHD[0][1] + KING_FAHD[1][1]) / 2)
    assert middle == [pytest.approx(halfway), pytest.approx(halfway)]
    await bot.press(RIYADH_EN, preview, "sv:confirm")
    assert bot.newest().title_ar == "أعمال طرق في طريق الملك فهد"


async def test_a_name_outside_the_operators_municipality_is_not_found(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    await bot.say(JEDDAH, "/new")
    answer = await bot.say(JEDDAH, "طريق الملك فهد")  # in Riyadh; this operator works in Jeddah
    assert answer.text == tr.t("geocode.not_found", query="طريق الملك فهد")
    assert (await bot.send_location(JEDDAH, TAHLIA_JEDDAH.lat, TAHLIA_JEDDAH.lon)).text == tr.t(
        "staff.ask.radius"
    )


async def test_an_admin_of_every_city_picks_among_the_places_of_that_name(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    await bot.say(ADMIN, "/new")
    choose = await bot.say(ADMIN, "شارع التحلية")
    assert choose.text == tr.t("geocode.choose")
    rows = choose.params["reply_markup"]["inline_keyboard"]
    assert [(r[0]["text"], r[0]["callback_data"]) for r in rows] == [
        (TAHLIA_RIYADH.display_name("ar"), "sg:p:0"),
        (TAHLIA_JEDDAH.display_name("ar"), "sg:p:1"),
    ]
    since = len(bot.api.calls)
    bot.api.user_presses_button(ADMIN, choose, "sg:p:1")
    found, radius = await bot.api.wait_for_count(
        lambda c: c.method == "sendMessage" and c.chat_id == ADMIN.id, 2, since=since
    )
    assert found.text == tr.t("geocode.found", name=TAHLIA_JEDDAH.display_name("ar"))
    preview = await bot.to_preview(ADMIN, await bot.press(ADMIN, radius, "sg:r:50"))
    await bot.press(ADMIN, preview, "sv:confirm")
    closure = bot.newest()
    assert shapely.from_geojson(closure.geometry_geojson).equals(Point(TAHLIA_JEDDAH.lon, TAHLIA_JEDDAH.lat))
    assert closure.title_ar == "أعمال طرق في شارع التحلية"


@pytest.mark.parametrize(
    ("mode", "key"), [("error", "geocode.unavailable"), ("rate_limited", "geocode.busy")]
)
async def test_a_failing_geocoder_leaves_the_operator_at_the_place_question(
    staff_bot: StaffBot, geocoding_server: GeocodingServer, mode: str, key: str
) -> None:
    bot, tr = staff_bot, get_translator("en")
    await bot.say(RIYADH_EN, "/new")
    geocoding_server.mode = mode
    assert (await bot.say(RIYADH_EN, "King Fahd Road")).text == tr.t(key)
    radius = await bot.send_location(RIYADH_EN, *BESIDE)  # a location still works
    assert radius.text == tr.t("staff.ask.radius")
    reason = await bot.press(RIYADH_EN, radius, "sg:r:50")  # and reverse geocoding fails quietly
    preview = await bot.to_preview(RIYADH_EN, reason)
    await bot.press(RIYADH_EN, preview, "sv:confirm")
    assert bot.newest().title_ar == TYPED_TITLE  # no street, so no proposal: the operator typed one


@pytest.mark.parametrize(
    "text", ["NaN, NaN", "-inf", "1e999, 46.6753", "https://www.google.com/maps/search/x"]
)
async def test_text_meant_as_a_location_is_judged_not_looked_up(
    staff_bot: StaffBot, geocoding_server: GeocodingServer, text: str
) -> None:
    bot, tr = staff_bot, get_translator("en")
    await bot.say(RIYADH_EN, "/new")

    answer = await bot.say(RIYADH_EN, text)

    assert not (answer.text or "").startswith(tr.t("geocode.found", name=""))
    assert geocoding_server.searches() == []
