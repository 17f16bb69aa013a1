"""The record of every call the bot made, and waiting for a call without sleeping."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.localapi.state import JSON

_MESSAGES = ("send", "copyMessage", "forwardMessage")


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made: its params (JSON-decoded; uploads as :class:`Upload`) and the answer."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    result: Any = None
    error: JSON | None = None  # {"error_code": …, "description": …} when Telegram would refuse it
    wall: float = 0.0  # time.time() when it arrived: the wall-clock second Telegram's limits count it in

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The text or caption as the bot sent it (HTML unparsed)."""
        return self.params.get("text", self.params.get("caption"))


@dataclass(frozen=True)
class Rates:
    """What Telegram's limits would see: messages sent (sendMessage, sendPhoto, copies, forwards …)."""

    messages: int
    max_per_second: int  # in any one wall-clock second, every chat together
    max_per_chat_second: int  # in any one wall-clock second, to one chat
    min_chat_gap_s: float  # the shortest time between two messages to one chat
    paid_broadcast: int  # sent with allow_paid_broadcast


class CallLog:
    """``calls`` in the order they were answered; waiters sleep on a Condition notified per call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[ApiCall] = []
        self._calls_changed = asyncio.Condition()

    async def record(self, call: ApiCall) -> None:
        async with self._calls_changed:
            self.calls.append(call)
            self._calls_changed.notify_all()

    def sent(self, chat_id: int | str | None = None, method: str | None = None) -> list[ApiCall]:
        """Successful calls addressed to a chat (sendMessage, editMessageText, …), optionally filtered."""
        return [
            call
            for call in self.calls
            if call.ok
            and "chat_id" in call.params
            and (chat_id is None or str(call.chat_id) == str(chat_id))
            and (method is None or call.method.lower() == method.lower())
        ]

    async def wait_for(
        self,
        predicate: Callable[[ApiCall], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - how long to wait is part of what a test asserts
        since: int = 0,
    ) -> ApiCall:
        """The first call from ``calls[since:]`` matching ``predicate``, already made or still to come."""
        return (await self.wait_for_count(predicate, 1, timeout, since=since))[0]

    async def wait_for_count(
        self,
        predicate: Callable[[ApiCall], bool],
        n: int,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        since: int = 0,
    ) -> list[ApiCall]:
        """The first ``n`` calls in ``calls[since:]`` matching ``predicate``; TimeoutError lists all seen."""

        def matching() -> list[ApiCall]:
            return [call for call in self.calls[since:] if predicate(call)]

        try:
            async with asyncio.timeout(timeout), self._calls_changed:
                await self._calls_changed.wait_for(lambda: len(matching()) >= n)
        except TimeoutError:
            found = len(matching())
            raise TimeoutError(
                f"{found} of {n} expected calls within {timeout} s; received: {self.summary(since)}"
            ) from None
        return matching()[:n]

    def rates(self, *, since: int = 0) -> Rates:
        """How many messages arrived at most in one wall-clock second, overall and in one chat."""
        sends = [
            c for c in self.calls[since:] if c.method.startswith(_MESSAGES) and c.method != "sendChatAction"
        ]
        overall = Counter(int(c.wall) for c in sends)
        per_chat = Counter((str(c.chat_id), int(c.wall)) for c in sends)
        gaps = [
            b.wall - a.wall
            for chat in {str(c.chat_id) for c in sends}
            for a, b in itertools.pairwise(
                sorted((c for c in sends if str(c.chat_id) == chat), key=lambda c: c.wall)
            )
        ]
        return Rates(
            messages=len(sends),
            max_per_second=max(overall.values(), default=0),
            max_per_chat_second=max(per_chat.values(), default=0),
            min_chat_gap_s=min(gaps, default=math.inf),
            paid_broadcast=sum(1 for c in sends if c.params.get("allow_paid_broadcast") is True),
        )

    def summary(self, since: int = 0) -> str:
        """The calls as one line each, repeats folded: ``getUpdates ×12``."""
        lines: list[str] = []
        for call in self.calls[since:]:
            line = call.method
            if call.chat_id is not None:
                line += f"(chat {call.chat_id}" + (f", {call.text[:60]!r})" if call.text else ")")
            if call.error:
                line += f" → {call.error['error_code']} {call.error['description']}"
            if lines and lines[-1].split(" ×")[0] == line:
                count = int(lines[-1].split(" ×")[1]) if " ×" in lines[-1] else 1
                lines[-1] = f"{line} ×{count + 1}"
            else:
                lines.append(line)
        return "\n  ".join(["", *lines]) if lines else "nothing"

    def reset(self) -> None:
        """Forget the recorded calls (the chats, messages and pending updates stay)."""
        self.calls.clear()
