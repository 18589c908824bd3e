"""Attacks on the process tree: workers killed, the main process killed, hung files,
a queue wedged by a worker that died holding its lock.

Each test asserts the invariant: every file reaches exactly one end — its outputs
and the archive, or failed/ with its reason — never both, never none, and no partial
output under a final name.
"""
from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from tests.harness import drop_burst, ends, files_under, noise_jpeg, wait_for, worker_pids


def assert_each_exactly_once(d, names: list[str]) -> None:
    archived = set(files_under(d.archive))
    failed = {p for p in files_under(d.failed) if not p.endswith(".error.json")}
    outputs = set(d.outputs())
    assert not archived & failed, f"both archived and failed: {archived & failed}"
    assert archived | failed == set(names), \
        f"missing: {set(names) - archived - failed}; extra: {(archived | failed) - set(names)}"
    for name in archived:
        stem = Path(name).stem
        assert f"{stem}_web.jpg" in outputs and f"{stem}_thumb.webp" in outputs, f"outputs of {name}"
    for name in failed:
        assert (d.failed / f"{name}.error.json").exists(), f"no reason recorded for {name}"
    leftovers = [p for p in outputs if Path(p).name.startswith(".hf-") or "~" in p or "_web_1" in p]
    assert not leftovers, leftovers
    assert not files_under(d.processing) and not [p for p in files_under(d.inbox)]


def test_workers_killed_during_a_burst(daemon_factory, tmp_path):
    d = daemon_factory(extra="max_attempts: 5").start()
    names = drop_burst(d, tmp_path, 80, size=(3000, 2000))
    rng = random.Random(7)
    killed: set[int] = set()
    # A bounded chaos: on a loaded machine, a kill every few hundred ms can outpace the
    # workers' boots for as long as it lasts; what is tested is that everything ends after.
    deadline = time.monotonic() + 45
    while ends(d) < len(names) and len(killed) < 40 and time.monotonic() < deadline:
        pids = worker_pids(d)
        if pids and ends(d) < len(names) - 5:
            pid = rng.choice(pids)
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(rng.uniform(0.1, 0.4))  # "every few hundred milliseconds"
    wait_for(lambda: ends(d) == len(names), 60, what="every file to reach an end after the chaos")
    assert len(killed) >= 5
    assert_each_exactly_once(d, names)
    # Every kill was seen: as a dead worker, or as one of those a rebuild replaced (a kill
    # inside a lock makes the pool rebuild; it kills the rest itself).
    seen = {e["pid"] for e in d.events("worker_died")}
    seen |= {pid for e in d.events("rebuilding_workers") for pid in e["workers"]}
    assert killed <= seen, f"kills never noticed: {sorted(killed - seen)}"
    wait_for(lambda: d.status_json().get("workers_alive") == 2, 15, what="both workers replaced")
    wait_for(lambda: d.status_json()["processed"] == len(files_under(d.archive)), 10,
             what="processed to count each archived file once")
    assert d.stop() == 0


def test_main_process_killed_mid_burst_then_restarted(daemon_factory, tmp_path):
    d = daemon_factory().start()
    names = drop_burst(d, tmp_path, 40)
    wait_for(lambda: ends(d) >= 5, 30, what="the burst to be under way")
    workers = worker_pids(d)
    d.proc.kill()
    d.proc.wait(10)
    # The workers notice their parent is gone and leave by themselves.
    for pid in workers:
        wait_for(lambda pid=pid: not _alive(pid), 10, what=f"orphaned worker {pid} to exit")
    assert ends(d) < len(names), "the kill came too late to test anything"
    d.start()
    wait_for(lambda: ends(d) == len(names), 60, what="all files after the restart")
    assert_each_exactly_once(d, names)
    assert not [p for p in files_under(d.failed)], "nothing fails because of the kill"
    assert d.stop() == 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


FULL_SIZE = """
- name: full
  operation: none
  format: jpeg
"""


def test_file_that_keeps_killing_workers_goes_to_failed(daemon_factory, tmp_path):
    # A full-size rendition of 35 MP of noise: its read and its render last long enough to be seen.
    d = daemon_factory(extra="max_attempts: 3", renditions=FULL_SIZE).start()
    poison = noise_jpeg(tmp_path / "poison.jpg", size=(7000, 5000), seed=3)
    os.rename(poison, d.inbox / "poison.jpg")
    killed = 0
    while killed < 3:
        # Whoever holds the poison file open dies (the way a decoder segfault would).
        pid = wait_for(lambda: _holder_of(d, "poison.jpg"), 30, interval=0.005, what="a worker to render poison.jpg")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda pid=pid: not _alive(pid), 10, interval=0.005, what=f"killed worker {pid} to be gone")
        killed += 1
    wait_for(lambda: (d.failed / "poison.jpg.error.json").exists(), 20, what="poison.jpg in failed/")
    record = json.loads((d.failed / "poison.jpg.error.json").read_text())
    assert record["error"] == "worker died by signal 9 on attempt 3", record
    assert record["attempts"] == 3
    noise_jpeg(tmp_path / "after.jpg")
    os.rename(tmp_path / "after.jpg", d.inbox / "after.jpg")  # the daemon goes on serving
    wait_for(lambda: "after.jpg" in files_under(d.archive), 20, what="a good file after the poison")
    assert d.stop() == 0


