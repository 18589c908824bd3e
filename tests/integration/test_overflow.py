"""An inotify queue overflow is answered by a rescan, not by lost files."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import files_under, wait_for

LIMIT = Path("/proc/sys/fs/inotify/max_queued_events")


def test_overflow_triggers_a_rescan(daemon_factory, tmp_path):
    # The periodic rescan is an hour away: only the overflow can make the daemon look.
    # The queue is overflowed at its own size, the daemon stopped meanwhile: lowering
    # max_queued_events (global to the machine) gave every inotify instance made while this
    # test ran a queue of 16, the daemons of the tests other xdist workers ran included.
    d = daemon_factory(folder_extra="rescan_interval: 3600", renditions="""
        - name: small
          operation: fit
          size: 16x16
          format: jpeg
    """).start()
    staging = tmp_path / "staging"
    staging.mkdir()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(staging / "t.jpg")
    data = (staging / "t.jpg").read_bytes()
    names = [f"o{i:03d}.jpg" for i in range(300)]
    for name in names:
        (staging / name).write_bytes(data)
    churn = d.inbox / ".churn"  # a hidden name: never a candidate, yet every event of it is queued
    events_per_round = 3  # create, close-write, delete
    queued = int(LIMIT.read_text())  # 16,384 by default
    if queued > 2_000_000:
        pytest.skip(f"{LIMIT} is {queued}: too many events to overflow in a test's time")
    rounds = queued // events_per_round + 100
    os.kill(d.proc.pid, signal.SIGSTOP)  # its watcher reads nothing meanwhile: the kernel queue fills
    try:
        for _ in range(rounds):
            churn.write_bytes(b"")
            churn.unlink()
        for name in names:
            os.rename(staging / name, d.inbox / name)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    wait_for(lambda: len(files_under(d.archive)) == len(names), 60,
             what="every file, though their events were dropped by the kernel")
    assert "overflow" in d.log_text().lower()
    assert d.stop() == 0
