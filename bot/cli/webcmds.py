"""``roadbot serve`` (the map page, feeds, /health and /metrics, no Telegram) and what ``run`` shares with it:
the listen options, and running until Ctrl-C or SIGTERM with a clean stop."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot.cli.common import CliError, Context
from bot.gc_tuning import settle
from bot.runner import Listen, Started, serve_web
from bot.services import Services
from bot.web.serving import WebServerError

EXIT_REFUSED = 1


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "serve",
        help="serve the live map of closures, /health and /metrics over HTTP (no Telegram token needed)",
        description="Serve the web pages of the registry until Ctrl-C or SIGTERM: the live map at /, the "
        "feeds, /health and /metrics. Prints the address once it listens.",
    )
    cmd.add_argument(  # also accepted after the command; SUPPRESS keeps `roadbot --database-url X serve`
        "--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL (default: $DATABASE_URL)"
    )
    add_listen_options(cmd)
    cmd.add_argument("--json", action="store_true", help="print the address as one JSON object")
    cmd.set_defaults(handler=serve)


def add_listen_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--host", help="address to listen on (default: $WEB_HOST or 127.0.0.1)")
    cmd.add_argument(
        "--port", type=int, help="port to listen on; 0 picks a free one (default: $WEB_PORT or 8080)"
    )


def listen_of(ctx: Context, args: argparse.Namespace) -> Listen:
    settings = ctx.settings
    port = settings.web_port if args.port is None else args.port
    if not 0 <= port <= 65_535:
        raise CliError(f"--port must be 0 to 65535, not {port}")
    return Listen(args.host or settings.web_host, port)


def serve(ctx: Context, args: argparse.Namespace) -> int:
    """Serve until stopped; exit 1 in one line when the address cannot be listened on."""
    ctx.ready_engine().dispose()  # NotInitialised → exit 3, before anything is started
    listen = listen_of(ctx, args)
    services = Services.build(ctx.settings)

    def announce(started: Started) -> None:
        settle()  # start-up is done: no collector pass over it again (bot.gc_tuning)
        if args.json:
            print(json.dumps({"url": f"{started.web_url}/"}), flush=True)
        else:
            print(f"Serving the map of road closures at {started.web_url}/ (Ctrl-C to stop)", flush=True)

    try:
        return until_signalled(lambda stop: serve_web(services, stop, listen=listen, started=announce))
    finally:
        services.close()


def until_signalled(run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> int:
    """Run ``run(stop)`` in a new event loop; SIGINT or SIGTERM sets ``stop``. 0, or 1 if it cannot serve."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(stop)

    try:
        asyncio.run(main())
    except WebServerError as exc:
        print(f"roadbot: {exc}; choose another with --port (or $WEB_PORT)", file=sys.stderr)
        return EXIT_REFUSED
    return 0
