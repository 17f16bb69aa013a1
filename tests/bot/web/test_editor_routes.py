"""The map editor's routes over HTTP, before the bot: a forged, stale, replayed or stranger's initData gets
403 and changes nothing, with a log line naming the reason and never the data; a shape the parser or the
municipality refuses gets 422 and the operator's sentence, and the same page may try again."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from shapely.geometry import LineString
from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.i18n import get_translator
from bot.localapi.webapps import sign_init_data
from bot.services import Services
from bot.web.site import build_web_app
from tests.bot.handlers.staff.conftest import JEDDAH_POINT, KING_FAHD, RIYADH, RIYADH_EN, STRANGER, StaffBot
from tests.bot.web.editor_support import WEBAPP, Editor, editor, municipality_id, open_closures, staff_bot
from tests.fakes.routing import RoutingServer, bent_line

__all__ = ["editor", "staff_bot"]

LINE = {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in KING_FAHD]}
BOW_TIE = {"type": "Polygon", "coordinates": [[[46.67, 24.70], [46.68, 24.71], [46.68, 24.70], [46.67, 24.71],
                                               [46.67, 24.70]]]}  # fmt: skip
JEDDAH = [JEDDAH_POINT[1], JEDDAH_POINT[0]]
LOG = "bot.web.editor_routes"


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"webapp_url": WEBAPP}


async def nothing_reached_the_bot(bot: StaffBot, user=RIYADH_EN) -> None:  # type: ignore[no-untyped-def]
    """Nothing was queued for the user: their draft (if any) still waits for its place, and their next
    message is answered alone, with no drawing shown before it."""
    draft = (bot.app.user_data.get(user.id) or {}).get("staff_draft")
    assert draft is None or (draft["map_token"] and "geometry" not in draft["values"])
    since = len(bot.api.calls)
    await bot.say(user, "/cancel")
    assert [c.method for c in bot.api.calls[since:] if c.chat_id == user.id] == ["sendMessage"]


def forged_with(launch_init_data: str, **changes: str) -> str:
    """The initData with fields changed after Telegram signed it."""
    pairs = dict(p.split("=", 1) for p in launch_init_data.split("&"))
    pairs.update({k: quote(v, safe="") for k, v in changes.items()})
    return "&".join(f"{k}={v}" for k, v in pairs.items())


async def test_initdata_signed_with_another_token_or_changed_after_signing_is_refused(
    editor: Editor, caplog: pytest.LogCaptureFixture
):
    bot, tr = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN)
    other_bot = sign_init_data(
        "654321:OTHER", dict(p.split("=", 1) for p in launch.init_data.split("&")[:-1])
    )
    someone_else = forged_with(launch.init_data, user=json.dumps({"id": RIYADH.id, "first_name": "x"}))
    before = bot.writes()

    for forged in (other_bot, someone_else, "", "query_id=1&hash=" + "0" * 64):
        with caplog.at_level(logging.WARNING, logger=LOG):
            response = await editor.send(launch, LINE, init_data=forged)
        assert response.status_code == 403
        assert response.json()["message"] in (
            tr.t("web.editor.refused.forged"),
            tr.t("web.editor.refused.no_telegram"),
        )

    hash_hex = launch.init_data.rsplit("hash=", 1)[1]
    lines = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert len(lines) == 4
    assert all("refused with 403" in line for line in lines)
    assert sum("bad_signature" in line for line in lines) == 3
    assert not any(hash_hex in line or "TEST-TOKEN" in line or "query_id" in line for line in lines)
    assert bot.writes() == before
    await nothing_reached_the_bot(bot)
    assert (await editor.send(launch, LINE)).status_code == 200  # the genuine one still works


async def test_stale_or_future_initdata_is_refused(editor: Editor, caplog: pytest.LogCaptureFixture):
    bot, tr = editor.bot, get_translator("en")
    question, _ = await editor.open(RIYADH_EN)
    stale = editor.launch(RIYADH_EN, question, age_s=3601)  # WEBAPP_MAX_AGE_S is 3600 by default
    future = editor.launch(RIYADH_EN, question, age_s=-3600)  # a clock an hour ahead

    with caplog.at_level(logging.WARNING, logger=LOG):
        answers = [await editor.send(launch, LINE) for launch in (stale, future)]

    assert [a.status_code for a in answers] == [403, 403]
    assert {a.json()["message"] for a in answers} == {tr.t("web.editor.refused.stale")}
    assert [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records if r.name == LOG] == ["stale", "future"]
    await nothing_reached_the_bot(bot)
    assert (await editor.send(editor.launch(RIYADH_EN, question, age_s=3599), LINE)).status_code == 200


async def test_the_max_age_is_a_setting(editor: Editor):
    bot = editor.bot
    bot.services.settings = bot.services.settings.model_copy(update={"webapp_max_age_s": 60})
    question, _ = await editor.open(RIYADH_EN)
    # the routes read the settings they were built with: a new web app for the new settings
    app = build_web_app(bot.services, application=bot.app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://editor") as http:
        editor_now = Editor(bot, http, editor.server)
        assert (await editor_now.send(editor.launch(RIYADH_EN, question, age_s=61), LINE)).status_code == 403
        assert (await editor_now.send(editor.launch(RIYADH_EN, question, age_s=59), LINE)).status_code == 200


async def test_a_replayed_drawing_is_refused_and_changes_nothing(editor: Editor, caplog):
    bot, tr = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN)
    _, shown = await editor.send_and_wait(RIYADH_EN, launch, LINE)
    reason = await bot.reply_to(RIYADH_EN, since=bot.api.calls.index(shown) + 1)
    assert reason.text == tr.t("staff.ask.reason")

    with caplog.at_level(logging.WARNING, logger=LOG):
        again = await editor.send(launch, {"type": "Point", "coordinates": [46.675, 24.705]}, radius_m=50)

    assert again.status_code == 403
    assert again.json() == {"error": "replayed", "message": tr.t("web.editor.refused.replayed")}
    assert any("replayed" in r.getMessage() for r in caplog.records if r.name == LOG)
    preview = await bot.to_preview(RIYADH_EN, reason)  # the conversation is where the first drawing left it
    await bot.press(RIYADH_EN, preview, "sv:confirm")
    assert LineString(LINE["coordinates"]).equals(
        LineString(json.loads(bot.newest().geometry_geojson)["coordinates"])
    )


async def test_a_drawing_claimed_by_one_process_is_refused_by_another_which_takes_fresh_ones(
    editor: Editor,
):
    """Two bot processes over one database behind a balancer: the second one's web app refuses the first
    one's drawing sent again, and feeds its own Application a fresh drawing as an Update."""
    bot = editor.bot
    question, launch = await editor.open(RIYADH_EN)
    assert (await editor.send(launch, LINE)).status_code == 200  # process A applies it
    other = Services.build(bot.services.settings, clock=bot.clock)  # process B: its own engine and caches
    other_app = build_application(other, rate_limit=False)  # not started: its queue shows what it is fed
    transport = httpx.ASGITransport(app=build_web_app(other, application=other_app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://process-b") as http:
            process_b = Editor(bot, http, editor.server)
            assert (await process_b.send(launch, LINE)).json()["error"] == "replayed"
            assert other_app.update_queue.empty()
            fresh = editor.launch(RIYADH_EN, question)
            assert (await process_b.send(fresh, LINE)).status_code == 200
        update = other_app.update_queue.get_nowait()
        assert isinstance(update, Update)
        assert update.effective_user is not None
        assert update.effective_user.id == RIYADH_EN.id
        assert update.effective_message is not None
        assert update.effective_message.web_app_data is not None
        assert json.loads(update.effective_message.web_app_data.data)["geometry"] == LINE
    finally:
        other.close()


async def test_a_stranger_with_genuine_initdata_is_refused(editor: Editor, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger=LOG)
    bot, tr = editor.bot, get_translator("en")
    launch = bot.api.user_opens_menu_web_app(
        STRANGER, f"{WEBAPP}/webapp/editor", auth_date=bot.clock.now.timestamp()
    )

    for path, body in (
        ("/webapp/session?lang=en", {"initData": launch.init_data}),
        ("/webapp/snap?lang=en", {"initData": launch.init_data, "points": LINE["coordinates"]}),
        ("/webapp/drawing?lang=en", {"initData": launch.init_data, "geometry": LINE}),
    ):
        response = await editor.http.post(path, json=body)
        assert response.status_code == 403, path
        assert response.json()["message"] == tr.t("web.editor.refused.not_staff")
    lines = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert lines == [f"webapp {name}: refused with 403: not_staff (user {STRANGER.id})" for name in
                     ("session", "snap", "drawing")]  # fmt: skip
    await nothing_reached_the_bot(bot, STRANGER)


async def test_staff_of_another_municipality_may_not_redraw_its_closure(editor: Editor):
    bot = editor.bot
    jeddah_closure = next(
        c for c in open_closures(bot) if c.municipality_id == municipality_id(bot, "jeddah")
    )
    launch = bot.api.user_opens_menu_web_app(
        RIYADH_EN, f"{WEBAPP}/webapp/editor?c={jeddah_closure.id}", auth_date=bot.clock.now.timestamp()
    )

    response = await editor.send(launch, LINE)

    assert response.status_code == 403
    session = await editor.http.post(
        "/webapp/session", json={"initData": launch.init_data, "closure": jeddah_closure.id}
    )
    assert session.status_code == 403


@pytest.mark.parametrize(
    ("drawing", "key"),
    [
        (BOW_TIE, "geo.self_intersecting"),
        (
            {"type": "Point", "coordinates": [JEDDAH_POINT[1], JEDDAH_POINT[0]]},
            "staff.refused.outside_municipality",
        ),
        ({"type": "LineString", "coordinates": [[46.67, 24.70]]}, "geo.zero_length"),
        ({"type": "LineString", "coordinates": [[46.0, 24.0], [47.5, 25.5]]}, "geo.too_long"),
    ],
    ids=["self-intersecting", "outside", "one-point-line", "too-long"],
)
async def test_a_shape_every_input_refuses_is_422_and_the_page_may_try_again(editor: Editor, drawing, key):
    tr = get_translator("ar")
    _, launch = await editor.open(RIYADH)

    refused = await editor.send(launch, drawing, radius_m=100 if drawing["type"] == "Point" else None)

    assert refused.status_code == 422
    assert refused.json()["message"] == tr.t(key)
    _, shown = await editor.send_and_wait(RIYADH, launch, LINE)  # the same initData: nothing was applied
    assert shown.method == "sendPhoto"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"geometry": LINE}).encode(),  # no initData
        json.dumps({"initData": "x", "geometry": "LINESTRING (1 2, 3 4)"}).encode(),
        json.dumps({"initData": "x", "geometry": LINE, "radius_m": 75}).encode(),  # not a radius offered
        json.dumps({"initData": "x", "geometry": LINE, "draft": ["x"]}).encode(),
        b"{" + b" " * (1024 * 1024) + b"}",  # over a megabyte
    ],
    ids=["garbage", "array", "no-initdata", "geometry-text", "radius", "draft", "huge"],
)
async def test_a_request_that_is_not_what_the_page_sends_is_400(editor: Editor, body: bytes):
    response = await editor.http.post("/webapp/drawing?lang=en", content=body)

    assert response.status_code == 400
    assert response.json()["message"] == get_translator("en").t("web.editor.bad_request")


