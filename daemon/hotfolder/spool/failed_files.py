"""The failed files: how many each folder holds now, the most recent ones the status
page lists, and the only ones a requeue from it may take.

The daemon's own moves keep the index: `added` when the ledger moves a file to failed/,
`removed` when the page's requeue moves one out. A failure costs a stat and the read of
its small record, whatever the size of failed/ (a walk per failure of 150,000 failed
files took a full core). The folders are walked again (failed_originals) only

  - at the first look, and when the folders change (a reload);
  - when a failed/ folder changed under us: its mtime and size (`Stamp`) are not the
    ones our own moves left (`hotfolder requeue`, a hand, a cluster node), or a requeue names an id not
    listed, or a count would go below zero;
  - after RECOUNT_EVERY, for changes inside subfolders (they leave the top folder's
    mtime alone);

and never more often than WALK_SHARE of the time allows: 150,000 failed files took
2.4–3.5 s to walk (with the stat that orders them; 5.3–8.2 s before the walk
listed folders instead of testing each record, on a loaded 2-core machine), so such
a folder is walked at most every two minutes or so. A change made by others in the
moment as one of ours (between the stat before our move and the move) is seen at the
next recount.

A request names an id, never a path: the loop looks the id up in this list, made by
the daemon, so nothing a request sends reaches the file system.

failed_originals walks the failed/ folders of the daemon's own (originals, not their
records, so a user's own `x.error.json` is an original like any other), each file once
under the folder it failed in, never through a link.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.sidecars import image_of, is_sidecar
from hotfolder.spool import fsnames, nofollow, records
from hotfolder.spool.atomic import is_our_temp
from hotfolder.spool.fsnames import display
from hotfolder.spool.records import SIDECAR, read_record, record_of

SHOWN = 200  # the most recent failures the page lists
RECOUNT_EVERY = 30.0  # seconds; a change inside a subfolder does not touch the top folder's mtime
WALK_SHARE = 0.02  # at most this share of the loop's time goes to walking failed/ again
EXPLAIN_LINES, EXPLAIN_WIDTH = 64, 600  # what of a record's explanation the page keeps (SHOWN files of it)
# and at most this many characters of it in all: the daemon's own are ~500 (a line a rendition);
# 64 lines of 600 `&` written by hand were 192 KB of page each, 38 MB for the page's 200.
EXPLAIN_CHARS = 4000
# What of a record's reason (and its other texts) the page keeps: the daemon's own reasons are
# under 1,000 characters; records of 1 MB of `&` written by hand in failed/ made a page of
# 300 MB from 60 of them, 4 s to make, and the daemon took 2 GB (an attack round).
REASON_WIDTH, FIELD_WIDTH = 2000, 100
# A folder's mtime (ns) and size. The size too: a file system whose timestamps come from
# a coarse clock (tmpfs: the kernel's tick, 1-4 ms) gives a change by hand in the same tick
# as our own move the mtime we took as ours, and the count stayed off until the recount
# (tests/process/test_attacks_state.py, on tmpfs); tmpfs counts every entry in a folder's
# size. ext4's size moves by whole blocks only, but its timestamps are fine-grained once read.
Stamp = tuple[int, int] | None


@dataclass(frozen=True)
class FailedFile:
    id: str
    folder: str
    file: str  # relative to failed/, as text that can always be shown (\xNN for non-UTF-8 bytes)
    reason: str
    step: str
    attempts: int
    time: str
    mtime: float  # when it failed: its record's mtime (the original's own, without a record)
    explain: tuple[str, ...] = ()  # what `hotfolder explain` said of it when it failed (its record's lines)


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
    a name whose record name is taken, nor the other way round (see moves._unique). So a
    user's own `notes.error.json` is an original like any other."""
    folders = tuple(folders)
    by_root: dict[Path, list[Folder]] = {}
    for folder in folders:
        by_root.setdefault(folder.failed, []).append(folder)
    for root, sharing in by_root.items():
        others = {d for f in folders for d in f.all_dirs()} - {root}
        # walk() yields one folder's entries together: a record is told by the names
        # beside it, with no lstat a file (150,000 failed files: 0.6–1.5 s to walk,
        # against 2.7–5.3 s with an lexists for each record; a loaded 2-core machine).
        for _, entries in itertools.groupby(nofollow.walk(root, prune=others.__contains__), key=lambda p: p.parent):
            paths = list(entries)
            present = {p.name for p in paths}
            for path in paths:
                if any(is_our_temp(path.name, f.temp_token) for f in sharing):
                    continue
                if path.name.endswith(SIDECAR) and path.name[: -len(SIDECAR)] in present:
                    continue
                if is_sidecar(path.name) and (image_of(path.name, present) or "") + SIDECAR in present:
                    continue  # an XMP sidecar that failed beside its image: requeued with it
                yield _owner(sharing, path), path


