"""The CAP feed over HTTP (httpx → the whole site's ASGI app, a real migrated database): the Atom index lists
the emergencies in force, each entry's link serves a CAP alert valid against the OASIS schema and true to
our rules (inside the municipality, lat,lon, references), old versions stay at their URL, a draft is
never served; ETag/304, gzip and open CORS like the other feeds; the map page links the CAP feed."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from datetime import timedelta

import httpx
import pytest
import shapely
from shapely.geometry import box

from bot.config import Settings
from bot.services import Services
from bot.web.site import build_web_app
from closures.formats.atom import ATOM
from closures.service import Actor
from tests.closures.cap_support import CAP, rule_errors, schema_errors
from tests.closures.emergency_support import declaration

STAFF = Actor.system("test")
A = f"{{{ATOM}}}"


@pytest.fixture
def services(engine, clock, municipalities):
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        index_check_interval_s=3600,
        feed_publisher="Riyadh roads",
        cap_sender="alerts@roads.example.org",
    )
    built = Services.build(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
async def client(services):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_web_app(services)), base_url="http://roads.example"
    ) as c:
        yield c


@pytest.fixture
def riyadh(municipalities):
    return shapely.from_geojson(municipalities["riyadh"].boundary_geojson)


def _declare(services, clock, **overrides):
    return services.emergencies.declare("riyadh", declaration(clock)(**overrides), STAFF).emergency


async def _entries(client, lang="ar"):
    response = await client.get(f"/feeds/cap.atom?lang={lang}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)
    return [(e.findtext(f"{A}title"), e.find(f"{A}link").get("href")) for e in feed.iter(f"{A}entry")]


async def _alert(client, href):
    response = await client.get(href)
    assert response.status_code == 200, href
    assert response.headers["content-type"] == "application/cap+xml; charset=utf-8"
    return response.content


async def test_every_alert_the_feed_links_is_valid_cap_inside_the_municipality(
    client, services, clock, riyadh
):
    flood = _declare(services, clock)
    clock.advance(timedelta(minutes=5))
    services.emergencies.update(flood.first_id, {"level": "warning"}, STAFF)
    two_parts = shapely.union_all([box(46.60, 24.90, 46.70, 25.00), box(46.60, 24.50, 46.70, 24.60)])
    clock.advance(timedelta(minutes=1))
    _declare(
        services, clock, area=two_parts, hazard="sandstorm", level="alert", headline_en="Dust north and south"
    )
    clock.advance(timedelta(minutes=1))
    _declare(services, clock, exercise=True, headline_en="Exercise: floods in the centre")
    entries = await _entries(client, "en")
    assert [title for title, _ in entries] == [
        "Exercise: floods in the centre", "Dust north and south", "Flooding in central Riyadh",
    ]  # fmt: skip
    kinds = []
    for _, href in entries:
        assert href.startswith("http://roads.example/feeds/cap/")
        document = await _alert(client, href)
        assert schema_errors(document) == []
        assert rule_errors(document, within=riyadh) == []
        root = ET.fromstring(document)
        kinds.append((root.findtext(f"{CAP}msgType"), root.findtext(f"{CAP}status")))
        assert root.findtext(f"{CAP}sender") == "alerts@roads.example.org"
        assert [i.findtext(f"{CAP}language") for i in root.iter(f"{CAP}info")] == ["ar-SA", "en-US"]
    assert kinds == [("Alert", "Test"), ("Alert", "Actual"), ("Update", "Actual")]
    dust = ET.fromstring(await _alert(client, entries[1][1]))
    assert len(list(dust.iter(f"{CAP}polygon"))) == 4, "two polygons in each language's area"
    assert dust.find(f"{CAP}info").findtext(f"{CAP}event") == "عاصفة رملية"


async def test_old_versions_stay_served_and_the_end_references_them_all(client, services, clock, riyadh):
    first = _declare(services, clock)
    clock.advance(timedelta(minutes=5))
    services.emergencies.update(first.first_id, {"level": "warning"}, STAFF)
    clock.advance(timedelta(minutes=5))
    end = services.emergencies.end(first.first_id, STAFF).emergency
    [(_, href)] = await _entries(client)
    assert href.endswith(f"/feeds/cap/{end.identifier}.xml"), "ended: its Cancel is listed for a day"
    cancel = ET.fromstring(await _alert(client, href))
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    references = cancel.findtext(f"{CAP}references").split()
    assert references[0].split(",")[1] == first.identifier
    assert len(references) == 2
    old = await _alert(client, f"/feeds/cap/{first.identifier}.xml")
    assert schema_errors(old) == []
    clock.advance(timedelta(days=1, minutes=1))
    assert await _entries(client) == [], "a day after the end, nothing is listed"
    assert (await client.get(f"/feeds/cap/{end.identifier}.xml")).status_code == 200, "yet its URL stays"


async def test_a_draft_or_an_unknown_identifier_is_not_found(client, services, clock):
    draft = services.emergencies.draft("riyadh", declaration(clock)(), STAFF)
    for identifier in (draft.identifier, "no-such-alert", "a,b", "%3Cscript%3E"):
        response = await client.get(f"/feeds/cap/{identifier}.xml")
        assert response.status_code == 404, identifier
        assert response.headers["access-control-allow-origin"] == "*"
    assert await _entries(client) == []


async def test_etag_304_gzip_and_cors_like_the_other_feeds(client, services, clock):
    flood = _declare(services, clock)
    first = await client.get("/feeds/cap.atom")
    etag = first.headers["etag"]
    assert first.headers["access-control-allow-origin"] == "*"
    assert first.headers["cache-control"] == "public, max-age=60"
    again = await client.get("/feeds/cap.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    zipped = await client.get(f"/feeds/cap/{flood.identifier}.xml", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert schema_errors(zipped.content) == []  # httpx unzips; the bytes on the wire were gzip
    raw = await client.get(f"/feeds/cap/{flood.identifier}.xml", headers={"Accept-Encoding": "identity"})
    assert gzip.compress(raw.content) != raw.content
    preflight = await client.options("/feeds/cap.atom")
    assert preflight.status_code == 204
    assert "If-None-Match" in preflight.headers["access-control-allow-headers"]
    clock.advance(timedelta(minutes=1))
    services.emergencies.update(flood.first_id, {"level": "warning"}, STAFF)
    changed = await client.get("/feeds/cap.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200, "an update is a new message: the index changed"


async def test_the_map_page_links_the_cap_feed(client):
    page = await client.get("/?lang=en")
    assert '<a href="feeds/cap.atom?lang=en" type="application/atom+xml">CAP</a>' in page.text
