"""Several bot processes over one PostgreSQL, behind one webhook address: what one adds, another serves.

Each instance here is what one process runs (``bot.runner.run_bot``: Application, web server, outbox
worker) with its own engine and index; only the database is shared, as behind a load balancer.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from shapely.geometry import LineString
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.localapi import FakeUser, LocalBotApi
from bot.services import Services
from closures.queries import ClosureQueries
from closures.service import Actor
from closures.store import make_engine
from tests.bot.conftest import load_sample_data
from tests.bot.web.support import free_port, running_instance
from tests.closures.conftest import draft_factory
from tests.conftest import FakeClock, Ticks, _empty_postgres

pytestmark = pytest.mark.postgres

# A stretch of road south of the sample closures: a driver standing on it hears of it first.
NEW_ROAD = LineString([(46.7400, 24.6200), (46.7460, 24.6150)])
DRIVER_AT = (24.6175, 46.7430)  # lat, lon, on NEW_ROAD


@pytest.fixture
def shared_database(postgres_database: str) -> str:
    engine: Engine = make_engine(postgres_database)
    _empty_postgres(engine)
    engine.dispose()
    return postgres_database


def instance_settings(api: LocalBotApi, url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        telegram_bot_token=api.token,
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        index_check_interval_s=0.5,
    )


def webhook_outcomes(metrics: str) -> dict[str, float]:
    return {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "roadbot_webhook_updates"
        for s in family.samples
        if s.name.endswith("_total")
    }


async def test_a_closure_added_through_one_instance_is_served_by_another(
    bot_api: LocalBotApi, shared_database: str, clock: FakeClock, ticks: Ticks
):
    settings = instance_settings(bot_api, shared_database)
    services_a = Services.build(settings, clock=clock)
    services_b = Services.build(settings, clock=clock)
    # B's index checks the store's counter at most every 0.5 s, timed by a clock the test moves.
    services_b.queries = ClosureQueries(
        services_b.engine,
        clock=clock,
        horizon=timedelta(hours=settings.horizon_hours),
        check_interval=timedelta(seconds=settings.index_check_interval_s),
        monotonic=ticks,
    )
    load_sample_data(services_a)
    port_a, port_b = free_port(), free_port()
    balancer = f"http://127.0.0.1:{port_b}"  # Telegram posts to the shared address; it routes to B
    async with contextlib.AsyncExitStack() as stack:
        b = await stack.enter_async_context(running_instance(services_b, port=port_b, webhook_base=balancer))
        a = await stack.enter_async_context(running_instance(services_a, port=port_a, webhook_base=balancer))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        assert a.webhook_url == b.webhook_url  # both processes register the same address and secrets
        before = await client.get(f"{b.web_url}/map/closures.json?lang=en")

        draft = draft_factory(clock)(
            geometry=NEW_ROAD,
            starts_at=clock.now - timedelta(minutes=5),
            title_en="Two-instance test road closed",
            title_ar="طريق اختبار النسختين مغلق",
        )
        added = services_a.closures.register("riyadh", draft, Actor.system("staff-a"), allow_past_start=True)
        on_a = await client.get(f"{a.web_url}/map/closures.json?lang=en")
        still = await client.get(
            f"{b.web_url}/map/closures.json?lang=en", headers={"If-None-Match": before.headers["etag"]}
        )
        ticks.now += 0.5  # B's check interval has passed: its next read looks at the counter
        after = await client.get(f"{b.web_url}/map/closures.json?lang=en")

        driver = FakeUser(515151, first_name="Sam", language_code="en")
        since = len(bot_api.calls)
        bot_api.user_sends_location(driver, *DRIVER_AT)
        reply = await bot_api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == driver.id, since=since
        )
        metrics_a = (await client.get(f"{a.web_url}/metrics")).text
        metrics_b = (await client.get(f"{b.web_url}/metrics")).text
        health_b = (await client.get(f"{b.web_url}/health")).json()

    assert added.id not in {f["id"] for f in before.json()["features"]}
    assert added.id in {f["id"] for f in on_a.json()["features"]}  # A knows of its own write at once
    assert still.status_code == 304  # within B's check interval: B may serve what it had
    assert added.id in {f["id"] for f in after.json()["features"]}
    first_listed = (reply.text or "").split("\n\n")[1]  # after the header, nearest first
    assert "Two-instance test road closed" in first_listed
    assert webhook_outcomes(metrics_b) == {"accepted": 1}  # B answered the driver
    assert webhook_outcomes(metrics_a) == {}
    assert health_b["index_counter"] == health_b["store_counter"]
