"""The HTTP side: ``POST {base_url}{token}/{method}`` and ``GET {base_file_url}{token}/{path}`` on aiohttp.

It records every call, can fail or slow the next calls of a method (to test the bot's retries) and lets a
test wait for a call without sleeping.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import socket
import time
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.localapi.calls import ApiCall, CallLog
from bot.localapi.methods import ChatMethods
from bot.localapi.pins import PinMethods
from bot.localapi.polling import UpdateDelivery
from bot.localapi.state import JSON, ApiError
from bot.localapi.users import SimulatedUsers
from bot.localapi.wire import answer, read_params

_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
}


class LocalBotApi(CallLog, UpdateDelivery, ChatMethods, PinMethods, SimulatedUsers):
    """A Telegram Bot API server on localhost that a real PTB ``Application`` can poll.

    Point PTB at it with ``.token(api.token).base_url(api.base_url).base_file_url(api.base_file_url)``;
    simulate people with the ``user_*`` methods; assert on ``calls`` / :meth:`wait_for`.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_username: str = "roadclosure_test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(token, bot_username)
        self.host = host
        self.port = port
        self._faults: dict[str, list[ApiError | None]] = {}  # None: that call is answered as usual
        self._delays: dict[str, list[float]] = {}
        self._runner: web.AppRunner | None = None
        self.arrivals: dict[str, int] = {}  # requests per method as they arrive, before any delay
        self._arrived = asyncio.Condition()

    # lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on ``host:port`` (port 0: a free one, read back into ``self.port``)."""
        if self._runner is not None:
            raise RuntimeError("the local Bot API is already running")
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._closing = False
        self._runner = runner

    async def stop(self) -> None:
        """Answer waiting getUpdates with [] and close the server."""
        if self._runner is None:
            return
        self._closing = True
        self._updates_event.set()
        await self.stop_delivery()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url``: ``http://127.0.0.1:PORT/bot``."""
        return f"http://{self.host}:{self._live_port()}/bot"

    @property
    def base_file_url(self) -> str:
        """For PTB's ``base_file_url``: ``http://127.0.0.1:PORT/file/bot``."""
        return f"http://{self.host}:{self._live_port()}/file/bot"

    def _live_port(self) -> int:
        if self._runner is None:
            raise RuntimeError("start() the local Bot API first")
        return self.port

    # faults --------------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = 1,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Refuse the next ``times`` calls of ``method`` (once ``after`` more have been answered as usual);
        by default 429 "retry after 1" like Telegram. Calls queue up: ``fail_next`` twice, both apply."""
        if description is None:
            reason = _STATUS_TEXT.get(status, "Internal Server Error")
            description = (
                f"Too Many Requests: retry after {retry_after}" if status == 429 and retry_after else reason
            )
        error = ApiError(status, description, retry_after=retry_after if status == 429 else None)
        self._faults.setdefault(canonical_method(method), []).extend([None] * after + [error] * times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1, after: int = 0) -> None:
        """Answer the next ``times`` calls of ``method`` (once ``after`` more have been answered at once)
        only after ``seconds`` (a slow Telegram)."""
        self._delays.setdefault(canonical_method(method), []).extend([0.0] * after + [seconds] * times)

    async def wait_for_arrival(self, method: str, n: int = 1, *, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Until ``n`` requests of ``method`` have arrived (answered or not yet: a delayed one counts)."""
        name = canonical_method(method)
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: self.arrivals.get(name, 0) >= n)

    # HTTP ----------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            if token != self.token:
                return answer(ApiError(401, "Unauthorized").payload(), 401)
            stored = self.file_by_path(file_path)
            if stored is None:
                return answer(ApiError(404, "Not Found").payload(), 404)
            return web.Response(body=stored.content, content_type="application/octet-stream")
        token, _, method = path.removeprefix("/bot").partition("/")
        if not path.startswith("/bot") or not method:
            return answer(ApiError(404, "Not Found").payload(), 404)
        if token != self.token:
            return answer(ApiError(401, "Unauthorized").payload(), 401)
        try:
            params = await read_params(request)
        except ValueError as exc:
            return answer(ApiError(400, f"Bad Request: {exc}").payload(), 400)
        return await self._call(method, params)

    async def _call(self, method: str, params: JSON) -> web.Response:
        at, wall = time.monotonic(), time.time()
        result: Any = None
        try:
            try:
                name = canonical_method(method)
            except ValueError:
                name = method
                raise ApiError(404, "Not Found") from None
            async with self._arrived:
                self.arrivals[name] = self.arrivals.get(name, 0) + 1
                self._arrived.notify_all()
            if self._delays.get(name) and (delay := self._delays[name].pop(0)):
                await asyncio.sleep(delay)
            if self._faults.get(name) and (fault := self._faults[name].pop(0)) is not None:
                raise fault
            result = getattr(self, f"_api_{name}")(params)
            if inspect.isawaitable(result):
                result = await result
            body: JSON = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            body, status = exc.payload(), exc.status
        except (TypeError, ValueError, KeyError) as exc:  # malformed parameters
            body, status = ApiError(400, f"Bad Request: {exc}").payload(), 400
        error = None if body["ok"] else {k: v for k, v in body.items() if k != "ok"}
        call = ApiCall(name, params, at, copy.deepcopy(result) if body["ok"] else None, error, wall)
        await self.record(call)
        return answer(body, status)


METHOD_NAMES: dict[str, str] = {
    name[5:].lower(): name[5:] for name in dir(LocalBotApi) if name.startswith("_api_")
}
"""Telegram method names are case-insensitive: lower-case name → exact name."""


def canonical_method(name: str) -> str:
    """The exact name of a known method (``"sendmessage"`` → ``"sendMessage"``), else ValueError."""
    try:
        return METHOD_NAMES[name.lower()]
    except KeyError:
        known = ", ".join(sorted(METHOD_NAMES.values()))
        raise ValueError(f"the local Bot API has no method {name!r}; it knows {known}") from None
