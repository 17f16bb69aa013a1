"""When the bot may send its next message: Telegram's limits, kept by one pacer per process.

- **Overall** (``rate`` a second, 30 by default, 1000 with paid broadcast): the pacer reserves slots of
  wall-clock seconds from a :class:`~closures.sendrate.SendSlots` budget — shared by every process on
  PostgreSQL, in memory on SQLite — a few at a time, and gives slot *j* of second *s* out no earlier than
  ``s + j * spread / rate`` (evenly spread over the first ``spread`` of the second, never a burst) and no
  later than ``s + 1 - margin`` (so that it arrives within its second; a slot not used in
  time is dropped rather than spilling into the next second, where it would break that second's limit).
- **Per chat** (``chat_rate``, one a second): sends to one chat follow each other at least ``1 /
  chat_rate`` apart, measured from the moment each left; and a group or channel (a negative id or an
  ``@username``) gets at most ``group_per_minute`` (20) in any minute, as Telegram allows.
- **Flood control**: :meth:`Pacer.pause` (a 429's ``retry_after``) stops every send of the process, and
  of every process sharing the budget, until it has passed.
- **Order**: urgent requests (replies to people) get the next slot before queued broadcast sends.

``rate`` None sends without pacing (benchmarks, the offline playground). The pacer sleeps to pace; it
never holds the event loop: the shared budget is reserved on a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from closures.sendrate import LocalSlots, SendSlots

WallClock = Callable[[], float]
_CHUNK_S = 0.25  # one reservation asks for at most this much of a second's budget


class Pacer:
    """Hands out send times under the overall limit, the per-chat limit and flood-control pauses."""

    def __init__(
        self,
        slots: SendSlots | None = None,
        *,
        rate: float | None = 30.0,
        chat_rate: float | None = 1.0,
        group_per_minute: int | None = 20,
        group_window_s: float = 60.0,
        spread_s: float = 0.8,
        margin_s: float = 0.1,
        wall: WallClock = time.time,
    ) -> None:
        if (rate is not None and rate <= 0) or (chat_rate is not None and chat_rate <= 0):
            raise ValueError("rate and chat_rate must be positive (or None for no limit)")
        self.slots = slots if slots is not None else LocalSlots()
        self.rate = rate
        self.chat_gap = 1.0 / chat_rate if chat_rate else 0.0
        self.group_per_minute = group_per_minute
        self.group_window_s = group_window_s  # "a minute" (shorter only in tests)
        self._group_sent: dict[str, deque[float]] = {}
        self.spread_s = spread_s
        self.margin_s = margin_s  # a request's time from leaving here to arriving at Telegram, allowed for
        self.wall = wall
        self.paused_until = 0.0
        self._shared = not isinstance(self.slots, LocalSlots)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="send-budget") if self._shared else None
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._tokens: deque[tuple[float, float]] = deque()  # (not before, not after), wall clock
        self._last_scheduled = 0.0
        self._changed = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._chat_last: dict[str, float] = {}
        self._chat_locks: dict[str, asyncio.Lock] = {}

    async def acquire(
        self, chat: object | None, *, urgent: bool = False, last_sent: float | None = None
    ) -> None:
        """Wait until a message to ``chat`` may leave now (see :meth:`slot`)."""
        async with self.slot(chat, urgent=urgent, last_sent=last_sent):
            pass

    @contextlib.asynccontextmanager
    async def slot(
        self, chat: object | None, *, urgent: bool = False, last_sent: float | None = None
    ) -> AsyncIterator[None]:
        """Wait until a message to ``chat`` may leave; the request leaves as the block ends, and the chat's
        next message is paced from that moment (``chat`` None: a request to no chat).

        ``last_sent``: when another process last sent to this chat (wall clock), as the outbox knows it.
        """
        if chat is None or not self.chat_gap:
            await self._overall(urgent)
            yield
            return
        key = str(chat)
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        async with lock:
            last = max(self._chat_last.get(key, 0.0), last_sent or 0.0)
            if (wait := last + self.chat_gap - self.wall()) > 0:
                await asyncio.sleep(min(wait, self.chat_gap))  # never longer: clocks may disagree
            window = self._group_window(key)
            full = window is not None and len(window) == window.maxlen
            if full and window and (wait := window[0] + self.group_window_s - self.wall()) > 0:
                await asyncio.sleep(wait)  # the group's share of this minute is spent
            await self._overall(urgent)
            try:
                yield
            finally:
                self._chat_last[key] = now = self.wall()
                if window is not None:
                    window.append(now)
        if not lock.locked() and len(self._chat_locks) > 1024:
            self._forget_quiet_chats()

    def _group_window(self, key: str) -> deque[float] | None:
        """The send times of the last minute's messages to a group or channel (None: a private chat)."""
        if not self.group_per_minute or not (key.startswith(("@", "-"))):
            return None
        return self._group_sent.setdefault(key, deque(maxlen=self.group_per_minute))

    def pause(self, seconds: float) -> float:
        """Flood control: send nothing for ``seconds`` (here and, through a shared budget, everywhere)."""
        until = self.wall() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self._tokens.clear()
            self._changed.set()
            if self._executor is not None:
                self._executor.submit(self.slots.pause, until)
            else:
                self.slots.pause(until)
        return until

    async def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for _, _, future in self._waiters:
            future.cancel()
        self._waiters.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    # overall ------------------------------------------------------------------------------------------
    async def _overall(self, urgent: bool) -> None:
        while True:
            if self.rate is None and self.paused_until <= self.wall():
                return
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (0 if urgent else 1, next(self._seq), future))
            if self._dispatcher is None or self._dispatcher.done():
                self._dispatcher = asyncio.create_task(self._dispatch(), name="send-pacer")
            self._changed.set()
            await future
            # a slot given out just before a 429 was read (this task ran late) is not used: wait it out
            if self.paused_until <= self.wall():
                return

    async def _dispatch(self) -> None:
        """Give each waiter, best first, the next slot when its time comes."""
        while True:
            while self._waiters and self._waiters[0][2].done():  # cancelled while waiting
                heapq.heappop(self._waiters)
            if not self._waiters:
                return
            now = self.wall()
            if self.paused_until > now:
                await self._sleep(self.paused_until - now)
                continue
            if self.rate is None:
                self._release()
                continue
            while self._tokens and self._tokens[0][1] <= now:
                self._tokens.popleft()  # not used in its second: dropped, never carried over
            if not self._tokens:
                await self._reserve(now)
                continue
            not_before, _ = self._tokens[0]
            if not_before > now:
                await self._sleep(not_before - now)
                continue
            self._tokens.popleft()
            self._release()

    def _release(self) -> None:
        _, _, future = heapq.heappop(self._waiters)
        future.set_result(None)

    async def _reserve(self, now: float) -> None:
        assert self.rate is not None
        second = math.floor(now)
        limit = max(1, math.floor(self.rate))
        wanted = max(1, min(len(self._waiters), math.ceil(limit * _CHUNK_S)))
        if self._executor is not None:
            loop = asyncio.get_running_loop()
            grant = await loop.run_in_executor(
                self._executor, lambda: self.slots.reserve(second, wanted, limit, now=now)
            )
        else:
            grant = self.slots.reserve(second, wanted, limit, now=now)
        if grant.paused_until > now:
            self.paused_until = max(self.paused_until, grant.paused_until)
            return
        if not grant.count:  # this second is spent (here or by other processes): the next one
            await self._sleep(second + 1 - self.wall())
            return
        last = second + 1 - self.margin_s
        gap = self.spread_s / limit
        self._last_scheduled = max(self._last_scheduled, now - gap)  # from now on: no catching up in a burst
        for j in range(grant.first, grant.first + grant.count):
            # evenly spread: never closer than 1/limit to the slot before, even across reservations
            not_before = max(second + j * gap, self._last_scheduled + gap)
            if not_before >= last:
                break  # the rest of this second's share cannot be used in time
            self._tokens.append((not_before, last))
            self._last_scheduled = not_before

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when a pause or a new waiter changes the picture."""
        self._changed.clear()
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=seconds)

    def _forget_quiet_chats(self) -> None:
        horizon = self.wall() - self.chat_gap
        for key in [k for k, t in self._chat_last.items() if t < horizon]:
            lock = self._chat_locks.get(key)
            if lock is None or not lock.locked():
                self._chat_last.pop(key, None)
                self._chat_locks.pop(key, None)
                window = self._group_sent.get(key)
                if window is not None and (not window or window[-1] < self.wall() - self.group_window_s):
                    self._group_sent.pop(key, None)
