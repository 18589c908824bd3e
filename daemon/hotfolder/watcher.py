"""Finds inbox files that are ready: arrived, no longer written, not temp names.

Watchdog events are only hints. Each watched folder has an observer (inotify, or
polling on network file systems) whose handler records candidate paths, and a
lazy rescan of the inbox that catches whatever the events missed (an inotify
overflow, a directory moved in, files waiting at start). A candidate is ready
when its size and mtime have not changed for the folder's quiet period.

Memory stays bounded whatever the backlog: at most `max_pending` candidates are
held; beyond that the handler only notes that a rescan is due, and the rescan
walks the inbox lazily, taking only as many files as there is room for.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from . import log, nofollow
from .config import Folder
from .spool import is_ignored_path, swapped_folder, walk_files

# A file written but never closed (a stalled upload) is taken after this long
# without any change, rather than waiting forever.
OPEN_WRITER_GRACE = 60.0

# What an event says of the writer: a write means "still open", a close-write or a
# move within the inbox means "done". A rename in from elsewhere arrives as a bare
# "created" (a known watchdog trap): unknown, so the quiet period decides.
CLOSED_AFTER = {"modified": False, "closed": True, "moved": True, "created": None}
EMPTY_FILE_GRACE = 5.0  # a zero-byte file is likely still being created
LEASE_RECHECK = 1.0  # seconds between asking the kernel whether a writer still holds a file
# ... after a first wait this short: the kernel queues a close event before it drops the
# file's writer count (__fput), so a lease asked for right after the event can still be
# refused; doubling from here to LEASE_RECHECK (with a flat second, most drops on an idle
# daemon waited ~1 s: DESIGN.md, "Arrival").
LEASE_RECHECK_FIRST = 0.01

NETWORK_FS = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph",
    "glusterfs", "fuse.glusterfs", "lustre", "gpfs", "fuse.s3fs", "fuse.rclone", "davfs",
    "fuse.davfs2", "virtiofs", "fuse",
}


def filesystem_type(path: Path, mounts: str = "/proc/self/mounts") -> str:
    """The type of the file system holding `path`, from the mount table."""
    path = Path(os.path.realpath(path))
    best, best_type = "", ""
    try:
        with open(mounts, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (path == Path(mnt) or Path(mnt) in path.parents) and len(mnt) >= len(best):
                    best, best_type = mnt, parts[2]
    except OSError:
        pass
    return best_type


def use_polling(folder: Folder, mounts: str = "/proc/self/mounts") -> bool:
    if folder.watch != "auto":
        return folder.watch == "poll"
    return filesystem_type(folder.inbox, mounts) in NETWORK_FS


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
    lease_wait: float = 0.0  # the last wait before asking the kernel again

    def due(self, quiet: float) -> float:
        """When `Inbox.ready` may take it, as far as is known now (the same rules)."""
        if self.closed is False:
            return self.changed + OPEN_WRITER_GRACE  # or sooner: its close event wakes us
        if self.size == 0:
            return max(self.recheck, self.changed + EMPTY_FILE_GRACE)
        return max(self.recheck, self.changed + quiet)


class _Handler(FileSystemEventHandler):
    """Records paths; never raises (a raising handler stops event delivery)."""

    def __init__(self, inbox: "Inbox", polled: bool):
        self.inbox = inbox
        self.polled = polled  # a polling observer sees no close events

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if event.event_type in ("opened", "closed_no_write", "deleted"):
                return
            if event.is_directory:
                if event.event_type in ("created", "moved"):
                    self.inbox.request_rescan()
                return
            path = event.dest_path if event.event_type == "moved" else event.src_path
            kind = event.event_type
            if self.polled:
                self.inbox.note(Path(os.fsdecode(path)), None)
            else:  # e.g. "attrib" (chmod after a copy) says nothing of the writer
                self.inbox.note(Path(os.fsdecode(path)), CLOSED_AFTER.get(kind), kind_known=kind in CLOSED_AFTER)
        except Exception:  # noqa: BLE001 - keep the observer alive whatever happens
            log.get().exception("watch_handler_error")


class Inbox:
    """The candidates of one watched folder."""

    def __init__(self, folder: Folder, max_pending: int, waker: "Waker | None" = None):
        self.waker = waker or Waker()
        self.folder = folder
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._pending: dict[Path, Candidate] = {}
        self._rescan_due = threading.Event()
        self._rescan_due.set()  # files already waiting at start
        self._scan = None
        self._next_rescan = 0.0
        self._warned: set[Path] = set()
        # False while the Watcher has the inbox in an outage (missing, or a folder of it
        # swapped for a link): nothing is handed out, nothing is scanned.
        self.available = True

    # -- called from the observer thread
    def note(self, path: Path, closed: bool | None = None, kind_known: bool = True) -> None:
        if is_ignored_path(path, self.folder.inbox):
            return
        now = time.monotonic()
        with self._lock:
            cand = self._pending.get(path)
            if cand is not None:
                cand.changed = now
                if kind_known:
                    cand.closed = closed
            elif len(self._pending) < self.max_pending:
                self._pending[path] = Candidate(path, changed=now, closed=closed)
            else:
                self._rescan_due.set()  # no room: the rescan will find it later
                return
        if cand is None or closed:
            self.waker.wake()  # a new file, or one its writer closed: worth a look now

    def adopt(self, folder: Folder) -> "Inbox":
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
        """Look at this path again soon (e.g. a same-named file waited for its turn).

        What the events said of its writer stands: a re-upload still being written
        keeps its "open" mark."""
        self.note(path, kind_known=False)

    # -- called from the supervisor's loop
    def _fill_from_scan(self, now: float) -> None:
        if not self.available:
            self._scan = None  # a scan begun before the outage is begun again after it
            return
        if self._scan is None:
            if not self._rescan_due.is_set() and now < self._next_rescan:
                return
            self._rescan_due.clear()
            self._scan = walk_files(self.folder.inbox, self._unreadable)
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
                    # Found by a scan, not an event: its mtime alone says whether it is still.
                    self._pending.setdefault(path, Candidate(path, changed=now - self.folder.quiet_period))

    def ready(self, limit: int, now: float | None = None) -> list[Path]:
        """Up to `limit` paths whose size and mtime held still for the quiet period."""
        now = time.monotonic() if now is None else now
        self._fill_from_scan(now)
        quiet = self.folder.quiet_period
        out: list[Path] = []
        gone: list[Path] = []
        with self._lock:
            items = list(self._pending.values())
        for cand in items:
            if len(out) >= limit:
                break
            first_look = cand.size < 0
            if not first_look and now < cand.due(quiet):
                continue  # not yet (no lstat: a flood of waiting files costs nothing)
            st = _lstat(cand.path)
            if st is None:
                gone.append(cand.path)
                continue
            if stat.S_ISDIR(st.st_mode):
                gone.append(cand.path)
                continue
            seen = (st.st_size, st.st_mtime_ns)
            if cand.closed is False and now - cand.changed < OPEN_WRITER_GRACE:
                continue  # still open for writing: wait for its close event
            if now - cand.changed < OPEN_WRITER_GRACE and open_for_writing(cand.path):
                # Events can miss a writer (a scan after a start or a reload, a rename
                # or a hard link of a file still open elsewhere, whose close the inbox
                # never sees): the kernel knows better. Ask it again soon, then less often.
                cand.lease_wait = min(LEASE_RECHECK, 2 * cand.lease_wait or LEASE_RECHECK_FIRST)
                cand.recheck = now + cand.lease_wait
                continue
            if st.st_size == 0 and now - cand.changed < EMPTY_FILE_GRACE:
                if first_look:
                    cand.size, cand.mtime_ns = st.st_size, st.st_mtime_ns
                continue
            if first_look:
                cand.size, cand.mtime_ns = seen
                # Untouched for the quiet period already (waiting since before we
                # started, or renamed in whole): no second look needed. A file
                # being written has a fresh mtime, or write events marked it open.
                age = time.time() - st.st_mtime_ns / 1e9
                if age >= quiet:
                    out.append(cand.path)
                elif cand.closed is not False and age >= 0:
                    # Its mtime says when its bytes last changed: the quiet period runs
                    # from then, not from the event (a file written just before it was
                    # renamed in needs only the rest of it).
                    cand.changed = min(cand.changed, now - age)
            elif seen != (cand.size, cand.mtime_ns):
                cand.size, cand.mtime_ns = seen
                cand.changed = now
            else:
                out.append(cand.path)
        if out and not self._claimable():
            return []  # kept as candidates: taken once the outage is over
        with self._lock:
            for path in gone + out:
                self._pending.pop(path, None)
        return out

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
        quiet = self.folder.quiet_period
        with self._lock:
            return min((c.due(quiet) for c in self._pending.values()), default=None)


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


def open_for_writing(path: Path) -> bool:
    """Whether some process has `path` open for writing, where the kernel can tell.

    A read lease (fcntl F_SETLEASE) is refused with EAGAIN while any process holds the
    file open for writing. Leases need a local file system and the file's owner (or
    CAP_LEASE); where they are unavailable the answer is False, and the events and the
    quiet period decide, as before."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY)
    except OSError:
        return False
    try:
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            return exc.errno == errno.EAGAIN
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


