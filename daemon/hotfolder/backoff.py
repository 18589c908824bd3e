"""One backoff for every retry of the daemon's own: a delay that starts at `first` and
doubles up to `cap` each time a try fails, and starts over once one succeeds.

Used where something outside a file's control is retried (a folder that is gone, a
stuck move, a paused claim, a broken recipe, a notification endpoint, a writer's lease):
the first retry comes soon, a lasting problem costs at most one try per `cap`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    first: float
    cap: float
    factor: float = 2.0
    delay: float = 0.0  # the wait after the last failure; 0 before any (or after reset)

    def failed(self) -> float:
        """A try failed: the wait before the next one (first, then doubled, at most cap)."""
        self.delay = self.first if self.delay <= 0 else min(self.cap, self.delay * self.factor)
        return self.delay

    def reset(self) -> None:
        """A try succeeded: the next failure waits `first` again."""
        self.delay = 0.0

    @property
    def failing(self) -> bool:
        return self.delay > 0
