"""People opening the map page while a bench watches the event loop (bench/feeds.py, bench/webmap.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx


@asynccontextmanager
async def map_page_readers(client: httpx.AsyncClient, *, readers: int, per_s: float) -> AsyncIterator[None]:
    """``readers`` of them opening ``/`` in Arabic, ``per_s`` a second in all, until the block ends."""
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            await client.get("/?lang=ar")
            await asyncio.sleep(readers / per_s)  # the offered rate, not as fast as it answers

    tasks = [asyncio.create_task(reader()) for _ in range(readers)]
    try:
        yield
    finally:
        done.set()
        await asyncio.gather(*tasks)
