"""The web app over real HTTP (uvicorn on 127.0.0.1): the map page and its JSON, /health and /metrics."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from shapely.geometry import LineString
from sqlmodel import select

from bot.config import Settings
from bot.i18n import get_translator
from bot.services import Services
from bot.web.map_routes import MapBody, MapData
from bot.web.serving import WebServer
from bot.web.site import build_web_app
from closures.models import Closure, OutboxItem
from closures.queries import ClosureQueries
from closures.service import Actor
from closures.store import bump_change_counter, make_engine, session_scope, upgrade
from tests.bot.conftest import load_sample_data
from tests.closures.conftest import draft_factory
from tests.conftest import FakeClock

type Serve = Callable[..., Awaitable[WebServer]]


def expected_closures(services: Services) -> tuple[dict[int, Closure], dict[int, Closure]]:
    """(active, upcoming) by id, read straight from the table: the oracle for what the map shows."""
    now, horizon = services.clock(), timedelta(hours=services.settings.horizon_hours)
    with session_scope(services.engine) as session:
        rows = [r for r in session.exec(select(Closure)) if r.status == "open"]
    active = {r.id: r for r in rows if r.starts_at <= now and (r.ends_at is None or r.ends_at > now)}
    upcoming = {r.id: r for r in rows if now < r.starts_at <= now + horizon}
    return active, upcoming  # type: ignore[return-value]


def overwrite(path: Path, content: bytes) -> None:
    path.write_bytes(content)


async def client_for(sample_services: Services, serve_asgi: Serve) -> httpx.AsyncClient:
    server = await serve_asgi(build_web_app(sample_services))
    return httpx.AsyncClient(base_url=server.url, timeout=10)


@pytest.mark.parametrize("lang", ["ar", "en"])
async def test_map_json_lists_every_active_and_upcoming_closure_in_the_asked_language(
    sample_services: Services, serve_asgi: Serve, lang: str
):
    active, upcoming = expected_closures(sample_services)
    assert active
    assert upcoming
    async with await client_for(sample_services, serve_asgi) as client:
        response = await client.get("/map/closures.json", params={"lang": lang})

    assert response.status_code == 200
    data = response.json()
    by_id = {f["id"]: f for f in data["features"]}
    assert set(by_id) == set(active) | set(upcoming)
    phases = [f["properties"]["phase"] for f in data["features"]]
    assert phases == sorted(phases)  # "active" before "upcoming"
    tr = get_translator(lang)
    for closure_id, row in (active | upcoming).items():
        props = by_id[closure_id]["properties"]
        assert props["title"] == (row.title_ar if lang == "ar" else row.title_en or row.title_ar)
        phase = "active" if closure_id in active else "upcoming"
        assert (props["phase"], props["status"]) == (phase, tr.t(f"web.phase.{phase}"))
        assert props["reason"] == tr.t(f"reason.{row.reason}")
        detour = row.detour_ar if lang == "ar" else row.detour_en or row.detour_ar
        assert props["detour"] == (tr.t("closure.detour", detour=detour) if detour else None)
        assert by_id[closure_id]["geometry"]["type"] in ("Point", "LineString", "Polygon")
    summary = tr.t(
        "web.map.summary",
        active=tr.n("web.map.active_count", len(active)),
        upcoming=tr.n("web.map.upcoming_count", len(upcoming)),
    )
    assert data["summary"] == summary
    if lang == "ar":
        assert re.search("[٠-٩]", summary)
        assert not re.search("[0-9]", summary)


async def test_map_json_times_are_read_in_the_municipality_zone(
    sample_services: Services, serve_asgi: Serve, clock: FakeClock
):
    # 09:00 UTC is 12:00 noon in Riyadh (UTC+3): a closure starting 13:00 UTC shows 4:00 PM.
    draft = draft_factory(clock)(
        starts_at=clock.now + timedelta(hours=4), ends_at=None, title_en="Zone check", title_ar="فحص المنطقة"
    )
    closure = sample_services.closures.register("riyadh", draft, Actor.system("test"))
    async with await client_for(sample_services, serve_asgi) as client:
        data = (await client.get("/map/closures.json?lang=en")).json()

    props = next(f["properties"] for f in data["features"] if f["id"] == closure.id)
    assert props["timing"] == "Starts 4:00 PM · " + get_translator("en").t("timing.open_ended")


async def test_map_json_answers_304_until_a_closure_changes(
    sample_services: Services, serve_asgi: Serve, clock: FakeClock
):
    async with await client_for(sample_services, serve_asgi) as client:
        first = await client.get("/map/closures.json?lang=ar")
        etag = first.headers["etag"]
        again = await client.get("/map/closures.json?lang=ar", headers={"If-None-Match": etag})
        other_lang = await client.get("/map/closures.json?lang=en", headers={"If-None-Match": etag})

        draft = draft_factory(clock)(geometry=LineString([(46.70, 24.70), (46.71, 24.71)]))
        added = sample_services.closures.register("riyadh", draft, Actor.system("test"))
        changed = await client.get("/map/closures.json?lang=ar", headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert other_lang.status_code == 200
    assert other_lang.headers["etag"] != etag
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert added.id in {f["id"] for f in changed.json()["features"]}
    assert first.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("query", "accept", "lang", "direction"),
    [
        ("", "en-GB,en;q=0.9", "ar", "rtl"),  # Riyadh's own language: the browser's counts only without one
        ("?m=nowhere", "en-GB,en;q=0.9", "ar", "rtl"),  # an unknown ?m opens the busiest one, Riyadh
        ("", "fr;q=1, ar;q=0.5, en;q=0.4", "ar", "rtl"),
        ("?lang=ar", "en", "ar", "rtl"),
        ("?lang=en", "ar", "en", "ltr"),
        ("", "", "ar", "rtl"),  # the default language
    ],
)
async def test_map_page_speaks_the_readers_language_right_to_left_in_arabic(
    sample_services: Services, serve_asgi: Serve, query: str, accept: str, lang: str, direction: str
):
    async with await client_for(sample_services, serve_asgi) as client:
        response = await client.get(f"/{query}", headers={"Accept-Language": accept})
        leaflet = await client.get("/static/leaflet/leaflet.js")
        script = await client.get("/static/map.js")

    page = response.text
    tr = get_translator(lang)
    assert response.status_code == 200
    assert response.headers["content-language"] == lang
    assert f'<html lang="{lang}" dir="{direction}">' in page
    assert f"<title>{tr.t('web.map.title')}</title>" in page
    assert f'"closuresUrl": "map/closures.json?lang={lang}"' in page
    assert "://" not in page.replace("?lang", "")  # no CDN: everything from this server
    assert leaflet.status_code == 200
    assert "Leaflet 1.9.4" in leaflet.text
    assert script.status_code == 200
    assert not re.search("[\u0600-\u06ff]", script.text)  # no user text in the script


async def test_health_reports_the_index_and_the_outbox_backlog(
    sample_services: Services, serve_asgi: Serve, clock: FakeClock
):
    active, upcoming = expected_closures(sample_services)
    with session_scope(sample_services.engine) as session:
        backlog = sum(1 for row in session.exec(select(OutboxItem)) if row.status in ("pending", "claimed"))
    async with await client_for(sample_services, serve_asgi) as client:
        response = await client.get("/health")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert (body["closures_active"], body["closures_upcoming"]) == (len(active), len(upcoming))
    assert body["outbox_backlog"] == backlog > 0
    assert body["index_counter"] == body["store_counter"]
    assert body["index_age_s"] == 0.0  # built at the fake clock's now


async def test_health_and_map_data_are_503_when_the_database_is_unreadable(
    sample_services: Services, serve_asgi: Serve, clock: FakeClock
):
    # Reading the store's counter before every query, the map notices at once (by default within 0.5 s).
    sample_services.queries = ClosureQueries(sample_services.engine, clock=clock, check_interval=timedelta(0))
    async with await client_for(sample_services, serve_asgi) as client:
        assert (await client.get("/health")).status_code == 200
        database = sample_services.engine.url.database
        assert database
        sample_services.engine.dispose()  # new connections open the file below
        overwrite(Path(database), b"this is not a database any more" * 4)
        response = await client.get("/health")
        metrics = await client.get("/metrics")
        closures = await client.get("/map/closures.json?lang=ar")

    assert closures.status_code == 503
    assert closures.json() == {"error": "unavailable"}
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("unreachable: ")
    assert body["outbox_backlog"] is None
    assert "Traceback" not in response.text
    families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
    assert families["roadbot_database_up"].samples[0].value == 0


@pytest.fixture
def doomed_postgres(postgres_database: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """A migrated PostgreSQL database of its own, and a function that drops it under whoever uses it."""
    server = sa.make_url(postgres_database)
    name = f"roadbot_doomed_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    yield url, drop
    drop()
    admin.dispose()


@pytest.mark.postgres
async def test_health_is_503_when_postgresql_goes_away(
    doomed_postgres: tuple[str, Callable[[], None]], serve_asgi: Serve, clock: FakeClock
):
    url, drop = doomed_postgres
    services = Services.build(Settings(_env_file=None, database_url=url), clock=clock)  # type: ignore[call-arg]
    load_sample_data(services)
    try:
        server = await serve_asgi(build_web_app(services))
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            up = await client.get("/health")
            await asyncio.to_thread(drop)
            down = await client.get("/health")
            page = await client.get("/")
    finally:
        services.close()

    assert up.status_code == 200
    assert down.status_code == 503
    assert down.json()["database"].startswith("unreachable: ")
    assert page.status_code == 200  # the page itself needs no database; its script says when data fails


async def test_metrics_carry_the_closures_backlog_and_requests_by_route(
    sample_services: Services, serve_asgi: Serve
):
    active, upcoming = expected_closures(sample_services)
    async with await client_for(sample_services, serve_asgi) as client:
        await client.get("/")
        first = await client.get("/map/closures.json?lang=en")
        await client.get("/map/closures.json?lang=en", headers={"If-None-Match": first.headers["etag"]})
        await client.get("/no/such/page")
        health = (await client.get("/health")).json()
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("roadbot_closures", (("phase", "active"),))] == len(active)
    assert samples[("roadbot_closures", (("phase", "upcoming"),))] == len(upcoming)
    assert samples[("roadbot_outbox_backlog", ())] == health["outbox_backlog"]
    assert samples[("roadbot_database_up", ())] == 1
    assert ("roadbot_index_age_seconds", ()) in samples

    def requests(route: str, status: str) -> float:
        return samples.get(("roadbot_http_requests_total", (("route", route), ("status", status))), 0)

    assert requests("/", "200") == 1
    assert requests("/map/closures.json", "200") == 1
    assert requests("/map/closures.json", "304") == 1
    assert requests("unmatched", "404") == 1


async def test_two_apps_in_one_process_count_their_own_requests(sample_services: Services, serve_asgi: Serve):
    one = await serve_asgi(build_web_app(sample_services))
    two = await serve_asgi(build_web_app(sample_services))
    async with httpx.AsyncClient() as client:
        await client.get(f"{one.url}/health")
        text = (await client.get(f"{two.url}/metrics")).text

    assert 'route="/health"' not in text  # no module-level registry shared between apps


async def test_map_json_is_gzipped_for_clients_that_accept_it(sample_services: Services, serve_asgi: Serve):
    async with await client_for(sample_services, serve_asgi) as client:
        zipped = await client.get("/map/closures.json?lang=en", headers={"Accept-Encoding": "gzip"})
        plain = await client.get("/map/closures.json?lang=en", headers={"Accept-Encoding": "identity"})

    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()  # httpx undid the gzip
    assert zipped.headers["etag"] == plain.headers["etag"]
    assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"]) / 3


@pytest.mark.parametrize(
    ("lang", "names"),
    [
        ("en", ["Riyadh Municipality", "Jeddah Municipality"]),
        ("ar", ["أمانة منطقة الرياض", "أمانة محافظة جدة"]),
    ],
)
async def test_boundaries_name_each_municipality_in_the_asked_language(
    sample_services: Services, serve_asgi: Serve, lang: str, names: list[str]
):
    async with await client_for(sample_services, serve_asgi) as client:
        data = (await client.get(f"/map/boundaries.json?lang={lang}")).json()

    assert [f["properties"]["name"] for f in data["features"]] == names
    assert {f["geometry"]["type"] for f in data["features"]} <= {"Polygon", "MultiPolygon"}


async def test_metrics_carry_the_event_loops_lag_as_a_histogram(sample_services: Services, serve_asgi: Serve):
    def lag_samples(text: str) -> dict[str, float]:
        return {
            s.name + s.labels.get("le", ""): s.value
            for family in text_string_to_metric_families(text)
            if family.name == "roadbot_event_loop_lag_seconds"
            for s in family.samples
        }

    async with await client_for(sample_services, serve_asgi) as client:
        async with asyncio.timeout(10):  # the monitor ticks every 20 ms; each scrape yields to the loop
            while (lag := lag_samples((await client.get("/metrics")).text)).get(
                "roadbot_event_loop_lag_seconds_count", 0
            ) < 3:
                pass

    assert lag["roadbot_event_loop_lag_seconds_bucket+Inf"] == lag["roadbot_event_loop_lag_seconds_count"]
    assert "roadbot_event_loop_lag_seconds_bucket0.1" in lag  # issue 12's stall threshold is a bucket edge
    assert 0 <= lag["roadbot_event_loop_lag_seconds_sum"] < lag["roadbot_event_loop_lag_seconds_count"]


def test_requests_that_find_the_map_changed_together_share_one_build(sample_services: Services):
    data = MapData(sample_services)
    first = data.get("en")
    with session_scope(sample_services.engine, write=True) as session:
        bump_change_counter(session)  # as an edit would: the next request must rebuild
    start = threading.Barrier(8)

    def request() -> MapBody:
        start.wait(timeout=10)
        return data.get("en")

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: request(), range(8)))

    assert len({id(body) for body in bodies}) == 1  # built once, the others waited and took it
    assert bodies[0] is not first
    assert bodies[0].json == first.json  # the same closures: the rebuild changed nothing they show
    assert data.get("ar") is not bodies[0]  # another language is its own build
