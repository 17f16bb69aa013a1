"""Per-user flood control: a token bucket per user, so one user's burst never slows anyone else.

>>> now = [0.0]
>>> control = FloodControl(rate_per_s=1.0, burst=3, clock=lambda: now[0])
>>> [control.check(7).value for _ in range(5)]
['allow', 'allow', 'allow', 'warn', 'drop']
>>> control.check(8)
<Verdict.ALLOW: 'allow'>
>>> now[0] = 1.0
>>> control.check(7)
<Verdict.ALLOW: 'allow'>
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"  # refused, and the user should be told once
    DROP = "drop"  # refused silently: they were told already


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class FloodControl:
    """Allow ``burst`` updates at once and ``rate_per_s`` sustained, per user (the last ``max_users``)."""

    def __init__(
        self,
        *,
        rate_per_s: float = 2.0,
        burst: int = 8,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._max_users = max_users
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def check(self, user_id: int) -> Verdict:
        """Spend one token of this user's bucket if there is one."""
        now = self._clock()
        bucket = self._buckets.pop(user_id, None) or _Bucket(self._burst, now)
        self._buckets[user_id] = bucket  # most recently seen last, so the oldest are evicted first
        if len(self._buckets) > self._max_users:
            self._buckets.popitem(last=False)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Verdict.ALLOW
        if bucket.warned:
            return Verdict.DROP
        bucket.warned = True
        return Verdict.WARN
