"""Posting to X through tweepy's AsyncClient (API v2, OAuth 1.0a user context).

The Arabic post goes first, with the map uploaded through the v2 media endpoint (``POST /2/media/upload``,
which tweepy 4.17 has no method for, so it is called through the client's own signed ``request``); the
English text follows as a reply in the thread, and later events reply to the original post. Every text is
valid by twitter-text (``bot.text.posts``).

- Duplicate content (403) means it is already there: treated as posted, its id looked up.
- 429: retried once ``x-rate-limit-reset`` has passed. 5xx: retried with backoff.
- A timeout or a dropped connection is in doubt; X lets us read our own posts, so the next attempt looks
  them up (``GET /2/users/:id/tweets`` since the attempt began) and adopts a match instead of posting again.
- The API's address is configurable (``X_API_BASE_URL``, e.g. a proxy in front of X, or the local
  X-compatible server the tests run): requests are signed for the public API, as X checks them behind a
  proxy, and sent to the configured address.
- A daily budget per account (posts cost money on X's pay-per-use API): a post that would exceed it waits
  for the next UTC day; if only the English reply would exceed it, the reply is left out.
"""

from __future__ import annotations

import asyncio
import base64
import html
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import tweepy
import yarl
from sqlalchemy.engine import Engine
from tweepy.asynchronous import AsyncClient

from bot.config import PUBLIC_X_API
from bot.publish import InDoubt, PublishError, Rejected, RetryLater
from bot.publish.intent import current_send
from bot.publish.maps import MapMaker
from bot.text.posts import x_post
from closures.lifecycle import Clock, system_clock
from closures.models import PostEvent
from closures.publishing import PostContext, reserve_budget

logger = logging.getLogger(__name__)
SessionFactory = Callable[[], aiohttp.ClientSession]


class _Relocated:
    """The part of an aiohttp session tweepy uses, sending what it addresses to the public API elsewhere."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    def request(self, method: str, url: str | yarl.URL, **kwargs: Any) -> Any:
        text = str(url)
        if text.startswith(PUBLIC_X_API):
            url = yarl.URL(self._base + text.removeprefix(PUBLIC_X_API), encoded=True)
        return self._session.request(method, url, **kwargs)

    async def close(self) -> None:
        await self._session.close()


@dataclass(frozen=True, slots=True)
class XAccount:
    """OAuth 1.0a user-context keys of one X account."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True, slots=True)
class XStyle:
    hashtags_ar: Sequence[str] = ()
    hashtags_en: Sequence[str] = ()
    english_reply: bool = True


