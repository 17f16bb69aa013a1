"""An emergency's area drawn in the map editor answers ``/emergency``'s area question: real PTB over HTTP
against the local Bot API, the drawing posted to the real web server with initData signed as Telegram signs
it. The area goes through the same checks as a pasted one (cut to the municipality and said, a crossing
outline refused); a drawing for ``/new`` still goes to ``/new``, a stale one is answered and changes
nothing, and a stranger's is refused."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from pyproj import Geod
from shapely.geometry import shape

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from bot.webapp.drawing import Drawing
from closures.models import Municipality
from closures.store import session_scope
from tests.bot.handlers.staff.conftest import KING_FAHD, RIYADH, RIYADH_EN, STRANGER, StaffBot
from tests.bot.handlers.staff.test_emergency_errors import OLAYA, _square
from tests.bot.web.editor_support import (
    WEBAPP,
    Editor,
    editor,
    municipality_id,
    staff_bot,
    token_of,
    web_app_urls,
)

__all__ = ["editor", "staff_bot"]

GEOD = Geod(ellps="WGS84")
AREA = json.loads(_square(OLAYA, 800))
HUGE = {"type": "Polygon", "coordinates": [[[45.85, 23.86], [47.65, 23.86], [47.65, 25.65], [45.85, 25.65],
                                            [45.85, 23.86]]]}  # fmt: skip
BOW_TIE = {"type": "Polygon", "coordinates": [[[46.67, 24.70], [46.68, 24.71], [46.68, 24.70], [46.67, 24.71],
                                               [46.67, 24.70]]]}  # fmt: skip
LINE = {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in KING_FAHD]}


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"webapp_url": WEBAPP}


def to_me(user: FakeUser):  # type: ignore[no-untyped-def]
    return lambda c: c.method in ("sendMessage", "sendPhoto") and c.chat_id == user.id


def draft_of(bot: StaffBot, user: FakeUser) -> dict[str, Any] | None:
    return (bot.app.user_data.get(user.id) or {}).get("emergency_draft")


async def to_preview(bot: StaffBot, user: FakeUser, answer: ApiCall) -> ApiCall:
    """From the hazard question to the preview with the quickest answers."""
    for data in ("eh:flood", "el:warning", "et:headline_ar", "et:headline_en", "et:instruction_ar",
                 "et:instruction_en", "ex:6"):  # fmt: skip
        answer = await bot.press(user, answer, data)
    return answer


@pytest.mark.parametrize("user", [RIYADH, RIYADH_EN], ids=["ar", "en"])
async def test_the_area_question_offers_the_editor_for_an_area_of_the_municipality(editor: Editor, user):
    bot, tr = editor.bot, get_translator(user.language_code or "ar")
    riyadh = municipality_id(bot, "riyadh")

    question, launch = await editor.open(user, "/emergency")

    assert question.text == f"{tr.t('emergency.ask.area')}\n\n{tr.t('emergency.ask.draw')}"
    [button] = question.params["reply_markup"]["inline_keyboard"][0]
    assert button["text"] == tr.t("staff.button.draw")
    token = token_of(launch.url)
    assert (
        launch.url
        == button["web_app"]["url"]
        == f"{WEBAPP}/webapp/editor?lang={tr.lang}&d={token}&e={riyadh}"
    )
    draft = draft_of(bot, user)
    assert draft is not None
    assert draft["map_token"] == token
    page = (await editor.http.get(launch.url.removeprefix(WEBAPP))).text
    config = json.loads(page.split('id="editor-config">', 1)[1].split("</script>", 1)[0])
    assert (config["emergency"], config["mode"], config["draft"]) == (riyadh, "area", token)
    assert 'data-mode="area"' in page
    assert 'data-mode="line"' not in page  # an area, nothing else
    assert f"<h1>{html.escape(tr.t('web.editor.title_emergency'))}</h1>" in page
    assert html.escape(tr.t("web.editor.hint.emergency_area")) in page
    session = await editor.http.post(
        "/webapp/session", json={"initData": launch.init_data, "emergency": riyadh}
    )
    assert session.json() == {"municipalities": ["riyadh"]}  # the page frames this municipality


async def test_a_drawn_area_completes_the_area_step_and_the_emergency_is_declared_with_it(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN, "/emergency")

    response, hazard = await editor.send_and_wait(RIYADH_EN, launch, AREA)

    assert response.json() == {"ok": True, "message": en.t("web.editor.sent")}
    assert hazard.text == en.t("emergency.ask.hazard")
    draft = draft_of(bot, RIYADH_EN)
    assert draft is not None
    assert draft["map_token"] is None  # answered: the same drawing again is stale
    preview = await to_preview(bot, RIYADH_EN, hazard)
    assert en.t("emergency.preview.header") in (preview.text or "")
    done = await bot.press(RIYADH_EN, preview, "ev:confirm")
    (declared,) = bot.services.emergencies.listing("riyadh")
    assert done.text == en.t("emergency.declared", id=declared.first_id)
    assert shapely.from_geojson(declared.area_geojson).equals(shape(AREA))
    assert declared.area_source == "drawn"


async def test_a_drawn_area_larger_than_the_municipality_is_cut_and_the_operator_told_by_how_much(
    editor: Editor,
):
    bot, ar = editor.bot, get_translator("ar")
    _, launch = await editor.open(RIYADH, "/emergency")
    since = len(bot.api.calls)

    response = await editor.send(launch, HUGE)  # the page is not refused: the conversation cuts it

    assert response.status_code == 200
    told, question = await bot.api.wait_for_count(to_me(RIYADH), 2, since=since)
    with session_scope(bot.services.engine) as session:
        riyadh = session.scalars(sa.select(Municipality).where(Municipality.slug == "riyadh")).one()
        boundary = shape(json.loads(riyadh.boundary_geojson))
    inside = abs(GEOD.geometry_area_perimeter(boundary)[0])
    given = abs(GEOD.geometry_area_perimeter(shape(HUGE))[0])
    expected = f"{ar.number(round((1 - inside / given) * 100))}٪"
    assert told.text == ar.t("emergency.area.clipped", percent=expected, municipality=riyadh.name_ar)
    assert question.text == ar.t("emergency.ask.hazard")
    draft = draft_of(bot, RIYADH)
    assert draft is not None
    assert shapely.from_geojson(draft["area"]).equals(boundary.intersection(shape(HUGE)))


async def test_a_crossing_outline_is_refused_by_the_page_and_by_the_conversation(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    question, launch = await editor.open(RIYADH_EN, "/emergency")

    refused = await editor.send(launch, BOW_TIE)  # the server says so first: the page keeps the drawing

    assert refused.status_code == 422
    assert refused.json()["message"] == en.t("geo.self_intersecting")
    # Telegram's own sendData path reaches the conversation unchecked: it has the last word
    token = token_of(launch.url)
    since = len(bot.api.calls)
    bot.api.user_sends_web_app_data(RIYADH_EN, emergency_drawing(BOW_TIE, token, bot))
    told = await bot.api.wait_for(to_me(RIYADH_EN), since=since)
    assert told.text == en.t("geo.self_intersecting")
    assert web_app_urls(told) == web_app_urls(question)  # the editor again, for the same question
    _, hazard = await editor.send_and_wait(RIYADH_EN, launch, AREA)  # the question still waits
    assert hazard.text == en.t("emergency.ask.hazard")


def emergency_drawing(geometry: dict[str, Any], token: str | None, bot: StaffBot) -> str:
    return Drawing(
        json.dumps(geometry), draft=token, emergency_in=municipality_id(bot, "riyadh")
    ).as_web_app_data()


async def test_a_new_token_sent_during_the_emergency_is_refused_and_changes_nothing(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    _, for_new = await editor.open(RIYADH_EN)  # /new's place question, then cancelled
    await bot.say(RIYADH_EN, "/cancel")
    await editor.open(RIYADH_EN, "/emergency")
    before = bot.writes()

    _, told = await editor.send_and_wait(RIYADH_EN, for_new, AREA)

    assert told.text == en.t("staff.drawn.closed")  # /new answers for its own drawing
    assert bot.writes() == before
    draft = draft_of(bot, RIYADH_EN)
    assert draft is not None
    assert draft["area"] is None
    hazard = await bot.say(RIYADH_EN, json.dumps(AREA))  # the emergency still waits for its area
    assert hazard.text == en.t("emergency.ask.hazard")


async def test_a_drawing_for_an_open_new_goes_to_new_while_the_emergency_waits(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    _, for_new = await editor.open(RIYADH_EN)  # /new waits for its place …
    _, for_emergency = await editor.open(RIYADH_EN, "/emergency")  # … and /emergency for its area

    _, shown = await editor.send_and_wait(RIYADH_EN, for_new, LINE)

    assert shown.method == "sendPhoto"  # /new shows the place it received, then asks for the reason
    reason = await bot.reply_to(RIYADH_EN, since=bot.api.calls.index(shown) + 1)
    assert reason.text == en.t("staff.ask.reason")
    draft = draft_of(bot, RIYADH_EN)
    assert draft is not None
    assert (draft["area"], draft["map_token"]) == (None, token_of(for_emergency.url))
    _, hazard = await editor.send_and_wait(RIYADH_EN, for_emergency, AREA)  # and each its own
    assert hazard.text == en.t("emergency.ask.hazard")
    assert shapely.from_geojson(bot.app.user_data[RIYADH_EN.id]["staff_draft"]["values"]["geometry"]).equals(
        shape(LINE)
    )


async def test_an_emergency_drawing_once_answered_or_cancelled_changes_nothing_and_says_so(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    question, launch = await editor.open(RIYADH_EN, "/emergency")
    await bot.say(RIYADH_EN, json.dumps(AREA))  # answered by pasting instead

    _, told = await editor.send_and_wait(RIYADH_EN, launch, HUGE)

    assert told.text == en.t("staff.drawn.stale")
    draft = draft_of(bot, RIYADH_EN)
    assert draft is not None
    assert shapely.from_geojson(draft["area"]).equals(shape(AREA))
    await bot.say(RIYADH_EN, "/cancel")
    _, told = await editor.send_and_wait(RIYADH_EN, editor.launch(RIYADH_EN, question), AREA)
    assert told.text == en.t("emergency.drawn.closed")
    assert draft_of(bot, RIYADH_EN) is None
    assert bot.services.emergencies.listing("riyadh") == []


async def test_a_stranger_sending_a_drawing_is_refused(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    for data in (
        emergency_drawing(AREA, "abc", bot),
        Drawing(json.dumps(LINE), draft="abc").as_web_app_data(),
    ):
        since = len(bot.api.calls)
        bot.api.user_sends_web_app_data(STRANGER, data)
        told = await bot.api.wait_for(to_me(STRANGER), since=since)
        assert told.text == en.t("error.not_authorised")
    assert bot.services.emergencies.listing() == []


async def test_the_editor_refuses_an_area_in_a_municipality_not_the_operators(editor: Editor):
    bot = editor.bot
    _, launch = await editor.open(RIYADH_EN, "/emergency")
    jeddah = municipality_id(bot, "jeddah")

    drawn = await editor.send(launch, AREA, emergency=jeddah)
    session = await editor.http.post(
        "/webapp/session", json={"initData": launch.init_data, "emergency": jeddah}
    )

    assert (drawn.status_code, session.status_code) == (403, 403)
    draft = draft_of(bot, RIYADH_EN)
    assert draft is not None
    assert draft["area"] is None


async def test_the_area_drawn_for_an_update_goes_to_its_preview(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN, "/emergency")
    _, hazard = await editor.send_and_wait(RIYADH_EN, launch, AREA)
    await bot.press(RIYADH_EN, await to_preview(bot, RIYADH_EN, hazard), "ev:confirm")

    menu = await bot.say(RIYADH_EN, "/emergency update")
    question = await bot.press(RIYADH_EN, menu, "ec:area")
    larger = json.loads(_square(OLAYA, 1500))
    since = len(bot.api.calls)
    assert (await editor.send(editor.launch(RIYADH_EN, question), larger)).status_code == 200
    pin, preview = await bot.api.wait_for_count(
        lambda c: c.chat_id == RIYADH_EN.id and c.method in ("sendLocation", "sendMessage"), 2, since=since
    )

    assert pin.method == "sendLocation"
    assert en.t("emergency.preview.header_update") in (preview.text or "")
    await bot.press(RIYADH_EN, preview, "ev:confirm")
    (current,) = bot.services.emergencies.listing("riyadh")
    assert current.version == 2
    assert shapely.from_geojson(current.area_geojson).equals(shape(larger))


async def test_the_draft_and_its_token_outlive_a_restart(editor: Editor):
    bot, en = editor.bot, get_translator("en")
    _, launch = await editor.open(RIYADH_EN, "/emergency")
    await bot.restart()  # a new Application reads the conversation and the draft from the store

    since = len(bot.api.calls)
    bot.api.user_sends_web_app_data(RIYADH_EN, emergency_drawing(AREA, token_of(launch.url), bot))
    hazard = await bot.api.wait_for(to_me(RIYADH_EN), since=since)

    assert hazard.text == en.t("emergency.ask.hazard")
