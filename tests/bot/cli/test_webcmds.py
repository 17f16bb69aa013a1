"""``roadbot serve``: the map and its data over HTTP without Telegram; and ``run``'s web options."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.cli.demo import load_sample_database
from bot.config import Settings
from tests.conftest import ROOT

ANNOUNCED = r"Serving the map of road closures at (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)\n"


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An empty working directory (no .env) and no bot or web settings in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "WEBHOOK_", "WEB_", "MAP_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def sample_database(tmp_path: Path) -> str:
    ctx, _ = load_sample_database(Settings(_env_file=None), tmp_path / "demo.sqlite")  # type: ignore[call-arg]
    ctx.engine.dispose()
    return ctx.settings.database_url


async def test_serve_prints_its_address_serves_the_sample_closures_and_stops_on_ctrl_c(
    clean_env: dict[str, str], sample_database: str, tmp_path: Path
):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--database-url", sample_database, "serve", "--port", "0",
        env=clean_env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        found = re.fullmatch(
            r"Serving the map of road closures at (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)\n", line
        )
        assert found, line + (await process.stderr.read()).decode()  # type: ignore[union-attr]
        async with httpx.AsyncClient(base_url=found.group(1), timeout=10) as client:
            page = await client.get("/", headers={"Accept-Language": "en"})
            data = (await client.get("/map/closures.json?lang=en")).json()
            health = await client.get("/health")
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert page.status_code == 200
    assert 'dir="ltr"' in page.text
    assert len(data["features"]) > 10
    assert health.status_code == 200
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


@pytest.mark.usefixtures("clean_env")
def test_serve_on_a_taken_port_says_so_in_one_line_and_exits_1(sample_database: str, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--database-url", sample_database, "serve", "--port", str(port)])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"roadbot: cannot listen on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1


@pytest.mark.usefixtures("clean_env")
def test_serve_on_an_uninitialised_database_exits_3(tmp_path: Path, capsys):
    (tmp_path / "empty.sqlite").touch()  # a database file with no schema
    code = main(["--database-url", f"sqlite:///{tmp_path / 'empty.sqlite'}", "serve", "--port", "0"])

    assert code == 3
    assert "not initialised" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook", "https://roads.example.org", "--no-web"], "--webhook needs the web server"),
        (["--webhook", "ftp://roads.example.org"], "--webhook must be an https:// URL"),
        (["--port", "70000"], "--port must be 0 to 65535"),
    ],
)
def test_run_refuses_web_options_that_cannot_work(
    sample_database: str, monkeypatch: pytest.MonkeyPatch, capsys, args: list[str], message: str
):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:SECRET")
    code = main(["--database-url", sample_database, "run", *args])

    assert code == 2
    assert message in capsys.readouterr().err
