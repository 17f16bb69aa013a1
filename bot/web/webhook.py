"""Telegram's webhook: ``POST /telegram/<secret path>`` with the secret token, fed to the PTB Application.

Telegram sends the secret token it was given in ``X-Telegram-Bot-Api-Secret-Token``; a request without it
(or on another path) is refused with 403 before its body is read. Unless the settings name them, the token
and the path are derived from the bot token, so every process of one bot agrees on them without sharing
state, and a restart keeps them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import Update

from bot.config import Settings
from bot.context import BotApplication

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024  # an update is a few kB; a larger body is not from Telegram
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    secret_token: str
    path: str

    def __repr__(self) -> str:  # never log the secrets
        return "WebhookSecrets(***)"

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSecrets:
        """The configured secrets, each derived from the bot token when not configured."""
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        token = settings.telegram_bot_token.get_secret_value()
        secret = settings.webhook_secret_token
        path = settings.webhook_path
        return cls(
            secret_token=secret.get_secret_value() if secret else _derive(token, "secret token"),
            path=path.get_secret_value() if path else _derive(token, "path"),
        )

    def url(self, public_base: str) -> str:
        """Where Telegram should post: ``public_base`` (e.g. https://roads.example.org) + the secret path."""
        return f"{public_base.rstrip('/')}/telegram/{self.path}"


def _derive(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), f"roadbot webhook {purpose}".encode(), hashlib.sha256).hexdigest()


async def register_webhook(application: BotApplication, public_base: str, secrets: WebhookSecrets) -> str:
    """Tell the Bot API to post updates to us from now on; the URL registered."""
    url = secrets.url(public_base)
    await application.bot.set_webhook(
        url, secret_token=secrets.secret_token, allowed_updates=Update.ALL_TYPES, drop_pending_updates=False
    )
    return url


def webhook_routes(
    application: BotApplication | None, secrets: WebhookSecrets | None, *, counted: Callable[[str], None]
) -> list[BaseRoute]:
    """The route Telegram posts to, when the bot runs by webhook (an ``application`` with ``secrets``);
    none otherwise. ``counted(outcome)`` is told accepted, refused or malformed."""
    if application is None or secrets is None:
        return []
    return [_webhook_route(application, secrets, counted)]


def _webhook_route(
    application: BotApplication, secrets: WebhookSecrets, counted: Callable[[str], None]
) -> Route:

    async def receive(request: Request) -> Response:
        """Check the secrets, queue the update for the Application, answer at once."""
        given_path = request.path_params["path"]
        given_token = request.headers.get(SECRET_HEADER, "")
        if not (
            hmac.compare_digest(given_path.encode(), secrets.path.encode())
            and hmac.compare_digest(given_token.encode(), secrets.secret_token.encode())
        ):
            counted("refused")
            return Response(status_code=403)
        body = await _body(request)
        try:
            update = Update.de_json(json.loads(body), application.bot) if body else None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            update = None
            log.warning("webhook: an unreadable update (%s: %s)", type(exc).__name__, exc)
        if update is None:
            counted("malformed")
            return Response(status_code=400)
        counted("accepted")
        await application.update_queue.put(update)  # the Application's fetcher handles it concurrently
        return Response(status_code=200)

    return Route("/telegram/{path}", receive, methods=["POST"], name="telegram_webhook")


async def _body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPDATE_BYTES:
            return b""
        chunks.append(chunk)
    return b"".join(chunks)
