"""Publishing: the outbox worker and the publishers it drives (Telegram channel, subscriber alerts, X; and an
emergency's pinned channel post, X post and direct messages; and staff told of a partner's CAP alert).

A publisher turns one prepared outbox row into a post and returns the remote id, or raises one of the
typed failures below; the worker turns each failure into the row's fate (retry later, dead letter, skip).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from closures.cap_notices import CapNotice
from closures.emergency_publishing import EmergencyPost
from closures.publishing import PostContext


class PublishError(Exception):
    """A post did not go out; ``reason`` is what the outbox records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(PublishError):
    """Transient (429, 5xx, connection refused): not posted, safe to try again — after ``retry_after`` s."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class InDoubt(PublishError):
    """The request may have reached the remote side and cannot be checked: never re-sent automatically."""


class Rejected(PublishError):
    """Refused for good (bad request, no rights): dead-lettered until an admin retries it."""


class RecipientGone(PublishError):
    """The driver blocked the bot (or deleted their account): skipped, their alerts switched off."""

    def __init__(self, reason: str, *, user_id: int) -> None:
        super().__init__(reason)
        self.user_id = user_id


class Publisher(Protocol):
    async def publish(self, ctx: PostContext, *, in_doubt_since: datetime | None) -> str:
        """Post ``ctx`` and return the remote id. ``in_doubt_since``: an earlier attempt started sending
        then and left no outcome; reconcile with the remote side before sending again (or raise InDoubt)."""
        ...


class EmergencyPublisher(Protocol):
    async def publish(self, post: EmergencyPost, *, in_doubt_since: datetime | None) -> str:
        """Post an emergency's row (``emergency-telegram``, ``emergency-x``, ``emergency-dm``) like above."""
        ...


class NoticePublisher(Protocol):
    async def publish(self, notice: CapNotice, *, in_doubt_since: datetime | None) -> str:
        """Tell a staff member of a partner's CAP alert (a ``cap-staff`` row) like above."""
        ...
