"""Asking the kernel whether a writer still holds a file (a read lease).
"""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

LEASE_RECHECK = 1.0  # seconds between asking the kernel whether a writer still holds a file


# ... after a first wait this short: the kernel queues a close event before it drops the
# file's writer count (__fput), so a lease asked for right after the event can still be
# refused; doubling from here to LEASE_RECHECK (with a flat second, most drops on an idle
# daemon waited ~1 s: DESIGN.md, "Arrival").
LEASE_RECHECK_FIRST = 0.01


def open_for_writing(path: Path) -> bool:
    """Whether some process has `path` open for writing, where the kernel can tell.

    A read lease (fcntl F_SETLEASE) is refused with EAGAIN while any process holds the
    file open for writing. Leases need a local file system and the file's owner (or
    CAP_LEASE); where they are unavailable the answer is False, and the events and the
    quiet period decide, as before."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY)
    except OSError:
        return False
    try:
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            return exc.errno == errno.EAGAIN
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)
