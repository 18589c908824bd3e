"""Whether a file passed through again (a clip of a card dumped twice) holds the very bytes of
the file of its name already archived: read in full, both, never judged by size or samples
(supervisor/passed_again.py runs it off the main loop).

Both files are data: each is reached through its folder opened without a link (nofollow),
opened with O_NOFOLLOW and read only if it is a regular file, so a link planted in archive/
never makes us read elsewhere. Read CHUNK bytes at a time (memory stays bounded whatever the
clip's size), with a look at `stop` between chunks: a stop of the daemon is not held by a
4 GB clip. Each file's identity (device, inode, size, mtime, ctime) is taken before and
after: a file changed meanwhile is CHANGED, never SAME. The ctime because a client sets the
mtime at will (robocopy /COPY:DAT, `touch -r`, SMB's SETINFO): a clip rewritten in place with
its mtime set back kept size, inode and mtime, and its other bytes went to duplicates/.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from hotfolder.spool import nofollow

CHUNK = 1 << 20  # bytes read from each file at a time


class Verdict(StrEnum):
    SAME = "same"  # every byte equal, and neither file changed while read
    DIFFERENT = "different"  # a byte, or the size, differs
    CHANGED = "changed"  # a file changed (or was replaced) while read: nothing can be said
    UNSURE = "unsure"  # one could not be read (gone, a link, not a file, an I/O error): `why`
    STOPPED = "stopped"  # `stop` was set: not read to the end


@dataclass(frozen=True)
class Stamp:
    """A file's identity as stat says it: another file, or one written to, has another (the
    ctime even when its writer set the mtime back: no client can set the ctime)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class Compared:
    verdict: Verdict
    old: Stamp | None = None  # the archived file as it was read (None: not opened)
    new: Stamp | None = None  # the new one
    why: str = ""  # of UNSURE and CHANGED: what happened


def compare(old: Path, new: Path, stop: threading.Event | None = None) -> Compared:
    """Whether the files `old` (archived) and `new` hold the same bytes (see the module)."""
    stop = stop or threading.Event()
    fds: list[int] = []
    try:
        for path in (old, new):
            with nofollow.opened(path.parent) as parent:
                fds.append(nofollow.open_file_at(parent, path.name, path))
        a, b = fds
        before = Stamp.of(os.fstat(a)), Stamp.of(os.fstat(b))
        if before[0].size != before[1].size:
            return Compared(Verdict.DIFFERENT, *before)
        for fd in fds:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while True:
            if stop.is_set():
                return Compared(Verdict.STOPPED, *before)
            x, y = _read(a), _read(b)
            if x != y:
                return Compared(Verdict.DIFFERENT, *before)
            if not x:
                break
        after = Stamp.of(os.fstat(a)), Stamp.of(os.fstat(b))
        if after != before:
            return Compared(Verdict.CHANGED, *before, why="written to while it was compared")
        return Compared(Verdict.SAME, *before)
    except (OSError, ValueError) as exc:  # ValueError: not a regular file (a link, a FIFO)
        return Compared(Verdict.UNSURE, why=str(exc))
    finally:
        for fd in fds:
            os.close(fd)


def _read(fd: int) -> bytes:
    """The next CHUNK bytes (fewer only at the end: a short read of a network file system is
    read on, so two files are compared chunk for chunk)."""
    data = os.read(fd, CHUNK)
    while data and len(data) < CHUNK:
        more = os.read(fd, CHUNK - len(data))
        if not more:
            break
        data += more
    return data