class XPublisher:
    """One publisher for every ``x:<account>`` row; ``session_factory`` chooses the HTTP session."""

    reconciles = True  # an attempt in doubt is checked against our own recent posts, not dead-lettered
    intent_per_attempt = True  # each create_tweet commits the row's intent just before it is sent

    def __init__(
        self,
        engine: Engine,
        accounts: Mapping[str, XAccount],
        maps: MapMaker,
        *,
        style: Callable[[str], XStyle] = lambda slug: XStyle(),
        daily_budget: int = 17,
        timeout_s: float = 20.0,
        clock: Clock = system_clock,
        session_factory: SessionFactory | None = None,
        api_base_url: str = PUBLIC_X_API,
    ) -> None:
        self.engine = engine
        self.accounts = accounts
        self.maps = maps
        self.style = style
        self.daily_budget = daily_budget
        self.timeout_s = timeout_s
        self.clock = clock
        self._session_factory = session_factory
        self.api_base_url = api_base_url
        self._clients: dict[str, tuple[AsyncClient, str]] = {}
        self._clients_lock = asyncio.Lock()

    async def publish(self, ctx: PostContext, *, in_doubt_since: datetime | None) -> str:
        name = ctx.item.target
        if name not in self.accounts:
            raise Rejected(f"no keys configured for X account {name!r}")
        style = self.style(ctx.place.slug)
        post = x_post(
            ctx, hashtags_ar=style.hashtags_ar, hashtags_en=style.hashtags_en, english=style.english_reply
        )
        try:
            client, me = await self._client(name)
            ours = await self._recent(client, me, in_doubt_since) if in_doubt_since else {}
            primary = ours.get(_norm(post.arabic))
            if primary is None:
                media = await self._upload(client, ctx) if _with_map(ctx) else None
                primary = await self._tweet(
                    client, me, name, post.arabic, reply_to=ctx.original_id, media=media
                )
                if primary is None:
                    raise RetryLater("daily X budget spent", retry_after=_until_tomorrow(self.clock()))
            english = post.english if post.english and _norm(post.english) not in ours else None
            english = english if primary != "duplicate" else None  # nothing known to reply to
            if english and await self._tweet(client, me, name, english, reply_to=primary, media=None) is None:
                logger.warning("daily X budget spent: English reply of outbox row %s left out", ctx.item.id)
            return primary
        except tweepy.TweepyException as exc:
            raise x_failure(exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if isinstance(exc, aiohttp.ClientConnectorError):
                raise RetryLater(f"X unreachable: {exc}") from exc
            raise InDoubt(f"in doubt: {type(exc).__name__} after the request was sent") from exc

    async def _client(self, name: str) -> tuple[AsyncClient, str]:
        async with self._clients_lock:  # concurrent first posts must not each open (and leak) a session
            return self._clients[name] if name in self._clients else await self._new_client(name)

    async def _new_client(self, name: str) -> tuple[AsyncClient, str]:
        keys = self.accounts[name]
        client = AsyncClient(
            consumer_key=keys.consumer_key,
            consumer_secret=keys.consumer_secret,
            access_token=keys.access_token,
            access_token_secret=keys.access_token_secret,
        )
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        opened = self._session_factory() if self._session_factory else aiohttp.ClientSession(timeout=timeout)
        # tweepy only calls request() and close(): a relocated session stands in for the real one
        session: aiohttp.ClientSession | _Relocated = (
            _Relocated(opened, self.api_base_url) if self.api_base_url.rstrip("/") != PUBLIC_X_API else opened
        )
        client.session = session
        me = await client.get_me(user_auth=True)
        self._clients[name] = (client, str(me.data.id))
        return self._clients[name]

    async def _tweet(
        self,
        client: AsyncClient,
        me: str,
        account: str,
        text: str,
        *,
        reply_to: str | None,
        media: str | None,
    ) -> str | None:
        """Post one text (None when the budget is spent); a duplicate is looked up among our posts."""
        day = self.clock().date().isoformat()
        granted = await asyncio.to_thread(
            reserve_budget, self.engine, f"x:{account}", day=day, wanted=1, limit=self.daily_budget
        )
        if not granted:
            return None
        if (send := current_send()) is not None:
            await send.before_attempt()
        try:
            response = await client.create_tweet(
                text=text, in_reply_to_tweet_id=reply_to, media_ids=[media] if media else None, user_auth=True
            )
        except tweepy.Forbidden as exc:
            if not any("duplicate" in m.lower() for m in exc.api_messages):
                raise
            since = self.clock() - timedelta(days=1)
            found = (await self._recent(client, me, since)).get(_norm(text))
            logger.info("X says %r is a duplicate: treated as posted (%s)", text[:40], found)
            return found or "duplicate"
        return str(response.data["id"])

    async def _upload(self, client: AsyncClient, ctx: PostContext) -> str:
        png = await self.maps.png(ctx.closure)
        body = {
            "media": base64.b64encode(png).decode(),
            "media_category": "tweet_image",
            "media_type": "image/png",
        }
        response = await client.request("POST", "/2/media/upload", params={}, json=body, user_auth=True)
        return str((await response.json())["data"]["id"])

    async def _recent(self, client: AsyncClient, me: str, since: datetime) -> dict[str, str]:
        """Our own posts since ``since`` (a minute earlier, for clock skew): normalised text → id."""
        response = await client.get_users_tweets(
            me, start_time=since - timedelta(minutes=1), max_results=100, user_auth=True
        )
        return {_norm(t.text): str(t.id) for t in response.data or []}

    async def close(self) -> None:
        for client, _ in self._clients.values():
            if client.session is not None:
                await client.session.close()
        self._clients.clear()


def x_failure(exc: tweepy.TweepyException) -> PublishError:
    if isinstance(exc, tweepy.TooManyRequests):
        wait = (exc.reset_time - time.time()) if exc.reset_time else None
        return RetryLater("X rate limit", retry_after=max(0.0, wait) if wait is not None else None)
    if isinstance(exc, tweepy.TwitterServerError):
        return RetryLater(f"X server error: {exc}")
    if isinstance(exc, tweepy.HTTPException):
        return Rejected(f"X refused: {exc}")
    return RetryLater(f"X error: {exc}")


def _with_map(ctx: PostContext) -> bool:
    return ctx.item.event is PostEvent.ANNOUNCED or ctx.original_id is None


def _norm(text: str) -> str:
    return " ".join(html.unescape(text).split())


def _until_tomorrow(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()
