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
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from bench import corpus
from bench.recipe import renditions as recipe_renditions
from bench.run import Daemon, DaemonUnavailable, cores, daemon_burst, fps, fresh, log, verify

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from redis_server import RedisServer  # noqa: E402 - the tests' throwaway server, shared


@dataclass
class ClusterDaemon(Daemon):
    """The head (`hotfolder run`, cluster.enabled) and N `hotfolder worker` processes."""
    broker_url: str = ""
    nodes: int = 1
    worker_procs: tuple = ()

    def write_config(self) -> None:
        super().write_config()
        config = json.loads(self.config.read_text())
        config["cluster"] = {"enabled": True, "broker_url": self.broker_url, "cluster_id": f"bench-{self.work.name}",
                             "shared_root": str(self.work), "reconcile_interval": 5}
        self.config.write_text(json.dumps(config, indent=2) + "\n")

    def start(self) -> None:
        super().start()
        self.wait_ready()
        procs = []
        for i in range(self.nodes):
            logfile = self.work / f"worker{i}.log"
            with open(logfile, "wb") as out:
                procs.append(subprocess.Popen(self.command("worker", "--concurrency", "1", "--name", f"w{i}@%h"),
                                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              cwd=self.work, start_new_session=True))
        self.worker_procs = tuple(procs)
        deadline = time.monotonic() + 60
        for i, p in enumerate(procs):
            logfile = self.work / f"worker{i}.log"
            while '"event": "ready"' not in logfile.read_text(errors="replace"):
                if p.poll() is not None or time.monotonic() > deadline:
                    raise DaemonUnavailable(f"worker {i} not ready:\n{logfile.read_text(errors='replace')[-2000:]}")
                time.sleep(0.05)

    def stop(self, timeout: float = 60.0):
        for p in self.worker_procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.worker_procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return super().stop(timeout)


def burst(make, files, rends) -> tuple[float, str | None]:
    d = make()
    with d:
        d.start()
        if not isinstance(d, ClusterDaemon):
            d.wait_ready()
        time.sleep(0.5)  # workers settled
        seconds = daemon_burst(d, files, rends)
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
                        make = lambda: Daemon(work, rends, n)  # noqa: E731
                    else:
                        make = lambda: ClusterDaemon(work, rends, 1, broker_url=redis.url, nodes=n)  # noqa: E731
                    seconds, problem = burst(make, files, rends)
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
