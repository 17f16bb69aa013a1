"""``ProcessLock``: one holder among real processes on PostgreSQL; given up on release, exit or death.

The process tests run ``tests.closures.lock_holder`` twice against the PostgreSQL test server and read
what each says; no test waits by sleeping. On SQLite the lock is trivially held (one process per file).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from closures.locks import NAMESPACE, ProcessLock, lock_keys
from closures.store import make_engine

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 30


class Holder:
    """One ``lock_holder`` process: send it a command, read its one-word answer."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def says(self) -> str:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT_S)
        if not line:
            assert self.process.stderr is not None
            raise AssertionError(f"the holder exited: {(await self.process.stderr.read()).decode()}")
        return line.decode().strip()

    async def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return await self.says()

    async def until_held(self) -> None:
        """Ask again until it holds the lock: the server drops a dead session's lock a moment after the
        socket closes, and each ask is a round trip to the server, not a sleep."""
        async with asyncio.timeout(TIMEOUT_S):
            while await self.ask("try") != "held":
                pass


@pytest.fixture
def lock_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def spawn(postgres_database: str, lock_name: str) -> AsyncIterator:
    processes: list[asyncio.subprocess.Process] = []

    async def start() -> Holder:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.closures.lock_holder", postgres_database, lock_name,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        processes.append(process)
        return Holder(process)

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
        await process.wait()


def test_keys_are_two_int4_one_for_the_project_and_one_per_name():
    a, b = lock_keys("partner-feeds")

    assert lock_keys("partner-feeds") == (a, b)
    assert lock_keys("command-menus")[0] == a
    assert lock_keys("command-menus")[1] != b
    assert all(-(2**31) <= key < 2**31 for key in (a, b))
    assert NAMESPACE == "road-closure-bot"
    with pytest.raises(ValueError, match="name"):
        lock_keys("")


def test_on_sqlite_the_lock_is_trivially_held(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'one.sqlite'}")
    lock = ProcessLock(engine, "partner-feeds")

    assert lock.try_acquire()
    assert lock.held
    assert lock.still_held()
    lock.release()
    assert not lock.held
    assert not (tmp_path / "one.sqlite").exists()  # nothing was written, not even the file
    engine.dispose()


@pytest.mark.postgres
async def test_a_second_process_waits_until_the_holder_releases(spawn):
    first = await spawn()
    assert await first.says() == "held"
    second = await spawn()
    assert await second.says() == "busy"
    assert await second.ask("try") == "busy"

    assert await first.ask("release") == "released"
    assert await second.ask("try") == "held"  # at once: the release is done on the server
    assert await first.ask("try") == "busy"
    assert await first.ask("check") == "lost"  # it never took it back
    assert await second.ask("check") == "held"


@pytest.mark.postgres
async def test_a_holder_killed_with_sigkill_loses_the_lock_to_the_next_process(spawn):
    first = await spawn()
    assert await first.says() == "held"
    second = await spawn()
    assert await second.says() == "busy"

    first.process.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(first.process.wait(), TIMEOUT_S) == -signal.SIGKILL
    await second.until_held()

    third = await spawn()
    assert await third.says() == "busy"
    assert await second.ask("check") == "held"


@pytest.mark.postgres
async def test_a_holder_that_exits_without_releasing_lets_the_lock_go(spawn):
    first = await spawn()
    assert await first.says() == "held"
    second = await spawn()
    assert await second.says() == "busy"

    assert first.process.stdin is not None
    first.process.stdin.close()  # end of input: it exits still holding
    assert await asyncio.wait_for(first.process.wait(), TIMEOUT_S) == 0
    await second.until_held()


@pytest.mark.postgres
def test_a_holder_learns_its_session_was_ended_and_competes_again(postgres_database: str, lock_name: str):
    engine, other_engine = make_engine(postgres_database), make_engine(postgres_database)
    lock, other = ProcessLock(engine, lock_name), ProcessLock(other_engine, lock_name)
    try:
        assert lock.try_acquire()
        assert lock.try_acquire()  # already held: no second lock on the server
        assert not other.try_acquire()
        assert _holders(other_engine, lock) == 1

        with other_engine.connect() as conn:  # an administrator ends the holder's session
            pid = _holder_pid(conn, lock)
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert other.try_acquire()

        assert not lock.still_held()
        assert not lock.held
        assert not lock.try_acquire()
        other.release()
        assert lock.try_acquire()
        lock.release()
        lock.release()  # twice: harmless
        assert _holders(other_engine, lock) == 0
    finally:
        lock.release()
        other.release()
        engine.dispose()
        other_engine.dispose()


@pytest.mark.postgres
def test_the_lock_session_gives_up_on_a_vanished_peer_in_half_a_minute(
    postgres_database: str, lock_name: str
):
    engine = make_engine(postgres_database)
    lock = ProcessLock(engine, lock_name)
    try:
        assert lock.try_acquire()
        assert lock._conn is not None  # the lock's own session: its settings are visible only there
        shown = {
            name: lock._conn.execute(sa.text(f"SHOW {name}")).scalar_one()
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
        }
        client_port = lock._conn.execute(
            sa.text("SELECT client_port FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        ).scalar_one()
    finally:
        lock.release()
        engine.dispose()

    if client_port is None:  # a Unix socket: the kernel tells the server at once, keepalives read 0
        assert set(shown.values()) == {"0"}
    else:
        assert shown == {
            "tcp_keepalives_idle": "10",
            "tcp_keepalives_interval": "5",
            "tcp_keepalives_count": "3",
        }


def _holder_pid(conn: sa.Connection, lock: ProcessLock) -> int:
    a, b = (key & 0xFFFF_FFFF for key in lock.keys)
    return int(
        conn.execute(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :a AND objid = :b AND objsubid = 2"
            ),
            {"a": a, "b": b},
        ).scalar_one()
    )


def _holders(engine: sa.Engine, lock: ProcessLock) -> int:
    a, b = (key & 0xFFFF_FFFF for key in lock.keys)
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = :a AND objid = :b AND objsubid = 2"
                ),
                {"a": a, "b": b},
            ).scalar_one()
        )
