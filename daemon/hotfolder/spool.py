"""The on-disk states of a file and the moves between them.

    inbox/ ──claim──▶ processing/ ──finish──▶ archive/ (or deleted)
                                  └──fail───▶ failed/ + NAME.error.json

The folders are the queue: nothing a restart needs is kept in memory. Every move
is one `os.rename` on one file system, so a file is always in exactly one state.
Only the supervisor process moves originals; workers only write outputs.
"""
from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Folder
from .errors import HotfolderError

TEMP_MARK = ".hf-tmp-"
SIDECAR = ".error.json"
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", "~")


def is_ignored_name(name: str) -> bool:
    """Hidden files and the temp names of browsers, rsync, and copy tools."""
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


def ensure_dirs(folder: Folder) -> None:
    for d in folder.all_dirs():
        d.mkdir(parents=True, exist_ok=True)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Claimed:
    rel: str  # path relative to the inbox, kept for output, archive and failed
    path: Path  # where the original lies now, under processing/


class Refused(HotfolderError):
    """The inbox entry must not be processed (e.g. a symlink); it goes to failed/."""


def claim(folder: Folder, src: Path) -> Claimed | None:
    """Take ownership of an inbox file by renaming it into processing/.

    Returns None when the file is gone or a file of the same name is still being
    processed (it stays in the inbox and is offered again after that one ends).
    Raises Refused for entries that are not plain files: a symlink is moved as a
    link, never followed.
    """
    rel = src.relative_to(folder.inbox).as_posix()
    dst = folder.processing / rel
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise Refused("symbolic links are not followed; copy the file itself into the inbox")
    if not stat.S_ISREG(st.st_mode):
        return None  # a directory, fifo or socket: nothing to render
    if os.path.lexists(dst):
        return None
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return None
    return Claimed(rel, dst)


NAME_MAX = 255  # bytes, on every Linux file system we expect


def _fit(path: Path, reserve: int) -> Path:
    """Shorten a name so that it, plus `reserve` bytes (a sidecar suffix, `_12`), fits NAME_MAX."""
    name = path.name
    if len(os.fsencode(name)) + reserve <= NAME_MAX:
        return path
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    suffix = path.suffix if len(os.fsencode(path.suffix)) < 16 else ""
    room = NAME_MAX - reserve - len(suffix) - len(digest) - 1
    stem = os.fsencode(name[: len(name) - len(suffix)])[:room].decode("utf-8", "ignore")
    return path.with_name(f"{stem}~{digest}{suffix}")


def _unique(path: Path) -> Path:
    """`path`, or `stem_1.ext`, `stem_2.ext`… : never overwrite an earlier file."""
    path = _fit(path, len(SIDECAR) + 6)
    if not os.path.lexists(path) and not os.path.lexists(_sidecar(path)):
        return path
    n = 1
    while True:
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        if not os.path.lexists(candidate) and not os.path.lexists(_sidecar(candidate)):
            return candidate
        n += 1


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def _move(src: Path, dst_dir: Path, rel: str) -> Path:
    dst = _unique(dst_dir / rel)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.rename(src, dst)
    fsync_dir(dst.parent)
    return dst


def finish(folder: Folder, claimed: Claimed) -> Path | None:
    """The outputs are durable: archive (never overwriting) or delete the original."""
    if folder.on_success == "delete":
        os.unlink(claimed.path)
        fsync_dir(claimed.path.parent)
        return None
    return _move(claimed.path, folder.archive, claimed.rel)  # type: ignore[arg-type]


