"""Cluster mode for real: a redis-server (tests/redis_server.py), the head (`hotfolder run`)
and `hotfolder worker` processes on a temp shared root. The fixtures are in conftest.py
(`redis_server`, `cluster_factory`).

A test hook (HOTFOLDER_TEST_HOLD, cluster/tasks.py) lets a test hold a render (hold-NAME) or
make it kill its own process (kill-NAME), and says which process started which attempt
(started-NAME-ATTEMPT-PID), so kills land mid-task deterministically.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from tests.harness.daemon import hotfolder, launch
from tests.harness.folders import ends, files_under, settled
from tests.harness.logs import LogFile
from tests.harness.waiting import wait_for
from tests.redis_server import RedisServer


def jpeg(path: Path, size=(480, 360), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                             Image.new("L", size, (seed * 37) % 256),
                             Image.linear_gradient("L").rotate(90).resize(size)])
    im.save(path, "JPEG", quality=85)
    return path


class Cluster:
    def __init__(self, tmp: Path, redis: RedisServer, extra: str = "", **cluster):
        self.tmp, self.redis = tmp, redis
        self.extra = extra  # more of the config's top level (notify:, ...)
        self.root = tmp / "shared"
        self.base = self.root / "photos"
        self.inbox, self.output = self.base / "inbox", self.base / "output"
        self.archive, self.failed = self.base / "archive", self.base / "failed"
        self.processing = self.base / "processing"
        self.hold = tmp / "hold"
        self.hold.mkdir(parents=True, exist_ok=True)
        self.config = tmp / "hotfolder.yaml"
        self.procs: dict[str, subprocess.Popen] = {}
        self.log_files: dict[str, LogFile] = {}
        settings = {"enabled": True, "broker_url": redis.url, "cluster_id": "test-cluster",
                    "shared_root": str(self.root), "task_time_limit": 30, "task_soft_time_limit": 25,
                    "visibility_timeout": 60, "stale_after": 60, "lease_ttl": 2, "reconcile_interval": 0.5,
                    "max_attempts": 3, **cluster}
        self.write_config(settings)

    def write_config(self, settings: dict, path: Path | None = None) -> Path:
        text = textwrap.dedent(f"""\
            workers: 1
            state_dir: {self.tmp / 'state'}
            folders:
              - name: photos
                inbox: {self.inbox}
                output: {self.output}
                archive: {self.archive}
                failed: {self.failed}
                processing: {self.processing}
                quiet_period: 0.1
                rescan_interval: 1
                renditions:
                  - name: web
                    operation: fit
                    size: 160x160
                    format: jpeg
            cluster: {json.dumps(settings)}
            """) + self.extra
        path = path or self.config
        path.write_text(text)
        return path

    # processes
    def _start(self, name: str, args: list[str], config: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.Popen:
        self.log_files[name] = LogFile(self.tmp / f"{name}.log")
        proc = launch([*args, "--config", str(config or self.config)], self.log_files[name].path, self.tmp,
                      env={"HOTFOLDER_TEST_HOLD": str(self.hold), **(env or {})},
                      new_session=True)  # its own process group: a "machine" to kill
        self.procs[name] = proc
        return proc

    def start_head(self) -> subprocess.Popen:
        proc = self._start("head", ["run"])
        wait_for(lambda: self.events("head", "ready") or proc.poll() is not None, 30, what="the head to be ready")
        assert proc.poll() is None, self.log("head")
        return proc

    def start_worker(self, name: str, wait: bool = True, config: Path | None = None,
                     env: dict[str, str] | None = None) -> subprocess.Popen:
        """`env`: more of its environment (PYTHONPATH=a copy of the code: a node of other code)."""
        proc = self._start(name, ["worker", "--concurrency", "1", "--name", f"{name}@%h"], config, env)
        if wait:
            wait_for(lambda: self.events(name, "ready") or proc.poll() is not None, 30,
                     what=f"worker {name} to be ready")
            assert proc.poll() is None, self.log(name)
        return proc

    def stop(self, name: str, sig=signal.SIGTERM, timeout: float = 30) -> int:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
        return proc.wait(timeout)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():  # whatever is left, with its whole group
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    # looking
    def log(self, name: str) -> str:
        return self.log_files[name].text() if name in self.log_files else ""

    def events(self, name: str, event: str | None = None) -> list[dict]:
        return self.log_files[name].events(event) if name in self.log_files else []

    def worker_events(self, event: str) -> list[dict]:
        return [e for n in self.procs if n != "head" for e in self.events(n, event)]

    def drop(self, names: list[str]) -> None:
        staging = self.tmp / "staging"
        for i, name in enumerate(names):
            jpeg(staging / name, seed=i)
        for name in names:
            os.rename(staging / name, self.inbox / name)

    def settled(self, n: int) -> bool:
        """Exactly n originals reached an end, none is being rendered, and every job is over
        (its record goes after the move)."""
        return settled(self, n) and not list((self.root / ".hotfolder" / "jobs").glob("*.json"))

    def ended(self) -> int:
        return ends(self)

    def started(self, name: str) -> list[tuple[int, int]]:
        """(attempt, pid) of each render of NAME that began, from the hook's markers."""
        out = []
        for p in self.hold.glob(f"started-{name}-*"):
            attempt, pid = p.name[len(f"started-{name}-"):].split("-")
            out.append((int(attempt), int(pid)))
        return sorted(out)

    def status(self) -> dict:
        return json.loads(hotfolder("status", "--json", "--config", str(self.config)).stdout)

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)[-4000:]}" for n in self.procs)

    def assert_exactly_once(self, names: list[str]) -> None:
        """Each file archived once, one output, rendered by exactly one finished attempt."""
        assert sorted(files_under(self.archive)) == sorted(names), self.logs()
        assert sorted(files_under(self.output)) == sorted(f"{Path(n).stem}_web.jpg" for n in names)
        assert not files_under(self.inbox) and not files_under(self.processing)
        done = Counter(e["file"] for e in self.worker_events("file_done"))
        assert done == Counter(names), f"file_done per file: {done}\n{self.logs()}"
        assert not list((self.root / ".hotfolder" / "jobs").glob("*.json")), "job records left behind"


def redis_client(c: Cluster):
    import redis

    return redis.Redis.from_url(c.redis.url)


def send_again(c: Cluster, job: str, src: str) -> None:
    """The same message the head sent, once more (a duplicate delivery)."""
    from hotfolder.cluster import app as app_mod
    from hotfolder.cluster import versions
    from hotfolder.config import load

    cfg = load(c.config)
    app = app_mod.make_app(cfg.cluster)
    try:
        app_mod.send(app, cfg.cluster, job, "photos", src, versions.of_config(cfg)["photos"])
    finally:
        app.close()
