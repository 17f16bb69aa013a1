"""Claimed batches in a pipeline (``bot.publish.pipeline``): the next claim while one batch is processed,
none when the batch says so, a failure that lets the others finish, and a cancellation that stops them all."""

from __future__ import annotations

import asyncio

import pytest

from bot.publish.pipeline import pipelined


class Queue:
    """Batches handed out by ``claim``; ``process`` waits until the test lets that batch finish."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = list(batches)
        self.log: list[str] = []
        self.release: dict[int, asyncio.Event] = {}
        self.started: dict[int, asyncio.Event] = {}

    async def claim(self) -> list[int]:
        batch = self.batches.pop(0) if self.batches else []
        self.log.append(f"claim {batch[0]}" if batch else "claim none")
        return batch

    async def process(self, batch: list[int]) -> None:
        first = batch[0]
        self.started.setdefault(first, asyncio.Event()).set()
        try:
            await self.release.setdefault(first, asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.log.append(f"cancelled {first}")
            raise
        self.log.append(f"done {first}")

    def finish(self, first: int) -> None:
        self.release.setdefault(first, asyncio.Event()).set()

    async def wait_started(self, first: int) -> None:
        await asyncio.wait_for(self.started.setdefault(first, asyncio.Event()).wait(), 5)


async def test_the_next_batch_is_claimed_and_started_while_one_is_processed():
    queue = Queue([[1, 2], [3], [5, 6]])
    run = asyncio.create_task(pipelined(queue.claim, queue.process))
    await queue.wait_started(1)
    await queue.wait_started(3)  # batch 1 is still under way
    assert queue.log == ["claim 1", "claim 3"]  # two held at once: no third claim yet
    queue.finish(1)
    await queue.wait_started(5)
    queue.finish(3)
    assert await _logged(queue, "done 3")
    queue.finish(5)
    assert await asyncio.wait_for(run, 5) == 5
    assert queue.log == ["claim 1", "claim 3", "done 1", "claim 5", "done 3", "claim none", "done 5",
                         "claim none"]  # fmt: skip


async def _logged(queue: Queue, entry: str) -> bool:
    for _ in range(100):  # a few turns of the loop: the batch's task finishing, and the claim after it
        if entry in queue.log and queue.log[-1].startswith("claim"):
            return True
        await asyncio.sleep(0)
    return False


async def test_rows_a_batch_makes_due_are_claimed_after_it_though_the_claim_beside_it_found_none():
    claims: list[list[int]] = [[1]]
    done: list[int] = []

    async def claim() -> list[int]:
        return claims.pop(0) if claims else []

    async def process(batch: list[int]) -> None:
        await asyncio.sleep(0)
        if batch == [1]:  # a people row: expanded into a person's message, due at once
            claims.append([2])
        done.append(batch[0])

    assert await asyncio.wait_for(pipelined(claim, process), 5) == 2
    assert done == [1, 2]


async def test_a_batch_that_does_not_overlap_is_finished_before_the_next_claim():
    queue = Queue([[1], [2]])
    run = asyncio.create_task(pipelined(queue.claim, queue.process, overlaps=lambda batch: False))
    await queue.wait_started(1)
    await asyncio.sleep(0)  # let the loop run: it must not claim while batch 1 is under way
    assert queue.log == ["claim 1"]
    queue.finish(1)
    await queue.wait_started(2)
    queue.finish(2)
    assert await asyncio.wait_for(run, 5) == 2
    assert queue.log == ["claim 1", "done 1", "claim 2", "done 2", "claim none"]


async def test_a_failed_batch_lets_the_one_under_way_finish_then_raises():
    finished: list[int] = []
    claims = [[1], [2]]

    async def claim() -> list[int]:
        return claims.pop(0) if claims else []

    async def process(batch: list[int]) -> None:
        if batch == [1]:
            await asyncio.sleep(0)
            raise RuntimeError("the database is away")
        await asyncio.sleep(0.01)
        finished.append(batch[0])

    with pytest.raises(RuntimeError, match="away"):
        await asyncio.wait_for(pipelined(claim, process), 5)
    assert finished == [2]  # not cancelled half-way (its sends would be left in doubt)


async def test_a_cancelled_pipeline_cancels_every_batch_under_way():
    queue = Queue([[1], [2]])
    run = asyncio.create_task(pipelined(queue.claim, queue.process))
    await queue.wait_started(1)
    await queue.wait_started(2)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    for _ in range(3):
        await asyncio.sleep(0)
    assert sorted(queue.log[2:]) == ["cancelled 1", "cancelled 2"]


async def test_stopping_ends_it_after_the_batches_under_way():
    queue = Queue([[1], [2], [3]])
    stop = False

    async def process(batch: list[int]) -> None:
        nonlocal stop
        stop = True  # the worker was told to stop while batch 1 ran
        await queue.process(batch)

    queue.finish(1)
    queue.finish(2)
    assert await asyncio.wait_for(pipelined(queue.claim, process, stopping=lambda: stop), 5) == 2
    assert queue.batches == [[3]]


def test_depth_must_be_at_least_one():
    with pytest.raises(ValueError, match="depth"):
        asyncio.run(pipelined(lambda: asyncio.sleep(0, []), lambda b: asyncio.sleep(0), depth=0))
