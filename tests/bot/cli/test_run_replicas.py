"""Two ``roadbot run`` processes on one PostgreSQL, in webhook mode as compose.yaml runs them: partner
polling and the start-up command menus run in exactly one of them, with no setting; when that one is
killed with SIGKILL the other takes both over; a clean stop lets the locks go.

Every wait is on something observable, with a timeout: a line a process logs, a request the partner's
feed server receives, a call the local Bot API answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.handlers.menus import MENUS_LOCK
from bot.localapi import ApiCall, LocalBotApi
from bot.web.partners import PARTNER_FEEDS_LOCK
from closures.locks import ProcessLock
from tests.fakes.partner_feed import PartnerFeedServer

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_S = 90  # a process starting on a busy machine
EMPTY_FEED = b'{"type": "FeatureCollection", "features": []}'
POLLING, MENUS = "partner polling", "start-up command menus"
RUNS_HERE, RUNS_ELSEWHERE = "run by this process", "run by another process"

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("engine", ["postgres"], indirect=True)]


class Bot:
    """One ``roadbot run`` process and the lines of its log (stderr), read as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()  # the process ended: waiters give up now

    async def logs(self, *words: str) -> str:
        """The first line holding all ``words``, already logged or still to come."""

        def found() -> str | None:
            return next((line for line in self.lines if all(w in line for w in words)), None)

        async with asyncio.timeout(TIMEOUT_S), self._changed:
            await self._changed.wait_for(lambda: found() is not None or self._reader.done())
        line = found()
        assert line is not None, f"never logged {words!r}:\n" + "\n".join(self.lines)
        return line

    def said(self, *words: str) -> bool:
        return any(all(w in line for w in words) for line in self.lines)

    async def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), TIMEOUT_S)
        await asyncio.wait_for(self._reader, TIMEOUT_S)
        return code


@pytest.fixture
def feed() -> AsyncIterator[PartnerFeedServer]:
    with PartnerFeedServer().running() as server:
        server.body = EMPTY_FEED
        yield server


@pytest.fixture
async def start_bot(
    bot_api: LocalBotApi, engine: sa.Engine, municipalities, feed: PartnerFeedServer, tmp_path: Path
) -> AsyncIterator[Callable]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WEB_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_BASE_URL": bot_api.base_url,
        "TELEGRAM_BASE_FILE_URL": bot_api.base_file_url,
        "WEBHOOK_URL": "http://127.0.0.1:9",  # webhook mode, as behind the balancer (nothing is sent here)
        "WEB_PORT": "0",
        "PARTNER_FEEDS": json.dumps(
            [{"url": feed.url(), "format": "geojson", "municipality": "riyadh", "interval_s": 3600}]
        ),
        "SINGLETON_CHECK_S": "0.2",
        "GEOCODER": "none",
        "OUTBOX_WORKER": "false",
    }
    bots: list[Bot] = []

    async def start() -> Bot:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run",
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        bots.append(Bot(process))
        return bots[-1]

    yield start
    for bot in bots:
        if bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()


def menu_call(call: ApiCall) -> bool:
    return call.method == "setMyCommands"


async def test_one_of_two_bots_polls_and_sets_the_menus_and_the_other_takes_over_when_it_is_killed(
    start_bot: Callable, bot_api: LocalBotApi, feed: PartnerFeedServer, engine: sa.Engine
):
    first = await start_bot()
    await first.logs(POLLING, RUNS_HERE)
    await first.logs(MENUS, RUNS_HERE)
    await asyncio.to_thread(feed.wait_for_requests, 1, TIMEOUT_S)
    await bot_api.wait_for_count(menu_call, 2, TIMEOUT_S)  # the drivers' menu, in Arabic and in English

    second = await start_bot()
    await second.logs("answering as @")
    await second.logs(POLLING, RUNS_ELSEWHERE)
    await second.logs(MENUS, RUNS_ELSEWHERE)
    assert len(feed.requests) == 1  # the second has not polled
    assert len([c for c in bot_api.calls if menu_call(c)]) == 2  # nor set the menus

    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL  # no goodbye: its session just ends
    await second.logs(POLLING, RUNS_HERE)
    await second.logs(MENUS, RUNS_HERE)
    await asyncio.to_thread(feed.wait_for_requests, 2, TIMEOUT_S)
    await bot_api.wait_for_count(menu_call, 4, TIMEOUT_S)

    assert await second.stop(signal.SIGINT) == 0
    assert not second.said("Traceback")
    assert not first.said(RUNS_ELSEWHERE)
    for name in (PARTNER_FEEDS_LOCK, MENUS_LOCK):  # let go on the clean stop: anyone may take them now
        lock = ProcessLock(engine, name)
        assert lock.try_acquire(), name
        lock.release()
