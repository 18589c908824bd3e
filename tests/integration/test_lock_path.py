"""What stands at state_dir/hotfolder.lock is data, never a trap (an attack round): a FIFO
there blocked `hotfolder status` for ever, and a symlink there made the daemon create,
truncate and lock the file it points at. Each command here has a deadline."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hotfolder.errors import ExitCode
from tests.harness import hotfolder

DEADLINE = 30  # s: each command ends well within it, or it waited on the trap


def _lock(home: Path) -> Path:
    state = home / "var" / "state"
    state.mkdir(parents=True, exist_ok=True)
    return state / "hotfolder.lock"


def _plant(home: Path, kind: str) -> tuple[Path, Path | None]:
    """A FIFO at the lock path, or a symlink there to a FIFO elsewhere; the lock path and the link's target."""
    lock = _lock(home)
    if kind == "fifo":
        os.mkfifo(lock)
        return lock, None
    target = home / "elsewhere.fifo"
    os.mkfifo(target)
    lock.symlink_to(target)
    return lock, target


@pytest.mark.parametrize("kind, said", [("fifo", "is a FIFO (named pipe)"), ("symlink", "is a symlink (to ")])
def test_status_says_what_stands_at_the_lock_path_and_never_waits_on_it(home, kind, said):
    lock, _ = _plant(home, kind)
    config = str(home / "config" / "hotfolder.yaml")
    text = hotfolder("status", "-c", config, timeout=DEADLINE)
    assert text.returncode == ExitCode.NOT_RUNNING, text.stdout + text.stderr
    first = text.stdout.splitlines()[0]
    assert first.startswith(f"{lock} {said}"), text.stdout
    assert "not a lock file: no daemon can start on this config while it is there; remove it" in first, first
    assert "hotfolder is not running" in text.stdout, text.stdout
    as_json = hotfolder("status", "--json", "-c", config, timeout=DEADLINE)
    found = json.loads(as_json.stdout)  # JSON alone
    assert as_json.returncode == ExitCode.NOT_RUNNING and not found["running"], as_json.stdout
    assert found["lock_problem"] == first
    assert lock.is_symlink() == (kind == "symlink") and stat.S_ISFIFO(os.stat(lock).st_mode), "left as it was"


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_run_refuses_a_lock_path_that_is_no_regular_file_in_one_line(home, kind):
    """The daemon opened a FIFO there read-write, locked it and ran; through a symlink it
    would open (or create), truncate and lock the file at the link's target."""
    lock, target = _plant(home, kind)
    done = hotfolder("run", "-c", str(home / "config" / "hotfolder.yaml"), timeout=DEADLINE)
    assert done.returncode == ExitCode.USAGE == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hotfolder run: {lock} is a "), done.stderr
    assert f"remove it (`rm {lock}`" in lines[0] and "put nothing in its place" in lines[0], lines[0]
    assert lock.is_symlink() == (kind == "symlink"), "left as it was"
    assert not (home / "var" / "inbox").exists(), "nothing was made: the start was refused first"


def test_run_never_creates_or_truncates_the_target_of_a_symlink_at_the_lock_path(home):
    lock = _lock(home)
    kept, missing = home / "precious.txt", home / "made-by-the-daemon.txt"
    kept.write_text("data of another program\n")
    for target in (kept, missing):
        lock.symlink_to(target)
        done = hotfolder("run", "-c", str(home / "config" / "hotfolder.yaml"), timeout=DEADLINE)
        assert done.returncode == ExitCode.USAGE, done.stderr
        assert f"is a symlink (to {target})" in done.stderr, done.stderr
        lock.unlink()
    assert kept.read_text() == "data of another program\n" and not missing.exists()
