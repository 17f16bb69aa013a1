"""A progress bar on stderr for work that takes more than a moment; silent when stderr is no terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO


def progress[T](items: Iterable[T], *, total: int, label: str, stream: TextIO | None = None) -> Iterator[T]:
    """Yield ``items`` while drawing ``label [#####.....] 12/40`` (at most ten redraws a second)."""
    out = stream if stream is not None else sys.stderr
    live = out.isatty() and total > 0
    last = 0.0
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if live and (now - last >= 0.1 or done == total):
            last = now
            filled = int(30 * done / total)
            out.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            out.flush()
    if live and last:
        out.write("\n")
        out.flush()
