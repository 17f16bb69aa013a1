"""Map images for posts, rendered off the event loop and kept for a while: each version is drawn once."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import httpx

from closures.views import ClosureView
from geo.render import TileSource, render_map


class MapMaker:
    """PNG maps of closures (tiles when configured, the plain fallback otherwise), cached per version."""

    def __init__(self, tiles: TileSource | None = None, *, keep: int = 32) -> None:
        self.tiles = tiles
        self._keep = keep
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._client = (
            httpx.Client(timeout=tiles.timeout_s, headers={"User-Agent": tiles.user_agent}) if tiles else None
        )

    async def png(self, closure: ClosureView) -> bytes:
        key = (closure.id, closure.version)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        png = await asyncio.to_thread(
            render_map, closure.geometry, radius_m=closure.radius_m, tiles=self.tiles, client=self._client
        )
        self._cache[key] = png
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return png

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
