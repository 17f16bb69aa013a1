"""What the feeds hold (active and upcoming closures of every municipality), and when a body is reused."""

from __future__ import annotations

import json
from datetime import timedelta

from closures.feeds import FeedCache, feed_snapshot
from closures.formats.wzdx import work_zone_feed
from closures.service import Actor, ClosureService
from tests.closures.conftest import JEDDAH_POINT

SYSTEM = Actor.system("test")


def _refs(snap) -> list[str]:
    return [i.ref for i in snap.items]


def _wzdx(snap) -> bytes:
    feed = work_zone_feed(snap.items, as_of=snap.as_of, publisher="t", municipalities=snap.municipalities)
    return json.dumps(feed).encode()


def test_snapshot_holds_active_and_upcoming_closures_of_every_municipality(service, clock, make_draft):
    now = clock.now
    active = service.register("riyadh", make_draft(ref="active", starts_at=now - timedelta(hours=1)), SYSTEM,
                              allow_past_start=True)  # fmt: skip
    service.register("riyadh", make_draft(ref="next-month", starts_at=now + timedelta(days=30),
                                          ends_at=now + timedelta(days=31)), SYSTEM)  # fmt: skip
    service.register("jeddah", make_draft(ref="jeddah", geometry=JEDDAH_POINT), SYSTEM)
    lifted = service.register("riyadh", make_draft(ref="lifted", starts_at=now), SYSTEM)
    cancelled = service.register("riyadh", make_draft(ref="cancelled"), SYSTEM)
    service.register("riyadh", make_draft(ref="ended", starts_at=now - timedelta(minutes=50),
                                          ends_at=now + timedelta(minutes=10)), SYSTEM)  # fmt: skip
    clock.advance(timedelta(minutes=10))
    service.lift(lifted.id, SYSTEM)
    service.cancel(cancelled.id, SYSTEM)

    snap = feed_snapshot(service.engine, clock.now)

    assert _refs(snap) == ["active", "jeddah", "next-month"]  # soonest start first; "ended" ended at now
    assert [m.slug for m in snap.municipalities] == ["jeddah", "riyadh"]
    assert snap.as_of == clock.now  # the latest write (the cancel) and the end just passed
    assert snap.valid_until == clock.now + timedelta(minutes=50)  # "jeddah" starts (in an hour from then)
    assert active.id in {i.closure.id for i in snap.items}


def test_as_of_moves_when_a_closure_starts_though_nothing_was_written(service, clock, make_draft):
    service.register("riyadh", make_draft(ref="soon"), SYSTEM)
    written = feed_snapshot(service.engine, clock.now).as_of
    clock.advance(timedelta(hours=2))  # it started an hour ago
    assert feed_snapshot(service.engine, clock.now).as_of == written + timedelta(hours=1)


def test_two_processes_build_byte_identical_feeds(service, clock, make_draft, other_engine):
    service.register("riyadh", make_draft(ref="a"), SYSTEM)
    service.register("riyadh", make_draft(ref="b", ends_at=None), SYSTEM)
    clock.advance(timedelta(seconds=7))
    assert _wzdx(feed_snapshot(service.engine, clock.now)) == _wzdx(feed_snapshot(other_engine, clock.now))


def test_cache_builds_once_per_change_and_sees_this_processes_writes_at_once(
    service, clock, make_draft, ticks
):
    cache = FeedCache(service.engine, clock=clock, check_interval=timedelta(seconds=30), monotonic=ticks)
    first = service.register("riyadh", make_draft(ref="a"), SYSTEM)
    built = cache.get("wzdx", _wzdx)
    assert cache.get("wzdx", _wzdx) is built
    assert cache.peek("wzdx") is built
    assert cache.builds == 1

    service.update(first.id, first.version, {"title_en": "Changed"}, SYSTEM)
    assert cache.peek("wzdx") is None, "a write in this process is known without reading the store"
    rebuilt = cache.get("wzdx", _wzdx)
    assert rebuilt.etag != built.etag
    assert b"Changed" in rebuilt.body
    assert cache.builds == 2


def test_another_processes_write_is_seen_after_the_check_interval(
    engine, clock, make_draft, ticks, other_engine, municipalities
):
    cache = FeedCache(engine, clock=clock, check_interval=timedelta(seconds=30), monotonic=ticks)
    built = cache.get("wzdx", _wzdx)
    other = ClosureService(other_engine, clock=clock)
    other.register("riyadh", make_draft(ref="from-elsewhere"), SYSTEM)

    ticks.now = 29.0
    assert cache.peek("wzdx") is built, "within the interval the store is not read"
    ticks.now = 30.0
    assert cache.peek("wzdx") is None
    assert b"from-elsewhere" in cache.get("wzdx", _wzdx).body


def test_a_closure_that_ends_drops_out_without_any_write(service, clock, make_draft, ticks):
    cache = FeedCache(service.engine, clock=clock, check_interval=timedelta(hours=1), monotonic=ticks)
    hour = make_draft(ref="short", starts_at=clock.now, ends_at=clock.now + timedelta(hours=1))
    service.register("riyadh", hour, SYSTEM)
    assert b"short" in cache.get("wzdx", _wzdx).body
    clock.advance(timedelta(minutes=59))
    assert cache.peek("wzdx") is not None
    clock.advance(timedelta(minutes=1))
    assert cache.peek("wzdx") is None
    assert b"short" not in cache.get("wzdx", _wzdx).body


def test_keys_beyond_the_limit_are_built_but_not_kept(service, clock, ticks):
    cache = FeedCache(
        service.engine, clock=clock, check_interval=timedelta(hours=1), monotonic=ticks, max_keys=2
    )
    for key in ("a", "b", "c"):
        cache.get(key, _wzdx)
    assert cache.peek("a") is not None
    assert cache.peek("b") is not None
    assert cache.peek("c") is None
