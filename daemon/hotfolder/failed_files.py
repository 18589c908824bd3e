"""The failed files: which originals are in failed/ and the folder each failed in; and
those the status page lists, the only ones a requeue from it may take.

The daemon walks its own failed/ folders (failed_originals: originals, not their
records, so a user's own `x.error.json` is an original like any other) and gives
each file an opaque id. A request names an id, never a path: the loop looks the id
up in this list, made by the daemon, so nothing a request sends reaches the file
system.
"""
from __future__ import annotations

import hashlib
import heapq
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import nofollow, spool
from .config import Folder
from .spool import SIDECAR, display, is_our_temp, read_record

SHOWN = 200  # the most recent failures the page lists
RECOUNT_EVERY = 30.0  # seconds; a change inside a subfolder does not touch the top folder's mtime


@dataclass(frozen=True)
class FailedFile:
    id: str
    folder: str
    file: str  # relative to failed/, as text that can always be shown (\xNN for non-UTF-8 bytes)
    reason: str
    step: str
    attempts: int
    time: str
    mtime: float


def file_id(folder: str, rel_bytes: bytes) -> str:
    return hashlib.sha256(folder.encode("utf-8", "surrogateescape") + b"\0" + rel_bytes).hexdigest()[:24]


def failed_originals(folders: Iterable[Folder]) -> Iterator[tuple[Folder, Path]]:
    """Every failed original of these folders, each once, with the folder it failed in.

    A file belongs to the folder whose failed/ holds it most specifically: a walk of
    one failed/ does not enter another folder's folders nested in it (its failed/, or
    its output or archive), so `print`'s failed/ inside `photos`'s gives its files to
    `print` only. Folders that share one failed/ tell theirs apart by the record's
    `folder` (the first of them has those without one).

    `X.error.json` is the record of X when X is there: fail() never gives an original
    a name whose record name is taken, nor the other way round (see spool._unique). So a
    user's own `notes.error.json` is an original like any other."""
    folders = tuple(folders)
    by_root: dict[Path, list[Folder]] = {}
    for folder in folders:
        by_root.setdefault(folder.failed, []).append(folder)
    for root, sharing in by_root.items():
        others = {d for f in folders for d in f.all_dirs()} - {root}
        for path in nofollow.walk(root, prune=others.__contains__):
            if any(is_our_temp(path.name, f.temp_token) for f in sharing):
                continue
            if path.name.endswith(SIDECAR) and _record_beside(path):
                continue
            yield _owner(sharing, path), path


def _record_beside(path: Path) -> bool:
    try:
        return nofollow.lexists(path.with_name(path.name[: -len(SIDECAR)]))
    except OSError:
        return False


def _owner(sharing: list[Folder], path: Path) -> Folder:
    if len(sharing) == 1:
        return sharing[0]
    named = str((read_record(path.with_name(path.name + SIDECAR)) or {}).get("folder", ""))
    return next((f for f in sharing if display(f.name) == named), sharing[0])


class FailedIndex:
    def __init__(self):
        self.files: tuple[FailedFile, ...] = ()
        self._paths: dict[str, tuple[str, Path]] = {}  # id -> (folder name, path), of the files listed
        self._stamp: tuple = ()
        self._at = 0.0

    def refresh(self, folders: tuple[Folder, ...], force: bool = False) -> bool:
        """Walk the failed/ folders again if one changed (or RECOUNT_EVERY passed)."""
        now = time.monotonic()
        stamp = tuple((f.name, _mtime(f.failed)) for f in folders)
        if not force and stamp == self._stamp and now - self._at < RECOUNT_EVERY:
            return False
        self._stamp, self._at = stamp, now
        found: list[tuple[float, str, Folder, Path]] = []
        for folder, path in failed_originals(folders):
            found.append((_mtime(path, follow=False) or 0.0, str(path), folder, path))
        newest = heapq.nlargest(SHOWN, found, key=lambda t: (t[0], t[1]))
        files, paths = [], {}
        for mtime, _, folder, path in newest:
            rel = path.relative_to(folder.failed)
            record = spool.read_failure(folder, path) or {}
            fid = file_id(folder.name, os.fsencode(rel))
            files.append(FailedFile(fid, folder.name, spool.display(rel.as_posix()), str(record.get("error", "")),
                                    str(record.get("step", "")), _int(record.get("attempts")),
                                    str(record.get("time", "")), mtime))
            paths[fid] = (folder.name, path)
        self.files, self._paths = tuple(files), paths
        return True

    def lookup(self, fid: str) -> tuple[str, Path] | None:
        """(folder name, path) of a listed file that is still there, or None."""
        found = self._paths.get(fid)
        try:
            return found if found is not None and nofollow.lexists(found[1]) else None
        except OSError:  # its failed/ was swapped for a link: not a file of ours now
            return None


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mtime(path: Path, follow: bool = True) -> float | None:
    try:
        return os.stat(path, follow_symlinks=follow).st_mtime
    except OSError:
        return None