def _owner(sharing: list[Folder], path: Path) -> Folder:
    if len(sharing) == 1:
        return sharing[0]
    named = str((read_record(record_of(path)) or {}).get("folder", ""))
    return next((f for f in sharing if display(f.name) == named), sharing[0])


class FailedIndex:
    def __init__(self):
        self.files: tuple[FailedFile, ...] = ()  # the SHOWN most recent, newest first
        self.counts: dict[str, int] = {}  # folder name -> failed originals now
        self.walks = 0  # how many times failed/ was walked (the status and tests read it)
        self._paths: dict[str, tuple[str, Path]] = {}  # id -> (folder name, path), of the files listed
        self._walked: tuple = ()  # the folders of the last walk: (name, failed/) each
        self._stamps: dict[str, Stamp] = {}  # folder name -> failed/'s stamp as we left it
        self._stale = False
        self._at = float("-inf")  # when the last walk ended (monotonic)
        self._cost = 0.0  # how long it took

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    # ------------------------------------------------------------------ walks
    def refresh(self, folders: tuple[Folder, ...], force: bool = False) -> bool:
        """Walk the failed/ folders again if needed (see the top); True if it did."""
        if _which(folders) != self._walked:
            return self._walk(folders)
        now = time.monotonic()
        self._stale = (self._stale or force or now - self._at >= RECOUNT_EVERY
                       or any(_stamp(f.failed) != self._stamps.get(f.name) for f in folders))
        if not self._stale or now - self._at < self._cost / WALK_SHARE:
            return False
        return self._walk(folders)

    def _walk(self, folders: tuple[Folder, ...]) -> bool:
        t0 = time.monotonic()
        newest: list[tuple[float, str, int, Path]] = []  # a bounded heap: memory stays SHOWN entries
        index = {folder.name: i for i, folder in enumerate(folders)}
        counts = {folder.name: 0 for folder in folders}
        # Before the walk: a change made during it is seen next time.
        stamps = {folder.name: _stamp(folder.failed) for folder in folders}
        for folder, path in failed_originals(folders):
            counts[folder.name] += 1
            item = (_failed_at(path), str(path), index[folder.name], path)
            if len(newest) < SHOWN:
                heapq.heappush(newest, item)
            elif item > newest[0]:
                heapq.heapreplace(newest, item)
        listed = [_entry(folders[i], path, at) for at, _, i, path in sorted(newest, reverse=True)]
        self.files = tuple(f for f, _ in listed)
        self._paths = {f.id: (f.folder, path) for f, path in listed}
        self.counts, self._stamps, self._walked = counts, stamps, _which(folders)
        self._stale, self.walks = False, self.walks + 1
        self._at = time.monotonic()
        self._cost = self._at - t0
        return True

    # ------------------------------------------------------------------ our own moves
    def stamp(self, folder: Folder) -> Stamp:
        """failed/'s stamp now: taken just before one of our moves and handed to `added` or
        `removed`, which tell by it whether others changed failed/ since we last looked."""
        return _stamp(folder.failed)

    def _own_change(self, folder: Folder, before: Stamp) -> None:
        """After one of our moves (`before`: failed/'s stamp just before it): the stamp it
        left is ours to expect; if failed/ had changed under us since the last look (a
        `hotfolder requeue` a moment before the same file failed again), it is walked at
        the next refresh: taking that stamp as ours would hide the change until the
        recount, and the count would be off meanwhile (4 in failed/ for 1, for 30 s)."""
        if before != self._stamps.get(folder.name):
            self._stale = True
        self._stamps[folder.name] = _stamp(folder.failed)

    def added(self, folder: Folder, path: Path, before: Stamp) -> None:
        """The ledger moved a file to failed/ (now at `path`; `before`: `stamp` just
        before the move): counted and listed first."""
        if folder.name not in self.counts:
            return  # not walked yet: the first walk counts it
        self.counts[folder.name] += 1
        entry, _ = _entry(folder, path, _failed_at(path))
        kept = [f for f in self.files if f.id != entry.id and f.id in self._paths][: SHOWN - 1]
        self._paths = {f.id: self._paths[f.id] for f in kept} | {entry.id: (folder.name, path)}
        self.files = (entry, *kept)
        self._own_change(folder, before)

    def removed(self, folder: Folder, path: Path, before: Stamp) -> None:
        """A requeue moved the file at `path` out of failed/ (`before`: `stamp` just before)."""
        fid = file_id(folder.name, os.fsencode(path.relative_to(folder.failed)))
        if self.counts.get(folder.name, 0) > 0:
            self.counts[folder.name] -= 1
        else:
            self._stale = True  # found wrong: counted again at the next refresh
        self.files = tuple(f for f in self.files if f.id != fid)
        self._paths.pop(fid, None)
        self._own_change(folder, before)

    def lookup(self, fid: str) -> tuple[str, Path] | None:
        """(folder name, path) of a listed file that is still there, or None."""
        found = self._paths.get(fid)
        try:
            return found if found is not None and nofollow.lexists(found[1]) else None
        except OSError:  # its failed/ was swapped for a link: not a file of ours now
            return None


