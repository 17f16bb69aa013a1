"""The local Bot API with a webhook set: it posts updates to it as Telegram does, and retries refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localapi import FakeUser, LocalBotApi
from bot.web.serving import WebServer


async def call(api: LocalBotApi, method: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        return (await client.post(f"{api.base_url}{api.token}/{method}", json=params)).json()


async def test_updates_are_posted_with_the_secret_and_retried_until_accepted(
    bot_api: LocalBotApi, serve_asgi: Callable[..., Awaitable[WebServer]]
):
    received: list[tuple[str | None, dict[str, Any]]] = []
    accepted = asyncio.Event()

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        if len(received) == 1:
            return Response(status_code=500)  # the first try fails: Telegram tries again
        accepted.set()
        return Response(status_code=200)

    server = await serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    bot_api.webhook_retry_s = 0.05
    assert (await call(bot_api, "setWebhook", url=f"{server.url}/hook", secret_token="s3cret"))["ok"]
    update = bot_api.user_sends_text(FakeUser(5), "hello")
    await asyncio.wait_for(accepted.wait(), timeout=10)
    info = (await call(bot_api, "getWebhookInfo"))["result"]
    polled = await call(bot_api, "getUpdates")

    assert received == [("s3cret", update), ("s3cret", update)]
    assert info["url"] == f"{server.url}/hook"
    assert info["pending_update_count"] == 0
    assert info["last_error_message"] == "Wrong response from the webhook: 500"
    assert polled["error_code"] == 409  # no getUpdates while a webhook is set, as on Telegram


async def test_after_delete_webhook_updates_wait_for_get_updates(bot_api: LocalBotApi):
    assert (await call(bot_api, "setWebhook", url="http://127.0.0.1:9/nowhere"))["ok"]
    assert (await call(bot_api, "deleteWebhook"))["ok"]
    update = bot_api.user_sends_text(FakeUser(6), "hello")

    assert (await call(bot_api, "getUpdates"))["result"] == [update]


async def test_a_secret_token_telegram_would_refuse_is_refused(bot_api: LocalBotApi):
    answer = await call(bot_api, "setWebhook", url="https://example.org/hook", secret_token="no spaces")

    assert answer["error_code"] == 400
    assert bot_api.webhook["url"] == ""
