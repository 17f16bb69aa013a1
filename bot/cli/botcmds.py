"""``roadbot run`` (the bot on Telegram, long polling) and ``roadbot chat`` (the same bot, offline)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, NetworkError

from bot.cli.common import Context
from bot.cli.demo import load_sample_database
from bot.cli.playground import chat_session
from bot.cli.webcmds import add_listen_options, listen_of, until_signalled
from bot.config import Settings
from bot.gc_tuning import settle
from bot.runner import Started, run_bot
from bot.services import Services

EXIT_REFUSED, EXIT_USAGE = 1, 2
NO_TOKEN = "TELEGRAM_BOT_TOKEN is not set; try `roadbot chat` to use the bot offline"
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler")
log = logging.getLogger("roadbot")  # one INFO line per HTTP request is noise


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "run",
        help="run the Telegram bot and its web pages (long polling or webhook; needs TELEGRAM_BOT_TOKEN)",
        description="Answer drivers on Telegram until Ctrl-C or SIGTERM, with TELEGRAM_BOT_TOKEN against "
        "the Bot API at TELEGRAM_BASE_URL (default: Telegram's): by long polling, or with --webhook by "
        "Telegram posting to this server. The same server shows the live map, /health and /metrics. "
        "Logs go to stderr.",
    )
    cmd.add_argument(  # also accepted here, after the command; SUPPRESS keeps `roadbot --database-url X run`
        "--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL (default: $DATABASE_URL)"
    )
    cmd.add_argument(
        "--webhook",
        metavar="URL",
        help="public base URL Telegram should post to, e.g. https://roads.example.org (default: "
        "$WEBHOOK_URL; unset: long polling); updates arrive at URL/telegram/<secret path>",
    )
    add_listen_options(cmd)
    cmd.add_argument("--no-web", action="store_true", help="long polling without the web server")
    cmd.set_defaults(handler=run)
    cmd = commands.add_parser(
        "chat",
        help="try the bot offline: type as a driver, read its replies (no token needed)",
        description="The real bot against an in-process Bot API server, on a fresh SQLite file with the "
        "sample closures (or the file given). Type /start, 24.7136,46.6753, loc LAT LON, live LAT LON, "
        "live stop, venue LAT LON NAME, press N, quit. Lines may be piped in.",
    )
    cmd.add_argument("--as-staff", action="store_true", help="chat as staff of Riyadh")
    cmd.add_argument("--lang", choices=("ar", "en"), help="your Telegram language (default: ar)")
    cmd.add_argument(
        "--database",
        metavar="PATH",
        help="SQLite file to use; created with the sample data if missing (default: a temporary one)",
    )
    cmd.set_defaults(handler=chat)


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Serve Telegram (and the web pages) until Ctrl-C or SIGTERM; the stop is clean and exits 0."""
    settings = ctx.settings
    if settings.telegram_bot_token is None:
        print(f"roadbot: {NO_TOKEN}", file=sys.stderr)
        return EXIT_USAGE
    webhook = args.webhook or settings.webhook_url
    if webhook and args.no_web:
        print("roadbot: --webhook needs the web server; drop --no-web", file=sys.stderr)
        return EXIT_USAGE
    if webhook and not webhook.startswith(("https://", "http://")):
        print(f"roadbot: bad input: --webhook must be an https:// URL, not {webhook!r}", file=sys.stderr)
        return EXIT_USAGE
    listen = None if args.no_web else listen_of(ctx, args)
    ctx.ready_engine().dispose()  # NotInitialised → exit 3, before anything is started
    try:
        # Ask once before starting, so a wrong token or an unreachable server is one line, not a traceback.
        username = asyncio.run(_get_me(settings))
        _log_to_stderr(verbose=args.verbose)
        services = Services.build(settings)

        def announce(started: Started) -> None:
            settled = settle()  # start-up is done: no collector pass over it again (bot.gc_tuning)
            log.info("froze %d start-up objects out of the garbage collector's passes", settled.frozen)
            # The path is a secret too: logs name only the public address.
            how = f"webhook at {webhook}/telegram/…" if started.webhook_url else "long polling"
            log.info("answering as @%s (%s) through %s", username, how, settings.telegram_base_url)
            if started.web_url:
                log.info("the map of closures is at %s/", started.web_url)

        return until_signalled(
            lambda stop: run_bot(services, stop, listen=listen, webhook_base=webhook, started=announce)
        )
    except InvalidToken:
        print("roadbot: bad configuration: the Bot API refused TELEGRAM_BOT_TOKEN", file=sys.stderr)
        return EXIT_USAGE
    except NetworkError as exc:
        print(f"roadbot: cannot reach the Bot API at {settings.telegram_base_url}: {exc}", file=sys.stderr)
        return EXIT_REFUSED


async def _get_me(settings: Settings) -> str:
    """The bot's username, as the Bot API knows it (InvalidToken, NetworkError when it cannot say)."""
    assert settings.telegram_bot_token is not None
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
    )
    async with bot:  # initialising the Bot calls getMe
        return bot.username


def _log_to_stderr(*, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def chat(ctx: Context, args: argparse.Namespace) -> None:
    """Prepare the database, then play stdin's lines against the bot until ``quit`` or end of input."""
    lang = args.lang or ctx.settings.default_language
    if args.database:
        _chat_on(_prepared(ctx.settings, Path(args.database)), lang, args.as_staff)
        return
    with tempfile.TemporaryDirectory(prefix="roadbot-chat-") as tmp:
        _chat_on(_prepared(ctx.settings, Path(tmp) / "chat.sqlite"), lang, args.as_staff)


def _prepared(settings: Settings, path: Path) -> Settings:
    """Settings on ``path``: an existing, initialised file as it is, else a new one with the sample data."""
    if path.exists():
        ctx = Context(settings.model_copy(update={"database_url": f"sqlite:///{path}"}))
        ctx.ready_engine()
    else:
        ctx, _ = load_sample_database(settings, path)
    ctx.engine.dispose()
    return ctx.settings


def _chat_on(settings: Settings, lang: str, as_staff: bool) -> None:
    echo = not sys.stdin.isatty()  # a piped script: repeat each line so the transcript reads well
    asyncio.run(chat_session(_stdin_lines(), sys.stdout, settings, lang=lang, as_staff=as_staff, echo=echo))


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin, read by a daemon thread (a terminal, a pipe or a file; never blocks exit)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        with suppress(RuntimeError):  # the loop closed first: the chat is over
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="roadbot-chat-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        yield line