def _which(folders: tuple[Folder, ...]) -> tuple:
    return tuple((f.name, f.failed) for f in folders)


def _entry(folder: Folder, path: Path, at: float) -> tuple[FailedFile, Path]:
    rel = path.relative_to(folder.failed)
    record = records.read_failure(folder, path) or {}
    fid = file_id(folder.name, os.fsencode(rel))
    return FailedFile(fid, folder.name, fsnames.display(rel.as_posix()), _cut(record.get("error", ""), REASON_WIDTH),
                      _cut(record.get("step", ""), FIELD_WIDTH), _int(record.get("attempts")),
                      _cut(record.get("time", ""), FIELD_WIDTH), at, _lines(record.get("explain"))), path


def _cut(value: object, width: int) -> str:
    """A record's text, at most `width` characters (a cut one ends in `…`)."""
    text = str(value)
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _lines(value: object) -> tuple[str, ...]:
    """A record's explanation: texts only (a record is data), at most EXPLAIN_LINES of them,
    EXPLAIN_CHARS in all (the line that passes it cut, ending in `…`)."""
    if not isinstance(value, list):
        return ()
    kept: list[str] = []
    left = EXPLAIN_CHARS
    for line in (text[:EXPLAIN_WIDTH] for text in value[:EXPLAIN_LINES] if isinstance(text, str)):
        if len(line) > left:
            if left:  # none left: the lines before ended at the bound exactly
                kept.append(_cut(line, left))
            break
        kept.append(line)
        left -= len(line)
    return tuple(kept)


def _failed_at(path: Path) -> float:
    """When the file failed: its record was written then (a rename keeps the original's
    own mtime, which may be years old)."""
    return _mtime(record_of(path), follow=False) or _mtime(path, follow=False) or 0.0


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _mtime(path: Path, follow: bool = True) -> float | None:
    try:
        return os.stat(path, follow_symlinks=follow).st_mtime
    except OSError:
        return None
