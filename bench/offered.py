"""Location updates offered to the bot at a fixed rate (an open loop): drivers do not wait for the bot's
answer before the next one asks, so a bot slower than the offered rate shows it as a growing latency.

Each update is a shared location from one of the senders, round robin, within a few metres of where the
sender is stuck (never 50 m apart: the bot answers a location query, not a route between two points); its
latency runs from queueing it on the local Bot API to the server receiving the reply for that chat.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.botapi import TimedBotApi, percentile
from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser

JITTER_DEG = 0.0001  # ~10 m: the same spot to the bot (it takes two points 50 m apart for a route)


@dataclass(frozen=True)
class Load:
    """What one stretch of offered updates measured."""

    rate: float  # updates a second asked for
    seconds: float
    offered: int
    offered_rate: float  # as sent (the loop may fall behind the schedule on a busy machine)
    answered: int
    unanswered: int  # no reply within the timeout after the last update was offered (their latency
    # counts as the time waited: a lower bound)
    errors: int  # replies Telegram refused, or the bot's apology instead of an answer
    p50_ms: float
    p99_ms: float
    max_ms: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def offer(
    api: TimedBotApi,
    senders: Sequence[tuple[FakeUser, float, float]],
    *,
    rate: float,
    seconds: float,
    reply_timeout_s: float,
    seed: int = 0,
) -> Load:
    """Offer ``rate`` updates a second for ``seconds``, then wait for the replies (up to the timeout)."""
    rng = random.Random(seed)
    total = max(1, round(rate * seconds))
    sent: list[tuple[float, asyncio.Future[ApiCall]]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    while len(sent) < total:
        due = min(total, int((loop.time() - started) * rate) + 1)
        while len(sent) < due:  # everything the schedule holds by now (after a late wake-up, several)
            user, lat, lon = senders[len(sent) % len(senders)]
            reply = api.expect(user.id)
            queued = time.monotonic()
            api.user_sends_location(
                user, lat + rng.uniform(-JITTER_DEG, JITTER_DEG), lon + rng.uniform(-JITTER_DEG, JITTER_DEG)
            )
            sent.append((queued, reply))
        await asyncio.sleep(max(0.0, started + len(sent) / rate - loop.time()))  # pacing, not waiting
    offered_s = loop.time() - started
    await asyncio.wait([reply for _, reply in sent], timeout=reply_timeout_s)
    given_up = time.monotonic()
    latencies, answered, errors = [], 0, 0
    apologies = {get_translator(lang).t("error.generic") for lang in ("ar", "en")}
    for queued, reply in sent:
        if not reply.done():
            reply.cancel()  # the local Bot API counts its reply late: it answers no other update
            latencies.append(given_up - queued)  # at least this long: it counts against the percentiles
            continue
        call = reply.result()
        answered += 1
        latencies.append(call.at - queued)
        errors += not call.ok or call.text in apologies
    latencies.sort()
    return Load(
        rate=rate,
        seconds=seconds,
        offered=total,
        offered_rate=round(total / offered_s, 1) if offered_s > 0 else rate,
        answered=answered,
        unanswered=total - answered,
        errors=errors,
        p50_ms=_ms(percentile(latencies, 0.50)),
        p99_ms=_ms(percentile(latencies, 0.99)),
        max_ms=_ms(latencies[-1]),
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
