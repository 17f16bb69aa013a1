"""Simulated Telegram users: each action stores the user's message and queues the update Telegram sends.

Opening a Mini App sends the bot nothing: ``user_opens_web_app`` returns what Telegram hands the page.

Every ``user_*`` method returns the Update dict it queued (with its ``update_id`` and the message's
``message_id``), so a test can refer back to it, e.g. to edit a live location it started.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

from bot.localapi.html import utf16_length
from bot.localapi.state import JSON, ApiState
from bot.localapi.webapps import WebAppLaunch, launch


@dataclass(frozen=True)
class FakeUser:
    """A person talking to the bot; their private chat has the same id."""

    id: int
    first_name: str = "Driver"
    language_code: str | None = "ar"
    username: str | None = None

    def as_user(self) -> JSON:
        """The Bot API ``User`` object."""
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def as_private_chat(self) -> JSON:
        """The Bot API ``Chat`` object of the user's private chat with the bot."""
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat


def _location(lat: float, lon: float, **optional: float | None) -> JSON:
    location: JSON = {"latitude": lat, "longitude": lon}
    location.update({key: value for key, value in optional.items() if value is not None})
    return location


class SimulatedUsers(ApiState):
    """``user_*`` actions; they need no running server, only the state."""

    def _user_message(self, user: FakeUser, content: JSON, *, chat: JSON | None = None) -> JSON:
        chat = self.register_chat(chat or user.as_private_chat())
        message = self.store_message(chat, user.as_user(), content)
        return self.queue_update("message", message)

    def user_sends_text(self, user: FakeUser, text: str, *, chat: JSON | None = None) -> JSON:
        """A text message; a leading ``/command`` (or ``/command@bot``) gets its bot_command entity."""
        content: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]
        return self._user_message(user, content, chat=chat)

    def user_sends_in_group(self, user: FakeUser, group_chat_id: int, text: str) -> JSON:
        """A text message in a supergroup the bot is in."""
        known = self._chats.get(group_chat_id)
        group = known or {"id": group_chat_id, "type": "supergroup", "title": f"Group {group_chat_id}"}
        return self.user_sends_text(user, text, chat=group)

    def user_sends_location(
        self,
        user: FakeUser,
        lat: float,
        lon: float,
        *,
        live_period: int | None = None,
        heading: int | None = None,
        horizontal_accuracy: float | None = None,
    ) -> JSON:
        """A location pin; with ``live_period`` (seconds) it is a live location the user may move."""
        location = _location(
            lat, lon, live_period=live_period, heading=heading, horizontal_accuracy=horizontal_accuracy
        )
        return self._user_message(user, {"location": location})

    def _edit_user_location(self, user: FakeUser, message_id: int, location: JSON) -> JSON:
        message = self._messages.get(user.id, {}).get(message_id)
        if message is None or "live_period" not in message.get("location", {}):
            raise ValueError(f"message {message_id} in chat {user.id} is not a live location being shared")
        message["location"] = location
        message["edit_date"] = int(time.time())
        return self.queue_update("edited_message", message)

    def user_edits_live_location(
        self, user: FakeUser, message_id: int, lat: float, lon: float, *, heading: int | None = None
    ) -> JSON:
        """The live location of ``message_id`` moves: an ``edited_message`` update."""
        old = self._messages.get(user.id, {}).get(message_id, {}).get("location", {})
        location = _location(lat, lon, live_period=old.get("live_period"), heading=heading)
        return self._edit_user_location(user, message_id, location)

    def user_stops_live_location(self, user: FakeUser, message_id: int) -> JSON:
        """The user stops sharing: an ``edited_message`` whose location has no ``live_period``."""
        old = self._messages.get(user.id, {}).get(message_id, {}).get("location", {})
        if "live_period" not in old:
            raise ValueError(f"message {message_id} in chat {user.id} is not a live location being shared")
        return self._edit_user_location(user, message_id, _location(old["latitude"], old["longitude"]))

    def user_sends_venue(self, user: FakeUser, lat: float, lon: float, title: str, address: str) -> JSON:
        """A venue (a named place picked from the map); it carries a location too."""
        location = _location(lat, lon)
        return self._user_message(
            user, {"venue": {"location": location, "title": title, "address": address}, "location": location}
        )

    def user_sends_document(
        self, user: FakeUser, content: bytes, file_name: str, mime_type: str = "application/octet-stream"
    ) -> JSON:
        """A file; the bot can ``getFile`` it and download exactly ``content``."""
        suffix = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        stored = self.store_file(content, folder="documents", suffix=suffix)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        return self._user_message(user, {"document": document})

    def user_sends_sticker(self, user: FakeUser, emoji: str = "👍") -> JSON:
        """A sticker: something the bot does not understand."""
        stored = self.store_file(b"RIFF\x00\x00\x00\x00WEBP", folder="stickers", suffix=".webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.content),
        }
        return self._user_message(user, {"sticker": sticker})

    def user_presses_button(self, user: FakeUser, message: object, callback_data: str) -> JSON:
        """The user taps button ``callback_data`` under a bot message (an ApiCall or a Message dict).

        The button must be on the message as it is now (after edits), as only shown buttons can be tapped.
        """
        sent = getattr(message, "result", message)
        if not isinstance(sent, dict) or "message_id" not in sent:
            raise ValueError(f"not a message the bot sent: {message!r}")
        current = self._messages.get(sent["chat"]["id"], {}).get(sent["message_id"])
        if current is None:
            raise ValueError(f"message {sent['message_id']} in chat {sent['chat']['id']} was deleted")
        rows = current.get("reply_markup", {}).get("inline_keyboard", [])
        shown = [button.get("callback_data") for row in rows for button in row]
        if callback_data not in shown:
            raise ValueError(f"no button {callback_data!r} on message {sent['message_id']}; shown: {shown}")
        query_id = str(next(self._serial))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user.as_user(),
            "message": copy.deepcopy(current),
            "chat_instance": str(abs(hash((self.bot_user["id"], current["chat"]["id"])))),
            "data": callback_data,
        }
        return self.queue_update("callback_query", query)

    def user_opens_web_app(
        self, user: FakeUser, message: object, *, auth_date: float | None = None
    ) -> WebAppLaunch:
        """The user taps the ``web_app`` button under a bot message (as it is now): what Telegram hands the
        page, signed with the bot's token (``auth_date``: when, in Unix seconds; default now)."""
        sent = getattr(message, "result", message)
        if not isinstance(sent, dict) or "message_id" not in sent:
            raise ValueError(f"not a message the bot sent: {message!r}")
        current = self._messages.get(sent["chat"]["id"], {}).get(sent["message_id"]) or {}
        rows = current.get("reply_markup", {}).get("inline_keyboard", [])
        urls = [button["web_app"]["url"] for row in rows for button in row if "web_app" in button]
        if not urls:
            raise ValueError(f"no web_app button on message {sent['message_id']}")
        return launch(self.token, urls[0], user.as_user(), auth_date=auth_date)

    def user_opens_menu_web_app(
        self, user: FakeUser, url: str, *, auth_date: float | None = None
    ) -> WebAppLaunch:
        """The user opens the Mini App at ``url`` from the bot's menu button (set in BotFather)."""
        return launch(self.token, url, user.as_user(), auth_date=auth_date)

    def user_sends_web_app_data(self, user: FakeUser, data: str, *, button_text: str = "Web App") -> JSON:
        """A Mini App opened from a keyboard button calls ``sendData``: Telegram sends the bot a service
        message with ``web_app_data`` from the user (anyone may, whatever the bot's buttons)."""
        return self._user_message(user, {"web_app_data": {"data": data, "button_text": button_text}})

    def block_bot(self, user: FakeUser) -> None:
        """The user blocks the bot: sending to their chat now fails with 403 Forbidden."""
        self._blocked.add(user.id)

    def unblock_bot(self, user: FakeUser) -> None:
        """The user unblocks the bot."""
        self._blocked.discard(user.id)
