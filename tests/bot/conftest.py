"""A running bot for the driver tests: the real Application, long-polling the local Bot API over HTTP,
on a SQLite copy with the sample municipalities and closures, and an injected clock. Also: the sample
services without a bot, and ``serve_asgi`` to run a web app under uvicorn on a free port."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.localapi import ApiCall, FakeUser, LocalBotApi
from bot.services import Services
from bot.web.serving import WebServer
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


@pytest.fixture
def sample_services(tmp_path: Path, sqlite_template: Path, clock: FakeClock) -> Iterator[Services]:
    """Services (no bot token) on a SQLite copy with the sample data, times relative to ``clock``."""
    database = tmp_path / "web.sqlite"
    shutil.copyfile(sqlite_template, database)
    settings = Settings(_env_file=None, database_url=f"sqlite:///{database}")  # type: ignore[call-arg]
    services = Services.build(settings, clock=clock)
    load_sample_data(services)
    yield services
    services.close()


@pytest.fixture
async def serve_asgi() -> AsyncIterator[Callable[[ASGIApp], Awaitable[WebServer]]]:
    """``await serve_asgi(app)``: the app under uvicorn on 127.0.0.1 (a free port), ready; stopped after."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(app: ASGIApp) -> WebServer:
            return await stack.enter_async_context(WebServer(app, "127.0.0.1", 0))

        yield start
