"""The map editor over HTTP for tests: the staff bot (real PTB polling the local Bot API) with the web server
in front of it, and an operator who opens the editor from a "Draw on the map" button and posts a drawing.

Use the ``editor`` fixture from a test module that imports it (``from tests.bot.web.editor_support import
editor, staff_bot``) and sets ``WEBAPP_URL`` through ``bot_overrides``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import select

from bot.localapi import ApiCall, FakeUser, WebAppLaunch
from bot.web.serving import WebServer
from bot.web.site import build_web_app
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, Municipality
from closures.store import session_scope
from tests.bot.handlers.staff.conftest import StaffBot, staff_bot

__all__ = ["WEBAPP", "Editor", "editor", "staff_bot"]

WEBAPP = "https://roads.test"  # WEBAPP_URL: the public HTTPS base, as a balancer would answer it


def municipality_id(bot: StaffBot, slug: str) -> int:
    with session_scope(bot.services.engine) as session:
        found = session.exec(select(Municipality.id).where(Municipality.slug == slug)).one()
    assert found is not None
    return found


def open_closures(bot: StaffBot) -> list[Closure]:
    """The sample closures in force now."""
    with session_scope(bot.services.engine) as session:
        return [c for c in session.exec(select(Closure)) if phase_at(c, bot.clock.now) is Phase.ACTIVE]


def web_app_urls(call: ApiCall) -> list[str]:
    """The URLs of the ``web_app`` buttons under a message the bot sent."""
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["web_app"]["url"] for row in rows for button in row if "web_app" in button]


def token_of(url: str) -> str | None:
    return (parse_qs(urlsplit(url).query).get("d") or [None])[0]


@dataclass
class Editor:
    bot: StaffBot
    http: httpx.AsyncClient  # the web server, at its local address
    server: WebServer

    async def open(self, user: FakeUser, command: str = "/new") -> tuple[ApiCall, WebAppLaunch]:
        """``command``, then the user taps "Draw on the map" under the place question."""
        question = await self.bot.say(user, command)
        return question, self.launch(user, question)

    def launch(self, user: FakeUser, message: ApiCall, *, age_s: float = 0) -> WebAppLaunch:
        """The user taps the message's ``web_app`` button (``age_s`` seconds ago, by the bot's clock)."""
        opened = self.bot.clock.now.timestamp() - age_s
        return self.bot.api.user_opens_web_app(user, message, auth_date=opened)

    async def send(
        self,
        launch: WebAppLaunch,
        geometry: dict[str, Any],
        *,
        radius_m: int | None = None,
        init_data: str | None = None,
        **fields: Any,
    ) -> httpx.Response:
        """What the page posts when Done is tapped (the draft token, the closure and the emergency's
        municipality from the editor's URL)."""
        query = parse_qs(urlsplit(launch.url).query)
        body = {
            "initData": launch.init_data if init_data is None else init_data,
            "geometry": geometry,
            "radius_m": radius_m,
            "draft": token_of(launch.url),
            "closure": int(query["c"][0]) if "c" in query else None,
            "emergency": int(query["e"][0]) if "e" in query else None,
            **fields,
        }
        lang = query.get("lang", ["ar"])[0]
        return await self.http.post(f"/webapp/drawing?lang={lang}", json=body)

    async def send_and_wait(
        self, user: FakeUser, launch: WebAppLaunch, geometry: dict[str, Any], **options: Any
    ) -> tuple[httpx.Response, ApiCall]:
        """Send a drawing the server accepts; the bot's next message to the user after it."""
        since = len(self.bot.api.calls)
        response = await self.send(launch, geometry, **options)
        assert response.status_code == 200, response.text
        return response, await self.bot.api.wait_for(
            lambda c: c.chat_id == user.id and c.method in ("sendMessage", "sendPhoto"), since=since
        )


@pytest.fixture
async def editor(
    staff_bot: StaffBot, serve_asgi: Callable[[Any], Awaitable[WebServer]]
) -> AsyncIterator[Editor]:
    server = await serve_asgi(build_web_app(staff_bot.services, application=staff_bot.app))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield Editor(staff_bot, http, server)
