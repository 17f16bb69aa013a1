"""Subscriber alerts: who a closure affects (measured against a geodesic oracle), nearest first, in each
driver's language, one per driver, never dropped — and drivers who blocked the bot are switched off."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, Point

from bot.localapi import FakeUser
from closures.drivers import DriverDirectory
from closures.fanout import affected
from closures.models import Closure, Subscription
from closures.publishing import view_of
from closures.rules import snapshot
from closures.service import Actor, ClosureService
from closures.store import session_scope
from tests.closures.conftest import KING_FAHD, geodesic_distance, offset
from tests.closures.publishing_support import local_bot, rows, telegram_publishers, worker

SYSTEM = Actor.system("test")


@pytest.fixture
async def tg(bot_api):
    async with local_bot(bot_api) as bot:
        yield bot


MIDDLE = (46.67522, 24.705)  # a vertex of KING_FAHD; the road runs north-north-west through it
EAST = 70.0  # roughly across the road


@pytest.fixture
def alerting(engine, clock, municipalities) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations={"alerts": "subscribers"})


@pytest.fixture
def drivers(engine, clock) -> DriverDirectory:
    return DriverDirectory(engine, clock=clock)


def _subscribe(drivers: DriverDirectory, user: int, name: str, geometry, radius: int, language: str) -> None:
    drivers.save_place(user, name, geometry)
    drivers.subscribe(user, name, radius, language)


def _alerts(bot_api):
    return [c for c in bot_api.calls if c.method == "sendMessage" and c.ok]


async def test_drivers_within_their_radius_are_alerted_nearest_first_in_their_language(
    alerting, drivers, engine, clock, bot_api, tg, make_draft
):
    near, middle, far = offset(MIDDLE, EAST, 250), offset(MIDDLE, EAST, 700), offset(MIDDLE, EAST, 3000)
    _subscribe(drivers, 11, "home", Point(near), 1000, "ar")
    _subscribe(drivers, 12, "work", Point(middle), 1000, "en")
    _subscribe(drivers, 13, "gym", Point(far), 1000, "en")  # 3 km away, 1 km radius: not affected
    crossing = LineString([offset(MIDDLE, 270, 2000), offset(MIDDLE, 90, 2000)])
    _subscribe(drivers, 14, "commute", crossing, 500, "en")  # crosses the road: 0 m

    alerting.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    await worker(engine, clock, telegram_publishers(tg), concurrency=1).drain()

    sent = _alerts(bot_api)
    assert [c.chat_id for c in sent] == [14, 11, 12]
    assert sent[1].text.startswith("<b>🔔 إغلاق جديد قرب «")
    assert sent[2].text.startswith("<b>🔔 New closure near “work”:</b>")
    by_user = {r.destination: r for r in rows(engine) if r.destination.startswith("alert:")}
    assert set(by_user) == {"alert:11", "alert:12", "alert:14"}
    for user, place in ((11, near), (12, middle)):
        distance = json.loads(by_user[f"alert:{user}"].payload_json)["distance_m"]
        assert distance == pytest.approx(geodesic_distance(place, KING_FAHD), rel=0.01, abs=2)


async def test_one_alert_per_driver_and_none_for_inactive_subscriptions(
    alerting, drivers, engine, clock, bot_api, tg, make_draft
):
    _subscribe(drivers, 21, "home", Point(offset(MIDDLE, EAST, 100)), 1000, "en")
    _subscribe(drivers, 21, "work", Point(offset(MIDDLE, EAST, 400)), 1000, "en")
    _subscribe(drivers, 22, "home", Point(offset(MIDDLE, EAST, 100)), 1000, "en")
    with session_scope(engine) as session:
        session.execute(
            sa.update(Subscription).where(Subscription.telegram_user_id == 22).values(active=False)
        )

    alerting.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    await worker(engine, clock, telegram_publishers(tg)).drain()

    assert [c.chat_id for c in _alerts(bot_api)] == [21]
    assert "“home”" in _alerts(bot_api)[0].text


async def test_a_driver_who_blocked_the_bot_is_marked_inactive(
    alerting, drivers, engine, clock, bot_api, tg, make_draft
):
    _subscribe(drivers, 31, "home", Point(offset(MIDDLE, EAST, 100)), 1000, "ar")
    bot_api.block_bot(FakeUser(31))

    alerting.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    await worker(engine, clock, telegram_publishers(tg)).drain()

    (alert,) = [r for r in rows(engine) if r.destination == "alert:31"]
    assert alert.status == "skipped"
    assert "blocked" in alert.last_error
    assert drivers.subscriptions(31) == []


async def test_announced_and_started_each_alert_once(
    alerting, drivers, engine, clock, bot_api, tg, make_draft
):
    _subscribe(drivers, 41, "home", Point(offset(MIDDLE, EAST, 100)), 1000, "en")
    alerting.register("riyadh", make_draft(), SYSTEM)  # starts in an hour
    w = worker(engine, clock, telegram_publishers(tg))
    await w.drain()
    clock.advance(timedelta(hours=1))
    await w.drain()
    await w.drain()

    texts = [c.text for c in _alerts(bot_api)]
    assert len(texts) == 2
    assert texts[0].startswith("<b>🔔 New closure near “home”:")
    assert texts[1].startswith("<b>🔔 A closure near “home” is now in force:")


async def test_a_flood_alert_reaches_every_subscriber_exactly_once_at_the_rate_allowed(
    engine, clock, municipalities, bot_api, tg, make_draft
):
    with session_scope(engine) as session:
        for i in range(300):
            place = Point(offset(MIDDLE, (i * 37) % 360, 50 + (i * 13) % 900))
            session.add(
                Subscription(
                    telegram_user_id=100_000 + i,
                    name="home",
                    kind="place",
                    geometry_geojson=shapely.to_geojson(place),
                    radius_m=1000,
                    language="ar" if i % 2 else "en",
                )
            )
    service = ClosureService(engine, clock=clock, destinations={"alerts": "subscribers"})
    closure = service.register("riyadh", make_draft(reason="flood", starts_at=clock.now), SYSTEM)
    bot_api.fail_next("sendMessage", status=429, retry_after=3, times=5)

    w = worker(engine, clock, telegram_publishers(tg), batch=100)
    for _ in range(5):
        await w.drain()
        clock.advance(timedelta(seconds=5))

    delivered = [c.chat_id for c in _alerts(bot_api)]
    assert sorted(delivered) == [100_000 + i for i in range(300)]  # all, each once
    alert_rows = [r for r in rows(engine, closure_id=closure.id) if r.destination.startswith("alert:")]
    assert {r.status for r in alert_rows} == {"done"}
    distances = [json.loads(r.payload_json)["distance_m"] for r in alert_rows]
    assert distances == sorted(distances)  # queued nearest first


def test_affected_matches_the_geodesic_oracle_for_places_and_routes(engine, clock, drivers, municipalities):
    points = [offset(MIDDLE, EAST, d) for d in (10, 480, 520, 990, 1010)]
    for i, p in enumerate(points):
        _subscribe(drivers, 50 + i, "p", Point(p), 1000 if i > 2 else 500, "en")
    view = view_of(snapshot_of(KING_FAHD))
    with session_scope(engine) as session:
        found = affected(session, view)
    expected = [
        50 + i for i, p in enumerate(points) if geodesic_distance(p, KING_FAHD) <= (1000 if i > 2 else 500)
    ]
    assert sorted(a.user_id for a in found) == sorted(expected)
    assert [a.distance_m for a in found] == sorted(a.distance_m for a in found)


def snapshot_of(geometry) -> dict:
    now = datetime(2026, 11, 27, 9, tzinfo=UTC)
    minx, miny, maxx, maxy = geometry.bounds
    closure = Closure(
        id=1, municipality_id=1, geometry_geojson=shapely.to_geojson(geometry), kind="line",
        min_lon=minx, min_lat=miny, max_lon=maxx, max_lat=maxy, reason="roadworks", starts_at=now,
        ends_at=None, title_ar="x", created_by="t", created_at=now, updated_at=now,
    )  # fmt: skip
    return snapshot(closure)
