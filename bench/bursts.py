"""A daemon's throughput on a burst of files with a recipe of its own: a fresh `hotfolder
run` (the tests' harness, tests/harness/daemon.py), the files renamed into its inbox at
once, wall time until the log says the last file is done (outputs synced, original archived;
its outputs then counted once). The sections that are not the main recipe's use it
(heic, imgproxy, small)."""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench.daemon import cpu_seconds
from bench.workspace import fresh
from tests.harness import Daemon
from tests.harness.procs import descendants


@dataclass(frozen=True)
class Burst:
    """One burst through a daemon: its throughput, and the CPU its processes spent on it
    per file (user + system; the kernel's own threads, e.g. the journal's, not counted)."""

    rate: float  # files/s
    supervisor_ms: float  # the main process: watching, claims, moves, the ledger, the index's notes
    workers_ms: float  # the rest of its tree: the workers (read, hash, index, render, write, fsync)


def median_split(bursts: list[tuple[float, float]]) -> tuple[float, float]:
    """The median supervisor and workers CPU ms a file over rounds of (supervisor, workers)."""
    return statistics.median(b[0] for b in bursts), statistics.median(b[1] for b in bursts)


def _tree_cpu(pid: int) -> tuple[float, dict[int, float]]:
    return cpu_seconds(pid), {child: cpu_seconds(child) for child in descendants(pid)}


def recipe_daemon(work: Path, recipe: list[dict], workers: int, copies_rendered: bool = True) -> Daemon:
    """A daemon in `work` whose one folder, `bench`, renders `recipe` (renditions as the
    config writes them); its config as JSON (which is YAML), quiet_period the default.
    `copies_rendered`: the corpus repeats files, so copies are rendered (`on_duplicate:
    process`: each is still hashed and recorded in the index, as in use); False for a
    baseline tree older than that key."""
    d = Daemon(work)
    for place in (d.inbox, d.output, d.processing, d.archive, d.failed):
        place.mkdir(parents=True, exist_ok=True)
    folder = {"name": "bench", "inbox": str(d.inbox), "output": str(d.output), "processing": str(d.processing),
              "archive": str(d.archive), "failed": str(d.failed), "renditions": recipe}
    if copies_rendered:
        folder["on_duplicate"] = "process"
    config = {"workers": workers, "state_dir": str(work / "state"), "folders": [folder]}
    d.config.write_text(json.dumps(config, indent=2) + "\n")
    return d


def daemon_rate(work: Path, files: list[Path], procs: int, recipe: list[dict], *, outputs_per_file: int,
                tree: Path | None = None) -> float:
    """files/s of `hotfolder run` (of `tree`'s daemon/ when given: a baseline) over `files`."""
    return burst_with_cpu(work, files, procs, recipe, outputs_per_file=outputs_per_file, tree=tree).rate


def burst_with_cpu(work: Path, files: list[Path], procs: int, recipe: list[dict], *, outputs_per_file: int,
                 tree: Path | None = None) -> Burst:
    """daemon_rate, with the CPU per file of the daemon's main process and of its workers
    (read from /proc before the first rename and after the last file done)."""
    env = {"PYTHONPATH": os.pathsep.join([str(tree / "daemon"), os.environ.get("PYTHONPATH", "")])} if tree else {}
    with recipe_daemon(fresh(work), recipe, procs, copies_rendered=tree is None) as d:
        d.start(env=env, timeout=60)
        staging = fresh(work / "staging")
        for f in files:
            os.link(f, staging / f.name)
        assert d.proc is not None
        main_before, tree_before = _tree_cpu(d.proc.pid)
        done_lines = _Counted(d.log_path, b'"file_done"', d.log_path.stat().st_size)
        t0 = time.perf_counter()
        for f in files:
            os.rename(staging / f.name, d.inbox / f.name)
        want, deadline = outputs_per_file * len(files), t0 + 60 + len(files)
        while True:
            # The log says when each file is done (its outputs written and synced, its original
            # archived); the output folder is listed once it says all are, to check.
            if done_lines.count() >= len(files) and _outputs(d.output) >= want:
                rate = len(files) / (time.perf_counter() - t0)
                main_after, tree_after = _tree_cpu(d.proc.pid)
                workers = sum(cpu - tree_before.get(pid, 0.0) for pid, cpu in tree_after.items())
                return Burst(rate, (main_after - main_before) * 1000 / len(files), workers * 1000 / len(files))
            with os.scandir(d.failed) as it:
                failed = [e.name for e in it if not e.name.endswith(".json")]
            if failed:
                raise RuntimeError(f"daemon: {len(failed)} files failed, e.g. {failed[0]}\n{d.log.tail()}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"daemon: {_outputs(d.output)} of {want} outputs in time\n{d.log.tail()}")
            d.check_alive()
            time.sleep(0.01)


def _outputs(folder: Path) -> int:
    with os.scandir(folder) as it:
        return sum(1 for e in it if not e.name.startswith("."))


class _Counted:
    """How many times `needle` is in a growing log, reading only what was added. Listing
    the output folder instead, every 20 ms, took 9 ms at 20,000 outputs: a fifth of a core
    of the bench's own over a burst of small files, on the daemon's 2 cores."""

    def __init__(self, path: Path, needle: bytes, offset: int):
        self.path, self.needle, self.offset, self.seen, self.partial = path, needle, offset, 0, b""

    def count(self) -> int:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data, _, self.partial = (self.partial + data).rpartition(b"\n")
        self.seen += data.count(self.needle)
        return self.seen
