"""A static map of a closure as a PNG: the geometry drawn over web-map tiles, or over a plain background.

Tiles come from a configurable URL template (``https://tile.example.org/{z}/{x}/{y}.png``) through httpx.
When there is no template, or any tile cannot be had (server down, slow, an error, not a PNG), the map is
drawn on a plain background instead — the post must never fail for want of tiles. Either way the map has
a scale bar and a north arrow, and the geometry in red (a point closure as a circle of its radius).

>>> from shapely.geometry import Point
>>> png = render_map(Point(46.6753, 24.7136), radius_m=300)
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
import numpy as np
import shapely
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry.base import BaseGeometry

from geo.basemap import Basemap, draw_arrow, draw_basemap, draw_title

TILE = 256
MAX_ZOOM = 17
MIN_ZOOM = 3
_EARTH_CIRCUMFERENCE_M = 40_075_016.686
_RED = (214, 39, 40)
_NICE_M = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)

TileFetcher = Callable[[int, int, int], Image.Image | None]


@dataclass(frozen=True, slots=True)
class TileSource:
    """Where tiles come from; ``attribution`` is printed in the corner when tiles are used."""

    url_template: str
    attribution: str = "© OpenStreetMap contributors"
    timeout_s: float = 5.0
    user_agent: str = "road-closure-bot/0.1 (+https://github.com/)"


def render_map(
    geometry: BaseGeometry,
    *,
    radius_m: float | None = None,
    size: tuple[int, int] = (800, 500),
    tiles: TileSource | None = None,
    client: httpx.Client | None = None,
    basemap: Basemap | None = None,
    title: tuple[str | None, str | None] = (None, None),
    heading_deg: float | None = None,
) -> bytes:
    """The PNG of ``geometry`` (lon/lat) framed with a margin; tiles if they can all be had.

    Without tiles, ``basemap`` draws the municipality's boundary and the roads near the closure. Either way
    ``title`` ((Arabic, English)) heads the map and ``heading_deg`` (a one-way closure's direction of the
    closed traffic) is drawn as an arrow on the closure.
    """
    width, height = size
    if width < 100 or height < 100:
        raise ValueError(f"a map must be at least 100×100 pixels, not {width}×{height}")
    frame = _frame_geometry(geometry, radius_m)
    zoom = _zoom_for(frame, width, height)
    minx, miny, maxx, maxy = frame.bounds
    cx, cy = _pixel((minx + maxx) / 2, (miny + maxy) / 2, zoom)
    left, top = cx - width / 2, cy - height / 2
    image = _tiled(tiles, client, zoom, left, top, width, height) if tiles else None
    used_tiles = image is not None
    if image is None:
        image = _plain(width, height)
    draw = ImageDraw.Draw(image, "RGBA")

    def project(lon: float, lat: float) -> tuple[float, float]:
        px, py = _pixel(lon, lat, zoom)
        return px - left, py - top

    if not used_tiles and basemap is not None:
        drawn = shapely.transform(geometry, lambda xy: np.array([project(x, y) for x, y in xy]))
        draw_basemap(draw, basemap, project, (width, height), keep_clear=drawn)
    _draw_geometry(draw, geometry, radius_m, zoom, left, top)
    if heading_deg is not None:
        draw_arrow(draw, project(*_middle(geometry)), heading_deg)
    draw_title(draw, *title, width)
    lat = (miny + maxy) / 2
    _scale_bar(draw, zoom, lat, height)
    _north_arrow(draw, width)
    if used_tiles and tiles is not None and tiles.attribution:
        _label(draw, (width - 6, height - 6), tiles.attribution, anchor="rs")
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _middle(geometry: BaseGeometry) -> tuple[float, float]:
    """Where the direction arrow goes: halfway along a line, else a point inside the shape."""
    part = max(getattr(geometry, "geoms", [geometry]), key=lambda g: g.length)
    at = (
        part.interpolate(0.5, normalized=True)
        if part.geom_type == "LineString"
        else part.representative_point()
    )
    return at.x, at.y


def metres_per_pixel(zoom: int, lat: float) -> float:
    return _EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / (TILE * 2**zoom)


def _pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel coordinates of (lon, lat) at ``zoom``."""
    lat = max(-85.0511, min(85.0511, lat))
    scale = TILE * 2**zoom
    x = (lon + 180.0) / 360.0 * scale
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale
    return x, y


def _frame_geometry(geometry: BaseGeometry, radius_m: float | None) -> BaseGeometry:
    """The geometry grown by its radius and a margin (in degrees, enough for framing)."""
    lat = geometry.centroid.y
    metres = max(radius_m or 0.0, 150.0)
    dlat = metres / 111_320.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    minx, miny, maxx, maxy = geometry.bounds
    return shapely.box(minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)


