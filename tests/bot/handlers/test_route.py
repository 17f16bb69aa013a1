"""Routes: ``/route`` or two points within ten minutes → the closures along the line, in order, by km.

Positions along the route are our own: the straight route and each closure put on an azimuthal-equidistant
frame centred on the start, where the route first touches the closure (or passes closest to it) measured
from the start; the route's length is the geodesic one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import shapely
from shapely.geometry import LineString, Point
from shapely.ops import nearest_points

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import (
    GEOD,
    SAMPLES,
    LocalFrame,
    Sample,
    assert_arabic_numerals,
    buttons,
    header,
    listed,
    press,
)

# Southern end of Olaya towards the north-east: it crosses Tahlia St, King Fahd Rd and Olaya St.
START = (24.6924, 46.6733)
DESTINATION = (24.7167, 46.6897)
# Across the flooded Khurais Rd underpasses, a full closure active now.
FLOODED_START = (24.7300, 46.7600)
FLOODED_DESTINATION = (24.7350, 46.7900)
CORRIDOR_M = 200.0
LANGS = pytest.mark.parametrize("lang", ["ar", "en"])


@dataclass(frozen=True)
class OnRoute:
    sample: Sample
    position_m: float
    distance_m: float


def closures_along(start: tuple[float, float], end: tuple[float, float]) -> list[OnRoute]:
    """Sample closures within the corridor of the straight route, in the order the driver meets them."""
    frame = LocalFrame(*start)
    route = frame.metres(LineString([start[::-1], end[::-1]]))
    out = []
    for sample in SAMPLES:
        if not sample.relevant(0):
            continue
        closure = frame.metres(sample.geometry)
        distance = max(0.0, route.distance(closure) - sample.radius_m)
        if distance > CORRIDOR_M:
            continue
        contact = route.intersection(closure)
        if contact.is_empty:
            position = route.project(nearest_points(route, closure)[0])
        else:
            position = min(route.project(Point(xy)) for xy in shapely.get_coordinates(contact))
        out.append(OnRoute(sample, position, distance))
    return sorted(out, key=lambda r: r.position_m)


def route_length(start: tuple[float, float], end: tuple[float, float]) -> float:
    return float(GEOD.inv(start[1], start[0], end[1], end[0])[2])


async def ask_route(
    bot: RunningBot, user: FakeUser, start: tuple[float, float], end: tuple[float, float]
) -> ApiCall:
    """``/route``, the start, the destination: the bot asks for each in turn, then answers the route."""
    tr = get_translator(user.language_code or "ar")
    assert (await bot.ask(user, "/route")).text == tr.t("route.ask_start")
    assert (await bot.send_location(user, *start)).text == tr.t("route.ask_destination")
    return await bot.send_location(user, *end)


@LANGS
async def test_route_lists_closures_in_order_at_their_km(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(202, language_code=lang)
    expected = closures_along(START, DESTINATION)
    assert len(expected) >= 3

    answer = await ask_route(running_bot, user, START, DESTINATION)

    text = answer.text or ""
    length = tr.distance(route_length(START, DESTINATION))
    assert header(text) == f"<b>{tr.n('route.header', len(expected), length=length)}</b>"
    shown = listed(text)
    assert [item.title for item in shown] == [r.sample.title(lang) for r in expected]
    for item, on_route in zip(shown, expected, strict=True):
        assert item.where == tr.t("closure.at_km", km=tr.number(on_route.position_m / 1000, 1))
    assert text.endswith("\n\n" + tr.t("route.approximate"))
    assert tr.t("route.blocked") not in text  # the full closures on it have not started yet
    assert buttons(answer) == [(tr.t("button.save_route"), "save:route")]
    if lang == "ar":
        assert_arabic_numerals(text)


@LANGS
async def test_a_full_closure_active_on_the_route_blocks_it(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(203, language_code=lang)
    expected = closures_along(FLOODED_START, FLOODED_DESTINATION)
    assert [(r.sample.ref, r.distance_m) for r in expected] == [("riyadh-022", 0.0)]

    answer = await ask_route(running_bot, user, FLOODED_START, FLOODED_DESTINATION)

    lines = (answer.text or "").split("\n\n")
    assert lines[1] == tr.t("route.blocked")
    assert [item.where for item in listed(answer.text or "")] == [
        tr.t("closure.at_km", km=tr.number(expected[0].position_m / 1000, 1))
    ]


async def test_two_locations_within_ten_minutes_make_a_route(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(204, language_code="en")
    first = await running_bot.send_location(user, *START)
    assert header(first.text or "").endswith(f" {en.distance(5_000)}:</b>")  # a nearby answer first

    running_bot.clock.advance(timedelta(minutes=10))
    second = await running_bot.send_location(user, *DESTINATION)

    length = en.distance(route_length(START, DESTINATION))
    expected = closures_along(START, DESTINATION)
    assert header(second.text or "") == f"<b>{en.n('route.header', len(expected), length=length)}</b>"


async def test_two_locations_eleven_minutes_apart_get_two_nearby_answers(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(205, language_code="en")
    await running_bot.send_location(user, *START)

    running_bot.clock.advance(timedelta(minutes=11))
    second = await running_bot.send_location(user, *DESTINATION)

    assert header(second.text or "").endswith(f" {en.distance(5_000)}:</b>")  # "N closures within 5.0 km:"
    assert en.t("route.approximate") not in (second.text or "")


async def test_saving_a_route_stores_it_under_a_name(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(206, language_code="en")
    answer = await ask_route(running_bot, user, START, DESTINATION)

    assert (await press(running_bot, user, answer, "save:route")).text == en.t("places.ask_name")
    assert (await running_bot.ask(user, "Commute")).text == en.t("places.saved", name="Commute")
    listing = await running_bot.ask(user, "/places")

    assert listing.text == "\n".join(
        [en.t("places.header"), "• " + en.t("places.item_route", name="Commute")]
    )
    (place,) = running_bot.services.drivers.places(user.id)
    assert (place.name, place.kind) == ("Commute", "route")
    assert list(place.geometry.coords) == [START[::-1], DESTINATION[::-1]]
