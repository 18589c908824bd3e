"""The service against reloads, kills and stops on a running daemon (issue 14's findings)."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

from PIL import Image

from tests.harness import descendants, drop_burst, ends, files_under, wait_for, worker_pids

FULL = """
- name: full
  operation: none
  format: png
"""


def test_shrinking_the_pool_then_losing_a_worker_keeps_one_alive(daemon_factory, tmp_path):
    """workers 2 -> 1, SIGHUP, and a worker SIGKILLed within 50 ms: one worker must
    remain and every file reach an end (it used to be none, silently)."""
    d = daemon_factory().start()
    names = drop_burst(d, tmp_path, 40, size=(3000, 2000))
    wait_for(lambda: ends(d) >= 2, 30, what="the burst to be under way")
    d.config.write_text(d.config.read_text().replace("workers: 2", "workers: 1"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reloaded"), 10, interval=0.005, what="the reload")
    os.kill(worker_pids(d)[0], signal.SIGKILL)
    wait_for(lambda: ends(d) == len(names), 90, what="every file with one worker")
    wait_for(lambda: d.status_json()["workers_alive"] == 1, 10, what="exactly one worker")
    assert d.status_json()["workers"] == 1
    assert d.stop() == 0


def test_a_reload_that_cannot_make_its_folders_is_refused(daemon_factory, tmp_path):
    d = daemon_factory().start()
    (tmp_path / "a-file").write_text("not a folder")
    bad = d.config.read_text().replace("output: var/output", f"output: {tmp_path / 'a-file' / 'output'}")
    d.config.write_text(bad)
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 10, what="the reload to be refused")
    assert refused["key"] == "folders[test].output" and "is a file, not a folder" in refused["reason"], refused
    assert d.proc.poll() is None, "the daemon stays up on its previous config"
    assert "reload refused" in d.status_json()["message"]
    check = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(d.config)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 1 and "folders[test].output" in check.stderr, check.stderr
    assert d.stop() == 0
    run = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "is a file, not a folder" in run.stderr, run.stderr


def test_a_reload_during_the_drain_is_refused(daemon_factory, tmp_path):
    d = daemon_factory(renditions=FULL, workers=1).start()
    big = io.BytesIO()
    Image.frombytes("RGB", (5000, 4000), os.urandom(5000 * 4000 * 3)).save(big, "JPEG", quality=90)
    (d.inbox / "big.jpg").write_bytes(big.getvalue())
    wait_for(lambda: files_under(d.processing), 20, interval=0.005, what="big.jpg to be claimed")
    d.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: d.event("stopping"), 10, interval=0.005, what="the drain")
    d.proc.send_signal(signal.SIGHUP)
    assert d.stop() == 0
    refused = d.event("reload_refused")
    assert refused and "stopping" in refused["reason"]
    assert not d.events("reloaded")


def test_a_drain_starts_no_new_work(daemon_factory, tmp_path):
    """The drain's sentinels queued behind files not yet started: a stop began new work."""
    d = daemon_factory(renditions=FULL, workers=1, extra="queue_size: 6").start()
    staging = tmp_path / "staging"
    staging.mkdir()
    noise = os.urandom(4000 * 3000 * 3)
    for i in range(6):
        Image.frombytes("RGB", (4000, 3000), noise).save(staging / f"f{i}.jpg", quality=90 - i)
    for i in range(6):
        os.rename(staging / f"f{i}.jpg", d.inbox / f"f{i}.jpg")
    wait_for(lambda: len(files_under(d.processing)) >= 3, 30, what="one file rendering and two queued")
    before = len(files_under(d.archive))
    d.proc.send_signal(signal.SIGTERM)
    assert d.stop() == 0
    assert len(files_under(d.archive)) <= before + 1, "the drain rendered files it had not started"
    assert sorted(files_under(d.archive) + files_under(d.inbox)) == [f"f{i}.jpg" for i in range(6)]
    assert not files_under(d.processing)


def test_a_signal_to_the_whole_process_group_is_the_main_process_s_alone(daemon_factory, tmp_path):
    """timeout(1), `kill -TERM -PGID`, supervisord's stopasgroup, a unit's default
    KillMode=control-group and a terminal's hangup signal every process of the group. The
    forkserver died of SIGTERM and SIGHUP, its workers left with it, and a stop then waited
    out drain_timeout (20 s here) to kill their replacements. Only the main process acts now:
    a reload keeps its workers, a stop drains them."""
    d = daemon_factory(renditions=FULL, workers=1).start(new_session=True)
    workers, group = worker_pids(d), descendants(d.proc.pid)  # and the forkserver, the resource tracker
    os.killpg(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: d.event("reloaded"), 10, what="the reload")
    Image.frombytes("RGB", (2400, 1600), os.urandom(2400 * 1600 * 3)).save(tmp_path / "big.jpg", quality=90)
    os.rename(tmp_path / "big.jpg", d.inbox / "big.jpg")  # a ~0.5 s render: the stop may meet it
    wait_for(lambda: files_under(d.processing) or files_under(d.archive), 20, what="the file claimed")
    assert worker_pids(d) == workers, "the group's SIGHUP ended the workers"
    assert descendants(d.proc.pid) == group
    os.killpg(d.proc.pid, signal.SIGTERM)
    wait_for(lambda: d.proc.poll() is not None, 15, what="the stop (a second SIGTERM would stop at once)")
    assert d.proc.returncode == 0
    assert not d.events("worker_died") and not d.events("worker_killed"), d.log.tail()
    assert not files_under(d.processing)
    assert files_under(d.archive) + files_under(d.inbox) == ["big.jpg"]
    assert bool(files_under(d.archive)) == bool(d.outputs())


def test_signals_during_the_exit_leave_its_code_0(daemon_factory):
    """A SIGTERM after the stop is done, while the interpreter shuts down (which puts the
    default action back), ended a clean stop as a death by SIGTERM (-15): the suite's
    second SIGTERM met it once; a SIGTERM every 0.5 ms after the first, 10 of 10 times."""
    d = daemon_factory().start()
    d.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    while d.proc.poll() is None and time.monotonic() < deadline:
        d.proc.send_signal(signal.SIGTERM)  # the first says stop, the second stop at once, the rest land late
        time.sleep(0.0005)
    assert d.proc.poll() == 0, d.proc.returncode


def test_counts_are_of_files_after_kills_and_a_rebuild(daemon_factory, tmp_path):
    """A file was counted as processed twice after a rebuild; the status counts files."""
    d = daemon_factory(extra="max_attempts: 10").start()
    names = drop_burst(d, tmp_path, 30, size=(2000, 1500))
    deadline = time.monotonic() + 30
    kills = rounds = 0
    # Bounded: on a slow machine, kills every 0.3 s can outpace the workers' boots for as
    # long as they go on; twelve rounds give rebuilds and retries enough.
    while ends(d) < len(names) - 3 and rounds < 12 and time.monotonic() < deadline:
        for pid in worker_pids(d):
            os.kill(pid, signal.SIGKILL)  # both at once, now and then: rebuilds and retries
            kills += 1
        rounds += 1
        time.sleep(0.3)
    wait_for(lambda: ends(d) == len(names), 60, what="every file")
    assert kills
    wait_for(lambda: d.status_json()["processed"] == len(files_under(d.archive)), 10,
             what=f"processed to count the {len(files_under(d.archive))} archived files exactly")
    assert d.status_json()["failed"] == len([p for p in files_under(d.failed) if not p.endswith(".error.json")])
    assert d.stop() == 0
