"""The ``roadbot`` command line as the CLI tests drive it, and the geodesic oracle they measure it with.

Fixtures live here as plain functions; each test module registers the ones it uses with ``pytest.fixture``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from bot.cli import main
from tests.conftest import ROOT
from tests.geo.oracle import GeodesicScan

DATA = ROOT / "data"
RIYADH = ZoneInfo("Asia/Riyadh")
GEOD = Geod(ellps="WGS84")
EIGHT = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
SETTINGS_VARS = (
    "DATABASE_URL",
    "HORIZON_HOURS",
    "DEFAULT_RADIUS_M",
    "BOUNDARY_TOLERANCE_M",
    "ROADBOT_DATA_DIR",
)

KING_FAHD = {"type": "LineString", "coordinates": [[46.6723, 24.6987], [46.6741, 24.7065]]}
KING_FAHD_TITLE = "إغلاق جزئي لطريق الملك فهد"
KINGDOM_CENTRE = (46.6744, 24.7114)  # lon, lat
OLAYA_BLOCK = {
    "type": "Polygon",
    "coordinates": [
        [[46.6850, 24.6900], [46.6900, 24.6900], [46.6900, 24.6950], [46.6850, 24.6950], [46.6850, 24.6900]]
    ],
}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The single JSON object a ``--json`` command prints, after checking it succeeded."""
        assert self.code == 0, self.err
        assert self.err == ""
        lines = self.out.splitlines()
        assert len(lines) == 1, "a --json command prints one JSON object on one line"
        return json.loads(lines[0])

    def ok(self) -> str:
        assert self.code == 0, self.err
        return self.out


class Cli:
    """``roadbot --database-url URL …`` in-process, with what it printed."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self._capsys = capsys

    def __call__(self, *argv: str) -> Run:
        self._capsys.readouterr()
        code = main(["--database-url", self.url, *argv])
        out, err = self._capsys.readouterr()
        return Run(code, out, err)


def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no .env) and no roadbot settings in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def fresh(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A database file that does not exist yet."""
    return Cli(f"sqlite:///{workdir / 'x.sqlite'}", capsys)


def migrated(path: Path, template: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    shutil.copyfile(template, path)
    cli = Cli(f"sqlite:///{path}", capsys)
    cli("municipality", "load", str(DATA / "municipalities.geojson")).ok()
    return cli


def cli(workdir: Path, sqlite_template: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A migrated database with Riyadh and Jeddah loaded through the command line."""
    return migrated(workdir / "x.sqlite", sqlite_template, capsys)


def riyadh_local(moment: datetime) -> str:
    """``moment`` as an operator in Riyadh types it."""
    return moment.astimezone(RIYADH).strftime("%Y-%m-%d %H:%M")


def add_closure(cli: Cli, *extra: str, geometry: Any = KING_FAHD, title: str = KING_FAHD_TITLE) -> dict:
    """Register a closure with ``--json`` and return its GeoJSON feature."""
    text = geometry if isinstance(geometry, str) else json.dumps(geometry)
    return cli(
        "closure", "add", "--municipality", "riyadh", "--reason", "roadworks",
        "--geometry", text, "--title-ar", title, *extra, "--json",
    ).json()  # fmt: skip


def instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() == timedelta(0), "stored and printed in UTC"
    return value


# --- the oracle ------------------------------------------------------------------------------------------


def geodesic_edge_m(origin: Point, geometry: BaseGeometry, radius_m: float | None) -> float:
    """Geodesic metres from ``origin`` to the closure's edge (a point closure is a disc of ``radius_m``)."""
    metres = float(GeodesicScan([geometry]).distances(origin)[0])
    return max(0.0, metres - (radius_m or 0.0))


def acceptable_compass(origin: Point, geometry: BaseGeometry) -> set[str | None]:
    """The 8-point direction (as drivers are told) from ``origin`` to the nearest part of ``geometry``, by
    Geod alone.

    The nearest part is found among points every ~2 m along the geometry; within 2° of a sector edge
    either neighbour is right.
    """
    if geometry.geom_type == "Polygon" and geometry.covers(origin):
        return {None}
    outline = geometry.exterior if geometry.geom_type == "Polygon" else geometry
    coords = shapely.get_coordinates(shapely.segmentize(outline, 2e-5))
    n = len(coords)
    azimuth, _, metres = GEOD.inv(np.full(n, origin.x), np.full(n, origin.y), coords[:, 0], coords[:, 1])
    best = int(np.argmin(metres))
    if metres[best] < 1.0:
        return {None}
    return {EIGHT[int(((azimuth[best] + d) % 360 + 22.5) // 45.0) % 8] for d in (-2.0, 0.0, 2.0)}


def assert_geodesic(item: dict, origin: Point, geometry: BaseGeometry, radius_m: float | None) -> None:
    expected = geodesic_edge_m(origin, geometry, radius_m)
    assert item["distance_m"] == pytest.approx(expected, rel=0.005, abs=0.5), item["id"]
    assert item["compass"] in acceptable_compass(origin, geometry), item["id"]


def three_closures(cli: Cli) -> dict[int, tuple[BaseGeometry, float | None]]:
    """A line active now, a point starting in two days (beyond the 24 h horizon), an area active now."""
    later = datetime.now(UTC) + timedelta(days=2)
    made = [
        add_closure(cli, "--end", "3h"),
        add_closure(cli, "--start", riyadh_local(later), "--end", "6h", "--radius", "150",
                    geometry="24.7114, 46.6744", title="نقطة"),
        add_closure(cli, "--end", "1 day", geometry=OLAYA_BLOCK, title="منطقة"),
    ]  # fmt: skip
    return {f["id"]: (shape(f["geometry"]), f["properties"]["radius_m"]) for f in made}
