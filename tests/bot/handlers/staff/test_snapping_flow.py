"""An operator's tapped points along a road, with a road router configured (a local OSRM stand-in)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shapely
from shapely.geometry import LineString

from bot.i18n import get_translator
from bot.localapi import FakeUser
from geo.osrm import OsrmHttp
from geo.routing import FallbackRouter
from tests.bot.handlers.staff.conftest import KING_FAHD, RIYADH, RIYADH_EN, StaffBot
from tests.fakes.routing import RoutingServer, bent_line

TAPS = [(lon, lat) for lat, lon in KING_FAHD]


@pytest.fixture
def roads(staff_bot: StaffBot) -> Iterator[RoutingServer]:
    with RoutingServer().running() as server:
        router = FallbackRouter(OsrmHttp(server.url))
        staff_bot.services.router = router
        yield server
        router.close()


async def draw_line(bot: StaffBot, user: FakeUser) -> list[str]:
    """/new, the two taps, "Done": the texts the bot sends after "Done", up to the reason question."""
    tr = get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    for lat, lon in KING_FAHD:
        more = await bot.send_location(user, lat, lon)
    since = len(bot.api.calls)
    bot.api.user_presses_button(user, more, "sg:line")
    await bot.api.wait_for(lambda c: c.text == tr.t("staff.ask.reason"), since=since)
    return [c.text or "" for c in bot.api.calls[since:] if c.method == "sendMessage"]


async def test_tapped_points_follow_the_road_the_router_finds(
    staff_bot: StaffBot, roads: RoutingServer
) -> None:
    tr = get_translator("en")

    texts = await draw_line(staff_bot, RIYADH_EN)

    assert texts == [tr.t("staff.ask.reason")]
    preview = await staff_bot.to_preview(RIYADH_EN, staff_bot.api.calls[-1])
    await staff_bot.press(RIYADH_EN, preview, "sv:confirm")
    stored = shapely.from_geojson(staff_bot.newest().geometry_geojson)
    assert stored.equals_exact(LineString(bent_line(*TAPS)), 1e-6)


@pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])
async def test_a_road_far_longer_than_the_taps_is_refused_and_the_operator_told(
    staff_bot: StaffBot, roads: RoutingServer, user: FakeUser
) -> None:
    tr = get_translator(user.language_code or "ar")
    roads.bend_deg = 0.02  # about 2 km east and back for taps about 1.2 km apart

    texts = await draw_line(staff_bot, user)

    assert texts == [tr.t("staff.points.kept_straight"), tr.t("staff.ask.reason")]
    preview = await staff_bot.to_preview(user, staff_bot.api.calls[-1])
    await staff_bot.press(user, preview, "sv:confirm")
    stored = shapely.from_geojson(staff_bot.newest().geometry_geojson)
    assert stored.equals_exact(LineString(TAPS), 0)
