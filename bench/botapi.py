"""The pieces of a benchmark that drives the real bot: the local Bot API telling whoever waits for a chat's
next message when it arrives, the bot's settings against that server, simulated drivers, percentiles."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Sequence
from typing import Any, TextIO

from pydantic import SecretStr

from bot.config import Settings
from bot.localapi import ApiCall, FakeUser, LocalBotApi

RIYADH = (24.7136, 46.6753)  # lat, lon


class TimedBotApi(LocalBotApi):
    """The local Bot API, handing each ``sendMessage`` to the oldest waiter for that chat (no scanning of
    calls), counted late if that waiter gave up; a message nobody waits for goes to :meth:`unawaited`."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: dict[int, deque[asyncio.Future[ApiCall]]] = {}
        self.late_replies = 0  # messages that answered a waiter who had given up

    def expect(self, chat_id: int) -> asyncio.Future[ApiCall]:
        """The chat's next message not already promised to an earlier waiter."""
        future: asyncio.Future[ApiCall] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(chat_id, deque()).append(future)
        return future

    async def record(self, call: ApiCall) -> None:
        await super().record(call)
        if call.method != "sendMessage":
            return
        waiting = self._waiting.get(int(call.chat_id))
        if not waiting:
            self.unawaited(call)
            return
        future = waiting.popleft()  # the chat's oldest update is the one answered
        if future.done():  # its waiter gave up (timed out): a late reply, no later update's
            self.late_replies += 1
        else:
            future.set_result(call)

    def unawaited(self, call: ApiCall) -> None:
        """A message to a chat that nobody waits for (an outbox send, say): override to keep it."""


def bot_settings(api: LocalBotApi, database_url: str, **overrides: Any) -> Settings:
    """The bot's settings against ``api``, on ``database_url``, with nothing reaching the network."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        telegram_bot_token=SecretStr(api.token),
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        geocoder="none",
        **overrides,
    )


def drivers(
    n: int, *, first_id: int, seed: int, spread_deg: float = 0.08
) -> list[tuple[FakeUser, float, float]]:
    """``n`` distinct drivers (half Arabic, half English), each at a seeded random point around Riyadh
    (± ``spread_deg``: 0.08 is ~9 km)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lat = RIYADH[0] + rng.uniform(-spread_deg, spread_deg)
        lon = RIYADH[1] + rng.uniform(-spread_deg, spread_deg)
        out.append((FakeUser(first_id + i, language_code="ar" if i % 2 else "en"), lat, lon))
    return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN for none)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


async def drain_bar(api: LocalBotApi, total: int, out: TextIO, *, since: int = 0) -> None:
    """A bar on ``out`` (a terminal only) of the messages the server has received since call ``since``, out
    of ``total``, until cancelled."""
    if not out.isatty() or total <= 0:
        return
    try:
        while True:
            done = sum(1 for c in api.calls[since:] if c.method == "sendMessage")
            filled = int(30 * done / total)
            out.write(f"\rdraining [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            out.flush()
            await asyncio.sleep(0.2)  # redrawing the bar, not waiting for anything
    finally:
        out.write("\n")
        out.flush()
