"""Output subfolders the daemon may not write: the files bound there wait, the others go on.

A studio's outputs fan out into subfolders (`{subdir}/…`, one a client). When one of them
is not writable by the daemon's user (made by another user, `chmod 555`), only the files
rendered into it fail: the output folder itself works. The output pause (gate.py) paused
every claim for it, and flapped: the next file of another client resumed claiming, the
next try of the blocked one paused it again, with a PAUSED and a RECOVERED notice each
time (an admin's report). Now the file goes back to the inbox and waits there, said once
an episode. One file of the subfolder (the probe: the first, then the one that fails
again) is tried again after 1 s, doubling to 60 s; the others given back meanwhile wait
OTHERS_WAIT, so a client's backlog is not rendered again in full at every try (a
review: 1,000 files, 1,000 renders a minute). A file written into that subfolder ends the
episode, and the waiting files are let go at once (on_release). A problem of the output
folder itself (or of its file system: a full disk) still pauses every claim.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hotfolder.backoff import Backoff
from hotfolder.config.model import Folder
from hotfolder.ops.notices import Hook, Notice, NoticeKind, ignore
from hotfolder.runtime import log
from hotfolder.shown import display

FIRST_TRY = 1.0  # seconds a held file waits first; then doubled
MAX_WAIT = 60.0
OTHERS_WAIT = 600.0  # seconds the files besides the probe wait (let go at once when the probe is written)
FORGET_AFTER = 2 * MAX_WAIT  # a hold whose probe never came back since its try was due: forgotten (the file went)
MAX_HELD = 100  # subfolders remembered at once, each with up to 2 × MAX_FILES names: a few MB at most
MAX_FILES = 1000  # names of held files counted in one episode (past that: "1000 or more")


@dataclass
class Hold:
    folder: Folder
    reason: str
    since: float  # time.time(), for people
    until: float = 0.0  # time.monotonic() of the next try of its files
    backoff: Backoff = field(default_factory=lambda: Backoff(FIRST_TRY, MAX_WAIT))
    # The files given back in this episode (a file tried again is one file: its tries were
    # said as files, `files_held: 3` of one file) and how often files were given back
    files: set[str] = field(default_factory=set)
    tries: int = 0
    waiting: dict[str, None] = field(default_factory=dict)  # the files besides the probe (inbox paths), in order


class SubfolderHolds:
    """The output subfolders whose files wait, per (folder name, subfolder). `on_release`
    (folder, rel): a waiting file may be taken again now (set by the ledger)."""

    def __init__(self, on_notice: Hook = ignore):
        self.on_notice = on_notice
        self.on_release: Callable[[Folder, str], None] = lambda folder, rel: None
        self.log = log.get("ledger")
        self.holds: dict[tuple[str, str], Hold] = {}

    def hold(self, folder: Folder, subfolder: str, reason: str, rel: str, now: float) -> float:
        """The file `rel` (its path under the inbox) could not be written into `subfolder`
        (relative to the output folder): until when it waits in the inbox. Said once an
        episode. The first file, or one whose try after its wait failed, probes the next try
        (1 s, doubled each time, at most MAX_WAIT); the others wait OTHERS_WAIT, or until the
        subfolder works again."""
        key = (folder.name, subfolder)
        held = self.holds.get(key)
        file = display(rel)
        if held is None:
            if len(self.holds) >= MAX_HELD:
                self._forget(next(iter(self.holds)), "more output subfolders wait than are remembered")
            held = self.holds[key] = Hold(folder, reason, time.time())
            self.log.error("output_subfolder_unwritable", folder=folder.name, subfolder=display(subfolder),
                           file=file, reason=reason,
                           action="fix that subfolder's permissions or owner; the files rendered into it wait in "
                                  "the inbox (one tried again with backoff, the others once it is written), the "
                                  "folder's other files go on")
            self.on_notice(Notice(NoticeKind.PAUSED, folder.name, file,
                                  f"files for the output subfolder {display(subfolder)} wait: {reason}"))
        held.reason, held.tries = reason, held.tries + 1
        if len(held.files) < MAX_FILES:
            held.files.add(file)
        if now >= held.until:  # the probe: the first of an episode, or a try after its wait that failed
            held.until = now + held.backoff.failed()
            held.waiting.pop(rel, None)
            return held.until
        if len(held.waiting) < MAX_FILES:
            held.waiting[rel] = None
        return now + OTHERS_WAIT

    def written(self, folder_name: str, outputs: Iterable[str]) -> None:
        """A file's outputs (relative to the output folder) were written: the subfolders
        they went into work again, and their waiting files are let go."""
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
                self._let_go(held)

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
        """A hold whose probe never came back (removed, or a reload dropped the folder)."""
        for key, held in list(self.holds.items()):
            if now > held.until + FORGET_AFTER:
                self._forget(key, "no file tried it since its try was due (removed from the inbox, or its folder "
                                  "left the config)")

    def _forget(self, key: tuple[str, str], why: str) -> None:
        """Said, its PAUSED notice ended, its waiting files let go (one of them probes anew)."""
        held = self.holds.pop(key)
        self.log.info("output_subfolder_forgotten", folder=key[0], subfolder=display(key[1]), reason=why,
                      files_waiting=len(held.waiting))
        self.on_notice(Notice(NoticeKind.RECOVERED, key[0], reason=f"the output subfolder {display(key[1])} is no "
                                                                   f"longer waited for: {why}"))
        self._let_go(held)

    def _let_go(self, held: Hold) -> None:
        for rel in held.waiting:
            self.on_release(held.folder, rel)
