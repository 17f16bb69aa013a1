"""How soon a query sees a write: at once when this process made it, within ``check_interval`` otherwise.

The interval is timed by an injected monotonic clock, so the tests move it instead of sleeping.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from shapely.geometry import Point

from closures.queries import ClosureQueries
from closures.service import Actor
from closures.store import bump_change_counter, change_counter, local_writes, session_scope
from tests.closures.conftest import DRIVER, offset

SYSTEM = Actor.system("cli")
HOUR = timedelta(hours=1)


@pytest.fixture
def register(service, make_draft, clock):
    """Register a point closure 700 m east of the driver, active from now for ten hours."""

    def add():
        draft = make_draft(
            geometry=Point(offset(DRIVER, 90, 700)), starts_at=clock.now, ends_at=clock.now + 10 * HOUR
        )
        return service.register("riyadh", draft, SYSTEM)

    return add


def _ids(queries: ClosureQueries) -> list[int]:
    return [found.closure.id for found in queries.near(Point(DRIVER), 2000)]


def test_a_write_in_this_process_is_seen_by_the_next_query_despite_a_long_interval(
    engine, clock, ticks, register, service
):
    queries = ClosureQueries(engine, clock=clock, check_interval=HOUR, monotonic=ticks)
    assert _ids(queries) == []
    assert queries.is_current()

    closure = register()
    assert not queries.is_current()
    assert _ids(queries) == [closure.id]

    service.lift(closure.id, SYSTEM)
    assert _ids(queries) == []


def test_a_write_through_another_engine_is_seen_once_the_interval_has_passed(
    engine, other_engine, clock, ticks, register
):
    elsewhere = ClosureQueries(
        other_engine, clock=clock, check_interval=timedelta(seconds=30), monotonic=ticks
    )
    assert _ids(elsewhere) == []

    closure = register()  # through the first engine: to ``elsewhere`` another process
    ticks.now += 29.0
    assert elsewhere.is_current()
    assert _ids(elsewhere) == []  # not read yet: at most 30 s stale

    ticks.now += 1.0
    assert not elsewhere.is_current()
    assert _ids(elsewhere) == [closure.id]
    assert elsewhere.is_current()


def test_a_zero_interval_reads_the_counter_before_every_query(engine, other_engine, clock, register):
    elsewhere = ClosureQueries(other_engine, clock=clock)
    assert _ids(elsewhere) == []
    assert not elsewhere.is_current()

    closure = register()
    assert _ids(elsewhere) == [closure.id]


def test_the_index_is_rebuilt_after_max_age_even_within_the_interval(engine, clock, ticks):
    queries = ClosureQueries(engine, clock=clock, check_interval=HOUR, max_age=HOUR, monotonic=ticks)
    queries.near(Point(DRIVER), 2000)
    assert queries.is_current(clock.now + HOUR - timedelta(seconds=1))
    assert not queries.is_current(clock.now + HOUR)


def test_only_committed_transactions_that_move_the_counter_count_as_local_writes(engine, register):
    writes = local_writes(engine)
    before, counter = writes.value, change_counter(engine)

    register()
    assert (writes.value, change_counter(engine)) == (before + 1, counter + 1)

    def bump_then_fail() -> None:
        with session_scope(engine, write=True) as session:
            bump_change_counter(session)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        bump_then_fail()
    with session_scope(engine, write=True):
        pass  # commits without moving the counter
    assert (writes.value, change_counter(engine)) == (before + 1, counter + 1)


def test_a_negative_interval_is_refused(engine):
    with pytest.raises(ValueError, match="check_interval"):
        ClosureQueries(engine, check_interval=timedelta(seconds=-1))


class _WatchedLock:
    """The index's build lock, telling the test how many queries are held at it."""

    def __init__(self, holding: int, all_held: threading.Event) -> None:
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._at = 0
        self._holding = holding
        self._all_held = all_held

    def __enter__(self) -> None:
        with self._guard:
            self._at += 1
            if self._at == self._holding:
                self._all_held.set()
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            self._at -= 1
        self._lock.release()


def test_queries_queued_behind_a_build_share_the_next_even_as_writes_go_on(engine, clock, register):
    # An import writes a closure every few milliseconds: a query waiting for the lock needs a build that
    # began after it looked, not one per query each outdated by the next write.
    first = register()
    queries = ClosureQueries(engine, clock=clock, check_interval=timedelta(0))
    builds: list[int] = []
    held, release, queued = threading.Event(), threading.Event(), threading.Event()
    queries._lock = _WatchedLock(4, queued)  # type: ignore[assignment]  # the same protocol, watched
    build = queries._build

    def watched_build(at):
        builds.append(len(builds))
        if len(builds) == 1:
            snapshot = build(at)
            held.set()
            release.wait(10)  # the three others look and queue meanwhile
            return snapshot
        register()  # the next write lands as the second build begins, after the three looked
        return build(at)

    queries._build = watched_build  # type: ignore[method-assign]  # counting builds, building as ever
    with ThreadPoolExecutor(4) as pool:
        leader = pool.submit(_ids, queries)
        assert held.wait(10)
        second = register()  # written while the first build holds the lock: the others must see it
        followers = [pool.submit(_ids, queries) for _ in range(3)]
        assert queued.wait(10)
        release.set()
        assert leader.result(10) == [first.id]
        seen = [f.result(10) for f in followers]
    assert len(builds) == 2
    for ids in seen:
        assert first.id in ids
        assert second.id in ids
