"""Building Valhalla tiles from the Helsinki extract: stages in order; a failure spares the old tiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo.valhalla import CONFIG_NAME
from geo.valhalla_tiles import STAGES, TilesError, build_tiles


def test_every_stage_is_reported_in_order_and_the_config_points_at_the_tiles(
    helsinki_extract: Path, tmp_path: Path
) -> None:
    seen: list[tuple[int, str]] = []

    built = build_tiles(helsinki_extract, tmp_path / "tiles", on_stage=lambda n, s: seen.append((n, s)))

    assert seen == list(enumerate(STAGES, start=1))
    config = json.loads((tmp_path / "tiles" / CONFIG_NAME).read_text())
    assert config["mjolnir"]["tile_dir"] == str(built.tiles_dir)
    assert config["logging"]["type"] == ""  # quiet when routing: no line per request in the bot's output
    assert built.tiles == len(list(built.tiles_dir.rglob("*.gph"))) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles"]


def test_a_failed_build_leaves_the_tiles_in_use_untouched(helsinki_extract: Path, tmp_path: Path) -> None:
    tiles = build_tiles(helsinki_extract, tmp_path / "tiles").tiles_dir
    before = {p: p.read_bytes() for p in tiles.rglob("*") if p.is_file()}
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\x00\x00\x00\x0dnot an OSM blob header")

    with pytest.raises(TilesError, match="failed at stage parseways"):
        build_tiles(broken, tiles)

    assert {p: p.read_bytes() for p in tiles.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.osm.pbf", "tiles"]
