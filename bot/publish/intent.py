"""The outbox's intent, recorded around each single HTTP attempt that may post.

The worker wraps each publish in :func:`sending`; the layer that makes the HTTP requests (the Telegram
gate for every Bot API call, the X publisher for its own) calls :meth:`OutboxSend.before_attempt` right
before each attempt that may create a post — after any wait for the rate limit or a flood-control pause,
so a process killed while waiting leaves no intent behind, and its rows are known never to have left.
An answer that proves nothing was sent ends that attempt's doubt: a 429 clears the intent at once (so a
kill during the flood-control pause that follows leaves none behind); after a 5xx or a refused connection
the worker's next write of the row, a moment later, clears it. Calls made outside a publish (replies to
people) carry no intent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from bot.publish import PublishError


class LeaseLost(PublishError):
    """The row was taken over by another worker before this attempt: it must not be sent from here."""


class OutboxSend:
    """One outbox row's publish in progress: ``record()`` commits the intent (False: the lease is lost)."""

    def __init__(
        self,
        record: Callable[[], Awaitable[datetime | None]],
        clear: Callable[[], Awaitable[object]],
        done: Callable[[str], Awaitable[object]],
        *,
        last_sent_here: float | None = None,
    ) -> None:
        self._record = record
        self.last_sent_here = last_sent_here  # wall clock: the last post done to this destination
        self._clear = clear
        self._done = done
        self.attempts = 0  # HTTP attempts that may have posted
        self.posted = 0  # of which answered with a message: the row's doubt can no longer be cleared
        self.recorded = False  # the post is recorded as done (posted_as) before the publish ends
        self.last_intent: datetime | None = None

    async def before_attempt(self) -> None:
        """Commit the intent for the attempt about to start; LeaseLost when the row is no longer ours."""
        if self.recorded:
            return  # the post itself is out and recorded: what follows it (a pin) is not the row's fate
        at = await self._record()
        if at is None:
            raise LeaseLost("the lease was lost before sending: left to its new holder")
        self.attempts += 1
        self.last_intent = at

    def answered(self) -> None:
        """The attempt posted (the rest of the publish may still fail: the intent must stay)."""
        self.posted += 1

    async def posted_as(self, remote_id: str) -> None:
        """The post itself is out as ``remote_id``: record it now, before any extra that follows it (a
        location pin), so that a crash during the extra leaves the row done, not in doubt."""
        await self._done(remote_id)
        self.recorded = True

    async def not_sent(self) -> None:
        """The attempt's answer proves nothing was sent (a 429): commit that the row is not in doubt —
        unless an earlier attempt of this publish did post."""
        if not self.posted:
            await self._clear()
            self.last_intent = None


_CURRENT: ContextVar[OutboxSend | None] = ContextVar("outbox_send", default=None)


def current_send() -> OutboxSend | None:
    """The outbox publish this task is making, or None (a reply to someone, a command menu …)."""
    return _CURRENT.get()


@contextmanager
def sending(send: OutboxSend) -> Iterator[OutboxSend]:
    token = _CURRENT.set(send)
    try:
        yield send
    finally:
        _CURRENT.reset(token)
