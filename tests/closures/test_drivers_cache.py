"""The in-process profile cache: local writes show at once, other processes' after the TTL, size bounded.

Expiry is timed by an injected monotonic clock, so the tests move it instead of sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from closures.drivers import DriverDirectory, Profile

USER = 42
TTL = timedelta(seconds=30)


@pytest.fixture
def directory(engine, clock, ticks) -> DriverDirectory:
    return DriverDirectory(engine, clock=clock, cache_ttl=TTL, monotonic=ticks)


@pytest.fixture
def elsewhere(other_engine, clock) -> DriverDirectory:
    """The same store as another bot process sees it (no cache)."""
    return DriverDirectory(other_engine, clock=clock)


def test_a_profile_is_cached_once_read(directory):
    assert directory.cached_profile(USER) is None
    assert directory.profile(USER) == Profile(None, None)
    assert directory.cached_profile(USER) == Profile(None, None)


def test_writes_through_the_directory_show_at_once(directory):
    directory.profile(USER)
    directory.set_language(USER, "en")
    assert directory.cached_profile(USER) == Profile("en", None)
    directory.set_radius(USER, 2_000)
    assert directory.profile(USER) == Profile("en", 2_000)

    directory.forget(USER)
    assert directory.cached_profile(USER) is None
    assert directory.profile(USER) == Profile(None, None)


def test_another_process_write_shows_once_the_entry_expires(directory, elsewhere, ticks):
    assert directory.profile(USER) == Profile(None, None)
    elsewhere.set_language(USER, "en")

    ticks.now += TTL.total_seconds() - 1
    assert directory.profile(USER) == Profile(None, None)  # at most the TTL stale
    ticks.now += 1
    assert directory.cached_profile(USER) is None
    assert directory.profile(USER) == Profile("en", None)


def test_the_least_recently_used_profile_leaves_a_full_cache(engine, clock, ticks):
    directory = DriverDirectory(engine, clock=clock, cache_ttl=TTL, cache_size=2, monotonic=ticks)
    directory.profiles([1, 2])
    directory.cached_profile(1)  # 1 is now the most recently used
    directory.profile(3)
    assert [directory.cached_profile(u) is not None for u in (1, 2, 3)] == [True, False, True]


def test_profiles_reads_many_drivers_at_once(directory, elsewhere):
    elsewhere.set_radius(7, 1_000)
    assert directory.profiles([7, 8]) == {7: Profile(None, 1_000), 8: Profile(None, None)}


def test_without_a_ttl_nothing_is_cached(engine, elsewhere):
    directory = DriverDirectory(engine)
    assert directory.profile(USER) == Profile(None, None)
    assert directory.cached_profile(USER) is None
    elsewhere.set_language(USER, "en")
    assert directory.profile(USER) == Profile("en", None)


def test_a_snapshot_answers_for_every_driver_without_the_store(directory, elsewhere):
    elsewhere.set_language(7, "en")
    assert directory.load_snapshot() == 1

    assert directory.cached_profile(7) == Profile("en", None)
    assert directory.cached_profile(8) == Profile(None, None)  # a first-time driver: no row, no read


def test_a_snapshot_follows_local_writes_and_never_trusts_an_unknown_outcome(directory):
    directory.load_snapshot()
    directory.set_radius(9, 3_000)
    assert directory.cached_profile(9) == Profile(None, 3_000)

    directory.forget(9)
    assert directory.cached_profile(9) is None  # read the store again rather than guess
    assert directory.profile(9) == Profile(None, None)


def test_a_snapshot_expires_so_other_processes_changes_arrive(directory, elsewhere, ticks):
    directory.load_snapshot()
    elsewhere.set_language(10, "en")
    assert directory.cached_profile(10) == Profile(None, None)  # stale, within the TTL

    ticks.now += TTL.total_seconds()
    assert directory.cached_profile(10) is None
    assert not directory.snapshot_fresh()
    directory.load_snapshot()
    assert directory.cached_profile(10) == Profile("en", None)


def test_without_a_cache_there_is_no_snapshot(engine, clock):
    directory = DriverDirectory(engine, clock=clock)
    assert directory.load_snapshot() == 0
    assert directory.cached_profile(1) is None
