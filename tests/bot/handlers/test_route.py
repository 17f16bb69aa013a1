"""Routes: ``/route`` or two points within ten minutes → the closures along the line, in order, by km.

Positions along the route are our own: the straight route and each closure put on an azimuthal-equidistant
frame centred on the start, where the route first touches the closure (or passes closest to it) measured
from the start; the route's length is the geodesic one.
"""

from __future__ import annotations

import re
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
    ISOLATES,
    SAMPLES,
    Listed,
    LocalFrame,
    Sample,
    assert_arabic_numerals,
    buttons,
    closures_near,
    header,
    in_force_first,
    press,
    summary_line,
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


def listed(text: str) -> list[Listed]:
    """The numbered closures of a route answer: title, then "reason · at km N", then the details."""
    out = []
    for block in text.split("\n\n"):
        match = re.fullmatch(r"(\S+)\. <b>(.+?)</b>\n[^\n]* · ([^\n]+)\n(.*)", block, re.S)
        if match:
            out.append(Listed(match[1], match[2].translate(ISOLATES), match[3], block))
    return out


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
    # the map buttons stay: a pin per closure listed, numbered as listed, then "save"
    pins = [
        (f"{tr.number(i + 1)}. {tr.t('button.map')}", data)
        for i, (_, data) in enumerate(buttons(answer)[:-1])
    ]
    assert buttons(answer)[:-1] == pins
    assert len(pins) == len(shown)
    assert all(data.startswith("pin:") for _, data in pins)
    assert buttons(answer)[-1] == (tr.t("button.save_route"), "save:route")
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


@LANGS
async def test_a_second_location_answers_near_me_and_offers_the_route_from_the_first(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(204, language_code=lang)
    first = await running_bot.send_location(user, *START)
    assert not any(data.startswith("rp:") for _, data in buttons(first))  # nothing to route from yet

    running_bot.clock.advance(timedelta(minutes=10))
    second = await running_bot.send_location(user, *DESTINATION)

    assert tr.t("route.approximate") not in (second.text or "")  # what is near the driver, not a route
    assert header(second.text or "") in summary_line(
        tr, in_force_first(closures_near(*DESTINATION, 5_000)), 5_000
    )
    offer = [(text, data) for text, data in buttons(second) if data.startswith("rp:")]
    assert [text for text, _ in offer] == [tr.t("button.route_previous")]

    route = await press(running_bot, user, second, offer[0][1])

    length = tr.distance(route_length(START, DESTINATION))
    expected = closures_along(START, DESTINATION)
    assert header(route.text or "") == f"<b>{tr.n('route.header', len(expected), length=length)}</b>"
    assert [item.title for item in listed(route.text or "")] == [r.sample.title(lang) for r in expected]
    assert any(data.startswith("pin:") for _, data in buttons(route))


async def test_the_route_button_works_in_another_process_of_the_bot(running_bot: RunningBot) -> None:
    """The points travel in the button: a process that never saw the first point answers the tap."""
    en = get_translator("en")
    user = FakeUser(207, language_code="en")
    await running_bot.send_location(user, *START)
    second = await running_bot.send_location(user, *DESTINATION)
    (data,) = [data for _, data in buttons(second) if data.startswith("rp:")]
    running_bot.app.user_data[user.id].clear()  # as a fresh process would have it: nothing in memory

    route = await press(running_bot, user, second, data)

    expected = closures_along(START, DESTINATION)
    length = en.distance(route_length(START, DESTINATION))
    assert header(route.text or "") == f"<b>{en.n('route.header', len(expected), length=length)}</b>"


async def test_a_location_eleven_minutes_later_offers_no_route(running_bot: RunningBot) -> None:
    user = FakeUser(205, language_code="en")
    await running_bot.send_location(user, *START)

    running_bot.clock.advance(timedelta(minutes=11))
    second = await running_bot.send_location(user, *DESTINATION)

    assert not any(data.startswith("rp:") for _, data in buttons(second))


async def test_saving_a_route_stores_it_under_a_name(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(206, language_code="en")
    answer = await ask_route(running_bot, user, START, DESTINATION)

    assert (await press(running_bot, user, answer, "save:route")).text == en.t("places.ask_route_name")
    assert (await running_bot.ask(user, "Commute")).text == en.t("places.saved", name="Commute")
    listing = await running_bot.ask(user, "/places")

    assert listing.text == "\n".join(
        [en.t("places.header"), "• " + en.t("places.item_route", name="Commute")]
    )
    (place,) = running_bot.services.drivers.places(user.id)
    assert (place.name, place.kind) == ("Commute", "route")
    assert list(place.geometry.coords) == [START[::-1], DESTINATION[::-1]]
