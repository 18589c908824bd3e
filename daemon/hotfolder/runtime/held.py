"""Tests only: a pause a test can hold the main loop in, to kill the daemon at a precise point
of a protocol (between two of its steps). HOTFOLDER_TEST_HOLD=<dir> (cluster/tasks.py's
variable): at `point` for the file `name`, a `hold-<point>-<name>` file there holds the loop
(`held-<point>-<name>` written first, for the test to wait on) until it is removed, two
minutes at most. Unset (always, outside tests): one look at the environment."""
from __future__ import annotations

import os
import time
from pathlib import Path

TEST_HOLD = "HOTFOLDER_TEST_HOLD"
MOST = 120.0  # seconds a hold lasts at most: a test that died never holds a daemon for ever


def at(point: str, name: str) -> None:
    where = os.environ.get(TEST_HOLD)
    if not where:
        return
    d, tag = Path(where), f"{point}-{name}"
    if not (d / f"hold-{tag}").exists():
        return
    (d / f"held-{tag}").write_text(str(os.getpid()))
    deadline = time.monotonic() + MOST
    while (d / f"hold-{tag}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
