"""Files cut short whose writer may go on: taken again as one file, never kept as pieces.

A writer that closes between chunks (FTP resume, `cat >>` loops, some NAS clients) and
pauses longer than the quiet period, or one that holds a file open and pauses longer than
stalled_after, leaves a file that fails as truncated (Result.cut_short) and then grows.

    held     the file goes back to the inbox, where its writer's next chunk lands; the inbox
             takes it again once it changed and is quiet (Inbox.hold), or after
             stalled_after unchanged. Rendered cut short again as it was given back (size,
             mtime, inode), it fails: its writer is done
    awaiting its writer opened the name again while the file was claimed: a new file of its
             name, the next piece, is in the inbox, and the claimed one cannot go back. When
             the piece is ready it is appended to the claimed file (spool/pieces.py), which
             is rendered again as one. A piece that is a whole file (it starts as an image:
             an FTP client that found nothing to resume uploads from the start) replaces
             the claimed one if it begins with all of its bytes; else the claimed file fails
    watched  a file failed cut short is watched in failed/ for WATCH_FOR: if it grows there
             (its writer held it open all along and went on later), it is requeued by itself

Local mode only: in cluster mode the nodes settle files, and a cut-short file fails there.
What this remembers is lost with the process; after a restart a held file is held afresh,
and a failed one is no longer watched (it stays in failed/: `hotfolder requeue`).
"""
from __future__ import annotations

import enum
import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.runtime import log
from hotfolder.spool import fsnames, moves, nofollow, pieces
from hotfolder.spool.failed_files import FailedIndex

MAX_HELD = 10_000  # files given back cut short, remembered (~200 bytes each); past that they fail at once
MAX_WATCHED = 1_000  # failed files watched for growth: an lstat each a second (~1 ms for all)
WATCH_FOR = 86_400.0  # seconds a file failed cut short is watched in failed/

Identity = tuple[int, int, int]  # size, mtime_ns, inode


def identity(path: Path) -> Identity | None:
    try:
        st = os.lstat(path)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            return None
        try:
            st = nofollow.lstat(path)
        except OSError:
            return None
    return st.st_size, st.st_mtime_ns, st.st_ino


class Kept(enum.Enum):
    NO = "no"  # it fails as truncated
    GIVEN_BACK = "given back"  # in the inbox, held
    AWAITING = "awaiting"  # in processing/, waiting for the next piece of its name


class Joined(enum.Enum):
    APPENDED = "appended"  # render the claimed file again, now longer
    REPLACED = "replaced"  # the piece is a whole upload with all its bytes: the claimed file is gone
    SUPERSEDED = "superseded"  # the piece is a whole upload of other bytes: the claimed file fails
    NOT_NOW = "not now"  # it could not be joined (an error, said): it waits for the piece still


@dataclass(frozen=True)
class Held:
    seen: Identity
    until: float  # monotonic: forgotten after this (the file left the inbox some other way)


@dataclass(frozen=True)
class Watched:
    folder: Folder
    seen: Identity
    until: float  # monotonic


