"""Notices between processes on PostgreSQL: a write through one engine reaches another engine's index, and
its listener's subscribers, as soon as it commits — never before, never for a rollback — and the listener
comes back after its connection is killed, catching up on what it missed. On SQLite nothing listens.

Two engines on one database stand for two processes: each has its own ``local_writes`` and origin.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from shapely.geometry import Point
from sqlalchemy.engine import Engine

from closures.models import OutboxItem, OutboxStatus
from closures.notices import RESYNC, Notice, NoticeListener, parse
from closures.outbox import claim_due, insert_ignore
from closures.queries import ClosureQueries
from closures.service import Actor, ClosureService
from closures.store import (
    CLOSURES,
    LISTENING_CHECK_S,
    OUTBOX,
    bump_change_counter,
    change_counter,
    local_writes,
    notify,
    session_scope,
)
from tests.closures.conftest import DRIVER
from tests.conftest import FakeClock, Ticks

SYSTEM = Actor.system("test")
TIMEOUT_S = 10.0


class Heard:
    """A subscriber that keeps each notice with the store's counter as the listening engine read it then."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.notices: list[tuple[Notice, int]] = []
        self.lock = threading.Lock()

    def __call__(self, notice: Notice) -> None:
        counter = change_counter(self.engine)
        with self.lock:
            self.notices.append((notice, counter))

    def topics(self) -> list[str]:
        with self.lock:
            return [n.topic for n, _ in self.notices]


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    return engine


@pytest.fixture
def listening(pg: Engine, other_engine: Engine) -> Iterator[tuple[NoticeListener, Heard]]:
    """A listener on the other engine (another process), connected, with a recording subscriber."""
    listener = NoticeListener(other_engine, backoff_s=(0.05, 0.5))
    heard = Heard(other_engine)
    listener.subscribe(heard)
    listener.start()
    assert listener.wait_until(lambda: listener.listening, TIMEOUT_S)
    assert listener.wait_until(lambda: RESYNC in heard.topics(), TIMEOUT_S)
    yield listener, heard
    listener.stop()


def wait_for_topic(listener: NoticeListener, heard: Heard, topic: str, count: int = 1) -> None:
    assert listener.wait_until(lambda: heard.topics().count(topic) >= count, TIMEOUT_S), heard.topics()


def marker(engine: Engine) -> None:
    """A notice of its own, sent after the rest: once it is heard, every earlier one has been too."""
    with session_scope(engine) as session:
        notify(session, "marker")


@pytest.mark.usefixtures("staff")
def test_a_closure_written_elsewhere_reaches_this_index_without_waiting_for_its_poll(
    pg: Engine, other_engine: Engine, listening, clock: FakeClock, ticks: Ticks, make_draft
):
    listener, heard = listening
    hour = timedelta(hours=1)  # a poll so rare that only the notice can explain a fresh answer
    here = ClosureQueries(other_engine, clock=clock, check_interval=hour, monotonic=ticks)
    deaf = ClosureQueries(
        sa.create_engine(other_engine.url), clock=clock, check_interval=hour, monotonic=ticks
    )  # a third process that listens to nothing
    assert here.near(Point(DRIVER), 2_000, at=clock() + 2 * hour) == []
    assert deaf.near(Point(DRIVER), 2_000, at=clock() + 2 * hour) == []

    closure = ClosureService(pg, clock=clock).register("riyadh", make_draft(), SYSTEM)
    wait_for_topic(listener, heard, CLOSURES)

    assert [f.closure.id for f in here.near(Point(DRIVER), 2_000, at=clock() + 2 * hour)] == [closure.id]
    assert deaf.near(Point(DRIVER), 2_000, at=clock() + 2 * hour) == []  # still waiting for its poll
    assert local_writes(other_engine).listening


def test_a_notice_arrives_after_the_commit_and_a_rollback_sends_none(pg: Engine, listening):
    listener, heard = listening

    def bump_then_fail() -> None:
        with session_scope(pg) as session:
            bump_change_counter(session)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        bump_then_fail()
    with session_scope(pg) as session:
        bump_change_counter(session)
        bump_change_counter(session)  # twice in one transaction: one notice
    marker(pg)
    wait_for_topic(listener, heard, "marker")

    closures = [(notice, counter) for notice, counter in heard.notices if notice.topic == CLOSURES]
    assert len(closures) == 1
    notice, counter_seen = closures[0]
    assert counter_seen == change_counter(pg) == 2  # the data was visible when the notice arrived
    assert not notice.own


