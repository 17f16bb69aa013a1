"""Polling a partner's feed from a server on 127.0.0.1 whose feed changes between polls, and whose failures
(500, no answer, garbage, too large) are logged, lose nothing, and leave the next poll to work.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.web.partners import PartnerPoller, PollResult, poll_partners
from closures.formats.cifs import cifs_xml
from closures.models import Closure, ClosureEvent
from closures.service import ClosureService
from closures.store import make_engine, session_scope
from tests.closures.conftest import KING_FAHD, counts
from tests.closures.feeds_support import load_variety, snapshot_of
from tests.fakes.partner_feed import PartnerFeedServer

SOURCE = "wzdx:127.0.0.1"


def event(
    ref: str, *, start: str, end: str, title: str = "أعمال على طريق الملك فهد", impact="all-lanes-closed"
):
    """One WZDx 4.2 road event on King Fahd Road, as a partner agency would publish it."""
    return {
        "id": ref,
        "type": "Feature",
        "properties": {
            "core_details": {"data_source_id": "partner", "event_type": "work-zone", "road_names": [title],
                             "direction": "northbound", "description": "Resurfacing"},
            "start_date": start, "end_date": end,
            "is_start_date_verified": True, "is_end_date_verified": True,
            "is_start_position_verified": False, "is_end_position_verified": False,
            "location_method": "other", "vehicle_impact": impact,
        },
        "geometry": {"type": "LineString", "coordinates": [list(c) for c in KING_FAHD.coords]},
    }  # fmt: skip


def wzdx(*events: dict) -> bytes:
    info = {"publisher": "Partner", "version": "4.2", "update_date": "2026-11-27T09:00:00Z",
            "data_sources": [{"data_source_id": "partner", "organization_name": "Partner"}]}  # fmt: skip
    return json.dumps({"feed_info": info, "type": "FeatureCollection", "features": list(events)}).encode()


A = event("pa-1", start="2026-11-27T08:00:00Z", end="2026-11-27T18:00:00Z")  # running at 09:00
B = event("pa-2", start="2026-11-28T06:00:00Z", end="2026-11-28T10:00:00Z", impact="some-lanes-closed")


@pytest.fixture
def server() -> Iterator[PartnerFeedServer]:
    with PartnerFeedServer().running() as running:
        yield running


@pytest.fixture
def service(engine, clock, municipalities) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations={"telegram": ["@roads"], "x": None})


def poller(server, service, fmt="wzdx", **extra) -> PartnerPoller:
    settings = Settings(
        partner_feeds=[{"url": server.url(), "format": fmt, "municipality": "riyadh", "interval_s": 60}],
        partner_timeout_s=0.5,
        partner_max_bytes=1024 * 1024,
    )
    return PartnerPoller(settings, service, **extra)


def _state(engine) -> dict[str, tuple[str, str]]:
    with session_scope(engine) as session:
        return {c.ref: (c.status, c.source) for c in session.exec(select(Closure))}


def _actors(engine) -> set[str]:
    with session_scope(engine) as session:
        return {e.actor for e in session.exec(select(ClosureEvent))}


async def test_a_changing_feed_is_followed_poll_by_poll(server, service, engine, clock):
    polling = poller(server, service)
    server.body = wzdx(A, B)
    [first] = await polling.poll_all()
    assert first.error is None
    assert (first.report.added, first.report.rejected) == (2, [])
    assert _state(engine) == {"pa-1": ("open", SOURCE), "pa-2": ("open", SOURCE)}

    again = (await polling.poll_all())[0].report
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    settled = counts(engine)

    later = event(
        "pa-2", start="2026-11-28T06:00:00Z", end="2026-11-28T14:00:00Z", impact="some-lanes-closed"
    )
    server.body = wzdx(later)  # pa-2 runs longer; pa-1 is gone from the feed: the road reopened
    third = (await polling.poll_all())[0].report
    assert (third.updated, third.removed) == (1, 1)
    assert _state(engine)["pa-1"] == ("lifted", SOURCE)
    assert counts(engine).events == settled.events + 2
    assert counts(engine).outbox > settled.outbox, "the update and the lift are posted like any edit"
    assert _actors(engine) == {"poll"}

    fourth = (await polling.poll_all())[0].report
    assert not fourth.changed
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    ("mode", "body", "error"),
    [
        ("error", b"", "HTTP 500"),
        ("slow", b"", "no answer within 0.5 s"),
        ("ok", b"<html><body>Service temporarily unavailable</body></html>", "unreadable feed"),
        ("ok", b'{"features": [{"id": "x"}]}', "unreadable feed"),
        ("huge", b"", "larger than 1.0 MB"),
        ("chunked-huge", b"", "larger than 1.0 MB"),
    ],
)
async def test_a_failed_poll_is_logged_loses_nothing_and_the_next_one_works(
    server, service, engine, caplog, mode, body, error
):
    polling = poller(server, service)
    server.body = wzdx(A, B)
    await polling.poll_all()
    before = (counts(engine), _state(engine))

    server.mode, server.body = mode, body
    with caplog.at_level(logging.WARNING, logger="bot.web.partners"):
        [failed] = await polling.poll_all()
    assert failed.report is None
    assert error in failed.error
    assert (counts(engine), _state(engine)) == before, "nothing lifted, nothing written"
    assert any(error in r.getMessage() and "nothing changed" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records), "a clear line, not a traceback"

    server.mode, server.body = "ok", wzdx(A)
    [recovered] = await polling.poll_all()
    assert recovered.error is None
    assert recovered.report.removed == 1


async def test_an_event_outside_the_municipality_is_refused_and_logged_the_rest_applied(
    server, service, engine, caplog
):
    stray = event("pa-far", start="2026-11-27T08:00:00Z", end="2026-11-27T18:00:00Z")
    stray["geometry"]["coordinates"] = [[39.17, 21.54], [39.18, 21.55]]  # Jeddah
    server.body = wzdx(A, stray)
    with caplog.at_level(logging.WARNING, logger="bot.web.partners"):
        [result] = await poller(server, service).poll_all()
    assert result.report.added == 1
    assert [r["ref"] for r in result.report.rejected] == ["pa-far"]
    assert any(
        "pa-far" in r.getMessage() and "outside_municipality" in r.getMessage() for r in caplog.records
    )


async def test_a_cifs_xml_partner_is_polled_too(server, service, engine, clock):
    other = ClosureService(engine, clock=clock)  # the partner's own closures, exported as Waze XML
    load_variety(other, clock)
    server.body, server.content_type = (
        cifs_xml(snapshot_of(other, clock).items, as_of=clock.now),
        "application/xml",
    )
    with session_scope(engine) as session:  # start from an empty registry: only the partner's feed
        for c in session.exec(select(Closure)):
            c.ref = f"old-{c.ref}"
            c.status = "cancelled"
    [result] = await poller(server, service, fmt="cifs").poll_all()
    assert result.error is None
    assert result.report.added == 6
    assert {s for r, (_, s) in _state(engine).items() if not r.startswith("old-")} == {"cifs:127.0.0.1"}


async def test_run_polls_at_once_then_on_its_interval_until_stopped(server, service, ticks):
    server.body = wzdx(A)
    results: list[PollResult] = []
    polled = asyncio.Event()

    def seen(result: PollResult) -> None:
        results.append(result)
        polled.set()

    polling = poller(server, service, monotonic=ticks, on_result=seen)
    stop = asyncio.Event()
    task = asyncio.create_task(polling.run(stop))
    await asyncio.wait_for(polled.wait(), timeout=10)
    assert len(results) == 1, "the next poll is a minute away on the (stopped) monotonic clock"
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert results[0].report.added == 1
    assert len(server.requests) == 1


def test_partner_feeds_come_from_json_in_the_environment(monkeypatch):
    monkeypatch.setenv(
        "PARTNER_FEEDS",
        '[{"url": "https://partner.example/wzdx.json", "format": "wzdx", "municipality": "riyadh"}]',
    )
    [feed] = Settings().partner_feeds
    assert (feed.format, feed.municipality, feed.interval_s, feed.source) == ("wzdx", "riyadh", 300.0, None)
    monkeypatch.setenv("PARTNER_FEEDS", '[{"url": "ftp://x", "format": "wzdx", "municipality": "riyadh"}]')
    with pytest.raises(ValueError, match="url"):
        Settings()


async def test_a_database_problem_is_a_failed_poll_not_a_crash(server, tmp_path, clock, caplog):
    broken = ClosureService(make_engine(f"sqlite:///{tmp_path}"), clock=clock)  # a directory: cannot open
    server.body = wzdx(A)
    with caplog.at_level(logging.WARNING, logger="bot.web.partners"):
        [result] = await poller(server, broken).poll_all()
    assert result.report is None
    assert "database problem: unable to open database file" in result.error
    assert any("nothing changed" in r.getMessage() for r in caplog.records)


async def test_poll_partners_returns_at_once_without_feeds_and_stops_when_told(server, service):
    await asyncio.wait_for(poll_partners(Settings(partner_feeds=[]), service, asyncio.Event()), timeout=10)
    stop = asyncio.Event()
    stop.set()
    settings = Settings(partner_feeds=[{"url": server.url(), "format": "wzdx", "municipality": "riyadh"}])
    await asyncio.wait_for(poll_partners(settings, service, stop), timeout=10)
    assert server.requests == [], "stopped before the first poll"
