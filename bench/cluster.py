"""Cluster mode's cost per file: the head plus 1, 2, 3 local `hotfolder worker`
processes (one render process each) against local mode with as many workers, on
the same corpus and recipe as `python -m bench` (12 MP JPEG -> fit 1600 px JPEG q85).

    python -m bench.cluster                      # 16 files, N = 1,2,3, best of 2 rounds
    python -m bench.cluster --files 24 --workers 1,2 --rounds 3 --thumb

Everything runs on this machine against a throwaway redis-server on loopback (no
persistence), so the ratio is the price of going through Redis, a job record and a
lease per file, not of a network or a shared file system. With N above the core
count both modes oversubscribe alike. Needs redis-server and the cluster extra.
"""
from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import os
import signal
import subprocess
import tempfile
import time

from bench import corpus
from bench.daemon import bench_daemon, daemon_burst
from bench.recipe import renditions as recipe_renditions
from bench.run import cores, fps, verify
from bench.workspace import fresh, log
from tests.harness import Daemon, DaemonFailed, LogFile, launch
from tests.redis_server import RedisServer


def start_nodes(d: Daemon, nodes: int) -> list[subprocess.Popen]:
    """N `hotfolder worker` processes (one render process each) beside the head, each in
    its own process group, once each says it is ready."""
    procs, logs = [], []
    for i in range(nodes):
        logs.append(LogFile(d.root / f"worker{i}.log"))
        procs.append(launch(["worker", "--concurrency", "1", "--name", f"w{i}@%h", "--config", str(d.config)],
                            logs[-1].path, d.root, new_session=True))
    deadline = time.monotonic() + 60
    for i, (p, worker_log) in enumerate(zip(procs, logs, strict=True)):
        while not worker_log.events("ready"):
            if p.poll() is not None or time.monotonic() > deadline:
                raise DaemonFailed(f"worker {i} not ready:\n{worker_log.text()[-2000:]}")
            time.sleep(0.05)
    return procs


def stop_nodes(procs: list[subprocess.Popen], timeout: float = 60.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def burst(d: Daemon, nodes: int, files, rends) -> tuple[float, str | None]:
    """The head (local mode when nodes == 0) and its nodes started and ready, then the burst."""
    procs: list[subprocess.Popen] = []
    with d:
        d.start(timeout=60)
        try:
            procs = start_nodes(d, nodes)
            time.sleep(0.5)  # workers settled
            seconds = daemon_burst(d, files, rends)
        finally:
            stop_nodes(procs)
    return seconds, verify(d.output, files, rends)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=16)
    p.add_argument("--workers", default="1,2,3", help="worker counts to compare (default 1,2,3)")
    p.add_argument("--rounds", type=int, default=2, help="best of this many bursts per row")
    p.add_argument("--thumb", action="store_true", help="add the 400 px rendition")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get("HOTFOLDER_BENCH_DIR",
                                                                   Path(tempfile.gettempdir()) / "hotfolder-bench")))
    args = p.parse_args(argv)
    if RedisServer.binary is None:
        print("bench.cluster: redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 2
    rends = recipe_renditions(args.thumb)
    root = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    files = corpus.generate(root / "corpus" / "big12", "big12", args.files)
    for f in files:
        f.read_bytes()
    scratch = Path(tempfile.mkdtemp(prefix="cluster-", dir=root))
    counts = [int(n) for n in args.workers.split(",")]
    rows = []
    with RedisServer(scratch / "redis") as redis:
        for n in counts:
            best = {}
            for mode in ("local", "cluster"):
                times = []
                for k in range(args.rounds):
                    work = fresh(scratch / f"{mode}-{n}-{k}")
                    if mode == "local":
                        d, nodes = bench_daemon(work, rends, n, None), 0
                    else:
                        cluster = {"enabled": True, "broker_url": redis.url, "cluster_id": f"bench-{work.name}",
                                   "shared_root": str(work), "reconcile_interval": 5}
                        d, nodes = bench_daemon(work, rends, 1, None, cluster=cluster), n
                    seconds, problem = burst(d, nodes, files, rends)
                    if problem:
                        raise SystemExit(f"{mode} N={n}: {problem}")
                    times.append(seconds)
                    log(f"{mode} N={n} round {k + 1}: {fps(len(files), seconds):.2f} files/s ({seconds:.2f} s)")
                best[mode] = fps(len(files), min(times))
            rows.append((n, best["local"], best["cluster"]))
    print(f"\nhotfolder cluster vs local mode: {len(files)} x 12 MP JPEG -> "
          f"{' + '.join(f'fit {r.box}' for r in rends)}, {cores()} cores, best of {args.rounds}\n")
    print("| render processes | local files/s | cluster files/s (head + N workers) | cluster / local |")
    print("|---|---|---|---|")
    for n, local, cluster in rows:
        print(f"| {n} | {local:.2f} | {cluster:.2f} | {cluster / local:.2f} |")
    import shutil
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
