"""Static maps: the closure over tiles from a local tile server, and the plain fallback when tiles fail."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from shapely.geometry import LineString, Point, Polygon

from geo.render import TileSource, _frame_geometry, _pixel, _zoom_for, metres_per_pixel, render_map
from tests.fakes.tiles import TILE_COLOUR, TileServer

KING_FAHD = LineString([(46.683856, 24.688), (46.67522, 24.705), (46.67146, 24.7124)])
OLAYA = Point(46.6753, 24.7136)
RED = (214, 39, 40)
SIZE = (800, 500)


@pytest.fixture
def tiles():
    server = TileServer()
    with server.running():
        yield server


def _image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == SIZE
    return image


def _share(image: Image.Image, colour: tuple[int, int, int]) -> float:
    pixels = list(image.getdata())
    return sum(1 for p in pixels if p == colour) / len(pixels)


def test_the_closure_is_drawn_over_the_tiles_it_needs(tiles):
    source = TileSource(tiles.url_template, attribution="© test tiles", timeout_s=2)
    image = _image(render_map(KING_FAHD, size=SIZE, tiles=source))

    assert _share(image, TILE_COLOUR) > 0.5  # the background is the tile server's
    zoom = _zoom_for(_frame_geometry(KING_FAHD, None), *SIZE)
    assert tiles.requests
    assert {path.split("/")[1] for path in tiles.requests} == {str(zoom)}
    x, y = (int(v) for v in tiles.requests[0].removesuffix(".png").split("/")[2:])
    assert abs(x - int(_pixel(46.677, 24.70, zoom)[0] // 256)) <= 3
    assert abs(y - int(_pixel(46.677, 24.70, zoom)[1] // 256)) <= 3


def test_the_geometry_is_red_where_it_is(tiles):
    image = _image(render_map(OLAYA, radius_m=300, size=SIZE))
    assert image.getpixel((400, 250)) == RED  # the point is the centre of the frame
    assert _share(image, RED) > 0.001


@pytest.mark.parametrize("mode", ["error", "garbage", "down"])
def test_without_tiles_the_plain_map_still_comes_out(tiles, mode):
    url = tiles.url_template if mode != "down" else "http://127.0.0.1:9/{z}/{x}/{y}.png"
    tiles.mode = mode if mode != "down" else "ok"
    image = _image(render_map(KING_FAHD, size=SIZE, tiles=TileSource(url, timeout_s=1)))
    assert _share(image, TILE_COLOUR) == 0
    assert _share(image, (242, 239, 233)) > 0.5  # the plain background
    assert _share(image, RED) > 0.002


def test_a_slow_tile_server_falls_back_within_its_timeout(tiles):
    tiles.mode, tiles.delay_s = "slow", 1.5
    image = _image(
        render_map(OLAYA, radius_m=200, size=SIZE, tiles=TileSource(tiles.url_template, timeout_s=0.2))
    )
    assert _share(image, TILE_COLOUR) == 0
    assert len(tiles.requests) == 1  # gave up at the first slow tile


def test_the_map_has_a_north_arrow_and_a_scale_bar():
    image = _image(render_map(Polygon([(46.67, 24.70), (46.68, 24.70), (46.68, 24.71)]), size=SIZE))
    corner = image.crop((SIZE[0] - 50, 30, SIZE[0], 100))  # below the title band
    assert _share(corner, (0, 0, 0)) > 0.02  # the arrow
    bar = image.crop((0, SIZE[1] - 50, 200, SIZE[1]))
    assert _share(bar, (0, 0, 0)) > 0.01
    whitish = sum(1 for p in bar.getdata() if min(p) >= 248) / (200 * 50)
    assert whitish > 0.3  # the bar's light box over the darker background


def test_metres_per_pixel_follow_web_mercator():
    assert metres_per_pixel(0, 0) == pytest.approx(156_543.03, rel=1e-6)
    assert metres_per_pixel(15, 24.7) == pytest.approx(156_543.03 / 2**15 * 0.9085, rel=1e-3)


def test_a_tiny_map_is_refused():
    with pytest.raises(ValueError, match="at least 100"):
        render_map(OLAYA, size=(50, 50))
