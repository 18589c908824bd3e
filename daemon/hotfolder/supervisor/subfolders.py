"""Output subfolders the daemon may not write: the files bound there wait, the others go on.

A studio's outputs fan out into subfolders (`{subdir}/…`, one a client). When one of them
is not writable by the daemon's user (made by another user, `chmod 555`), only the files
rendered into it fail: the output folder itself works. The output pause (gate.py) paused
every claim for it, and flapped: the next file of another client resumed claiming, the
next try of the blocked one paused it again, with a PAUSED and a RECOVERED notice each
time (an admin's report). Now the file goes back to the inbox, held there until its
subfolder's next try (1 s doubling to 60 s in an episode), said once an episode; any file
written into that subfolder ends the episode. A problem of the output folder itself (or of
its file system: a full disk) still pauses every claim.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hotfolder.backoff import Backoff
from hotfolder.config.model import Folder
from hotfolder.ops.notices import Hook, Notice, NoticeKind, ignore
from hotfolder.runtime import log
from hotfolder.shown import display

FIRST_TRY = 1.0  # seconds a held file waits first; then doubled
MAX_WAIT = 60.0
FORGET_AFTER = 2 * MAX_WAIT  # a hold no file came back to since its try was due: forgotten (the files went)
MAX_HELD = 1000  # subfolders remembered at once (each a few hundred bytes): memory stays bounded
MAX_FILES = 1000  # names of held files counted in one episode (past that: "1000 or more")


@dataclass
class Hold:
    reason: str
    since: float  # time.time(), for people
    until: float = 0.0  # time.monotonic() of the next try of its files
    backoff: Backoff = field(default_factory=lambda: Backoff(FIRST_TRY, MAX_WAIT))
    # The files given back in this episode (a file tried again is one file: its tries were
    # said as files, `files_held: 3` of one file) and how often files were given back
    files: set[str] = field(default_factory=set)
    tries: int = 0


class SubfolderHolds:
    """The output subfolders whose files wait, per (folder name, subfolder)."""

    def __init__(self, on_notice: Hook = ignore):
        self.on_notice = on_notice
        self.log = log.get("ledger")
        self.holds: dict[tuple[str, str], Hold] = {}

    def hold(self, folder: Folder, subfolder: str, reason: str, file: str, now: float) -> float:
        """A file could not be written into `subfolder` (relative to the output folder):
        until when it waits in the inbox. Said once per episode; the files given back
        while one waits wait as long, and a failed try after it waits twice as long."""
        key = (folder.name, subfolder)
        held = self.holds.get(key)
        if held is None:
            if len(self.holds) >= MAX_HELD:
                self.holds.pop(next(iter(self.holds)))  # the oldest: its files still wait their own turn
            held = self.holds[key] = Hold(reason, time.time())
            self.log.error("output_subfolder_unwritable", folder=folder.name, subfolder=display(subfolder),
                           file=file, reason=reason,
                           action="fix that subfolder's permissions or owner; the files rendered into it wait in "
                                  "the inbox and are tried again with backoff, the folder's other files go on")
            self.on_notice(Notice(NoticeKind.PAUSED, folder.name, file,
                                  f"files for the output subfolder {display(subfolder)} wait: {reason}"))
        if now >= held.until:
            held.until = now + held.backoff.failed()
        held.reason, held.tries = reason, held.tries + 1
        if len(held.files) < MAX_FILES:
            held.files.add(file)
        return held.until

    def written(self, folder_name: str, outputs: Iterable[str]) -> None:
        """A file's outputs (relative to the output folder) were written: the subfolders
        they went into work again."""
        if not self.holds:
            return
        for output in outputs:
            for parent in PurePosixPath(output).parents:
                held = self.holds.pop((folder_name, parent.as_posix()), None)
                if held is None:
                    continue
                self.log.info("output_subfolder_writable", folder=folder_name, subfolder=display(parent.as_posix()),
                              files_held=len(held.files), tries=held.tries, held_s=round(time.time() - held.since))
                self.on_notice(Notice(NoticeKind.RECOVERED, folder_name,
                                      reason=f"the output subfolder {display(parent.as_posix())} works again"))

    def by_folder(self, now: float) -> dict[str, int]:
        """Per folder name, its output subfolders whose files wait now."""
        self._forget_stale(now)
        counts: dict[str, int] = {}
        for name, _ in self.holds:
            counts[name] = counts.get(name, 0) + 1
        return counts

    def notes(self, now: float) -> str:
        self._forget_stale(now)
        return "; ".join(f"files for the output subfolder {display(sub)} of folder {name} wait: {held.reason} "
                         f"(tried again with backoff)" for (name, sub), held in self.holds.items())

    def _forget_stale(self, now: float) -> None:
        """A hold whose files never came back (removed, or a reload dropped the folder)."""
        for key, held in list(self.holds.items()):
            if now > held.until + FORGET_AFTER:
                del self.holds[key]
