"""The daemon as the benchmark runs it: the tests' harness (tests/harness/daemon.py) on a
config of the recipe's renditions, and what is measured of it: the burst, the added
latency, the backlog's memory, its processes' CPU and runqueue time.

The process tree is walked by /proc/PID/task/*/children here (0.04 ms against the
harness's 2 ms /proc scan, measured): the backlog samples it every 50 ms while it is
timed.
"""
from __future__ import annotations

import importlib.util
import json
import os
import statistics
import textwrap
import time
from pathlib import Path

from bench.recipe import Rendition, expected_outputs
from bench.workspace import fresh
from tests.harness import Daemon, DaemonFailed

PAGE = os.sysconf("SC_PAGE_SIZE")


class DaemonUnavailable(Exception):
    pass


def bench_daemon(work: Path, renditions: tuple[Rendition, ...], workers: int, quiet_period: float | None,
                 cluster: dict | None = None) -> Daemon:
    """A daemon in `work` whose one folder, `bench`, renders the recipe: its config as
    JSON (which is YAML), the folder's quiet_period the daemon's default unless given."""
    if importlib.util.find_spec("hotfolder") is None:
        raise DaemonUnavailable("the hotfolder package is not installed (pip install -e .)")
    d = Daemon(work)
    for place in (d.inbox, d.output, d.processing, d.archive, d.failed):
        place.mkdir(parents=True, exist_ok=True)
    folder = {
        "name": "bench",
        "inbox": str(d.inbox), "output": str(d.output), "processing": str(d.processing),
        "archive": str(d.archive), "failed": str(d.failed),
        "on_duplicate": "process",  # the latency row drops copies: each rendered (and indexed, as in use)
        "renditions": [
            {"name": r.name, "operation": "fit", "size": f"{r.box}x{r.box}", "format": "jpeg",
             "quality": r.quality, "filename": "{stem}_{rendition}.jpg"}
            for r in renditions
        ],
    }
    if quiet_period is not None:
        folder["quiet_period"] = quiet_period
    config: dict = {"workers": workers, "state_dir": str(work / "state"), "folders": [folder]}
    if cluster:
        config["cluster"] = cluster
    d.config.write_text(json.dumps(config, indent=2) + "\n")
    return d


def effective_quiet_period(d: Daemon, asked: float | None) -> float | None:
    """The quiet_period the daemon reads from our config (its default unless set)."""
    try:
        from hotfolder.config import load
        return load(d.config).folders[0].quiet_period
    except Exception:  # noqa: BLE001 - only for the table
        return asked


def logged_durations(d: Daemon, event: str) -> list[float]:
    """duration_ms of every `event` in the daemon's JSON log (diagnostic only)."""
    return [float(e["duration_ms"]) for e in d.events(event) if isinstance(e.get("duration_ms"), (int, float))]


def log_tail(d: Daemon, lines: int = 12) -> str:
    return textwrap.indent(d.log.tail(lines), "    | ")


def stop(d: Daemon, timeout: float = 60.0) -> int | None:
    """SIGTERM and the exit code; a daemon still there after `timeout` is killed with its
    whole tree (the harness does it) and its code reported."""
    if d.proc is None:
        return None
    try:
        return d.stop(timeout=timeout)
    except DaemonFailed:
        return d.proc.returncode


