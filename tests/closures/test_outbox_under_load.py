"""The publish fault scenario with the event loop kept busy: timeouts stay honest, nothing is parked.

Ten announcements at once, every photo answered only after 3 s (the timeout is 5 s) and five of them
refused with a 429 — while a coroutine keeps the event loop busy in 50 ms slices (as a burst of drivers'
queries would) and a thread holds the GIL in bursts. Every post must go out exactly once, and none be
parked "in doubt": a timeout must count from the request leaving, and our own work must not starve the
loop past it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.publish.gate import TelegramGate
from bot.publish.pacing import Pacer
from closures.lifecycle import system_clock
from closures.service import Actor, ClosureService
from tests.closures.conftest import draft_factory
from tests.closures.publishing_support import CHANNEL, rows, telegram_publishers, worker
from tests.conftest import FakeClock

SYSTEM = Actor.system("test")


async def busy_loop(stop: asyncio.Event, slice_s: float = 0.05) -> int:
    """Hold the event loop in CPU-bound slices until ``stop``; how many slices it took."""
    slices = 0
    while not stop.is_set():
        until = time.perf_counter() + slice_s
        while time.perf_counter() < until:
            pass
        slices += 1
        await asyncio.sleep(0)
    return slices


def gil_bursts(stop: threading.Event) -> None:
    """Hold the GIL in bursts: sorting a large list runs in C without releasing it."""
    data = list(range(400_000, 0, -1))
    while not stop.is_set():
        sorted(data)
        time.sleep(0.01)


async def test_a_burst_under_cpu_load_goes_out_once_each_with_none_in_doubt(engine, municipalities, bot_api):
    clock = FakeClock(datetime.now(UTC))
    service = ClosureService(engine, clock=clock, destinations={"telegram": CHANNEL})
    make_draft = draft_factory(clock)
    for i in range(10):
        service.register("riyadh", make_draft(title_en=f"Closure {i}"), SYSTEM)
    bot_api.delay_next("sendPhoto", 3.0, times=10)
    bot_api.fail_next("sendPhoto", status=429, retry_after=1, times=5)
    request = HTTPXRequest(connection_pool_size=32, read_timeout=5, write_timeout=5)
    gate = TelegramGate(Pacer(rate=30, chat_rate=20, group_per_minute=None))  # timeouts, not limits
    bot = ExtBot(bot_api.token, base_url=bot_api.base_url, request=request, rate_limiter=gate)

    stop_loop, stop_thread = asyncio.Event(), threading.Event()
    burner = threading.Thread(target=gil_bursts, args=(stop_thread,), daemon=True)
    async with bot:
        w = worker(engine, system_clock, telegram_publishers(bot))  # real time: retry_after must pass
        busy = asyncio.create_task(busy_loop(stop_loop))
        burner.start()
        run = asyncio.create_task(w.run())
        try:
            photos = await bot_api.wait_for_count(lambda c: c.method == "sendPhoto" and c.ok, 10, timeout=90)
        finally:
            stop_loop.set()
            stop_thread.set()
            w.stop()
            await asyncio.wait_for(run, 30)
            slices = await busy
            burner.join(10)

    assert slices > 50  # the loop really was kept busy
    titles = sorted(p.text.split("New road closure: ")[1].split("<")[0] for p in photos)
    assert titles == sorted(f"Closure {i}" for i in range(10))
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 10  # exactly once each
    announced = rows(engine, event="announced")
    assert [(r.status, r.last_error) for r in announced if r.status != "done"] == []  # none in doubt
