"""Claimed batches in a pipeline: the next batch is claimed while the one before it is still sending.

The outbox worker claims a batch of rows, prepares their contexts (database round trips), then sends them
with bounded concurrency. Done one batch after the other, every claim leaves the sends idle, and so does
the tail of each batch, when its last few sends are in flight and nothing else may start. Here at most
``depth`` batches are held at once: batch *k + 1* is claimed as soon as batch *k* starts, and its sends
take the slots that batch *k*'s tail leaves free (the worker's concurrency limit still bounds them all).
The worker overlaps only an emergency's batches (``overlaps``): calm-day batches go one after the other,
so an emergency declared meanwhile never waits behind more of them than before. Claims stay the
database's business: rows held by one batch are never claimed by the next (their lease),
and a chat's next row waits while one to it is claimed, so order and the per-chat limit hold as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sized


async def pipelined[B: Sized](
    claim: Callable[[], Awaitable[B]],
    process: Callable[[B], Coroutine[object, object, None]],
    *,
    depth: int = 2,
    overlaps: Callable[[B], bool] = lambda batch: True,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Claim and process batches until a claim comes back empty with no batch under way (or ``stopping()``);
    how many were claimed.

    ``overlaps(batch)``: may the next claim start while this batch is processed? (If not, it waits for it.)

    A batch that fails does not stop the others already under way: they finish, then the error is raised.
    Cancelled (the worker stops), every batch under way is cancelled with it, as a single gather would be.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    total = 0
    held: deque[asyncio.Task[None]] = deque()
    try:
        while not stopping():
            batch = await claim()
            if not len(batch):
                if not held:
                    break
                await held.popleft()  # what it does may make rows due (a people row's expansion): claim again
                continue
            total += len(batch)
            held.append(asyncio.create_task(process(batch)))
            while len(held) >= (depth if overlaps(batch) else 1):
                await held.popleft()
        while held:
            await held.popleft()
    except asyncio.CancelledError:
        for task in held:
            task.cancel()
        raise
    except BaseException:
        await asyncio.gather(*held, return_exceptions=True)
        raise
    return total
