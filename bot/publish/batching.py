"""Group commit: database writes asked for while one is running go together in the next one.

A flood alert has hundreds of sends in flight; each needs its intent committed before it leaves and its
outcome after. Written one by one, that is two transactions per message on SQLite's single writer; here
every request that arrives while a transaction runs waits for the next, which does them all at once — one
transaction for the whole group, so the cost per message falls as the load rises, and a lone send still
gets its own transaction at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence


class Coalesced[T, R]:
    """``await coalesced(x)`` runs ``write([x, …])`` (blocking, via ``submit``) with its neighbours."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Sequence[R] | None],
        submit: Callable[[Callable[[], Sequence[R] | None]], Awaitable[Sequence[R] | None]],
    ) -> None:
        self._write = write
        self._submit = submit
        self._pending: list[tuple[T, asyncio.Future[R | None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def __call__(self, value: T) -> R | None:
        future: asyncio.Future[R | None] = asyncio.get_running_loop().create_future()
        self._pending.append((value, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await asyncio.shield(future)  # a cancelled caller must not cancel its neighbours' write

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            values = [value for value, _ in batch]
            try:
                results = await self._submit(functools.partial(self._write, values))
            except Exception as exc:  # every caller of the group learns of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for i, (_, future) in enumerate(batch):
                if not future.done():
                    future.set_result(results[i] if results is not None else None)
