"""The outbox worker against the local Bot API: lifecycle posts, faults, crashes, two workers, catch-up.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture). Time is a FakeClock: schedules are
driven by moving it, and waiting is on the local server's ``wait_for``, never on sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.publish.worker import OutboxWorker
from closures import outbox
from closures.models import OutboxStatus
from closures.publishing import retry_dead
from closures.service import Actor, ClosureService
from tests.closures.publishing_support import (
    CHANNEL,
    channel_posts,
    local_bot,
    row,
    rows,
    telegram_publishers,
    worker,
)

SYSTEM = Actor.system("test")


@pytest.fixture
async def tg(bot_api):
    async with local_bot(bot_api) as bot:
        yield bot


HOUR = timedelta(hours=1)


@pytest.fixture
def posting(engine, clock, municipalities) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations={"telegram": CHANNEL, "x": None})


async def test_lifecycle_posts_go_out_in_order_as_replies_to_the_announcement(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    w = worker(engine, clock, telegram_publishers(tg))

    await w.drain()
    photo, pin = bot_api.sent(CHANNEL, "sendPhoto")[0], bot_api.sent(CHANNEL, "sendLocation")[0]
    assert photo.params["photo"].content.startswith(b"\x89PNG")
    assert photo.text.index("إغلاق طريق جديد") < photo.text.index("New road closure")  # Arabic first
    assert pin.params["reply_parameters"]["message_id"] == photo.result["message_id"]
    assert row(engine, closure.id, "announced").remote_id == str(photo.result["message_id"])

    clock.advance(HOUR)  # the start time
    await w.drain()
    started = bot_api.sent(CHANNEL, "sendMessage")[-1]
    assert "Closure now in force" in started.text
    assert started.params["reply_parameters"]["message_id"] == photo.result["message_id"]

    posting.extend(closure.id, clock.now + 6 * HOUR, SYSTEM)
    await w.drain()
    edit = bot_api.sent(CHANNEL, "editMessageCaption")[-1]
    assert edit.params["message_id"] == photo.result["message_id"]
    assert "Closure extended" in bot_api.sent(CHANNEL, "sendMessage")[-1].text

    posting.lift(closure.id, SYSTEM)
    await w.drain()
    lifted = bot_api.sent(CHANNEL, "sendMessage")[-1]
    assert "Closure lifted" in lifted.text
    assert lifted.params["reply_parameters"]["message_id"] == photo.result["message_id"]
    statuses = {(r.event, r.status) for r in rows(engine) if r.destination.startswith("telegram")}
    assert statuses == {
        ("announced", "done"), ("started", "done"), ("ended", "superseded"), ("extended", "done"),
        ("lifted", "done"),
    }  # fmt: skip


async def test_no_destination_configured_means_rows_skipped_and_nothing_sent(
    engine, clock, municipalities, bot_api, tg, make_draft
):
    ClosureService(engine, clock=clock).register("riyadh", make_draft(), SYSTEM)

    assert await worker(engine, clock, telegram_publishers(tg)).drain() == 0
    assert {r.status for r in rows(engine)} == {"skipped"}
    assert channel_posts(bot_api) == []


async def test_flood_control_is_honoured_then_the_post_goes_out_once(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    bot_api.fail_next("sendPhoto", status=429, retry_after=7)
    w = worker(engine, clock, telegram_publishers(tg))

    await w.drain()
    waiting = row(engine, closure.id, "announced")
    assert waiting.status == "pending"
    assert "retry after 7" in waiting.last_error
    assert timedelta(seconds=7) <= waiting.due_at - clock.now <= timedelta(seconds=8)

    clock.advance(timedelta(seconds=6))
    assert await w.drain() == 0  # not before retry_after
    clock.advance(timedelta(seconds=3))
    await w.drain()
    assert row(engine, closure.id, "announced").status == "done"
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 1


async def test_server_errors_back_off_exponentially_then_dead_letter_with_the_reason(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    bot_api.fail_next("sendPhoto", status=500, times=3)
    w = worker(engine, clock, telegram_publishers(tg), max_attempts=3)
    delays = []
    for _ in range(3):
        await w.drain()
        item = row(engine, closure.id, "announced")
        if item.status == "pending":
            delays.append(item.due_at - clock.now)
            clock.now = item.due_at
    assert len(delays) == 2
    assert timedelta(seconds=1) <= delays[0] <= timedelta(seconds=2) < delays[1] <= timedelta(seconds=4)
    dead = row(engine, closure.id, "announced")
    assert dead.status == "dead"
    assert dead.last_error.startswith("gave up after 3 attempts: telegram unavailable")
    assert channel_posts(bot_api) == []


async def test_a_refused_post_is_dead_lettered_at_once_and_an_admin_can_retry_it(
    engine, clock, municipalities, bot_api, tg, make_draft
):
    service = ClosureService(engine, clock=clock, destinations={"telegram": "no-such-chat"})
    closure = service.register("riyadh", make_draft(), SYSTEM)
    w = worker(engine, clock, telegram_publishers(tg))

    await w.drain()
    dead = row(engine, closure.id, "announced")
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert dead.last_error == "telegram refused: Chat not found"

    assert retry_dead(engine, dead.id, now=clock.now, actor="tg:1")
    assert not retry_dead(engine, dead.id, now=clock.now, actor="tg:1")  # only dead letters
    assert row(engine, closure.id, "announced").status == "pending"


async def test_an_unreachable_bot_api_is_retried_and_posted_once(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    await bot_api.stop()  # Telegram is unreachable: the connection is refused, so nothing was sent
    await worker(engine, clock, telegram_publishers(tg)).drain()
    await bot_api.start()
    waiting = row(engine, closure.id, "announced")
    assert (waiting.status, waiting.intent_at) == ("pending", None)
    assert "telegram unavailable" in waiting.last_error

    clock.now = waiting.due_at
    await worker(engine, clock, telegram_publishers(tg)).drain()
    assert row(engine, closure.id, "announced").status == "done"
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 1


async def test_a_timeout_after_the_request_was_sent_is_in_doubt_and_never_sent_twice(
    posting, engine, clock, bot_api, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    bot_api.delay_next("sendPhoto", 1.0)  # Telegram is slow: it posts, but only after we gave up waiting
    impatient = local_bot(bot_api, read_timeout=0.2)
    async with impatient:
        w = worker(engine, clock, telegram_publishers(impatient))
        await w.drain()
        await bot_api.wait_for(lambda c: c.method == "sendPhoto")
        clock.advance(timedelta(minutes=10))  # long past any lease
        await w.drain()
    dead = row(engine, closure.id, "announced")
    assert dead.status == "dead"
    assert dead.last_error.startswith("in doubt")
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 1


async def test_a_worker_cancelled_between_send_and_mark_never_posts_twice(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(starts_at=clock.now + HOUR), SYSTEM)
    await worker(engine, clock, telegram_publishers(tg)).drain()  # the announcement
    clock.advance(HOUR)
    sent, never = asyncio.Event(), asyncio.Event()

    async def crash_here(item, remote_id):
        sent.set()
        await never.wait()  # the process dies before the outcome is recorded

    first = worker(engine, clock, telegram_publishers(tg), after_send=crash_here)
    task = asyncio.create_task(first.drain())
    await asyncio.wait_for(sent.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stuck = row(engine, closure.id, "started")
    assert (stuck.status, stuck.intent_at is not None) == ("claimed", True)

    clock.advance(timedelta(minutes=6))  # the dead worker's lease runs out; a new one starts
    await worker(engine, clock, telegram_publishers(tg)).drain()
    settled = row(engine, closure.id, "started")
    assert settled.status == "dead"
    assert settled.last_error.startswith("in doubt: a send started at")
    assert len(bot_api.sent(CHANNEL, "sendMessage")) == 1


async def test_an_announcement_is_recorded_as_posted_before_its_location_pin(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    bot_api.delay_next("sendLocation", 30.0)  # the pin hangs; the process is cancelled meanwhile
    task = asyncio.create_task(worker(engine, clock, telegram_publishers(tg)).drain())
    await bot_api.wait_for_arrival("sendLocation")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    done = row(engine, closure.id, "announced")
    assert done.status == "done"  # not "in doubt": the photo's answer was in before the pin left
    assert done.remote_id == str(bot_api.sent(CHANNEL, "sendPhoto")[0].result["message_id"])


async def test_two_workers_post_each_item_exactly_once(
    engine, other_engine, clock, municipalities, bot_api, tg, make_draft
):
    channels = [CHANNEL, "@jeddah_roads", "@makkah_roads"]
    service = ClosureService(engine, clock=clock, destinations={"telegram": channels})
    for i in range(12):
        service.register("riyadh", make_draft(title_en=f"Closure {i}"), SYSTEM)
    bot_api.fail_next("sendPhoto", status=500, times=2)  # and a couple of retries in the mix
    claimed_by: dict[str, list[tuple[int, str]]] = {"a": [], "b": []}

    def seen(name: str):
        async def after_send(item, remote_id):
            claimed_by[name].append((item.closure_id, item.target))

        return after_send

    a = worker(engine, clock, telegram_publishers(tg), batch=2, after_send=seen("a"), name="a")
    b = worker(other_engine, clock, telegram_publishers(tg), batch=2, after_send=seen("b"), name="b")
    for _ in range(4):
        await asyncio.gather(a.drain(), b.drain())
        clock.advance(timedelta(seconds=30))

    for channel in channels:
        photos = bot_api.sent(channel, "sendPhoto")
        titles = sorted(p.text.split("New road closure: ")[1].split("<")[0] for p in photos)
        assert titles == sorted(f"Closure {i}" for i in range(12))  # each exactly once, in every channel
    assert {r.status for r in rows(engine, event="announced")} == {"done"}
    assert claimed_by["a"], "worker a took nothing"
    assert claimed_by["b"], "worker b took nothing"
    assert len(claimed_by["a"] + claimed_by["b"]) == 36


async def test_one_chat_is_sent_to_by_one_worker_at_a_time(
    engine, other_engine, clock, municipalities, make_draft
):
    service = ClosureService(engine, clock=clock, destinations={"telegram": [CHANNEL, "@jeddah_roads"]})
    for i in range(3):
        service.register("riyadh", make_draft(title_en=f"Closure {i}"), SYSTEM)
    lease = timedelta(minutes=5)

    first = outbox.claim_due(engine, now=clock.now, token="a:1", lease=lease, limit=10)
    second = outbox.claim_due(other_engine, now=clock.now, token="b:1", lease=lease, limit=10)

    assert sorted(item.target for item in first) == ["@jeddah_roads", CHANNEL]  # one row per chat
    assert second == []  # both chats are being sent to by the first worker
    outbox.complete(engine, first[0], now=clock.now, remote_id="1")
    (third,) = outbox.claim_due(other_engine, now=clock.now, token="b:2", lease=lease, limit=10)
    assert third.target == first[0].target
    assert third.last_sent_here == clock.now  # so its sender keeps the chat's pace


async def test_after_downtime_late_posts_say_since_and_what_ended_meanwhile_is_skipped(
    posting, engine, clock, bot_api, tg, make_draft
):
    short = posting.register("riyadh", make_draft(title_en="Short", ends_at=clock.now + 3 * HOUR), SYSTEM)
    long = posting.register("riyadh", make_draft(title_en="Long", ends_at=clock.now + 10 * HOUR), SYSTEM)
    w = worker(engine, clock, telegram_publishers(tg))
    await w.drain()

    clock.advance(5 * HOUR)  # the worker was down while both started and one ended
    await w.drain()

    for event in ("started", "ended"):
        skipped = row(engine, short.id, event)
        assert skipped.status == "skipped"
    assert "ended before the post went out" in row(engine, short.id, "started").last_error
    assert row(engine, short.id, "ended").last_error == "started and ended while publishing was down"
    late = bot_api.sent(CHANNEL, "sendMessage")
    assert len(late) == 1
    assert "In force since" not in late[0].text  # catalogue wording:
    assert "Closure in force since 1:00 PM: Long" in late[0].text
    assert row(engine, long.id, "started").status == "done"


async def test_an_announcement_whose_closure_ended_before_it_went_out_is_skipped(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(ends_at=clock.now + 2 * HOUR), SYSTEM)
    clock.advance(3 * HOUR)

    await worker(engine, clock, telegram_publishers(tg)).drain()

    assert {r.status for r in rows(engine, closure_id=closure.id)} == {"skipped"}
    assert "ended before it could be posted" in row(engine, closure.id, "announced").last_error
    assert channel_posts(bot_api) == []


async def test_the_running_worker_wakes_at_the_next_due_time(posting, engine, clock, bot_api, tg, make_draft):
    posting.register("riyadh", make_draft(), SYSTEM)
    w: OutboxWorker = worker(engine, clock, telegram_publishers(tg), idle_poll=timedelta(seconds=30))
    task = asyncio.create_task(w.run())
    try:
        await bot_api.wait_for(lambda c: c.method == "sendPhoto")
        since = len(bot_api.calls)
        clock.advance(HOUR)  # the start time: a JobQueue tick (or a change) wakes the worker
        w.wake()
        started = await bot_api.wait_for(lambda c: c.method == "sendMessage", since=since)
        assert "Closure now in force" in started.text
    finally:
        w.stop()
        await asyncio.wait_for(task, 5)
    assert OutboxStatus.DONE.value in {r.status for r in rows(engine, event="started")}


async def test_under_every_fault_at_once_each_post_ends_posted_once_or_dead_lettered_with_a_reason(
    engine, other_engine, clock, municipalities, bot_api, make_draft
):
    service = ClosureService(engine, clock=clock, destinations={"telegram": CHANNEL})
    for i in range(10):
        service.register("riyadh", make_draft(title_en=f"Closure {i}", starts_at=clock.now), SYSTEM)
    bot_api.fail_next("sendPhoto", status=429, retry_after=2, times=3)
    bot_api.fail_next("sendPhoto", status=500, times=3)
    # slow answers once the refusals are over: the send lands, the caller times out
    bot_api.delay_next("sendPhoto", 0.8, times=2, after=6)
    impatient = local_bot(bot_api, read_timeout=0.3)
    async with impatient:
        a = worker(engine, clock, telegram_publishers(impatient), batch=3, name="a")
        b = worker(other_engine, clock, telegram_publishers(impatient), batch=3, name="b")
        for _ in range(8):
            await asyncio.gather(a.drain(), b.drain())
            clock.advance(timedelta(minutes=1))

    photos = await bot_api.wait_for_count(lambda c: c.method == "sendPhoto" and c.ok, 10, timeout=10)
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 10  # none doubled, none lost on the channel
    titles = sorted(p.text.split("New road closure: ")[1].split("<")[0] for p in photos)
    assert titles == sorted(f"Closure {i}" for i in range(10))
    announced = rows(engine, event="announced")
    assert {r.status for r in announced} <= {"done", "dead"}
    for r in announced:
        if r.status == "done":
            assert r.remote_id in {str(p.result["message_id"]) for p in photos}
        else:
            assert r.last_error.startswith("in doubt")
    assert sum(r.status == "dead" for r in announced) == 2  # the two slow answers
