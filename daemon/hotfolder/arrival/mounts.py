"""Which file system a folder is on, and whether it must be polled (no inotify on shares).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from hotfolder.config.model import Folder

NETWORK_FS = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph",
    "glusterfs", "fuse.glusterfs", "lustre", "gpfs", "fuse.s3fs", "fuse.rclone", "davfs",
    "fuse.davfs2", "virtiofs", "fuse",
}


def _unescaped(field: str) -> str:
    """A mount point as the kernel writes it in the table: space, tab, newline and backslash
    as octal escapes (\\040 \\011 \\012 \\134); only \\040 was read, so a share mounted at a
    path holding another was not found, and watched instead of polled (a review)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_type(path: Path, mounts: str = "/proc/self/mounts") -> str:
    """The type of the file system holding `path`, from the mount table."""
    return mount_of(path, mounts)[1]


class Mount(NamedTuple):
    """The mount holding a path: where it is mounted, and its type."""

    point: str
    fstype: str


def mount_of(path: Path, mounts: str = "/proc/self/mounts") -> Mount:
    """Where the file system holding `path` is mounted, and its type ("" each when the
    table cannot be read): the longest mount point on its way, the last one listed of that
    point (a mount over another comes after it). A point's bytes that are not UTF-8 are
    read as os.fsdecode reads a path's (they raised UnicodeDecodeError)."""
    path = Path(os.path.realpath(path))
    best, best_type = "", ""
    try:
        with open(mounts, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = _unescaped(parts[1])
                if (path == Path(mnt) or Path(mnt) in path.parents) and len(mnt) >= len(best):
                    best, best_type = mnt, parts[2]
    except OSError:
        pass
    return Mount(best, best_type)


def use_polling(folder: Folder, mounts: str = "/proc/self/mounts") -> bool:
    if folder.watch != "auto":
        return folder.watch == "poll"
    return filesystem_type(folder.inbox, mounts) in NETWORK_FS
