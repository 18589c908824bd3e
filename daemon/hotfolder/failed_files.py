"""The failed files the status page lists, and the only ones a requeue from it may take.

The daemon walks its own failed/ folders (spool.walk_failed: originals, not their
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
from dataclasses import dataclass
from pathlib import Path

from . import spool
from .config import Folder

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
        for folder in folders:
            for path in spool.walk_failed(folder):
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
        if found is None or not os.path.lexists(found[1]):
            return None
        return found


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mtime(path: Path, follow: bool = True) -> float | None:
    try:
        return os.stat(path, follow_symlinks=follow).st_mtime
    except OSError:
        return None
