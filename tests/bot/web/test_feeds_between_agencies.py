"""Two agencies running this bot: A serves its feeds with uvicorn on 127.0.0.1, B polls one of them into its
own registry. B gets A's closures, an unchanged feed costs B a 304, and a closure A lifts is lifted at B.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.applications import Starlette

from bot.config import Settings
from bot.services import Services
from bot.web.feed_routes import feed_routes
from bot.web.partners import PartnerPoller
from closures.formats.geojson import read_municipalities
from closures.models import Closure, Municipality
from closures.service import ClosureService
from closures.store import make_engine, session_scope
from tests.closures.feeds_support import SYSTEM, load_variety
from tests.conftest import DATA

REFS = {"t-point", "t-line-open-end", "t-area", "t-multiline", "t-multiarea", "t-southbound"}


@pytest.fixture
def agency_a(engine, clock, municipalities) -> Iterator[Services]:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    services = Services.build(settings, clock=clock)
    load_variety(services.closures, clock)
    yield services
    services.close()


@pytest.fixture
async def served(agency_a) -> AsyncIterator[str]:
    """A's feeds on a real uvicorn server in this event loop; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # bound before the server starts: early connections wait in the backlog
    config = uvicorn.Config(Starlette(routes=feed_routes(agency_a)), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)
    sock.close()


@pytest.fixture
def registry_b(tmp_path, sqlite_template) -> Iterator[Engine]:
    """Agency B's own database (SQLite), with the same municipalities."""
    path = tmp_path / "agency-b.sqlite"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as session:
        for item in read_municipalities((DATA / "municipalities.geojson").read_text(encoding="utf-8")):
            session.add(Municipality(**{k: getattr(item, k) for k in item.__slots__}))
    yield engine
    engine.dispose()


def _at_b(engine: Engine) -> dict[str, tuple[str, str]]:
    with session_scope(engine) as session:
        return {c.ref: (c.status, c.source) for c in session.exec(select(Closure))}


@pytest.mark.parametrize(
    ("fmt", "path"),
    [("wzdx", "/feeds/wzdx.json"), ("cifs", "/feeds/waze.json"), ("cifs", "/feeds/waze.xml"),
     ("geojson", "/feeds/closures.geojson")],
)  # fmt: skip
async def test_b_follows_a_through_its_feed(agency_a, served, registry_b, clock, fmt, path):
    settings = Settings(
        partner_feeds=[{"url": served + path, "format": fmt, "municipality": "riyadh", "interval_s": 60}]
    )
    poller = PartnerPoller(settings, ClosureService(registry_b, clock=clock))

    [first] = await poller.poll_all()
    assert first.error is None
    assert (first.report.added, first.report.rejected) == (6, [])
    source = f"{fmt}:127.0.0.1"
    assert _at_b(registry_b) == {ref: ("open", source) for ref in REFS}

    [second] = await poller.poll_all()
    assert second.not_modified, "A's feed did not change: B's conditional request got a 304"

    with session_scope(agency_a.engine) as session:
        point = session.exec(select(Closure).where(Closure.ref == "t-point")).one()
    agency_a.closures.lift(point.id, SYSTEM)
    [third] = await poller.poll_all()
    assert (third.not_modified, third.report.removed, third.report.added) == (False, 1, 0)
    assert _at_b(registry_b)["t-point"] == ("lifted", source)
    assert sum(status == "open" for status, _ in _at_b(registry_b).values()) == 5
