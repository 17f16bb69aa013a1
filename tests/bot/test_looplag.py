"""``bot.looplag.LoopLag`` on a real event loop: a loop held by blocking code shows the stall, an idle loop
shows none, and the monitor starts and stops from inside or outside the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.looplag import LATE_S, LoopLag


def hold_the_loop(seconds: float) -> None:
    """Keep the event loop's thread busy without yielding (what a GC pass or a GIL-holding build does)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def samples(lag_seen: asyncio.Queue[float], count: int) -> list[float]:
    return [await asyncio.wait_for(lag_seen.get(), timeout=5) for _ in range(count)]


async def test_a_held_loop_is_one_stall_of_about_the_time_it_was_held():
    seen: asyncio.Queue[float] = asyncio.Queue()
    lag = LoopLag(interval_s=0.005, stall_s=0.1, on_lag=seen.put_nowait)
    async with lag:
        await samples(seen, 3)
        hold_the_loop(0.15)
        after = await samples(seen, 3)

    assert max(after) >= 0.14
    assert lag.stalls == 1  # counted once, not caught up on interval by interval
    assert lag.stalls_over(100) == 1
    assert lag.stalls_over(200) == 0
    assert 140 <= lag.max_ms < 1000
    stats = lag.stats()
    assert stats.samples >= 6
    assert stats.stalls == 1
    assert stats.max_ms == lag.max_ms
    assert stats.as_json()["stall_ms"] == 100.0


async def test_an_idle_loop_has_no_stalls_and_small_lags():
    seen: asyncio.Queue[float] = asyncio.Queue()
    async with LoopLag(interval_s=0.002, on_lag=seen.put_nowait) as lag:
        await samples(seen, 20)

    assert lag.stalls == 0
    assert lag.stalls_over(100) == 0
    assert lag.stats().p50_ms < 50  # generous: two shared cores, yet nowhere near a stall


async def test_stalls_over_a_threshold_below_late_uses_the_recent_lags():
    seen: asyncio.Queue[float] = asyncio.Queue()
    async with LoopLag(interval_s=0.002, on_lag=seen.put_nowait) as lag:
        await samples(seen, 5)
        hold_the_loop(LATE_S * 3)
        await samples(seen, 2)

    assert lag.stalls_over(LATE_S * 1000 / 2) >= 1
    assert lag.stalls_over(LATE_S * 1000 / 2) <= lag.stats().samples


async def test_stop_keeps_the_figures_and_reset_forgets_them():
    seen: asyncio.Queue[float] = asyncio.Queue()
    lag = LoopLag(interval_s=0.002, stall_s=0.02, on_lag=seen.put_nowait)
    lag.start()
    lag.start()  # a no-op: still one callback per interval
    await samples(seen, 2)
    hold_the_loop(0.03)
    await samples(seen, 1)
    lag.stop()
    assert not lag.running
    kept = lag.stats()
    assert kept.stalls == 1
    other: asyncio.Queue[float] = asyncio.Queue()
    async with LoopLag(interval_s=0.002, on_lag=other.put_nowait):
        await samples(other, 10)  # ten intervals pass on a second monitor while the first is stopped
    assert lag.stats() == kept

    lag.reset()
    assert lag.stats().samples == 0
    assert lag.stalls == 0
    assert lag.max_ms == 0
    assert lag.stalls_over(10) == 0


def test_started_and_stopped_from_another_thread_than_the_loops():
    loop = asyncio.new_event_loop()
    ticked = threading.Event()
    lag = LoopLag(interval_s=0.002, on_lag=lambda _: ticked.set())
    runner = threading.Thread(target=loop.run_forever)
    runner.start()
    try:
        lag.start(loop)  # sync code, not the loop's thread: scheduled thread-safely
        assert lag.running
        assert ticked.wait(5)
        lag.stop()
        assert not lag.running
        assert lag.stats().samples >= 1
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()


def test_start_outside_a_loop_without_one_is_refused():
    with pytest.raises(RuntimeError):
        LoopLag().start()


@pytest.mark.parametrize("kwargs", [{"interval_s": 0}, {"stall_s": -1}, {"keep": 0}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]):
    with pytest.raises(ValueError, match="must be positive"):
        LoopLag(**kwargs)  # type: ignore[arg-type]  # the wrong values are the point
