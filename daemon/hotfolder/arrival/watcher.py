"""The watchdog observers over every inbox, the outage checks, and the watcher of the watcher.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from hotfolder.arrival.inbox import Inbox
from hotfolder.arrival.mounts import use_polling
from hotfolder.arrival.waker import Waker
from hotfolder.config.model import Folder
from hotfolder.runtime import log
from hotfolder.spool.moves import swapped_folder

# What an event says of the writer: a write means "still open", a close-write or a
# move within the inbox means "done". A rename in from elsewhere arrives as a bare
# "created" (a known watchdog trap): unknown, so the quiet period decides.
CLOSED_AFTER = {"modified": False, "closed": True, "moved": True, "created": None}


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


class _OverflowAlarm(logging.Handler):
    """watchdog only logs an inotify queue overflow: turn that into a rescan."""

    def __init__(self, watcher: "Watcher"):
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            for inbox in self.watcher.inboxes.values():
                inbox.request_rescan()


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
