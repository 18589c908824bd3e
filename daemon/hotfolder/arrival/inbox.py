"""One inbox: candidates from events and scans, and the rules that make one ready.
"""
from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hotfolder.arrival import rules
from hotfolder.arrival.lease import LEASE_RECHECK, LEASE_RECHECK_FIRST, open_for_writing
from hotfolder.arrival.pairs import HOLD_RECHECK, Pairs
from hotfolder.arrival.tidy import EmptiedFolders
from hotfolder.arrival.waker import Waker
from hotfolder.backoff import Backoff
from hotfolder.config.model import Folder
from hotfolder.runtime import log
from hotfolder.spool import nofollow
from hotfolder.spool.folders import swapped_folder
from hotfolder.spool.fsnames import walk_files

# A file written but never closed (a stalled upload) is taken after the folder's
# `stalled_after` (60 s by default) without any change, rather than waiting forever.

# A zero-byte file is likely still being created (a placeholder its writer fills later):
# it waits for the folder's `stalled_after`, as a file left open does. A fixed 5 s failed a
# placeholder filled 7 s later as "the file is empty" (an attack round).


READY, GONE, WAIT = "ready", "gone", "wait"  # what a look at a candidate found (Inbox._look)


@dataclass
class Candidate:
    path: Path
    size: int = -1
    mtime_ns: int = -1
    changed: float = 0.0  # monotonic time of the last change seen
    # Did the writer close it? True after a close-write or a move in, False after a
    # create or a write event, None when unknown (found by a scan, or polled).
    closed: bool | None = None
    recheck: float = 0.0  # the kernel said a writer holds it open: ask again then
    lease: Backoff = field(default_factory=lambda: Backoff(LEASE_RECHECK_FIRST, LEASE_RECHECK))
    # Given back cut short (see hold): not taken before then unless it changes from `held_as`.
    held_until: float = 0.0
    held_as: tuple[int, int, int] = (-1, -1, -1)  # size, mtime_ns, inode when given back
    stirred: bool = False  # an event came since it was held: look whether it changed

    def due(self, quiet: float, stalled: float) -> float:
        """When `Inbox.ready` may take it, as far as is known now (the same rules)."""
        if self.held_until and not self.stirred:
            return self.held_until  # or sooner: an event of its writer wakes us
        if self.closed is False:
            return self.changed + stalled  # or sooner: its close event wakes us
        if self.size == 0:
            return max(self.recheck, self.changed + stalled)
        return max(self.recheck, self.changed + quiet)


