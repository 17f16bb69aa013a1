"""Wiring the outbox worker into the running bot: built from the settings in ``post_init``, stopped in
``post_shutdown``. Every write through this process's ``ClosureService`` (or ``EmergencyService``) wakes it
as soon as the write has committed (an after-commit listener), so a staff change is posted at once; on
PostgreSQL, so does every other process's write of a closure or of outbox rows (the CLI's, another bot's:
``closures.notices``). PTB's JobQueue nudges it every minute as a safety net (the database stays the
record)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot
from telegram.ext import Application, ContextTypes

from bot.config import Settings
from bot.publish import EmergencyPublisher, Publisher
from bot.publish.alerts import AlertPublisher
from bot.publish.cap_staff import CapStaffPublisher
from bot.publish.emergency import EmergencyChannelPublisher, EmergencyDmPublisher, EmergencyXPublisher
from bot.publish.maps import MapMaker
from bot.publish.telegram_channel import ChannelPublisher
from bot.publish.worker import OutboxWorker
from bot.publish.x import XAccount, XPublisher, XStyle
from bot.services import Services
from closures.changes import AfterCommit, ClosureChange
from closures.emergency_outbox import CHANNEL, DM, X
from closures.notices import RESYNC, Notice, Subscriber
from closures.store import CLOSURES, OUTBOX

_WORKER, _TASK, _UNLISTEN = "outbox_worker", "outbox_task", "outbox_unlisten"
_WAKING = frozenset({CLOSURES, OUTBOX, RESYNC})  # notices that may mean rows to post


def build_worker(services: Services, bot: Bot, **options: Any) -> OutboxWorker:
    """A worker posting through ``bot`` (the application's, with its rate limiter) and the X accounts
    (at ``X_API_BASE_URL``)."""
    settings = services.settings
    maps = MapMaker(settings.map_tiles())
    publishers: dict[str, Publisher] = {"telegram": ChannelPublisher(bot, maps), "alert": AlertPublisher(bot)}
    emergency: dict[str, EmergencyPublisher] = {
        CHANNEL: EmergencyChannelPublisher(bot),
        DM: EmergencyDmPublisher(bot),
    }
    if settings.x_accounts:
        x = XPublisher(
            services.engine,
            {name: x_account(keys) for name, keys in settings.x_accounts.items()},
            maps,
            style=lambda slug: x_style(settings, slug),
            daily_budget=settings.x_daily_budget,
            clock=services.clock,
            api_base_url=settings.x_api_base_url,
        )
        publishers["x"] = x
        emergency[X] = EmergencyXPublisher(x, style=lambda slug: x_style(settings, slug))
    options.setdefault("max_attempts", settings.outbox_max_attempts)
    options.setdefault("reach", services.emergencies.reach)
    options.setdefault("notice_publisher", CapStaffPublisher(bot))
    return OutboxWorker(
        services.engine, publishers, clock=services.clock, emergency_publishers=emergency, **options
    )


def x_account(keys: Any) -> XAccount:
    return XAccount(
        keys.consumer_key.get_secret_value(),
        keys.consumer_secret.get_secret_value(),
        keys.access_token.get_secret_value(),
        keys.access_token_secret.get_secret_value(),
    )


def x_style(settings: Settings, slug: str) -> XStyle:
    targets = settings.publish_destinations.get(slug)
    if targets is None:
        return XStyle(english_reply=settings.x_english_reply)
    return XStyle(tuple(targets.hashtags_ar), tuple(targets.hashtags_en), settings.x_english_reply)


async def start(application: Application[Any, Any, Any, Any, Any, Any], **options: Any) -> None:
    """Start the outbox worker (``options`` go to ``OutboxWorker``) unless OUTBOX_WORKER is off."""
    services: Services = application.bot_data["services"]
    if not services.settings.outbox_worker:
        return
    worker = build_worker(services, application.bot, **options)
    loop = asyncio.get_running_loop()
    application.bot_data[_WORKER] = worker
    application.bot_data[_TASK] = asyncio.create_task(worker.run(), name="outbox-worker")
    unlisten = (
        services.closures.add_listener(waker(worker)),
        services.emergencies.add_listener(lambda version: waker(worker, loop)(())),
        services.notices.subscribe(notice_waker(worker)),
    )
    application.bot_data[_UNLISTEN] = lambda: [remove() for remove in unlisten]
    if application.job_queue is not None:
        application.job_queue.run_repeating(_nudge, interval=60, first=60, name="outbox-nudge")


def waker(worker: OutboxWorker, loop: asyncio.AbstractEventLoop | None = None) -> AfterCommit:
    """An after-commit listener that wakes ``worker`` on its event loop (called from a writer's thread)."""
    loop = loop or asyncio.get_running_loop()

    def wake_soon(changes: Sequence[ClosureChange]) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(worker.wake)

    return wake_soon


def notice_waker(worker: OutboxWorker) -> Subscriber:
    """A notice subscriber that wakes ``worker`` on its event loop (called from the listener's thread)."""
    loop = asyncio.get_running_loop()

    def wake_soon(notice: Notice) -> None:
        # Own notices too: a row this process inserted outside the service (a retried dead letter).
        if notice.topic in _WAKING and not loop.is_closed():
            loop.call_soon_threadsafe(worker.wake)

    return wake_soon


async def stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    unlisten: Callable[[], None] | None = application.bot_data.pop(_UNLISTEN, None)
    if unlisten is not None:
        unlisten()
    worker: OutboxWorker | None = application.bot_data.pop(_WORKER, None)
    task: asyncio.Task[None] | None = application.bot_data.pop(_TASK, None)
    if worker is None or task is None:
        return
    worker.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    await close_x(worker)


async def close_x(worker: OutboxWorker) -> None:
    """Close the worker's X sessions (the emergencies' X publisher shares the closures' clients)."""
    x = worker.publishers.get("x")
    if isinstance(x, XPublisher):
        await x.close()


def wake(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Tell the worker to look now (after a change that planned posts)."""
    worker: OutboxWorker | None = application.bot_data.get(_WORKER)
    if worker is not None:
        worker.wake()


async def _nudge(context: ContextTypes.DEFAULT_TYPE) -> None:
    wake(context.application)
