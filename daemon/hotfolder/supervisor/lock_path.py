"""What stands at state_dir/hotfolder.lock is data, never a trap: the lock file is opened here only.

A FIFO there blocked `hotfolder status` for ever (its read-only open waits for a writer),
and a symlink there made the daemon open, create, truncate and lock a file elsewhere, as
the service's user (an attack round). So the lock file is never opened through a symlink
(O_NOFOLLOW), never waited on (O_NONBLOCK: a FIFO's open returns at once; it changes
nothing for a regular file), and anything but a regular file is refused, said as what it is.
"""
from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.filekinds import kind, what_is_at
from hotfolder.shown import printable


class NotALockFile(HotfolderError):
    """Something other than a regular file stands at the lock path: no daemon starts there."""

    exit_code = ExitCode.USAGE  # a start refused (errors.ExitCode), as of a state database a newer release used

    def __init__(self, path: Path, what: str):
        # Removing it is all it takes: the daemon makes its lock file at start. One made by
        # hand in its place, as root, would keep the service's user (hotfolder.service) out.
        super().__init__(f"{printable(str(path))} is {what}, not a lock file: no daemon can start on this config "
                         f"while it is there; remove it (`rm {printable(shlex.quote(str(path)))}`, as root or "
                         "the daemon's user) and put nothing in its place: the daemon makes its lock file "
                         "itself when it starts")


def open_lock_file(path: Path, flags: int) -> int:
    """The lock file at `path` opened with `flags` (a created one gets mode 0644); NotALockFile
    when it is not a regular file (a symlink, a FIFO, a directory, ...), FileNotFoundError
    when there is none (and `flags` do not create it), another OSError as the system says."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        raise
    except OSError:  # ELOOP of a symlink, EISDIR, ENXIO of a socket: say what is there, if that is why
        what = what_is_at(path)
        if what is None:
            raise
        raise NotALockFile(path, what) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotALockFile(path, kind(mode))
    return fd
