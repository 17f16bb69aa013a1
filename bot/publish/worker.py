"""The outbox worker: claims due rows, posts them, records the remote id, marks them done.

It wakes at the next due time (the earliest pending row or expiring lease, read from the database),
when :meth:`OutboxWorker.wake` is called (after a change, or by PTB's JobQueue as a safety net), or after
``idle_poll`` at the latest. The database is the record: a restart resumes exactly where the rows stand.
Several workers — in one process or many, on one PostgreSQL — share the work through leases
(``closures.outbox.claim_due``: ``FOR UPDATE SKIP LOCKED``), so no row is ever taken twice at once.

Never posted twice, never stranded:
  The worker commits its *intent* (``intent_at``) on a claimed row right before each HTTP attempt that may
  post — the gate does it for every Telegram request (``bot.publish.intent``), after any wait for the rate
  limit or a flood-control pause; a 429 clears it at once; the outcome (done with the remote id, retry,
  dead letter) clears it in the same UPDATE that records it. Intents and outcomes of concurrent sends are
  committed together (``bot.publish.batching``). A worker that dies leaves its claims behind; while it runs
  it has a heartbeat (``closures.workers``), and the next worker to start or to beat takes the rows of one
  that is gone: never-sent rows go out again, rows with an intent are passed to the publisher as
  ``in_doubt_since``, which must settle them against the remote side first:
  - X lets us read our own posts: the publisher looks up our posts since the intent and adopts a match
    (its id becomes the remote id) instead of posting again; only if none matches does it post. X's own
    duplicate-content refusal (403) is a second guard, treated as "already posted".
  - The Telegram Bot API cannot read a chat's history (a bot sees neither a channel's past posts nor its
    own messages), so a Telegram send in doubt cannot be checked. A duplicate on a public channel is worse
    than a delay, so such a row is never re-sent on its own: it becomes a dead letter saying "in doubt",
    which ``/outbox`` shows to admins, who can see the channel and retry it if the post is missing. The
    window is one HTTP round trip; a timeout after the request left is treated the same way, while
    failures that prove nothing was sent (connection refused, 429, 5xx) are retried with backoff.
Retries use exponential backoff with jitter and honour ``retry_after``; after ``max_attempts`` the row is
dead-lettered with its last reason. Telegram's limits (30 messages a second overall, one a second per chat,
20 a minute per group or channel) are kept by the bot's gate (``bot.publish.gate``) for every process
together; this worker bounds its own concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

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
from bot.publish.batching import Coalesced
from bot.publish.intent import LeaseLost, OutboxSend, sending
from bot.publish.pipeline import pipelined
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
from closures.workers import Liveness, gone_workers, take_over

logger = logging.getLogger(__name__)
AfterSend = Callable[[AnyClaimed, str], Awaitable[None]]
Prepared = PostContext | EmergencyPost | CapNotice | Stale
Outcome = tuple[AnyClaimed, str | None, datetime]


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
        emergency_batch: int = 200,
        concurrency: int = 16,
        max_attempts: int = 8,
        late_after: timedelta = timedelta(minutes=10),
        idle_poll: timedelta = timedelta(seconds=30),
        rng: random.Random | None = None,
        after_send: AfterSend | None = None,
        name: str | None = None,
        heartbeat: timedelta = timedelta(seconds=5),
        stale_after: timedelta = timedelta(seconds=30),
        emergency_publishers: Mapping[str, EmergencyPublisher] | None = None,
        reach: Reach | None = None,
        notice_publisher: NoticePublisher | None = None,
    ) -> None:
        if min(batch, emergency_batch, concurrency, max_attempts) < 1:
            raise ValueError("batch, emergency_batch, concurrency and max_attempts must be at least 1")
        self.engine = engine
        self.publishers = dict(publishers)
        self.emergency_publishers = dict(emergency_publishers or {})
        self.notice_publisher = notice_publisher  # staff told of a partner's CAP alert (``cap-staff``)
        self.reach = reach or Reach()  # whom an emergency's people row reaches
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.emergency_batch = emergency_batch  # an emergency's rows are claimed in larger batches
        self.max_attempts = max_attempts
        self.late_after = late_after
        self.idle_poll = idle_poll
        self.rng = rng or random.Random()
        self.after_send = after_send  # observes each send before it is recorded (tests crash it there)
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.heartbeat = heartbeat
        self.stale_after = stale_after  # a worker whose heartbeat is older is gone, wherever it ran
        self._limit = asyncio.Semaphore(concurrency)
        # SQLite has one writer: one database thread per worker spares its threads the busy-wait sleeps
        # they would take colliding on the write lock; PostgreSQL takes several at once.
        self._executor = ThreadPoolExecutor(
            1 if engine.dialect.name == "sqlite" else 8, thread_name_prefix="outbox"
        )
        self._wake = asyncio.Event()
        self._stopping = False
        # intents and outcomes of concurrent sends are committed together (group commit)
        self._intents: Coalesced[tuple[AnyClaimed, datetime], bool] = Coalesced(
            self._write_intents, self._submit
        )
        self._outcomes: Coalesced[Outcome, None] = Coalesced(self._write_outcomes, self._submit)

    async def _db[T](self, func: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run blocking database work on the worker's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(func, *args, **kwargs))

    async def _submit[R](self, write: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, write)

    def _write_intents(self, batch: Sequence[tuple[AnyClaimed, datetime]]) -> list[bool]:
        now = max(at for _, at in batch)
        return outbox.record_intents(self.engine, [item for item, _ in batch], now=now)

    def _write_outcomes(self, batch: Sequence[Outcome]) -> None:
        now = max(t for *_, t in batch)
        posts = [(item, remote) for item, remote, _ in batch if isinstance(item, Claimed)]
        emergency = [(item, remote) for item, remote, _ in batch if isinstance(item, ClaimedEmergency)]
        if posts:
            outbox.complete_many(self.engine, posts, now=now)
        if emergency:  # a person's first message id is kept too: later versions reply to it
            emergency_outbox.complete_many(self.engine, emergency, now=now)

    def wake(self) -> None:
        """Look for due rows now (call after planning posts, or from a JobQueue job)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Drain, sleep until the next due time (or a wake-up), repeat — until :meth:`stop`.

        While it runs the worker has a heartbeat, and it takes over the rows of workers that are gone.
        """
        liveness = await self._sign_on()
        if liveness is None:
            return
        heart = asyncio.create_task(self._heartbeat(liveness), name=f"{self.name}-heartbeat")
        try:
            await self._rounds()
        finally:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
            try:
                await self._db(liveness.close)
            except Exception:  # the database is away: the row goes stale, and the others take over
                logger.warning("outbox worker %s: could not sign off", self.name, exc_info=True)

    async def _sign_on(self) -> Liveness | None:
        """Register this worker and take over the gone ones; retried while the database is away."""
        failures, liveness = 0, None
        while not self._stopping:
            try:
                if liveness is None:  # once: on PostgreSQL it holds its lock on a connection of its own
                    liveness = await self._db(Liveness, self.engine, self.name, now=self.clock())
                await self._take_over()
                return liveness
            except Exception:
                failures += 1
                logger.exception("outbox worker %s: cannot sign on (%d in a row)", self.name, failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll.total_seconds())
                self._wake.clear()
        if liveness is not None:
            await self._db(liveness.close)
        return None

    async def _rounds(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                if await self.drain():
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

    async def _heartbeat(self, liveness: Liveness) -> None:
        while True:
            await asyncio.sleep(self.heartbeat.total_seconds())
            try:
                await self._db(liveness.beat, now=self.clock())
                await self._take_over()
            except Exception:  # the database is away: the rounds report it; keep beating
                logger.warning("outbox worker %s: heartbeat failed", self.name, exc_info=True)

    async def _take_over(self) -> None:
        """Put the claimed rows of workers that are gone back in the queue (never-sent ones go again)."""
        now = self.clock()
        for name in await self._db(
            gone_workers, self.engine, me=self.name, now=now, stale_after=self.stale_after
        ):
            taken = await self._db(take_over, self.engine, name, now=now)
            logger.warning(
                "outbox worker %s is gone: %d of its rows go out again, %d sent or not are settled first",
                name, taken.never_sent, taken.maybe_sent,
            )  # fmt: skip
            self.wake()

    async def drain(self) -> int:
        """Process rows until none is due now; how many were processed.

        While a batch holds an emergency's rows, the next batch is claimed as it sends
        (``bot.publish.pipeline``); calm-day batches go one after the other, so that an emergency declared
        meanwhile waits behind one of them at most.
        """
        return await pipelined(
            self._claim, self._process_batch, overlaps=_urgent, stopping=lambda: self._stopping
        )

    async def run_once(self) -> int:
        """Claim one batch of due rows and process them concurrently; how many were claimed."""
        batch = await self._claim()
        if batch:
            await self._process_batch(batch)
        return len(batch)

    async def _claim(self) -> list[tuple[AnyClaimed, Prepared]]:
        """Lease one batch of due rows, each with its prepared context."""
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        items = await self._db(
            outbox.claim_due, self.engine, now=self.clock(), token=token, lease=self.lease,
            limit=self.batch, emergency_limit=self.emergency_batch,
        )  # fmt: skip
        if not items:
            return []
        prepared = await self._db(self._prepare, items, self.clock())
        return [(item, prepared[item.id]) for item in items]

    async def _process_batch(self, batch: list[tuple[AnyClaimed, Prepared]]) -> None:
        await asyncio.gather(*(self._guarded(item, prepared) for item, prepared in batch))

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
                outcome = await self._process_notice(item, prepared)
            elif isinstance(item, ClaimedEmergency):
                assert not isinstance(prepared, PostContext)
                outcome = await self._process_emergency(item, prepared)
            else:
                assert not isinstance(prepared, EmergencyPost)
                outcome = await self._process(item, prepared)
        if outcome is not None:  # the send is over: its slot goes to the next one while this is committed
            await self._outcomes(outcome)

    async def _process(self, item: Claimed, prepared: PostContext | Stale) -> Outcome | None:
        if isinstance(prepared, Stale):
            await self._db(outbox.skip, self.engine, item, now=self.clock(), reason=prepared.reason)
            return None
        if item.kind == outbox.ALERTS:
            await self._db(queue_alerts, self.engine, item, prepared.closure, now=self.clock())
            return None
        publisher = self.publishers.get(item.kind)
        if publisher is None:
            await self._no_publisher(item)
            return None
        publish = functools.partial(publisher.publish, prepared, in_doubt_since=item.in_doubt_since)
        return await self._deliver(item, publisher, publish, outbox.complete)

    async def _process_emergency(
        self, item: ClaimedEmergency, prepared: EmergencyPost | Stale
    ) -> Outcome | None:
        if isinstance(prepared, Stale):
            await self._db(outbox.skip, self.engine, item, now=self.clock(), reason=prepared.reason)
            return None
        if item.kind == emergency_outbox.PEOPLE:  # one transaction: done, and a row per person
            await self._db(queue_people, self.engine, item, now=self.clock(), reach=self.reach)
            return None
        publisher = self.emergency_publishers.get(item.kind)
        if publisher is None:
            await self._no_publisher(item)
            return None
        publish = functools.partial(publisher.publish, prepared, in_doubt_since=item.in_doubt_since)
        return await self._deliver(item, publisher, publish, emergency_outbox.complete)

    async def _process_notice(self, item: AnyClaimed, notice: CapNotice) -> Outcome | None:
        if self.notice_publisher is None:
            await self._no_publisher(item)
            return None
        send = functools.partial(self.notice_publisher.publish, notice, in_doubt_since=item.in_doubt_since)
        return await self._deliver(item, self.notice_publisher, send, outbox.complete)

    async def _no_publisher(self, item: AnyClaimed) -> None:
        reason = f"no publisher for {item.kind!r} destinations is configured"
        await self._db(outbox.dead_letter, self.engine, item, now=self.clock(), reason=reason)

    async def _deliver[C: AnyClaimed](
        self,
        item: C,
        publisher: object,
        publish: Callable[[], Awaitable[str]],
        complete: Callable[..., bool],
    ) -> Outcome | None:
        """Send with the intent recorded around each HTTP attempt; a failure's fate is recorded here, a
        success is returned for the caller to record (``complete`` keeps the remote id when the post is
        recorded early, before what follows it: then there is nothing left to record)."""
        send = OutboxSend(
            functools.partial(self._record_intent, item),
            functools.partial(self._db, outbox.clear_intent, self.engine, item),
            lambda remote_id: self._db(complete, self.engine, item, now=self.clock(), remote_id=remote_id),
        )
        try:
            if not getattr(publisher, "intent_per_attempt", False):
                await send.before_attempt()  # it cannot tell its attempts apart: one intent for the publish
            with sending(send):
                remote_id = await publish()
        except LeaseLost:
            logger.warning("outbox row %s: lease lost before sending; left to its new holder", item.id)
            return None
        except Exception as exc:  # every failure becomes the row's fate; unknown ones count as in doubt
            await self._db(self._failed, item, publisher, exc, send)
            return None
        if self.after_send is not None:
            await self.after_send(item, remote_id)
        return None if send.recorded else (item, remote_id, self.clock())

    async def _record_intent(self, item: AnyClaimed) -> datetime | None:
        now = self.clock()
        return now if await self._intents((item, now)) else None

    def _failed(self, item: AnyClaimed, publisher: object, exc: Exception, send: OutboxSend) -> None:
        now = self.clock()
        if not isinstance(exc, PublishError):
            logger.exception("outbox row %s: unexpected failure", item.id, exc_info=exc)
            if send.attempts:
                exc = InDoubt(f"in doubt: unexpected {type(exc).__name__}: {exc}")
            else:  # it failed before any request that could post: provably not sent
                exc = RetryLater(f"failed before sending: {type(exc).__name__}: {exc}")
        reconciles = bool(getattr(publisher, "reconciles", False))
        if isinstance(exc, RetryLater) or (isinstance(exc, InDoubt) and reconciles):
            doubt = item.in_doubt_since or (send.last_intent if isinstance(exc, InDoubt) else None)
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
            logger.warning("outbox row %s parked for an admin: %s", item.id, exc.reason)
            outbox.dead_letter(self.engine, item, now=now, reason=exc.reason)


def _urgent(batch: Sequence[tuple[AnyClaimed, Prepared]]) -> bool:
    """Does the batch hold an emergency's rows (claimed first, so the first row tells)?"""
    return bool(batch) and isinstance(batch[0][0], ClaimedEmergency)


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
