"""Where the daemon's threads spend a burst of small files: on a CPU, waiting for one, or
neither (blocked: fsyncs, SQLite's locks, an empty queue). A diagnostic, not a bench row.

    python -m bench.threads [--count 3000] [--workers 2] [--queue-size N]

A fresh `hotfolder run` on the example recipe; the burst's 64 px JPEGs renamed into its
inbox at once; each thread of the daemon's tree read from /proc before the first rename
and after the last `file_done`: CPU (utime + stime) and runqueue wait (schedstat), as a
share of the burst's wall time. What is left of a thread's 100 % is time it was blocked.
Measured with it (DESIGN.md, "What a small file costs"): the workers were not starved.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench import corpus
from bench.bursts import _Counted, recipe_daemon
from bench.daemon import runqueue_waits
from bench.heic import EXAMPLE_RECIPE
from bench.workspace import fresh
from tests.harness.procs import descendants


def thread_times(pids: list[int]) -> dict[tuple[int, int], tuple[float, float]]:
    """(pid, tid) → (CPU seconds, runqueue seconds) of every thread."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        waits = runqueue_waits(pid)
        for tid, wait in waits.items():
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid, tid] = ((int(fields[11]) + int(fields[12])) / ticks, wait)
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--queue-size", type=int, default=0, help="the config's queue_size (0: its default)")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    args = p.parse_args(argv)
    files = corpus.generate(args.dir / "corpus" / "small", "small", args.count)
    work = fresh(args.dir / "threads")
    with recipe_daemon(work, EXAMPLE_RECIPE, args.workers) as d:
        if args.queue_size:
            config = json.loads(d.config.read_text())
            d.config.write_text(json.dumps({**config, "queue_size": args.queue_size}))
        d.start(timeout=60)
        assert d.proc is not None
        staging = fresh(work / "staging")
        for f in files:
            os.link(f, staging / f.name)
        done = _Counted(d.log_path, b'"file_done"', d.log_path.stat().st_size)
        pids = [d.proc.pid, *descendants(d.proc.pid)]
        before = thread_times(pids)
        t0 = time.perf_counter()
        for f in files:
            os.rename(staging / f.name, d.inbox / f.name)
        deadline = t0 + 60 + args.count
        while done.count() < len(files):
            if time.perf_counter() > deadline:
                raise SystemExit(f"{done.count()} of {len(files)} files done before the deadline")
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        after = thread_times(pids)
    print(f"{len(files)} files in {wall:.2f} s: {len(files) / wall:.1f} files/s; load "
          f"{Path('/proc/loadavg').read_text().split()[0]} at the end\n")
    print("| process | thread | CPU, % of the burst | waiting for a core, % | CPU a file, ms |\n|---|---|---|---|---|")
    rows = []
    for key, (cpu, wait) in after.items():
        cpu0, wait0 = before.get(key, (0.0, 0.0))
        if cpu - cpu0 > 0.01:
            rows.append((cpu - cpu0, wait - wait0, key))
    for cpu, wait, (pid, tid) in sorted(rows, reverse=True):
        role = "supervisor" if pid == pids[0] else "child (a worker, or the forkserver)"
        print(f"| {role} {pid} | {'main' if tid == pid else tid} | {cpu / wall * 100:.1f} | {wait / wall * 100:.1f} | "
              f"{cpu / len(files) * 1000:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
