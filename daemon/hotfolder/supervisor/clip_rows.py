"""The rows of clips passed through to archive/ (`pass_through:`), where they are kept: a
local folder's in its state_dir's database (state/passed.py), a cluster head's in the
cluster's Redis (cluster/passed.py). What finds the archived twins of a clip dumped again
into another subfolder (supervisor/passed_again.py compares them), noted before each clip's
move (taken back if it did not happen), forgotten past the folder's duplicate_window. The
main loop's only.

Rows that cannot be used (a database that is no database, unwritable) are said once and left
for the run: the comparison at a clip's own path goes on without them. A row is data: only a
path of plain names under its folder's archive/ is ever looked at, without following a link.
"""
from __future__ import annotations

import dataclasses
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hotfolder.config.choices import DuplicateScope
from hotfolder.config.model import Cluster, Folder
from hotfolder.errors import HotfolderError
from hotfolder.recipes.select import subfolder_scope
from hotfolder.spool import fsnames, nofollow
from hotfolder.state import db, passed
from hotfolder.supervisor.duplicates import FORGET_EVERY

if TYPE_CHECKING:
    from hotfolder.cluster.passed import SharedPassed


class ClipRows:
    def __init__(self, log, folders: Callable[[], Iterable[Folder]] = tuple,
                 cluster: Callable[[], Cluster | None] = lambda: None):
        self.log = log
        self.folders = folders  # the config's folders now (a row names its folder by name)
        self.cluster = cluster  # the config's cluster: enabled, the rows are in its Redis
        self._rows: dict[Path, passed.Passed] = {}  # per state_dir: the rows of clips archived
        self._shared: SharedPassed | None = None  # a cluster's, once a folder asked (cluster/passed.py)
        self._next_forget = 0.0  # time.monotonic() of the next look for rows past duplicate_window
        self._said: set[Path] = set()  # state_dirs whose rows failed, said once

    def flush(self) -> None:
        """Each turn: a cluster's rows not written while its Redis was away, written now."""
        if self._shared is not None:
            self._shared.flush()

    def of(self, folder: Folder) -> passed.Passed | SharedPassed | None:
        """The rows of the folder's state_dir, or of a cluster's Redis (None in batch mode)."""
        where = folder.index_dir
        if where is None:
            return self._cluster()
        if where in self._said:
            return None
        rows = self._rows.get(where)
        if rows is None:
            try:
                rows = self._rows[where] = passed.Passed(where)
            except (OSError, sqlite3.Error, HotfolderError) as exc:  # HotfolderError: a file that is no database
                self._failed(folder, exc)
                return None
        return rows

    def twins(self, folder: Folder, path: Path, size: int) -> list[tuple[Folder, Path]]:
        """The archived clips of `path`'s name (case aside) and `size`, in any subfolder of the
        folder's duplicate_scope, from the rows (one indexed SELECT), the latest first; a row
        whose file is gone (or is no longer a regular file of that size) is dropped.
        passed.Unreachable when a cluster's Redis is away."""
        rows = self.of(folder)
        if rows is None:
            return []
        try:
            return list(all_there(rows.find(path.name, size, **scope_of(folder, path)), folder, self.folders(),
                                  size, rows.drop))
        except sqlite3.Error as exc:
            self._failed(folder, exc)
        return []

    def note(self, folder: Folder, path: Path, where: Path, size: int) -> None:
        """The inbox file `path` of `size` bytes is passed through to `where` now: its row
        (state/passed.py, durable before the move; a cluster's in its Redis). A row not
        written costs only the comparison of a later copy in another subfolder: said, never a
        reason to stop."""
        rows = self.of(folder)
        if rows is None or folder.archive is None:
            return
        rel = path.relative_to(folder.inbox).as_posix()
        subdir, archived = rel.rpartition("/")[0], where.relative_to(folder.archive).as_posix()
        if not isinstance(rows, passed.Passed):  # a cluster's: kept for the folder's duplicate_window (Redis is
            rows.note(folder.name, path.name, subdir, size, archived, window=folder.duplicate_window)  # bounded)
            return
        try:
            rows.note(folder.name, path.name, subdir, size, archived)
        except sqlite3.Error as exc:
            self._failed(folder, exc)

    def unnote(self, folder: Folder, path: Path, where: Path, size: int) -> None:
        """The row `note` wrote for `where`, taken back: the move did not happen. One left (a
        failure here, a kill) names no file, or another: a lookup drops it when it meets it so."""
        rows = self.of(folder)
        if rows is None or folder.archive is None:
            return
        rel = path.relative_to(folder.inbox).as_posix()
        row = passed.Row(folder.name, where.relative_to(folder.archive).as_posix(), rel.rpartition("/")[0])
        if not isinstance(rows, passed.Passed):
            rows.drop(dataclasses.replace(row, key=rows.key(path.name, size)))
            return
        try:
            rows.drop(row)
        except sqlite3.Error as exc:
            self._failed(folder, exc)

    def forget_old(self, folders: Iterable[Folder], now: float) -> None:
        """Once an hour (the main loop): rows older than their folder's duplicate_window are
        forgotten, as the index forgets its originals (supervisor/duplicates.forget_old); a
        cluster's expire in Redis by themselves. Before, a clip's row lived as long as its file,
        and a card dumped again years on was skipped where its photos were rendered again."""
        if now < self._next_forget:
            return
        self._next_forget = now + FORGET_EVERY
        for folder in folders:
            if folder.index_dir is None:
                continue
            rows = self.of(folder)
            if not isinstance(rows, passed.Passed):
                continue
            try:
                gone = rows.forget_before(folder.name, time.time() - folder.duplicate_window)
            except sqlite3.Error as exc:
                self._failed(folder, exc)
                continue
            if gone:
                self.log.info("clips_forgot", folder=folder.name, rows=gone, window_s=folder.duplicate_window)

    def _cluster(self) -> SharedPassed | None:
        """A cluster head's rows, in the cluster's Redis (made at the first clip; a reload
        cannot change broker_url or cluster_id)."""
        if self._shared is None:
            cluster = self.cluster()
            if cluster is None or not cluster.enabled:
                return None
            from hotfolder.cluster.passed import SharedPassed  # redis: cluster mode only

            self._shared = SharedPassed.of(cluster)
        return self._shared

    def _failed(self, folder: Folder, exc: BaseException) -> None:
        """The rows cannot be used: said once, with what to do (db.unusable); the comparison
        at the clip's own path goes on without them."""
        where = folder.index_dir
        if where is None or where in self._said:
            return
        self._said.add(where)
        rows = self._rows.pop(where, None)
        if rows is not None:
            rows.close()
        self.log.warning("passed_rows_failed", folder=folder.name,
                         reason=fsnames.display(db.unusable(f"{type(exc).__name__}: {exc}", exc, where)),
                         action="until the daemon restarts, a clip dumped again into another subfolder is "
                                "archived again, not compared")


