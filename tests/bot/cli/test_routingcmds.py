"""``roadbot routing build`` and ``roadbot routing route`` on the Helsinki extract, and how they fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from geo.valhalla import ValhallaEmbedded
from tests.geo.helsinki import LASIPALATSI, YLIOPISTONKATU

FROM, TO = f"{LASIPALATSI.y},{LASIPALATSI.x}", f"{YLIOPISTONKATU.y},{YLIOPISTONKATU.x}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for var in ("ROUTING_ENGINE", "ROUTING_TILES_DIR", "ROUTING_URL", "ROUTING_TIMEOUT_S"):
        monkeypatch.delenv(var, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_json(out: str) -> Any:
    (line,) = out.splitlines()
    return json.loads(line)


def test_build_makes_tiles_the_route_command_then_routes_on(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    valhalla: ValhallaEmbedded,
    helsinki_extract: Path,
) -> None:
    tiles = tmp_path / "tiles"
    code, out, err = run(
        capsys, "routing", "build", "--pbf", str(helsinki_extract), "--tiles-dir", str(tiles), "--json"
    )

    assert (code, err) == (0, "")
    summary = one_json(out)
    assert summary["tiles_dir"] == str(tiles.resolve())
    assert summary["tiles"] == len(list(tiles.rglob("*.gph"))) > 0
    assert summary["size_bytes"] == sum(p.stat().st_size for p in tiles.rglob("*.gph"))
    assert (tiles / "valhalla.json").is_file()

    monkeypatch.setenv("ROUTING_ENGINE", "valhalla")
    monkeypatch.setenv("ROUTING_TILES_DIR", str(tiles))
    code, out, err = run(capsys, "routing", "route", FROM, TO, "--json")

    assert (code, err) == (0, "")
    answer = one_json(out)
    expected = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    assert answer["engine"] == "valhalla"
    assert answer["approximate"] is False
    assert answer["length_m"] == pytest.approx(expected.length_m, abs=0.1)
    assert answer["street_names"] == list(expected.street_names)
    assert answer["line"][0] == pytest.approx(list(expected.line.coords[0]), abs=1e-6)


def test_building_again_replaces_the_tiles(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, helsinki_extract: Path
) -> None:
    tiles = tmp_path / "tiles"
    assert run(capsys, "routing", "build", "--pbf", str(helsinki_extract), "--tiles-dir", str(tiles))[0] == 0
    (tiles / "stale.gph").write_bytes(b"old")

    code, out, _ = run(capsys, "routing", "build", "--pbf", str(helsinki_extract), "--tiles-dir", str(tiles))

    assert code == 0
    assert out.startswith("built ")
    assert f"ROUTING_ENGINE=valhalla ROUTING_TILES_DIR={tiles.resolve()}" in out
    assert not (tiles / "stale.gph").exists()
    assert not list(tmp_path.glob(".tiles.*"))  # no staging or old directory left behind


def test_a_missing_extract_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "routing", "build", "--pbf", "nowhere.osm.pbf", "--tiles-dir", "t")
    assert (code, out) == (2, "")
    assert err == f"roadbot: bad input: no such file: {tmp_path / 'nowhere.osm.pbf'}\n"


def test_a_directory_of_other_files_is_never_replaced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, helsinki_extract: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("mine")

    code, _, err = run(capsys, "routing", "build", "--pbf", str(helsinki_extract), "--tiles-dir", "docs")

    assert code == 2
    assert "holds other files" in err
    assert (tmp_path / "docs" / "notes.txt").read_text() == "mine"


def test_an_extract_that_is_not_osm_data_fails_the_build(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, helsinki_extract: Path
) -> None:
    (tmp_path / "fake.osm.pbf").write_text("this is not protobuf")

    code, _, err = run(capsys, "routing", "build", "--pbf", "fake.osm.pbf", "--tiles-dir", "t")

    assert code == 1
    assert err.startswith("roadbot: build failed: ")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "t").exists()


def test_without_an_engine_the_route_is_the_labelled_straight_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "routing", "route", FROM, TO)

    assert (code, err) == (0, "")
    assert out.startswith("straight-line (approximate: no road engine configured): ")


def test_an_engine_without_tiles_fails_with_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTING_ENGINE", "valhalla")
    monkeypatch.setenv("ROUTING_TILES_DIR", "no-tiles-here")

    code, out, err = run(capsys, "routing", "route", FROM, TO, "--json")

    assert (code, out) == (1, "")
    assert err.startswith("roadbot: routing failed: RoutingUnavailable: valhalla: no tiles: ")


def test_a_place_that_is_not_coordinates_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "routing", "route", "Olaya", TO)
    assert code == 2
    assert err == "roadbot: bad input: not a \"lat,lon\" pair: 'Olaya'\n"
