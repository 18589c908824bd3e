"""Which folders are served: a folder with a place on a share that is not mounted
(spool/shares.py) is not made at the start, and waits; the watcher asks `prepare` before
it serves a folder (at the start, and after an outage), and says the wait in the log.

    made       at the start: the folders whose places are there or were made
    prepare    a folder to serve now: made, locked (anew: a share mounted again is another
               folder), and what its processing/ holds adopted, for one not served yet
    notify     a folder that began or ended waiting for its share, to `notify:` and the page
    unseen     the folders whose outputs cannot be seen now (their name records are kept)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from hotfolder.config.model import Folder
from hotfolder.errors import HotfolderError
from hotfolder.ops.notices import Hook, Notice, NoticeKind
from hotfolder.spool.shares import PlaceGone
from hotfolder.supervisor.ledger import Ledger
from hotfolder.supervisor.locks import FolderLocks


class Serving:
    def __init__(self, ledger: Ledger, locks: FolderLocks, on_notice: Hook, adopt: bool):
        self.ledger = ledger
        self.locks = locks
        self.on_notice = on_notice
        self.adopt = adopt  # whether a claim in processing/ is ours to adopt (not a cluster's)
        # Folders whose share was not mounted when they were to be made: recovered once it
        # is (prepare), as a folder a reload adds.
        self.unrecovered: set[str] = set()
        self.said: set[str] = set()  # folders waiting for their share that notify: heard of

    def made(self, folders: Iterable[Folder]) -> list[Folder]:
        """The folders whose places are there or were made; those with a place on a share that
        is not mounted are not made (shares.PlaceGone), and wait to be served once it is."""
        ready = []
        for folder in folders:
            try:
                self.ledger.prepare(folder)
            except PlaceGone:
                self.unrecovered.add(folder.name)
                continue
            ready.append(folder)
        return ready

    def prepare(self, folder: Folder, unmounted: Mapping[str, str]) -> str:
        """Before the watcher serves a folder: its places made, its inbox and processing/
        locked (anew if they are other folders now: a share mounted again), and, for a folder
        back from a share that was not mounted (`unmounted`: those waiting, by name), what its
        processing/ holds adopted: all a crash left there, for one never served in this run
        (recovered as at a start); for one whose share went away while it ran, the files no
        claim holds (one whose render met its folder gone was let go as vanished). "" when
        it may be served, else why not (asked again later)."""
        try:
            self.ledger.prepare(folder)
            self.locks.hold([folder])
            never = folder.name in self.unrecovered
            if never or folder.name in unmounted:
                self.ledger.recover(folder, adopt=self.adopt, running=not never)
                self.unrecovered.discard(folder.name)
        except PlaceGone as exc:
            return exc.gone.reason()
        except (OSError, HotfolderError) as exc:  # AlreadyRunning: another daemon took it meanwhile
            return f"it cannot be served yet: {exc}"
        return ""

    def notify(self, unmounted: Mapping[str, str], configured: set[str]) -> None:
        """A folder that began or ended waiting for its share, to `notify:` and the page (the
        watcher logs it): as a claiming pause, and its end; not the end of a folder a reload
        removed."""
        for name in unmounted.keys() - self.said:
            self.on_notice(Notice(NoticeKind.PAUSED, name, reason=f"the folder waits for its share: {unmounted[name]}"))
        for name in (self.said - unmounted.keys()) & configured:
            self.on_notice(Notice(NoticeKind.RECOVERED, name, reason="claiming resumed: the folder's share is back"))
        self.said = set(unmounted)

    def unseen(self, unmounted: Iterable[str]) -> frozenset[str]:
        """Folders whose outputs cannot be seen now (a share not mounted): their outputs' name
        records are not pruned (those outputs are out of sight, not taken away)."""
        return frozenset(self.unrecovered | set(unmounted))

    def reloaded(self, kept: set[str], gone: Iterable[str]) -> None:
        """A reload: of the folders not recovered yet, those it kept, and those whose share it
        found gone (a folder added again was made by the reload's prepare)."""
        self.unrecovered = (self.unrecovered & kept) | set(gone)
