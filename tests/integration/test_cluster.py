"""Cluster mode with the real thing: redis-server, the head (`hotfolder run`) and 2–3
`hotfolder worker` processes (one render process each) on a temp shared root.

Every wait has a deadline. A test hook (HOTFOLDER_TEST_HOLD, cluster/tasks.py) lets a
test hold a render (hold-NAME) or make it kill its own process (kill-NAME), and says
which process started which attempt (started-NAME-ATTEMPT-PID), so kills land
mid-task deterministically.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import _descendants, files_under, log_events, wait_for
from tests.redis_server import RedisServer

pytestmark = [
    pytest.mark.integration,
    # CI sets HOTFOLDER_REQUIRE_REDIS=1: there a missing redis-server is a failure, not a skip.
    pytest.mark.skipif(RedisServer.binary is None and not os.environ.get("HOTFOLDER_REQUIRE_REDIS"),
                       reason="redis-server is not installed (apt-get install redis-server)"),
]
celery = pytest.importorskip("celery", reason="the cluster extra is not installed (pip install -e '.[cluster]')")


def jpeg(path: Path, size=(480, 360), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                             Image.new("L", size, (seed * 37) % 256),
                             Image.linear_gradient("L").rotate(90).resize(size)])
    im.save(path, "JPEG", quality=85)
    return path


class Cluster:
    def __init__(self, tmp: Path, redis: RedisServer, **cluster):
        self.tmp, self.redis = tmp, redis
        self.root = tmp / "shared"
        self.base = self.root / "photos"
        self.inbox, self.output = self.base / "inbox", self.base / "output"
        self.archive, self.failed, self.processing = self.base / "archive", self.base / "failed", self.base / "processing"
        self.hold = tmp / "hold"
        self.hold.mkdir(parents=True, exist_ok=True)
        self.config = tmp / "hotfolder.yaml"
        self.procs: dict[str, subprocess.Popen] = {}
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
            """)
        path = path or self.config
        path.write_text(text)
        return path

    # processes
    def _start(self, name: str, args: list[str], config: Path | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        env = {**os.environ, "HOTFOLDER_TEST_HOLD": str(self.hold)}
        proc = subprocess.Popen([sys.executable, "-m", "hotfolder", *args, "--config", str(config or self.config)],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self.tmp, env=env,
                                start_new_session=True)  # its own process group: a "machine" to kill
        log.close()
        self.procs[name] = proc
        return proc

    def start_head(self) -> subprocess.Popen:
        proc = self._start("head", ["run"])
        wait_for(lambda: self.events("head", "ready") or proc.poll() is not None, 30, what="the head to be ready")
        assert proc.poll() is None, self.log("head")
        return proc

    def start_worker(self, name: str, wait: bool = True, config: Path | None = None) -> subprocess.Popen:
        proc = self._start(name, ["worker", "--concurrency", "1", "--name", f"{name}@%h"], config)
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
        for name, proc in self.procs.items():
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
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def events(self, name: str, event: str | None = None) -> list[dict]:
        return log_events(self.log(name), event)

    def worker_events(self, event: str) -> list[dict]:
        return [e for n in self.procs if n != "head" for e in self.events(n, event)]

    def drop(self, names: list[str]) -> None:
        staging = self.tmp / "staging"
        for i, name in enumerate(names):
            jpeg(staging / name, seed=i)
        for name in names:
            os.rename(staging / name, self.inbox / name)

    def settled(self, n: int) -> bool:
        """n originals reached an end and every job is over (records go after the move)."""
        return self.ended() == n and not files_under(self.processing) and \
            not list((self.root / ".hotfolder" / "jobs").glob("*.json"))

    def ended(self) -> int:
        return len(files_under(self.archive)) + len([p for p in files_under(self.failed)
                                                     if not p.endswith(".error.json")])

    def started(self, name: str) -> list[tuple[int, int]]:
        """(attempt, pid) of each render of NAME that began, from the hook's markers."""
        out = []
        for p in self.hold.glob(f"started-{name}-*"):
            attempt, pid = p.name[len(f"started-{name}-"):].split("-")
            out.append((int(attempt), int(pid)))
        return sorted(out)

    def status(self) -> dict:
        r = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--json", "--config", str(self.config)],
                           capture_output=True, text=True, timeout=30)
        return json.loads(r.stdout)

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


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def cluster_factory(tmp_path, redis_server):
    made: list[Cluster] = []

    def make(**settings) -> Cluster:
        c = Cluster(tmp_path / f"c{len(made)}", redis_server, **settings)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop_all()
    for c in made:  # the fixture in conftest fails the test on leaks; kill stragglers of groups we made
        for proc in c.procs.values():
            for pid in _descendants(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def redis_client(c: Cluster):
    import redis

    return redis.Redis.from_url(c.redis.url)


def stat_count(c: Cluster, what: str) -> int:
    return int(redis_client(c).get(f"hotfolder:test-cluster:hf:stats:{what}") or 0)


def wait_counts(c: Cluster, processed: int, failed: int = 0) -> None:
    """The counts are added just after the job ends: wait for them, briefly."""
    wait_for(lambda: (stat_count(c, "processed"), stat_count(c, "failed")) == (processed, failed), 5,
             what=f"the cluster counts to read processed {processed}, failed {failed}")


# ---------------------------------------------------------------------------------------------

def test_burst_exactly_once_across_three_workers(cluster_factory):
    c = cluster_factory()
    c.start_head()
    for i in range(3):
        c.start_worker(f"w{i}")
    names = [f"img{i:02d}.jpg" for i in range(30)]
    c.drop(names)
    wait_for(lambda: c.settled(30), 60, what="30 files to be archived")
    c.assert_exactly_once(names)
    nodes = Counter(e["node"].split("@")[0] for e in c.worker_events("file_done"))
    assert len(nodes) >= 2, f"the work was not shared: {nodes}"
    wait_counts(c, processed=30)
    wait_for(lambda: c.status().get("cluster", {}).get("processed") == 30, 10, what="status to say 30")
    st = c.status()
    assert st["running"] and st["cluster"]["in_flight"] == 0 and st["cluster"]["broker"] == "ok"
    human = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(c.config)],
                           capture_output=True, text=True, timeout=30).stdout
    assert "queue length" in human and "oldest claimed" in human
    assert c.stop("head") == 0
    assert c.stop("w0") == 0


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def hold(c: Cluster, name: str) -> Path:
    path = c.hold / f"hold-{name}"
    path.write_text("")
    return path


