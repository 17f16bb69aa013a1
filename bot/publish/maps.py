"""Map images for posts, rendered off the event loop and kept for a while: each version is drawn once."""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import httpx

from closures.views import ClosureView
from geo.render import TileSource, render_map


class MapMaker:
    """PNG maps of closures (tiles when configured, the plain fallback otherwise), cached per version.

    Drawing is CPU work: it runs on one thread of its own, one map at a time, so a burst of announcements
    neither holds the event loop nor crowds the threads the bot's database calls use; posts of the same
    version waiting for the same map share one drawing.
    """

    def __init__(self, tiles: TileSource | None = None, *, keep: int = 32) -> None:
        self.tiles = tiles
        self._keep = keep
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._drawing: dict[tuple[int, int], asyncio.Future[bytes]] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="post-maps")
        self._client = (
            httpx.Client(timeout=tiles.timeout_s, headers={"User-Agent": tiles.user_agent}) if tiles else None
        )

    async def png(self, closure: ClosureView) -> bytes:
        key = (closure.id, closure.version)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key in self._drawing:
            return await asyncio.shield(self._drawing[key])
        loop = asyncio.get_running_loop()
        drawing = loop.run_in_executor(
            self._executor,
            functools.partial(
                render_map, closure.geometry, radius_m=closure.radius_m, tiles=self.tiles, client=self._client
            ),
        )
        self._drawing[key] = drawing
        try:
            png = await asyncio.shield(drawing)
        finally:
            self._drawing.pop(key, None)
        self._cache[key] = png
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return png

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        if self._client is not None:
            self._client.close()
