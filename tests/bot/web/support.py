"""Running the whole bot (``bot.runner.run_bot``) in the test's event loop, and speaking to its webhook."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from bot.localapi import FakeUser, LocalBotApi
from bot.runner import Listen, Started, run_bot
from bot.services import Services


def free_port() -> int:
    """A port nothing listens on now (for a server whose public URL must be known before it starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_instance(
    services: Services, *, port: int, webhook_base: str | None
) -> AsyncIterator[Started]:
    """One bot process's worth: Application + web server on ``port``; stopped (and services closed) after."""
    stop, ready = asyncio.Event(), asyncio.Event()
    seen: list[Started] = []

    def started(what: Started) -> None:
        seen.append(what)
        ready.set()

    task = asyncio.create_task(
        run_bot(
            services,
            stop,
            listen=Listen("127.0.0.1", port),
            webhook_base=webhook_base,
            started=started,
            rate_limit=False,
        )
    )
    waiting = asyncio.ensure_future(ready.wait())
    await asyncio.wait({task, waiting}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # raises what made it stop
        raise RuntimeError("the bot stopped before it started")
    try:
        yield seen[0]
    finally:
        stop.set()
        await task


def unsent_update(api: LocalBotApi, user: FakeUser, text: str, update_id: int) -> dict[str, Any]:
    """An update as Telegram would post it, for a message stored on the local Bot API but not queued there
    (so that the test, not the server, decides where it is posted)."""
    chat = api.register_chat(user.as_private_chat())
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    message = api.store_message(chat, user.as_user(), content)
    return {"update_id": update_id, "message": message}
