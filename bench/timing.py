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


def report(found: dict, rows, as_json: bool) -> int:
    """A bench section's end: its measurements as one JSON line (for python -m bench) or its
    table, each with the load average at its start (`_load_start`) and at its end."""
    from pathlib import Path

    found = dict(found)
    start = found.pop("_load_start", "?")
    end = Path("/proc/loadavg").read_text().split()[0]
    if as_json:
        import json

        print(json.dumps({**found, "load": [start, end]}))
        return 0
    print(f"load {start} at start, {end} at the end\n")
    print("| measure | result | ratios (same run) | target | met |\n|---|---|---|---|---|")
    for row in rows(found):
        print("| " + " | ".join(row) + " |")
    return 0
