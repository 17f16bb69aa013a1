"""``build_application``: the python-telegram-bot Application with its handlers (its types: ``bot.context``).

Services are built once in ``main()`` and handed in; ``post_init`` warms them, ``post_shutdown`` closes them.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.context import BotApplication, BotContext
from bot.handlers import conversation_sync, menus, register_all
from bot.handlers.persistence import StorePersistence
from bot.publish import wiring as publishing
from bot.publish.aiohttp_request import AiohttpRequest
from bot.publish.gate import gate_for
from bot.services import Services, flushing

BOT_CONNECTIONS = 128  # concurrent requests to the Bot API: replies and outbox sends together


def build_application(services: Services, *, rate_limit: bool = True) -> BotApplication:
    """The bot, wired to the configured Bot API server, with every handler registered."""
    settings = services.settings
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .persistence(StorePersistence(services.engine, update_interval=settings.conversation_save_s))
    )
    # the bot's requests over aiohttp (a third of httpx's CPU per request: bot.publish.aiohttp_request);
    # long polling keeps PTB's own request
    builder = builder.request(AiohttpRequest(connection_pool_size=BOT_CONNECTIONS))
    # Every request passes the gate: Telegram's limits for the whole bot, flood pauses, the outbox's intent
    # per attempt. A rate limiter changes the builder's bot type; handlers see one BotApplication type.
    built = (
        builder.rate_limiter(gate_for(settings, services.engine)).build() if rate_limit else builder.build()
    )
    application = cast(BotApplication, built)
    application.bot_data["services"] = services
    register_all(application)
    conversation_sync.install(application, services)  # every process sees each conversation's last step
    return application


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    services.listen()  # first: a write landing while the index is built is heard
    await asyncio.to_thread(services.load_zones)
    await asyncio.to_thread(services.queries.refresh)
    await publishing.start(application)  # the outbox worker (off when OUTBOX_WORKER=false)
    await flushing.start(application)  # drivers' last locations, written in batches
    menus.start_menus(application)  # in the background, in one process of many: calls per person and language


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    await menus.stop_menus(application)
    await flushing.stop(application)
    await publishing.stop(application)
    await asyncio.to_thread(services.close)