@pytest.mark.usefixtures("staff")
def test_outbox_rows_inserted_any_way_notify_and_claiming_them_does_not(
    pg: Engine, listening, clock: FakeClock, make_draft
):
    listener, heard = listening
    service = ClosureService(pg, clock=clock, destinations={"telegram": "@riyadh_roads"})
    closure = service.register("riyadh", make_draft(starts_at=clock()), SYSTEM)  # its posts, by the ORM
    wait_for_topic(listener, heard, OUTBOX, 1)
    row = {
        "closure_id": closure.id,
        "closure_version": 1,
        "event": "announced",
        "status": OutboxStatus.PENDING.value,
        "due_at": clock(),
    }
    with session_scope(pg) as session:  # a bulk insert, as a fan-out writes them
        insert_ignore(
            session,
            OutboxItem,
            [row | {"idempotency_key": f"x:{n}", "destination": f"alert:{n}"} for n in range(48)],
        )
    wait_for_topic(listener, heard, OUTBOX, 2)

    claimed = claim_due(pg, now=clock(), token="t", lease=timedelta(minutes=1), limit=100)
    marker(pg)
    wait_for_topic(listener, heard, "marker")

    assert len(claimed) == 1 + 48  # the channel's announcement (its end is not due) and the alerts
    assert heard.topics().count(OUTBOX) == 2  # a claim wakes nobody (else workers would wake each other)


@pytest.mark.usefixtures("staff")
def test_the_listener_comes_back_after_its_connection_is_killed_and_catches_up(
    pg: Engine, other_engine: Engine, listening, clock: FakeClock, ticks: Ticks, make_draft
):
    listener, heard = listening
    writes = local_writes(other_engine)
    here = ClosureQueries(other_engine, clock=clock, check_interval=timedelta(hours=1), monotonic=ticks)
    assert here.near(Point(DRIVER), 2_000, at=clock() + timedelta(hours=2)) == []

    listener.stop()  # away: what is written now sends notices nobody hears
    assert not writes.listening
    assert writes.check_interval_s(0.5) == 0.5  # so the readers poll again
    missed = ClosureService(pg, clock=clock).register("riyadh", make_draft(), SYSTEM)
    listener.start()
    assert listener.wait_until(lambda: listener.connections == 2 and writes.listening, TIMEOUT_S)
    assert [f.closure.id for f in here.near(Point(DRIVER), 2_000, at=clock() + timedelta(hours=2))] == [
        missed.id
    ]  # the reconnect told the index to check the counter

    with pg.connect() as conn:  # the server drops the listening connection under it
        killed = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        ).all()
    assert killed == [(True,)]
    assert listener.wait_until(lambda: listener.connections == 3 and writes.listening, TIMEOUT_S)
    assert heard.topics().count(RESYNC) == 3  # and told its subscribers to look again each time
    assert writes.check_interval_s(0.5) == LISTENING_CHECK_S

    ClosureService(pg, clock=clock).register("riyadh", make_draft(title_en="second"), SYSTEM)
    wait_for_topic(listener, heard, CLOSURES)
    assert len(here.near(Point(DRIVER), 2_000, at=clock() + timedelta(hours=2))) == 2


def test_on_sqlite_nothing_listens_and_no_notice_is_sent(engine: Engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite half")
    listener = NoticeListener(engine)
    listener.start()
    with session_scope(engine) as session:
        bump_change_counter(session)  # no pg_notify on SQLite: this would fail if one were sent
    assert not listener.supported
    assert not local_writes(engine).listening
    listener.stop()


def test_a_payload_names_its_topic_detail_and_whether_this_engine_sent_it():
    assert parse("profile abc 42", "abc") == Notice("profile", "42", own=True)
    assert parse("closures def", "abc") == Notice("closures", "", own=False)
