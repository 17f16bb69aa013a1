"""Pinning: ``pinChatMessage``, ``unpinChatMessage`` and ``unpinAllChatMessages``, answered like Telegram.

A chat keeps several pinned messages, newest last; ``pinned(chat)`` lets a test read them. Pinning a
message the chat does not hold is ``400 message to pin not found``; unpinning without ``message_id`` takes
the newest pin off.
"""

from __future__ import annotations

from bot.localapi.state import JSON, ApiState, ChatId, bad_request


class PinMethods(ApiState):
    def __init__(self, token: str, bot_username: str) -> None:
        super().__init__(token, bot_username)
        self._pins: dict[int, list[int]] = {}

    def pinned(self, chat_id: ChatId) -> list[int]:
        """The ids of the chat's pinned messages, oldest pin first."""
        return list(self._pins.get(self.chat_for(chat_id)["id"], []))

    def _api_pinChatMessage(self, p: JSON) -> bool:
        chat = self.chat_for(p.get("chat_id") or "")
        message = self.find_message(chat["id"], p.get("message_id"), "message to pin not found")
        pins = self._pins.setdefault(chat["id"], [])
        if message["message_id"] in pins:
            pins.remove(message["message_id"])
        pins.append(message["message_id"])
        return True

    def _api_unpinChatMessage(self, p: JSON) -> bool:
        chat = self.chat_for(p.get("chat_id") or "")
        pins = self._pins.get(chat["id"], [])
        if p.get("message_id") in (None, ""):
            if pins:
                pins.pop()
            return True
        message = self.find_message(chat["id"], p.get("message_id"), "message to unpin not found")
        if message["message_id"] in pins:
            pins.remove(message["message_id"])
        return True

    def _api_unpinAllChatMessages(self, p: JSON) -> bool:
        chat = self.chat_for(p.get("chat_id") or "")
        if not p.get("chat_id"):
            raise bad_request("chat_id is empty")
        self._pins.pop(chat["id"], None)
        return True
