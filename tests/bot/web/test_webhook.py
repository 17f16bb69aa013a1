"""Webhook mode: Telegram posts updates to /telegram/<secret path> with the secret token; anything else is
refused, and what is accepted is answered by the bot like a polled update."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from shapely.geometry import Point

from bot.config import Settings
from bot.i18n import get_translator
from bot.localapi import FakeUser, LocalBotApi
from bot.runner import Started
from bot.services import Services
from bot.web.webhook import SECRET_HEADER, WebhookSecrets
from tests.bot.conftest import bot_settings, load_sample_data
from tests.bot.web.support import free_port, running_instance, unsent_update
from tests.conftest import ROOT, FakeClock

NEAR_KING_FAHD = (24.7114, 46.6744)


@pytest.fixture
async def webhook_bot(
    bot_api: LocalBotApi, tmp_path: Path, sqlite_template: Path, clock: FakeClock
) -> AsyncIterator[tuple[Started, Services]]:
    """The bot in webhook mode on the sample data; the local Bot API posts updates to it."""
    database = tmp_path / "bot.sqlite"
    shutil.copyfile(sqlite_template, database)
    services = Services.build(bot_settings(bot_api, database), clock=clock)
    load_sample_data(services)
    port = free_port()
    async with running_instance(services, port=port, webhook_base=f"http://127.0.0.1:{port}") as started:
        yield started, services


def test_secrets_are_derived_from_the_token_unless_configured():
    one = WebhookSecrets.from_settings(Settings(_env_file=None, telegram_bot_token="1:A"))  # type: ignore[call-arg]
    again = WebhookSecrets.from_settings(Settings(_env_file=None, telegram_bot_token="1:A"))  # type: ignore[call-arg]
    other = WebhookSecrets.from_settings(Settings(_env_file=None, telegram_bot_token="1:B"))  # type: ignore[call-arg]
    configured = WebhookSecrets.from_settings(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            telegram_bot_token="1:A",
            webhook_secret_token="s3cret",
            webhook_path="a-path-of-sixteen",
        )
    )

    assert one == again  # every process of one bot, and every restart, agrees
    assert one.secret_token != other.secret_token
    assert one.path != other.path
    assert one.secret_token != one.path
    assert (configured.secret_token, configured.path) == ("s3cret", "a-path-of-sixteen")
    assert (
        configured.url("https://roads.example.org/") == "https://roads.example.org/telegram/a-path-of-sixteen"
    )
    assert "s3cret" not in repr(configured)


@pytest.mark.parametrize("bad", ["has space", "", "x" * 257, "ünïcode"])
def test_a_secret_token_telegram_would_refuse_is_a_configuration_error(bad: str):
    with pytest.raises(ValueError, match="A-Z, a-z, 0-9"):
        Settings(_env_file=None, webhook_secret_token=bad)  # type: ignore[call-arg]


async def test_a_driver_is_answered_through_the_webhook(
    webhook_bot: tuple[Started, Services], bot_api: LocalBotApi, driver: FakeUser
):
    started, services = webhook_bot
    secrets = WebhookSecrets.from_settings(services.settings)

    assert started.webhook_url == f"{started.web_url}/telegram/{secrets.path}"
    assert bot_api.webhook == {"url": started.webhook_url, "secret_token": secrets.secret_token}
    since = len(bot_api.calls)
    bot_api.user_sends_location(driver, *NEAR_KING_FAHD)
    reply = await bot_api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == driver.id, since=since
    )

    lat, lon = NEAR_KING_FAHD
    nearest = services.queries.near(Point(lon, lat), 5000, limit=1)[0]
    assert nearest.closure.title_ar in (reply.text or "")
    assert bot_api.updates_pending() == 0  # delivered and accepted: Telegram would not post it again


async def test_the_webhook_refuses_a_post_without_the_secret(
    webhook_bot: tuple[Started, Services], bot_api: LocalBotApi
):
    started, services = webhook_bot
    secrets = WebhookSecrets.from_settings(services.settings)
    alice = FakeUser(777001, first_name="Alice", language_code="en")
    right = f"{started.web_url}/telegram/{secrets.path}"
    update = unsent_update(bot_api, alice, "/start", update_id=900_001)
    token = {SECRET_HEADER: secrets.secret_token}
    since = len(bot_api.calls)
    async with httpx.AsyncClient(timeout=10) as client:
        no_token = await client.post(right, json=update)
        wrong_token = await client.post(right, json=update, headers={SECRET_HEADER: "guess"})
        wrong_path = await client.post(f"{started.web_url}/telegram/{'0' * 64}", json=update, headers=token)
        garbage = await client.post(right, content=b"{not json", headers=token)
        not_an_update = await client.post(right, json=[1, 2], headers=token)
        accepted = await client.post(right, json=update, headers=token)
        reply = await bot_api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == alice.id, since=since
        )
        metrics = (await client.get(f"{started.web_url}/metrics")).text

    assert [no_token.status_code, wrong_token.status_code, wrong_path.status_code] == [403, 403, 403]
    assert [garbage.status_code, not_an_update.status_code, accepted.status_code] == [400, 400, 200]
    replies = [c for c in bot_api.calls[since:] if c.method == "sendMessage" and c.chat_id == alice.id]
    assert replies == [reply]  # only the accepted post was handled
    assert get_translator("en").t("start.welcome") in (reply.text or "")
    outcomes = {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "roadbot_webhook_updates"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert outcomes == {"refused": 3, "malformed": 2, "accepted": 1}


async def test_roadbot_run_webhook_registers_it_answers_and_stops_on_sigterm(
    bot_api: LocalBotApi, tmp_path: Path, sqlite_template: Path, clock: FakeClock, driver: FakeUser
):
    database = tmp_path / "bot.sqlite"
    shutil.copyfile(sqlite_template, database)
    settings = bot_settings(bot_api, database)
    services = Services.build(settings, clock=clock)
    load_sample_data(services)
    services.close()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WEB_"))},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": settings.database_url,
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_BASE_URL": bot_api.base_url,
        "TELEGRAM_BASE_FILE_URL": bot_api.base_file_url,
    }
    base = f"http://127.0.0.1:{port}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--webhook", base, "--port", str(port),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        registered = asyncio.ensure_future(bot_api.wait_for(lambda c: c.method == "setWebhook", timeout=60))
        exited = asyncio.ensure_future(process.wait())
        await asyncio.wait({registered, exited}, return_when=asyncio.FIRST_COMPLETED)
        assert not exited.done(), (await process.stderr.read()).decode()  # type: ignore[union-attr]
        call = await registered
        since = len(bot_api.calls)
        bot_api.user_sends_location(driver, *NEAR_KING_FAHD)
        reply = await bot_api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == driver.id, since=since, timeout=60
        )
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    secrets = WebhookSecrets.from_settings(settings)
    assert call.params["url"] == f"{base}/telegram/{secrets.path}"
    assert call.params["secret_token"] == secrets.secret_token
    assert reply.ok
    assert process.returncode == 0, err.decode()
    assert out == b""
    assert "Traceback" not in err.decode()
    assert f"the map of closures is at {base}/" in err.decode()
    assert secrets.path not in err.decode()
    assert secrets.secret_token not in err.decode()
    assert bot_api.webhook["url"] == call.params["url"]  # left for the other processes behind the address
