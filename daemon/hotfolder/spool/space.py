"""Where a folder's file system is and how full: said when a write found no room, so that an
admin knows what to clean (the mount point, its type, what is free there now).
"""
from __future__ import annotations

import os
from pathlib import Path

from hotfolder.arrival.mounts import mount_of
from hotfolder.shown import display


def file_system(place: Path) -> str:
    """`the file system mounted at /srv (ext4), 1.2 MiB free of 20 GiB`, for the folder `place`."""
    point, kind = mount_of(place)
    if not point:
        return f"its file system (not in the mount table){_free(place)}"
    return f"the file system mounted at {display(point)}{f' ({kind})' if kind else ''}{_free(place)}"


def _free(place: Path) -> str:
    """`, 1.2 MiB free of 20 GiB` (what an unprivileged user may still write), and the inodes
    when none is left (a file system full of small files says ENOSPC with space to spare)."""
    try:
        st = os.statvfs(place)
    except OSError:
        return ""
    said = f", {size(st.f_bavail * st.f_frsize)} free of {size(st.f_blocks * st.f_frsize)}"
    if st.f_files and not st.f_favail:
        said += f" and no inode (file entry) free of {st.f_files:,}"
    return said


def size(n: int) -> str:
    """Bytes as people read them: `0 B`, `812 KiB`, `1.2 MiB`, `3.4 TiB`."""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
