"""What stands at a path, said as people name it (a leaf, stdlib only): for the files of
state_dir the daemon opens by name (its lock, its database), where anything but a regular
file is refused, never opened: a symlink would be followed, a FIFO's open would wait for
a writer for ever.
"""
from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable
from pathlib import Path

from hotfolder.shown import printable


def kind(mode: int) -> str:
    """What a file of `mode` is, in words ("a FIFO (named pipe)")."""
    for test, said in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symlink")):
        if test(mode):
            return said
    return "not a regular file"


def what_is_at(path: Path) -> str | None:
    """What stands at `path`, when it is no regular file (None: a regular file, nothing, or
    not to be seen)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        try:
            return f"a symlink (to {printable(os.readlink(path))})"
        except OSError:
            return "a symlink"
    return None if stat.S_ISREG(st.st_mode) else kind(st.st_mode)


def removal(path: Path, what: str) -> str:
    """The command that removes `what` (kind's, what_is_at's words) at `path`, as a shell
    takes it: `rm -r` for a directory, which `rm` alone refuses ("Is a directory")."""
    return f"rm {'-r ' if what == 'a directory' else ''}{printable(shlex.quote(str(path)))}"


def open_regular(path: Path, flags: int, mode: int, refused: Callable[[Path, str], Exception],
                 dir_fd: int | None = None) -> int:
    """`path` opened with `flags` (and O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC; a file made gets
    `mode`), only if it is a regular file: for anything else there, `refused(path, what it
    is)` is raised. FileNotFoundError when there is none (and `flags` do not create it),
    another OSError as the system says. `dir_fd`: `path`'s folder, open (its name alone is
    opened there; `path` names it in messages)."""
    try:
        fd = os.open(path if dir_fd is None else path.name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     mode, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError:  # ELOOP of a symlink, EISDIR, ENXIO of a FIFO without a reader: say what is there
        what = what_is_at(path)
        if what is None:
            raise
        raise refused(path, what) from None
    st_mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(st_mode):
        os.close(fd)
        raise refused(path, kind(st_mode))
    return fd
