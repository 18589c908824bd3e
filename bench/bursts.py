"""A daemon's throughput on a burst of files with a recipe of its own: a fresh `hotfolder
run` (the tests' harness, tests/harness/daemon.py), the files renamed into its inbox at
once, wall time to the last output. The sections that are not the main recipe's use it
(heic, imgproxy, small)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.workspace import fresh
from tests.harness import Daemon


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
    env = {"PYTHONPATH": os.pathsep.join([str(tree / "daemon"), os.environ.get("PYTHONPATH", "")])} if tree else {}
    with recipe_daemon(fresh(work), recipe, procs, copies_rendered=tree is None) as d:
        d.start(env=env, timeout=60)
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
                raise RuntimeError(f"daemon: {len(failed)} files failed, e.g. {failed[0]}\n{d.log.tail()}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"daemon: {done} of {want} outputs in time\n{d.log.tail()}")
            d.check_alive()
            time.sleep(0.02)
