"""What a committed write changed, and the after-commit listeners told of it.

Listeners run in the writer's thread, after the commit, one after the other; one that fails is logged and
the others are still told (the write stands whatever they do). A listener that must reach an event loop
hands the call over itself (``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from closures.models import Action

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClosureChange:
    """One change a write transaction committed: which closure, its version now, and what was done."""

    closure_id: int
    version: int
    action: Action


type AfterCommit = Callable[[Sequence[ClosureChange]], None]


class Listeners:
    """The after-commit listeners of one service."""

    def __init__(self, *listeners: AfterCommit) -> None:
        # Replaced whole, never mutated: a writer thread telling them never sees the tuple change underneath.
        self._listeners = listeners

    def add(self, listener: AfterCommit) -> Callable[[], None]:
        """Tell ``listener`` of every write from now on; the function returned stops that."""
        self._listeners = (*self._listeners, listener)

        def remove() -> None:
            self._listeners = tuple(known for known in self._listeners if known is not listener)

        return remove

    def tell(self, changes: Sequence[ClosureChange]) -> None:
        """Tell every listener what a transaction committed (nothing when it changed nothing)."""
        for listener in self._listeners if changes else ():
            try:
                listener(changes)
            except Exception:  # best effort (e.g. waking a worker): the write stands
                log.exception("after-commit listener %r failed", listener)
