"""What a driver types as a location gets the precise reason staff get, and never reaches the geocoder;
short map links are followed (to a local stand-in of the providers' short hosts) or explained.

The bot runs with a real geocoder, the local Nominatim, which records every search: the proof that no
coordinate-looking text was sent to it is its empty log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.i18n import get_translator
from bot.localapi import FakeUser
from bot.services.throttle import FloodControl
from bot.text.wording import geometry_problem
from geo.errors import GeometryError
from geo.parse import parse_geometry
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import KINGDOM_CENTRE, buttons, press
from tests.fakes.nominatim import GeocodingServer, bot_geocoder_settings
from tests.fakes.shortlinks import ShortLinkServer

LANGS = pytest.mark.parametrize("lang", ["ar", "en"])
SQUARE = "POLYGON ((46.6 24.7, 46.7 24.7, 46.7 24.8, 46.6 24.8{close}))"
ADVERSARIAL = [
    "NaN, NaN",
    "1e999, 46.6753",
    "-inf",
    "95.5, 46.6",
    '{"type": "Point", "coordinates": [24.7136, 46.6753]}',  # GeoJSON with lat and lon swapped
    "POLYGON ((46.6 24.7, 46.7 24.8, 46.7 24.7, 46.6 24.8, 46.6 24.7))",  # a bow-tie
    SQUARE.format(close=""),  # a ring that does not close
    SQUARE.format(close=", 46.6 24.7").replace("46.7", "56.7").replace("24.8", "34.8"),  # country-size
    '{"type": "Point", "coordinates": [NaN, 24.7]}',
    "LINESTRING (46.6 24.7, 46.7",
]


@pytest.fixture
def short_links() -> Iterator[ShortLinkServer]:
    with ShortLinkServer().running() as server:
        yield server


@pytest.fixture(autouse=True)
def flood_on_the_test_clock(running_bot: RunningBot) -> None:
    clock = running_bot.clock
    running_bot.services.flood = FloodControl(clock=lambda: clock().timestamp())


@pytest.fixture
def bot_overrides(geocoding_server: GeocodingServer, short_links: ShortLinkServer) -> dict[str, Any]:
    return {
        **bot_geocoder_settings(geocoding_server),
        "short_link_base_url": short_links.url_for(),
        "short_link_timeout_s": 1.0,
    }


def staff_sentence(text: str, lang: str, bot: RunningBot) -> str:
    """What the same text gets in ``/new`` (parsed against the covered area, as for the driver)."""
    import shapely

    covered = shapely.union_all([shapely.box(*b) for b in bot.services.municipality_boxes().values()])
    with pytest.raises(GeometryError) as caught:
        parse_geometry(text, boundary=covered, limits=bot.services.closures.limits)
    return geometry_problem(caught.value, get_translator(lang))


@LANGS
async def test_coordinate_like_text_gets_the_precise_reason_and_never_reaches_the_geocoder(
    running_bot: RunningBot, geocoding_server: GeocodingServer, lang: str
) -> None:
    user = FakeUser(801, language_code=lang)
    for text in ADVERSARIAL:
        running_bot.clock.advance(timedelta(seconds=10))  # a person typing, not a flood
        answer = await running_bot.ask(user, text)
        assert answer.text == staff_sentence(text, lang, running_bot), text
        assert "Exception" not in (answer.text or "")
    assert geocoding_server.searches() == []


@LANGS
async def test_a_swapped_pair_asks_did_you_mean_and_offers_the_point(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(802, language_code=lang)
    lat, lon = KINGDOM_CENTRE

    answer = await running_bot.ask(user, f"{lon}, {lat}")

    assert answer.text == tr.t("geo.probably_swapped_point", point=tr.coordinates(lat, lon))
    ((label, data),) = buttons(answer)
    assert label == tr.t("button.use_point", point=tr.coordinates(lat, lon))
    reference = await running_bot.send_location(FakeUser(803, language_code=lang), lat, lon)
    used = await press(running_bot, user, answer, data)
    assert used.text == reference.text


@LANGS
async def test_markup_and_code_are_not_looked_up_as_places(
    running_bot: RunningBot, geocoding_server: GeocodingServer, lang: str
) -> None:
    user = FakeUser(804, language_code=lang)
    for text in ("<b>Olaya</b>", "'; DROP TABLE closure; --", "x' OR 1=1 --"):
        assert (await running_bot.ask(user, text)).text == get_translator(lang).t("input.not_a_place")
    assert geocoding_server.searches() == []


@LANGS
async def test_a_line_is_answered_with_how_to_send_one_location(running_bot: RunningBot, lang: str) -> None:
    user = FakeUser(805, language_code=lang)
    line = json.dumps({"type": "LineString", "coordinates": [[46.67, 24.71], [46.68, 24.72]]})
    assert (await running_bot.ask(user, line)).text == get_translator(lang).t("input.point_only")


@LANGS
@pytest.mark.parametrize(
    "link", ["https://maps.app.goo.gl/kingdom", "Kingdom Centre\nhttps://goo.gl/maps/hop"]
)
async def test_a_short_map_link_is_followed_to_its_place(
    running_bot: RunningBot, geocoding_server: GeocodingServer, lang: str, link: str
) -> None:
    user = FakeUser(806, language_code=lang)
    reference = await running_bot.send_location(FakeUser(807, language_code=lang), *KINGDOM_CENTRE)

    answer = await running_bot.ask(user, link)

    assert answer.text == reference.text
    assert geocoding_server.searches() == []


@LANGS
@pytest.mark.parametrize(
    ("link", "key"),
    [("https://maps.app.goo.gl/elsewhere", "link.unresolved"),
     ("https://maps.app.goo.gl/slow", "link.unresolved"),
     ("https://www.google.com/maps/search/some+place", "link.no_coordinates")],
)  # fmt: skip
async def test_a_link_that_cannot_be_read_says_how_to_share_the_location(
    running_bot: RunningBot, short_links: ShortLinkServer, lang: str, link: str, key: str
) -> None:
    user = FakeUser(808, language_code=lang)
    assert (await running_bot.ask(user, link)).text == get_translator(lang).t(key)
    assert all(path != "/internal" for _, path in short_links.requests)
