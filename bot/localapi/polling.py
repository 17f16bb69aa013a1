"""The bot itself and how it gets updates: getMe, webhooks and long-polling getUpdates."""

from __future__ import annotations

import asyncio
import copy
import time

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

    def _api_getMe(self, p: JSON) -> JSON:
        return self.bot_user

    def _api_logOut(self, p: JSON) -> bool:
        return True

    def _api_close(self, p: JSON) -> bool:
        return True

    def _api_setWebhook(self, p: JSON) -> bool:
        self._webhook = {"url": str(p.get("url") or ""), "secret_token": p.get("secret_token")}
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _api_deleteWebhook(self, p: JSON) -> bool:
        self._webhook = {"url": ""}
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _api_getWebhookInfo(self, p: JSON) -> JSON:
        return {
            "url": self._webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

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
