"""What the map editor sends, read strictly, and the Telegram update a verified drawing becomes.

The page posts JSON to ``POST /webapp/drawing``::

    {"initData": "<as Telegram gave it>", "geometry": {"type": "LineString", "coordinates": [...]},
     "radius_m": null, "draft": "<token of the question>", "closure": null, "emergency": null}

``radius_m`` goes with a point (one of the radii ``/new`` offers); ``draft`` is the token the editor's URL
carried (absent when opened from the bot's menu button); ``closure`` the closure being edited;
``emergency`` the municipality whose emergency's area is drawn (``/emergency``'s area question). The
geometry itself is left to the parser every other input goes through; here it only has to be a JSON
object. The conversation receives the same drawing, without ``initData``, as the ``web_app_data`` of a
message from the operator (:func:`update_for`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_TOKEN_CHARS = 64


class BadDrawing(ValueError):
    """A request or message that is not what the editor sends (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class Drawing:
    geometry: str  # GeoJSON text, unparsed
    radius_m: int | None = None
    draft: str | None = None
    closure_id: int | None = None
    emergency_in: int | None = None  # an emergency's area in this municipality (for /emergency, not /new)

    def as_web_app_data(self) -> str:
        """The drawing as the conversation reads it (``WebAppData.data``)."""
        return json.dumps(
            {"geometry": json.loads(self.geometry), "radius_m": self.radius_m, "draft": self.draft,
             "closure": self.closure_id, "emergency": self.emergency_in},
            ensure_ascii=False, separators=(",", ":"),
        )  # fmt: skip


def read_request(body: bytes, *, radii: Collection[int]) -> tuple[str, Drawing]:
    """``(initData, drawing)`` from the page's request body; :class:`BadDrawing` for anything else."""
    value = _object(body)
    init_data = value.get("initData")
    if not isinstance(init_data, str):
        raise BadDrawing("initData must be a string")
    return init_data, _drawing(value, radii)


def read_web_app_data(text: str, *, radii: Collection[int]) -> Drawing:
    """The drawing in a ``web_app_data`` message; :class:`BadDrawing` when it is not one of ours."""
    return _drawing(_object(text.encode()), radii)


def for_emergency(text: str) -> bool:
    """Whether a ``web_app_data`` text is an emergency's area (which ``/emergency`` answers, not ``/new``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("emergency") is not None


def update_for(
    user: dict[str, Any], drawing: Drawing, *, update_id: int, now: datetime, button_text: str
) -> dict[str, Any]:
    """The Bot API ``Update`` of ``user`` (a verified initData's User) sending ``drawing`` from the Mini App:
    a message in their private chat with ``web_app_data``, as Telegram delivers a Mini App's data.

    The message is not in the chat (nothing was typed), so it has no real id: ``message_id`` is 0 and the
    bot never quotes it (replies in private chats do not quote).
    """
    sender = {"id": user["id"], "is_bot": False, "first_name": str(user.get("first_name") or "-")}
    for key in ("last_name", "username", "language_code"):
        if isinstance(user.get(key), str):
            sender[key] = user[key]
    chat = {"id": user["id"], "type": "private", "first_name": sender["first_name"]}
    message = {
        "message_id": 0,
        "date": int(now.timestamp()),
        "chat": chat,
        "from": sender,
        "web_app_data": {"data": drawing.as_web_app_data(), "button_text": button_text},
    }
    return {"update_id": update_id, "message": message}


def update_id_for(signature_hash: str) -> int:
    """The update id of a drawing sent with the initData of ``signature_hash``: negative, so it is never one
    of Telegram's, and the same for the same initData (a replay is refused before it gets this far)."""
    return -int(signature_hash[:12], 16) - 1


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadDrawing("not JSON") from None
    if not isinstance(value, dict):
        raise BadDrawing("not a JSON object")
    return value


def _drawing(value: dict[str, Any], radii: Collection[int]) -> Drawing:
    geometry = value.get("geometry")
    if not isinstance(geometry, dict):
        raise BadDrawing("geometry must be a GeoJSON object")
    radius = value.get("radius_m")
    if radius is not None and (type(radius) is not int or radius not in radii):
        raise BadDrawing(f"radius_m must be one of {sorted(radii)}")
    draft = value.get("draft")
    if draft is not None and (not isinstance(draft, str) or not 0 < len(draft) <= MAX_TOKEN_CHARS):
        raise BadDrawing("draft must be the token the editor was opened with")
    closure = value.get("closure")
    if closure is not None and (type(closure) is not int or closure <= 0):
        raise BadDrawing("closure must be a closure number")
    emergency = value.get("emergency")
    if emergency is not None and (type(emergency) is not int or emergency <= 0 or closure is not None):
        raise BadDrawing("emergency must be a municipality number, and no closure with it")
    text = json.dumps(geometry, ensure_ascii=False, separators=(",", ":"))
    return Drawing(geometry=text, radius_m=radius, draft=draft, closure_id=closure, emergency_in=emergency)
