"""``Singleton``: a job runs in the one process holding its lock, stops on a stop or a lost lock, starts
again elsewhere (or here) after; a failing job or an unreachable database never takes the bot down.

Two singletons in one test process stand for two processes here (each has its own engine, so its own
PostgreSQL session); ``tests/bot/cli/test_run_replicas.py`` runs two real ``roadbot run`` processes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.singletons import Singleton
from closures.locks import ProcessLock
from closures.store import make_engine

CHECK_S = 0.05
TIMEOUT_S = 30


class Job:
    """A job that counts its runs and waits on its event, as partner polling does; or fails once."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.runs = 0
        self.ended = 0
        self.changed = asyncio.Condition()
        self._fail_first = fail_first

    async def __call__(self, quit_job: asyncio.Event) -> None:
        await self._count(started=True)
        try:
            if self._fail_first and self.runs == 1:
                raise RuntimeError("the partner's feed reader broke")
            await quit_job.wait()
        finally:
            await asyncio.shield(self._count(started=False))

    async def _count(self, *, started: bool) -> None:
        async with self.changed:
            if started:
                self.runs += 1
            else:
                self.ended += 1
            self.changed.notify_all()

    async def until(self, *, runs: int, ended: int = 0) -> None:
        async with asyncio.timeout(TIMEOUT_S), self.changed:
            await self.changed.wait_for(lambda: self.runs >= runs and self.ended >= ended)


class Process:
    """One "process": its own engine and lock, competing to run one job until stopped."""

    def __init__(self, url: str, name: str, job: Job) -> None:
        self.engine = make_engine(url)
        self.singleton = Singleton(ProcessLock(self.engine, name), job, check_s=CHECK_S, what="polling")
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.singleton.run(self.stop))

    async def stopped(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, TIMEOUT_S)
        self.engine.dispose()


async def waits_for(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), TIMEOUT_S)


@pytest.fixture
def lock_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def processes() -> AsyncIterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if not process.task.done():
            await process.stopped()


async def test_on_sqlite_the_job_runs_at_once_and_stops_with_the_process(
    tmp_path: Path, processes: list[Process], lock_name: str
):
    job = Job()
    process = Process(f"sqlite:///{tmp_path / 'one.sqlite'}", lock_name, job)
    processes.append(process)

    await job.until(runs=1)
    assert process.singleton.holding.is_set()
    await process.stopped()

    assert (job.runs, job.ended) == (1, 1)
    assert not process.singleton.holding.is_set()
    assert not process.singleton.lock.held


@pytest.mark.postgres
async def test_one_of_two_processes_runs_the_job_and_the_other_takes_over_when_it_stops(
    postgres_database: str, processes: list[Process], lock_name: str, caplog: pytest.LogCaptureFixture
):
    first_job, second_job = Job(), Job()
    with caplog.at_level(logging.INFO, logger="bot.singletons"):
        first = Process(postgres_database, lock_name, first_job)
        processes.append(first)
        await first_job.until(runs=1)
        second = Process(postgres_database, lock_name, second_job)
        processes.append(second)
        await waits_for(second.singleton.waiting)

        assert second_job.runs == 0
        await first.stopped()
        await second_job.until(runs=1)

    assert (first_job.runs, first_job.ended) == (1, 1)
    assert second.singleton.holding.is_set()
    assert not second.singleton.waiting.is_set()
    said = [r.getMessage() for r in caplog.records]
    assert said.count(f"polling: run by this process (it holds the lock {lock_name!r})") == 2
    assert "polling: run by another process; this one takes over if it stops" in said


@pytest.mark.postgres
async def test_a_holder_whose_session_ends_stops_the_job_and_takes_the_lock_again(
    postgres_database: str, processes: list[Process], lock_name: str, caplog: pytest.LogCaptureFixture
):
    job = Job()
    process = Process(postgres_database, lock_name, job)
    processes.append(process)
    await job.until(runs=1)

    with caplog.at_level(logging.WARNING, logger="bot.singletons"):
        _end_the_session_holding(postgres_database, process.singleton.lock)
        await job.until(runs=2, ended=1)  # stopped, then started again once the lock was back

    assert any("was lost" in r.getMessage() for r in caplog.records)
    assert process.singleton.lock.held


async def test_a_failing_job_is_logged_and_started_again(
    tmp_path: Path, processes: list[Process], lock_name: str, caplog: pytest.LogCaptureFixture
):
    job = Job(fail_first=True)
    with caplog.at_level(logging.ERROR, logger="bot.singletons"):
        processes.append(Process(f"sqlite:///{tmp_path / 'one.sqlite'}", lock_name, job))
        await job.until(runs=2, ended=1)

    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.getMessage() == f"polling failed; it starts again in {CHECK_S:g} s"
    assert failure.exc_info is not None
    assert "feed reader broke" in str(failure.exc_info[1])


async def test_a_job_that_returns_keeps_the_lock_so_no_other_process_does_it_again(
    tmp_path: Path, lock_name: str
):
    done = asyncio.Event()

    async def once(_quit: asyncio.Event) -> None:
        done.set()

    engine = make_engine(f"sqlite:///{tmp_path / 'one.sqlite'}")
    singleton = Singleton(ProcessLock(engine, lock_name), once, check_s=CHECK_S, what="menus")
    stop = asyncio.Event()
    task = asyncio.create_task(singleton.run(stop))
    await waits_for(done)
    await waits_for(singleton.tried)
    singleton.tried.clear()

    assert singleton.holding.is_set()
    assert singleton.lock.held
    stop.set()
    await asyncio.wait_for(task, TIMEOUT_S)
    assert not singleton.tried.is_set()  # it never tried again: it held the lock all along
    engine.dispose()


async def test_an_unreachable_database_is_logged_and_tried_again(
    processes: list[Process], lock_name: str, caplog: pytest.LogCaptureFixture, unused_tcp_port: int
):
    job = Job()
    with caplog.at_level(logging.WARNING, logger="bot.singletons"):
        process = Process(f"postgresql+psycopg://roadbot@127.0.0.1:{unused_tcp_port}/roadbot", lock_name, job)
        processes.append(process)
        for _ in range(2):
            await waits_for(process.singleton.tried)
            process.singleton.tried.clear()
        await process.stopped()

    assert job.runs == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) >= 2
    assert all(w.startswith("polling: cannot reach the database to take its lock (") for w in warnings)


def _end_the_session_holding(url: str, lock: ProcessLock) -> None:
    """What an administrator's pg_terminate_backend, or a database restart, does to the holder."""
    a, b = (key & 0xFFFF_FFFF for key in lock.keys)
    admin = make_engine(url)
    with admin.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = :a AND objid = :b AND objsubid = 2"
            ),
            {"a": a, "b": b},
        ).scalar_one()
    admin.dispose()
    assert ended
