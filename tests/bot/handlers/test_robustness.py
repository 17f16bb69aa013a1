"""A stranger's bad input, groups, floods, a failing store and a refusing Telegram: a helpful reply or a
deliberate silence, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from telegram.error import RetryAfter

from bot.app import build_application
from bot.context import BotApplication
from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from bot.services.throttle import FloodControl
from closures.drivers import DriverDirectory
from closures.queries import ClosureQueries
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import (
    KINGDOM_CENTRE,
    assert_arabic_numerals,
    closures_near,
    header,
    listed,
    settle,
)
from tests.bot.handlers.test_start import greeting

LANGS = pytest.mark.parametrize("lang", ["ar", "en"])
GROUP = {"id": -100_777, "type": "supergroup", "title": "Riyadh commuters"}
# PTB itself warns when it builds a RetryAfter from Telegram's integer seconds.
RETRY_AFTER_INT = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


def to_chat(bot: RunningBot, chat_id: int, since: int) -> list[ApiCall]:
    return [c for c in bot.api.calls[since:] if c.method == "sendMessage" and c.chat_id == chat_id]


def is_nearby_list(call: ApiCall) -> bool:
    return len(listed(call.text or "")) == len(closures_near(*KINGDOM_CENTRE, 5_000))


@LANGS
async def test_unreadable_input_gets_a_helpful_reply_in_the_users_language(
    running_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    user = FakeUser(601, language_code=lang)

    # Not a location, and no geocoder in these tests to look it up as a place name.
    assert (await running_bot.ask(user, "where is the traffic?")).text == tr.t("geocode.off")
    assert (await running_bot.ask(user, "طريق " * 800)).text == tr.t("input.too_long")  # 4,000 characters
    assert (await running_bot.ask(user, "/teleport")).text == tr.t("help.text")
    assert (await running_bot.ask(user, "95, 46.67")).text == tr.t("geo.lat_out_of_range")
    since = len(running_bot.api.calls)
    running_bot.api.user_sends_sticker(user)
    assert (await running_bot.reply_to(user, since=since)).text == tr.t("input.unreadable")

    texts = [c.text or "" for c in running_bot.api.sent(user.id)]
    assert not any("Traceback" in text for text in texts)
    if lang == "ar":
        assert_arabic_numerals(tr.t("geo.lat_out_of_range"))
        assert_arabic_numerals(tr.t("input.unreadable"))


async def test_in_a_group_only_commands_naming_the_bot_are_answered(running_bot: RunningBot) -> None:
    user = FakeUser(602, language_code="en")
    en = get_translator("en")
    since = len(running_bot.api.calls)
    for text in ("/start", "/radius 2", "24.7114, 46.6744", "hello"):
        running_bot.api.user_sends_text(user, text, chat=GROUP)

    running_bot.api.user_sends_text(user, "/start@roadclosure_test_bot", chat=GROUP)
    answer = await running_bot.api.wait_for(lambda c: c.chat_id == GROUP["id"], since=since)
    await settle(running_bot)

    assert answer.ok
    assert answer.text == greeting(en)
    assert "reply_markup" not in answer.params  # a location button is refused outside private chats
    assert to_chat(running_bot, GROUP["id"], since) == [answer]
    assert running_bot.services.drivers.profile(user.id).radius_m is None


async def test_flood_control_throttles_one_user_and_not_the_others(running_bot: RunningBot) -> None:
    clock = running_bot.clock
    burst = 8
    running_bot.services.flood = FloodControl(rate_per_s=2.0, burst=burst, clock=lambda: clock().timestamp())
    flooder, other = FakeUser(603, language_code="en"), FakeUser(604, language_code="ar")
    since = len(running_bot.api.calls)

    for i in range(20):
        running_bot.api.user_sends_location(flooder, *KINGDOM_CENTRE)
        if i == 9:
            running_bot.api.user_sends_location(other, *KINGDOM_CENTRE)
    await settle(running_bot)

    to_flooder = to_chat(running_bot, flooder.id, since)
    slow_down = [c for c in to_flooder if c.text == get_translator("en").t("flood.slow_down")]
    assert len(slow_down) == 1
    assert len(to_flooder) == burst + 1
    assert all(is_nearby_list(c) for c in to_flooder if c not in slow_down)
    (to_other,) = to_chat(running_bot, other.id, since)
    assert is_nearby_list(to_other)

    clock.advance(timedelta(seconds=10))  # tokens come back with time
    assert is_nearby_list(await running_bot.send_location(flooder, *KINGDOM_CENTRE))


def _broken_engine(tmp_path: Path) -> sa.Engine:
    """An engine on a database file in a directory that does not exist: every connection fails."""
    return sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'roadbot.sqlite'}")


@LANGS
async def test_a_failing_store_gets_an_apology_in_the_users_language(
    running_bot: RunningBot, lang: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = FakeUser(605, language_code=lang)
    running_bot.services.queries = ClosureQueries(_broken_engine(tmp_path), clock=running_bot.clock)
    since = len(running_bot.api.calls)

    with caplog.at_level(logging.ERROR, logger="bot.handlers.guards"):
        answer = await running_bot.send_location(user, *KINGDOM_CENTRE)
        await settle(running_bot)

    assert answer.text == get_translator(lang).t("error.generic")
    assert to_chat(running_bot, user.id, since) == [answer]
    (record,) = [r for r in caplog.records if r.name == "bot.handlers.guards"]
    assert f"(user {user.id})" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], sa.exc.OperationalError)


async def test_when_the_users_profile_cannot_be_read_the_apology_is_in_the_default_language(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    user = FakeUser(606, language_code="en")
    running_bot.services.drivers = DriverDirectory(_broken_engine(tmp_path), clock=running_bot.clock)

    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)

    assert answer.text == get_translator("ar").t("error.generic")


@RETRY_AFTER_INT
async def test_telegram_429_without_the_rate_limiter_loses_the_answer_and_apologises(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the gate (the tests' ``rate_limit=False``) PTB raises ``RetryAfter`` in the handler:
    the error handler logs it and sends the apology (Telegram accepts that second message here), and the
    list of closures is not sent again."""
    user = FakeUser(607, language_code="en")
    running_bot.api.fail_next("sendMessage", status=429, retry_after=1)
    since = len(running_bot.api.calls)

    with caplog.at_level(logging.ERROR, logger="bot.handlers.guards"):
        running_bot.api.user_sends_location(user, *KINGDOM_CENTRE)
        refused, apology = await running_bot.api.wait_for_count(
            lambda c: c.chat_id == user.id, 2, since=since
        )
        await settle(running_bot)

    assert refused.error == {
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert header(refused.text or "").startswith("<b>")  # it was the list of closures
    assert apology.ok
    assert apology.text == get_translator("en").t("error.generic")
    assert [c for c in running_bot.api.calls[since:] if c.chat_id == user.id] == [refused, apology]
    (record,) = [r for r in caplog.records if r.name == "bot.handlers.guards"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RetryAfter)


@asynccontextmanager
async def polling(app: BotApplication) -> AsyncIterator[BotApplication]:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@RETRY_AFTER_INT
async def test_telegram_429_with_the_rate_limiter_is_retried_after_the_wait(running_bot: RunningBot) -> None:
    """In production (``rate_limit=True``) the gate pauses for ``retry_after`` and sends the answer again."""
    user = FakeUser(608, language_code="en")
    assert running_bot.app.updater is not None
    await running_bot.app.updater.stop()  # one poller at a time on the local Bot API
    try:
        async with polling(build_application(running_bot.services, rate_limit=True)):
            running_bot.api.fail_next("sendMessage", status=429, retry_after=1)
            since = len(running_bot.api.calls)
            running_bot.api.user_sends_location(user, *KINGDOM_CENTRE)
            refused, answer = await running_bot.api.wait_for_count(
                lambda c: c.chat_id == user.id, 2, timeout=10, since=since
            )
    finally:
        await running_bot.app.updater.start_polling(poll_interval=0, timeout=1)

    assert refused.error is not None
    assert refused.error["error_code"] == 429
    assert answer.ok
    assert is_nearby_list(answer)
    assert answer.at - refused.at >= 1.0


async def test_a_point_across_the_world_after_a_riyadh_point_is_a_new_question_not_a_route(
    running_bot: RunningBot,
) -> None:
    user = FakeUser(9801, language_code="en")
    en = get_translator("en")
    await running_bot.send_location(user, 24.7114, 46.6744)
    running_bot.clock.advance(timedelta(minutes=2))

    reply = await running_bot.send_location(user, 0.0, 0.0)

    assert reply.text == en.t("location.outside")