def done_event(c: Cluster, name: str) -> dict:
    found = [e for e in c.worker_events("file_done") if e["file"] == name]
    assert len(found) == 1, f"{name}: {len(found)} file_done events\n{c.logs()}"
    return found[0]


def queued(c: Cluster) -> int:
    """Messages waiting in the cluster's queues (one per config version)."""
    r = redis_client(c)
    return sum(r.llen(key) for key in r.scan_iter(match="hotfolder:test-cluster:hotfolder.*"))


def send_again(c: Cluster, job: str, src: str) -> None:
    """The same message the head sent, once more (a duplicate delivery)."""
    from hotfolder.cluster import app as app_mod
    from hotfolder.cluster import versions
    from hotfolder.config import load

    cfg = load.load(c.config)
    app = app_mod.make_app(cfg.cluster)
    try:
        app_mod.send(app, cfg.cluster, job, "photos", src, versions.of_config(cfg)["photos"])
    finally:
        app.close()


def test_pool_child_killed_mid_task_is_redelivered(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg", "b.jpg"])
    (attempt, pid), = wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    assert attempt == 1 and parent_of(pid) in {p.pid for p in c.procs.values()}  # a pool child
    os.kill(pid, signal.SIGKILL)
    held.unlink()
    wait_for(lambda: c.settled(2), 30, what="both files to end")
    c.assert_exactly_once(["a.jpg", "b.jpg"])
    assert done_event(c, "a.jpg")["attempts"] == 2
    assert [a for a, _ in c.started("a.jpg")] == [1, 2]


def test_whole_worker_killed_job_recovered(cluster_factory):
    # visibility_timeout 5: Redis gives the dead node's message back; stale_after 8: else the reconciler
    c = cluster_factory(visibility_timeout=5, stale_after=8, lease_ttl=2)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    (_, pid), = wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    victim = next(n for n, p in c.procs.items() if p.pid == parent_of(pid))
    t0 = time.monotonic()
    c.stop(victim, signal.SIGKILL)  # the whole process group: the machine is gone
    held.unlink()
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be done by the surviving worker")
    recovered_in = time.monotonic() - t0
    c.assert_exactly_once(["a.jpg"])
    survivor = done_event(c, "a.jpg")
    assert survivor["node"].split("@")[0] != victim and survivor["attempts"] == 2
    assert recovered_in < 30


def test_poison_file_fails_after_max_attempts(cluster_factory):
    c = cluster_factory(max_attempts=3)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    (c.hold / "kill-poison.jpg").write_text("")  # every render of it kills its process
    c.drop(["poison.jpg", "good1.jpg", "good2.jpg"])
    wait_for(lambda: c.settled(3), 60, what="the poison file to reach failed/")
    assert files_under(c.failed) == ["poison.jpg", "poison.jpg.error.json"]
    record = json.loads((c.failed / "poison.jpg.error.json").read_text())
    assert "worker lost 3 times" in record["error"] and record["attempts"] == 3 and record["step"] == "worker"
    assert [a for a, _ in c.started("poison.jpg")] == [1, 2, 3]  # bounded: no fourth render
    assert sorted(files_under(c.archive)) == ["good1.jpg", "good2.jpg"]
    assert not files_under(c.processing)
    wait_counts(c, processed=2, failed=1)


def test_same_job_sent_twice_is_a_noop(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    sent = c.events("head", "file_sent")[0]
    src = "photos/processing/a.jpg"
    send_again(c, sent["job"], src)  # while it renders: the other worker must not start it
    wait_for(lambda: [e for e in c.worker_events("job_skipped") if e["reason"] == "in_progress_elsewhere"],
             20, what="the duplicate to be skipped (lease)")
    held.unlink()
    wait_for(lambda: c.settled(1), 20, what="a.jpg to end")
    send_again(c, sent["job"], src)  # after it ended: nothing to do
    wait_for(lambda: [e for e in c.worker_events("job_skipped") if e["reason"] == "already_done"],
             20, what="the late duplicate to be a no-op")
    c.assert_exactly_once(["a.jpg"])
    assert len(c.started("a.jpg")) == 1
    wait_counts(c, processed=1)


def test_task_longer_than_visibility_timeout_runs_once(cluster_factory):
    # Redis hands the unacked message out again after 3 s while the render takes ~7 s (celery #5935)
    c = cluster_factory(visibility_timeout=3, stale_after=30, lease_ttl=1)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "long.jpg")
    c.drop(["long.jpg"])
    wait_for(lambda: c.started("long.jpg"), 20, what="long.jpg to start")
    wait_for(lambda: [e for e in c.worker_events("job_skipped") if e["reason"] == "in_progress_elsewhere"],
             20, what="the redelivered copy to meet the lease")
    held.unlink()
    wait_for(lambda: c.settled(1), 20, what="long.jpg to end")
    time.sleep(1.0)  # a late redelivery would start a second render now
    c.assert_exactly_once(["long.jpg"])
    assert len(c.started("long.jpg")) == 1


def test_redis_restarted_mid_burst(cluster_factory):
    c = cluster_factory(lease_ttl=1)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    holds = [hold(c, "img00.jpg"), hold(c, "img01.jpg")]  # both workers busy: the rest waits in Redis
    names = [f"img{i:02d}.jpg" for i in range(20)]
    c.drop(names)
    wait_for(lambda: c.started("img00.jpg") and c.started("img01.jpg"), 20, what="both held files to start")
    wait_for(lambda: queued(c) >= 10, 10, what="the other files to wait in the queue")
    c.redis.restart()  # no persistence: the queue, the leases and the counts are gone
    for h in holds:
        h.unlink()
    wait_for(lambda: c.settled(20), 60, what="all 20 files after the restart")
    c.assert_exactly_once(names)
    assert c.events("head", "jobs_resent"), "the reconciler re-sent nothing"


def test_worker_sigterm_mid_task_finishes_it(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    (_, pid), = wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    c.procs["w0"].send_signal(signal.SIGTERM)  # warm shutdown
    time.sleep(1.0)
    assert c.procs["w0"].poll() is None, "the worker left with a render running"
    held.unlink()
    assert c.procs["w0"].wait(20) == 0
    assert c.ended() == 1
    c.assert_exactly_once(["a.jpg"])
    assert done_event(c, "a.jpg")["attempts"] == 1


def test_head_restart_leaves_claimed_files_to_the_workers(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    assert c.stop("head", signal.SIGTERM) == 0
    assert files_under(c.processing) == ["a.jpg"] and not files_under(c.inbox)  # not given back
    c.start_head()
    time.sleep(1.0)
    assert files_under(c.processing) == ["a.jpg"] and not files_under(c.inbox)
    held.unlink()
    wait_for(lambda: c.settled(1), 20, what="a.jpg to end")
    c.assert_exactly_once(["a.jpg"])
    assert len(c.started("a.jpg")) == 1


def test_soft_time_limit_moves_the_file_to_failed(cluster_factory):
    c = cluster_factory(task_soft_time_limit=1, task_time_limit=10)
    c.start_head()
    c.start_worker("w0")
    hold(c, "slow.jpg")  # never released: the soft limit must end it
    c.drop(["slow.jpg"])
    wait_for(lambda: c.settled(1), 20, what="slow.jpg to reach failed/")
    record = json.loads((c.failed / "slow.jpg.error.json").read_text())
    assert record["error"].startswith("timeout") and record["attempts"] == 1
    assert not files_under(c.output) and not files_under(c.processing)


@pytest.mark.parametrize("case", ["no_marker", "foreign", "missing"])
def test_worker_refuses_a_wrong_shared_root(cluster_factory, case):
    c = cluster_factory()
    c.root.mkdir(parents=True)
    config = c.config
    if case == "foreign":
        (c.root / ".hotfolder-cluster").write_text("someone-else\n")
        want = "belongs to cluster 'someone-else'"
    elif case == "missing":
        config = c.write_config({"enabled": True, "broker_url": c.redis.url, "cluster_id": "test-cluster",
                                 "shared_root": str(c.root), "path_map": {str(c.root): "/nonexistent/share"}},
                                c.tmp / "node.yaml")
        want = "does not exist"
    else:
        want = "has no .hotfolder-cluster"
    proc = c.start_worker("w0", wait=False, config=config)
    assert proc.wait(30) == 2
    assert want in c.log("w0"), c.log("w0")
    assert not c.events("w0", "ready")


def test_a_job_record_that_cannot_be_written_gives_the_file_back(cluster_factory):
    """Finding: if writing the job record failed after the claim rename, the file stayed
    in processing/ until the next head start."""
    c = cluster_factory()
    c.start_head()
    jobs_dir = c.root / ".hotfolder" / "jobs"
    jobs_dir.rmdir()
    jobs_dir.write_text("a file where the job records should go")
    try:
        c.drop(["a.jpg"])
        wait_for(lambda: c.events("head", "claiming_paused"), 20, what="the head to refuse to hand a.jpg over")
        wait_for(lambda: files_under(c.inbox) == ["a.jpg"] and not files_under(c.processing), 10,
                 what="a.jpg back in the inbox")
    finally:
        jobs_dir.unlink()
        jobs_dir.mkdir()
    c.start_worker("w0")
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be rendered once the records can be written")
    c.assert_exactly_once(["a.jpg"])
