"""`hotfolder places` as an admin runs it: a subprocess, on the records a real daemon wrote
in its state database; `--forget` refused while that daemon holds its instance lock."""
from __future__ import annotations

import fcntl
import json
import os
import pwd
import stat
import time
from pathlib import Path

import pytest

from hotfolder.errors import ExitCode
from hotfolder.state import db, filesystems
from hotfolder.state.filesystems import Seen
from tests.harness import hotfolder, launch
from tests.harness.permissions import bound_by_permissions


def recorded(config) -> dict[str, dict]:
    listed = hotfolder("places", "-c", str(config), "--json")
    assert listed.returncode == 0, listed.stderr
    return {place["path"]: place for place in json.loads(listed.stdout)}


def test_places_lists_the_daemon_s_records_and_forgets_one_only_while_it_is_stopped(daemon_factory):
    d = daemon_factory()
    d.start()  # the places are made and recorded before it is ready
    listed = hotfolder("places", "-c", str(d.config))
    assert listed.returncode == ExitCode.OK, listed.stderr
    lines = listed.stdout.splitlines()
    at = lines.index(f"  {d.output}")
    assert lines[at + 1].startswith("      folders[test].output; on "), lines
    assert lines[at + 2] == "      now: there, on that file system", lines
    assert {str(d.inbox), str(d.processing), str(d.archive), str(d.failed)} <= recorded(d.config).keys()

    refused = hotfolder("places", "-c", str(d.config), "--forget", str(d.output))
    assert refused.returncode == ExitCode.ALREADY_RUNNING == 1, refused.stdout + refused.stderr
    assert refused.stdout == ""
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"hotfolder places: hotfolder is running on this config (pid {d.proc.pid}, "), line
    assert f"else `kill -TERM {d.proc.pid}`), run this again, then start it" in line, line
    assert str(d.output) in recorded(d.config), "refused: nothing forgotten"

    assert d.stop() == 0
    forgot = hotfolder("places", "-c", str(d.config), "--forget", str(d.output))
    assert forgot.returncode == ExitCode.OK, forgot.stderr
    assert forgot.stdout.startswith(f"forgot the record of {d.output} (folders[test].output, on "), forgot.stdout
    assert forgot.stdout.rstrip().endswith(", is used and recorded anew"), forgot.stdout
    assert str(d.output) not in recorded(d.config) and str(d.inbox) in recorded(d.config)

    again = hotfolder("places", "-c", str(d.config), "--forget", str(d.output))
    assert again.returncode == ExitCode.FAILED, again.stderr
    assert f"hotfolder places: no place's record is {d.output} (recorded: " in again.stderr, again.stderr

    d.start()  # the next start records the place anew, where it finds it
    assert recorded(d.config)[str(d.output)]["now"] == "there"
    assert d.stop() == 0


# --- what an admin (or a damaged state_dir) leaves where the lock or the snapshot is --------

def _recorded_output(home: Path) -> Path:
    place = home / "var" / "output"
    filesystems.note(home / "var" / "state", [Seen(place, "/", "ext4", 1, "photos", "output")])
    return place


def test_forget_beside_a_lock_file_that_is_a_fifo_never_hangs_and_still_sees_the_daemon(home):
    """A FIFO at state_dir/hotfolder.lock (made by hand, or a link swapped in to one): the
    daemon opens it read-write and holds its flock all the same; `places --forget` opened it
    read-only, which blocks until a writer comes: it waited for ever."""
    place, lock = _recorded_output(home), home / "var" / "state" / "hotfolder.lock"
    os.mkfifo(lock)
    config = str(home / "config" / "hotfolder.yaml")
    fd = os.open(lock, os.O_RDWR)  # this process is a daemon holding it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = hotfolder("places", "-c", config, "--forget", str(place), timeout=20)
        assert refused.returncode == ExitCode.ALREADY_RUNNING, refused.stderr
        assert "hotfolder is running on this config (pid ?, " in refused.stderr, refused.stderr
    finally:
        os.close(fd)
    forgot = hotfolder("places", "-c", config, "--forget", str(place), timeout=20)
    assert forgot.returncode == ExitCode.OK, forgot.stderr
    assert stat.S_ISFIFO(os.lstat(lock).st_mode), "the lock file is left as it is"


@pytest.mark.parametrize("snapshot", ["[1]", '"running"', '{"state": "running", "pid": [1], "updated": "now"}',
                                      '{"state": "running", "pid": -1, "updated": NOW}', "fifo"])
def test_forget_without_a_lock_file_reads_a_damaged_snapshot_as_none(home, snapshot):
    """No lock file: the daemon's fresh snapshot says whether it runs (its lock deleted under
    it). One that is JSON but no snapshot (an array, a pid that is no number) was a traceback,
    a pid of -1 was "running" (kill(-1, 0) asks of every process), and a FIFO there blocked
    the command for ever; none says a daemon runs."""
    place, status = _recorded_output(home), home / "var" / "state" / "status.json"
    if snapshot == "fifo":
        os.mkfifo(status)
    else:
        status.write_text(snapshot.replace("NOW", str(time.time())))
    forgot = hotfolder("places", "-c", str(home / "config" / "hotfolder.yaml"), "--forget", str(place), timeout=20)
    assert forgot.returncode == ExitCode.OK, forgot.stderr
    assert "Traceback" not in forgot.stderr and forgot.stdout.startswith(f"forgot the record of {place} ")


@pytest.mark.parametrize("unwritable", ["database", "state_dir"])
def test_forget_in_a_state_dir_this_user_cannot_write_says_so_and_forgets_nothing(home, unwritable):
    """state_dir the daemon's user owns, `places --forget` run as another (as root here, bound
    by the modes): SQLite's "attempt to write a readonly database" came out as a traceback."""
    place, state = _recorded_output(home), home / "var" / "state"
    os.chmod(db.path_in(state) if unwritable == "database" else state, 0o555)
    try:
        run = launch(["places", "-c", str(home / "config" / "hotfolder.yaml"), "--forget", str(place)],
                     home / "places.log", home, launcher=bound_by_permissions())
        assert run.wait(timeout=30) == ExitCode.FAILED
    finally:
        os.chmod(db.path_in(state) if unwritable == "database" else state, 0o755)
    said = (home / "places.log").read_text()
    assert "Traceback" not in said, said
    assert said == (f"hotfolder places: the places' records cannot be written: attempt to write a readonly database "
                    f"({db.path_in(state)}, or its folder, cannot be written by user {_me()}: they are the "
                    "daemon's user's, and a command that writes them runs as that user)\n"), said
    assert [seen.path for seen in filesystems.recorded(state) or ()] == [place], "nothing forgotten"


def _me() -> str:
    return f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
