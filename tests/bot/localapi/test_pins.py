"""Pinning on the local Bot API, through a real PTB Bot: pin, unpin one or the newest, unpin all."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import BadRequest

CHANNEL = "@riyadh_roads"


@pytest.fixture
async def bot(bot_api):
    async with Bot(bot_api.token, base_url=bot_api.base_url) as bot:
        yield bot


async def test_pins_stack_newest_last_and_come_off_one_by_one(bot_api, bot):
    first = await bot.send_message(CHANNEL, "one")
    second = await bot.send_message(CHANNEL, "two")

    assert await bot.pin_chat_message(CHANNEL, first.message_id, disable_notification=True)
    assert await bot.pin_chat_message(CHANNEL, second.message_id)
    assert bot_api.pinned(CHANNEL) == [first.message_id, second.message_id]

    assert await bot.unpin_chat_message(CHANNEL, first.message_id)
    assert bot_api.pinned(CHANNEL) == [second.message_id]
    assert await bot.unpin_chat_message(CHANNEL)  # no id: the newest pin
    assert bot_api.pinned(CHANNEL) == []


async def test_pinning_a_message_the_chat_does_not_hold_is_refused(bot_api, bot):
    await bot.send_message(CHANNEL, "one")
    with pytest.raises(BadRequest, match=r"(?i)message to pin not found"):
        await bot.pin_chat_message(CHANNEL, 999)
    with pytest.raises(BadRequest, match=r"(?i)message to unpin not found"):
        await bot.unpin_chat_message(CHANNEL, 999)


async def test_unpin_all_clears_the_chats_pins(bot_api, bot):
    for text in ("one", "two"):
        message = await bot.send_message(CHANNEL, text)
        await bot.pin_chat_message(CHANNEL, message.message_id)
    assert await bot.unpin_all_chat_messages(CHANNEL)
    assert bot_api.pinned(CHANNEL) == []
