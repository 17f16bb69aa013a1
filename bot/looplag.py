"""How late the event loop runs what is due: a periodic callback's lateness, and the stalls among them.

Everything this process does for Telegram and the web shares one event loop; while it is held (a long call
without an ``await``, the garbage collector, a worker thread that keeps the GIL), every reply and request
waits. ``LoopLag`` asks the loop to call it back every ``interval_s`` and records how late each call came:
its *lag*. A lag above ``stall_s`` (100 ms by default, issue 12's threshold) is a *stall*. The web app runs
one for ``/metrics`` (``roadbot_event_loop_lag_seconds``, a histogram); the benchmarks run their own::

    async with LoopLag() as lag:
        await serve_a_while()
    print(lag.stats().as_json())  # {"samples": 500, "stalls": 0, "max_ms": 6.1, "p50_ms": 0.2, ...}

The lag is measured on the loop's own clock, from when the callback was due to when it ran, so an idle
loop shows a fraction of a millisecond (the poller's timeout granularity) and a loop held for 240 ms shows
about 240 ms on the next call. The recent lags (``keep`` of them) give the percentiles; the counts and the
worst lag cover everything since ``start`` or ``reset``.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Self

INTERVAL_S = 0.02
STALL_S = 0.1
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
        self._samples = 0
        self._stalls = 0
        self._max = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self) -> None:
        """Begin watching the running loop (a no-op if already watching)."""
        if self._timer is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._schedule()

    def stop(self) -> None:
        """Stop watching; what was measured stays readable."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def reset(self) -> None:
        """Forget what was measured (keep watching if watching)."""
        self._recent.clear()
        self._samples = self._stalls = 0
        self._max = 0.0

    def stats(self) -> LagStats:
        """The figures since ``start`` or ``reset`` (percentiles over the ``keep`` most recent lags)."""
        recent = sorted(self._recent)
        return LagStats(
            samples=self._samples,
            stalls=self._stalls,
            stall_ms=round(self.stall_s * 1000, 3),
            max_ms=round(self._max * 1000, 3),
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
        assert self._loop is not None
        self._due = self._loop.time() + self.interval_s
        self._timer = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        lag = max(0.0, self._loop.time() - self._due)
        self._schedule()  # from now, not from when it was due: a stall is counted once, not caught up on
        self._samples += 1
        self._recent.append(lag)
        self._max = max(self._max, lag)
        if lag > self.stall_s:
            self._stalls += 1
        if self._on_lag is not None:
            self._on_lag(lag)


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]
