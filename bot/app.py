"""``build_application``: the python-telegram-bot Application with its handlers (its types: ``bot.context``).

Services are built once in ``main()`` and handed in; ``post_init`` warms them, ``post_shutdown`` closes them.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.context import BotApplication, BotContext
from bot.handlers import menus, register_all
from bot.handlers.persistence import StorePersistence
from bot.publish import wiring as publishing
from bot.services import Services, flushing


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
    # A rate limiter changes the builder's bot type (ExtBot[int]); handlers see one BotApplication type.
    built = builder.rate_limiter(AIORateLimiter(max_retries=3)).build() if rate_limit else builder.build()
    application = cast(BotApplication, built)
    application.bot_data["services"] = services
    register_all(application)
    return application


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    await asyncio.to_thread(services.load_zones)
    await asyncio.to_thread(services.queries.refresh)
    await publishing.start(application)  # the outbox worker (off when OUTBOX_WORKER=false)
    await flushing.start(application)  # drivers' last locations, written in batches
    await menus.set_driver_menus(application.bot)
    menus.start_staff_menus(application)  # in the background: one call per staff member and language


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    await menus.stop_staff_menus(application)
    await flushing.stop(application)
    await publishing.stop(application)
    await asyncio.to_thread(services.close)
