"""The post's map without tiles shows where the closure is: the municipality's boundary, the main roads near
it with their names, the closure in red with an arrow for one-way traffic, and its title. The PNGs are kept
in ``test-artifacts/`` to be looked at; the assertions read their pixels."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime

import shapely
from PIL import Image
from shapely.geometry import LineString, shape

from bot.publish.maps import MapMaker, Surroundings
from closures.views import ClosureView
from geo.basemap import ARROW, BOUNDARY, ROAD_CASING
from geo.render import TileSource
from tests.bot.web.test_map_browser import artifacts_dir
from tests.conftest import DATA
from tests.fakes.tiles import TileServer

RED = (214, 39, 40)
KING_FAHD = LineString(
    [(46.671460, 24.712400), (46.675220, 24.705000), (46.678826, 24.697900), (46.683856, 24.688)]
)


def closure(**changes: object) -> ClosureView:
    base = ClosureView(
        id=1, municipality_id=1, ref="riyadh-001", kind="line", geometry=KING_FAHD, radius_m=None,
        reason="roadworks", severity="partial", lanes_ar=None, lanes_en=None, direction="one", heading="S",
        starts_at=datetime(2026, 11, 27, tzinfo=UTC), ends_at=None, status="open",
        title_ar="إغلاق جزئي لطريق الملك فهد جنوبًا", title_en="King Fahd Rd southbound partly closed",
        detour_ar=None, detour_en=None, version=1,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def surroundings() -> Surroundings:
    features = json.loads((DATA / "municipalities.geojson").read_text(encoding="utf-8"))["features"]
    boundaries = {i: shape(f["geometry"]) for i, f in enumerate(features, start=1)}
    return Surroundings(lambda: boundaries, DATA / "landmarks.geojson")


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def count(
    image: Image.Image, colour: tuple[int, int, int], box: tuple[int, int, int, int] | None = None
) -> int:
    region = image.crop(box) if box else image
    return sum(1 for p in region.getdata() if all(abs(a - b) <= 12 for a, b in zip(p, colour, strict=True)))


def test_a_plain_map_shows_roads_the_closure_its_arrow_and_title() -> None:
    png = MapMaker(surroundings=surroundings()).render(closure())
    (artifacts_dir() / "post-map-king-fahd.png").write_bytes(png)
    image = pixels(png)
    width, height = image.size

    assert count(image, RED, (width // 4, height // 6, 3 * width // 4, 5 * height // 6)) > 1500  # the closure
    assert count(image, ARROW, (width // 3, height // 3, 2 * width // 3, 2 * height // 3)) > 150  # the arrow
    assert count(image, ROAD_CASING) > 3000  # roads: Olaya St and Makkah Rd cross the frame
    assert count(image, (20, 20, 20), (0, 0, width, 34)) > 100  # the title's letters in the band at the top


def test_a_two_way_closure_has_no_arrow_and_a_wide_one_shows_the_boundary() -> None:
    both = MapMaker(surroundings=surroundings()).render(closure(direction="both", heading=None))
    assert count(pixels(both), ARROW) == 0
    area = shapely.box(46.52, 24.55, 46.86, 24.85)  # a large area in Riyadh, to its edge
    png = MapMaker(surroundings=surroundings()).render(closure(kind="area", geometry=area, direction="both"))
    (artifacts_dir() / "post-map-area.png").write_bytes(png)
    assert count(pixels(png), BOUNDARY) > 200  # the municipality's boundary line


def test_with_tiles_the_roads_come_from_the_tiles_and_the_arrow_stays() -> None:
    with TileServer().running() as server:
        tiles = TileSource(server.url_template, attribution="© Test Tiles", timeout_s=2)
        png = MapMaker(tiles, surroundings=surroundings()).render(closure())
    (artifacts_dir() / "post-map-tiles.png").write_bytes(png)
    image = pixels(png)
    assert count(image, ROAD_CASING) < 100  # no landmark roads drawn over real tiles
    assert count(image, ARROW) > 150
