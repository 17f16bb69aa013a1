"""Jobs that run in exactly one of several bot processes: the one holding the job's ``ProcessLock``.

Every process runs a :class:`Singleton` for each such job (partner polling, the command menus set at
start-up). It tries the job's lock at once and then every ``check_s`` seconds; the process that takes it
runs the job and asks the database every ``check_s`` whether it still holds it. When the process stops,
the job is told to stop and the lock is released, so another process's next try takes it over; when the
holder dies without a word (SIGKILL, a crash), PostgreSQL drops its lock with its session and the same
happens. A holder that loses its lock (its database session ended) stops the job and competes again; a
job that fails is logged and started again after ``check_s``; a database that does not answer is logged
and tried again: a job is never worth a crashed bot.

On SQLite the lock is trivially held (one process per database file), so the job starts at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy.exc

from closures.locks import ProcessLock

log = logging.getLogger(__name__)

# A job runs until it is cancelled (the process stops, or the lock was lost), when the event it is given
# is set too. It may return earlier, its work done (the menus): the lock stays held, so that no other
# process does it again.
type Job = Callable[[asyncio.Event], Coroutine[Any, Any, object]]


class Singleton:
    """``job`` run by whichever one process holds ``lock``; ``what`` names it in the logs.

    ``holding`` is set while this process runs it, ``waiting`` while another process holds the lock, and
    ``tried`` after every attempt to take it (for whoever wants to watch: tests, health).
    """

    def __init__(self, lock: ProcessLock, job: Job, *, check_s: float, what: str) -> None:
        self.lock = lock
        self.job = job
        self.check_s = check_s
        self.what = what
        self.holding = asyncio.Event()
        self.waiting = asyncio.Event()
        self.tried = asyncio.Event()
        self._reported: asyncio.Task[object] | None = None  # the failed run already logged

    async def run(self, stop: asyncio.Event) -> None:
        """Compete for the lock and run the job while holding it, until ``stop`` is set."""
        try:
            while not stop.is_set():
                if await self._try_acquire():
                    self.waiting.clear()
                    log.info("%s: run by this process (it holds the lock %r)", self.what, self.lock.name)
                    await self._hold(stop)
                    continue
                if not self.waiting.is_set():
                    log.info("%s: run by another process; this one takes over if it stops", self.what)
                    self.waiting.set()
                await _wait(stop, self.check_s)
        finally:
            self.waiting.clear()
            # Shielded: even a cancelled run lets the lock go, so that another process need not wait.
            await asyncio.shield(asyncio.to_thread(self.lock.release))

    async def _try_acquire(self) -> bool:
        try:
            return await asyncio.to_thread(self.lock.try_acquire)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            log.warning("%s: cannot reach the database to take its lock (%s); trying again", self.what, first)
            return False
        finally:
            self.tried.set()

    async def _hold(self, stop: asyncio.Event) -> None:
        """Run the job while the lock is held; return on ``stop``, a lost lock, or a failed job."""
        quit_job = asyncio.Event()
        task: asyncio.Task[object] = asyncio.create_task(
            self.job(quit_job), name=f"singleton:{self.lock.name}"
        )
        self.holding.set()
        try:
            while not stop.is_set():
                await _wait(stop, self.check_s, task)
                if stop.is_set():
                    return
                if task.done() and self._failed(task):
                    await asyncio.to_thread(self.lock.release)  # started again on the next try, anywhere
                    await _wait(stop, self.check_s)
                    return
                if not await self._still_held():
                    log.warning("%s: the lock %r was lost (its database session ended); stopping here",
                                self.what, self.lock.name)  # fmt: skip
                    return
        finally:
            self.holding.clear()
            quit_job.set()
            await self._finish(task)

    async def _still_held(self) -> bool:
        return await asyncio.to_thread(self.lock.still_held)

    def _failed(self, task: asyncio.Task[object], *, stopping: bool = False) -> bool:
        """Whether the job ended with an error (logged here, once); a job that returned did its work."""
        if task.cancelled() or (exc := task.exception()) is None:
            return False
        if task is not self._reported:
            self._reported = task
            again = "" if stopping else f"; it starts again in {self.check_s:g} s"
            log.error("%s failed%s", self.what, again, exc_info=exc)
        return True

    async def _finish(self, task: asyncio.Task[object]) -> None:
        """Stop the job now: a fetch in flight is dropped; work already in a worker thread runs to its end."""
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self._failed(task, stopping=True)


async def _wait(stop: asyncio.Event, seconds: float, task: asyncio.Task[object] | None = None) -> None:
    """Until ``stop`` is set, ``seconds`` pass, or ``task`` (if given and still running) ends."""
    stopped = asyncio.ensure_future(stop.wait())
    waits: set[asyncio.Future[Any]] = {stopped}
    if task is not None and not task.done():
        waits.add(task)
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
