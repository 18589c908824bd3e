"""The harness's wait on a long batch (tests/harness/waiting.py): it fails on a stall, not on a
slow pace, and says the count it reached."""
from __future__ import annotations

import time

import pytest

from tests.harness import wait_for_count


def test_a_slow_steady_count_is_waited_for_past_the_stall_window():
    t0 = time.monotonic()
    # one more every 50 ms: 10 take ~0.5 s, longer than the 0.3 s window, and that is no stall
    assert wait_for_count(lambda: int((time.monotonic() - t0) / 0.05), 10, stalled=0.3, timeout=10,
                          interval=0.01) >= 10


def test_a_count_that_stops_fails_after_the_stall_window_with_the_count_reached():
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=r"waiting for files: 3 of 10 after .* without one more"):
        wait_for_count(lambda: min(3, int((time.monotonic() - t0) / 0.05)), 10, stalled=0.3, timeout=10,
                       interval=0.01)
    assert time.monotonic() - t0 < 5, "failed at the stall, not at the deadline"
