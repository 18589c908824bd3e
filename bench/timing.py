"""The one timer of the in-process benchmarks: the median of repeated runs, in ms."""
from __future__ import annotations

import statistics
import time


def median_ms(fn, repeat: int) -> float:
    fn()  # warm up: plugin imports, caches, libvips threads
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
