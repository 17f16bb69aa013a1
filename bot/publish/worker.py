"""The outbox worker: claims due rows, posts them, records the remote id, marks them done.

It wakes at the next due time (the earliest pending row or expiring lease, read from the database),
when :meth:`OutboxWorker.wake` is called (after a change, or by PTB's JobQueue as a safety net), or after
``idle_poll`` at the latest. The database is the record: a restart resumes exactly where the rows stand.
Several workers — in one process or many, on one PostgreSQL — share the work through leases
(``closures.outbox.claim_due``: ``FOR UPDATE SKIP LOCKED``), so no row is ever taken twice at once.

Never posted twice — the crash between "sent" and "marked done":
  Before each send the worker commits its *intent* (``intent_at``) on the claimed row; the outcome (done
  with the remote id, retry, dead letter) clears it in the same UPDATE that records it. A worker that dies
  in between leaves the intent behind, and its lease runs out. The next claim sees the intent and passes
  it to the publisher as ``in_doubt_since``, which must settle it against the remote side first:
  - X lets us read our own posts: the publisher looks up our posts since the intent and adopts a match
    (its id becomes the remote id) instead of posting again; only if none matches does it post. X's own
    duplicate-content refusal (403) is a second guard, treated as "already posted".
  - The Telegram Bot API cannot read a chat's history (a bot sees neither a channel's past posts nor its
    own messages), so a Telegram send in doubt cannot be checked. A duplicate on a public channel is worse
    than a delay, so such a row is never re-sent on its own: it becomes a dead letter saying "in doubt",
    which ``/outbox`` shows to admins, who can see the channel and retry it if the post is missing. The
    window is one HTTP round trip; a timeout after the request was written is treated the same way, while
    failures that prove nothing was sent (connection refused, 429, 5xx) are retried with backoff.
Retries use exponential backoff with jitter and honour ``retry_after``; after ``max_attempts`` the row is
dead-lettered with its last reason. Telegram's limits (about 30 messages a second overall, 20 a minute per
channel) are kept by the bot's ``AIORateLimiter``; this worker bounds its own concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.publish import (
    EmergencyPublisher,
    InDoubt,
    NoticePublisher,
    Publisher,
    PublishError,
    RecipientGone,
    RetryLater,
)
from closures import emergency_outbox, outbox
from closures.cap_notices import CapNotice, StaleNotice, prepare_notices
from closures.cap_records import STAFF_NOTICE
from closures.emergency_publishing import EmergencyPost, prepare_emergencies
from closures.fanout import deactivate_subscriber, queue_alerts
from closures.lifecycle import Clock, system_clock
from closures.locations import forget_user as forget_location
from closures.outbox import AnyClaimed, Claimed, ClaimedEmergency
from closures.publishing import PostContext, Stale, prepare_many
from closures.reach import Reach, queue_people

logger = logging.getLogger(__name__)
AfterSend = Callable[[AnyClaimed, str], Awaitable[None]]
Prepared = PostContext | EmergencyPost | CapNotice | Stale


class OutboxWorker:
    """Drains the outbox through ``publishers`` (destination kind → publisher)."""

    def __init__(
        self,
        engine: Engine,
        publishers: Mapping[str, Publisher],
        *,
        clock: Clock = system_clock,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 50,
        concurrency: int = 16,
        max_attempts: int = 8,
        late_after: timedelta = timedelta(minutes=10),
        idle_poll: timedelta = timedelta(seconds=30),
        rng: random.Random | None = None,
        after_send: AfterSend | None = None,
        name: str | None = None,
        emergency_publishers: Mapping[str, EmergencyPublisher] | None = None,
        reach: Reach | None = None,
        notice_publisher: NoticePublisher | None = None,
    ) -> None:
        if batch < 1 or concurrency < 1 or max_attempts < 1:
            raise ValueError("batch, concurrency and max_attempts must be at least 1")
        self.engine = engine
        self.publishers = dict(publishers)
        self.emergency_publishers = dict(emergency_publishers or {})
        self.notice_publisher = notice_publisher  # staff told of a partner's CAP alert (``cap-staff``)
        self.reach = reach or Reach()  # whom an emergency's people row reaches
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.late_after = late_after
        self.idle_poll = idle_poll
        self.rng = rng or random.Random()
        self.after_send = after_send  # observes each send before it is recorded (tests crash it there)
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self._limit = asyncio.Semaphore(concurrency)
        # SQLite has one writer: one database thread per worker spares its threads the busy-wait sleeps
        # they would take colliding on the write lock; PostgreSQL takes several at once.
        self._executor = ThreadPoolExecutor(
            1 if engine.dialect.name == "sqlite" else 8, thread_name_prefix="outbox"
        )
        self._wake = asyncio.Event()
        self._stopping = False

    async def _db[T](self, func: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run blocking database work on the worker's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(func, *args, **kwargs))

    def wake(self) -> None:
        """Look for due rows now (call after planning posts, or from a JobQueue job)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Drain, sleep until the next due time (or a wake-up), repeat — until :meth:`stop`."""
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                if await self.run_once():
                    failures = 0
                    continue
                due = await self._db(outbox.next_due, self.engine)
                failures = 0
            except Exception:  # the database is away: keep the worker alive and try again later
                failures += 1
                logger.exception("outbox worker %s: round failed (%d in a row)", self.name, failures)
                due = None
            wait = self.idle_poll.total_seconds() * min(failures + 1, 10)
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def drain(self) -> int:
        """Process rows until none is due now; how many were processed."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def run_once(self) -> int:
        """Claim one batch of due rows and process them concurrently; how many were claimed."""
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        items = await self._db(
            outbox.claim_due, self.engine, now=self.clock(), token=token, lease=self.lease, limit=self.batch
        )
        if items:
            prepared = await self._db(self._prepare, items, self.clock())
            await asyncio.gather(*(self._guarded(item, prepared[item.id]) for item in items))
        return len(items)

    def _prepare(self, items: list[AnyClaimed], now: datetime) -> dict[int, Prepared]:
        """Each row's context (closure posts and emergency posts alike), in one worker-thread trip."""
        closures = [i for i in items if isinstance(i, Claimed)]
        emergencies = [i for i in items if isinstance(i, ClaimedEmergency) and i.kind != STAFF_NOTICE]
        notices = [i for i in items if isinstance(i, ClaimedEmergency) and i.kind == STAFF_NOTICE]
        out: dict[int, Prepared] = {}
        if notices:
            for item, notice in zip(notices, prepare_notices(self.engine, notices, now=now), strict=True):
                out[item.id] = Stale(notice.reason) if isinstance(notice, StaleNotice) else notice
        if closures:
            found = prepare_many(self.engine, closures, now=now, late_after=self.late_after)
            out.update({i.id: p for i, p in zip(closures, found, strict=True)})
        if emergencies:
            posts = prepare_emergencies(self.engine, emergencies, now=now, late_after=self.late_after)
            out.update({i.id: p for i, p in zip(emergencies, posts, strict=True)})
        return out

    async def _guarded(self, item: AnyClaimed, prepared: Prepared) -> None:
        async with self._limit:
            if isinstance(prepared, CapNotice):
                await self._process_notice(item, prepared)
            elif isinstance(item, ClaimedEmergency):
                assert not isinstance(prepared, PostContext)
                await self._process_emergency(item, prepared)
            else:
                assert not isinstance(prepared, EmergencyPost)
                await self._process(item, prepared)

    async def _process(self, item: Claimed, prepared: PostContext | Stale) -> None:
        if isinstance(prepared, Stale):
            await self._db(outbox.skip, self.engine, item, now=self.clock(), reason=prepared.reason)
            return
        if item.kind == outbox.ALERTS:
            await self._db(queue_alerts, self.engine, item, prepared.closure, now=self.clock())
            return
        publisher = self.publishers.get(item.kind)
        if publisher is None:
            await self._no_publisher(item)
            return
        send = functools.partial(publisher.publish, prepared, in_doubt_since=item.in_doubt_since)
        await self._deliver(item, publisher, send, outbox.complete)

    async def _process_emergency(self, item: ClaimedEmergency, prepared: EmergencyPost | Stale) -> None:
        if isinstance(prepared, Stale):
            await self._db(outbox.skip, self.engine, item, now=self.clock(), reason=prepared.reason)
            return
        if item.kind == emergency_outbox.PEOPLE:  # one transaction: done, and a row per person
            await self._db(queue_people, self.engine, item, now=self.clock(), reach=self.reach)
            return
        publisher = self.emergency_publishers.get(item.kind)
        if publisher is None:
            await self._no_publisher(item)
            return
        send = functools.partial(publisher.publish, prepared, in_doubt_since=item.in_doubt_since)
        await self._deliver(item, publisher, send, emergency_outbox.complete)

    async def _process_notice(self, item: AnyClaimed, notice: CapNotice) -> None:
        if self.notice_publisher is None:
            await self._no_publisher(item)
            return
        send = functools.partial(self.notice_publisher.publish, notice, in_doubt_since=item.in_doubt_since)
        await self._deliver(item, self.notice_publisher, send, outbox.complete)

    async def _no_publisher(self, item: AnyClaimed) -> None:
        reason = f"no publisher for {item.kind!r} destinations is configured"
        await self._db(outbox.dead_letter, self.engine, item, now=self.clock(), reason=reason)

    async def _deliver(
        self, item: Any, publisher: object, send: Callable[[], Awaitable[str]], complete: Callable[..., bool]
    ) -> None:
        """Record the intent, send, and record the outcome (``complete`` keeps the remote id)."""
        if not await self._db(outbox.record_intent, self.engine, item, now=self.clock()):
            logger.warning("outbox row %s: lease lost before sending; left to its new holder", item.id)
            return
        intent = self.clock()
        try:
            remote_id = await send()
        except Exception as exc:  # every failure becomes the row's fate; unknown ones count as in doubt
            await self._db(self._failed, item, publisher, exc, intent)
            return
        if self.after_send is not None:
            await self.after_send(item, remote_id)
        await self._db(complete, self.engine, item, now=self.clock(), remote_id=remote_id)

    def _failed(self, item: AnyClaimed, publisher: object, exc: Exception, intent: datetime) -> None:
        now = self.clock()
        if not isinstance(exc, PublishError):
            logger.exception("outbox row %s: unexpected failure", item.id, exc_info=exc)
            exc = InDoubt(f"in doubt: unexpected {type(exc).__name__}: {exc}")
        reconciles = bool(getattr(publisher, "reconciles", False))
        if isinstance(exc, RetryLater) or (isinstance(exc, InDoubt) and reconciles):
            doubt = item.in_doubt_since or (intent if isinstance(exc, InDoubt) else None)
            retry_after = exc.retry_after if isinstance(exc, RetryLater) else None
            delay = backoff(item.attempts, retry_after=retry_after, rng=self.rng)
            outbox.retry_later(
                self.engine, item, now=now, delay=delay, reason=exc.reason,
                max_attempts=self.max_attempts, still_in_doubt=doubt,
            )  # fmt: skip
        elif isinstance(exc, RecipientGone):
            deactivate_subscriber(self.engine, exc.user_id)
            forget_location(self.engine, exc.user_id)  # no emergency is to try them again either
            outbox.skip(self.engine, item, now=now, reason=exc.reason)
        else:
            outbox.dead_letter(self.engine, item, now=now, reason=exc.reason)


def backoff(
    attempts: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base: float = 2.0,
    cap: float = 900.0,
) -> timedelta:
    """Exponential backoff with jitter; a server's ``retry_after`` is honoured (never retried earlier).

    >>> backoff(3, rng=random.Random(1)) <= timedelta(seconds=8)
    True
    >>> backoff(1, retry_after=30, rng=random.Random(1)) >= timedelta(seconds=30)
    True
    """
    rng = rng or random.Random()
    exponential = min(cap, base * 2 ** max(0, attempts - 1))
    jittered = exponential * (0.5 + rng.random() / 2)  # "equal jitter": never less than half the step
    if retry_after is not None:
        return timedelta(seconds=max(0.0, retry_after) + rng.uniform(0, min(1.0, jittered)))
    return timedelta(seconds=jittered)
