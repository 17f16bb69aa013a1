"""Outbox workers' proof of life, and taking over the rows of one that is gone (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import timedelta

import sqlalchemy as sa

from bot.publish.worker import OutboxWorker
from closures import outbox
from closures.models import OutboxWorkerRow
from closures.publishing import backlog
from closures.service import Actor, ClosureService
from closures.store import make_engine, session_scope
from closures.workers import Liveness, gone_workers, take_over
from tests.closures.publishing_support import CHANNEL, rows

SYSTEM = Actor.system("test")
LEASE = timedelta(minutes=5)


def ghost(engine, name: str, *, host: str, pid: int, heartbeat_at) -> None:
    with session_scope(engine, write=True) as session:
        session.add(
            OutboxWorkerRow(name=name, host=host, pid=pid, started_at=heartbeat_at, heartbeat_at=heartbeat_at)
        )


def test_a_live_worker_is_not_gone_and_a_dead_pid_on_this_host_is(engine, clock):
    me = Liveness(engine, "me", now=clock.now)
    other = Liveness(engine, "other", now=clock.now)
    ghost(
        engine,
        "dead-here",
        host=socket.gethostname(),
        pid=2**22 + 12345,
        heartbeat_at=clock.now,
    )
    try:
        gone = gone_workers(engine, me="me", now=clock.now, stale_after=timedelta(seconds=30))
    finally:
        other.close()
        me.close()
    assert gone == ["dead-here"]


def test_a_worker_elsewhere_is_gone_when_its_heartbeat_is_stale_or_on_postgresql_its_lock_is_free(
    engine, clock
):
    ghost(engine, "far-away", host="another-host", pid=1, heartbeat_at=clock.now)
    fresh = gone_workers(engine, me="me", now=clock.now, stale_after=timedelta(seconds=30))
    stale = gone_workers(
        engine, me="me", now=clock.now + timedelta(seconds=31), stale_after=timedelta(seconds=30)
    )
    # PostgreSQL knows at once: a live worker holds its advisory lock, and this one holds none
    assert fresh == (["far-away"] if engine.dialect.name == "postgresql" else [])
    assert stale == ["far-away"]


def test_taking_over_sends_the_never_sent_again_and_keeps_the_doubt_of_the_rest(
    engine, clock, municipalities, make_draft
):
    service = ClosureService(engine, clock=clock, destinations={"telegram": [CHANNEL, "@jeddah_roads"]})
    service.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    waiting, sending = outbox.claim_due(engine, now=clock.now, token="gone:1", lease=LEASE, limit=10)
    assert outbox.record_intents(engine, [sending], now=clock.now) == [True]

    taken = take_over(engine, "gone", now=clock.now)

    assert (taken.never_sent, taken.maybe_sent) == (1, 1)
    by_id = {r.id: r for r in rows(engine)}
    never, maybe = by_id[waiting.id], by_id[sending.id]
    assert (never.status, never.intent_at, never.attempts, never.claim_token) == ("pending", None, 0, None)
    assert never.last_error.startswith("taken over from worker gone, which stopped before sending it")
    assert (maybe.status, maybe.intent_at, maybe.attempts) == ("pending", clock.now, 1)
    (again, doubtful) = sorted(
        outbox.claim_due(engine, now=clock.now, token="next:1", lease=LEASE, limit=10),
        key=lambda i: i.id != waiting.id,
    )
    assert again.in_doubt_since is None  # sent again as new
    assert doubtful.in_doubt_since == clock.now  # settled first: the send may have left
    with session_scope(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxWorkerRow)) == 0


def test_the_backlog_counts_what_goes_out_again_and_tells_doubt_from_refusal(
    engine, clock, municipalities, make_draft
):
    service = ClosureService(engine, clock=clock, destinations={"telegram": [CHANNEL, "@jeddah_roads"]})
    service.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    _, sending = outbox.claim_due(engine, now=clock.now, token="gone:1", lease=LEASE, limit=10)
    outbox.record_intents(engine, [sending], now=clock.now)
    take_over(engine, "gone", now=clock.now)
    assert backlog(engine).retrying == 1  # the never-sent one; the other is settled first, not just resent

    refused, doubtful = outbox.claim_due(engine, now=clock.now, token="b:1", lease=LEASE, limit=10)
    outbox.dead_letter(engine, refused, now=clock.now, reason="telegram refused: Chat not found")
    outbox.dead_letter(
        engine, doubtful, now=clock.now, reason="in doubt: a send started at … left no outcome"
    )
    report = backlog(engine)
    assert sorted((d.id, d.in_doubt) for d in report.dead) == sorted(
        [(refused.id, False), (doubtful.id, True)]
    )
    assert report.retrying == 0


def test_a_worker_named_like_another_takes_over_only_its_own_rows(engine, clock, municipalities, make_draft):
    service = ClosureService(engine, clock=clock, destinations={"telegram": [CHANNEL, "@jeddah_roads"]})
    service.register("riyadh", make_draft(starts_at=clock.now), SYSTEM)
    outbox.claim_due(engine, now=clock.now, token="a_b:1", lease=LEASE, limit=1)
    outbox.claim_due(engine, now=clock.now, token="axb:1", lease=LEASE, limit=1)
    assert take_over(engine, "a_b", now=clock.now).never_sent == 1  # "_" is no wildcard here
    assert {r.claim_token for r in rows(engine) if r.status == "claimed"} == {"axb:1"}


class _Counting(logging.Handler):
    """Counts matching log records and sets an event at the n-th (records come on the loop's thread)."""

    def __init__(self, text: str, n: int) -> None:
        super().__init__()
        self.text, self.n, self.seen, self.reached = text, n, 0, asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen += 1
            if self.seen >= self.n:
                self.reached.set()


async def test_a_worker_started_while_the_database_is_away_keeps_trying_and_stops_cleanly():
    away = make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    worker = OutboxWorker(away, {}, idle_poll=timedelta(seconds=0.05))
    tries = _Counting("cannot sign on", 2)
    log = logging.getLogger("bot.publish.worker")
    log.addHandler(tries)
    try:
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(tries.reached.wait(), 20)
        assert not task.done()  # still trying, not ended
        worker.stop()
        await asyncio.wait_for(task, 10)
    finally:
        log.removeHandler(tries)
        away.dispose()
