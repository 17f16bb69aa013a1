"""Bad input in ``/new``, each answered in the operator's language, and nothing half-written, ever."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from geo.errors import Reason
from tests.bot.handlers.staff.conftest import BESIDE, JEDDAH_POINT, RIYADH, RIYADH_EN, StaffBot

USERS = pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])


async def at_start(bot: StaffBot, user: FakeUser) -> ApiCall:
    """/new, a point of 100 m, roadworks, fully closed, both ways: the start question."""
    await bot.say(user, "/new")
    answer = await bot.press(user, await bot.send_location(user, *BESIDE), "sg:r:100")
    for data in ("sr:roadworks", "ss:full", "sd:both"):
        answer = await bot.press(user, answer, data)
    return answer


@USERS
async def test_a_location_outside_the_operators_municipality_is_refused(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    assert (await bot.send_location(user, *JEDDAH_POINT)).text == tr.t("staff.refused.outside_municipality")
    assert (await bot.send_location(user, 30.04, 31.23)).text == tr.t("staff.refused.outside_municipality")
    assert (await bot.send_location(user, *BESIDE)).text == tr.t("staff.ask.radius")  # nothing was kept


# Pasted shapes that geo refuses, and why. Riyadh is near (46.7, 24.7).
BAD_SHAPES = [
    ('{"type": "LineString", "coordinates": [[46.68, 24.70]', Reason.NOT_JSON),
    ("LINESTRING (46.68 24.70, 46.67", Reason.NOT_WKT),
    ("just some words", Reason.UNRECOGNISED),
    ("GEOMETRYCOLLECTION (POINT (46.68 24.70))", Reason.UNSUPPORTED_TYPE),
    ("LINESTRING EMPTY", Reason.EMPTY),
    ('{"type": "LineString", "coordinates": [[46.68, 24.70], [NaN, 24.71]]}', Reason.NOT_FINITE),
    ("LINESTRING (46.68 24.70, 46.68 95.0)", Reason.LAT_OUT_OF_RANGE),
    ("LINESTRING (46.68 24.70, 190.0 24.71)", Reason.LON_OUT_OF_RANGE),
    ("LINESTRING (24.70 46.68, 24.71 46.675)", Reason.PROBABLY_SWAPPED),
    ("POLYGON ((46.67 24.70, 46.69 24.72, 46.69 24.70, 46.67 24.72, 46.67 24.70))", Reason.SELF_INTERSECTING),
    ("LINESTRING (46.68 24.70, 46.68 24.70)", Reason.ZERO_LENGTH),
    ("LINESTRING (46.5 24.5, 47.0 25.0, 46.5 25.0, 47.0 24.5)", Reason.TOO_LONG),
    ("POLYGON ((46.5 24.5, 47.0 24.5, 47.0 25.0, 46.5 25.0, 46.5 24.5))", Reason.TOO_BIG),
    ("x" * 1_000_001, Reason.TOO_LARGE_INPUT),  # longer than Telegram allows; the local API lets it through
]


@pytest.mark.parametrize(("text", "reason"), BAD_SHAPES, ids=[reason.value for _, reason in BAD_SHAPES])
@USERS
async def test_each_geometry_error_is_told_in_the_operators_language(
    staff_bot: StaffBot, user: FakeUser, text: str, reason: Reason
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    before = bot.writes()
    await bot.say(user, "/new")
    answer = await bot.say(user, text)
    assert (answer.text or "").startswith(tr.t(f"geo.{reason.value}"))
    assert bot.writes() == before


@USERS
async def test_too_many_vertices_in_an_uploaded_file(staff_bot: StaffBot, user: FakeUser) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    line = [[46.60 + i * 1e-5, 24.70] for i in range(10_001)]
    await bot.say(user, "/new")
    answer = await bot.upload(
        user, json.dumps({"type": "LineString", "coordinates": line}).encode(), "x.geojson"
    )
    assert answer.text == tr.t("geo.too_many_vertices")


@USERS
async def test_a_self_crossing_area_drawn_from_locations_is_refused_and_drawn_again(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    for lat, lon in [(24.70, 46.67), (24.72, 46.69), (24.70, 46.69), (24.72, 46.67)]:
        more = await bot.send_location(user, lat, lon)
    answer = await bot.press(user, more, "sg:area")
    assert answer.text == f"{tr.t('geo.self_intersecting')}\n\n{tr.t('staff.ask.geometry_again')}"
    assert (await bot.send_location(user, *BESIDE)).text == tr.t("staff.ask.radius")  # starting over


@pytest.mark.parametrize(
    ("name", "content", "key"),
    [
        ("big.geojson", b" " * (1024 * 1024 + 1), "staff.file_too_big"),
        ("broken.kml", b"<kml><Placemark><LineString><coordinates>46.6,24.7", "staff.file_unreadable"),
        (
            "bomb.kml",
            b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaa">]><kml>&a;</kml>',
            "staff.file_unreadable",
        ),
        ("notes.txt", b"the road by the mosque", "staff.file_unsupported"),
    ],
)
@USERS
async def test_files_too_big_unreadable_or_of_another_kind_are_refused(
    staff_bot: StaffBot, user: FakeUser, name: str, content: bytes, key: str
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    since = len(bot.api.calls)
    assert (await bot.upload(user, content, name)).text == tr.t(key)
    downloads = [c for c in bot.api.calls[since:] if c.method == "getFile"]
    assert downloads == [] if key == "staff.file_too_big" else len(downloads) == 1  # too big: never fetched


@USERS
async def test_an_end_before_the_start_or_already_past_is_refused(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await at_start(bot, user)
    assert (await bot.say(user, "2026-11-28 10:00")).text == bot.question(tr, "staff.ask.end")
    assert (await bot.say(user, "2026-11-28 09:00")).text == tr.t("staff.refused.end_before_start")
    assert (await bot.say(user, "tomorrow-ish")).text == tr.t("staff.time.not_time")
    assert (await bot.say(user, "400 days")).text == tr.t("staff.time.duration_too_long")
    assert (await bot.say(user, "2026-11-28 11:00")).text == tr.t("staff.ask.detour")


@USERS
async def test_an_end_already_past_is_refused(staff_bot: StaffBot, user: FakeUser) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await at_start(bot, user)
    await bot.say(user, "2026-11-27 11:30")  # Riyadh time: 30 minutes ago, allowed without asking
    assert (await bot.say(user, "2026-11-27 11:45")).text == tr.t("staff.refused.end_in_past")


@USERS
async def test_a_start_over_an_hour_ago_needs_an_explicit_confirmation(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await at_start(bot, user)
    tz_now = bot.clock.now
    ask = await bot.say(user, "2026-11-27 09:00")  # Riyadh time: three hours ago
    past = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert ask.text == tr.t("staff.ask.start_past", time=tr.time(past, bot.services.zone(1), tz_now))
    assert (await bot.press(user, ask, "sp:no")).text == bot.question(tr, "staff.ask.start")
    ask = await bot.say(user, "2026-11-27 09:00")
    assert (await bot.press(user, ask, "sp:yes")).text == bot.question(tr, "staff.ask.end")
    answer = await bot.say(user, "6h")
    answer = await bot.press(user, answer, "sx:skip")
    answer = await bot.say(user, "إغلاق شارع العليا")  # no geocoder, so no proposed title: typed
    for data in ("te:skip", "sv:confirm"):
        answer = await bot.press(user, answer, data)
    closure = bot.newest()
    assert (closure.starts_at, closure.ends_at) == (past, datetime(2026, 11, 27, 12, 0, tzinfo=UTC))


@USERS
async def test_texts_too_long_are_refused_before_the_service_sees_them(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    answer = await at_start(bot, user)
    for data in ("st:now", "se:open", "sx:skip"):
        answer = await bot.press(user, answer, data) if data != "se:open" else await bot.say(user, "open")
    assert (await bot.say(user, "ط" * 201)).text == tr.t("staff.text.too_long", max=200)
    assert (await bot.say(user, "طريق")).text == tr.t("staff.ask.title_en")
