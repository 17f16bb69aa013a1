"""How late the event loop runs what is due: a periodic callback's lateness, and the stalls among them.

Everything this process does for Telegram and the web shares one event loop; while it is held (a long call
without an ``await``, the garbage collector, a worker thread that keeps the GIL), every reply and request
waits. ``LoopLag`` asks the loop to call it back every ``interval_s`` and records how late each call came:
its *lag*. A lag above ``stall_s`` (100 ms by default, issue 12's threshold) is a *stall*. The web app runs
one for ``/metrics`` (``roadbot_event_loop_lag_seconds``, a histogram); the benchmarks run their own::

    async with LoopLag() as lag:
        await serve_a_while()
    print(lag.stats().as_json())  # {"samples": 500, "stalls": 0, "max_ms": 6.1, "p50_ms": 0.2, ...}

or, from synchronous code (a bench's set-up, a thread, a test): ``lag = LoopLag(); lag.start(loop)`` —
``start``, ``stop`` and ``reset`` are plain methods, safe to call from any thread — and then
``lag.max_ms``, ``lag.stalls`` and ``lag.stalls_over(250)`` for the lags above any other threshold.

The lag is measured on the loop's own clock, from when the callback was due to when it ran, so an idle
loop shows a fraction of a millisecond (the poller's timeout granularity) and a loop held for 240 ms shows
about 240 ms on the next call. The recent lags (``keep`` of them) give the percentiles; the counts, the
worst lag and every lag of ``LATE_S`` (10 ms) or more (for ``stalls_over``) cover everything since
``start`` or ``reset``.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Self

INTERVAL_S = 0.02
STALL_S = 0.1
LATE_S = 0.01  # lags at least this long are all kept, so that stalls_over() counts exactly above it
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)  # for a histogram of lags


@dataclass(frozen=True, slots=True)
class LagStats:
    """What a ``LoopLag`` saw: how many calls, how many stalls, the worst and typical lateness."""

    samples: int
    stalls: int  # lags above stall_ms
    stall_ms: float
    max_ms: float
    p50_ms: float
    p99_ms: float

    def as_json(self) -> dict[str, float | int]:
        return asdict(self)


class LoopLag:
    """Measures the running loop's lag every ``interval_s`` seconds while started.

    ``on_lag`` is told every lag in seconds (e.g. a Prometheus histogram's ``observe``). Start it from
    inside the loop to watch; it holds no thread and costs one short callback per interval.
    """

    def __init__(
        self,
        *,
        interval_s: float = INTERVAL_S,
        stall_s: float = STALL_S,
        keep: int = 10_000,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        if interval_s <= 0 or stall_s <= 0 or keep < 1:
            raise ValueError("interval_s and stall_s must be positive and keep at least 1")
        self.interval_s = interval_s
        self.stall_s = stall_s
        self._on_lag = on_lag
        self._recent: deque[float] = deque(maxlen=keep)
        self._late: list[float] = []  # every lag >= LATE_S: few on a healthy loop
        self._lock = threading.Lock()  # start/stop/reset may come from another thread than the loop's
        self._samples = 0
        self._stalls = 0
        self._max = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0

    @property
    def running(self) -> bool:
        return self._loop is not None

    @property
    def stalls(self) -> int:
        """Lags above ``stall_s`` since ``start`` or ``reset``."""
        return self._stalls

    @property
    def max_ms(self) -> float:
        """The worst lag since ``start`` or ``reset``, in milliseconds."""
        return round(self._max * 1000, 3)

    def stalls_over(self, ms: float) -> int:
        """How many lags were longer than ``ms`` milliseconds (exact from ``LATE_S`` up; below it, among the
        ``keep`` most recent)."""
        limit = ms / 1000
        pool = self._late if limit >= LATE_S else self._recent
        return sum(1 for lag in list(pool) if lag > limit)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Begin watching ``loop`` (by default the running one; a no-op if already watching). From outside
        the loop's thread, pass the loop: the first callback is then scheduled thread-safely."""
        with self._lock:
            if self._loop is not None:
                return
            self._loop = loop if loop is not None else asyncio.get_running_loop()
        if _in_loop_thread(self._loop):
            self._schedule()
        else:
            self._loop.call_soon_threadsafe(self._schedule)

    def stop(self) -> None:
        """Stop watching; what was measured stays readable (a no-op if not watching)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if _in_loop_thread(loop):
            self._cancel()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._cancel)

    def reset(self) -> None:
        """Forget what was measured (keep watching if watching)."""
        with self._lock:
            self._recent.clear()
            self._late = []
            self._samples = self._stalls = 0
            self._max = 0.0

    def stats(self) -> LagStats:
        """The figures since ``start`` or ``reset`` (percentiles over the ``keep`` most recent lags)."""
        recent = sorted(list(self._recent))
        return LagStats(
            samples=self._samples,
            stalls=self._stalls,
            stall_ms=round(self.stall_s * 1000, 3),
            max_ms=self.max_ms,
            p50_ms=round(_percentile(recent, 0.50) * 1000, 3),
            p99_ms=round(_percentile(recent, 0.99) * 1000, 3),
        )

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _schedule(self) -> None:
        loop = self._loop
        if loop is None:  # stopped before the first callback was scheduled
            return
        self._due = loop.time() + self.interval_s
        self._timer = loop.call_at(self._due, self._tick)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        loop = self._loop
        if loop is None:
            return
        lag = max(0.0, loop.time() - self._due)
        self._schedule()  # from now, not from when it was due: a stall is counted once, not caught up on
        with self._lock:
            self._samples += 1
            self._recent.append(lag)
            if lag >= LATE_S:
                self._late.append(lag)
            self._max = max(self._max, lag)
            if lag > self.stall_s:
                self._stalls += 1
        if self._on_lag is not None:
            self._on_lag(lag)


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]
