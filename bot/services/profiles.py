"""Drivers' profiles for the handlers: from the in-process cache, else read together in one trip.

Updates arrive in batches (a long poll returns up to a hundred), and with concurrent updates their handlers
start in the same turn of the event loop. Each asks for its driver's profile; the ones not cached are read
in a single worker-thread trip and a single query at the end of that turn, instead of a trip and a query
apiece — a trip costs more than the query it carries (about 1.2 ms of CPU under load, measured with
``bench/bot_throughput.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from closures.drivers import DriverDirectory, Profile

log = logging.getLogger(__name__)


class ProfileLoader:
    """Coalesces the profile reads asked for during one turn of the event loop into one blocking call.

    ``directory`` is looked up on every use, so whoever holds the current ``DriverDirectory`` may swap it.
    """

    def __init__(self, directory: Callable[[], DriverDirectory]) -> None:
        self._directory = directory
        self._waiting: dict[int, list[asyncio.Future[Profile]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reads: set[asyncio.Future[dict[int, Profile]]] = set()  # held: the loop keeps tasks weakly
        self._snapshot_read: asyncio.Task[int] | None = None

    def cached(self, user_id: int) -> Profile | None:
        """The profile if the cache holds it (no I/O)."""
        return self._directory().cached_profile(user_id)

    async def get(self, user_id: int) -> Profile:
        """The driver's profile: cached, or read along with the others asked for in this turn."""
        profile = self.cached(user_id)
        if profile is not None:
            return profile
        loop = asyncio.get_running_loop()
        self._refresh_snapshot(loop)
        if loop is not self._loop:  # a new loop (a restart, a test): what waited on the old one is gone
            self._loop, self._waiting = loop, {}
        future: asyncio.Future[Profile] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)  # runs after the handlers already scheduled in this turn
        self._waiting.setdefault(user_id, []).append(future)
        return await future

    def _refresh_snapshot(self, loop: asyncio.AbstractEventLoop) -> None:
        """Re-read every stored profile in the background once the snapshot expired (one read at a time).

        Until it lands, misses are read as before; afterwards even a first-time driver needs no I/O.
        """
        directory = self._directory()
        if self._snapshot_read is not None and not self._snapshot_read.done():
            return
        if directory.snapshot_fresh():
            return
        self._snapshot_read = loop.create_task(asyncio.to_thread(directory.load_snapshot))
        self._snapshot_read.add_done_callback(_log_failure)

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        task = asyncio.ensure_future(asyncio.to_thread(self._directory().profiles, list(waiting)))
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)
        task.add_done_callback(lambda done: _deliver(done, waiting))


def _log_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not read the profiles snapshot: %r", task.exception())


def _deliver(
    done: asyncio.Future[dict[int, Profile]], waiting: dict[int, list[asyncio.Future[Profile]]]
) -> None:
    error = done.exception() if not done.cancelled() else asyncio.CancelledError()
    for user_id, futures in waiting.items():
        for future in futures:
            if future.done():  # its handler was cancelled meanwhile
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result()[user_id])
