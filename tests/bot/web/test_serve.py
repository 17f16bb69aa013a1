"""The whole web process: the feeds are served beside the map page, which links to them, and a running
server polls the partner feeds of its settings.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.config import PartnerFeed
from bot.runner import Listen, Started, serve_web
from bot.services import Services
from bot.web.site import build_web_app
from closures.models import Closure
from closures.store import session_scope
from tests.bot.web.test_partners import event as wzdx_event
from tests.bot.web.test_partners import wzdx
from tests.bot.web.test_site import Serve, expected_closures
from tests.fakes.partner_feed import PartnerFeedServer

FEED_TYPES = {
    "feeds/closures.geojson": "application/geo+json",
    "feeds/wzdx.json": "application/geo+json",
    "feeds/waze.xml": "application/xml",
    "feeds/closures.atom": "application/atom+xml",
    "feeds/cap.atom": "application/atom+xml",
}


def not_ended(services: Services) -> set[int]:
    now = services.clock()
    with session_scope(services.engine) as session:
        rows = session.exec(select(Closure).where(Closure.status == "open")).all()
    return {r.id for r in rows if r.id and (r.ends_at is None or r.ends_at > now)}


@pytest.fixture
def partner() -> Iterator[PartnerFeedServer]:
    with PartnerFeedServer().running() as running:
        yield running


@pytest.mark.parametrize("lang", ["ar", "en"])
async def test_the_map_page_links_to_every_feed_and_the_web_app_serves_them(
    sample_services: Services, serve_asgi: Serve, lang: str
):
    server = await serve_asgi(build_web_app(sample_services))
    active, upcoming = expected_closures(sample_services)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = (await client.get(f"/?lang={lang}")).text
        links = re.findall(r'<a href="(feeds/[^"]+)"', page)
        answers = {link: await client.get(f"/{link}") for link in links}
    assert {link.split("?")[0] for link in links} == set(FEED_TYPES)
    for link, answer in answers.items():
        assert answer.status_code == 200, link
        assert answer.headers["content-type"].startswith(FEED_TYPES[link.split("?")[0]]), link
        assert answer.headers["access-control-allow-origin"] == "*"
    geojson = answers["feeds/closures.geojson"].json()
    # The feeds carry every planned closure (navigation apps plan ahead); the map, the next HORIZON_HOURS.
    assert set(active) | set(upcoming) <= {f["id"] for f in geojson["features"]} == not_ended(sample_services)
    atom = answers[f"feeds/closures.atom?lang={lang}"].text
    some_id = next(iter(active))
    assert f"/#closure-{some_id}" in atom  # the entry opens that closure on the map page


async def test_a_running_web_server_polls_the_partner_feeds_of_its_settings(
    sample_services: Services, partner: PartnerFeedServer
):
    partner.body = wzdx(wzdx_event("pa-1", start="2026-11-27T08:00:00Z", end="2026-11-27T18:00:00Z"))
    feed = PartnerFeed(url=partner.url(), format="wzdx", municipality="riyadh", interval_s=600)
    services = sample_services
    services.settings = services.settings.model_copy(update={"partner_feeds": [feed]})
    loop = asyncio.get_running_loop()
    committed, ready, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    urls: list[str] = []

    def on_commit(_connection: object) -> None:  # the import commits in a worker thread
        loop.call_soon_threadsafe(committed.set)

    def on_start(started: Started) -> None:
        urls.append(str(started.web_url))
        ready.set()

    def imported() -> Closure | None:
        with session_scope(services.engine) as session:
            return session.exec(select(Closure).where(Closure.ref == "pa-1")).first()

    event.listen(services.engine, "commit", on_commit)
    task = asyncio.create_task(serve_web(services, stop, listen=Listen("127.0.0.1", 0), started=on_start))
    try:
        await asyncio.wait_for(ready.wait(), timeout=20)
        async with asyncio.timeout(20):
            while (closure := await asyncio.to_thread(imported)) is None:
                await committed.wait()
                committed.clear()
        async with httpx.AsyncClient(base_url=urls[0], timeout=10) as client:
            served = (await client.get("/feeds/wzdx.json")).json()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        event.remove(services.engine, "commit", on_commit)
    assert closure.source == "wzdx:127.0.0.1"
    assert closure.ref in {f["id"] for f in served["features"]}  # and the web app serves it on
    assert len(partner.requests) == 1  # the next poll is ten minutes away