def _place(folder: Folder, archived: str) -> Path | None:
    """Where a row's `archived` lies under the folder's archive/: a relative path of plain names
    only (a row is data: no `..`, no absolute path, no empty part); None otherwise."""
    parts = archived.split("/")
    if folder.archive is None or any(p in ("", ".", "..") or "\0" in p for p in parts):
        return None
    return folder.archive.joinpath(*parts)


def scope_of(folder: Folder, path: Path) -> dict[str, str | None]:
    """Where a row counts for the inbox file `path` (Passed.find's `folder` and `subdir`): the
    folder's duplicate_scope, resolved as a photo's (recipes/select.subfolder_scope)."""
    if folder.duplicate_scope == DuplicateScope.ALL:
        return {"folder": None, "subdir": None}
    return {"folder": folder.name, "subdir": subfolder_scope(folder, path.relative_to(folder.inbox).as_posix())}


def all_there(found: Iterable[passed.Row], folder: Folder, folders: Iterable[Folder], size: int,
              drop: Callable[[passed.Row], None]) -> Iterator[tuple[Folder, Path]]:
    """Of the rows `found` (of `folder`, or under scope `all` of any of `folders`, by name),
    each whose clip still lies there, and where: a regular file of `size` bytes reached without
    a link. A row whose file is gone (deleted by the user: its folder's archive/ is there) or is
    another file now (another size, a link) is given to `drop`; one of a folder gone from the
    config, or not a path under archive/, is passed over."""
    by_name = {f.name: f for f in folders}
    by_name[folder.name] = folder
    for row in found:
        of = by_name.get(row.folder)
        twin = _place(of, row.archived) if of is not None else None
        if of is None or twin is None:
            continue
        try:
            st = nofollow.lstat(twin)
        except (FileNotFoundError, NotADirectoryError):
            try:
                gone = of.archive is not None and stat.S_ISDIR(nofollow.lstat(of.archive).st_mode)
            except OSError:
                gone = False
            if gone:
                drop(row)
            continue
        except OSError:
            continue  # a link on the way, a permission: not followed, nor forgotten
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            drop(row)
            continue
        yield of, twin
