"""Group commit: writes asked for while one runs go together in the next; a lone one goes at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.publish.batching import Coalesced


async def test_requests_that_arrive_during_a_write_share_the_next_one():
    batches: list[list[int]] = []
    first_running, release = threading.Event(), threading.Event()

    def write(values):
        batches.append(list(values))
        if len(batches) == 1:
            first_running.set()
            release.wait(5)
        return [v * 10 for v in values]

    async def submit(call):
        return await asyncio.to_thread(call)

    coalesced = Coalesced(write, submit)
    first = asyncio.create_task(coalesced(1))
    await asyncio.to_thread(first_running.wait, 5)
    later = [asyncio.create_task(coalesced(v)) for v in (2, 3, 4)]
    await asyncio.sleep(0)  # let them queue behind the running write
    release.set()

    assert await first == 10
    assert [await t for t in later] == [20, 30, 40]
    assert batches == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_every_caller_of_its_group_and_the_next_group_still_runs():
    calls = []

    def write(values):
        calls.append(list(values))
        if len(calls) == 1:
            raise RuntimeError("database away")
        return list(values)

    async def submit(call):
        return call()

    coalesced = Coalesced(write, submit)
    with pytest.raises(RuntimeError, match="database away"):
        await coalesced(1)
    assert await coalesced(2) == 2
