"""The local Bot API's memory: chats, messages, files and the queue of updates.

Everything is kept as Bot API JSON (plain dicts), exactly what goes over the wire, so PTB's ``de_json``
reads it as it reads Telegram's answers.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
ChatId = int | str


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded in a multipart request."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class StoredFile:
    """A file the server can serve: ``GET {base_file_url}{token}/{file_path}``."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes

    def as_file(self) -> JSON:
        """The Bot API ``File`` object for ``getFile``."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


class ApiError(Exception):
    """A refusal in Telegram's shape: HTTP status = ``error_code``, plus a description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


class ApiState:
    """Chats, stored messages (per chat, increasing ids), files, pending updates and blocked users."""

    def __init__(self, token: str, bot_username: str) -> None:
        bot_id, colon, secret = token.partition(":")
        if not (bot_id.isdigit() and colon and secret):
            raise ValueError(f"a bot token looks like '123456:SECRET', not {token!r}")
        self.token = token
        self.bot_user: JSON = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": "Road closures (local)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._chats: dict[int, JSON] = {}
        self._aliases: dict[str, int] = {}  # "@channel" → chat id
        self._messages: dict[int, dict[int, JSON]] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._blocked: set[int] = set()
        self._open_queries: set[str] = set()
        self._serial = itertools.count(1)
        self._updates: list[JSON] = []
        self._last_update_id = 0
        self._updates_event = asyncio.Event()

    # chats -------------------------------------------------------------------------------------
    def chat_for(self, chat_id: ChatId) -> JSON:
        """The chat ``chat_id`` names (an id, a numeric string or ``@username``), made up if unseen."""
        if isinstance(chat_id, str):
            if chat_id.lstrip("-").isdigit():
                chat_id = int(chat_id)
            elif chat_id.startswith("@"):
                if chat_id not in self._aliases:
                    self._aliases[chat_id] = -1_000_000_000_000 - next(self._serial)
                    channel = {"id": self._aliases[chat_id], "type": "channel", "title": chat_id}
                    self.register_chat(channel | {"username": chat_id[1:]})
                chat_id = self._aliases[chat_id]
            else:
                raise bad_request("chat not found")
        if chat_id not in self._chats:
            if chat_id > 0:
                self.register_chat({"id": chat_id, "type": "private", "first_name": f"User {chat_id}"})
            else:
                self.register_chat({"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"})
        return self._chats[chat_id]

    def known_chat(self, chat_id: ChatId) -> JSON:
        """The chat ``chat_id`` names if the bot has seen it (a user wrote to it, a channel was posted to).

        Telegram answers 400 "chat not found" for a chat the bot has never been in, e.g. a person who
        never opened a chat with it; ``chat_for`` is lenient and makes such chats up for sending.
        """
        key = self._aliases.get(chat_id) if isinstance(chat_id, str) and chat_id.startswith("@") else chat_id
        try:
            return self._chats[int(key)]  # type: ignore[arg-type]  # None or junk: TypeError, caught below
        except (KeyError, TypeError, ValueError):
            raise bad_request("chat not found") from None

    def register_chat(self, chat: JSON) -> JSON:
        self._chats[chat["id"]] = chat
        return chat

    # messages ----------------------------------------------------------------------------------
    def store_message(self, chat: JSON, sender: JSON | None, content: JSON) -> JSON:
        """Give ``content`` the chat's next message id, store it and return the stored dict."""
        key = chat["id"]
        message_id = self._last_message_id.get(key, 0) + 1
        self._last_message_id[key] = message_id
        message: JSON = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if sender is not None:
            message["from"] = sender
        elif chat["type"] == "channel":
            message["sender_chat"] = chat
        message.update(content)
        self._messages.setdefault(key, {})[message_id] = message
        return message

    def find_message(self, chat_id: ChatId, message_id: object, missing: str) -> JSON:
        """The stored message, or ``400 Bad Request: {missing}`` like Telegram."""
        chat = self.chat_for(chat_id)
        try:
            return self._messages.get(chat["id"], {})[int(message_id)]  # type: ignore[call-overload]  # as above
        except (KeyError, TypeError, ValueError):
            raise bad_request(missing) from None

    def forget_message(self, chat_id: int, message_id: int) -> None:
        del self._messages[chat_id][message_id]

    def messages(self, chat_id: ChatId) -> list[JSON]:
        """Every message still in the chat (the user's and the bot's), oldest first, as copies."""
        stored = self._messages.get(self.chat_for(chat_id)["id"], {})
        return [copy.deepcopy(stored[key]) for key in sorted(stored)]

    # files -------------------------------------------------------------------------------------
    def store_file(self, content: bytes, *, folder: str, suffix: str = "") -> StoredFile:
        n = next(self._serial)
        stored = StoredFile(
            file_id=f"LOCAL-{folder}-{n:06d}-{self.bot_user['id']}",
            file_unique_id=f"U{n:06d}",
            file_path=f"{folder}/file_{n}{suffix}",
            content=content,
        )
        self._files[stored.file_id] = stored
        return stored

    def file_by_id(self, file_id: object) -> StoredFile:
        try:
            return self._files[str(file_id)]
        except KeyError:
            raise bad_request("invalid file_id") from None

    def file_by_path(self, file_path: str) -> StoredFile | None:
        return next((f for f in self._files.values() if f.file_path == file_path), None)

    # updates -----------------------------------------------------------------------------------
    def queue_update(self, kind: str, payload: JSON) -> JSON:
        """Queue ``{"update_id": n, kind: payload}`` (a snapshot) and wake a waiting getUpdates."""
        self._last_update_id += 1
        update = {"update_id": self._last_update_id, kind: copy.deepcopy(payload)}
        self._updates.append(update)
        self._updates_event.set()
        return copy.deepcopy(update)

    def updates_pending(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates ``offset``."""
        return len(self._updates)
