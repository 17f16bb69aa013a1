"""A running bot with staff: the real Application polling the local Bot API, over a SQLite copy with Riyadh,
Jeddah and the sample closures; one settings admin, staff of each city, and a stranger."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from bot.app import build_application
from bot.config import Settings
from bot.localapi import ApiCall, FakeUser, LocalBotApi
from bot.services import Services
from bot.services.throttle import FloodControl
from closures.models import Closure, ClosureEvent, OutboxItem
from closures.service import Actor
from closures.store import session_scope
from tests.bot.conftest import RunningBot, bot_settings, load_sample_data
from tests.conftest import FakeClock
from tests.fakes.x_api import LocalXApi

ADMIN = FakeUser(9001, first_name="مشرف", language_code="ar")  # an admin from the settings
RIYADH = FakeUser(7001, first_name="أحمد", language_code="ar")  # staff of Riyadh, writes in Arabic
RIYADH_EN = FakeUser(7002, first_name="Sara", language_code="en")  # staff of Riyadh, writes in English
RIYADH_ADMIN = FakeUser(7003, first_name="Noura", language_code="en")  # admin of Riyadh (a staff row)
JEDDAH = FakeUser(8001, first_name="خالد", language_code="ar")  # staff of Jeddah
STRANGER = FakeUser(6001, first_name="Someone", language_code="en")

# Two points on King Fahd Road, Riyadh, and a third beside them (lat, lon).
KING_FAHD = [(24.7000, 46.6800), (24.7100, 46.6750)]
BESIDE = (24.7050, 46.6900)
JEDDAH_POINT = (21.5400, 39.1700)


@dataclass
class StaffBot(RunningBot):
    settings: Settings

    async def say(self, user: FakeUser, text: str) -> ApiCall:
        """The user sends text; the bot's next message to them."""
        return await self.ask(user, text)

    async def press(self, user: FakeUser, message: ApiCall, data: str) -> ApiCall:
        """The user taps a button under ``message``; the bot's next message to them."""
        since = len(self.api.calls)
        self.api.user_presses_button(user, message, data)
        return await self.reply_to(user, since=since)

    async def edit(self, user: FakeUser, closure_id: int) -> ApiCall:
        """``/edit ID``: after "Editing closure #ID", the menu of fields."""
        since = len(self.api.calls)
        self.api.user_sends_text(user, f"/edit {closure_id}")
        calls = await self.api.wait_for_count(
            lambda c: c.method == "sendMessage" and c.chat_id == user.id, 2, since=since
        )
        return calls[1]

    async def upload(self, user: FakeUser, content: bytes, name: str) -> ApiCall:
        since = len(self.api.calls)
        self.api.user_sends_document(user, content, name)
        return await self.reply_to(user, since=since)

    async def to_preview(self, user: FakeUser, question: ApiCall, *, end: str = "3h") -> ApiCall:
        """From the reason question to the preview with the quickest answers; the preview message."""
        answer = await self.press(user, question, "sr:roadworks")
        for data in ("ss:full", "sd:both", "st:now"):
            answer = await self.press(user, answer, data)
        answer = await self.say(user, end)
        for data in ("sx:skip", "ta:use"):
            answer = await self.press(user, answer, data)
        return await self.press(user, answer, "te:skip")

    def count(self, table: Any, *where: Any) -> int:
        with session_scope(self.services.engine) as session:
            return int(session.exec(select(func.count()).select_from(table).where(*where)).one())

    def closure(self, closure_id: int) -> Closure:
        return self.services.closures.get(closure_id)

    def newest(self) -> Closure:
        with session_scope(self.services.engine) as session:
            return session.exec(select(Closure).order_by(Closure.id.desc())).first()  # type: ignore[union-attr]

    def writes(self) -> tuple[int, int, int]:
        """Closures, audit events and outbox rows in the store: to show that nothing was written."""
        return self.count(Closure), self.count(ClosureEvent), self.count(OutboxItem)

    async def stop(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()

    async def restart(self) -> None:
        """Stop the Application and start a new one, with new services, on the same database."""
        await self.stop()
        self.services = _services(self.settings, self.clock)
        self.app = build_application(self.services, rate_limit=False)
        await _start(self)


def _services(settings: Settings, clock: FakeClock) -> Services:
    services = Services.build(settings, clock=clock)
    # an operator taps quickly, a test quicker still: flood control has its own tests
    services.flood = FloodControl(rate_per_s=1_000.0, burst=1_000)
    return services


async def _start(bot: StaffBot) -> None:
    await bot.app.initialize()
    await bot.app.start()
    assert bot.app.updater is not None
    await bot.app.updater.start_polling(poll_interval=0, timeout=1)


@pytest.fixture
async def staff_bot(
    bot_api: LocalBotApi,
    tmp_path: Path,
    sqlite_template: Path,
    clock: FakeClock,
    bot_overrides: dict[str, Any],
) -> AsyncIterator[StaffBot]:
    database = tmp_path / "bot.sqlite"
    shutil.copyfile(sqlite_template, database)
    settings = bot_settings(bot_api, database, admin_user_ids=(ADMIN.id,), **bot_overrides)
    services = _services(settings, clock)
    load_sample_data(services)
    system = Actor.system("test")
    for user, slug, role in [(RIYADH, "riyadh", "staff"), (RIYADH_EN, "riyadh", "staff"),
                             (RIYADH_ADMIN, "riyadh", "admin"), (JEDDAH, "jeddah", "staff")]:  # fmt: skip
        services.staff.add(slug, user.id, role, actor=system, name=user.first_name)
    bot = StaffBot(build_application(services, rate_limit=False), bot_api, services, clock, settings)
    await _start(bot)
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def x_api() -> AsyncIterator[LocalXApi]:
    """The local X API, for staff tests that post to X (``X_API_BASE_URL`` set to its ``base_url``)."""
    async with LocalXApi() as api:
        yield api
