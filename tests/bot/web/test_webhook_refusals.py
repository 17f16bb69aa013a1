"""What the README promises of the webhook: a wrong secret gets 403, a wrong method 405, a path that is not
the webhook's 404 — and none of them reaches the bot."""

from __future__ import annotations

import httpx

from bot.localapi import FakeUser, LocalBotApi
from bot.web.webhook import SECRET_HEADER, WebhookSecrets
from tests.bot.web.support import unsent_update
from tests.bot.web.test_webhook import webhook_bot

__all__ = ["webhook_bot"]  # the fixture, shared with the webhook tests


async def test_every_other_request_is_refused_and_none_reaches_the_bot(webhook_bot, bot_api: LocalBotApi):
    started, services = webhook_bot
    secrets = WebhookSecrets.from_settings(services.settings)
    bob = FakeUser(777002, first_name="Bob", language_code="en")
    right = f"{started.web_url}/telegram/{secrets.path}"
    update = unsent_update(bot_api, bob, "/start", update_id=900_101)
    token = {SECRET_HEADER: secrets.secret_token}
    since = len(bot_api.calls)
    async with httpx.AsyncClient(timeout=10) as client:
        wrong_secret = await client.post(right, json=update, headers={SECRET_HEADER: secrets.path})
        other_method = [
            (await client.request(m, right, json=update, headers=token)).status_code for m in ("GET", "PUT")
        ]
        other_paths = [
            (await client.post(f"{started.web_url}{path}", json=update, headers=token)).status_code
            for path in (
                "/telegram",
                "/telegram/",
                f"/telegram/{secrets.path}/x",
                f"/{secrets.path}",
                "/webhook",
            )
        ]
        await client.post(right, json=unsent_update(bot_api, bob, "/help", update_id=900_102), headers=token)
        await bot_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == bob.id, since=since)

    assert wrong_secret.status_code == 403
    assert other_method == [405, 405]
    assert other_paths == [404] * 5
    # only the accepted update was answered: a refused /start would have been answered too
    assert len([c for c in bot_api.calls[since:] if c.method == "sendMessage" and c.chat_id == bob.id]) == 1