def _blocked(pid: int) -> bool:
    """The main thread sleeps in the kernel (a futex or a pipe read), twice in a row."""
    def wchan():
        try:
            return Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            return ""
    first = wchan()
    time.sleep(0.05)
    return first not in ("", "0") and wchan() == first


def _holder_of(d, name: str) -> int | None:
    """The worker rendering `name` now: the one holding it open (a worker reads an original
    once into memory, its content hash's read, and decodes from there: the file is open for
    that read only), or the one the pool says renders it (the status snapshot's `current`,
    once a second)."""
    workers = worker_pids(d)
    for pid in workers:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").endswith("processing/" + name):
                    return pid
        except OSError:
            continue
    try:
        snapshot = json.loads((d.var / "state" / "status.json").read_text())
    except (OSError, ValueError):
        return None
    for busy in snapshot.get("current", []):
        if busy.get("file") == name and busy.get("pid") in workers and _alive(busy["pid"]):
            return busy["pid"]
    return None


def test_hung_file_is_killed_after_the_timeout(daemon_factory, tmp_path):
    d = daemon_factory(extra="file_timeout: 0.1\nmax_attempts: 2").start()
    big = noise_jpeg(tmp_path / "huge.jpg", size=(8000, 6000), seed=5)  # takes ~300 ms, far past 0.1 s
    os.rename(big, d.inbox / "huge.jpg")
    wait_for(lambda: (d.failed / "huge.jpg.error.json").exists(), 60, what="huge.jpg to time out twice")
    record = json.loads((d.failed / "huge.jpg.error.json").read_text())
    assert record["error"] == "worker timed out after 0.1 s on attempt 2", record
    assert d.events("worker_hung")
    assert d.stop() == 0


def test_queue_wedged_by_a_worker_killed_in_get_is_rebuilt(daemon_factory, tmp_path):
    d = daemon_factory().start()
    wait_for(lambda: len(worker_pids(d)) == 2 and all(_blocked(p) for p in worker_pids(d)), 20,
             what="two workers waiting in Queue.get()")
    # Idle workers wait inside Queue.get(); the one holding the queue's read lock
    # takes it to its grave, and every later get() would block forever.
    for pid in worker_pids(d):
        os.kill(pid, signal.SIGKILL)
    names = drop_burst(d, tmp_path, 6, size=(400, 300))
    wait_for(lambda: ends(d) == len(names), 60, what="files processed after the queue was rebuilt")
    assert_each_exactly_once(d, names)
    assert d.events("rebuilding_workers"), "the stall was detected and the queue rebuilt"
    wait_for(lambda: d.status_json()["processed"] == len(names), 10, what="the count carried over the rebuild")
    assert d.stop() == 0


def test_a_stop_whose_queue_is_wedged_does_not_wait_out_the_drain(daemon_factory):
    """Idle workers killed in Queue.get(), replaced, and then a stop: the replacements can
    never take their sentinels (the read lock went with the dead), and with no job waiting
    the stall rule never fired: the stop waited drain_timeout (20 s here) to kill them."""
    d = daemon_factory().start()
    wait_for(lambda: len(worker_pids(d)) == 2 and all(_blocked(p) for p in worker_pids(d)), 20,
             what="two workers waiting in Queue.get()")
    first = set(worker_pids(d))
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(worker_pids(d)) == 2 and not set(worker_pids(d)) & first, 20, what="two new workers")
    assert d.stop(timeout=10) == 0
    assert [e for e in d.events("worker_killed") if "sentinel not taken" in e["reason"]], d.log.tail()


def test_second_sigterm_stops_at_once_and_loses_nothing(daemon_factory, tmp_path):
    d = daemon_factory().start()
    names = drop_burst(d, tmp_path, 20)
    wait_for(lambda: ends(d) >= 2, 30, what="work under way")
    d.proc.send_signal(signal.SIGTERM)
    d.proc.send_signal(signal.SIGTERM)
    assert d.stop(timeout=15) == 0
    waiting = set(files_under(d.inbox))
    done = set(files_under(d.archive))
    assert not files_under(d.processing), "claims were given back"
    assert waiting | done == set(names) and not waiting & done
