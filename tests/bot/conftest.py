"""A running bot for the driver tests: the real Application, long-polling the local Bot API over HTTP,
on a SQLite copy with the sample municipalities and closures, and an injected clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotApplication, build_application
from bot.config import Settings
from bot.localapi import ApiCall, FakeUser, LocalBotApi
from bot.services import Services
from closures.formats.geojson import read_closures, read_municipalities
from closures.models import Municipality
from closures.service import Actor
from closures.store import session_scope
from tests.conftest import DATA, FakeClock


@dataclass
class RunningBot:
    app: BotApplication
    api: LocalBotApi
    services: Services
    clock: FakeClock

    async def reply_to(self, user: FakeUser, *, since: int, method: str = "sendMessage") -> ApiCall:
        """The bot's next call of ``method`` to this user's chat after call number ``since``."""
        return await self.api.wait_for(lambda c: c.method == method and c.chat_id == user.id, since=since)

    async def ask(self, user: FakeUser, text: str) -> ApiCall:
        since = len(self.api.calls)
        self.api.user_sends_text(user, text)
        return await self.reply_to(user, since=since)

    async def send_location(self, user: FakeUser, lat: float, lon: float, **kwargs: Any) -> ApiCall:
        since = len(self.api.calls)
        self.api.user_sends_location(user, lat, lon, **kwargs)
        return await self.reply_to(user, since=since)


def load_sample_data(services: Services) -> None:
    """Riyadh and Jeddah, and the 29 sample closures with times relative to the services' clock."""
    with session_scope(services.engine, write=True) as session:
        for item in read_municipalities((DATA / "municipalities.geojson").read_text(encoding="utf-8")):
            session.add(Municipality(**{k: getattr(item, k) for k in item.__slots__}))
    text = (DATA / "sample_closures.geojson").read_text(encoding="utf-8")
    for item in read_closures(text, now=services.clock()):
        services.closures.register(
            item.municipality or "riyadh", item.draft, Actor.system("test"), allow_past_start=True
        )


def bot_settings(api: LocalBotApi, database: Path, **overrides: Any) -> Settings:
    """Settings for a bot on the local Bot API; no geocoder unless given (tests stay on 127.0.0.1)."""
    overrides = {"geocoder": "none", **overrides}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{database}",
        telegram_bot_token=api.token,
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        **overrides,
    )


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    """Settings the bot fixtures run with beyond the defaults; a test module may override this fixture."""
    return {}


@pytest.fixture
async def running_bot(
    bot_api: LocalBotApi,
    tmp_path: Path,
    sqlite_template: Path,
    clock: FakeClock,
    bot_overrides: dict[str, Any],
) -> AsyncIterator[RunningBot]:
    database = tmp_path / "bot.sqlite"
    shutil.copyfile(sqlite_template, database)
    services = Services.build(bot_settings(bot_api, database, **bot_overrides), clock=clock)
    load_sample_data(services)
    app = build_application(services, rate_limit=False)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield RunningBot(app, bot_api, services, clock)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