class _OverflowAlarm(logging.Handler):
    """watchdog only logs an inotify queue overflow: turn that into a rescan."""

    def __init__(self, watcher: "Watcher"):
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            for inbox in self.watcher.inboxes.values():
                inbox.request_rescan()


class Waker:
    """A pipe the observer threads write a byte to when a file worth a look arrives, so
    the service's loop, waiting on its workers' messages, wakes at once instead of at the
    end of its tick (a burst moved in is claimed tens of milliseconds sooner)."""

    def __init__(self):
        self.fd, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self) -> None:
        try:
            os.write(self._w, b"!")
        except BlockingIOError:
            pass  # woken already: the pipe is full of wake-ups

    def drain(self) -> None:
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass


@dataclass(frozen=True)
class Unusable:
    reason: str
    swapped: bool  # a folder is a link now: a restart would not help (see Watcher.healthy)


def _unusable(folder: Folder) -> Unusable | None:
    """Why the folder's inbox cannot be served now, or None: the inbox is missing, or one
    of its five folders is reached through a symbolic link (swapped while running: never
    followed, never a new source; see nofollow)."""
    swapped = swapped_folder(folder)
    if swapped:
        return Unusable(swapped, True)
    if not folder.inbox.is_dir():
        return Unusable("the inbox folder is missing or unreachable", False)
    return None


