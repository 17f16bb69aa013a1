"""Map images for posts, rendered off the event loop and kept for a while: each version is drawn once.

Without tiles the map still shows where the closure is: its municipality's boundary and the main roads near
it (``data/landmarks.geojson``, the sample roads, until a routing extract provides real ones), its title,
and for a one-way closure an arrow the way the closed traffic goes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from closures.views import ClosureView
from geo.basemap import Basemap, Road
from geo.measure import COMPASS_CODES
from geo.render import TileSource, render_map

log = logging.getLogger(__name__)
NEAR_DEG = 0.08  # roads within ~8 km of the closure are candidates; the frame clips the rest

type Boundaries = Callable[[], dict[int, BaseGeometry]]


class Surroundings:
    """Boundaries (from the store, read once per process) and landmark roads (a GeoJSON file) by closure."""

    def __init__(self, boundaries: Boundaries, landmarks: Path | None) -> None:
        self._read_boundaries = boundaries
        self._boundaries: dict[int, BaseGeometry] | None = None
        self._roads = _read_roads(landmarks) if landmarks is not None else []
        self._lock = threading.Lock()

    def of(self, closure: ClosureView) -> Basemap:
        """Blocking (the first call reads the boundaries)."""
        with self._lock:
            if self._boundaries is None:
                self._boundaries = self._read_boundaries()
        near = closure.geometry.buffer(NEAR_DEG)
        roads = [road for road in self._roads if road.line.intersects(near)]
        return Basemap(self._boundaries.get(closure.municipality_id), roads)


class MapMaker:
    """PNG maps of closures (tiles when configured, the plain fallback otherwise), cached per version.

    Drawing is CPU work: it runs on one thread of its own, one map at a time, so a burst of announcements
    neither holds the event loop nor crowds the threads the bot's database calls use; posts of the same
    version waiting for the same map share one drawing.
    """

    def __init__(
        self, tiles: TileSource | None = None, *, keep: int = 32, surroundings: Surroundings | None = None
    ) -> None:
        self.tiles = tiles
        self.surroundings = surroundings
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
        drawing = loop.run_in_executor(self._executor, functools.partial(self.render, closure))
        self._drawing[key] = drawing
        try:
            png = await asyncio.shield(drawing)
        finally:
            self._drawing.pop(key, None)
        self._cache[key] = png
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return png

    def render(self, closure: ClosureView) -> bytes:
        """The closure's map (blocking)."""
        basemap = self.surroundings.of(closure) if self.surroundings and not self.tiles else None
        heading = None
        if closure.direction == "one" and closure.heading in COMPASS_CODES:
            heading = COMPASS_CODES.index(closure.heading) * 22.5
        return render_map(
            closure.geometry,
            radius_m=closure.radius_m,
            tiles=self.tiles,
            client=self._client,
            basemap=basemap,
            title=(closure.title_ar, closure.title_en),
            heading_deg=heading,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        if self._client is not None:
            self._client.close()


def _read_roads(path: Path) -> list[Road]:
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("no landmark roads for the post maps (%s): %s", path, exc)
        return []
    return [
        Road(
            LineString(f["geometry"]["coordinates"]),
            f["properties"].get("name_ar") or "",
            f["properties"].get("name_en") or "",
        )
        for f in features
        if f.get("geometry", {}).get("type") == "LineString"
    ]
