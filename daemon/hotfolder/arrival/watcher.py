"""The watchdog observers over every inbox, the outage checks, and the watcher of the watcher.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    EventsLostEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper
from watchdog.observers.polling import PollingObserver

from hotfolder.arrival.inbox import Inbox
from hotfolder.arrival.mounts import use_polling
from hotfolder.arrival.waker import Waker
from hotfolder.backoff import Backoff
from hotfolder.config.model import Folder
from hotfolder.runtime import log
from hotfolder.spool.folders import swapped_folder
from hotfolder.spool.shares import Gone, Places

# What an event says of the writer: a write means "still open", a close-write or a
# move within the inbox means "done". A rename in from elsewhere arrives as a bare
# "created" (a known watchdog trap): unknown, so the quiet period decides.
CLOSED_AFTER = {"modified": False, "closed": True, "moved": True, "created": None}

OUTAGE_RETRY_FIRST, OUTAGE_RETRY_CAP = 1.0, 60.0  # seconds between looks at an inbox not served

# The events the handler reads. Asked of watchdog, so that inotify is not asked for the
# others at all: opens and reads (our own lease check opens every file: two events each),
# and the folder-modified event watchdog adds beside each file event.
EVENTS = [FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileMovedEvent,
          FileDeletedEvent, DirCreatedEvent, DirMovedEvent, DirDeletedEvent, EventsLostEvent]

# watchdog's inotify emitter holds each move out of a folder for `delay` (0.5 s) to pair
# it with a move in, and looks for the pair by walking everything it holds, twice for each
# move in: in a burst, where every file is claimed (moved out) as others arrive, that walk
# was 0.5-0.8 ms of the supervisor's CPU a file (of ~1.8), and every event waited behind
# the held one. The two halves of a rename come from the kernel one after the other, read
# by the same thread: 0.1 s still pairs them (a pair missed is a move out and a new file,
# which the quiet period then judges), and a burst's walk is 5x shorter.
MOVE_PAIRING_DELAY = 0.1
InotifyMoveEventGrouper.delay = MOVE_PAIRING_DELAY


class _Handler(FileSystemEventHandler):
    """Records paths; never raises (a raising handler stops event delivery)."""

    def __init__(self, inbox: Inbox, polled: bool):
        self.inbox = inbox
        self.polled = polled  # a polling observer sees no close events

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if event.event_type == "events_lost":  # the kernel's queue overflowed: look at everything
                self.inbox.request_rescan()
                return
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.is_directory:
                if event.event_type in ("created", "moved"):
                    self.inbox.request_rescan()
                return
            if event.event_type in ("deleted", "moved"):  # its source left the inbox (a claim is a move out)
                self.inbox.forget(Path(os.fsdecode(event.src_path)))
                if event.event_type == "deleted":
                    return
            path = event.dest_path if event.event_type == "moved" else event.src_path
            kind = event.event_type
            if self.polled:
                self.inbox.note(Path(os.fsdecode(path)), None)
            else:  # e.g. "attrib" (chmod after a copy) says nothing of the writer
                self.inbox.note(Path(os.fsdecode(path)), CLOSED_AFTER.get(kind), kind_known=kind in CLOSED_AFTER)
        except Exception:  # noqa: BLE001 - keep the observer alive whatever happens
            log.get().exception("watch_handler_error")


class _OverflowAlarm(logging.Handler):
    """watchdog logs an inotify queue overflow (then, since 7.1, sends EventsLostEvent
    once it has rebuilt its watches): the log line asks for the rescan at once."""

    def __init__(self, watcher: Watcher):
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            for inbox in self.watcher.inboxes.values():
                inbox.request_rescan()


class OutageKind(StrEnum):
    """Why an inbox is not served: whether a restart could mend it (see Watcher.healthy)."""

    UNREACHABLE = "unreachable"  # missing, unreachable (a share), or it cannot be watched
    SWAPPED = "swapped"  # one of its five folders is a link now: never followed, and the config refuses it
    UNMOUNTED = "unmounted"  # a place is on a share that is not mounted (spool/shares.py): never made beneath


RESTART_WONT_MEND = (OutageKind.SWAPPED, OutageKind.UNMOUNTED)


@dataclass(frozen=True)
class Unusable:
    kind: OutageKind
    reason: str
    gone: Gone | None = None  # UNMOUNTED: which place, and what it was on


@dataclass
class Outage:
    """An inbox not served: why, and when to look again (with backoff)."""

    kind: OutageKind
    reason: str
    backoff: Backoff = field(default_factory=lambda: Backoff(OUTAGE_RETRY_FIRST, OUTAGE_RETRY_CAP))
    next_try: float = 0.0


def _unusable(folder: Folder, places: Places | None) -> Unusable | None:
    """Why the folder's inbox cannot be served now, or None: one of its five folders is
    reached through a symbolic link (swapped while running: never followed, never a new
    source; see nofollow), one of its places is on a share that is not mounted (never made
    on the disk beneath: spool/shares.py), or the inbox is missing."""
    swapped = swapped_folder(folder)
    if swapped:
        return Unusable(OutageKind.SWAPPED, swapped)
    gone = places.gone(folder) if places is not None else None
    if gone is not None:
        return Unusable(OutageKind.UNMOUNTED, gone.reason(), gone)
    if not folder.inbox.is_dir():
        return Unusable(OutageKind.UNREACHABLE, "the inbox folder is missing or unreachable")
    return None


def _serve(folder: Folder) -> str:
    return ""


class Watcher:
    """One observer for all folders; one Inbox of candidates per folder.

    `check()` watches the watcher: an inbox that disappears (deleted, or a share
    that became unreachable) is an outage, logged and retried with backoff, never
    taken as the deletion of its files; when it is back, it is watched again and
    rescanned. So is a folder with a place on a share that is not mounted (`places`
    judges them). `prepare(folder)` is asked before a folder is served, at the start and
    after an outage (the service makes, locks and adopts it there): "" when it may be,
    else why not (the outage goes on).
    """

    def __init__(self, folders: tuple[Folder, ...], max_pending: int = 2048, previous: Watcher | None = None,
                 places: Places | None = None, prepare: Callable[[Folder], str] | None = None):
        # A reload keeps what the old watcher knew of each inbox it watched (which
        # files are still open for writing); judging them afresh by mtime alone would
        # take a slow upload early.
        kept = {i.folder.inbox: i for i in previous.inboxes.values()} if previous else {}
        self.waker: Waker = previous.waker if previous else Waker()
        self.inboxes: dict[str, Inbox] = {
            f.name: kept.pop(f.inbox).adopt(f) if f.inbox in kept else Inbox(f, max_pending, self.waker)
            for f in folders}
        self._native = Observer()
        self._polled = PollingObserver(timeout=1.0)
        self._watches: dict[str, object] = {}
        self._outages: dict[str, Outage] = {}  # folder name -> why its inbox is not served now
        self._alarm = _OverflowAlarm(self)
        self.log = log.get("watcher")
        self.places: Places | None = places if places is not None or previous is None else previous.places
        self.prepare: Callable[[Folder], str] = prepare or (previous.prepare if previous is not None else _serve)

    def _observer_for(self, inbox: Inbox):
        return self._polled if use_polling(inbox.folder) else self._native

    def _schedule(self, inbox: Inbox) -> bool:
        observer = self._observer_for(inbox)
        try:
            self._watches[inbox.folder.name] = observer.schedule(
                _Handler(inbox, observer is self._polled), str(inbox.folder.inbox), recursive=True,
                event_filter=EVENTS)
        except OSError as exc:
            self._enter_outage(inbox, Unusable(OutageKind.UNREACHABLE, str(exc)))
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
            problem = _unusable(inbox.folder, self.places) or self._refused(inbox.folder)
            if problem:  # never watched through a link (watchdog would follow it)
                self._enter_outage(inbox, problem)
            elif self._schedule(inbox):
                inbox.available = True  # an inbox a reload keeps may have been in an outage
        for observer in (self._native, self._polled):
            observer.daemon = True
            observer.start()

    def stop(self) -> None:
        logging.getLogger("watchdog.observers").removeHandler(self._alarm)
        # watchdog holds a move out of the inbox (every claim) for MOVE_PAIRING_DELAY, to pair
        # it with a move in; an emitter stopped meanwhile meets that event and logs an ERROR. Harmless
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

    def _refused(self, folder: Folder) -> Unusable | None:
        """Why the service cannot serve the folder yet (prepare), or None."""
        why = self.prepare(folder)
        return Unusable(OutageKind.UNREACHABLE, why) if why else None

    def _enter_outage(self, inbox: Inbox, problem: Unusable) -> None:
        """The inbox is not served (or still not): said once (and once more when its share
        turns out to be unmounted), looked at again after a backoff."""
        inbox.available = False
        outage = self._outages.get(inbox.folder.name)
        unmounted = problem.kind == OutageKind.UNMOUNTED and (outage is None or outage.kind != problem.kind)
        if unmounted and problem.gone is not None:
            gone = problem.gone
            self.log.error("folder_unmounted", folder=inbox.folder.name, key=gone.key, path=str(gone.path),
                           filesystem=gone.was.fstype, mount=gone.was.mount, reason=gone.reason(),
                           action=gone.action())
        elif outage is None:
            self.log.error("inbox_unavailable", folder=inbox.folder.name, inbox=str(inbox.folder.inbox),
                           reason=problem.reason, action="files are not touched; retrying with backoff")
        if outage is None:
            outage = self._outages[inbox.folder.name] = Outage(problem.kind, problem.reason)
        outage.kind, outage.reason = problem.kind, problem.reason
        outage.next_try = time.monotonic() + outage.backoff.failed()

    def check(self) -> None:
        """Called about once a second from the supervisor's loop."""
        now = time.monotonic()
        for name, inbox in self.inboxes.items():
            outage = self._outages.get(name)
            if outage is not None and now < outage.next_try:
                continue
            problem = _unusable(inbox.folder, self.places) or (self._refused(inbox.folder) if outage else None)
            if problem:
                self._unschedule(inbox)
                self._enter_outage(inbox, problem)
                continue
            if outage is not None or not self._emitter_alive(inbox):
                self._unschedule(inbox)
                if self._schedule(inbox) and outage is not None:
                    if outage.kind == OutageKind.UNMOUNTED:
                        self.log.info("folder_remounted", folder=name, inbox=str(inbox.folder.inbox),
                                      action="served again; its inbox is scanned")
                    else:
                        self.log.info("inbox_back", folder=name, inbox=str(inbox.folder.inbox))
                    del self._outages[name]
            inbox.available = name not in self._outages
            inbox.tidy()

    def healthy(self) -> bool:
        """For the systemd watchdog: a restart must help. It does not for a folder swapped
        for a link (the config refuses one at start), nor for one whose share is not mounted
        (a start does not make it either): the restart would stop every folder, so those
        outages are said in the log and the status, and the others are served."""
        observers_ok = all(o.is_alive() for o in (self._native, self._polled))
        return observers_ok and all(o.kind in RESTART_WONT_MEND for o in self._outages.values())

    def unmounted(self) -> dict[str, str]:
        """Folder name -> why, of the folders paused because a place's share is not mounted."""
        return {name: o.reason for name, o in self._outages.items() if o.kind == OutageKind.UNMOUNTED}

    def pending_count(self) -> int:
        return sum(i.pending_count() for i in self.inboxes.values())

    def notes(self) -> str:
        """What the status should say of inboxes not served now, and why."""
        return "; ".join(f"folder {name!r} not served: {o.reason}" for name, o in self._outages.items())

    def next_due(self) -> float | None:
        return min((d for d in (i.next_due() for i in self.inboxes.values()) if d is not None), default=None)
