"""``/new`` over the local Bot API: every way of giving the place, every question, the preview, and that only
Confirm writes — the closure, its audit event and its outbox rows, exactly as entered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from bot.handlers.staff.geometry import line_through
from bot.i18n import get_translator
from bot.localapi import FakeUser
from bot.publish.maps import MapMaker
from bot.publish.wiring import surroundings
from closures.models import Closure, ClosureEvent, OutboxItem
from closures.rules import geometry_of
from closures.views import ClosureView
from geo.routing import Route, StraightLineRouter
from tests.bot.handlers.staff.conftest import BESIDE, KING_FAHD, RIYADH, RIYADH_EN, TYPED_TITLE, StaffBot


def lonlat(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(lon, lat) for lat, lon in points]


async def test_a_line_on_a_riyadh_road_from_shared_locations_in_eight_messages_is_stored_exactly(
    staff_bot: StaffBot,
) -> None:
    bot, tr = staff_bot, get_translator("ar")
    before = bot.writes()
    sent = 0

    async def message(text: str):  # type: ignore[no-untyped-def]
        nonlocal sent
        sent += 1
        return await bot.say(RIYADH, text)

    async def location(lat: float, lon: float):  # type: ignore[no-untyped-def]
        nonlocal sent
        sent += 1
        return await bot.send_location(RIYADH, lat, lon)

    await message("/new")
    await location(*KING_FAHD[0])
    done = await location(*KING_FAHD[1])
    reason = await bot.press(RIYADH, done, "sg:line")
    assert reason.text == tr.t("staff.ask.reason")
    answer = await bot.press(RIYADH, reason, "sr:roadworks")
    answer = await bot.press(RIYADH, answer, "ss:partial")
    assert answer.text == tr.t("staff.ask.lanes")
    answer = await message("المساران الأيمنان")
    answer = await bot.press(RIYADH, answer, "sd:one")
    answer = await bot.press(RIYADH, answer, "sh:S")
    assert answer.text == bot.question(tr, "staff.ask.start")
    await message("٢٠٢٦-١١-٢٧ ١٤:٣٠")  # Riyadh time, Arabic-Indic digits: 11:30 UTC
    await message("٣ ساعات")
    await message("التحويل عبر طريق العليا")
    title_en = await message("إغلاق جزئي لطريق الملك فهد جنوبًا")
    assert title_en.text == tr.t("staff.ask.title_en")
    assert sent == 8  # and taps on the buttons for the rest
    preview = await bot.press(RIYADH, title_en, "te:skip")
    photo = bot.api.sent(RIYADH.id, "sendPhoto")[-1]  # the map that will be posted, before its text
    assert photo.params["photo"].content.startswith(b"\x89PNG")
    assert tr.t("staff.preview.header") in (preview.text or "")
    assert "إغلاق جزئي لطريق الملك فهد جنوبًا" in (preview.text or "")
    assert bot.writes() == before
    done = await bot.press(RIYADH, preview, "sv:confirm")
    closure = bot.newest()
    assert done.text == tr.t("staff.registered", id=closure.id, version=1)
    assert shapely.from_geojson(closure.geometry_geojson).equals_exact(LineString(lonlat(KING_FAHD)), 0)
    posted = MapMaker(None, surroundings=surroundings(bot.services)).render(
        ClosureView.of(closure, geometry_of(closure))
    )
    assert photo.params["photo"].content == posted  # the very map followers will see
    assert (closure.kind, closure.radius_m, closure.reason, closure.severity) == (
        "line",
        None,
        "roadworks",
        "partial",
    )
    assert (closure.lanes_ar, closure.lanes_en, closure.direction, closure.heading) == (
        "المساران الأيمنان",
        None,
        "one",
        "S",
    )
    assert closure.starts_at == datetime(2026, 11, 27, 11, 30, tzinfo=UTC)
    assert closure.ends_at == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert (closure.detour_ar, closure.detour_en) == ("التحويل عبر طريق العليا", None)
    assert (closure.title_ar, closure.title_en) == ("إغلاق جزئي لطريق الملك فهد جنوبًا", None)
    assert closure.created_by == f"tg:{RIYADH.id}"
    assert (
        bot.count(ClosureEvent, ClosureEvent.closure_id == closure.id, ClosureEvent.action == "registered")
        == 1
    )
    assert bot.count(OutboxItem, OutboxItem.closure_id == closure.id) > 0
    assert bot.writes()[0] == before[0] + 1


def stored_geometry(closure: Closure):  # type: ignore[no-untyped-def]
    return shapely.from_geojson(closure.geometry_geojson)


@pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])
async def test_one_location_and_a_radius_button_make_a_point_closure(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    assert (
        await bot.say(user, "/new")
    ).text == f"{tr.t('staff.ask.geometry')}\n\n{tr.t('staff.ask.no_geocoder')}"
    radius = await bot.send_location(user, *BESIDE)
    assert radius.text == tr.t("staff.ask.radius")
    buttons = [b["callback_data"] for b in radius.params["reply_markup"]["inline_keyboard"][0]]
    assert buttons == ["sg:r:50", "sg:r:100", "sg:r:250", "sg:r:500"]
    reason = await bot.press(user, radius, "sg:r:250")
    preview = await bot.to_preview(user, reason)
    assert tr.t("staff.shape.point", radius=tr.distance(250)) in (preview.text or "")
    await bot.press(user, preview, "sv:confirm")
    closure = bot.newest()
    assert stored_geometry(closure).equals(Point(BESIDE[1], BESIDE[0]))
    assert (closure.kind, closure.radius_m) == ("point", 250.0)
    assert closure.starts_at == bot.clock.now
    assert closure.ends_at == bot.clock.now + timedelta(hours=3)
    assert (closure.title_ar, closure.title_en) == (TYPED_TITLE, None)  # no street known: none was proposed


async def test_three_locations_and_done_as_area_make_an_area(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    await bot.say(RIYADH_EN, "/new")
    for point in KING_FAHD:
        more = await bot.send_location(RIYADH_EN, *point)
    assert more.text == tr.n("staff.ask.more_points", 2)
    assert [r[0]["callback_data"] for r in more.params["reply_markup"]["inline_keyboard"]] == ["sg:line"]
    more = await bot.send_location(RIYADH_EN, *BESIDE)
    assert [r[0]["callback_data"] for r in more.params["reply_markup"]["inline_keyboard"]] == [
        "sg:line",
        "sg:area",
    ]
    preview = await bot.to_preview(RIYADH_EN, await bot.press(RIYADH_EN, more, "sg:area"))
    await bot.press(RIYADH_EN, preview, "sv:confirm")
    closure = bot.newest()
    assert closure.kind == "area"
    assert stored_geometry(closure).equals(Polygon(lonlat([*KING_FAHD, BESIDE])))


@pytest.mark.parametrize(
    ("user", "text"),
    [
        (RIYADH, json.dumps({"type": "LineString", "coordinates": lonlat(KING_FAHD)})),
        (RIYADH_EN, "LINESTRING (46.68 24.70, 46.675 24.71)"),
        (RIYADH_EN, "SRID=4326;LINESTRING (46.68 24.70, 46.675 24.71)"),
    ],
    ids=["geojson-ar", "wkt-en", "ewkt-en"],
)
async def test_pasted_geojson_or_wkt_is_the_closure_shape(
    staff_bot: StaffBot, user: FakeUser, text: str
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    reason = await bot.say(user, text)
    assert reason.text == tr.t("staff.ask.reason")
    await bot.press(user, await bot.to_preview(user, reason), "sv:confirm")
    assert stored_geometry(bot.newest()).equals(LineString(lonlat(KING_FAHD)))


def kml_line() -> bytes:
    coords = " ".join(f"{lon},{lat},0" for lat, lon in KING_FAHD)
    body = f"<Placemark><LineString><coordinates>{coords}</coordinates></LineString></Placemark>"
    return f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>{body}</Document></kml>'.encode()


def gpx_line() -> bytes:
    points = "".join(f'<trkpt lat="{lat}" lon="{lon}"/>' for lat, lon in KING_FAHD)
    return f'<gpx version="1.1" creator="t"><trk><trkseg>{points}</trkseg></trk></gpx>'.encode()


def geojson_line() -> bytes:
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "LineString", "coordinates": lonlat(KING_FAHD)},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


@pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])
@pytest.mark.parametrize(
    ("name", "content"), [("road.geojson", geojson_line), ("road.kml", kml_line), ("road.gpx", gpx_line)]
)
async def test_an_uploaded_file_is_downloaded_from_the_bot_api_and_read(
    staff_bot: StaffBot, user: FakeUser, name: str, content: object
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    since = len(bot.api.calls)
    reason = await bot.upload(user, content(), name)  # type: ignore[operator]
    assert reason.text == tr.t("staff.ask.reason")
    assert [c.method for c in bot.api.calls[since:] if c.method == "getFile"] == ["getFile"]
    await bot.press(user, await bot.to_preview(user, reason), "sv:confirm")
    assert stored_geometry(bot.newest()).equals(LineString(lonlat(KING_FAHD)))


@pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])
async def test_a_place_name_is_explained_away_as_no_geocoder_is_configured(
    staff_bot: StaffBot, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    await bot.say(user, "/new")
    answer = await bot.say(user, "حي العليا")
    assert answer.text == f"{tr.t('geo.unrecognised')}\n\n{tr.t('staff.ask.no_geocoder')}"
    assert "reply_markup" not in answer.params
    assert (await bot.send_location(user, *BESIDE)).text == tr.t(
        "staff.ask.radius"
    )  # still asking for the place


async def test_partial_one_way_english_closure_with_typed_times_and_titles(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    await bot.say(RIYADH_EN, "/new")
    answer = await bot.press(RIYADH_EN, await bot.send_location(RIYADH_EN, *BESIDE), "sg:r:100")
    for data in ("sr:event", "ss:partial"):
        answer = await bot.press(RIYADH_EN, answer, data)
    answer = await bot.say(RIYADH_EN, "Two right lanes")
    answer = await bot.press(RIYADH_EN, await bot.press(RIYADH_EN, answer, "sd:one"), "sh:NE")
    await bot.say(RIYADH_EN, "2026-11-28 22:00")
    detour = await bot.say(RIYADH_EN, "90 min")
    assert detour.text == tr.t("staff.ask.detour")
    await bot.say(RIYADH_EN, "Use Olaya St")
    await bot.say(RIYADH_EN, "فعالية في حي العليا")
    preview = await bot.say(RIYADH_EN, "Event in Olaya")
    assert "Event in Olaya" in (preview.text or "")
    await bot.press(RIYADH_EN, preview, "sv:confirm")
    closure = bot.newest()
    assert (closure.reason, closure.severity, closure.lanes_en, closure.lanes_ar) == (
        "event",
        "partial",
        "Two right lanes",
        None,
    )
    assert (closure.direction, closure.heading, closure.detour_en) == ("one", "NE", "Use Olaya St")
    assert closure.starts_at == datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    assert closure.ends_at == datetime(2026, 11, 28, 20, 30, tzinfo=UTC)
    assert (closure.title_ar, closure.title_en) == ("فعالية في حي العليا", "Event in Olaya")


async def test_edit_a_field_from_the_preview_then_confirm(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    await bot.say(RIYADH, "/new")
    preview = await bot.to_preview(
        RIYADH, await bot.press(RIYADH, await bot.send_location(RIYADH, *BESIDE), "sg:r:50")
    )
    menu = await bot.press(RIYADH, preview, "sv:edit")
    assert menu.text == tr.t("staff.ask.field")
    groups = [b["callback_data"] for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    assert groups == [
        f"sf:{g}"
        for g in ("geometry", "reason", "severity", "direction", "starts_at", "ends_at", "detour", "title")
    ]
    end = await bot.press(RIYADH, menu, "sf:ends_at")
    assert end.text == bot.question(tr, "staff.ask.end")
    preview = await bot.press(RIYADH, end, "se:open")  # straight back to the preview
    assert tr.t("timing.open_ended") in (preview.text or "")
    reason = await bot.press(RIYADH, await bot.press(RIYADH, preview, "sv:edit"), "sf:reason")
    preview = await bot.press(RIYADH, reason, "sr:flood")
    await bot.press(RIYADH, preview, "sv:confirm")
    closure = bot.newest()
    assert (closure.reason, closure.ends_at, closure.radius_m) == ("flood", None, 50.0)


# Each step of /new, reached from the one before: (what to do, the question it leads to).
STEPS = [
    ("say:/new", "staff.ask.geometry"),
    ("loc", "staff.ask.radius"),
    ("press:sg:r:100", "staff.ask.reason"),
    ("press:sr:roadworks", "staff.ask.severity"),
    ("press:ss:partial", "staff.ask.lanes"),
    ("say:left lane", "staff.ask.direction"),
    ("press:sd:one", "staff.ask.heading"),
    ("press:sh:N", "staff.ask.start"),
    ("say:2020-01-01 10:00", "staff.ask.start_past"),
    ("press:sp:yes", "staff.ask.end"),
    ("press:se:open", "staff.ask.detour"),
    ("press:sx:skip", "staff.ask.title_ar"),
    ("say:إغلاق شارع العليا", "staff.ask.title_en"),
    ("press:te:skip", "staff.preview.header"),
    ("press:sv:edit", "staff.ask.field"),
]


@pytest.mark.parametrize("depth", range(1, len(STEPS) + 1), ids=[key for _, key in STEPS])
async def test_cancel_at_every_step_writes_nothing_and_ends_the_conversation(
    staff_bot: StaffBot, depth: int
) -> None:
    bot, tr = staff_bot, get_translator("en")
    before = bot.writes()
    last = None
    for action, key in STEPS[:depth]:
        kind, _, value = action.partition(":")
        if kind == "say":
            last = await bot.say(RIYADH_EN, value)
        elif kind == "loc":
            last = await bot.send_location(RIYADH_EN, *BESIDE)
        else:
            last = await bot.press(RIYADH_EN, last, value)
        assert tr.t(key)[:12] in (last.text or "")  # the question of the step (its start: some take values)
    assert (await bot.say(RIYADH_EN, "/cancel")).text == tr.t("staff.cancelled")
    assert bot.writes() == before
    after = await bot.send_location(RIYADH_EN, *BESIDE)  # now a driver's question again
    assert after.text != tr.t("staff.ask.radius")


async def test_the_cancel_button_under_the_preview_writes_nothing(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    before = bot.writes()
    await bot.say(RIYADH, "/new")
    preview = await bot.to_preview(
        RIYADH, await bot.press(RIYADH, await bot.send_location(RIYADH, *BESIDE), "sg:r:50")
    )
    assert (await bot.press(RIYADH, preview, "sv:cancel")).text == tr.t("staff.cancelled")
    assert bot.writes() == before


async def test_anything_unexpected_mid_conversation_is_answered_with_what_to_do(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    await bot.say(RIYADH, "/new")
    reason = await bot.press(RIYADH, await bot.send_location(RIYADH, *BESIDE), "sg:r:50")
    assert (await bot.say(RIYADH, "أعمال")).text == tr.t("staff.unexpected")  # the reason has buttons
    since = len(bot.api.calls)
    bot.api.user_sends_sticker(RIYADH)
    assert (await bot.reply_to(RIYADH, since=since)).text == tr.t("staff.unexpected")
    assert (await bot.press(RIYADH, reason, "sr:accident")).text == tr.t("staff.ask.severity")


class RoadRouter:
    """A road router stand-in: each leg bends through a point halfway and 0.001° east."""

    def route(self, origin: Point, destination: Point, *, avoid: object = ()) -> Route:
        bend = ((origin.x + destination.x) / 2 + 0.001, (origin.y + destination.y) / 2)
        line = LineString([(origin.x, origin.y), bend, (destination.x, destination.y)])
        return Route(line=line, length_m=1.0, duration_s=1.0, engine="roads", approximate=False)


def test_a_line_follows_the_roads_when_a_road_router_is_configured_else_is_straight() -> None:
    points = [Point(46.68, 24.70), Point(46.675, 24.71), Point(46.67, 24.715)]
    roads = line_through(points, RoadRouter()).line
    expected = [(46.68, 24.70), (46.6785, 24.705), (46.675, 24.71), (46.6735, 24.7125), (46.67, 24.715)]
    assert list(roads.coords) == [pytest.approx(xy) for xy in expected]
    assert list(line_through(points, StraightLineRouter()).line.coords) == [(p.x, p.y) for p in points]
