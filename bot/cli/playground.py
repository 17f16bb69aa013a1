"""The offline playground behind ``roadbot chat``: the real Application against an in-process Bot API.

A person types as a driver; each line becomes what Telegram would deliver (a text, a shared location, a
live-location fix, a button press) and the bot's replies, as the local server received them, are printed
as terminal text::

    await chat_session(["/start", "24.7114,46.6744", "press 1", "press 1"], sys.stdout, settings, lang="en")
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from contextlib import suppress
from typing import Any, TextIO

from pydantic import SecretStr
from telegram import Update
from telegram.ext import TypeHandler

from bot.app import build_application
from bot.cli.chat_webapp import PLACEHOLDER_URL, PageStandIn
from bot.config import Settings
from bot.context import BotApplication
from bot.localapi import ApiCall, FakeUser, LocalBotApi
from bot.localapi.html import HtmlEntityError, parse_html
from bot.services import Services
from bot.web.site import build_web_app
from closures.models import Role
from closures.service import Actor
from geo.coords import parse_coordinates
from geo.errors import GeometryError

USER_ID = 700_001
STAFF_MUNICIPALITY = "riyadh"
LIVE_PERIOD_S = 3600
GRACE_S = 1.0  # after a first reply, how long the rest of the same answer may take
OBSERVER_GROUP = 1_000  # after every handler group: "this update is fully handled"

HELP = (
    "Type as a driver: /start, /radius 2, 24.7136,46.6753 (typed), loc 24.70 46.67 (a shared location), "
    "live 24.70 46.67 (start or move a live location), live stop, venue 24.70 46.67 Name, "
    "press N (a button of the bot's last message), webapp {JSON} (what the map editor page sends), quit."
)


async def chat_session(
    lines: Iterable[str] | AsyncIterable[str],
    out: TextIO,
    settings: Settings,
    *,
    lang: str = "ar",
    as_staff: bool = False,
    echo: bool = False,
    reply_timeout: float = 5.0,
) -> None:
    """Run the bot on ``settings.database_url`` against a local Bot API and play ``lines`` as one user.

    The database must be initialised. ``echo`` repeats each line (``> line``), for transcripts of piped input.
    """
    async with LocalBotApi() as api:
        settings = settings.model_copy(
            update={
                "telegram_bot_token": SecretStr(api.token),
                "telegram_base_url": api.base_url,
                "telegram_base_file_url": api.base_file_url,
                "webapp_url": settings.webapp_url or PLACEHOLDER_URL,
            }
        )
        services = Services.build(settings)
        user = FakeUser(USER_ID, first_name="Staff" if as_staff else "Driver", language_code=lang)
        if as_staff:
            city = await asyncio.to_thread(make_staff, services, user.id)
            print(
                f"You are {user.first_name} (Telegram user {user.id}, {lang}), staff of {city}: "
                "staff commands work too.",
                file=out,
            )
        else:
            print(f"You are {user.first_name} (Telegram user {user.id}, {lang}), a driver.", file=out)
        print(HELP, file=out, flush=True)
        app = build_application(services, rate_limit=False)
        page = PageStandIn(
            api, build_web_app(services, application=app), user, settings.webapp_url or PLACEHOLDER_URL
        )
        chat = _Chat(api, app, user, out, reply_timeout, page)
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        try:
            async for line in _each(lines):
                if echo and line.strip():
                    print(f"> {line.strip()}", file=out, flush=True)
                if not await chat.play(line.strip()):
                    break
        finally:
            await app.updater.stop()
            await app.stop()
            chat.print_new()  # whatever the last updates still sent
            await app.shutdown()


def make_staff(services: Services, user_id: int) -> str:
    """Authorise ``user_id`` as staff of the sample city (audited, idempotent); returns its slug."""
    member = services.staff.add(
        STAFF_MUNICIPALITY, user_id, Role.STAFF.value, actor=Actor.system("chat"), name="roadbot chat"
    )
    return member.municipality


class _Chat:
    """One user's side of the conversation: turns lines into updates and prints what the bot sent."""

    def __init__(
        self,
        api: LocalBotApi,
        app: BotApplication,
        user: FakeUser,
        out: TextIO,
        timeout: float,
        page: PageStandIn,
    ) -> None:
        self.api, self.user, self.out, self.timeout, self.page = api, user, out, timeout, page
        self.printed = 0  # calls[:printed] were shown (or are not for this chat)
        self.live_message: int | None = None
        self.handled: set[int] = set()
        self.handled_changed = asyncio.Condition()
        app.add_handler(TypeHandler(Update, self._observe), group=OBSERVER_GROUP)

    async def _observe(self, update: Update, context: object) -> None:
        """Runs after every other handler group: the update's answer has been sent in full."""
        async with self.handled_changed:
            self.handled.add(update.update_id)
            self.handled_changed.notify_all()

    async def play(self, line: str) -> bool:
        """Act out one typed line and show the answer; False once the user quits."""
        self.print_new()
        word, _, rest = line.partition(" ")
        if word.lower() in ("quit", "exit"):
            return False
        if not line:
            return True
        since = len(self.api.calls)
        try:
            if word.lower() == "webapp":
                return await self._web_app(rest.strip(), since)
            update = self._act(word.lower(), rest.strip(), line)
        except (ValueError, GeometryError) as exc:
            self._say(f"({exc})")
            return True
        if update is not None:
            await self._await_answer(update["update_id"], since)
        return True

    async def _web_app(self, typed: str, since: int) -> bool:
        """The map editor's page sends ``typed``: the server's refusal, or the bot's answer to the drawing."""
        sent = await self.page.send(typed)
        if sent.update_id is None:
            self._say(f"(the page says, {sent.status}: {sent.page_says})")
        else:
            await self._await_answer(sent.update_id, since)
        return True

    def _act(self, word: str, rest: str, line: str) -> dict[str, Any] | None:
        api, user = self.api, self.user
        if word == "loc":
            lat, lon = _coordinates(rest)
            return api.user_sends_location(user, lat, lon)
        if word == "venue":
            lat, lon = _coordinates(" ".join(rest.split()[:2]))
            title = " ".join(rest.split()[2:]) or "Venue"
            return api.user_sends_venue(user, lat, lon, title, title)
        if word == "live" and rest.lower() == "stop":
            if self.live_message is None:
                raise ValueError("no live location is being shared: start one with `live LAT LON`")
            message_id, self.live_message = self.live_message, None
            return api.user_stops_live_location(user, message_id)
        if word == "live":
            lat, lon = _coordinates(rest)
            if self.live_message is not None:
                return api.user_edits_live_location(user, self.live_message, lat, lon)
            update = api.user_sends_location(user, lat, lon, live_period=LIVE_PERIOD_S)
            self.live_message = update["message"]["message_id"]
            return update
        if word == "press":
            return self._press(rest)
        return api.user_sends_text(user, line)

    def _press(self, rest: str) -> dict[str, Any] | None:
        shown = [m for m in self.api.messages(self.user.id) if _from_bot(m, self.api) and _inline_rows(m)]
        if not shown:
            raise ValueError("the bot has shown no buttons yet")
        buttons = [button for row in _inline_rows(shown[-1]) for button in row]
        if not rest.isdigit() or not 1 <= int(rest) <= len(buttons):
            raise ValueError(f"press a button from 1 to {len(buttons)}")
        button = buttons[int(rest) - 1]
        if "web_app" in button:
            self._say(
                f"(that button opens {button['web_app']['url']}: type `webapp {{JSON}}` to send its page)"
            )
            return None
        if "callback_data" not in button:
            self._say(f"(that button opens {button.get('url') or 'something outside the chat'})")
            return None
        return self.api.user_presses_button(self.user, shown[-1], button["callback_data"])

    async def _await_answer(self, update_id: int, since: int) -> None:
        """Wait for the bot's first reply or the end of its handling, whichever comes first, then show it."""
        reply = asyncio.ensure_future(self.api.wait_for(self._is_reply, since=since, timeout=self.timeout))
        handled = asyncio.ensure_future(self._handled(update_id))
        try:
            done, _ = await asyncio.wait(
                {reply, handled}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if reply in done and not reply.exception() and handled not in done:
                await asyncio.wait({handled}, timeout=GRACE_S)  # the answer may have more parts
        finally:
            for task in (reply, handled):
                task.cancel()
                with suppress(asyncio.CancelledError, TimeoutError):
                    await task
        if not self.print_new():
            self._say("(no reply)")

    async def _handled(self, update_id: int) -> None:
        async with self.handled_changed:
            await self.handled_changed.wait_for(lambda: update_id in self.handled)

    def _is_reply(self, call: ApiCall) -> bool:
        return _for_chat(call, self.user.id) and call.method != "sendChatAction"

    def print_new(self) -> int:
        """Print the calls addressed to the user since the last print; how many lines were printed."""
        calls, self.printed = self.api.calls[self.printed :], len(self.api.calls)
        shown = 0
        for call in calls:
            if _for_chat(call, self.user.id) or call.method == "answerCallbackQuery":
                for text in describe(call):
                    self._say(text)
                    shown += 1
        return shown

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def describe(call: ApiCall) -> list[str]:
    """What a person would see of one Bot API call, as terminal lines (empty: nothing visible)."""
    if not call.ok:
        error = call.error or {}
        return [f"(the Bot API refused {call.method}: {error.get('error_code')} {error.get('description')})"]
    params = call.params
    if call.method == "answerCallbackQuery":
        return [f"ⓘ {params['text']}"] if params.get("text") else []
    if call.method == "sendLocation":
        return [f"📍 {float(params['latitude']):.5f}, {float(params['longitude']):.5f}"]
    if call.method == "sendVenue":
        where = f"{float(params['latitude']):.5f}, {float(params['longitude']):.5f}"
        return [f"📍 {params.get('title')}, {params.get('address')} ({where})"]
    if call.method == "deleteMessage":
        return ["(the bot deleted a message)"]
    if call.method == "sendChatAction":
        return []
    marks = {"sendPhoto": "🖼 ", "sendDocument": "📄 ", "editMessageText": "✎ ", "editMessageCaption": "✎ "}
    text = terminal_text(call.text or "", params.get("parse_mode"))
    lines = (marks.get(call.method, "") + text).splitlines() if text else []
    return [*lines, *_keyboard_lines(params.get("reply_markup"))]


def terminal_text(text: str, parse_mode: object = "HTML") -> str:
    """Telegram HTML as plain text: tags dropped, entities unescaped (bold is plain).

    >>> terminal_text("<b>مغلق</b> &amp; 2.3 km")
    'مغلق & 2.3 km'
    """
    if str(parse_mode or "").upper() != "HTML":
        return text
    try:
        return parse_html(text)[0]
    except HtmlEntityError:
        return text


def _keyboard_lines(markup: object) -> list[str]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    if "inline_keyboard" in markup:
        lines, n = [], 0
        for row in markup["inline_keyboard"]:
            labels = []
            for button in row:
                n += 1
                opens = f" ↗ {button['web_app']['url']}" if "web_app" in button else ""  # a Mini App
                labels.append(f"[{n}] {button.get('text', '')}{opens}")
            lines.append("  ".join(labels))
        return lines
    if "keyboard" in markup:
        labels = [f"[{_label(b)}]" for row in markup["keyboard"] for b in row]
        return ["⌨ " + "  ".join(labels)]
    return []


def _label(button: object) -> str:
    return str(button.get("text", "")) if isinstance(button, dict) else str(button)


def _inline_rows(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list(message.get("reply_markup", {}).get("inline_keyboard", []))


def _from_bot(message: dict[str, Any], api: LocalBotApi) -> bool:
    return bool(message.get("from", {}).get("id") == api.bot_user["id"])


def _for_chat(call: ApiCall, chat_id: int) -> bool:
    return str(call.chat_id) == str(chat_id)


def _coordinates(text: str) -> tuple[float, float]:
    """``24.70 46.67`` or ``24.70, 46.67`` (any digits) → (lat, lon)."""
    point = parse_coordinates(text)
    if point is None:
        raise ValueError(f"not a latitude and longitude: {text!r} (e.g. 24.7136 46.6753)")
    return point.y, point.x


async def _each(lines: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line
