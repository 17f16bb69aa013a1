"""Bad input in ``/emergency``, through the real Application: an area larger than the municipality is cut and
the operator told by how much; an empty or self-crossing area and an expiry in the past are refused with a
sentence in the operator's language, the question stays, the draft is kept (nothing lost) and nothing is
written or published until a good answer comes. Also: the expiry post, a recipient who blocked the bot,
and which locations are noted for emergencies."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pyproj import Geod
from shapely.geometry import shape

from bot.i18n import get_translator
from bot.localapi import FakeUser
from closures.emergency_models import DriverLocation
from closures.models import Municipality, OutboxItem
from closures.store import session_scope
from tests.bot.handlers.staff.conftest import RIYADH, RIYADH_EN, StaffBot
from tests.bot.handlers.staff.test_emergency import CHANNEL, channel, drain, emergency_settings
from tests.closures.conftest import offset

GEOD = Geod(ellps="WGS84")
bot_overrides = pytest.fixture(emergency_settings, name="bot_overrides")
OLAYA = (46.6800, 24.7000)  # lon, lat


def _square(centre: tuple[float, float], half_m: float) -> str:
    corners = [offset(centre, azimuth, half_m * 2**0.5) for azimuth in (45, 135, 225, 315)]
    return json.dumps({"type": "Polygon", "coordinates": [[*corners, corners[0]]]})


async def _after_area(staff_bot: StaffBot, user: FakeUser, area_text: str):
    question = await staff_bot.say(user, "/emergency")
    assert question.text == get_translator(user.language_code or "ar").t("emergency.ask.area")
    return await staff_bot.say(user, area_text)


async def _to_expiry(staff_bot: StaffBot, user: FakeUser, answer):
    for data in ("eh:flood", "el:warning", "et:headline_ar", "et:headline_en", "et:instruction_ar",
                 "et:instruction_en"):  # fmt: skip
        answer = await staff_bot.press(user, answer, data)
    return answer


def _emergencies(staff_bot: StaffBot) -> int:
    return len(staff_bot.services.emergencies.listing())


async def test_an_area_larger_than_the_municipality_is_cut_and_the_operator_told_by_how_much(staff_bot):
    en = get_translator("en")
    huge = json.dumps({"type": "Polygon", "coordinates": [[[45.85, 23.86], [47.65, 23.86], [47.65, 25.65],
                                                           [45.85, 25.65], [45.85, 23.86]]]})  # fmt: skip

    await staff_bot.say(RIYADH_EN, "/emergency")
    since = len(staff_bot.api.calls)
    staff_bot.api.user_sends_text(RIYADH_EN, huge)
    to_me = lambda c: c.method == "sendMessage" and c.chat_id == RIYADH_EN.id  # noqa: E731
    told, question = await staff_bot.api.wait_for_count(to_me, 2, since=since)

    with session_scope(staff_bot.services.engine) as session:
        riyadh = session.scalars(sa.select(Municipality).where(Municipality.slug == "riyadh")).one()
        boundary = json.loads(riyadh.boundary_geojson)
    inside = abs(GEOD.geometry_area_perimeter(shape(boundary))[0])
    given = abs(GEOD.geometry_area_perimeter(shape(json.loads(huge)))[0])
    percent = f"{round((1 - inside / given) * 100)}%"
    assert told.text == en.t("emergency.area.clipped", percent=percent, municipality="Riyadh Municipality")
    assert question.text == en.t("emergency.ask.hazard")


@pytest.mark.parametrize(
    ("area", "key"),
    [
        ("POLYGON ((46.70 24.70, 46.72 24.72, 46.72 24.70, 46.70 24.72, 46.70 24.70))",
         "geo.self_intersecting"),
        ('{"type": "Polygon", "coordinates": []}', "geo.empty"),
        ('{"type": "Polygon", "coordinates": [[[39.1, 21.5], [39.2, 21.5], [39.2, 21.6], [39.1, 21.5]]]}',
         "emergency.refused.outside_municipality"),
        ("24.7, 46.7", "emergency.refused.not_an_area"),
    ],
)  # fmt: skip
async def test_a_bad_area_is_refused_the_question_stays_and_a_good_one_goes_on(staff_bot, area, key):
    ar = get_translator("ar")
    before = staff_bot.writes()

    refused = await _after_area(staff_bot, RIYADH, area)

    assert refused.text == ar.t(key)
    assert staff_bot.writes() == before
    assert _emergencies(staff_bot) == 0
    good = await staff_bot.say(RIYADH, _square(OLAYA, 800))
    assert good.text == ar.t("emergency.ask.hazard")


async def test_an_expiry_in_the_past_is_refused_and_a_later_one_reaches_the_preview(staff_bot):
    en = get_translator("en")
    answer = await _to_expiry(
        staff_bot, RIYADH_EN, await _after_area(staff_bot, RIYADH_EN, _square(OLAYA, 800))
    )
    assert answer.text == en.t("emergency.ask.expiry")

    refused = await staff_bot.say(RIYADH_EN, "2020-01-01 10:00")

    assert refused.text == en.t("emergency.refused.expiry_in_past")
    assert _emergencies(staff_bot) == 0
    nonsense = await staff_bot.say(RIYADH_EN, "whenever")
    assert nonsense.text == en.t("staff.time.not_time")
    playbooks_or_preview = await staff_bot.say(RIYADH_EN, "4 hours")
    assert en.t("emergency.preview.header") in (playbooks_or_preview.text or "")


async def test_cancel_at_any_step_writes_nothing(staff_bot):
    before = staff_bot.writes()
    answer = await _to_expiry(
        staff_bot, RIYADH_EN, await _after_area(staff_bot, RIYADH_EN, _square(OLAYA, 800))
    )
    preview = await staff_bot.press(RIYADH_EN, answer, "ex:3")
    cancelled = await staff_bot.press(RIYADH_EN, preview, "ev:cancel")
    assert cancelled.text == get_translator("en").t("emergency.cancelled")
    assert staff_bot.writes() == before
    assert _emergencies(staff_bot) == 0


async def test_update_or_end_with_nothing_in_force_says_so(staff_bot):
    for command in ("/emergency update", "/emergency end"):
        answer = await staff_bot.say(RIYADH_EN, command)
        assert answer.text == get_translator("en").t("emergency.none_active")


async def test_the_expiry_answers_the_channel_post_and_takes_the_pin_off(staff_bot, x_api):
    answer = await _to_expiry(
        staff_bot, RIYADH_EN, await _after_area(staff_bot, RIYADH_EN, _square(OLAYA, 800))
    )
    preview = await staff_bot.press(RIYADH_EN, answer, "ex:3")
    await staff_bot.press(RIYADH_EN, preview, "ev:confirm")
    await drain(staff_bot, x_api)
    since = len(staff_bot.api.calls)
    (post,) = [c for c in channel(staff_bot) if "Flooding" in (c.text or "")]
    assert staff_bot.api.pinned(CHANNEL) == [post.result["message_id"]]

    staff_bot.clock.advance(timedelta(hours=3))
    await drain(staff_bot, x_api)

    ours = post.result["message_id"]  # (the sample closures have posts of their own due meanwhile)
    (expired,) = [
        c for c in channel(staff_bot, since) if c.params.get("reply_parameters", {}).get("message_id") == ours
    ]
    assert "Expired" in (expired.text or "")
    assert staff_bot.api.pinned(CHANNEL) == []


async def test_a_driver_who_blocked_the_bot_is_skipped_and_their_location_forgotten(staff_bot, x_api):
    driver = FakeUser(51001, language_code="en")
    lon, lat = OLAYA
    await staff_bot.send_location(driver, lat, lon)
    await asyncio.to_thread(staff_bot.services.locations.flush)
    staff_bot.api.block_bot(driver)
    answer = await _to_expiry(
        staff_bot, RIYADH_EN, await _after_area(staff_bot, RIYADH_EN, _square(OLAYA, 800))
    )
    await staff_bot.press(RIYADH_EN, await staff_bot.press(RIYADH_EN, answer, "ex:3"), "ev:confirm")

    await drain(staff_bot, x_api)

    with session_scope(staff_bot.services.engine) as session:
        assert session.get(DriverLocation, driver.id) is None
    rows = [r for r in _rows(staff_bot) if r.destination == f"emergency-dm:{driver.id}"]
    assert [(r.status, r.last_error.startswith("recipient gone")) for r in rows] == [("skipped", True)]


def _rows(staff_bot: StaffBot) -> list[OutboxItem]:
    with session_scope(staff_bot.services.engine) as session:
        return list(session.scalars(sa.select(OutboxItem).where(OutboxItem.emergency_id.is_not(None))))


async def test_shared_and_live_locations_are_noted_but_not_venues_nor_a_staff_members_drawing(staff_bot):
    services = staff_bot.services
    plain, live, venue = FakeUser(52001), FakeUser(52002), FakeUser(52003)
    lon, lat = OLAYA
    await staff_bot.send_location(plain, lat, lon)
    await staff_bot.send_location(live, lat, lon, live_period=900)
    since = len(staff_bot.api.calls)
    staff_bot.api.user_sends_venue(venue, lat, lon, "Kingdom Centre", "Olaya")
    await staff_bot.reply_to(venue, since=since)
    await staff_bot.say(RIYADH, "/emergency")
    await staff_bot.send_location(RIYADH, lat, lon)  # a corner of the area being drawn

    await asyncio.to_thread(services.locations.flush)

    with session_scope(services.engine) as session:
        noted = {row.telegram_user_id: row for row in session.scalars(sa.select(DriverLocation))}
    assert set(noted) == {plain.id, live.id}
    assert noted[plain.id].live_until is None
    assert noted[live.id].live_until is not None