def _zoom_for(frame: BaseGeometry, width: int, height: int) -> int:
    minx, miny, maxx, maxy = frame.bounds
    for zoom in range(MAX_ZOOM, MIN_ZOOM - 1, -1):
        x0, y0 = _pixel(minx, maxy, zoom)
        x1, y1 = _pixel(maxx, miny, zoom)
        if x1 - x0 <= width * 0.9 and y1 - y0 <= height * 0.85:
            return zoom
    return MIN_ZOOM


def _tiled(
    source: TileSource,
    client: httpx.Client | None,
    zoom: int,
    left: float,
    top: float,
    width: int,
    height: int,
) -> Image.Image | None:
    own = client is None
    http = client or httpx.Client(timeout=source.timeout_s, headers={"User-Agent": source.user_agent})
    try:
        image = Image.new("RGB", (width, height))
        n = 2**zoom
        for ty in range(math.floor(top / TILE), math.floor((top + height - 1) / TILE) + 1):
            for tx in range(math.floor(left / TILE), math.floor((left + width - 1) / TILE) + 1):
                if not 0 <= ty < n:
                    continue
                tile = _fetch(http, source, zoom, tx % n, ty)
                if tile is None:
                    return None
                image.paste(tile, (round(tx * TILE - left), round(ty * TILE - top)))
        return image
    finally:
        if own:
            http.close()


def _fetch(http: httpx.Client, source: TileSource, z: int, x: int, y: int) -> Image.Image | None:
    url = source.url_template.format(z=z, x=x, y=y)
    try:
        response = http.get(url, timeout=source.timeout_s)
        response.raise_for_status()
        tile = Image.open(io.BytesIO(response.content))
        tile.load()
    except (httpx.HTTPError, OSError, ValueError):
        return None
    return tile.convert("RGB") if tile.size == (TILE, TILE) else None


def _plain(width: int, height: int) -> Image.Image:
    """A light background with a faint grid, so the map reads as a map without tiles."""
    image = Image.new("RGB", (width, height), (242, 239, 233))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 50):
        draw.line([(x, 0), (x, height)], fill=(228, 224, 216))
    for y in range(0, height, 50):
        draw.line([(0, y), (width, y)], fill=(228, 224, 216))
    return image


def _draw_geometry(
    draw: ImageDraw.ImageDraw,
    geometry: BaseGeometry,
    radius_m: float | None,
    zoom: int,
    left: float,
    top: float,
) -> None:
    def xy(coords: Iterable[tuple[float, ...]]) -> list[tuple[float, float]]:
        out = []
        for lon, lat, *_ in coords:
            px, py = _pixel(lon, lat, zoom)
            out.append((px - left, py - top))
        return out

    for part in getattr(geometry, "geoms", [geometry]):
        kind = part.geom_type
        if kind == "Point":
            (x, y), lat = xy(part.coords)[0], part.y
            r = max(6.0, (radius_m or 0.0) / metres_per_pixel(zoom, lat))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(*_RED, 70), outline=_RED, width=3)
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=_RED)
        elif kind == "LineString":
            points = xy(part.coords)
            draw.line(points, fill=(255, 255, 255), width=11, joint="curve")
            draw.line(points, fill=_RED, width=7, joint="curve")
        elif kind == "Polygon":
            draw.polygon(xy(part.exterior.coords), fill=(*_RED, 80), outline=_RED, width=3)


def _scale_bar(draw: ImageDraw.ImageDraw, zoom: int, lat: float, height: int) -> None:
    mpp = metres_per_pixel(zoom, lat)
    metres = max((m for m in _NICE_M if m / mpp <= 160), default=_NICE_M[0])
    length = metres / mpp
    x0, y0 = 16, height - 18
    draw.rectangle([x0 - 6, y0 - 22, x0 + length + 6, y0 + 8], fill=(255, 255, 255, 200))
    draw.line([(x0, y0), (x0 + length, y0)], fill=(0, 0, 0), width=3)
    for x in (x0, x0 + length):
        draw.line([(x, y0 - 6), (x, y0 + 4)], fill=(0, 0, 0), width=2)
    label = f"{metres // 1000} km" if metres >= 1000 else f"{metres} m"
    _label(draw, (x0 + length / 2, y0 - 4), label, anchor="ms")


def _north_arrow(draw: ImageDraw.ImageDraw, width: int) -> None:
    cx, top = width - 30, 44
    draw.rectangle([cx - 16, top - 6, cx + 16, top + 52], fill=(255, 255, 255, 200))
    draw.polygon([(cx, top + 18), (cx - 9, top + 44), (cx, top + 38), (cx + 9, top + 44)], fill=(0, 0, 0))
    _label(draw, (cx, top + 14), "N", anchor="ms")


def _label(draw: ImageDraw.ImageDraw, at: tuple[float, float], text: str, *, anchor: str) -> None:
    draw.text(at, text, fill=(0, 0, 0), font=_font(), anchor=anchor)


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=13)
    except (TypeError, OSError):  # Pillow without FreeType: the bitmap font has no sizes
        return ImageFont.load_default()
