"""A long day's run: what grows per file in a real daemon, and whether it stops growing.

    python -m bench.longrun [--small 20000] [--big 300] [--dups 2000] [--dir DIR]
    python -m bench.longrun --index 100000 [--reuse] [--baseline-tree DIR] [--dir DIR]

One `hotfolder run` (the tests' harness) with the example recipe at `quality: auto`, a
`manifest:`, `on_duplicate: skip` and the status page on; its `/api/status` is polled every
100 ms from a thread for the whole run. The files come in batches of 1,000 (each batch
renamed into the inbox at once, the next when the log says it is done): `--small` 64 px
JPEGs, then `--dups` copies of the first of them under new names (skipped as duplicates),
then `--big` 12 MP JPEGs, then 30 s idle. At each batch's end and every 3 s: each process's
RSS and open descriptors (/proc), the database's and its WAL's bytes, state_dir/names'
entries, the log's bytes, and every other file in state_dir. A leak shows as growth after
the warm-up that goes on with the files; a bound as a plateau.

`--index N`: a state_dir whose index holds N originals (N small files through the daemon
with a plain recipe, in batches), then the time from `hotfolder run` to its `ready`, and of
`hotfolder status`, `duplicates --json` and `explain` of an archived file beside it, three
times; `--reuse` takes the index a run before left under --dir, `--baseline-tree` (another
checkout, e.g. `git archive HEAD | tar -x -C DIR`) starts its daemon too, interleaved.

The corpus (bench/corpus.py) is made under --dir and kept; each run's folders (longrun/,
index/) are left there to look at and made anew by the next run (index/ kept with --reuse):
about 1.2 GB after a default run, 0.9 GB after --index 100000. Delete --dir when done.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench import corpus
from bench.bursts import _Counted, recipe_daemon
from bench.heic import EXAMPLE_RECIPE
from tests.harness import Daemon
from tests.harness.daemon import hotfolder, http_url
from tests.harness.procs import descendants, parent_of
from tests.http_clients import open_fds

BATCH = 1000
# Lines the main process writes once per original it ends: rendered, or skipped as a copy.
ENDS = (b'"file_done"', b'"duplicate_skipped"')


def _status_field(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _role(main: int, pid: int) -> str:
    if pid == main:
        return "main"
    if parent_of(pid) != main:
        return "worker"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except OSError:
        return "?"
    return "forkserver" if b"forkserver" in cmd else "tracker" if b"resource_tracker" in cmd else "child"


def _tree_size(path: Path) -> tuple[int, int]:
    """Entries and bytes (lstat: symlinks as themselves) under `path`."""
    count = size = 0
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            count += 1
            size += os.lstat(os.path.join(top, name)).st_size
    return count, size


class Sampler:
    """Samples of the daemon's processes and state_dir, one dict each."""

    def __init__(self, d: Daemon, state: Path):
        self.d, self.state, self.samples = d, state, []
        self.ends = _Counted(d.log_path, ENDS[0], 0)
        self.dups = _Counted(d.log_path, ENDS[1], 0)
        self.t0 = time.monotonic()

    def done(self) -> int:
        return self.ends.count() + self.dups.count()

    def sample(self, phase: str) -> dict:
        assert self.d.proc is not None
        main = self.d.proc.pid
        procs = {}
        for pid in sorted({main, *descendants(main)}):
            procs[pid] = {"role": _role(main, pid), "rss_kb": _status_field(pid, "VmRSS:"),
                          "hwm_kb": _status_field(pid, "VmHWM:"), "fds": open_fds(pid)}
        files = {}
        for entry in os.scandir(self.state):
            if entry.is_dir(follow_symlinks=False):
                files[entry.name + "/"] = _tree_size(Path(entry.path))
            else:
                files[entry.name] = (1, entry.stat(follow_symlinks=False).st_size)
        s = {"t": round(time.monotonic() - self.t0, 1), "phase": phase, "done": self.done(),
             "log_bytes": self.d.log_path.stat().st_size, "procs": procs, "state": files}
        self.samples.append(s)
        return s


