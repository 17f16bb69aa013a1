"""The map page in a real browser: Debian's Chromium, headless, driven by Playwright (no browser download).

Off CI, without Chromium, these tests are skipped with a reason; on CI (``CI=true``) they fail instead.
Screenshots are kept in ``$ROADBOT_TEST_ARTIFACTS`` (default: ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from shapely.geometry import Point
from sqlmodel import select

from bot.i18n import get_translator
from bot.services import Services
from bot.web.serving import WebServer
from bot.web.site import build_web_app
from closures import municipalities
from closures.models import Municipality
from closures.service import Actor
from closures.store import session_scope
from tests.closures.conftest import draft_factory
from tests.conftest import ROOT, FakeClock

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
type Serve = Callable[..., Awaitable[WebServer]]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("ROADBOT_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = os.environ.get("ROADBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {path} on CI: install Debian's chromium package")
        pytest.skip(f"no Chromium at {path} (apt-get install chromium, or set ROADBOT_CHROMIUM)")
    return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_map(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """The page at ``url`` once its closures are drawn, and every URL it requested."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(url)
    await page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    return page, requested


FADED_IN = "getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"


async def shown_ids(page: Page, selector: str) -> list[int]:
    values = await page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.closureId)")
    return sorted(int(v) for v in values)


@pytest.mark.parametrize(("lang", "direction"), [("ar", "rtl"), ("en", "ltr")])
async def test_the_map_draws_one_layer_and_one_list_item_per_closure(
    browser: Browser, sample_services: Services, serve_asgi: Serve, lang: str, direction: str
):
    server = await serve_asgi(build_web_app(sample_services))
    async with httpx.AsyncClient() as client:
        data = (await client.get(f"{server.url}/map/closures.json?lang={lang}")).json()
    features = data["features"]
    expected = sorted(f["id"] for f in features)
    kinds = {f["geometry"]["type"] for f in features}
    assert kinds == {"Point", "LineString", "Polygon"}  # markers, lines and areas are all drawn

    page, requested = await open_map(browser, f"{server.url}/?lang={lang}")

    assert await shown_ids(page, "#map [data-closure-id]") == expected  # one Leaflet layer each
    assert await shown_ids(page, "#closures li[data-closure-id]") == expected
    boundaries = page.locator(".leaflet-overlay-pane path:not([data-closure-id])")
    assert await boundaries.count() == 2  # Riyadh's and Jeddah's, under the closures
    assert await page.get_attribute("html", "dir") == direction
    assert await page.eval_on_selector(".side", "e => getComputedStyle(e).direction") == direction
    assert await page.text_content("#summary") == data["summary"]
    await page.screenshot(path=str(artifacts_dir() / f"map-{lang}.png"))
    first = features[0]["properties"]
    await page.click(f"#closures li[data-closure-id='{features[0]['id']}']")
    popup = page.locator(".leaflet-popup-content .title")
    await popup.wait_for()
    assert await popup.text_content() == first["title"]
    assert await page.locator(".leaflet-popup-content .popup").get_attribute("dir") == direction
    assert all(url.startswith(server.url) for url in requested), requested  # nothing from a CDN
    await page.wait_for_function(FADED_IN)  # the screenshot shows the popup, not its fade-in
    await page.screenshot(path=str(artifacts_dir() / f"map-{lang}-popup.png"))


async def test_the_map_refreshes_itself_when_a_closure_is_added(
    browser: Browser, sample_services: Services, serve_asgi: Serve, clock: FakeClock
):
    sample_services.settings = sample_services.settings.model_copy(update={"map_refresh_s": 1})
    server = await serve_asgi(build_web_app(sample_services))
    page, _ = await open_map(browser, f"{server.url}/?lang=en")
    before = await shown_ids(page, "#closures li[data-closure-id]")

    draft = draft_factory(clock)(
        geometry=Point(46.70, 24.66), radius_m=300.0, starts_at=clock.now + timedelta(hours=2)
    )
    added = sample_services.closures.register("riyadh", draft, Actor.system("test"))
    await page.wait_for_function(f"document.body.dataset.closures === '{len(before) + 1}'", timeout=30_000)

    assert await shown_ids(page, "#map [data-closure-id]") == sorted([*before, added.id])
    item = page.locator(f"#closures li[data-closure-id='{added.id}']")
    assert "upcoming" in (await item.get_attribute("class") or "")
    assert get_translator("en").t("web.phase.upcoming") in (await item.text_content() or "")


