"""The bot itself and how it gets updates: getMe, webhooks and long-polling getUpdates.

With a webhook set, queued updates are posted to it one at a time, oldest first, with the secret token in
``X-Telegram-Bot-Api-Secret-Token``, as Telegram does; an update the bot does not accept with a 2xx is
tried again (after ``webhook_retry_s``). Unlike Telegram, any http(s) URL and port is accepted, so a bot
on 127.0.0.1 can be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import time

import httpx

from bot.localapi.state import JSON, ApiError, ApiState

_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)


class UpdateDelivery(ApiState):
    """getUpdates waits on an event set whenever an update is queued: no busy loop, no sleep."""

    def __init__(self, token: str, bot_username: str) -> None:
        super().__init__(token, bot_username)
        self._webhook: JSON = {"url": ""}
        self._closing = False
        self._poll_generation = 0
        self._poll_parked = asyncio.Event()
        self._delivery: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self.webhook_retry_s = 0.2

    def _api_getMe(self, p: JSON) -> JSON:
        return self.bot_user

    def _api_logOut(self, p: JSON) -> bool:
        return True

    def _api_close(self, p: JSON) -> bool:
        return True

    def _api_setWebhook(self, p: JSON) -> bool:
        url, secret = str(p.get("url") or ""), p.get("secret_token")
        if url and not url.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self._webhook = {"url": url, "secret_token": secret}
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._restart_delivery()
        return True

    def _api_deleteWebhook(self, p: JSON) -> bool:
        self._webhook = {"url": ""}
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._restart_delivery()
        return True

    def _api_getWebhookInfo(self, p: JSON) -> JSON:
        info: JSON = {
            "url": self._webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook["url"] and self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    @property
    def webhook(self) -> JSON:
        """The webhook as set: ``{"url": …, "secret_token": …}`` (url "" when none)."""
        return dict(self._webhook)

    def _restart_delivery(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()
        self._delivery = None
        if self._webhook["url"]:
            self._webhook_error = None
            self._delivery = asyncio.get_running_loop().create_task(self._deliver(dict(self._webhook)))

    async def stop_delivery(self) -> None:
        """Stop posting to the webhook (the server is closing)."""
        task, self._delivery = self._delivery, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self, webhook: JSON) -> None:
        headers = (
            {"X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"]} if webhook["secret_token"] else {}
        )
        async with httpx.AsyncClient(timeout=10) as client:
            while not self._closing:
                if not self._updates:
                    self._updates_event.clear()
                    await self._updates_event.wait()
                    continue
                update = self._updates[0]
                try:
                    response = await client.post(webhook["url"], json=update, headers=headers)
                    error = (
                        None
                        if response.is_success
                        else f"Wrong response from the webhook: {response.status_code}"
                    )
                except httpx.HTTPError as exc:
                    error = f"Connection failed: {type(exc).__name__}"
                if error is None:
                    self._updates[:] = [u for u in self._updates if u["update_id"] != update["update_id"]]
                    continue
                self._webhook_error = (int(time.time()), error)
                self._updates_event.clear()
                with contextlib.suppress(TimeoutError):  # a new update or the retry time, whichever first
                    async with asyncio.timeout(self.webhook_retry_s):
                        await self._updates_event.wait()

    async def _api_getUpdates(self, p: JSON) -> list[JSON]:
        """Confirm updates below ``offset``, then wait up to ``timeout`` s for one (real long polling)."""
        if self._webhook["url"]:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if offset < 0:
            del self._updates[:offset]
        elif offset:
            self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
        allowed = p.get("allowed_updates")
        if allowed:
            self._updates[:] = [u for u in self._updates if next(k for k in u if k != "update_id") in allowed]
        self._poll_generation += 1
        mine = self._poll_generation
        self._updates_event.set()  # an older getUpdates still waiting gives way to this one
        deadline = time.monotonic() + timeout
        while not self._updates and not self._closing and (remaining := deadline - time.monotonic()) > 0:
            self._updates_event.clear()
            self._poll_parked.set()
            try:
                async with asyncio.timeout(remaining):
                    await self._updates_event.wait()
            except TimeoutError:
                break
            finally:
                if self._poll_generation == mine:
                    self._poll_parked.clear()
            if self._poll_generation != mine:
                raise ApiError(409, _CONFLICT_POLL)
        return copy.deepcopy(self._updates[: max(1, min(limit, 100))])

    async def wait_until_polling(self, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a test's bound
        """Return once a getUpdates request is parked waiting for updates."""
        async with asyncio.timeout(timeout):
            await self._poll_parked.wait()
