"""Archived originals as the daemon took them, for `hotfolder rerender`: the path each came
in with, and which of several drops of one name is the one whose outputs are there now.

The archive never overwrites: a later drop of `a.jpg` is archived as `a_1.jpg` (and a
file standing where a subfolder is needed moves a subfolder to `2026~1/`), while its
outputs replaced those of the first drop, under the name it came in with. So when the
archive had to rename, `moves.finish` keeps that path with the file, in the extended
attribute `user.hotfolder.file_as` (its bytes as hex, as failure records keep names;
renames keep it). Best effort: a file system without user xattrs, or a file the daemon
may not write to, keeps none, and the archived path is taken as it is. The attribute is
data, never a path to follow: only a relative path of plain names is used, as an output's
place under output/, and only where the caller vouches for it (`originals`: rerender asks
the index of originals), since a file may bring an attribute of its own.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from hotfolder.spool import nofollow
from hotfolder.spool.fsnames import name_as_hex, name_from_hex, relative_name

XATTR = "user.hotfolder.file_as"
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def remember(archived: Path, rel: str) -> None:
    """Keep `rel`, the path an original came in with, on its archived file (best effort)."""
    try:
        with nofollow.opened(archived.parent) as parent:
            fd = os.open(archived.name, FILE_FLAGS, dir_fd=parent)
            try:
                os.setxattr(fd, XATTR, name_as_hex(rel).encode("ascii"))
            finally:
                os.close(fd)
    except OSError:
        pass  # no user xattrs here, or not ours to write: rerender takes the archived path


def came_as(archived: Path) -> str | None:
    """The path the archived original came in with, if the archive kept one (and it is a
    relative path of plain names), else None."""
    try:
        with nofollow.opened(archived.parent) as parent:
            fd = os.open(archived.name, FILE_FLAGS, dir_fd=parent)
            try:
                value = os.getxattr(fd, XATTR)
            finally:
                os.close(fd)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOENT, errno.EACCES,
                             errno.EPERM, errno.ELOOP, errno.ENXIO, errno.EINVAL):
            raise
        return None
    return relative_name(name_from_hex(value.decode("ascii", "replace")))


@dataclass(frozen=True)
class Archived:
    path: Path  # where it lies in archive/
    rel: str  # the path it came in with: its outputs' place and names, and its owner (spool/owners.py)
    newer: Path | None = None  # a later drop of the same path, whose outputs replaced this one's


def originals(archive: Path, paths: list[Path], skip, vouched: Callable[[Path, str], bool]) -> Iterator[Archived]:
    """The archived originals under `paths` (files or folders inside `archive`), each with
    the path it came in with; of several drops of one path, the last archived (the newest
    change time: the archive's rename set it) is current, the others name it as `newer`.
    `skip(name)`: names left out (hidden, ignored, passed through). `vouched(path, rel)`:
    whether the path a file says it came in with (the attribute) is taken. Anyone who can
    set a file's attributes can forge one (`cp -a`, `rsync -X` carry it into the inbox, and
    an original archived under its own name keeps what it brought), and a forged one would
    render that file over another original's outputs: the caller asks the index of originals.
    Not vouched for, a file is rendered under its archived path."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for root in paths:
        walk = [root] if not root.is_dir() else nofollow.walk(root, skip=skip)
        for path in walk:
            if skip(path.name):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            own = path.relative_to(archive).as_posix()
            kept = came_as(path)
            rel = kept if kept is not None and kept != own and vouched(path, kept) else own
            found.setdefault(rel, []).append((st.st_ctime_ns, path))
    for rel, drops in found.items():
        drops.sort()
        newest = drops[-1][1]
        for _, path in drops[:-1]:
            yield Archived(path, rel, newer=newest)
        yield Archived(newest, rel)


def current(found: list[Archived], generations: dict[Path, int]) -> tuple[list[Archived], list[Archived]]:
    """(the originals to render, the earlier drops skipped): of several drops of one name,
    the last of each photo (generation) owns that photo's outputs now; a new version of a
    photo replaced the earlier version's. `found` in the order `originals` gives them."""
    last: dict[tuple[str, int], Archived] = {}
    for a in found:  # each name's drops in the order they were archived
        last[(a.rel, generations.get(a.path, 0))] = a
    now = [replace(a, newer=None) for a in last.values()]
    kept = {a.path for a in now}
    earlier = [replace(a, newer=last[(a.rel, generations.get(a.path, 0))].path) for a in found if a.path not in kept]
    return now, earlier
