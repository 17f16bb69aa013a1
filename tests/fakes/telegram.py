"""The local Telegram Bot API for tests: the server class and a ``bot_api`` fixture.

Use it from a test module with ``pytest_plugins = ["tests.fakes.telegram"]`` (or from the root conftest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.localapi import ApiCall, FakeUser, LocalBotApi, Upload

__all__ = ["ApiCall", "FakeUser", "LocalBotApi", "Upload", "bot_api", "driver"]


@pytest.fixture
async def bot_api() -> AsyncIterator[LocalBotApi]:
    """A running local Bot API on 127.0.0.1 (a free port), stopped after the test."""
    async with LocalBotApi() as api:
        yield api


@pytest.fixture
def driver() -> FakeUser:
    """A driver who writes in Arabic."""
    return FakeUser(424242, first_name="سائق", language_code="ar")
