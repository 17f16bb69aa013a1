"""A progress bar for benchmarks: weighted stages on stderr, or a plain line now and then when stderr is
not a terminal (a CI log); the last line says how long the whole run took."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


class Progress:
    """Work of ``total`` units (seconds, say) done in stages; ``advance`` moves the bar by some of them."""

    def __init__(self, total: float, stream: TextIO = sys.stderr, *, every_s: float = 3.0) -> None:
        self.total, self.done, self.stream = max(total, 1e-9), 0.0, stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self.started = self.last = time.monotonic()
        self.label = ""

    def stage(self, label: str, *, done: float | None = None) -> None:
        """A new stage begins (``done``: the units finished by now, when the caller counts them)."""
        self.label = label
        if done is not None:
            self.done = min(self.total, done)
        if not self.tty and time.monotonic() - self.last >= self.every_s:
            self._line()
        self._draw()

    def advance(self, amount: float, note: str = "") -> None:
        self.done = min(self.total, self.done + amount)
        if self.tty and time.monotonic() - self.last >= 0.1:
            self._draw(note)

    def note(self, text: str) -> None:
        """A line that stays (a figure worth seeing at once), above the bar."""
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"[bench] {text}\n")
        self._draw()
        self.stream.flush()

    def finish(self) -> None:
        self.done = self.total
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"[bench] done in {time.monotonic() - self.started:.0f} s\n")
        self.stream.flush()

    def _draw(self, note: str = "") -> None:
        if not self.tty:
            return
        filled = int(30 * self.done / self.total)
        bar = "#" * filled + "-" * (30 - filled)
        text = f"[{bar}] {100 * self.done / self.total:3.0f}%  {self.label} {note}"
        self.stream.write("\r\033[K" + text[: shutil.get_terminal_size().columns - 1])
        self.stream.flush()
        self.last = time.monotonic()

    def _line(self) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[bench] {100 * self.done / self.total:3.0f}%  {elapsed:4.0f} s  {self.label}\n")
        self.stream.flush()
        self.last = time.monotonic()
