"""python-telegram-bot's HTTP layer on aiohttp instead of httpx: the same requests for a third of the CPU.

Profiling the outbox drain showed most of each send's time in httpx and httpcore (whose pool scans every
connection, asking each socket whether it is readable, for every request); aiohttp — already here for
tweepy and the local servers — sends the same request, answer and multipart upload 2–3× cheaper. PTB
takes any :class:`telegram.request.BaseRequest`; this one keeps PTB's error contract, and the cause of
every failure (``__cause__``), which the publishers read to tell "never sent" from "in doubt":

- no connection could be had or made in time (the pool was full, the server refused, the name did not
  resolve): :class:`aiohttp.ClientConnectorError` / :class:`aiohttp.ConnectionTimeoutError` — not sent;
- the answer did not come in time, or the connection broke after the request was written — in doubt.

Timeouts are per attempt and start when the request starts, never while it waits in our own limiter.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """A PTB request object over one aiohttp session with ``connection_pool_size`` connections."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_timeout: float | None = 20.0,
    ) -> None:
        self._pool = connection_pool_size
        self._read = read_timeout
        self._connect = connect_timeout
        self._pool_timeout = pool_timeout
        self._media = media_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool, limit_per_host=self._pool, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}, auto_decompress=True
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = _given(read_timeout, self._read)
        if files:  # an upload: writing it may take longer than an answer takes to come
            read = max(read or 0.0, _given(write_timeout, self._media) or 0.0) or None
        connect, pool = _given(connect_timeout, self._connect), _given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=(connect or 0.0) + (pool or 0.0) or None,  # a free connection, then connecting
            sock_connect=connect,
            sock_read=read,
        )
        body: Any = None
        headers = None
        if files:
            body = _form(request_data) if request_data is not None else None
        elif request_data is not None:
            # One JSON body, as the Bot API takes any request without an upload: aiohttp's own form
            # encoding builds a multipart writer (and a random boundary) for every call, a tenth of a send.
            body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            headers = _JSON
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut(f"aiohttp.{type(err).__name__}: {err}") from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


def _given(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _form(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, part in request_data.multipart_data.items():
        filename, content, *rest = part
        if not isinstance(content, bytes):
            content = content.read()
        form.add_field(name, content, filename=filename, content_type=rest[0] if rest else None)
    return form
