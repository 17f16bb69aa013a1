"""``webapp {"geometry": …}`` in ``roadbot chat``: what the map editor page would send, without a browser.

The last ``web_app`` button the bot showed is opened as Telegram opens one (the local Bot API signs the
initData), or, with none shown, the editor as the bot's menu button opens it. The JSON typed is posted
with that initData, the editor address's draft token, closure and emergency's municipality, to the real web
app running in this process (no port: an in-process ASGI transport), exactly as the page posts it; the
server's checks and the conversation's answer follow as they would for a real drawing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
from starlette.types import ASGIApp

from bot.localapi import FakeUser, LocalBotApi, WebAppLaunch
from bot.webapp.drawing import update_id_for
from bot.webapp.links import DRAWING_PATH, EDITOR_PATH

PLACEHOLDER_URL = (
    "https://roadbot-chat.invalid"  # WEBAPP_URL when none is set: buttons show, nothing serves it
)
USAGE = 'webapp {"geometry": {"type": "LineString", "coordinates": [[46.68, 24.70], [46.675, 24.71]]}}'


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of a drawing: the update the bot was given (None when the server refused), and what the
    page would have shown."""

    update_id: int | None
    status: int
    page_says: str


class PageStandIn:
    """Posts drawings as the editor page does, for one user, to the web app of the chat's bot."""

    def __init__(self, api: LocalBotApi, web_app: ASGIApp, user: FakeUser, webapp_url: str) -> None:
        self.api, self.user, self.webapp_url = api, user, webapp_url
        self.transport = httpx.ASGITransport(app=web_app)

    async def send(self, typed: str) -> Sent:
        """Post the drawing ``typed`` (a JSON object with ``geometry`` and, for a point, ``radius_m``)."""
        drawing = _drawing(typed)
        launch = self._launch()
        query = parse_qs(urlsplit(launch.url).query)
        body = {
            "initData": launch.init_data,
            "geometry": drawing.get("geometry"),
            "radius_m": drawing.get("radius_m"),
            "draft": next(iter(query.get("d", [])), None),
            "closure": _number(query, "c"),
            "emergency": _number(query, "e"),
        }
        lang = (query.get("lang") or [self.user.language_code or "ar"])[0]
        async with httpx.AsyncClient(transport=self.transport, base_url="http://roadbot-chat") as http:
            response = await http.post(f"{DRAWING_PATH}?lang={lang}", json=body)
        says = str(response.json().get("message", "")) if response.content else ""
        update_id = update_id_for(dict(parse_qsl(launch.init_data))["hash"])
        return Sent(update_id if response.status_code == 200 else None, response.status_code, says)

    def _launch(self) -> WebAppLaunch:
        shown = [m for m in self.api.messages(self.user.id) if _web_app_buttons(m)]
        if shown:
            return self.api.user_opens_web_app(self.user, shown[-1])
        return self.api.user_opens_menu_web_app(self.user, f"{self.webapp_url}{EDITOR_PATH}")


def _drawing(typed: str) -> dict[str, Any]:
    try:
        value = json.loads(typed)
    except ValueError:
        raise ValueError(f"not JSON; e.g. {USAGE}") from None
    if not isinstance(value, dict) or "geometry" not in value:
        raise ValueError(f"a JSON object with a geometry; e.g. {USAGE}")
    return value


def _number(query: dict[str, list[str]], name: str) -> int | None:
    value = query.get(name, [""])[0]
    return int(value) if value.isdigit() else None


def _web_app_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button for row in rows for button in row if "web_app" in button]
