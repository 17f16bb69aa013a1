"""The feed endpoints over HTTP (httpx → ASGI, a real migrated database): content types, ETag and 304,
Cache-Control, open CORS, bodies the official schemas accept, one build per change, off the event loop.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from lxml import etree
from starlette.applications import Starlette

import closures.feeds
from bot.config import Settings
from bot.services import Services
from bot.web.feed_routes import feed_routes
from closures.formats.atom import ATOM
from tests.closures.conftest import draft_factory
from tests.closures.feeds_support import SYSTEM, cifs_schema, load_variety, wzdx_errors

FEEDS = {
    "/feeds/closures.geojson": "application/geo+json",
    "/feeds/wzdx.json": "application/geo+json",
    "/feeds/waze.json": "application/json",
    "/feeds/waze.xml": "application/xml; charset=utf-8",
    "/feeds/closures.atom": "application/atom+xml; charset=utf-8",
}


@pytest.fixture
def services(engine, clock, municipalities):
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        index_check_interval_s=3600,
        feed_max_age_s=30,
        feed_publisher="Riyadh roads",
    )
    built = Services.build(settings, clock=clock)
    load_variety(built.closures, clock)
    yield built
    built.close()


@pytest.fixture
async def client(services):
    app = Starlette(routes=feed_routes(services))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://roads.example"
    ) as c:
        yield c


@pytest.fixture
def snapshots(monkeypatch):
    """Every feed snapshot taken, with the thread it was taken on (the real function still runs)."""
    taken: list[int] = []
    real = closures.feeds.feed_snapshot

    def recording(engine, now):
        taken.append(threading.get_ident())
        return real(engine, now)

    monkeypatch.setattr(closures.feeds, "feed_snapshot", recording)
    return taken


@pytest.mark.parametrize(("path", "content_type"), FEEDS.items())
async def test_each_feed_answers_with_its_type_validators_and_open_cors(client, path, content_type):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "public, max-age=30"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
    assert response.headers["last-modified"].endswith(" GMT")
    assert b"t-point" in response.content or b"urn:uuid:" in response.content


@pytest.mark.parametrize("path", FEEDS)
async def test_a_matching_if_none_match_gets_304_and_no_body(client, path):
    first = await client.get(path)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(path, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"
    stale = await client.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == first.content


async def test_a_change_gives_a_new_etag_and_the_old_one_a_full_answer(client, services, clock):
    before = await client.get("/feeds/wzdx.json")
    closure = services.closures.register("riyadh", draft_factory(clock)(ref="new-one"), SYSTEM)
    after = await client.get("/feeds/wzdx.json", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert closure.ref in {f["id"] for f in after.json()["features"]}


async def test_preflight_is_answered_for_any_origin(client):
    response = await client.options(
        "/feeds/waze.json",
        headers={"Origin": "https://map.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "if-none-match"},
    )  # fmt: skip
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "If-None-Match" in response.headers["access-control-allow-headers"]


async def test_served_wzdx_and_cifs_pass_the_official_schemas(client):
    wzdx = (await client.get("/feeds/wzdx.json")).json()
    assert wzdx["feed_info"]["publisher"] == "Riyadh roads"
    assert len(wzdx["features"]) == 6
    assert wzdx_errors(wzdx) == []
    schema = cifs_schema()
    document = etree.fromstring((await client.get("/feeds/waze.xml")).content)
    assert schema.validate(document), schema.error_log
    waze = (await client.get("/feeds/waze.json")).json()
    assert sorted(i["id"] for i in waze["incidents"]) == sorted(
        i.get("id") for i in document.iter("incident")
    )
    geojson = (await client.get("/feeds/closures.geojson")).json()
    assert len(geojson["features"]) == 6


async def test_atom_is_in_the_asked_language_and_links_to_itself(client):
    arabic = fromstring((await client.get("/feeds/closures.atom")).content)
    assert arabic.findtext(f"{{{ATOM}}}title") == "إغلاقات الطرق"
    english = fromstring((await client.get("/feeds/closures.atom?lang=en")).content)
    assert english.findtext(f"{{{ATOM}}}title") == "Road closures"
    link = english.find(f"{{{ATOM}}}link[@rel='self']").get("href")
    assert link == "http://roads.example/feeds/closures.atom?lang=en"


async def test_one_snapshot_per_change_taken_off_the_event_loop(client, services, snapshots, clock):
    loop_thread = threading.get_ident()
    for _ in range(3):
        for path in FEEDS:
            assert (await client.get(path)).status_code == 200
    assert len(snapshots) == 1, "every feed was built from one read of the store"
    assert loop_thread not in snapshots

    services.closures.register("riyadh", draft_factory(clock)(ref="new-one"), SYSTEM)
    assert "new-one" in (await client.get("/feeds/waze.json")).text
    assert len(snapshots) == 2


async def test_a_closure_ending_drops_out_without_a_write(client, services):
    first = (await client.get("/feeds/waze.json")).json()
    assert "t-point" in {i["id"] for i in first["incidents"]}
    services.clock.advance(timedelta(hours=2))  # t-point ended; nothing was written
    later = (await client.get("/feeds/waze.json")).json()
    assert "t-point" not in {i["id"] for i in later["incidents"]}


async def test_an_unreachable_database_is_a_503_not_a_traceback(tmp_path: Path, clock):
    settings = Settings(database_url=f"sqlite:///{tmp_path}")  # a directory: SQLite cannot open it
    broken = Services.build(settings, clock=clock)
    app = Starlette(routes=feed_routes(broken))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        response = await c.get("/feeds/wzdx.json")
    broken.close()
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable"}
    assert response.headers["retry-after"] == "5"
    assert json.dumps(response.json()).isascii()


async def test_gzip_is_sent_to_clients_that_accept_it_each_with_its_own_etag(client):
    plain = await client.get("/feeds/wzdx.json", headers={"Accept-Encoding": "identity"})
    zipped = await client.get("/feeds/wzdx.json", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"]) / 3
    assert zipped.content == plain.content  # httpx decoded it: the same feed
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] == plain.headers["etag"][:-1] + '-gz"'
    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        again = await client.get(
            "/feeds/wzdx.json", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"}
        )
        assert again.status_code == 304


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [("gzip", True), ("br, gzip;q=0.5", True), ("*", True), ("gzip;q=0", False), ("gzip;q=0.0", False),
     ("deflate", False), ("", False)],
)  # fmt: skip
async def test_gzip_only_when_the_client_accepts_it(client, accept, gzipped):
    response = await client.get("/feeds/waze.json", headers={"Accept-Encoding": accept})
    assert (response.headers.get("content-encoding") == "gzip") is gzipped
    assert response.json()["incidents"]