def fail(folder: Folder, src: Path, rel: str, *, error: str, step: str, attempts: int = 1) -> Path:
    """Move the original to failed/ with a sidecar saying why.

    The sidecar is written first: a crash between the two leaves an orphan
    sidecar (removed by recover) and the original still in processing/, never an
    unexplained file in failed/.
    """
    dst = _unique(folder.failed / rel)
    dst.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "file": rel,
        "error": error,
        "step": step,
        "attempts": attempts,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "folder": folder.name,
    }
    write_atomic(_sidecar(dst), (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode())
    os.rename(src, dst)
    fsync_dir(dst.parent)
    return dst


class NameTooLong(HotfolderError, ValueError):
    def __init__(self, name: str):
        super().__init__(
            f"the output name {name[:40]}… is {len(os.fsencode(name))} bytes, longer than the "
            f"{NAME_MAX} a file name may have; shorten the input's name or the rendition's filename template")


def write_atomic(path: Path, data: bytes, mode: int = 0o644, group: str | None = None, tag: str = "",
                 sync_dir: bool = True) -> None:
    """Temp file in the same folder, fsync, rename over the final name, fsync the folder
    (or leave that to the caller, who writes several files to one folder: sync_dir=False).

    A reader never sees half a file under its final name, and a rerun replaces an
    earlier output instead of adding a copy.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise NameTooLong(path.name)
    # The temp name starts with (part of) the final one, for people looking at the folder.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:80]}{TEMP_MARK}{tag}")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if group is not None:
                os.fchown(f.fileno(), -1, _gid(group))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if sync_dir:
        fsync_dir(path.parent)


def remove_temp_outputs(folder: Folder, rel: str, tag: str) -> int:
    """Delete the temp outputs a killed worker left for one job (tagged with its id)."""
    removed = 0
    out_dir = folder.output / Path(rel).parent
    try:
        names = os.listdir(out_dir)
    except OSError:
        return 0
    for name in names:
        if f"{TEMP_MARK}{tag}" in name:
            (out_dir / name).unlink(missing_ok=True)
            removed += 1
    return removed


def _gid(group: str) -> int:
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


def walk_files(root: Path, on_error=None):
    """Yield the entries under root lazily (files and symlinks; not directories).

    A folder that cannot be read is skipped; `on_error(folder, exc)` hears of it."""
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if is_ignored_name(entry.name):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            yield Path(entry.path)
                    except OSError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:  # unreadable (permissions) or an I/O error on a share
            if on_error is not None:
                on_error(d, exc)
            continue


def _walk_all(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            yield Path(dirpath) / name


@dataclass
class Recovery:
    returned: int = 0
    temp_removed: int = 0
    sidecars_removed: int = 0


def recover(folder: Folder) -> Recovery:
    """At start: the state a crash may have left, put right.

    - temp outputs never renamed to their final name are deleted;
    - originals left in processing/ go back to the inbox (to be rendered again,
      replacing any outputs they already had);
    - a sidecar in failed/ whose file never arrived there is removed.
    """
    result = Recovery()
    for path in _walk_all(folder.output):
        if TEMP_MARK in path.name:
            path.unlink(missing_ok=True)
            result.temp_removed += 1
    for path in _walk_all(folder.processing):
        rel = path.relative_to(folder.processing).as_posix()
        dst = _unique(folder.inbox / rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, dst)
        result.returned += 1
    for path in _walk_all(folder.failed):
        if path.name.endswith(SIDECAR):
            original = path.with_name(path.name[: -len(SIDECAR)])
            if not os.path.lexists(original):
                path.unlink(missing_ok=True)
                result.sidecars_removed += 1
        elif TEMP_MARK in path.name:
            path.unlink(missing_ok=True)
    _prune_empty_dirs(folder.processing)
    return result


def _prune_empty_dirs(root: Path) -> None:
    for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
        if Path(dirpath) != root:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def requeue(folder: Folder, path: Path) -> Path:
    """Move a failed file back to the inbox and drop its sidecar."""
    rel = path.relative_to(folder.failed).as_posix()
    dst = _unique(folder.inbox / rel)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, dst)
    _sidecar(path).unlink(missing_ok=True)
    return dst


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


# Writing an output failed for a reason of the output folder, not of the file: every
# other file would fail the same way, so the file waits in the inbox instead.
OUTPUT_PROBLEMS = {
    errno.ENOSPC: "no space left on the output file system: free some space",
    errno.EDQUOT: "the disk quota of the output file system is used up: raise it or free some space",
    errno.EACCES: "the output folder is not writable by the daemon's user: fix its permissions",
    errno.EPERM: "the output folder is not writable by the daemon's user: fix its permissions "
                 "(or output_group names a group the daemon is not in)",
    errno.EROFS: "the output file system is read-only: remount it read-write",
    errno.ENOTCONN: "the output share is not connected: check the mount",
    errno.ESTALE: "the output share went stale: check the mount",
    errno.EIO: "input/output error on the output file system: check the disk or share",
}


def output_problem(exc: BaseException) -> str | None:
    """What to fix when writing an output failed because of the output folder."""
    if isinstance(exc, OSError):
        return OUTPUT_PROBLEMS.get(exc.errno)
    return None


def unclaim(folder: Folder, claimed: Claimed) -> Path | None:
    """Give a claimed file back to the inbox (shutdown, disk full): it is not lost."""
    try:
        dst = _unique(folder.inbox / claimed.rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(claimed.path, dst)
        return dst
    except FileNotFoundError:
        return None


def walk_failed(folder: Folder):
    """The failed originals of a folder (not their sidecars)."""
    for path in _walk_all(folder.failed):
        if not path.name.endswith(SIDECAR) and TEMP_MARK not in path.name:
            yield path
