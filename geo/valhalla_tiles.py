"""Valhalla routing tiles from an OpenStreetMap extract, with the tools the pyvalhalla wheel carries.

``valhalla_build_config`` writes the configuration, ``valhalla_build_tiles`` runs its pipeline one stage at a
time (so progress can be shown and a failure names its stage). Tiles are built in a staging directory next to
the target and swapped in only when complete: a failed build leaves the tiles in use untouched.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from geo.valhalla import CONFIG_NAME

# valhalla_build_tiles --help lists these, in order.
STAGES = (
    "initialize", "parseways", "parserelations", "parseareaways", "parsenodes", "buildareas",
    "constructedges", "build", "enhance", "filter", "transit", "bss", "hierarchy", "shortcuts",
    "restrictions", "elevation", "validate", "cleanup",
)  # fmt: skip


class TilesError(Exception):
    """The tiles could not be built; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class TilesBuilt:
    tiles_dir: Path
    config: Path
    tiles: int
    size_bytes: int
    seconds: float


def valhalla_bin_dir() -> Path:
    """Where the pyvalhalla wheel keeps Valhalla's executables; TilesError when it is not installed."""
    spec = importlib.util.find_spec("valhalla")
    if spec is None or not spec.submodule_search_locations:
        raise TilesError("pyvalhalla is not installed: pip install 'road-closure-bot[routing]'")
    return Path(next(iter(spec.submodule_search_locations))) / "bin"


def build_tiles(
    pbf: Path, tiles_dir: Path, *, on_stage: Callable[[int, str], None] | None = None, threads: int = 0
) -> TilesBuilt:
    """Build tiles from ``pbf`` into ``tiles_dir`` (created or replaced) with its ``valhalla.json``.

    ``on_stage(done, name)`` is called after each of the ``len(STAGES)`` stages.
    """
    started = time.monotonic()
    pbf, tiles_dir = Path(pbf).resolve(), Path(tiles_dir).resolve()
    if not pbf.is_file():
        raise TilesError(f"no such file: {pbf}")
    if tiles_dir.exists() and any(tiles_dir.iterdir()) and not (tiles_dir / CONFIG_NAME).is_file():
        raise TilesError(
            f"{tiles_dir} holds other files and no {CONFIG_NAME}: choose an empty or tiles directory"
        )
    build_tool = valhalla_bin_dir() / "valhalla_build_tiles"
    staging = tiles_dir.with_name(f".{tiles_dir.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        config = write_config(staging, logging=True)
        jobs = str(threads or os.cpu_count() or 1)
        for done, stage in enumerate(STAGES, start=1):
            command = [str(build_tool), "-c", str(config), "-j", jobs, "-s", stage, "-e", stage, str(pbf)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise TilesError(f"valhalla_build_tiles failed at stage {stage}: {_last_error(result)}")
            if on_stage is not None:
                on_stage(done, stage)
        tiles = sorted(staging.rglob("*.gph"))
        if not tiles:
            raise TilesError(f"{pbf.name} holds no roads Valhalla can route on")
        _swap(staging, tiles_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    config = write_config(tiles_dir, logging=False)
    built = list(tiles_dir.rglob("*.gph"))
    return TilesBuilt(
        tiles_dir=tiles_dir,
        config=config,
        tiles=len(built),
        size_bytes=sum(p.stat().st_size for p in built),
        seconds=time.monotonic() - started,
    )


def write_config(tiles_dir: Path, *, logging: bool) -> Path:
    """``tiles_dir/valhalla.json`` from valhalla_build_config, reading and writing tiles in ``tiles_dir``.

    Logging goes to stdout while building (to report a failure) and is off for routing, where Valhalla would
    otherwise print a line per request into the bot's output.
    """
    target = tiles_dir / CONFIG_NAME
    command = [
        sys.executable, "-W", "ignore::RuntimeWarning", "-m", "valhalla.valhalla_build_config",
        "--mjolnir-tile-dir", str(tiles_dir),
        "--mjolnir-tile-extract", str(tiles_dir / "tiles.tar"),
        "--mjolnir-traffic-extract", str(tiles_dir / "traffic.tar"),
        "--mjolnir-admin", str(tiles_dir / "admin.sqlite"),
        "--mjolnir-timezone", str(tiles_dir / "timezones.sqlite"),
        "--logging-type", "std_out" if logging else "",
        "--logging-color", "False",
        "-o", str(target),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not target.is_file():
        raise TilesError(f"valhalla_build_config failed: {_last_error(result)}")
    json.loads(
        target.read_text(encoding="utf-8")
    )  # a config Valhalla cannot read is a failure now, not later
    return target


@contextmanager
def local_service(tiles_dir: Path, run_dir: Path, *, workers: int = 1) -> Iterator[str]:
    """The wheel's valhalla_service on a free port of 127.0.0.1 over ``tiles_dir``; yields its base URL.

    For tests and benchmarks; a deployment runs valhalla_service (or its Docker image) on its own.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = json.loads((tiles_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    config["httpd"]["service"].update(
        listen=f"tcp://127.0.0.1:{port}",
        loopback=f"ipc://{run_dir}/loopback",  # not the shared /tmp defaults: two services must not collide
        interrupt=f"ipc://{run_dir}/interrupt",
        drain_seconds=0,  # stop at once when terminated
        shutdown_seconds=0,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG_NAME).write_text(json.dumps(config), encoding="utf-8")
    process = subprocess.Popen(
        [str(valhalla_bin_dir() / "valhalla_service"), str(run_dir / CONFIG_NAME), str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # The service says nothing when it starts listening: the transport retries refused connections
        # (with backoff) until one is accepted.
        with httpx.Client(transport=httpx.HTTPTransport(retries=8), timeout=10) as client:
            client.get(f"{url}/status").raise_for_status()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _swap(staging: Path, tiles_dir: Path) -> None:
    old = tiles_dir.with_name(f".{tiles_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if tiles_dir.exists():
        tiles_dir.rename(old)
    staging.rename(tiles_dir)
    shutil.rmtree(old, ignore_errors=True)


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Error" in line or "error" in line]
    return (errors or lines or [f"exit code {result.returncode}"])[-1][:300]
