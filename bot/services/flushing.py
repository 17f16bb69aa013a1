"""Writing drivers' last locations: every ``LOCATION_FLUSH_S`` the locations this process heard of go to
the store in one statement (from a worker thread), and every few minutes the ones older than the window are
erased. Started in ``post_init``, stopped (with a last flush) in ``post_shutdown``.

What a crash can lose: the locations heard since the last flush, at most ``LOCATION_FLUSH_S`` of them —
the driver's previous location stays stored, so an emergency still finds them where they were just before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from telegram.ext import Application

from bot.services import Services

log = logging.getLogger(__name__)
PURGE_EVERY_S = 300.0
_TASK = "location_flush_task"


async def flush_forever(
    services: Services, *, interval_s: float, purge_every_s: float = PURGE_EVERY_S
) -> None:
    """Flush, wait, repeat; a failing store is logged and tried again (the locations wait in memory)."""
    last_purge = time.monotonic()
    while True:
        await asyncio.sleep(interval_s)  # a pace, not a wait for anything: the store is written meanwhile
        try:
            await asyncio.to_thread(services.locations.flush)
            if time.monotonic() - last_purge >= purge_every_s:
                last_purge = time.monotonic()
                now = services.clock()
                await asyncio.to_thread(services.locations.purge, now=now, keep=services.recent_window)
        except Exception:
            log.exception(
                "drivers' locations not written (%d waiting); trying again", services.locations.pending()
            )


async def start(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    interval = services.settings.location_flush_s
    application.bot_data[_TASK] = asyncio.create_task(
        flush_forever(services, interval_s=interval), name="location-flush"
    )


async def stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the task and write what it had not written yet."""
    services: Services = application.bot_data["services"]
    task: asyncio.Task[None] | None = application.bot_data.pop(_TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    try:
        await asyncio.to_thread(services.locations.flush)
    except Exception:
        log.exception("drivers' last locations not written at shutdown")
