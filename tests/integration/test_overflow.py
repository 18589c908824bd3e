"""An inotify queue overflow is answered by a rescan, not by lost files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import files_under, wait_for

LIMIT = Path("/proc/sys/fs/inotify/max_queued_events")


@pytest.fixture
def tiny_inotify_queue():
    """A kernel queue of 16 events (per inotify instance created from now on)."""
    try:
        old = LIMIT.read_text()
        LIMIT.write_text("16\n")
    except OSError as exc:
        pytest.skip(f"cannot lower {LIMIT} (needs root outside a container): {exc}")
    try:
        yield
    finally:
        LIMIT.write_text(old)


def test_overflow_triggers_a_rescan(daemon_factory, tmp_path, tiny_inotify_queue):
    # The periodic rescan is an hour away: only the overflow can make the daemon look.
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
    for name in names:
        os.rename(staging / name, d.inbox / name)
    wait_for(lambda: len(files_under(d.archive)) == len(names), 60,
             what="every file, though most of their events were dropped by the kernel")
    assert "overflow" in d.log_text().lower()
    assert d.stop() == 0
