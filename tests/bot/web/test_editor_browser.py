"""The map editor in a real browser at phone size (390×844): Debian's Chromium, headless, driven by
Playwright. An operator of the real bot (PTB polling the local Bot API) opens it from "Draw on the map",
draws by clicks, taps Done, and the conversation carries on with that shape (``/new``'s place, or
``/emergency``'s area, framed on the municipality); a forged initData gets the page refused. Telegram's own
``telegram-web-app.js`` cannot be fetched here: each test hands the page a
stand-in ``Telegram.WebApp`` carrying the initData the local Bot API signed, or none at all (the page then
reads Telegram's launch parameters from its address, as it does outside Telegram's script).

Screenshots go to ``$ROADBOT_TEST_ARTIFACTS`` (default ``test-artifacts/``): ``editor-<lang>-<what>.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import shapely
from playwright.async_api import Browser, Page, Route
from shapely.geometry import LineString, Point, Polygon

from bot.i18n import get_translator
from bot.localapi import FakeUser, WebAppLaunch
from bot.web.editor_page import TELEGRAM_SCRIPT
from geo.osrm import OsrmHttp
from geo.routing import FallbackRouter
from tests.bot.handlers.staff.conftest import ADMIN, JEDDAH_POINT, KING_FAHD, RIYADH, RIYADH_EN
from tests.bot.web.editor_support import WEBAPP, Editor, editor, municipality_id, staff_bot
from tests.bot.web.test_map_browser import artifacts_dir, browser, chromium_path
from tests.fakes.routing import RoutingServer, bent_line

__all__ = ["browser", "chromium_path", "editor", "staff_bot"]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"webapp_url": WEBAPP}


@pytest.fixture
def roads(editor: Editor) -> Iterator[RoutingServer]:
    """A road router for snapping (a local OSRM stand-in whose roads bend east of the straight line)."""
    with RoutingServer().running() as server:
        router = FallbackRouter(OsrmHttp(server.url))
        editor.bot.services.router = router
        yield server
        router.close()


def stand_in(init_data: str | None) -> str:
    """A stand-in for telegram-web-app.js: ``Telegram.WebApp`` with ``init_data``; close() is recorded."""
    if init_data is None:
        return "/* outside Telegram */"
    web_app = (
        f"{{initData: {json.dumps(init_data)}, ready() {{ window.tgReady = true; }}, expand() {{}},"
        " close() { window.tgClosed = true; }}"
    )
    return f"window.Telegram = {{WebApp: {web_app}}};"


async def open_editor(
    browser: Browser, editor: Editor, launch: WebAppLaunch, *, init_data: str | None = None, sdk: bool = True
) -> tuple[Page, list[str]]:
    """The editor as Telegram opens it for ``launch``, once ready (or refused); and every URL it asked for."""
    page = await browser.new_page(viewport=PHONE, device_scale_factor=2)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    async def telegram_script(route: Route) -> None:
        if sdk:
            body = stand_in(launch.init_data if init_data is None else init_data)
            await route.fulfill(body=body, content_type="application/javascript")
        else:
            await route.abort()

    await page.route(TELEGRAM_SCRIPT, telegram_script)
    target = launch.url_with_launch_params if not sdk else launch.url
    parts = urlsplit(target)  # the public HTTPS address, served here by the local web server
    local = f"{editor.server.url}{parts.path}?{parts.query}" + (
        f"#{parts.fragment}" if parts.fragment else ""
    )
    await page.goto(local)
    await page.wait_for_selector("body:is([data-state=ready], [data-state=refused])", timeout=30_000)
    return page, requested


async def click_map(page: Page, *fractions: tuple[float, float]) -> list[tuple[float, float]]:
    """Click the map at each (x, y) fraction of its box; the (lon, lat) Leaflet read from each click."""
    await page.evaluate(
        "window.clicks = []; roadbotEditor.map.on('click', (e) => "
        "window.clicks.push([Math.round(e.latlng.lng * 1e7) / 1e7, Math.round(e.latlng.lat * 1e7) / 1e7]))"
    )
    box = await page.locator("#map").bounding_box()
    assert box is not None
    for fx, fy in fractions:
        await page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    return [(lon, lat) for lon, lat in await page.evaluate("window.clicks")]


async def done_and_carry_on(editor: Editor, page: Page, user: FakeUser) -> None:
    """Tap Done: the page says sent and closes; the chat shows the drawing and asks the next question."""
    bot, tr = editor.bot, get_translator(user.language_code or "ar")
    since = len(bot.api.calls)
    await page.click("#done")
    await page.wait_for_selector("body[data-state=sent]")
    assert await page.text_content("#notice") == tr.t("web.editor.sent")
    shown = await bot.api.wait_for(lambda c: c.chat_id == user.id and c.method == "sendPhoto", since=since)
    reason = await bot.reply_to(user, since=bot.api.calls.index(shown) + 1)
    assert reason.text == tr.t("staff.ask.reason")
    await bot.press(user, await bot.to_preview(user, reason), "sv:confirm")


async def test_a_line_drawn_by_clicks_follows_the_road_and_continues_the_conversation(
    browser: Browser, editor: Editor, roads: RoutingServer
):
    tr = get_translator("en")
    question = await editor.bot.say(RIYADH_EN, "/new")
    page, requested = await open_editor(browser, editor, editor.launch(RIYADH_EN, question))
    assert await page.get_attribute("html", "dir") == "ltr"
    assert await page.text_content("#hint") == tr.t("web.editor.hint.line")
    assert await page.evaluate("window.tgReady") is True

    taps = await click_map(page, (0.42, 0.40), (0.58, 0.62))
    await page.wait_for_function("document.body.dataset.pending === '0'")
    assert await page.get_attribute("body", "data-taps") == "2"
    await page.screenshot(path=str(artifacts_dir() / "editor-en-line.png"))
    await done_and_carry_on(editor, page, RIYADH_EN)

    stored = shapely.from_geojson(editor.bot.newest().geometry_geojson)
    assert stored.equals_exact(LineString(bent_line(*taps)), 2e-6)  # each leg along the router's road
    await page.wait_for_function("window.tgClosed === true")  # and the page gave the chat back
    assert all(url.startswith(editor.server.url) or url == TELEGRAM_SCRIPT for url in requested), requested


async def test_an_area_drawn_by_clicks_with_an_undo_is_the_closure_in_arabic(
    browser: Browser, editor: Editor
):
    tr = get_translator("ar")
    question = await editor.bot.say(RIYADH, "/new")
    page, _ = await open_editor(browser, editor, editor.launch(RIYADH, question))
    assert await page.get_attribute("html", "dir") == "rtl"
    assert await page.eval_on_selector(".tools", "e => getComputedStyle(e).direction") == "rtl"

    await page.click("button[data-mode=area]")
    assert await page.text_content("#hint") == tr.t("web.editor.hint.area")
    assert await page.is_disabled("#done")
    corners = await click_map(page, (0.35, 0.35), (0.65, 0.38), (0.60, 0.65), (0.2, 0.9))
    await page.click("#undo")  # the last corner was a slip
    assert await page.get_attribute("body", "data-taps") == "3"
    await page.screenshot(path=str(artifacts_dir() / "editor-ar-area.png"))
    await done_and_carry_on(editor, page, RIYADH)

    stored = shapely.from_geojson(editor.bot.newest().geometry_geojson)
    assert stored.equals_exact(Polygon(corners[:3]), 1e-6)


async def test_a_point_with_a_radius_outside_telegrams_script_reads_the_launch_parameters(
    browser: Browser, editor: Editor
):
    question = await editor.bot.say(RIYADH, "/new")
    page, _ = await open_editor(browser, editor, editor.launch(RIYADH, question), sdk=False)
    assert await page.get_attribute("body", "data-state") == "ready"  # initData from #tgWebAppData

    await page.click("button[data-mode=point]")
    [where] = await click_map(page, (0.5, 0.5))
    await page.click("button[data-radius='250']")
    assert await page.get_attribute("button[data-radius='250']", "aria-checked") == "true"
    await page.screenshot(path=str(artifacts_dir() / "editor-ar-point.png"))
    await done_and_carry_on(editor, page, RIYADH)

    closure = editor.bot.newest()
    assert shapely.from_geojson(closure.geometry_geojson).equals_exact(Point(where), 1e-7)
    assert closure.radius_m == 250.0


@pytest.mark.parametrize(("user", "lang"), [(RIYADH, "ar"), (RIYADH_EN, "en")], ids=["ar", "en"])
async def test_a_forged_initdata_gets_the_page_refused_and_nothing_can_be_sent(
    browser: Browser, editor: Editor, user: FakeUser, lang: str
):
    tr = get_translator(lang)
    question = await editor.bot.say(user, "/new")
    launch = editor.launch(user, question)
    forged = launch.init_data.replace(f"%22id%22%3A{user.id}", "%22id%22%3A9001")  # pretend to be the admin

    page, _ = await open_editor(browser, editor, launch, init_data=forged)

    assert await page.get_attribute("body", "data-state") == "refused"
    assert await page.text_content("#notice") == tr.t("web.editor.refused.forged")
    assert await page.is_disabled("#done")
    assert await page.is_disabled("button[data-mode=area]")
    await page.screenshot(path=str(artifacts_dir() / f"editor-{lang}-refused.png"))


async def test_an_emergencys_area_is_drawn_in_its_municipality_and_answers_the_area_question(
    browser: Browser, editor: Editor
):
    bot, tr = editor.bot, get_translator("ar")
    which = await bot.say(ADMIN, "/emergency")  # an admin of every municipality declares one for Riyadh
    question = await bot.press(ADMIN, which, f"em:{municipality_id(bot, 'riyadh')}")
    page, _ = await open_editor(browser, editor, editor.launch(ADMIN, question))

    assert await page.locator("button[data-mode]").count() == 1  # an area, nothing else
    assert await page.get_attribute("body", "data-mode") == "area"
    assert await page.text_content("#hint") == tr.t("web.editor.hint.emergency_area")
    assert await page.text_content("h1") == tr.t("web.editor.title_emergency")
    south, west, north, east = await page.evaluate(
        "(() => { const b = roadbotEditor.map.getBounds();"
        " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; })()"
    )
    assert south < KING_FAHD[0][0] < north  # Riyadh is framed …
    assert west < KING_FAHD[0][1] < east
    assert not south < JEDDAH_POINT[0] < north  # … not every municipality of the admin's

    corners = await click_map(page, (0.40, 0.40), (0.60, 0.42), (0.55, 0.60))
    await page.screenshot(path=str(artifacts_dir() / "editor-ar-emergency-area.png"))
    since = len(bot.api.calls)
    await page.click("#done")
    await page.wait_for_selector("body[data-state=sent]")

    hazard = await bot.reply_to(ADMIN, since=since)
    assert hazard.text == tr.t("emergency.ask.hazard")
    draft = bot.app.user_data[ADMIN.id]["emergency_draft"]
    assert shapely.from_geojson(draft["area"]).equals_exact(Polygon(corners), 1e-6)
