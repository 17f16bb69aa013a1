"""The X publisher through tweepy against the local X API, reached through its configurable base URL.

Faults: duplicate content, 429 until x-rate-limit-reset, 5xx, a timeout after the post went through,
the worker cancelled between send and mark — each post ends on X exactly once. Both database backends.
"""

from __future__ import annotations

import asyncio
import base64
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.publish.maps import MapMaker
from bot.publish.worker import OutboxWorker
from bot.publish.x import XAccount, XPublisher, XStyle
from closures.models import OutboxItem
from closures.service import Actor, ClosureService
from closures.store import session_scope
from tests.closures.conftest import draft_factory
from tests.closures.publishing_support import row, rows
from tests.fakes.x_api import ACCOUNT, LocalXApi

SYSTEM = Actor.system("test")
ACCOUNT_NAME = "riyadh_roads"
HASHTAGS = ("#الرياض", "#إغلاق_طريق")


@pytest.fixture
async def x_api():
    async with LocalXApi() as api:
        yield api


@pytest.fixture
def make_draft(clock):
    return draft_factory(clock)


@pytest.fixture
def posting(engine, clock, municipalities) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations={"x": ACCOUNT_NAME})


def publisher(engine, clock, x_api, *, budget=17, timeout_s=5.0, account: XAccount = ACCOUNT) -> XPublisher:
    return XPublisher(
        engine,
        {ACCOUNT_NAME: account},
        MapMaker(),
        style=lambda slug: XStyle(HASHTAGS, ("#Riyadh",)),
        daily_budget=budget,
        clock=clock,
        timeout_s=timeout_s,
        api_base_url=x_api.base_url,
    )


@pytest.fixture
async def xpub(engine, clock, x_api):
    pub = publisher(engine, clock, x_api)
    yield pub
    await pub.close()


def worker(engine, clock, pub, **options) -> OutboxWorker:
    return OutboxWorker(engine, {"x": pub}, clock=clock, rng=random.Random(3), **options)