class Unfinished:
    def __init__(self, on_hold: Callable[[Folder, str, float], None], failed: FailedIndex):
        self.on_hold = on_hold  # the inbox holds a file given back (the service's Inbox.hold)
        self.failed = failed
        self.log = log.get("ledger")
        self.held: dict[tuple[str, str], Held] = {}
        self.awaiting: dict[tuple[str, str], tuple[Folder, int]] = {}  # -> the claimed file's folder, job id
        self.watched: dict[Path, Watched] = {}

    # ------------------------------------------------------------------ after a result
    def give_back(self, folder: Folder, claimed: moves.Claimed, job_id: int, reason: str) -> Kept:
        """A claimed file failed cut short: back to the inbox to grow, kept in processing/
        for the piece its writer began meanwhile, or NO (it fails) when it did not grow
        since it was last given back, or too many are held."""
        key = (folder.name, claimed.rel)
        now_is = identity(claimed.path)
        before = self.held.pop(key, None)
        if now_is is None or (before is not None and before.seen == now_is) or len(self.held) >= MAX_HELD:
            return Kept.NO
        try:
            moves.unclaim(folder, claimed)
        except moves.NameTaken:
            self.await_piece(folder, claimed.rel, job_id)
            self._said(folder, claimed.rel, reason, "its writer began the next piece in the inbox: joined onto "
                                                    "this one once that is ready, and rendered as one file")
            return Kept.AWAITING
        except OSError:
            return Kept.NO  # it cannot leave processing/: it fails where it is, with its reason
        until = time.monotonic() + folder.stalled_after
        self.held[key] = Held(now_is, until + folder.stalled_after)
        self.on_hold(folder, claimed.rel, until)
        self._said(folder, claimed.rel, reason, f"given back to the inbox: taken again when it grows, failed as "
                                                f"truncated if it does not within {folder.stalled_after:g} s "
                                                f"(stalled_after)")
        return Kept.GIVEN_BACK

    def _said(self, folder: Folder, rel: str, reason: str, action: str) -> None:
        self.log.info("file_cut_short", folder=folder.name, file=fsnames.display(rel), reason=reason, action=action)

    def ended(self, folder: Folder, rel: str) -> None:
        """The file reached an end some other way (done, or failed for another reason)."""
        self.held.pop((folder.name, rel), None)

    # ------------------------------------------------------------------ pieces
    def await_piece(self, folder: Folder, rel: str, job_id: int) -> None:
        self.awaiting[(folder.name, rel)] = (folder, job_id)

    def awaited(self, folder: Folder, path: Path) -> int | None:
        """The job id of the claimed file the inbox file at `path` is the next piece of."""
        if not self.awaiting:
            return None
        rel = path.relative_to(folder.inbox).as_posix()
        found = self.awaiting.pop((folder.name, rel), None)
        return found[1] if found else None

    def join(self, folder: Folder, claimed: moves.Claimed, piece: Path) -> Joined:
        """Join the ready inbox file `piece` onto the claimed file awaiting it."""
        shown = fsnames.display(claimed.rel)
        try:
            if pieces.starts_as_image(piece):
                if not pieces.begins_with(piece, claimed.path):
                    return Joined.SUPERSEDED
                pieces.drop(claimed)
                self.log.info("file_cut_short_replaced", folder=folder.name, file=shown,
                              action="a whole upload of its name holds all its bytes: it is taken instead")
                return Joined.REPLACED
            added = pieces.append(folder, claimed, piece)
        except pieces.PieceDiffers as exc:  # another file of its name, written at its offsets
            self.log.warning("file_piece_differs", folder=folder.name, file=shown, reason=str(exc),
                             action="the taken part fails, kept; the new file is taken as its own")
            return Joined.SUPERSEDED
        except OSError as exc:
            self.log.warning("file_piece_not_joined", folder=folder.name, file=shown, reason=str(exc),
                             action="tried again when the piece is offered again")
            return Joined.NOT_NOW
        self.log.info("file_piece_joined", folder=folder.name, file=shown, bytes=added,
                      action="rendered again as one file")
        return Joined.APPENDED

    def orphans(self) -> list[tuple[Folder, str, int]]:
        """Claimed files awaiting a piece that left the inbox (deleted): (folder, rel, job id)
        each, forgotten here; the ledger gives them back as they are."""
        gone = [(folder, rel, job) for (_, rel), (folder, job) in self.awaiting.items()
                if identity(folder.inbox / rel) is None]
        for folder, rel, _ in gone:
            del self.awaiting[(folder.name, rel)]
        return gone

    # ------------------------------------------------------------------ failed/
    def watch(self, folder: Folder, path: Path, seen: Identity) -> None:
        """A file failed cut short, now at `path` in failed/: requeued if it grows there.
        `seen`: what it was before it moved there (its identity taken after the move missed
        a writer that went on as soon as the failure showed: the grown file was its 'as failed')."""
        while len(self.watched) >= MAX_WATCHED:
            del self.watched[next(iter(self.watched))]  # the oldest
        self.watched[path] = Watched(folder, seen, time.monotonic() + WATCH_FOR)

    def look(self, now: float) -> None:
        """About once a second: requeue the watched files that grew; forget what is old."""
        self.held = {k: h for k, h in self.held.items() if now < h.until}
        for path, w in list(self.watched.items()):
            seen = identity(path)
            if seen == w.seen and now < w.until:
                continue
            del self.watched[path]
            if seen is not None and seen[2] == w.seen[2] and seen != w.seen:  # the same file, grown
                self._requeue(w.folder, path)

    def _requeue(self, folder: Folder, path: Path) -> None:
        before = self.failed.stamp(folder)
        try:
            dst = moves.requeue(folder, path)
        except (OSError, moves.UnsafeRecord) as exc:
            self.log.warning("requeue_failed", folder=folder.name, file=fsnames.display(str(path)), reason=str(exc))
            return
        self.failed.removed(folder, path, before)
        self.log.info("requeued", folder=folder.name, file=fsnames.display(str(dst.relative_to(folder.inbox))),
                      inbox=fsnames.display(str(dst)), by="grown",
                      reason="it failed cut short and grew in failed/ since: its writer went on")
