"""The bot as a long-running process: the Telegram Application and the web server in one event loop.

Start order: the Application (its post_init warms the services and starts the outbox worker), then the web
server, then updates: long polling, or registering the webhook once the server already listens. Stop order
is the reverse: no new updates, the web server drains, the Application finishes what it has, the services
close. A webhook is left registered on stop, since other processes behind the same address may still serve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.routing import BaseRoute
from telegram import Update

from bot.app import build_application
from bot.context import BotApplication
from bot.services import Services
from bot.web.partners import partner_polling
from bot.web.serving import WebServer
from bot.web.site import build_web_app
from bot.web.webhook import WebhookSecrets, register_webhook

log = logging.getLogger("roadbot")


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Started:
    """What a running bot serves: the web server's URL (None without one), the webhook URL registered."""

    web_url: str | None
    webhook_url: str | None


async def run_bot(
    services: Services,
    stop: asyncio.Event,
    *,
    listen: Listen | None,
    webhook_base: str | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    started: Callable[[Started], None] | None = None,
    rate_limit: bool = True,
) -> None:
    """Answer Telegram until ``stop`` is set: by webhook at ``webhook_base`` or by long polling.

    ``listen`` None runs no web server (polling only). ``started`` is told once everything runs.
    """
    if webhook_base and listen is None:
        raise ValueError("webhook mode needs the web server (a listen address)")
    application = build_application(services, rate_limit=rate_limit)
    secrets = WebhookSecrets.from_settings(services.settings) if webhook_base else None
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            await _serve(application, services, stop, listen, webhook_base, secrets, extra_routes, started)
        finally:
            await application.stop()
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def _serve(
    application: BotApplication,
    services: Services,
    stop: asyncio.Event,
    listen: Listen | None,
    webhook_base: str | None,
    secrets: WebhookSecrets | None,
    extra_routes: Sequence[BaseRoute],
    started: Callable[[Started], None] | None,
) -> None:
    server = None
    if listen is not None:
        app = build_web_app(services, application=application, webhook=secrets, extra_routes=extra_routes)
        server = WebServer(app, listen.host, listen.port)
        await server.start()
    updater = application.updater
    try:
        async with _partner_polling(services):
            webhook_url = None
            if webhook_base and secrets is not None:
                webhook_url = await register_webhook(application, webhook_base, secrets)
            else:
                assert updater is not None
                await updater.start_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
            if started is not None:
                started(Started(server.url if server else None, webhook_url))
            await stop.wait()
    finally:
        if updater is not None and updater.running:
            await updater.stop()
        if server is not None:
            await server.stop()


async def serve_web(
    services: Services,
    stop: asyncio.Event,
    *,
    listen: Listen,
    extra_routes: Sequence[BaseRoute] = (),
    started: Callable[[Started], None] | None = None,
) -> None:
    """Serve the map page and the feeds (no Telegram) until ``stop`` is set."""
    services.listen()  # other processes' writes reach the feeds and the map at once (PostgreSQL)
    app = build_web_app(services, extra_routes=extra_routes)
    async with WebServer(app, listen.host, listen.port) as server, _partner_polling(services):
        if started is not None:
            started(Started(server.url, None))
        await stop.wait()


@asynccontextmanager
async def _partner_polling(services: Services) -> AsyncIterator[None]:
    """Poll the partner feeds of the settings (if any) while the body runs, in one process of all those
    sharing the database (``bot.singletons``). On the way out a fetch in flight is cancelled (nothing
    applied yet); an import already applying in its worker thread runs to its end."""
    settings = services.settings
    if not settings.partner_feeds:
        yield
        return
    singleton = partner_polling(
        settings, services.closures, services.engine, emergencies=services.emergencies
    )
    done = asyncio.Event()
    task = asyncio.create_task(singleton.run(done), name="partners")
    try:
        yield
    finally:
        done.set()
        await task
