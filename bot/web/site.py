"""The whole site as one Starlette app: the map, the feeds (CAP's among them), /health and /metrics,
Telegram's webhook (when the bot runs by webhook), the staff's map editor (a Telegram Mini App, when the bot
runs here with WEBAPP_URL) and the static files, each route list built by the module that owns it.

``bot.web.serving.WebServer`` serves the app inside the bot's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bot.context import BotApplication
from bot.services import Services
from bot.web.cap_routes import cap_routes
from bot.web.editor_routes import editor_routes
from bot.web.feed_routes import FeedEndpoints, feed_routes
from bot.web.health import CountRequests, WebMetrics, health_routes
from bot.web.map_routes import map_routes
from bot.web.webhook import WebhookSecrets, webhook_routes

STATIC = Path(__file__).with_name("static")


def build_web_app(
    services: Services,
    *,
    application: BotApplication | None = None,
    webhook: WebhookSecrets | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The web app over ``services``; with an ``application`` and ``webhook`` also Telegram's webhook, and
    with an ``application`` and ``WEBAPP_URL`` the map editor.

    ``extra_routes`` are served next to ours. The app does not close ``services``.
    """
    metrics = WebMetrics(services)
    feeds = FeedEndpoints(services)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The bot's post_init does the same; without a bot (`roadbot serve`) nobody else would.
        await asyncio.to_thread(services.load_zones)
        async with metrics.loop_lag_monitor():  # the loop the bot shares with us, for /metrics
            yield

    routes: list[BaseRoute] = [
        *map_routes(services),
        *health_routes(services, metrics),
        *webhook_routes(application, webhook, counted=metrics.webhook_counted),
        *editor_routes(services, application),  # the Mini App map editor, with WEBAPP_URL
        *feed_routes(services, feeds),
        *cap_routes(services, feeds),
        *extra_routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(CountRequests, metrics=metrics)])
    app.state.metrics = metrics
    return app
