"""The handler groups the bot is built with: PTB runs only the first matching handler of each group, so the
handlers that must see every update (the conversation sync before and after the flows) stand alone."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler, TypeHandler

from bot.handlers import conversation_sync
from tests.bot.conftest import RunningBot


async def test_the_conversation_sync_is_alone_in_its_groups(running_bot: RunningBot):
    groups = running_bot.app.handlers
    for group in (conversation_sync.BEFORE_GROUP, conversation_sync.AFTER_GROUP):
        [handler] = groups[group]  # anything beside it would take some updates before it could see them
        assert isinstance(handler, TypeHandler)
        assert handler.type is Update


async def test_the_conversations_come_between_the_syncs_before_and_after(running_bot: RunningBot):
    groups = running_bot.app.handlers
    with_conversations = [
        g for g, hs in groups.items() if any(isinstance(h, ConversationHandler) for h in hs)
    ]
    assert with_conversations
    assert min(with_conversations) > conversation_sync.BEFORE_GROUP
    assert max(with_conversations) < conversation_sync.AFTER_GROUP
