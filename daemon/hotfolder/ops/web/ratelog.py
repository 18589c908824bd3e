"""Log lines for events that come by the thousand (resets, timeouts, wrong tokens).

The first occurrence is logged at once; the next ones are counted, and one line per
`interval` says how many there were (`count`) with the fields of the latest. 200
clients resetting their connections make one or two lines, not 200 (nor, as before
this existed, 5,400 lines of tracebacks).
"""
from __future__ import annotations

import threading
import time


class RateLimitedLog:
    def __init__(self, logger, event: str, level: str = "info", interval: float = 60.0):
        self.logger, self.event, self.level, self.interval = logger, event, level, interval
        self._lock = threading.Lock()
        self._last = -interval
        self._pending = 0
        self._fields: dict = {}

    def note(self, **fields) -> None:
        """One occurrence: logged now, or counted into the next line."""
        with self._lock:
            self._pending += 1
            self._fields = fields
            if time.monotonic() - self._last < self.interval:
                return
            count, fields = self._take()
        self._emit(count, fields)

    def flush(self, due_only: bool = False) -> None:
        """Say what was counted and not yet said (`due_only`: only if `interval` has passed)."""
        with self._lock:
            if not self._pending or (due_only and time.monotonic() - self._last < self.interval):
                return
            count, fields = self._take()
        self._emit(count, fields)

    def _take(self) -> tuple[int, dict]:
        count, fields = self._pending, self._fields
        self._pending, self._fields, self._last = 0, {}, time.monotonic()
        return count, fields

    def _emit(self, count: int, fields: dict) -> None:
        getattr(self.logger, self.level)(self.event, count=count, interval_s=self.interval, **fields)
