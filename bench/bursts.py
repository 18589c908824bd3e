"""A daemon's throughput on a burst of files with a recipe of its own: a fresh `hotfolder
run` (bench/run.Daemon), the files renamed into its inbox at once, wall time to the last
output. The sections that are not the main recipe's use it (heic, imgproxy, small)."""
from __future__ import annotations

import os
import time
from pathlib import Path


def daemon_rate(work: Path, files: list[Path], procs: int, recipe: list[dict], *, outputs_per_file: int,
                tree: Path | None = None, config: dict | None = None) -> float:
    """files/s of `hotfolder run` (of `tree`'s daemon/ when given: a baseline) over `files`."""
    from bench.run import Daemon, fresh

    env = {"PYTHONPATH": os.pathsep.join([str(tree / "daemon"), os.environ.get("PYTHONPATH", "")])} if tree else {}
    d = Daemon(fresh(work), (), procs, recipe=recipe, env=env)
    with d:
        d.start()
        d.wait_ready()
        staging = fresh(work / "staging")
        for f in files:
            os.link(f, staging / f.name)
        t0 = time.perf_counter()
        for f in files:
            os.rename(staging / f.name, d.inbox / f.name)
        want, deadline = outputs_per_file * len(files), t0 + 60 + len(files)
        while True:
            with os.scandir(d.output) as it:
                done = sum(1 for e in it if not e.name.startswith("."))
            if done >= want:
                return len(files) / (time.perf_counter() - t0)
            with os.scandir(d.failed) as it:
                failed = [e.name for e in it if not e.name.endswith(".json")]
            if failed:
                raise RuntimeError(f"daemon: {len(failed)} files failed, e.g. {failed[0]}\n{d.log_tail()}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"daemon: {done} of {want} outputs in time\n{d.log_tail()}")
            d.check_alive()
            time.sleep(0.02)