class Poller(threading.Thread):
    """GET `url` every `every` s until stopped; also counts the status.json versions seen (by
    their mtime: a replaced file's inode may be the one freed by the last replace)."""

    def __init__(self, url: str, status_json: Path, every: float = 0.1):
        super().__init__(daemon=True)
        self.url, self.status_json, self.every = url, status_json, every
        self.stop_event = threading.Event()
        self.gets, self.errors, self.ms = 0, 0, []
        self.versions: set[int] = set()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                self.gets += 1
                self.ms.append((time.perf_counter() - t) * 1000)
            except OSError:
                self.errors += 1
            try:
                self.versions.add(self.status_json.stat().st_mtime_ns)
            except OSError:
                pass


def _feed(d: Daemon, sampler: Sampler, files: list[Path], staging: Path, phase: str, names=None,
          every: float = 3.0) -> None:
    """`files` into the inbox in batches of BATCH, each renamed in at once, the next when the
    log says this one is done; a sample at each batch's end and every `every` s."""
    for start in range(0, len(files), BATCH):
        batch = files[start:start + BATCH]
        target = sampler.done() + len(batch)
        for k, f in enumerate(batch):
            os.link(f, staging / (names(start + k) if names else f.name))
        t0 = time.perf_counter()
        for k, f in enumerate(batch):
            name = names(start + k) if names else f.name
            os.rename(staging / name, d.inbox / name)
        last = time.monotonic()
        deadline = t0 + 120 + len(batch)
        while sampler.done() < target:
            d.check_alive()
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{phase}: {sampler.done()} of {target} done in time\n{d.log.tail()}")
            if time.monotonic() - last >= every:
                sampler.sample(phase)
                last = time.monotonic()
            time.sleep(0.05)
        s = sampler.sample(phase)
        print(_line(s, len(batch) / (time.perf_counter() - t0)), flush=True)


def _line(s: dict, rate: float) -> str:
    by_role: dict[str, list] = {}
    for p in s["procs"].values():
        by_role.setdefault(p["role"], []).append(p)
    rss = " ".join(f"{r}:{'/'.join(str(p['rss_kb'] // 1024) for p in ps)}" for r, ps in sorted(by_role.items()))
    fds = " ".join(f"{r}:{'/'.join(str(p['fds']) for p in ps)}" for r, ps in sorted(by_role.items()))
    st = s["state"]
    db, wal = st.get("hotfolder.db", (0, 0))[1], st.get("hotfolder.db-wal", (0, 0))[1]
    names = st.get("names/", (0, 0))
    return (f"{s['phase']:>5} t={s['t']:6.0f}s done={s['done']:6d} {rate:6.0f}/s  RSS MiB {rss}  fds {fds}  "
            f"db {db / 1e6:.2f} MB wal {wal / 1e6:.2f} MB names {names[0]} entries  log {s['log_bytes'] / 1e6:.1f} MB")


def long_run(root: Path, small: int, big: int, dups: int, workers: int) -> dict:
    small_files = corpus.generate(root / "corpus" / "small", "small", small)
    big_files = corpus.generate(root / "corpus" / "big12", "big12", big)
    recipe = [{**r, "quality": "auto"} for r in EXAMPLE_RECIPE]
    work = root / "longrun"
    shutil.rmtree(work, ignore_errors=True)
    d = recipe_daemon(work, recipe, workers, copies_rendered=False)
    config = json.loads(d.config.read_text())
    config["folders"][0].update({"manifest": "{stem}.json", "on_duplicate": "skip"})
    config["http"] = {"listen": "127.0.0.1:0"}
    d.config.write_text(json.dumps(config, indent=2) + "\n")
    state = work / "state"
    staging = work / "staging"
    staging.mkdir()
    with d:
        d.start(timeout=60)
        sampler = Sampler(d, state)
        poller = Poller(http_url(d) + "/api/status", state / "status.json")
        poller.start()
        t0 = time.monotonic()
        try:
            print(_line(sampler.sample("start"), 0.0), flush=True)
            _feed(d, sampler, small_files, staging, "small")
            _feed(d, sampler, small_files[:dups], staging, "dups", names=lambda i: f"copy_{i:06d}.jpg")
            _feed(d, sampler, big_files, staging, "big", every=2.0)
            for _ in range(10):
                time.sleep(3)
                sampler.sample("idle")
            print(_line(sampler.samples[-1], 0.0), flush=True)
        finally:
            seconds = time.monotonic() - t0
            poller.stop_event.set()
            poller.join(10)
        d.stop(timeout=120)
    out = {"samples": sampler.samples, "http_gets": poller.gets, "http_errors": poller.errors,
           "http_ms_median": statistics.median(poller.ms) if poller.ms else None,
           "http_ms_max": max(poller.ms) if poller.ms else None,
           "status_json_writes_per_s": len(poller.versions) / seconds, "seconds": seconds}
    print(f"http: {poller.gets} GETs of /api/status ({poller.errors} errors), median {out['http_ms_median']:.1f} ms, "
          f"max {out['http_ms_max']:.0f} ms; status.json replaced {out['status_json_writes_per_s']:.2f}/s "
          f"(seen by a 100 ms poll)")
    return out


