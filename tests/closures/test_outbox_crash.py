"""Real worker processes killed with ``kill -9`` while Telegram makes them wait: nothing is stranded.

The local Bot API runs in the test; each worker is ``python -m tests.closures.outbox_process`` against it,
on SQLite and on PostgreSQL. Waiting is on the server's calls and on the workers' own log lines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from closures.service import Actor, ClosureService
from tests.closures.conftest import draft_factory
from tests.closures.publishing_support import CHANNEL, rows
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = Actor.system("test")


class WorkerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.lines: list[str] = []

    async def wait_for_line(self, text: str, timeout: float = 20.0) -> str:  # noqa: ASYNC109
        assert self.proc.stderr is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.proc.stderr.readline()).decode()
                if not line:
                    raise AssertionError(f"worker {self.name} ended before {text!r}:\n{''.join(self.lines)}")
                self.lines.append(line)
                if text in line:
                    return line


@asynccontextmanager
async def worker_process(database_url: str, bot_api, name: str) -> AsyncIterator[WorkerProcess]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.closures.outbox_process", "--database-url", database_url,
        "--base-url", bot_api.base_url, "--token", bot_api.token, "--name", name, "--chat-rate", "20",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        ready = (await proc.stdout.readline()).decode()
    assert ready.startswith("ready"), ready
    process = WorkerProcess(proc, name)
    try:
        yield process
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                await proc.wait()


def database_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def test_a_kill_during_a_flood_wait_strands_no_post_and_the_next_process_sends_them_at_once(
    engine, municipalities, bot_api
):
    clock = FakeClock(datetime.now(UTC))
    service = ClosureService(engine, clock=clock, destinations={"telegram": CHANNEL})
    make_draft = draft_factory(clock)
    for i in range(10):
        service.register("riyadh", make_draft(title_en=f"Closure {i}"), SYSTEM)
    # four posts go out, then Telegram says "wait 5 s" — and the process dies while it waits
    bot_api.fail_next("sendPhoto", status=429, retry_after=5, after=4)
    bot_api.fail_next("sendPhoto", status=429, retry_after=1, times=4)

    async with worker_process(database_url(engine), bot_api, "first") as first:
        await first.wait_for_line("flood control")
        first.proc.send_signal(signal.SIGKILL)
        await first.proc.wait()
    killed_at = time.monotonic()
    posted_before = {c.text for c in bot_api.sent(CHANNEL, "sendPhoto")}
    assert len(posted_before) == 4

    async with worker_process(database_url(engine), bot_api, "second") as second:
        await second.wait_for_line("outbox worker first is gone")
        photos = await bot_api.wait_for_count(lambda c: c.method == "sendPhoto" and c.ok, 10, timeout=30)
    took = time.monotonic() - killed_at

    titles = sorted(p.text.split("New road closure: ")[1].split("<")[0] for p in photos)
    assert titles == sorted(f"Closure {i}" for i in range(10))  # every closure once: none lost, none doubled
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 10
    announced = rows(engine, event="announced")
    assert {(r.status, r.last_error) for r in announced if r.status != "done"} == set()
    assert {r.status for r in announced} == {"done"}  # none parked "in doubt": a 429 proves nothing was sent
    assert took < 25, (
        f"the posts waited {took:.0f} s after the kill"
    )  # the 5 s pause and four more, not a lease


async def test_a_kill_in_the_middle_of_a_send_parks_only_that_post_as_in_doubt(
    engine, municipalities, bot_api
):
    clock = FakeClock(datetime.now(UTC))
    service = ClosureService(engine, clock=clock, destinations={"telegram": CHANNEL})
    make_draft = draft_factory(clock)
    for i in range(3):
        service.register("riyadh", make_draft(title_en=f"Closure {i}"), SYSTEM)
    bot_api.delay_next("sendPhoto", 30.0)  # the first send hangs: Telegram may or may not post it

    async with worker_process(database_url(engine), bot_api, "first") as first:
        await bot_api.wait_for_arrival("sendPhoto")  # it reached Telegram, which has not answered yet
        first.proc.send_signal(signal.SIGKILL)
        await first.proc.wait()

    async with worker_process(database_url(engine), bot_api, "second") as second:
        await second.wait_for_line("outbox worker first is gone")
        await second.wait_for_line("in doubt")  # the worker logs each row it parks
        await bot_api.wait_for_count(lambda c: c.method == "sendPhoto" and c.ok, 2, timeout=30)

    announced = rows(engine, event="announced")
    dead = [r for r in announced if r.status == "dead"]
    assert len(dead) == 1
    assert dead[0].last_error.startswith("in doubt")
    assert sum(r.status == "done" for r in announced) == 2


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