def tree_pids(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (its own threads, not its children)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def runqueue_waits(pid: int) -> dict[int, float]:
    """Seconds each thread of `pid` has spent runnable but waiting for a CPU
    (/proc/PID/task/TID/schedstat, second field, in ns): time another process held the
    core. On a shared machine it separates "the workers had nothing to do" from "they
    had work and no CPU"."""
    waits = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return waits
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                waits[int(tid)] = int(fh.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
    return waits


def runqueue_seconds(before: dict[int, dict[int, float]], pids: list[int]) -> float:
    """Runqueue wait of `pids`' threads since `before` (threads born since count whole)."""
    total = 0.0
    for pid in pids:
        then = before.get(pid, {})
        total += sum(w - then.get(tid, 0.0) for tid, w in runqueue_waits(pid).items())
    return total


def tree_rss(root: int) -> tuple[int, int]:
    """(sum of RSS in bytes, number of processes) over root and all its descendants."""
    total = n = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
                n += 1
        except (OSError, IndexError, ValueError):
            pass
    return total, n


def wait_outputs(d: Daemon, files, renditions, timeout: float, poll: float = 0.005) -> float:
    """Block until every file has all its outputs (or went to failed/); returns the
    perf_counter time when that was first seen."""
    want = expected_outputs(files, renditions)
    pending = dict(want)
    deadline = time.perf_counter() + timeout
    failed_stems: set[str] = set()
    while pending:
        now = time.perf_counter()
        if now > deadline:
            raise RuntimeError(f"daemon: {len(pending)} of {len(want)} files have no output after "
                               f"{timeout:.0f} s\n{log_tail(d)}")
        names = set(os.listdir(d.output))
        for stem in [s for s, group in pending.items() if all(n in names for n in group)]:
            del pending[stem]
        if pending and d.failed.exists():
            for n in os.listdir(d.failed):
                s = Path(n).stem
                if s in pending and not n.endswith(".json"):
                    failed_stems.add(s)
                    del pending[s]
        if pending:
            d.check_alive()
            time.sleep(poll)
    if failed_stems:
        raise RuntimeError(f"daemon: {len(failed_stems)} files went to failed/ "
                           f"(e.g. {sorted(failed_stems)[0]})\n{log_tail(d)}")
    return time.perf_counter()


def daemon_burst(d: Daemon, files, renditions, prefix: str = "") -> float:
    """Files renamed into the inbox at once (as prefix+name); seconds until the last
    output exists."""
    staging = fresh(d.root / "staging")
    names = [prefix + Path(f).name for f in files]
    for f, n in zip(files, names, strict=False):
        os.link(f, staging / n)
    t0 = time.perf_counter()
    for n in names:
        os.rename(staging / n, d.inbox / n)
    t1 = wait_outputs(d, [d.inbox / n for n in names], renditions, timeout=60 + 10 * len(files))
    return t1 - t0


def daemon_latency(d: Daemon, source: Path, drops: int, renditions, gap: float = 0.5) -> list[float]:
    """Write one file at a time into the idle daemon's inbox: seconds from close() to
    the last output of that file."""
    data = source.read_bytes()
    lat = []
    for i in range(drops):
        name = f"latency_{i:03d}.jpg"
        with open(d.inbox / name, "wb") as fh:
            fh.write(data)
        t0 = time.perf_counter()  # just after close()
        t1 = wait_outputs(d, [d.inbox / name], renditions, timeout=60, poll=0.002)
        lat.append(t1 - t0)
        # idle again: the original has left inbox and processing
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and (
                (d.inbox / name).exists() or (d.processing / name).exists()):
            time.sleep(0.01)
        time.sleep(gap)
    return lat


def daemon_trickle(d: Daemon, source: Path, drops: int, renditions, every: float = 0.25) -> list[float]:
    """Write a file into the inbox every `every` seconds, whatever the daemon is doing (a
    camera tethered, an uploader): seconds from each close() to its last output. Unlike
    `daemon_latency` (one file at a time into an idle daemon), each arrival meets the claim
    of the one before (a move out of the inbox, which watchdog holds to pair it)."""
    data = source.read_bytes()
    names = [f"trickle_{i:03d}.jpg" for i in range(drops)]
    want = expected_outputs([d.inbox / n for n in names], renditions)
    closed: dict[str, float] = {}
    took: dict[str, float] = {}
    start = time.perf_counter()
    deadline = start + drops * every + 60
    while len(took) < drops:
        now = time.perf_counter()
        if now > deadline:
            raise RuntimeError(f"daemon: {drops - len(took)} of {drops} trickled files have no output after "
                               f"{now - start:.0f} s\n{log_tail(d)}")
        if len(closed) < drops and now >= start + len(closed) * every:
            name = names[len(closed)]
            with open(d.inbox / name, "wb") as fh:
                fh.write(data)
            closed[name] = time.perf_counter()
        present = set(os.listdir(d.output))
        for name, t0 in closed.items():
            if name not in took and all(n in present for n in want[Path(name).stem]):
                took[name] = time.perf_counter() - t0
        d.check_alive()
        time.sleep(0.002)
    return [took[n] for n in names]


def first_entry(path: Path) -> bool:
    try:
        with os.scandir(path) as it:
            return any(not e.name.startswith(".") for e in it)
    except OSError:
        return False


def daemon_backlog(work: Path, small: list[Path], renditions, workers: int, window: float,
                   quiet_period: float | None) -> dict:
    """Start the daemon with len(small) files already waiting; sample the RSS of its
    process tree for `window` seconds; note the first claim."""
    d = bench_daemon(fresh(work), renditions, workers, quiet_period)
    t = time.perf_counter()
    for f in small:
        os.link(f, d.inbox / f.name)
    link_s = time.perf_counter() - t
    peak = peak_n = 0
    samples = []
    first_claim = None
    ready_at = None
    with d:
        d.start(wait_ready=False)
        next_rss = 0.0
        end = d.started + window
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            if first_claim is None and (first_entry(d.processing) or first_entry(d.output)
                                        or first_entry(d.archive)):
                first_claim = time.perf_counter() - d.started
            if now >= next_rss:
                rss, n = tree_rss(d.proc.pid)
                samples.append(rss)
                if rss > peak:
                    peak, peak_n = rss, n
                next_rss = now + 0.05
            if ready_at is None and d.events("ready"):
                ready_at = time.perf_counter()
            d.check_alive()
            time.sleep(0.005 if first_claim is None else 0.05)
        done = len(os.listdir(d.archive))
        failed = sum(1 for n in os.listdir(d.failed) if not n.endswith(".json"))
        stop_t = time.perf_counter()
        rc = stop(d)
        stop_s = time.perf_counter() - stop_t
    return {
        "backlog": len(small), "window_s": window, "peak_rss_bytes": peak, "peak_processes": peak_n,
        "median_rss_bytes": int(statistics.median(samples)) if samples else 0,
        "first_claim_s": first_claim,
        "ready_s": None if ready_at is None else ready_at - d.started,
        "archived_in_window": done, "failed_in_window": failed,
        "stop_s": stop_s, "exit_code": rc, "link_s": link_s,
    }
