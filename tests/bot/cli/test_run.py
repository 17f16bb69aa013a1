"""``roadbot run``: the bot as a process, long-polling a Bot API server; refuses to start without a token."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.demo import load_sample_database
from bot.config import Settings
from bot.i18n import get_translator
from bot.localapi import FakeUser, LocalBotApi
from tests.conftest import ROOT

SETTINGS_VARS = (
    "DATABASE_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "TELEGRAM_BASE_FILE_URL",
    "WEBHOOK_URL",
)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An empty working directory (no .env) and no bot settings in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def sample_database(tmp_path: Path) -> str:
    """The URL of a fresh SQLite file with the sample data, loaded as ``roadbot demo`` loads it."""
    ctx, _ = load_sample_database(Settings(_env_file=None), tmp_path / "bot.sqlite")  # type: ignore[call-arg]
    ctx.engine.dispose()
    return ctx.settings.database_url


@pytest.mark.usefixtures("clean_env")
def test_run_without_a_token_says_so_in_one_line_and_exits_2(tmp_path: Path, capsys):
    code = main(["run"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == "roadbot: TELEGRAM_BOT_TOKEN is not set; try `roadbot chat` to use the bot offline\n"
    assert list(tmp_path.iterdir()) == []  # no database file was created on the way


@pytest.mark.parametrize("before", [True, False], ids=["option-before-run", "option-after-run"])
def test_run_on_an_uninitialised_database_exits_3(
    clean_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, before: bool
):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:SECRET")
    (tmp_path / "empty.sqlite").touch()  # a database file with no schema (a missing one: test_cli_operator)
    option = ["--database-url", f"sqlite:///{tmp_path / 'empty.sqlite'}"]

    code = main([*option, "run"] if before else ["run", *option])

    assert code == 3
    assert "not initialised" in capsys.readouterr().err


async def test_run_answers_a_driver_and_stops_cleanly_on_ctrl_c(
    bot_api: LocalBotApi, clean_env: dict[str, str], sample_database: str, tmp_path: Path, driver: FakeUser
):
    env = clean_env | {
        "DATABASE_URL": sample_database,
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_BASE_URL": bot_api.base_url,
        "TELEGRAM_BASE_FILE_URL": bot_api.base_file_url,
        "WEB_PORT": "0",  # the map server on a free port: tests run side by side
    }
    bot_api.user_sends_location(driver, 24.7114, 46.6744)  # waits on the server until the bot polls

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        reply = asyncio.ensure_future(
            bot_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == driver.id, timeout=60)
        )
        exited = asyncio.ensure_future(process.wait())
        await asyncio.wait({reply, exited}, return_when=asyncio.FIRST_COMPLETED)
        assert not exited.done(), (await process.stderr.read()).decode()  # type: ignore[union-attr]
        call = await reply
        assert call.ok
        text = call.text or ""
        assert re.search("[٠-٩]+ م", text)  # closures with their distances, in the driver's Arabic
        assert text != get_translator("ar").t("error.generic")

        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, err.decode()
    assert out == b""
    assert "Traceback" not in err.decode()
    assert re.search(r"froze [1-9]\d+ start-up objects", err.decode())  # bot.gc_tuning, once it was up
    assert bot_api.updates_pending() == 0  # the update was confirmed, so a restart will not repeat it


async def test_run_with_a_token_the_bot_api_refuses_exits_2_in_one_line(
    bot_api: LocalBotApi, clean_env: dict[str, str], sample_database: str, tmp_path: Path
):
    env = clean_env | {
        "DATABASE_URL": sample_database,
        "TELEGRAM_BOT_TOKEN": "999:NOT-THE-TOKEN",
        "TELEGRAM_BASE_URL": bot_api.base_url,
    }

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 2
    assert err.decode() == "roadbot: bad configuration: the Bot API refused TELEGRAM_BOT_TOKEN\n"
    assert out == b""