async def test_an_announcement_is_an_arabic_post_with_its_map_then_an_english_reply(
    posting, engine, clock, x_api, xpub, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    w = worker(engine, clock, xpub)
    await w.drain()

    arabic, english = x_api.tweets
    assert arabic["text"].startswith("🚧 إغلاق طريق جديد")
    assert arabic["text"].endswith("#الرياض #إغلاق_طريق")
    assert "http" not in arabic["text"]
    (media_id,) = arabic["media"]
    upload = next(c for c in x_api.calls if c.path == "/2/media/upload")
    assert base64.b64decode(upload.body["media"]).startswith(b"\x89PNG")
    assert x_api.media[media_id]["media_key"] == f"3_{media_id}"
    assert english["reply_to"] == arabic["id"]
    assert english["text"].startswith("🚧 New road closure: King Fahd Rd closed")
    assert row(engine, closure.id, "announced", "x").remote_id == arabic["id"]

    posting.cancel(closure.id, SYSTEM)
    await w.drain()
    cancelled = x_api.tweets[2]
    assert cancelled["reply_to"] == arabic["id"]
    assert cancelled["media"] == []
    assert "أُلغي الإغلاق" in cancelled["text"]


async def test_duplicate_content_is_taken_as_already_posted(posting, engine, clock, x_api, xpub, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    w = worker(engine, clock, xpub)
    await w.drain()
    first_id = row(engine, closure.id, "announced", "x").remote_id
    with session_scope(engine) as session:  # as if the record of it were lost
        session.execute(
            sa.update(OutboxItem)
            .where(OutboxItem.remote_id == first_id)
            .values(status="pending", remote_id=None)
        )

    await w.drain()

    assert len(x_api.tweets) == 2
    assert [c.status for c in x_api.calls if c.path == "/2/tweets"] == [201, 201, 403, 403]
    assert row(engine, closure.id, "announced", "x").remote_id == first_id


async def test_a_rate_limit_waits_until_the_reset_time(posting, engine, clock, x_api, xpub, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    x_api.fail_next("POST /2/tweets", status=429, reset_in=60)
    w = worker(engine, clock, xpub)

    await w.drain()
    waiting = row(engine, closure.id, "announced", "x")
    assert waiting.status == "pending"
    assert timedelta(seconds=55) <= waiting.due_at - clock.now <= timedelta(seconds=62)
    clock.now = waiting.due_at
    await w.drain()

    assert row(engine, closure.id, "announced", "x").status == "done"
    assert len(x_api.tweets) == 2


async def test_a_server_error_is_retried_with_backoff(posting, engine, clock, x_api, xpub, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    x_api.fail_next("POST /2/tweets", status=503)
    w = worker(engine, clock, xpub)
    await w.drain()
    waiting = row(engine, closure.id, "announced", "x")
    assert (waiting.status, waiting.intent_at) == ("pending", None)
    clock.now = waiting.due_at
    await w.drain()
    assert row(engine, closure.id, "announced", "x").status == "done"
    assert len(x_api.tweets) == 2


async def test_a_timeout_after_the_post_went_through_is_reconciled_not_reposted(
    posting, engine, clock, x_api, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    x_api.delay_next("POST /2/tweets", 1.0)  # X is slow: it posts after we stopped waiting
    impatient = publisher(engine, clock, x_api, timeout_s=0.3)
    w = worker(engine, clock, impatient)
    await w.drain()
    doubt = row(engine, closure.id, "announced", "x")
    assert doubt.status == "pending"
    assert doubt.intent_at is not None
    assert doubt.last_error.startswith("in doubt")

    await x_api.wait_for(lambda c: c.path == "/2/tweets" and c.status == 201)
    clock.now = doubt.due_at
    await w.drain()
    await impatient.close()

    arabic, english = x_api.tweets  # the late one was adopted; only the English reply was added
    assert row(engine, closure.id, "announced", "x").remote_id == arabic["id"]
    assert english["reply_to"] == arabic["id"]
    assert row(engine, closure.id, "announced", "x").status == "done"


async def test_a_worker_cancelled_between_send_and_mark_reconciles_on_restart(
    posting, engine, clock, x_api, xpub, make_draft
):
    closure = posting.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    sent, never = asyncio.Event(), asyncio.Event()

    async def crash_here(item, remote_id):
        sent.set()
        await never.wait()

    task = asyncio.create_task(worker(engine, clock, xpub, after_send=crash_here).drain())
    await asyncio.wait_for(sent.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    posted = [t["id"] for t in x_api.tweets]

    clock.advance(timedelta(minutes=6))  # the lease runs out; a new worker takes over
    await worker(engine, clock, xpub).drain()

    assert [t["id"] for t in x_api.tweets] == posted  # nothing posted again
    assert row(engine, closure.id, "announced", "x").remote_id == posted[0]
    assert row(engine, closure.id, "announced", "x").status == "done"


async def test_the_daily_budget_defers_what_would_exceed_it(posting, engine, clock, x_api, make_draft):
    pub = publisher(engine, clock, x_api, budget=3)
    for title in ("One", "Two", "Three"):
        posting.register(
            "riyadh",
            make_draft(title_en=title, title_ar=f"إغلاق {title}", starts_at=clock.now, ends_at=None),
            SYSTEM,
        )
    w = worker(engine, clock, pub, concurrency=1)
    await w.drain()

    assert [t["text"].split("\n")[0] for t in x_api.tweets] == [
        "🚧 إغلاق طريق جديد: \u2068إغلاق One\u2069",
        "🚧 New road closure: One",
        "🚧 إغلاق طريق جديد: \u2068إغلاق Two\u2069",  # the budget had room for the Arabic post only
    ]
    third = [r for r in rows(engine, event="announced") if r.status == "pending"]
    assert len(third) == 1
    assert third[0].last_error == "daily X budget spent"
    assert third[0].due_at >= (clock.now + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )

    clock.now = third[0].due_at
    await w.drain()
    await pub.close()
    assert len(x_api.tweets) == 5


async def test_wrong_keys_are_refused_and_dead_lettered(posting, engine, clock, x_api, make_draft):
    wrong = XAccount(
        ACCOUNT.consumer_key, "not-the-secret", ACCOUNT.access_token, ACCOUNT.access_token_secret
    )
    pub = publisher(engine, clock, x_api, account=wrong)
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    await worker(engine, clock, pub).drain()
    await pub.close()
    dead = row(engine, closure.id, "announced", "x")
    assert dead.status == "dead"
    assert dead.last_error.startswith("X refused: 401 Unauthorized")
    assert x_api.tweets == []
