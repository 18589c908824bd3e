"""What stands at state_dir/hotfolder.db (and its -wal, -shm) is data, never a trap (an
attack round, as test_lock_path.py for the lock): the admin commands run as root on a
state_dir the daemon's user can write. A symlink there to a path that does not exist made
`hotfolder index rebuild` create a database at the link's target; a FIFO there hung
`duplicates`, `places`, `explain` and `rerender` for ever in SQLite's open. Each command
here has a deadline."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.errors import ExitCode
from tests.harness import hotfolder

DEADLINE = 30  # s: each command ends well within it, or it waited on the trap
COMMANDS = [("index", "rebuild"), ("duplicates",), ("places",), ("explain", "INBOX/a.jpg"),
            ("rerender", "--dry-run"), ("places", "--forget", "/nowhere")]


def _studio(daemon_factory) -> tuple[Path, Path]:
    """A config whose folder has an archived original and a file in its inbox; its state_dir."""
    d = daemon_factory()
    for folder in (d.inbox, d.archive):
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (10, 90, 200)).save(folder / "a.jpg", "JPEG")
    state = d.var / "state"
    state.mkdir(parents=True, exist_ok=True)
    return d.config, state


def _run(config: Path, args: tuple[str, ...], inbox: Path) -> subprocess.CompletedProcess:
    args = tuple(a.replace("INBOX", str(inbox)) for a in args)
    return hotfolder(*args, "--config", str(config), timeout=DEADLINE)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("name", ["hotfolder.db", "hotfolder.db-wal"])
def test_a_symlink_at_the_database_is_never_followed(daemon_factory, tmp_path, args, name):
    config, state = _studio(daemon_factory)
    target = tmp_path / "made-by-the-command.db"
    (state / name).symlink_to(target)
    run = _run(config, args, config.parent / "var" / "inbox")
    assert not target.exists(), f"`{' '.join(args)}` made {target} through the link at {name}"
    assert run.returncode == ExitCode.USAGE, (run.returncode, run.stderr)
    assert f"{state / name} is a symlink (to {target})" in run.stderr, run.stderr
    assert "remove it" in run.stderr and "Traceback" not in run.stderr, run.stderr
    # a link of the admin's own to the database elsewhere: removed, its {seq} numbers would start again
    assert ("if it links to a database of yours, move that here in its place" in run.stderr) == (name == "hotfolder.db")


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_a_fifo_at_the_database_is_said_not_waited_on(daemon_factory, args):
    config, state = _studio(daemon_factory)
    os.mkfifo(state / "hotfolder.db")
    run = _run(config, args, config.parent / "var" / "inbox")
    assert run.returncode == ExitCode.USAGE, (run.returncode, run.stderr)
    assert f"{state / 'hotfolder.db'} is a FIFO (named pipe)" in run.stderr, run.stderr


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_the_names_lock_is_opened_only_as_a_regular_file(daemon_factory, tmp_path, kind):
    """state_dir/names/.lock: as root, `rerender` made an empty file wherever a symlink there
    pointed (/etc/nologin keeps every other user out), and waited in a FIFO's open until its
    workers were killed (120 s)."""
    config, state = _studio(daemon_factory)
    (state / "names").mkdir()
    lock, target = state / "names" / ".lock", tmp_path / "made-by-rerender"
    if kind == "symlink":
        lock.symlink_to(target)
    else:
        os.mkfifo(lock)
    run = _run(config, ("rerender",), config.parent / "var" / "inbox")
    assert not target.exists(), f"rerender made {target} through the link at {lock}"
    assert run.returncode == ExitCode.FAILED, (run.returncode, run.stdout, run.stderr)
    said = "a symlink (to " if kind == "symlink" else "a FIFO (named pipe)"
    assert f"{lock} is {said}" in run.stdout + run.stderr, (run.stdout, run.stderr)


@pytest.mark.parametrize("name, args", [("hotfolder.db", ("duplicates",)), ("names/.lock", ("rerender",)),
                                        ("hotfolder.lock", ("status",))])
def test_a_directory_there_is_said_with_a_command_that_removes_it(daemon_factory, name, args):
    """`rm PATH` was said of a directory too, which rm refuses ('Is a directory'): the
    command said is run here as it is written, and the command asked for then runs."""
    config, state = _studio(daemon_factory)
    (state / name).mkdir(parents=True)
    (state / name / "x").write_bytes(b"")
    run = _run(config, args, config.parent / "var" / "inbox")
    said = run.stdout + run.stderr
    assert f"{state / name} is a directory" in said, said
    command = said.split("remove it (`", 1)[1].split("`", 1)[0]
    removed = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=DEADLINE)
    assert removed.returncode == 0 and not (state / name).exists(), (command, removed.stderr)
    again = _run(config, args, config.parent / "var" / "inbox")
    assert "is a directory" not in again.stdout + again.stderr, again.stdout + again.stderr


@pytest.mark.parametrize("where", ["names", "bucket"])
@pytest.mark.parametrize("args", [("rerender",), ("process", "INBOX/a.jpg")], ids=lambda a: a[0])
def test_the_names_folder_and_its_buckets_are_never_reached_through_a_link(daemon_factory, tmp_path, where, args):
    """state_dir/names itself, or one of its buckets (names/<2 hex>/), a symlink the daemon's
    user put there: as root, `rerender` and `process` made the lock, the buckets and the
    markers wherever it pointed (an attack round: a folder, a lock file and root's symlinks in
    any folder). Said, naming the link to remove; nothing is made at its target."""
    config, state = _studio(daemon_factory)
    target = tmp_path / "elsewhere"
    target.mkdir()
    if where == "names":
        (state / "names").symlink_to(target)
    else:
        (state / "names").mkdir()
        for i in range(256):
            (state / "names" / f"{i:02x}").symlink_to(target)
    run = _run(config, args, config.parent / "var" / "inbox")
    assert list(target.iterdir()) == [], f"`{args[0]}` wrote through the link: {list(target.iterdir())}"
    said = run.stdout + run.stderr
    assert run.returncode == ExitCode.FAILED, (run.returncode, said)
    assert "is a symbolic link" in said and "remove it (`rm " in said and "Traceback" not in said, said
