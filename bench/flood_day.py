"""The pieces of ``bench.flood``'s day: the bot as ``roadbot run`` runs it (the Telegram Application, its
outbox worker and the web server in one event loop) against a local Bot API that keeps who was messaged;
the partner's import; web clients polling the feeds and the map; each measured phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench.botapi import TimedBotApi, percentile
from bench.flood_scenario import Sender
from bench.offered import Load, offer
from bot.localapi import ApiCall
from bot.runner import Listen, Started, run_bot
from bot.services import Services
from closures.emergency_outbox import PEOPLE
from closures.formats.geojson import read_closures
from closures.importing import apply_import
from closures.models import OutboxItem, OutboxStatus
from closures.service import Actor

WEB_PATHS = (
    "/feeds/closures.geojson", "/feeds/wzdx.json", "/feeds/waze.json", "/feeds/waze.xml",
    "/feeds/closures.atom", "/map/closures.json?lang=ar",
)  # fmt: skip
WEB_CLIENTS = 4
WEB_PAUSE_S = 0.25  # between one client's rounds of the paths: a map page or a feed reader polling hard
LOWEST_RATE = 2.0  # updates a second: capacity's last try below the steps
PLANNED_EVERY_S = 0.01
IDLE_EVERY_S = 0.5  # how often the bench looks whether the expansion has committed: its resolution


@dataclass
class Messaged:
    """The direct messages of one emergency version: whom, how often, when the first and last arrived."""

    expected: frozenset[int]
    counts: Counter[int] = field(default_factory=Counter)
    first_ids: dict[int, int] = field(default_factory=dict)  # chat -> message id of its message
    replies_to: dict[int, int] = field(default_factory=dict)  # chat -> the message it answers
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, call: ApiCall) -> None:
        chat = int(call.chat_id)
        self.counts[chat] += 1
        if call.ok and isinstance(call.result, dict):
            self.first_ids.setdefault(chat, int(call.result["message_id"]))
        answered = (call.params.get("reply_parameters") or {}).get("message_id")
        if answered is not None:
            self.replies_to[chat] = int(answered)
        self.arrivals.append(call.at)
        if self.expected <= self.counts.keys():
            self.all_in.set()

    @property
    def once_each(self) -> bool:
        """Everyone expected got exactly one message, and nobody else got one."""
        return self.counts.keys() == self.expected and set(self.counts.values()) == {1}

    @property
    def first_at(self) -> float | None:
        return self.arrivals[0] if self.arrivals else None

    def drain_s(self) -> float | None:
        """From the first message to the last (None until everyone expected has one)."""
        if not self.all_in.is_set():
            return None
        return self.arrivals[-1] - self.arrivals[0]

    def rate(self) -> float | None:
        """Messages a second from the first to the last (None until everyone expected has one)."""
        span = self.drain_s()
        if span is None:
            return None
        return round(len(self.arrivals) / span, 1) if span > 0 else float(len(self.arrivals))

    async def finished(self, *, quiet_s: float) -> bool:
        """Wait until everyone expected has their message, for as long as messages keep coming: give up
        after ``quiet_s`` without one (a drain that stopped, not a slow one). Whether everyone has one."""
        while not self.all_in.is_set():
            seen = len(self.arrivals)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_in.wait(), quiet_s)
            if len(self.arrivals) == seen:
                break
        return self.all_in.is_set()

    def arrived_by(self, moment: float) -> int:
        return sum(1 for at in self.arrivals if at <= moment)


class FloodBotApi(TimedBotApi):
    """The local Bot API; a message nobody waits for (the outbox's) goes to the version's ``Messaged``, and a
    message to somebody the emergency should not reach counts as a stray."""

    def __init__(self) -> None:
        super().__init__()
        self.reach: Messaged | None = None
        self.strays = 0

    def unawaited(self, call: ApiCall) -> None:
        if self.reach is not None and int(call.chat_id) in self.reach.expected:
            self.reach.note(call)
        else:
            self.strays += 1


@contextlib.asynccontextmanager
async def running_bot(services: Services, *, timeout_s: float = 60.0) -> AsyncIterator[str]:
    """``roadbot run``'s bot over ``services`` with the rate limit off and its web server on a free port
    (whose URL it yields), stopped on the way out."""
    stop = asyncio.Event()
    ready: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
    bot = asyncio.create_task(
        run_bot(services, stop, listen=Listen("127.0.0.1", 0), started=ready.set_result, rate_limit=False),
        name="flood-bot",
    )
    first: set[asyncio.Future[Any]] = {bot, ready}
    done, _ = await asyncio.wait(first, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        stop.set()
        await bot  # raises what stopped it
        raise TimeoutError(f"the bot did not start within {timeout_s:g} s")
    try:
        url = ready.result().web_url
        assert url is not None
        yield url
    finally:
        stop.set()
        await bot


async def planned(engine: Engine, first_id: int, version: int, *, timeout_s: float) -> float | None:
    """When (``time.monotonic()``) every direct message of the emergency's ``version`` was planned: its
    "emergency-people" row seen done, looked at every PLANNED_EVERY_S from a worker thread. The outbox
    worker expands that row into one row per person in the transaction that marks it done
    (``closures.reach.queue_people``), so done means all planned. None if not within ``timeout_s``."""
    query = sa.select(col(OutboxItem.status)).where(
        col(OutboxItem.emergency_id) == first_id,
        col(OutboxItem.emergency_version) == version,
        col(OutboxItem.destination) == PEOPLE,
    )

    def expanded() -> bool:
        with engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none() == OutboxStatus.DONE.value

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(expanded):
            return time.monotonic()
        await asyncio.sleep(PLANNED_EVERY_S)  # sampling the database, not waiting for the bot
    return None


async def outbox_idle(engine: Engine, *, timeout_s: float) -> float | None:
    """Wait until no outbox row is due or being sent — the import's closures each plan a subscribers'
    alert row whose expansion reads every subscription, and the outbox takes rows oldest due first, so an
    update issued before they are worked through waits behind them. The seconds it took (None: not
    within ``timeout_s``), looked at every IDLE_EVERY_S."""
    started = time.monotonic()
    open_ = (OutboxStatus.PENDING.value, OutboxStatus.CLAIMED.value)

    def busy() -> bool:
        query = sa.select(col(OutboxItem.id)).where(
            col(OutboxItem.status).in_(open_), col(OutboxItem.due_at) <= datetime.now(UTC)
        )
        with engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    while time.monotonic() - started < timeout_s:
        if not await asyncio.to_thread(busy):
            return round(time.monotonic() - started, 2)
        await asyncio.sleep(IDLE_EVERY_S)  # sampling the database, not waiting for the bot
    return None


async def import_closures(services: Services, text: str) -> dict[str, Any]:
    """A partner's file applied as a poll applies it (``closures.importing``, in a worker thread)."""
    started = time.monotonic()

    def apply() -> dict[str, Any]:
        items = read_closures(text, now=services.clock(), source="partner")
        return apply_import(
            services.closures, items, Actor.system("poll"), default_municipality="riyadh"
        ).as_dict()

    report = await asyncio.to_thread(apply)
    return {
        "added": report["added"], "rejected": len(report["rejected"]),
        "seconds": round(time.monotonic() - started, 2),
    }  # fmt: skip


async def poll_web(base_url: str, until: asyncio.Event) -> dict[str, Any]:
    """WEB_CLIENTS clients asking for every feed and the map with the ETag they hold, until ``until``."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        etags: dict[str, str] = {}
        while not until.is_set():
            for path in WEB_PATHS:
                headers = {"If-None-Match": etags[path]} if path in etags else {}
                started = time.monotonic()
                async with session.get(base_url + path, headers=headers) as response:
                    await response.read()
                    latencies.append(time.monotonic() - started)
                    statuses[response.status] += 1
                    if "ETag" in response.headers:
                        etags[path] = response.headers["ETag"]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), WEB_PAUSE_S)  # a pause between rounds, or the end

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await asyncio.gather(*(client(session) for _ in range(WEB_CLIENTS)))
    latencies.sort()
    return {
        "requests": len(latencies), "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
    }  # fmt: skip


async def capacity(
    api: FloodBotApi, senders: Sequence[Sender], rates: Sequence[float], *, seconds: float, limit_ms: float,
    reply_timeout_s: float,
) -> tuple[float, list[Load]]:  # fmt: skip
    """The highest offered rate whose p99 stays under ``limit_ms`` (every update answered, none with an
    apology): ``rates`` stepped up until one misses, then once halfway between the last that held and it;
    if the first already misses, halved until one holds (0 if none does down to LOWEST_RATE)."""
    steps: list[Load] = []

    def holds(load: Load) -> bool:
        return load.p99_ms < limit_ms and load.unanswered == 0 and load.errors == 0

    async def step(rate: float) -> bool:
        steps.append(await offer(api, senders, rate=rate, seconds=seconds, reply_timeout_s=reply_timeout_s))
        return holds(steps[-1])

    best = 0.0
    for rate in rates:
        if not await step(rate):
            middle = round((best + rate) / 2)
            if best and middle > best * 1.1 and await step(middle):
                best = middle
            break
        best = rate
    lower = rates[0] / 2 if rates else 0.0
    while not best and lower >= LOWEST_RATE:
        if await step(lower):
            best = lower
        lower = round(lower / 2, 1)
    return best, steps
