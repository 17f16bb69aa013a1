"""``WebServer``: uvicorn in the caller's event loop, ready when ``start`` returns, failing in one line."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.web.serving import WebServer, WebServerError


def slow_app(release: asyncio.Event, entered: asyncio.Event) -> Starlette:
    async def slow(request: Request) -> Response:
        entered.set()
        await release.wait()
        return PlainTextResponse("finished")

    return Starlette(routes=[Route("/slow", slow)])


async def test_stop_lets_a_request_in_flight_finish():
    release, entered = asyncio.Event(), asyncio.Event()
    server = WebServer(slow_app(release, entered))
    await server.start()
    async with httpx.AsyncClient(timeout=10) as client:
        request = asyncio.ensure_future(client.get(f"{server.url}/slow"))
        await entered.wait()
        stopping = asyncio.ensure_future(server.stop())
        done, _ = await asyncio.wait({stopping}, timeout=0.5)
        assert not done  # stopping waits for the request in flight
        release.set()
        response = await request
        await stopping

    assert response.text == "finished"
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", server.port))
        probe.listen()


async def test_an_app_whose_startup_fails_is_a_web_server_error():
    @asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(WebServerError, match="failed to start"):
        await WebServer(Starlette(lifespan=broken)).start()


async def test_a_taken_port_is_a_web_server_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(WebServerError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            await WebServer(Starlette(), "127.0.0.1", taken.getsockname()[1]).start()
