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


def interleaved_ms(fns: dict, repeat: int) -> dict:
    """Median ms of each function, run in turn `repeat` times (after one warm-up each): a
    burst of load from elsewhere hits them alike, so their ratios hold on a busy machine."""
    import statistics
    import time

    for fn in fns.values():
        fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}
