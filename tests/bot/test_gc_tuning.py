"""``bot.gc_tuning.settle``: start-up's objects leave the collector's passes, thresholds rise, and a full
pass afterwards walks only what was made since."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest

from bot.gc_tuning import THRESHOLDS, settle, settled


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's collector as it was: the rest of the suite must not run frozen."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def full_pass_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_is_alive_and_raises_the_thresholds():
    before = min(full_pass_ms() for _ in range(3))
    alive = len(gc.get_objects())  # after those passes: what a suite left as garbage is not counted

    settled = settle()

    assert settled.frozen >= alive * 0.9  # what was alive (pytest's and this suite's modules) is frozen
    assert gc.get_freeze_count() > settled.frozen * 0.9
    assert gc.get_threshold() == THRESHOLDS == settled.thresholds
    assert len(gc.get_objects()) < alive * 0.1  # no pass walks the frozen ones any more
    after = min(full_pass_ms() for _ in range(3))
    assert after < before / 5


@pytest.mark.usefixtures("restored_gc")
def test_a_cycle_made_after_settling_is_still_collected():
    settle()
    collected: list[str] = []

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

        def __del__(self) -> None:
            collected.append("node")

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    gc.collect()

    assert collected == ["node", "node"]


@pytest.mark.usefixtures("restored_gc")
def test_thresholds_that_would_turn_the_collector_off_are_refused():
    before = gc.get_threshold()
    with pytest.raises(ValueError, match="at least 1"):
        settle((0, 10, 10))
    assert gc.get_threshold() == before


def test_settled_puts_the_collector_back_afterwards():
    before = gc.get_threshold()
    with settled() as done:
        assert gc.get_freeze_count() > done.frozen * 0.9 > 0  # frozen ones may still be freed by refcount
        assert gc.get_threshold() == THRESHOLDS

    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