async def test_a_link_to_one_closure_opens_the_map_on_it(
    browser: Browser, sample_services: Services, serve_asgi: Serve
):
    server = await serve_asgi(build_web_app(sample_services))
    async with httpx.AsyncClient() as client:
        atom = (await client.get(f"{server.url}/feeds/closures.atom?lang=en")).text
        data = (await client.get(f"{server.url}/map/closures.json?lang=ar")).json()  # Riyadh's own language
    wanted = data["features"][-1]
    link = f"{server.url}/#closure-{wanted['id']}"
    assert f'href="{link}"' in atom  # what a feed reader opens

    page, _ = await open_map(browser, link)

    popup = page.locator(".leaflet-popup-content .title")
    await popup.wait_for()
    assert await popup.text_content() == wanted["properties"]["title"]


async def on_screen(page: Page, ids: list[int]) -> list[int]:
    """Which of these closures' layers lie inside the map's visible box."""
    visible = await page.evaluate(
        """ids => { const box = document.getElementById('map').getBoundingClientRect();
        return ids.filter(id => [...document.querySelectorAll(`#map [data-closure-id='${id}']`)].some(e => {
          const r = e.getBoundingClientRect();
          return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
        })); }""",
        ids,
    )
    return sorted(visible)


async def by_municipality(server: WebServer, services: Services) -> dict[str, list[int]]:
    async with httpx.AsyncClient() as client:
        data = (await client.get(f"{server.url}/map/closures.json?lang=en")).json()
    slugs = {
        m.id: m.slug for m in __import__("closures.municipalities").municipalities.every(services.engine)
    }
    out: dict[str, list[int]] = {}
    for feature in data["features"]:
        out.setdefault(slugs[feature["properties"]["m"]], []).append(feature["id"])
    return out


@pytest.mark.parametrize(("viewport", "name"), [((1280, 800), "desktop"), ((390, 844), "phone")])
async def test_the_map_opens_on_the_municipality_with_most_closures_in_force_named_and_fitted(
    browser: Browser, sample_services: Services, serve_asgi: Serve, viewport: tuple[int, int], name: str
):
    server = await serve_asgi(build_web_app(sample_services))
    ids = await by_municipality(server, sample_services)
    assert len(ids["riyadh"]) > len(ids["jeddah"]) > 0
    page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    await page.goto(f"{server.url}/")  # no ?lang: Riyadh's own language, Arabic, whatever the browser says
    await page.wait_for_selector("body[data-state=ready]", timeout=30_000)

    ar = get_translator("ar")
    assert await page.get_attribute("html", "lang") == "ar"
    riyadh = municipalities.find(sample_services.engine, "riyadh")
    assert riyadh is not None
    assert await page.text_content("h1") == ar.t("web.map.heading_in", city=riyadh.name_ar)
    assert await on_screen(page, ids["jeddah"]) == []  # 850 km away: not squeezed into the same view
    assert len(await on_screen(page, ids["riyadh"])) >= len(ids["riyadh"]) * 0.8  # fitted to Riyadh's
    assert await page.locator(".legend li").count() == 2
    updated = (await page.text_content("#updated") or "").replace("\u2068", "").replace("\u2069", "")
    assert updated.startswith("آخر تحديث ")
    await page.screenshot(path=str(artifacts_dir() / f"map-opening-{name}.png"))


async def test_m_opens_another_municipality_and_lang_still_wins(
    browser: Browser, sample_services: Services, serve_asgi: Serve
):
    server = await serve_asgi(build_web_app(sample_services))
    ids = await by_municipality(server, sample_services)
    page, _ = await open_map(browser, f"{server.url}/?m=jeddah&lang=en")
    assert await page.get_attribute("html", "lang") == "en"
    assert "Jeddah" in (await page.text_content("h1") or "")
    assert await on_screen(page, ids["riyadh"]) == []
    assert await on_screen(page, ids["jeddah"]) == sorted(ids["jeddah"])
    assert (await page.text_content("#updated") or "").startswith("Last updated ")


async def test_the_browser_language_counts_only_where_the_municipality_sets_none(
    browser: Browser, sample_services: Services, serve_asgi: Serve
):

    server = await serve_asgi(build_web_app(sample_services))
    context = await browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US,en"})
    page = await context.new_page()
    await page.goto(f"{server.url}/?m=jeddah")
    assert await page.get_attribute("html", "lang") == "ar"  # Jeddah says Arabic
    with session_scope(sample_services.engine, write=True) as session:
        jeddah = session.exec(select(Municipality).where(Municipality.slug == "jeddah")).one()
        jeddah.language = None
        session.add(jeddah)
    await page.goto(f"{server.url}/?m=jeddah")
    assert await page.get_attribute("html", "lang") == "en"  # no language of its own: the browser's
    await context.close()
