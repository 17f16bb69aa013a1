"""A closure's place drawn in the map editor continues the operator's /new or /edit: real PTB over HTTP
against the local Bot API, the drawing posted to the real web server with initData signed as Telegram
signs it. The editor page itself is driven in a browser in ``tests/bot/web/test_editor_browser.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from shapely.geometry import LineString, shape

from bot.i18n import get_translator
from bot.localapi import FakeUser
from bot.text.staff_views import shape as shape_text
from tests.bot.handlers.staff.conftest import (
    ADMIN,
    BESIDE,
    JEDDAH_POINT,
    KING_FAHD,
    RIYADH,
    RIYADH_EN,
    StaffBot,
)
from tests.bot.web.editor_support import (
    WEBAPP,
    Editor,
    editor,
    municipality_id,
    open_closures,
    staff_bot,
    token_of,
    web_app_urls,
)

__all__ = ["editor", "staff_bot"]

LINE = {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in KING_FAHD]}
AREA = {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in [*KING_FAHD, BESIDE, KING_FAHD[0]]]]}
POINT = {"type": "Point", "coordinates": [BESIDE[1], BESIDE[0]]}


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"webapp_url": WEBAPP}


def stored(bot: StaffBot):  # type: ignore[no-untyped-def]
    return shapely.from_geojson(bot.newest().geometry_geojson)


@pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])
async def test_the_place_question_offers_the_map_editor_for_this_question(editor: Editor, user: FakeUser):
    tr = get_translator(user.language_code or "ar")

    question, launch = await editor.open(user)

    assert question.text == (
        f"{tr.t('staff.ask.geometry')}\n\n{tr.t('staff.ask.no_geocoder')}\n\n{tr.t('staff.ask.draw')}"
    )
    [button] = question.params["reply_markup"]["inline_keyboard"][0]
    assert button["text"] == tr.t("staff.button.draw")
    assert button["web_app"]["url"] == launch.url
    token = token_of(launch.url)
    assert launch.url == f"{WEBAPP}/webapp/editor?lang={tr.lang}&d={token}"
    assert token == editor.bot.app.user_data[user.id]["staff_draft"]["map_token"]  # the draft knows it


async def test_a_drawn_line_is_shown_back_as_a_map_then_the_next_question_and_is_stored(editor: Editor):
    bot, tr = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN)

    response, shown = await editor.send_and_wait(RIYADH_EN, launch, LINE)

    assert response.json() == {"ok": True, "message": tr.t("web.editor.sent")}
    assert shown.method == "sendPhoto"
    assert shown.params["caption"] == tr.t(
        "staff.drawn.received", shape=shape_text(LineString(LINE["coordinates"]), None, tr)
    )
    reason = await bot.reply_to(RIYADH_EN, since=bot.api.calls.index(shown) + 1)
    assert reason.text == tr.t("staff.ask.reason")
    await bot.press(RIYADH_EN, await bot.to_preview(RIYADH_EN, reason), "sv:confirm")
    assert stored(bot).equals(LineString(LINE["coordinates"]))


async def test_a_drawn_area_and_a_drawn_point_with_its_radius_are_stored_as_drawn(editor: Editor):
    bot = editor.bot
    for drawing, radius in ((AREA, None), (POINT, 250)):
        _, launch = await editor.open(RIYADH)
        _, shown = await editor.send_and_wait(RIYADH, launch, drawing, radius_m=radius)
        reason = await bot.reply_to(RIYADH, since=bot.api.calls.index(shown) + 1)
        await bot.press(RIYADH, await bot.to_preview(RIYADH, reason), "sv:confirm")
        closure = bot.newest()
        assert stored(bot).equals(shape(drawing))
        assert closure.radius_m == (250.0 if radius else None)
        assert closure.kind == ("point" if radius else "area")


async def test_editing_a_closures_place_on_the_map_returns_to_the_preview(editor: Editor):
    bot, tr = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN)
    _, shown = await editor.send_and_wait(RIYADH_EN, launch, LINE)
    reason = await bot.reply_to(RIYADH_EN, since=bot.api.calls.index(shown) + 1)
    await bot.press(RIYADH_EN, await bot.to_preview(RIYADH_EN, reason), "sv:confirm")
    closure = bot.newest()

    menu = await bot.edit(RIYADH_EN, closure.id)
    question = await bot.press(RIYADH_EN, menu, "sf:geometry")
    [url] = web_app_urls(question)
    assert url == f"{WEBAPP}/webapp/editor?lang=en&d={token_of(url)}&c={closure.id}"
    since = len(bot.api.calls)
    assert (await editor.send(editor.launch(RIYADH_EN, question), AREA)).status_code == 200
    calls = await bot.api.wait_for_count(
        lambda c: c.chat_id == RIYADH_EN.id and c.method in ("sendPhoto", "sendLocation", "sendMessage"),
        3,
        since=since,
    )
    # what was drawn, the map that will be posted, the preview's text
    assert [c.method for c in calls] == ["sendPhoto", "sendPhoto", "sendMessage"]
    assert tr.t("staff.preview.header") in (calls[2].text or "")
    await bot.press(RIYADH_EN, calls[2], "sv:confirm")
    assert shapely.from_geojson(bot.closure(closure.id).geometry_geojson).equals(shape(AREA))


async def test_a_drawing_for_an_earlier_question_changes_nothing_and_says_so(editor: Editor):
    bot, tr = editor.bot, get_translator("en")
    _, old = await editor.open(RIYADH_EN)
    await bot.say(RIYADH_EN, "/cancel")
    question, _ = await editor.open(RIYADH_EN)  # a new draft, with a new token

    _, told = await editor.send_and_wait(RIYADH_EN, old, LINE)

    assert told.text == tr.t("staff.drawn.stale")
    reason = await bot.say(RIYADH_EN, json.dumps(AREA))  # the new draft still waits for its place
    assert reason.text == tr.t("staff.ask.reason")
    assert question.ok


async def test_a_drawing_for_a_closed_draft_changes_nothing_and_says_so(editor: Editor):
    bot, tr = editor.bot, get_translator("en")
    before = bot.writes()
    _, launch = await editor.open(RIYADH_EN)
    await bot.say(RIYADH_EN, "/cancel")

    _, told = await editor.send_and_wait(RIYADH_EN, launch, LINE)

    assert told.text == tr.t("staff.drawn.closed")
    assert bot.writes() == before
    assert (await bot.say(RIYADH_EN, json.dumps(AREA))).text != tr.t("staff.ask.reason")  # not in /new


async def test_a_drawing_once_the_place_is_answered_is_stale(editor: Editor):
    bot, tr = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN)
    reason = await bot.say(RIYADH_EN, json.dumps(AREA))  # answered by pasting instead

    _, told = await editor.send_and_wait(RIYADH_EN, launch, LINE)

    assert told.text == tr.t("staff.drawn.stale")
    preview = await bot.to_preview(RIYADH_EN, reason)  # the reason question still stands
    await bot.press(RIYADH_EN, preview, "sv:confirm")
    assert stored(bot).equals(shape(AREA))


async def test_a_drawing_from_the_menu_button_starts_a_new_closure(editor: Editor):
    bot, tr = editor.bot, get_translator("ar")
    launch = bot.api.user_opens_menu_web_app(
        RIYADH, f"{WEBAPP}/webapp/editor", auth_date=bot.clock.now.timestamp()
    )

    _, shown = await editor.send_and_wait(RIYADH, launch, LINE)

    assert shown.method == "sendPhoto"
    reason = await bot.reply_to(RIYADH, since=bot.api.calls.index(shown) + 1)
    assert reason.text == tr.t("staff.ask.reason")
    await bot.press(RIYADH, await bot.to_preview(RIYADH, reason), "sv:confirm")
    assert stored(bot).equals(LineString(LINE["coordinates"]))


async def test_the_conversation_has_the_last_word_on_where_a_drawing_may_lie(editor: Editor):
    bot, tr = editor.bot, get_translator("ar")
    riyadh = next(c for c in open_closures(bot) if c.municipality_id == municipality_id(bot, "riyadh"))
    menu = await bot.edit(ADMIN, riyadh.id)  # an admin of every municipality edits a closure of Riyadh
    question = await bot.press(ADMIN, menu, "sf:geometry")
    launch = editor.launch(ADMIN, question)
    jeddah = {"type": "Point", "coordinates": [JEDDAH_POINT[1], JEDDAH_POINT[0]]}

    # A page that leaves out which closure it edits: the server sees a point in one of the admin's
    # municipalities; the draft knows the closure is Riyadh's, and says so in the chat.
    _, told = await editor.send_and_wait(ADMIN, launch, jeddah, radius_m=100, closure=None)

    assert told.text == (
        f"{tr.t('staff.refused.outside_municipality')}\n\n{tr.t('staff.ask.geometry_again')}"
    )
    assert web_app_urls(told) == web_app_urls(question)  # the editor again, for the same question
    assert bot.closure(riyadh.id).geometry_geojson == riyadh.geometry_geojson


async def test_without_webapp_url_the_place_question_has_no_button(staff_bot: StaffBot):
    tr = get_translator("en")
    staff_bot.services.settings = staff_bot.services.settings.model_copy(update={"webapp_url": None})

    question = await staff_bot.say(RIYADH_EN, "/new")

    assert question.text == f"{tr.t('staff.ask.geometry')}\n\n{tr.t('staff.ask.no_geocoder')}"
    assert "reply_markup" not in question.params
