"""Serving an ASGI app with uvicorn inside an event loop that already runs other things (the bot).

``uvicorn.run`` owns the loop and the signals; here the caller owns both, so the web server starts and
stops in a chosen order next to the Telegram Application, and a test can run it on a free port::

    async with WebServer(app, "127.0.0.1", 0) as server:
        print(server.url)  # ready: the app's startup is done and the socket listens
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp


class WebServerError(Exception):
    """The web server could not start (the port is taken, or the app's startup failed)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        # The process's owner handles SIGINT/SIGTERM and stops us; uvicorn must not take them over.
        yield


class WebServer:
    """One uvicorn server on ``host:port`` (port 0: a free one, read back into ``port``)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._socket: socket.socket | None = None
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` with the port actually bound."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind, run the app's startup, and accept connections; WebServerError when that fails."""
        if self._server is not None:
            raise RuntimeError("the web server is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise WebServerError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5
        )
        config.load()
        server = _Server(config)
        server.lifespan = config.lifespan_class(config)
        try:
            await server.startup(sockets=[sock])
        except SystemExit:  # uvicorn's way of saying the app's startup failed (it logged why)
            sock.close()
            raise WebServerError("the web app failed to start; see the log above") from None
        self._server, self._socket = server, sock
        self._loop_task = asyncio.create_task(server.main_loop(), name="uvicorn-main-loop")

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (up to 5 s), run the app's shutdown."""
        server, sock, task = self._server, self._socket, self._loop_task
        if server is None or sock is None or task is None:
            return
        self._server = self._socket = self._loop_task = None
        server.should_exit = True
        await task
        await server.shutdown(sockets=[sock])
        sock.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
