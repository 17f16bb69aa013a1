"""Profiles asked for by handlers running together are read in one trip; cached ones need none."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

import pytest

from bot.services.profiles import ProfileLoader
from closures.drivers import DriverDirectory, Profile
from closures.store import make_engine, upgrade


class CountingDirectory(DriverDirectory):
    """A directory that records every batch it is asked to read."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batches: list[list[int]] = []

    def profiles(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        ids = list(user_ids)
        self.batches.append(ids)
        return super().profiles(ids)


async def test_profiles_asked_for_together_are_read_in_one_trip(engine, clock):
    directory = CountingDirectory(engine, clock=clock, cache_ttl=timedelta(seconds=30))
    directory.set_radius(2, 1_000)
    loader = ProfileLoader(lambda: directory)

    got = await asyncio.gather(*(loader.get(user) for user in (1, 2, 3, 2)))

    assert got == [Profile(None, None), Profile(None, 1_000), Profile(None, None), Profile(None, 1_000)]
    assert directory.batches == [[1, 3]]  # 2 was cached by its own write
    assert await loader.get(1) == Profile(None, None)
    assert directory.batches == [[1, 3]]


async def test_a_failed_read_fails_every_waiting_handler(engine, clock):
    directory = CountingDirectory(engine, clock=clock)
    loader = ProfileLoader(lambda: directory)
    engine.dispose()
    directory.engine = _Broken()  # type: ignore[assignment]

    results = await asyncio.gather(loader.get(1), loader.get(2), return_exceptions=True)

    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert len(directory.batches) == 1


class _Broken:
    def connect(self) -> None:
        raise RuntimeError("the store is down")


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'profiles.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()
