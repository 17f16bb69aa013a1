"""The Bot API methods about chats, answered the way Telegram answers them.

A method is ``_api_<exactName>(params) -> result``; a refusal raises :class:`ApiError`. Only the HTML
parse mode is checked; other parse modes pass the text through as is.
"""

from __future__ import annotations

import copy
import json
import struct
import time

from bot.localapi.html import HtmlEntityError, parse_html
from bot.localapi.state import JSON, ApiError, ApiState, StoredFile, Upload, bad_request
from bot.localapi.webapps import check_web_app_buttons, check_web_app_url

MAX_TEXT = 4096
MAX_CAPTION = 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


class ChatMethods(ApiState):
    """Sending, editing, callback answers, files and the command menu; state lives in :class:`ApiState`."""

    def __init__(self, token: str, bot_username: str) -> None:
        super().__init__(token, bot_username)
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._menu_buttons: dict[str, JSON] = {}

    # commands and menu ---------------------------------------------------------------------------
    def _commands_key(self, p: JSON) -> tuple[str, str]:
        scope = dict(p.get("scope") or {"type": "default"})
        if "chat_id" in scope:  # a chat scope names a chat the bot knows, as on Telegram
            scope["chat_id"] = self.known_chat(scope["chat_id"])["id"]
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def _api_setMyCommands(self, p: JSON) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 BotCommand")
        for item in commands:
            name, description = str(item.get("command", "")), str(item.get("description", ""))
            if not (1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_" for c in name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _api_getMyCommands(self, p: JSON) -> list[JSON]:
        return self._commands.get(self._commands_key(p), [])

    def _api_deleteMyCommands(self, p: JSON) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _api_setChatMenuButton(self, p: JSON) -> bool:
        button = p.get("menu_button") or {"type": "default"}
        if isinstance(button, dict) and button.get("type") == "web_app":
            check_web_app_url("menu button Web App URL", button.get("web_app"))
        self._menu_buttons[str(p.get("chat_id", ""))] = button
        return True

    def _api_getChatMenuButton(self, p: JSON) -> JSON:
        return self._menu_buttons.get(str(p.get("chat_id", "")), {"type": "commands"})

    # sending -------------------------------------------------------------------------------------
    def _target(self, p: JSON) -> JSON:
        if p.get("chat_id") in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self.chat_for(p["chat_id"])
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _formatted(self, p: JSON, field: str, *, limit: int, too_long: str) -> JSON:
        """``{field: plain text, field_entities: […]}`` after Telegram's parsing of ``parse_mode``."""
        text = str(p.get(field) or "")
        entities = p.get("entities" if field == "text" else "caption_entities") or []
        if str(p.get("parse_mode") or "").upper() == "HTML":
            try:
                text, entities = parse_html(text)
            except HtmlEntityError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        if len(text) > limit:
            raise bad_request(too_long)
        out: JSON = {field: text} if text else {}
        if entities:
            out["entities" if field == "text" else "caption_entities"] = entities
        return out

    def _send(self, p: JSON, content: JSON) -> JSON:
        chat = self._target(p)
        extra: JSON = {}
        reply = p.get("reply_parameters")
        if not reply and p.get("reply_to_message_id"):  # the older spelling
            reply = {"message_id": p["reply_to_message_id"]}
            reply["allow_sending_without_reply"] = p.get("allow_sending_without_reply")
        if reply:
            try:
                replied = self.find_message(
                    reply.get("chat_id", chat["id"]), reply["message_id"], "message to be replied not found"
                )
            except ApiError:
                if not reply.get("allow_sending_without_reply"):
                    raise
            else:
                extra["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            extra["reply_markup"] = markup  # Telegram echoes inline keyboards only
        if chat["type"] != "private":
            _check_private_buttons(markup)
        check_web_app_buttons(markup, chat["type"])
        sender = None if chat["type"] == "channel" else self.bot_user
        return copy.deepcopy(self.store_message(chat, sender, {**content, **extra}))

    def _api_sendMessage(self, p: JSON) -> JSON:
        content = self._formatted(p, "text", limit=MAX_TEXT, too_long="message is too long")
        if not content.get("text", "").strip():
            raise bad_request("message text is empty")
        return self._send(p, content)

    @staticmethod
    def _location(p: JSON) -> JSON:
        try:
            latitude, longitude = float(p["latitude"]), float(p["longitude"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("wrong coordinates specified") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong coordinates specified")
        location: JSON = {"latitude": latitude, "longitude": longitude}
        for key in ("live_period", "heading", "horizontal_accuracy", "proximity_alert_radius"):
            if p.get(key) is not None:
                location[key] = p[key]
        return location

    def _api_sendLocation(self, p: JSON) -> JSON:
        return self._send(p, {"location": self._location(p)})

    def _api_sendVenue(self, p: JSON) -> JSON:
        if not p.get("title") or not p.get("address"):
            raise bad_request("venue title and address must be non-empty")
        location = self._location(p)
        venue: JSON = {"location": location, "title": str(p["title"]), "address": str(p["address"])}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if p.get(key):
                venue[key] = p[key]
        return self._send(p, {"venue": venue, "location": location})

    def _media(self, p: JSON, field: str, folder: str) -> tuple[StoredFile, Upload | None]:
        value = p.get(field)
        if isinstance(value, Upload):
            suffix = "." + value.filename.rsplit(".", 1)[1] if "." in value.filename else ""
            return self.store_file(value.content, folder=folder, suffix=suffix), value
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.store_file(b"", folder=folder), None  # Telegram would fetch the URL
        if isinstance(value, str) and value:
            return self.file_by_id(value), None
        raise bad_request(f"there is no {field} in the request")

    def _api_sendPhoto(self, p: JSON) -> JSON:
        caption = self._formatted(p, "caption", limit=MAX_CAPTION, too_long="message caption is too long")
        stored, _ = self._media(p, "photo", "photos")
        width, height = _image_size(stored.content)
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        return self._send(p, {"photo": [{**size, "width": width, "height": height}], **caption})

    def _api_sendDocument(self, p: JSON) -> JSON:
        caption = self._formatted(p, "caption", limit=MAX_CAPTION, too_long="message caption is too long")
        stored, upload = self._media(p, "document", "documents")
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if upload is not None:
            document |= {"file_name": upload.filename, "mime_type": upload.content_type}
        document["file_size"] = len(stored.content)
        return self._send(p, {"document": document, **caption})

    def _api_sendChatAction(self, p: JSON) -> bool:
        self._target(p)
        if not p.get("action"):
            raise bad_request("wrong parameter action in request")
        return True

    # editing -------------------------------------------------------------------------------------
    def _own_message(self, p: JSON, missing: str) -> JSON:
        if p.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._target(p)
        message = self.find_message(chat["id"], p.get("message_id"), missing)
        if message.get("from", {}).get("id", self.bot_user["id"]) != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        return message

    def _edit(self, message: JSON, changes: JSON) -> JSON:
        """Apply ``changes`` (None removes a key); refuse an edit that changes nothing."""
        if all(message.get(key) == value for key, value in changes.items()):
            raise bad_request(NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _inline_markup(self, p: JSON) -> JSON | None:
        markup = p.get("reply_markup")
        if not (isinstance(markup, dict) and markup.get("inline_keyboard")):
            return None
        check_web_app_buttons(markup, self.chat_for(p["chat_id"])["type"] if p.get("chat_id") else "private")
        return markup

    def _api_editMessageText(self, p: JSON) -> JSON:
        message = self._own_message(p, "message to edit not found")
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        content = self._formatted(p, "text", limit=MAX_TEXT, too_long="message is too long")
        if not content.get("text", "").strip():
            raise bad_request("message text is empty")
        markup = self._inline_markup(p)  # no reply_markup: the inline keyboard goes, as on Telegram
        return self._edit(
            message, {"text": content["text"], "entities": content.get("entities"), "reply_markup": markup}
        )

    def _api_editMessageCaption(self, p: JSON) -> JSON:
        message = self._own_message(p, "message to edit not found")
        if not any(kind in message for kind in ("photo", "document", "video", "audio", "animation")):
            raise bad_request("there is no caption in the message to edit")
        content = self._formatted(p, "caption", limit=MAX_CAPTION, too_long="message caption is too long")
        changes = {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
            "reply_markup": self._inline_markup(p),
        }
        return self._edit(message, changes)

    def _api_editMessageReplyMarkup(self, p: JSON) -> JSON:
        message = self._own_message(p, "message to edit not found")
        return self._edit(message, {"reply_markup": self._inline_markup(p)})

    def _api_deleteMessage(self, p: JSON) -> bool:
        chat = self._target(p)
        message = self.find_message(chat["id"], p.get("message_id"), "message to delete not found")
        self.forget_message(chat["id"], message["message_id"])
        return True

    def _api_answerCallbackQuery(self, p: JSON) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(str(p.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    def _api_getFile(self, p: JSON) -> JSON:
        return self.file_by_id(p.get("file_id")).as_file()


def _image_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG (what the bot renders); a square placeholder for anything else."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR":
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    return 320, 320


def _check_private_buttons(markup: object) -> None:
    """Refuse buttons asking for a location or a phone number outside private chats, like Telegram."""
    rows = markup.get("keyboard", []) if isinstance(markup, dict) else []
    buttons = [button for row in rows for button in row if isinstance(button, dict)]
    if any(button.get("request_location") for button in buttons):
        raise bad_request("location can be requested in a private chats only")
    if any(button.get("request_contact") for button in buttons):
        raise bad_request("phone number can be requested in a private chats only")
