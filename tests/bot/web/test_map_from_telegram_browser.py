"""The live map as a driver's "Live map" button opens it inside Telegram (``?at=lat,lon&ids=…``), in a real
browser at phone size: centred on the driver, their closures highlighted, the others in the background."""

from __future__ import annotations

import httpx
import shapely.geometry
from playwright.async_api import Browser

from bot.i18n import get_translator
from bot.services import Services
from bot.web.site import build_web_app
from bot.webapp.links import map_url
from tests.bot.web.test_map_browser import (
    CHROMIUM_ARGS,
    Serve,
    artifacts_dir,
    browser,
    chromium_path,
    shown_ids,
)

__all__ = ["CHROMIUM_ARGS", "browser", "chromium_path"]


async def test_the_live_map_from_a_drivers_button_frames_the_driver_and_their_closures(
    browser: Browser, sample_services: Services, serve_asgi: Serve
):
    server = await serve_asgi(build_web_app(sample_services))
    async with httpx.AsyncClient() as client:
        features = (await client.get(f"{server.url}/map/closures.json?lang=en")).json()["features"]
    # a driver beside a point closure, told of it and of the next nearest one (as a list would say)
    first = next(f for f in features if f["geometry"]["type"] == "Point")
    lon, lat = first["geometry"]["coordinates"]
    nearest = min(
        (f for f in features if f is not first),
        key=lambda f: shapely.geometry.shape(f["geometry"]).distance(shapely.geometry.Point(lon, lat)),
    )
    told = [first["id"], nearest["id"]]
    url = map_url(server.url, lang="en", lat=lat + 0.01, lon=lon, closure_ids=told)

    page = await browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    await page.goto(url)
    await page.wait_for_selector("body[data-state=ready]", timeout=30_000)

    assert await shown_ids(page, "#closures li.listed") == sorted(told)
    here = page.locator("#map [data-here]")
    assert await here.count() == 1
    map_box = await page.locator("#map").bounding_box()
    assert map_box is not None

    def inside(box: dict[str, float] | None) -> bool:
        assert box is not None
        assert map_box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        return map_box["x"] <= cx <= map_box["x"] + map_box["width"] and (
            map_box["y"] <= cy <= map_box["y"] + map_box["height"]
        )

    assert inside(await here.bounding_box())
    for closure_id in told:
        assert inside(await page.locator(f"#map [data-closure-id='{closure_id}']").first.bounding_box())
    others = page.locator("#map path[data-closure-id]")
    faded = {
        await others.nth(i).get_attribute("data-closure-id"): await others.nth(i).get_attribute(
            "stroke-opacity"
        )
        for i in range(await others.count())
    }
    assert {cid for cid, opacity in faded.items() if opacity == "0.9"} == {str(i) for i in told}
    await here.hover()
    assert await page.locator(".leaflet-tooltip").text_content() == get_translator("en").t("web.map.here")
    await page.screenshot(path=str(artifacts_dir() / "map-live-en.png"))
