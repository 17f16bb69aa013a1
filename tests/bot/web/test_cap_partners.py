"""Polling a met service's CAP feed from a server on 127.0.0.1: an Atom index linking to one alert and
embedding another becomes drafts for the staff (nothing published); the next poll of an unchanged feed
costs 304s; a Cancel added to the feed withdraws the draft; failures of the feed, of a linked alert, and
hostile documents are reported and change nothing else."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.config import Settings
from bot.web.partners import PartnerPoller
from closures.emergencies import EmergencyService
from closures.emergency_models import Emergency
from closures.models import OutboxItem, Staff
from closures.service import ClosureService
from closures.store import session_scope
from tests.closures.cap_support import sample
from tests.fakes.partner_feed import PartnerFeedServer

RIYADH_STAFF = 1001
ALERT_PATH = "/feeds/alerts/NCM-RYD-2026-11-27-0042.xml"


@pytest.fixture
def server() -> Iterator[PartnerFeedServer]:
    with PartnerFeedServer().running() as running:
        running.content_type = "application/atom+xml"
        running.paths = {
            "/feeds/cap.atom": sample("ncm_feed.atom"),
            ALERT_PATH: sample("ncm_flood_riyadh.xml"),
        }
        yield running


@pytest.fixture
def emergencies(engine, clock, municipalities) -> EmergencyService:
    with session_scope(engine) as session:
        session.add(
            Staff(telegram_user_id=RIYADH_STAFF, municipality_id=municipalities["riyadh"].id, added_by="t")
        )
    closures = ClosureService(engine, clock=clock, destinations={"telegram": ["@roads"], "x": None})
    return EmergencyService(engine, clock=clock, closures=closures)


def _poller(server, emergencies, **feed) -> PartnerPoller:
    settings = Settings(
        partner_feeds=[{"url": server.url("/feeds/cap.atom"), "format": "cap", "interval_s": 60} | feed],
        partner_timeout_s=0.5,
        partner_max_bytes=256 * 1024,
    )
    return PartnerPoller(settings, emergencies.closures, emergencies=emergencies)


def _drafts(engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.scalars(sa.select(Emergency).order_by(Emergency.id))
        return [(e.source_identifier or "", e.state, e.hazard) for e in rows]


def _outbox(engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(sa.select(OutboxItem.destination).order_by(OutboxItem.id)))


async def test_a_cap_feed_is_drafted_for_the_staff_and_nothing_is_published(server, emergencies, engine):
    [result] = await _poller(server, emergencies).poll_all()
    assert result.error is None
    assert result.source == "cap:127.0.0.1"
    assert result.report.drafted == 2, "the linked flood alert and the embedded dust alert"
    assert _drafts(engine) == [  # oldest first: the flood alert was sent five minutes before the dust
        ("NCM-RYD-2026-11-27-0042", "draft", "flood"),
        ("NCM-RYD-2026-11-27-0050", "draft", "sandstorm"),
    ]
    assert set(_outbox(engine)) == {f"cap-staff:{RIYADH_STAFF}"}, "the staff are told; nothing else"
    assert ALERT_PATH in server.requests, "the linked alert was fetched from the partner"
    [(entry, why)] = [(r["alert"], r["error"]) for r in result.report.rejected]
    assert entry == "urn:ncm:notice:weekly-outlook"
    assert why == "neither embeds a CAP alert nor links to one"


async def test_an_unchanged_feed_and_its_alerts_cost_304s_the_next_time(server, emergencies, engine):
    server.etags = True
    poller = _poller(server, emergencies)
    await poller.poll_all()
    before = (_drafts(engine), _outbox(engine))
    [again] = await poller.poll_all()
    assert again.not_modified
    assert server.not_modified == ["/feeds/cap.atom"]
    server.paths["/feeds/cap.atom"] += b"\n"  # the index changes; the linked alert does not
    [third] = await poller.poll_all()
    assert third.error is None
    assert ALERT_PATH in server.not_modified, "the linked alert itself was not fetched again"
    assert (_drafts(engine), _outbox(engine)) == before


async def test_a_cancel_added_to_the_feed_withdraws_the_draft(server, emergencies, engine, clock):
    poller = _poller(server, emergencies)
    await poller.poll_all()
    cancel = sample("ncm_flood_riyadh_cancel.xml").split(b"?>", 1)[1].split(b"-->", 1)[1]
    server.paths["/feeds/cap.atom"] = sample("ncm_feed.atom").replace(
        b"</feed>",
        b"<entry><id>urn:ncm:alert:0044</id><title>x</title><updated>2026-11-27T13:00:00Z</updated>"
        b'<content type="application/cap+xml">' + cancel + b"</content></entry></feed>",
    )
    [result] = await poller.poll_all()
    assert result.report.withdrawn == 1
    assert ("NCM-RYD-2026-11-27-0042", "discarded", "flood") in _drafts(engine)


async def test_a_feed_followed_for_one_municipality_drafts_only_there(server, emergencies, engine):
    [result] = await _poller(server, emergencies, municipality="jeddah").poll_all()
    assert result.error is None
    assert result.report.drafted == 0
    assert [o["alert"] for o in result.report.outside] == [
        "alerts@ncm.example.sa NCM-RYD-2026-11-27-0042",
        "alerts@ncm.example.sa NCM-RYD-2026-11-27-0050",
    ]
    assert _drafts(engine) == []


async def test_a_linked_alert_that_fails_is_reported_and_the_rest_applied(server, emergencies, engine):
    server.failing = {ALERT_PATH}
    [result] = await _poller(server, emergencies).poll_all()
    assert result.error is None
    assert result.report.drafted == 1, "the embedded alert still"
    errors = {r["alert"]: r["error"] for r in result.report.rejected}
    assert errors[server.url(ALERT_PATH)] == f"{server.url(ALERT_PATH)}: HTTP 500 Internal Server Error"
    server.failing = set()
    server.paths[ALERT_PATH] = b"<html><body>Moved</body></html>"
    [result] = await _poller(server, emergencies).poll_all()
    errors = {r["alert"]: r["error"] for r in result.report.rejected}
    assert errors[server.url(ALERT_PATH)].startswith("not a CAP alert: <html> is neither a CAP 1.2")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"incidents": []}', "not XML"),
        (b'<?xml version="1.0"?><incidents timestamp="x"/>', "<incidents> is neither a CAP"),
        (None, "XML bomb"),
    ],
    ids=["json", "cifs", "bomb"],
)
async def test_a_feed_that_is_not_cap_is_a_failed_poll_that_changes_nothing(
    server, emergencies, engine, body, words
):
    server.paths["/feeds/cap.atom"] = body if body is not None else sample("xml_bomb.xml")
    started = time.perf_counter()
    [result] = await _poller(server, emergencies).poll_all()
    assert time.perf_counter() - started < 5
    assert result.report is None
    assert words in result.error
    assert result.error.startswith(server.url("/feeds/cap.atom") + ": unreadable feed")
    assert _drafts(engine) == []
    assert _outbox(engine) == []


async def test_a_feed_that_answers_500_changes_nothing(server, emergencies, engine):
    server.mode = "error"
    [result] = await _poller(server, emergencies).poll_all()
    assert "HTTP 500" in result.error
    assert _drafts(engine) == []


def test_a_closures_feed_still_needs_its_municipality():
    with pytest.raises(ValueError, match="a wzdx feed names the municipality"):
        Settings(partner_feeds=[{"url": "https://partner.example/wzdx.json", "format": "wzdx"}])
