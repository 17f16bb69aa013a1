"""Shared pieces of the publishing tests: a Telegram bot on the local Bot API, workers, closures, rows."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from bot.localapi import ApiCall, LocalBotApi
from bot.publish import Publisher
from bot.publish.aiohttp_request import AiohttpRequest
from bot.publish.alerts import AlertPublisher
from bot.publish.maps import MapMaker
from bot.publish.telegram_channel import ChannelPublisher
from bot.publish.worker import OutboxWorker
from closures.models import OutboxItem
from closures.store import session_scope
from tests.conftest import FakeClock

CHANNEL = "@riyadh_roads"
POSTS = ("sendPhoto", "sendMessage")


def local_bot(api: LocalBotApi, *, read_timeout: float = 5.0, pool: int = 32, httpx: bool = False) -> Bot:
    """A plain PTB Bot on the local server (no rate limiter: the tests are about the outbox), over the
    bot's own aiohttp transport (``httpx``: PTB's default one)."""
    request: BaseRequest = (
        HTTPXRequest(connection_pool_size=pool, read_timeout=read_timeout, write_timeout=read_timeout)
        if httpx
        else AiohttpRequest(connection_pool_size=pool, read_timeout=read_timeout, media_timeout=read_timeout)
    )
    return Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url, request=request)


def telegram_publishers(bot: Bot) -> dict[str, Publisher]:
    return {"telegram": ChannelPublisher(bot, MapMaker()), "alert": AlertPublisher(bot)}


def worker(
    engine: Engine, clock: FakeClock, publishers: dict[str, Publisher], **options: Any
) -> OutboxWorker:
    options.setdefault("rng", random.Random(7))
    options.setdefault("lease", timedelta(minutes=5))
    return OutboxWorker(engine, publishers, clock=clock, **options)


def rows(engine: Engine, **where: Any) -> list[OutboxItem]:
    with session_scope(engine) as session:
        query = sa.select(OutboxItem).order_by(OutboxItem.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxItem, name) == value)
        return list(session.scalars(query))


def row(engine: Engine, closure_id: int, event: str, destination_kind: str = "telegram") -> OutboxItem:
    (found,) = [
        r
        for r in rows(engine, closure_id=closure_id, event=event)
        if r.destination.startswith(destination_kind)
    ]
    return found


def channel_posts(api: LocalBotApi, chat: str = CHANNEL) -> list[ApiCall]:
    return [c for c in api.calls if c.ok and c.method in POSTS and str(c.chat_id) == chat]