class Inbox:
    """The candidates of one watched folder."""

    def __init__(self, folder: Folder, max_pending: int, waker: Waker | None = None):
        self.waker = waker or Waker()
        self.folder = folder
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._pending: dict[Path, Candidate] = {}
        self._rescan_due = threading.Event()
        self._rescan_due.set()  # files already waiting at start
        self._scan: Iterator[Path] | None = None  # a rescan under way, taken up where it stopped
        self._next_rescan = 0.0
        self._warned: set[Path] = set()
        # False while the Watcher has the inbox in an outage (missing, or a folder of it
        # swapped for a link): nothing is handed out, nothing is scanned.
        self.available = True
        self.emptied = EmptiedFolders()  # subfolders files were handed out from: removed once empty
        self.pairs = Pairs()  # XMP sidecars held for their images, and the other way round

    # -- called from the observer thread
    def note(self, path: Path, closed: bool | None = None, kind_known: bool = True) -> None:
        if rules.ignored(self.folder, path):
            return
        now = time.monotonic()
        with self._lock:
            cand = self._pending.get(path)
            if cand is not None:
                cand.changed = now
                cand.stirred = True
                if cand.size == 0:  # an empty placeholder written to: its grace (due) no longer applies
                    cand.size = -1  # unknown until the next look, as a new candidate's
                if kind_known:
                    cand.closed = closed
            elif _lstat(path) is None:
                # A late event of a file gone already: claimed after a scan found it (the
                # observer behind a burst's events), or deleted. Made a candidate, it counted
                # as waiting until the loop or its own move's event came to it: status said 517
                # waited while inbox/ and processing/ held 361 (the suite, on a loaded machine).
                # One lstat a new name; events of a known candidate cost none.
                return
            elif len(self._pending) < self.max_pending:
                self._pending[path] = Candidate(path, changed=now, closed=closed)
            else:
                self._rescan_due.set()  # no room: the rescan will find it later
                return
        if cand is None or closed:
            self.waker.wake()  # a new file, or one its writer closed: worth a look now

    def adopt(self, folder: Folder) -> Inbox:
        """Serve the same inbox under a reloaded config; its candidates are kept."""
        self.folder = folder
        self._rescan_due.set()  # the new observer may have missed events meanwhile
        return self

    def _unreadable(self, folder: Path, exc: OSError) -> None:
        if folder not in self._warned:  # once per folder, not at every rescan
            self._warned.add(folder)
            log.get("watcher").warning("inbox_folder_unreadable", folder=str(folder), reason=str(exc),
                                       action="its files are not taken: make it readable by the daemon's user")

    def request_rescan(self) -> None:
        self._rescan_due.set()

    def offer(self, path: Path) -> None:
        """Look at this path again soon (e.g. a same-named file waited for its turn), if a
        file is there: the ledger offers the name of every file that ended, and a candidate
        made for each would be counted as waiting until the loop next looked at it (a
        burst of 240 showed 220 waiting over an empty inbox).

        What the events said of its writer stands: a re-upload still being written
        keeps its "open" mark."""
        if _lstat(path) is not None:
            self.note(path, kind_known=False)

    def hold(self, path: Path, until: float) -> None:
        """A file given back cut short (it failed as truncated: its writer may go on, as FTP
        resume and `cat >>` loops do after a close): not taken again before `until` (the
        folder's stalled_after) unless it changes; then the usual rules apply, so it is
        taken once it is closed and quiet again, as one file. Called from the loop, right
        after the file came back, before any scan could take it."""
        st = _lstat(path)
        if st is None:
            return
        now = time.monotonic()
        with self._lock:
            cand = self._pending.get(path)
            if cand is None:
                if len(self._pending) >= self.max_pending:
                    return  # no room: a rescan takes it, and it fails if it did not grow (the ledger knows)
                cand = self._pending[path] = Candidate(path, changed=now)
            cand.held_until, cand.held_as, cand.stirred = until, _identity(st), False
            cand.size, cand.mtime_ns, cand.changed = st.st_size, st.st_mtime_ns, now

    def _held(self, cand: Candidate, st: os.stat_result, now: float) -> bool:
        """Whether a held candidate stays held; a change ends the hold (the quiet period runs
        from now), and so does the end of the hold (then it is taken as it is)."""
        if _identity(st) != cand.held_as:
            cand.held_until, cand.size, cand.mtime_ns, cand.changed = 0.0, st.st_size, st.st_mtime_ns, now
            return True  # grown: taken once quiet, by the usual rules, from the next look
        if now < cand.held_until:
            cand.stirred = False  # unchanged: asleep again until the hold ends or an event comes
            return True
        cand.held_until = 0.0
        return False

    def forget(self, path: Path) -> None:
        """A file left the inbox (deleted, claimed, moved away): its candidate goes, unless
        a file is there again by now. Events of a file that arrive after its claim (a
        scan found it first) made a new candidate; the claim's own event, later in the
        same queue, takes it away here, so it is not counted as waiting."""
        with self._lock:  # the lstat under the lock: a scan adding names waits (_fill_from_scan)
            if path in self._pending and _lstat(path) is None:
                self._pending.pop(path, None)

    # -- called from the supervisor's loop
    def _fill_from_scan(self, now: float) -> None:
        if not self.available:
            self._scan = None  # a scan begun before the outage is begun again after it
            return
        if self._scan is None:
            if not self._rescan_due.is_set() and now < self._next_rescan:
                return
            self._rescan_due.clear()
            folder = self.folder
            self._scan = walk_files(folder.inbox, self._unreadable, skip=lambda name: rules.ignored_name(folder, name))
            self._next_rescan = now + self.folder.rescan_interval
        with self._lock:
            room = self.max_pending - len(self._pending)
        added = []
        while room > 0:
            path = next(self._scan, None)
            if path is None:
                self._scan = None
                break
            if path not in self._pending:
                added.append(path)
                room -= 1
        if added:
            with self._lock:
                for path in added:
                    # A scan lists a folder before it looks at the names: one deleted since (its
                    # event handled by `forget`, under this lock) is not made a candidate again,
                    # where it would count as waiting until a free slot looked at it.
                    if path not in self._pending and _lstat(path) is not None:
                        # Found by a scan, not an event: its mtime alone says whether it is still.
                        self._pending[path] = Candidate(path, changed=now - self.folder.quiet_period)

    def ready(self, limit: int, now: float | None = None) -> list[Path]:
        """Up to `limit` paths whose size and mtime held still for the quiet period."""
        now = time.monotonic() if now is None else now
        self._fill_from_scan(now)
        quiet, stalled = self.folder.quiet_period, self.folder.stalled_after
        out: list[Path] = []
        gone: list[Path] = []
        with self._lock:
            items = list(self._pending.values())
        looked: set[Path] = set()
        for cand in items:
            if len(out) >= limit:
                break
            looked.add(cand.path)
            verdict = self._look(cand, now, quiet, stalled)
            if verdict == GONE:
                gone.append(cand.path)
            elif verdict == READY:
                out.append(cand.path)
        if out and not self._claimable():
            return []  # kept as candidates: taken once the outage is over
        if out:  # XMP sidecars and their images go together (arrival/pairs.py)
            out, held = self.pairs.arrange(out, now, self.folder.sidecar_wait, _stamp,
                                           lambda side: side not in looked and self._ready_beyond(
                                               side, now, quiet, stalled))
            with self._lock:
                for path in held:
                    if (waiting := self._pending.get(path)) is not None:
                        waiting.recheck = now + HOLD_RECHECK
        with self._lock:
            for path in gone + out:
                self._pending.pop(path, None)
        for path in gone:
            self.pairs.forget(path)
        for path in out:
            if path.parent != self.folder.inbox:
                self.emptied.noted(path.parent)
        return out

    def _look(self, cand: Candidate, now: float, quiet: float, stalled: float) -> str:
        """One candidate by the rules of `ready`: READY to take, GONE, or WAIT."""
        first_look = cand.size < 0
        if not first_look and now < cand.due(quiet, stalled):
            return WAIT  # not yet (no lstat: a flood of waiting files costs nothing)
        st = _lstat(cand.path)
        if st is None or stat.S_ISDIR(st.st_mode):
            return GONE
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            return READY  # a FIFO, socket or device: said now (moves.NotAFile), not waited for as empty
        if cand.held_until:
            # unchanged for stalled_after: taken as it is (and fails)
            return WAIT if self._held(cand, st, now) else READY
        seen = (st.st_size, st.st_mtime_ns)
        if cand.closed is False and now - cand.changed < stalled:
            return WAIT  # still open for writing: wait for its close event
        if now - cand.changed < stalled and open_for_writing(cand.path):
            # Events can miss a writer (a scan after a start or a reload, a rename
            # or a hard link of a file still open elsewhere, whose close the inbox
            # never sees): the kernel knows better. Ask it again soon, then less often.
            cand.recheck = now + cand.lease.failed()
            return WAIT
        if st.st_size == 0 and now - cand.changed < stalled:
            if first_look:
                cand.size, cand.mtime_ns = st.st_size, st.st_mtime_ns
            return WAIT
        if first_look:
            cand.size, cand.mtime_ns = seen
            # Untouched for the quiet period already (waiting since before we
            # started, or renamed in whole): no second look needed. A file
            # being written has a fresh mtime, or write events marked it open.
            age = time.time() - st.st_mtime_ns / 1e9
            if age >= quiet:
                return READY
            if cand.closed is not False and age >= 0:
                # Its mtime says when its bytes last changed: the quiet period runs
                # from then, not from the event (a file written just before it was
                # renamed in needs only the rest of it), nor from a scan's "quiet already"
                # (`now - quiet_period`: a fresh file a scan found was taken at the next
                # turn, 10 ms on, its quiet period skipped: a review).
                cand.changed = now - age
            return WAIT
        if seen != (cand.size, cand.mtime_ns):
            cand.size, cand.mtime_ns = seen
            cand.changed = now
            return WAIT
        return READY

    def _ready_beyond(self, path: Path, now: float, quiet: float, stalled: float) -> bool:
        """Whether `path`, an image's sidecar `ready` did not come to (its `limit` reached
        first; one looked at in this turn is not looked at twice, which would skip its quiet
        period: a review), is ready now by the same rules: with a backlog the loop's room is a slot or
        two, the image came first in every turn, and its sidecar was never looked at; the
        image went alone after sidecar_wait (a new user's card copies: 5 of 17)."""
        with self._lock:
            cand = self._pending.get(path)
        return cand is not None and self._look(cand, now, quiet, stalled) == READY

    def partner(self, path: Path) -> Path | None:
        """The XMP sidecar to claim with the image `path` that `ready` handed out, if any."""
        return self.pairs.partner(path)

    def tidy(self) -> None:
        """About once a second: the subfolders claims emptied, removed when due (tidy.py)."""
        if self.available:
            self.emptied.tidy(self.folder.inbox, self.folder.stalled_after, self.folder.keep_subfolders)

    def _claimable(self) -> bool:
        """No folder of this folder's is a link now (checked as files are handed out, ~50
        syscalls a batch, so a swap between the Watcher's checks holds claims back at once);
        False marks the inbox unavailable until the Watcher's next check says otherwise."""
        if self.available and swapped_folder(self.folder):
            self.available = False
        return self.available

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def next_due(self) -> float | None:
        """When the soonest candidate's quiet period ends (monotonic), so the loop can
        look at it then instead of at its next tick."""
        quiet, stalled = self.folder.quiet_period, self.folder.stalled_after
        with self._lock:
            return min((c.due(quiet, stalled) for c in self._pending.values()), default=None)


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


def _stamp(path: Path) -> tuple[int, int] | None:
    st = _lstat(path)
    return None if st is None else (st.st_size, st.st_mtime_ns)


def _lstat(path: Path) -> os.stat_result | None:
    """lstat, also of a path longer than PATH_MAX (reached by its folders' descriptors:
    nofollow.lstat), so such a file is taken, and refused with its reason, not lost sight of."""
    try:
        return os.lstat(path)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            return None
    try:
        return nofollow.lstat(path)
    except OSError:
        return None