async def test_the_session_names_the_operators_municipalities(editor: Editor):
    _, launch = await editor.open(RIYADH)

    response = await editor.http.post("/webapp/session", json={"initData": launch.init_data})

    assert response.status_code == 200
    assert response.json() == {"municipalities": ["riyadh"]}


async def test_snap_follows_the_road_the_router_finds_with_the_rules_of_new(editor: Editor):
    from geo.osrm import OsrmHttp
    from geo.routing import FallbackRouter

    bot = editor.bot
    _, launch = await editor.open(RIYADH_EN)
    taps = [tuple(p) for p in LINE["coordinates"]]
    straight = await editor.http.post("/webapp/snap", json={"initData": launch.init_data, "points": taps})
    assert straight.json() == {"coordinates": [list(t) for t in taps], "on_roads": False, "refused": False}

    with RoutingServer().running() as server:
        bot.services.router = FallbackRouter(OsrmHttp(server.url))
        snapped = await editor.http.post("/webapp/snap", json={"initData": launch.init_data, "points": taps})
        assert snapped.json()["on_roads"] is True
        assert LineString(snapped.json()["coordinates"]).equals_exact(LineString(bent_line(*taps)), 1e-6)
        server.bend_deg = 0.02  # a road far longer than the taps: kept straight, as in /new
        refused = await editor.http.post("/webapp/snap", json={"initData": launch.init_data, "points": taps})
        assert refused.json() == {"coordinates": [list(t) for t in taps], "on_roads": False, "refused": True}
        bot.services.router.close()
    bad = await editor.http.post("/webapp/snap", json={"initData": launch.init_data, "points": [[1, 2]]})
    assert bad.status_code == 400


