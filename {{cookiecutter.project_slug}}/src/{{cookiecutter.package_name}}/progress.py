"""Progress of long work as plain lines: counts, time so far and an estimate of the time left.

Plain lines rather than a bar redrawn in place, because stages run in CI logs, under nohup
and in Slurm output files as often as in a terminal, where a redrawn bar becomes a wall of
carriage returns. Work that ends within `every` seconds prints nothing. A leaf module, like
errors.py: the data layer and the stages both use it.
"""

from __future__ import annotations

import time

EVERY = 10.0  # seconds between two lines, and before the first


class ProgressLine:
    """`update(done)` prints "what: done of total unit (share), N s so far, about M s left" at
    most once every `every` seconds, the first time only once `every` seconds have passed."""

    def __init__(self, what: str, total: int | None, unit: str, every: float | None = None):
        self.what, self.total, self.unit = what, total, unit
        self.every = EVERY if every is None else every
        self.start = self.last = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        print(self.line(done, now - self.start), flush=True)

    def line(self, done: int, elapsed: float) -> str:
        if not self.total:
            return f"{self.what}: {done:,} {self.unit}, {elapsed:.0f} s so far"
        left = elapsed * (self.total - done) / done if done else float("nan")
        estimate = f", about {left:.0f} s left" if done else ""
        return (f"{self.what}: {done:,} of {self.total:,} {self.unit} ({done / self.total:.0%}), "
                f"{elapsed:.0f} s so far{estimate}")
