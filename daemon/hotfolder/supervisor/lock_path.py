"""What stands at state_dir/hotfolder.lock is data, never a trap: the lock file is opened here only.

A FIFO there blocked `hotfolder status` for ever (its read-only open waits for a writer),
and a symlink there made the daemon open, create, truncate and lock a file elsewhere, as
the service's user (an attack round). So the lock file is never opened through a symlink
(O_NOFOLLOW), never waited on (O_NONBLOCK: a FIFO's open returns at once; it changes
nothing for a regular file), and anything but a regular file is refused, said as what it is.
"""
from __future__ import annotations

from pathlib import Path

from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.filekinds import open_regular, removal
from hotfolder.shown import printable


class NotALockFile(HotfolderError):
    """Something other than a regular file stands at the lock path: no daemon starts there."""

    exit_code = ExitCode.USAGE  # a start refused (errors.ExitCode), as of a state database a newer release used

    def __init__(self, path: Path, what: str):
        # Removing it is all it takes: the daemon makes its lock file at start. One made by
        # hand in its place, as root, would keep the service's user (hotfolder.service) out.
        super().__init__(f"{printable(str(path))} is {what}, not a lock file: no daemon can start on this config "
                         f"while it is there; remove it (`{removal(path, what)}`, as root or "
                         "the daemon's user) and put nothing in its place: the daemon makes its lock file "
                         "itself when it starts")


def open_lock_file(path: Path, flags: int) -> int:
    """The lock file at `path` opened with `flags` (a created one gets mode 0644); NotALockFile
    when it is not a regular file (a symlink, a FIFO, a directory, ...), FileNotFoundError
    when there is none (and `flags` do not create it), another OSError as the system says."""
    return open_regular(path, flags, 0o644, NotALockFile)