@pytest.mark.parametrize(("lang", "direction"), [("ar", "rtl"), ("en", "ltr")])
async def test_the_editor_page_is_in_the_operators_language(editor: Editor, lang: str, direction: str):
    response = await editor.http.get(f"/webapp/editor?lang={lang}&d=abc123&c=7")

    assert response.status_code == 200
    page = response.text
    assert f'<html lang="{lang}" dir="{direction}">' in page
    assert get_translator(lang).t("web.editor.title") in page
    config = json.loads(page.split('id="editor-config">', 1)[1].split("</script>", 1)[0])
    assert (config["draft"], config["closure"], config["snap"]) == ("abc123", 7, False)
    assert '<script src="https://telegram.org/js/telegram-web-app.js"></script>' in page
    hostile = await editor.http.get("/webapp/editor?d=</script><script>alert(1)</script>&c=x")
    assert "alert(1)" not in hostile.text


async def test_without_webapp_url_there_is_no_editor(staff_bot: StaffBot, serve_asgi):  # type: ignore[no-untyped-def]
    staff_bot.services.settings = staff_bot.services.settings.model_copy(update={"webapp_url": None})
    server = await serve_asgi(build_web_app(staff_bot.services, application=staff_bot.app))
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/webapp/editor")).status_code == 404
        assert (await http.post("/webapp/drawing", json={})).status_code in (404, 405)


@pytest.mark.parametrize(
    "bad", ["http://roads.example.org", "roads.example.org", "https://roads.example.org/?x=1", "https://"]
)
def test_webapp_url_must_be_https_as_telegram_requires(bad: str):
    with pytest.raises(ValueError, match="https:// URL"):
        Settings(_env_file=None, webapp_url=bad)  # type: ignore[call-arg]


def test_webapp_url_may_have_a_path_and_loses_its_trailing_slash():
    settings = Settings(_env_file=None, webapp_url="https://roads.example.org/roadbot/")  # type: ignore[call-arg]
    assert settings.webapp_url == "https://roads.example.org/roadbot"
    assert Settings(_env_file=None, webapp_url="").webapp_url is None  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="webapp_max_age_s"):
        Settings(_env_file=None, webapp_max_age_s=100_000)  # type: ignore[call-arg]
