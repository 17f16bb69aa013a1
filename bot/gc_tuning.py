"""The garbage collector's settings for a long-running bot or web process: no pass that stalls the loop.

CPython's cyclic collector runs in whichever thread happens to allocate, and holds the GIL for the whole
pass; a full (generation 2) pass walks every tracked object in the process. After start-up that is some
175,000 objects of modules, classes and functions that live as long as the process — measured 160-220 ms
a pass on the 2-core machine — so a map or feed rebuild in a worker thread, which allocates enough to set
one off, held the event loop (every reply, every request) as long: issue 12's 100-240 ms stalls, most of
them this. ``settle()``, called once start-up is done (``roadbot run`` / ``roadbot serve`` call it when
they are up; the benchmarks that serve do the same), changes two things:

* ``gc.collect()`` then ``gc.freeze()``: what is alive then moves to the permanent generation, which no
  pass walks (a full pass then took 0.01 ms); reference counting still frees those objects, only a cycle
  among them would stay until exit, and start-up leaves none worth the 200 ms a pass.
* thresholds ``THRESHOLDS`` instead of (700, 10, 10): a young pass every 2,000 net allocations walks at
  most about that many new objects (a few milliseconds), a middle pass every ten of them walks at most
  ~20,000 (measured 20-25 ms while a 10,000-closure feed was built; with 10,000 for the first threshold
  they walked 200,000 and took 70-230 ms), and a full pass — which walks everything alive that is not
  frozen: the index, the caches, a build in progress — waits for 1,000 middle passes instead of 10.
  Garbage is freed by reference counting as before; only cycles that outlived two passes wait longer.

It is process-wide, so it is called by the programs, not by the library code tests import; a benchmark
that runs inside another program (a test) uses ``settled()``, which puts the collector back afterwards.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

THRESHOLDS = (2_000, 10, 1_000)  # generation 0's net allocations, then passes of the younger generation


@dataclass(frozen=True, slots=True)
class Settled:
    """What ``settle`` did: objects frozen, how long its one full pass took, the thresholds now."""

    frozen: int
    collect_ms: float
    thresholds: tuple[int, int, int]


def settle(thresholds: tuple[int, int, int] = THRESHOLDS) -> Settled:
    """Collect once, freeze what survives, raise the thresholds (once start-up is done; see the module)."""
    if min(thresholds) < 1:
        raise ValueError("gc thresholds must be at least 1 (0 would turn the collector off)")
    started = time.perf_counter()
    gc.collect()
    collect_ms = (time.perf_counter() - started) * 1000
    gc.freeze()
    gc.set_threshold(*thresholds)
    return Settled(gc.get_freeze_count(), round(collect_ms, 1), thresholds)


@contextmanager
def settled(thresholds: tuple[int, int, int] = THRESHOLDS) -> Iterator[Settled]:
    """``settle`` for the body only: afterwards the frozen objects are walked again, the thresholds as before
    (for a benchmark run from a test, which must not leave its process frozen)."""
    before = gc.get_threshold()
    try:
        yield settle(thresholds)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