def _timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    done = hotfolder(*args, timeout=300)
    return time.perf_counter() - t, done


def index_run(root: Path, count: int, workers: int, baseline: Path | None = None, reuse: bool = False) -> dict:
    """An index of `count` originals, then the start's time to ready and the commands'; with
    `baseline` (another checkout), its daemon's starts too, interleaved; `reuse`: the index an
    earlier run left under `root`, as it is."""
    files = corpus.generate(root / "corpus" / "small", "small", count)
    recipe = [{"name": "thumb", "operation": "fit", "size": "32x32", "format": "jpeg", "quality": 80}]
    work = root / "index"
    state = work / "state"
    results: dict = {}
    if reuse and (state / "hotfolder.db").exists():  # the index of an earlier run, as it was left
        d = Daemon(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
        d = recipe_daemon(work, recipe, workers, copies_rendered=False)
        staging = work / "staging"
        staging.mkdir()
        with d:
            d.start(timeout=60)
            _feed(d, Sampler(d, state), files, staging, "index", every=10.0)
            d.stop(timeout=120)
    with d:
        # An idle start's cost: interpreter, config, database, recovery, the workers' warm-up.
        starts: list[float] = []
        base: list[float] = []
        for _ in range(3):
            if baseline is not None:
                env = {"PYTHONPATH": os.pathsep.join([str(baseline / "daemon"), os.environ.get("PYTHONPATH", "")])}
                base.append(d.start(env=env, timeout=300).wait_ready(1))
                d.stop(timeout=120)
            starts.append(d.start(timeout=300).wait_ready(1))
            cfg = str(d.config)
            archived = next(p for p in d.archive.rglob("*.jpg"))
            for name, args in (("status", ("status", "--json", "--config", cfg)),
                               ("duplicates", ("duplicates", "--json", "--config", cfg)),
                               ("duplicates --limit 10", ("duplicates", "--limit", "10", "--config", cfg)),
                               ("explain", ("explain", "--json", "--config", cfg, str(archived))),
                               ("explain, a copy from elsewhere", ("explain", "--json", "--config", cfg,
                                                        str(files[0].parent / corpus.name_for("small", 0))))):
                seconds, done = _timed(*args)
                if done.returncode not in (0, 1):
                    raise RuntimeError(f"{name}: exit {done.returncode}: {done.stderr[-500:]}")
                results.setdefault(name, []).append(seconds)
            d.stop(timeout=120)
    db = (state / "hotfolder.db").stat().st_size
    results = {k: statistics.median(v) for k, v in results.items()}
    results["ready"] = statistics.median(starts)
    results["ready_all"] = starts
    if base:
        results["ready_baseline"] = statistics.median(base)
        results["ready_baseline_all"] = base
    results["db_bytes"] = db
    for k, v in results.items():
        print(f"{k}: {v if isinstance(v, (int, list)) else f'{v:.2f} s'}")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.longrun", description=__doc__.split("\n")[0])
    p.add_argument("--small", type=int, default=20000)
    p.add_argument("--big", type=int, default=300)
    p.add_argument("--dups", type=int, default=2000)
    p.add_argument("--index", type=int, default=0, help="instead: the start and commands at an index of N")
    p.add_argument("--baseline-tree", type=Path, help="with --index: also start this checkout's daemon")
    p.add_argument("--reuse", action="store_true", help="with --index: the index an earlier run left in --dir")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hotfolder-bench")
    p.add_argument("--json", type=Path, help="write the samples here")
    args = p.parse_args(argv)
    if args.index:
        out = index_run(args.dir, args.index, args.workers, args.baseline_tree, args.reuse)
    else:
        out = long_run(args.dir, args.small, args.big, args.dups, args.workers)
    if args.json:
        args.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
