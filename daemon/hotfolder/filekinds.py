"""What stands at a path, said as people name it (a leaf, stdlib only): for the files of
state_dir the daemon opens by name (its lock, its database), where anything but a regular
file is refused, never opened: a symlink would be followed, a FIFO's open would wait for
a writer for ever.
"""
from __future__ import annotations

import os
import stat
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