class Watcher:
    """One observer for all folders; one Inbox of candidates per folder.

    `check()` watches the watcher: an inbox that disappears (deleted, or a share
    that became unreachable) is an outage, logged and retried with backoff, never
    taken as the deletion of its files; when it is back, it is watched again and
    rescanned.
    """

    def __init__(self, folders: tuple[Folder, ...], max_pending: int = 2048, previous: "Watcher | None" = None):
        # A reload keeps what the old watcher knew of each inbox it watched (which
        # files are still open for writing); judging them afresh by mtime alone would
        # take a slow upload early.
        kept = {i.folder.inbox: i for i in previous.inboxes.values()} if previous else {}
        self.waker = previous.waker if previous else Waker()
        self.inboxes = {f.name: kept.pop(f.inbox).adopt(f) if f.inbox in kept else Inbox(f, max_pending, self.waker)
                        for f in folders}
        self._native = Observer()
        self._polled = PollingObserver(timeout=1.0)
        self._watches: dict[str, object] = {}
        self._outage: dict[str, tuple[float, float]] = {}  # name -> (next try, backoff)
        self._why: dict[str, str] = {}  # name -> why its inbox is not served (for the status)
        self._swapped: set[str] = set()  # of those, the folders with a folder swapped for a link
        self._alarm = _OverflowAlarm(self)
        self.log = log.get("watcher")

    def _observer_for(self, inbox: Inbox):
        return self._polled if use_polling(inbox.folder) else self._native

    def _schedule(self, inbox: Inbox) -> bool:
        observer = self._observer_for(inbox)
        try:
            self._watches[inbox.folder.name] = observer.schedule(
                _Handler(inbox, observer is self._polled), str(inbox.folder.inbox), recursive=True)
        except OSError as exc:
            self._enter_outage(inbox, str(exc))
            return False
        inbox.request_rescan()
        return True

    def _unschedule(self, inbox: Inbox) -> None:
        watch = self._watches.pop(inbox.folder.name, None)
        if watch is not None:
            try:
                self._observer_for(inbox).unschedule(watch)
            except (KeyError, OSError):
                pass

    def start(self) -> None:
        logging.getLogger("watchdog.observers").addHandler(self._alarm)
        for inbox in self.inboxes.values():
            problem = _unusable(inbox.folder)
            if problem:  # never watched through a link (watchdog would follow it)
                self._enter_outage(inbox, problem.reason, problem.swapped)
            elif self._schedule(inbox):
                inbox.available = True  # an inbox a reload keeps may have been in an outage
        for observer in (self._native, self._polled):
            observer.daemon = True
            observer.start()

    def stop(self) -> None:
        logging.getLogger("watchdog.observers").removeHandler(self._alarm)
        # watchdog holds a move out of the inbox (every claim) for 0.5 s, to pair it with a
        # move in; an emitter stopped meanwhile meets that event and logs an ERROR. Harmless
        # when we are dropping the watch: said at debug only, during our own stop.
        with log.demoted("watchdog.observers.inotify", "called when the thread is inactive"):
            for observer in (self._native, self._polled):
                if observer.is_alive():
                    observer.stop()
            for observer in (self._native, self._polled):
                if observer.is_alive():
                    observer.join(timeout=5)

    def _emitter_alive(self, inbox: Inbox) -> bool:
        watch = self._watches.get(inbox.folder.name)
        if watch is None:
            return False
        return any(e.watch == watch and e.is_alive() for e in self._observer_for(inbox).emitters)

    def _enter_outage(self, inbox: Inbox, reason: str, swapped: bool = False) -> None:
        inbox.available = False
        if swapped:
            self._swapped.add(inbox.folder.name)
        else:
            self._swapped.discard(inbox.folder.name)
        now = time.monotonic()
        _next, backoff = self._outage.get(inbox.folder.name, (0.0, 0.5))
        backoff = min(60.0, backoff * 2)
        self._why[inbox.folder.name] = reason
        if inbox.folder.name not in self._outage:
            self.log.error("inbox_unavailable", folder=inbox.folder.name, inbox=str(inbox.folder.inbox),
                           reason=reason, action="files are not touched; retrying with backoff")
        self._outage[inbox.folder.name] = (now + backoff, backoff)

    def check(self) -> None:
        """Called about once a second from the supervisor's loop."""
        now = time.monotonic()
        for name, inbox in self.inboxes.items():
            if name in self._outage and now < self._outage[name][0]:
                continue
            problem = _unusable(inbox.folder)
            if problem:
                self._unschedule(inbox)
                self._enter_outage(inbox, problem.reason, problem.swapped)
                continue
            if name in self._outage or not self._emitter_alive(inbox):
                self._unschedule(inbox)
                if self._schedule(inbox):
                    if name in self._outage:
                        self.log.info("inbox_back", folder=name, inbox=str(inbox.folder.inbox))
                    self._outage.pop(name, None)
                    self._swapped.discard(name)
                    self._why.pop(name, None)
            inbox.available = name not in self._outage

    def healthy(self) -> bool:
        """For the systemd watchdog: a restart must help. It does not for a folder swapped
        for a link (the config refuses one at start: the restart would stop every folder),
        so that outage is said in the log and the status, and the others are served."""
        observers_ok = all(o.is_alive() for o in (self._native, self._polled))
        return observers_ok and not (set(self._outage) - self._swapped)

    def pending_count(self) -> int:
        return sum(i.pending_count() for i in self.inboxes.values())

    def notes(self) -> str:
        """What the status should say of inboxes not served now, and why."""
        return "; ".join(f"folder {name!r} not served: {why}" for name, why in self._why.items()
                         if name in self._outage)

    def next_due(self) -> float | None:
        return min((d for d in (i.next_due() for i in self.inboxes.values()) if d is not None), default=None)
