"""Every wait in a test has a deadline."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll until predicate() is truthy and return its value; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def wait_for_count(count: Callable[[], int], total: int, stalled: float, timeout: float,
                   interval: float = 0.5, what: str = "files") -> int:
    """Poll count() until it reaches `total`; fail when it has not grown for `stalled` seconds
    (a hang) or at `timeout`. For a long batch: a fixed deadline alone failed a daemon that was
    still working at a loaded machine's pace (10,000 files, 240 s: 8,358 ended, ~32 a second
    beside 4 test processes and other runs at load 10-15), and said the count it had before
    the wait (an f-string's), not at the deadline."""
    start = now = time.monotonic()
    last, moved = count(), now
    while last < total:
        if now - moved >= stalled or now - start >= timeout:
            raise AssertionError(f"waiting for {what}: {last} of {total} after {now - start:.0f} s, the last "
                                 f"{now - moved:.0f} s without one more (stalled after {stalled:g} s, "
                                 f"deadline {timeout:g} s)")
        time.sleep(interval)
        now, n = time.monotonic(), count()
        if n > last:
            last, moved = n, now
    return last
