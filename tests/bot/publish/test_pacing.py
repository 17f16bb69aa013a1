"""The gate every Bot API request passes: Telegram's limits as the local Bot API counts what arrives.

Real PTB ``ExtBot`` objects with the gate as their rate limiter, real HTTP to the local server; the rates
are what the server saw (per wall-clock second, overall and per chat). These tests take real seconds: a
limit is a matter of time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.publish.gate import TelegramGate, paced, posts
from bot.publish.intent import OutboxSend, sending
from bot.publish.pacing import Pacer
from closures.sendrate import LocalSlots, SharedSlots, granted


def gated_bot(api, pacer: Pacer, **gate_options) -> ExtBot[None]:
    request = HTTPXRequest(connection_pool_size=64, read_timeout=10, write_timeout=10)
    gate = TelegramGate(pacer, **gate_options)
    return ExtBot(api.token, base_url=api.base_url, request=request, rate_limiter=gate)


def outbox_send() -> OutboxSend:
    """A send as the worker makes it, whose intent is always granted (no database here)."""

    async def record():
        return datetime.now(UTC)

    async def nothing(*_args):
        return None

    return OutboxSend(record, nothing, nothing)


async def broadcast(bot, chats, text="flood") -> None:
    async def one(chat):
        with sending(outbox_send()):
            await bot.send_message(chat, text)

    await asyncio.gather(*(one(chat) for chat in chats))


def test_which_requests_count_against_the_limits():
    assert [posts(m) for m in ("sendMessage", "sendPhoto", "copyMessage", "forwardMessages")] == [True] * 4
    assert [posts(m) for m in ("sendChatAction", "editMessageText", "getMe")] == [False] * 3
    assert [paced(m) for m in ("editMessageCaption", "answerCallbackQuery", "setMyCommands")] == [
        True, False, False
    ]  # fmt: skip


def test_a_reservation_grants_what_is_left_of_the_second():
    slots = LocalSlots()
    assert [slots.reserve(100, 8, 20, now=100.0).count for _ in range(3)] == [8, 8, 4]
    assert slots.reserve(100, 8, 20, now=100.5).count == 0
    assert slots.reserve(101, 8, 20, now=101.0).first == 0
    slots.pause(105.0)
    assert slots.reserve(102, 8, 20, now=102.0).paused_until == 105.0
    assert granted(25, 8, 20) == (17, 3)


async def test_a_broadcast_never_exceeds_the_overall_limit_in_any_second(bot_api):
    async with gated_bot(bot_api, Pacer(rate=20, chat_rate=1)) as bot:
        started = time.monotonic()
        await broadcast(bot, range(1000, 1050))
        took = time.monotonic() - started
    rates = bot_api.rates()
    assert rates.messages == 50
    assert rates.max_per_second <= 20
    assert took >= 1.5  # 50 at 20 a second cannot go out in less than two seconds and a half, give or take


async def test_messages_to_one_chat_leave_at_most_one_a_second(bot_api):
    async with gated_bot(bot_api, Pacer(rate=30, chat_rate=2)) as bot:
        await broadcast(bot, [42] * 4 + [43] * 2)
    rates = bot_api.rates()
    assert rates.messages == 6
    # 2 a second: half a second apart as they leave; as the server's clock sees them arrive, give or take
    # the jitter of a loaded machine
    assert rates.min_chat_gap_s >= 0.4
    assert rates.max_per_chat_second <= 2


async def test_a_group_or_channel_gets_at_most_its_share_a_minute(bot_api):
    async with gated_bot(
        bot_api, Pacer(rate=30, chat_rate=20, group_per_minute=3, group_window_s=2.0)
    ) as bot:
        started = time.monotonic()
        await broadcast(bot, ["@riyadh_roads"] * 4 + [-100123] * 2 + [42] * 4)
        took = time.monotonic() - started
    sent = {chat: [c.wall for c in bot_api.sent(chat)] for chat in ("@riyadh_roads", -100123, 42)}
    assert [len(times) for times in sent.values()] == [4, 2, 4]
    channel = sorted(sent["@riyadh_roads"])
    assert channel[3] - channel[0] >= 1.8  # the fourth in a "minute" waited for the first to be that old
    assert channel[2] - channel[0] < 1.0  # three went at the chat's own pace
    assert took >= 1.8
    assert max(sent[42]) - min(sent[42]) < 1.0  # a private chat: only its own pace (20 a second here)


async def test_a_429_pauses_every_send_of_the_bot_not_only_the_refused_one(bot_api):
    bot_api.fail_next("sendMessage", status=429, retry_after=3, after=5)
    pacer = Pacer(rate=10, chat_rate=1)  # unpaused, the 24 after the 429 would go out within 2.4 s
    async with gated_bot(bot_api, pacer) as bot:

        async def one(chat):
            with sending(outbox_send()):
                try:
                    await bot.send_message(chat, "flood")
                except RetryAfter:
                    return "refused"
            return "sent"

        outcomes = await asyncio.gather(*(one(chat) for chat in range(2000, 2030)))
    assert outcomes.count("refused") == 1  # the outbox send is handed back to the worker, not retried here
    paused_at = pacer.paused_until - 3  # when the bot read the 429
    # a send that left before the 429 was read still lands (late, on a loaded machine); none leaves during
    # the pause
    during = [c.wall - paused_at for c in bot_api.calls if c.ok and 0.6 < c.wall - paused_at < 2.95]
    assert during == []
    assert len(bot_api.sent(method="sendMessage")) == 29


async def test_a_reply_to_a_person_goes_before_the_queued_broadcast(bot_api):
    async with gated_bot(bot_api, Pacer(rate=10, chat_rate=1)) as bot:
        flood = asyncio.create_task(broadcast(bot, range(6000, 6030)))  # three seconds' worth at 10 a second
        await bot_api.wait_for_count(lambda c: c.method == "sendMessage", 3)
        await bot.send_message(77, "your closures")
        position = [c.chat_id for c in bot_api.sent(method="sendMessage")].index(77)
        await flood
    assert position <= 10  # the next free slot (a few were already on their way), not after the rest


async def test_a_reply_to_a_person_is_retried_after_the_pause_by_the_gate_itself(bot_api):
    bot_api.fail_next("sendMessage", status=429, retry_after=1)
    async with gated_bot(bot_api, Pacer(rate=30, chat_rate=1)) as bot:
        message = await bot.send_message(77, "your closures")  # no outbox send around it: a reply
    assert message.text == "your closures"
    assert [c.ok for c in bot_api.calls if c.method == "sendMessage"] == [False, True]


async def test_paid_broadcast_marks_the_outbox_sends_and_never_the_replies(bot_api):
    async with gated_bot(bot_api, Pacer(rate=1000, chat_rate=1), paid_broadcast=True) as bot:
        await broadcast(bot, range(3000, 3020))
        await bot.send_message(77, "a reply")
    assert bot_api.rates().paid_broadcast == 20
    reply = bot_api.sent(77)[0]
    assert "allow_paid_broadcast" not in reply.params


@pytest.mark.postgres
async def test_two_pacers_sharing_postgresql_keep_one_limit_together(bot_api, postgres_database):
    from closures.store import make_engine

    engine = make_engine(postgres_database)
    try:
        a, b = (gated_bot(bot_api, Pacer(SharedSlots(engine, "pacing-test"), rate=20)) for _ in range(2))
        async with a, b:
            await asyncio.gather(broadcast(a, range(4000, 4030)), broadcast(b, range(5000, 5030)))
    finally:
        engine.dispose()
    rates = bot_api.rates()
    assert rates.messages == 60
    assert rates.max_per_second <= 20  # alone, each would have sent 20 a second: together, 20


def test_the_settings_choose_the_limits_and_where_they_are_counted(engine):
    from bot.config import Settings
    from bot.publish.gate import gate_for

    plain = gate_for(Settings(_env_file=None), engine)  # type: ignore[call-arg]
    paid = gate_for(Settings(_env_file=None, telegram_paid_broadcast=True), engine)  # type: ignore[call-arg]
    tuned = gate_for(
        Settings(_env_file=None, telegram_rate_msg_s=12, telegram_chat_rate_msg_s=0.5),  # type: ignore[call-arg]
        engine,
    )
    assert (plain.pacer.rate, plain.pacer.chat_gap, plain.paid_broadcast) == (30.0, 1.0, False)
    assert (paid.pacer.rate, paid.paid_broadcast) == (1000.0, True)
    assert (tuned.pacer.rate, tuned.pacer.chat_gap) == (12, 2.0)
    shared = engine.dialect.name == "postgresql"  # several processes share one budget there
    assert isinstance(plain.pacer.slots, SharedSlots if shared else LocalSlots)
