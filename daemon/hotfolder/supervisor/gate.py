"""The claim gate: whether the service may claim now, and what the status says when not.

    output pause   the output folder is unusable (disk full, permissions): the ledger gave
                   a file back, and claiming pauses for every folder, 1 s doubling to
                   MAX_PAUSE per episode, until a file is done again
    recipe pauses  a folder whose recipe cannot be used (recipe.py): that folder only,
                   re-checked with backoff until it works
    subfolders     an output subfolder the daemon may not write (subfolders.py): the files
                   rendered into it wait in the inbox, the folder's others go on
    stuck files    an original that cannot leave processing/ (immutable, its permissions
                   changed): tried again with backoff, rendered once back in the inbox
    untakeable     inbox files the daemon cannot take (it may not move them, a mount inside
                   the inbox, not a regular file): said once each, and in the status and
                   /metrics (per folder and kind) while they are there

The ledger tells the gate what it met while settling files; the service asks it before
claiming, lets it look again once a second (`look_again`), and shows its notes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from hotfolder.backoff import Backoff
from hotfolder.config.model import Folder
from hotfolder.ops.notices import Hook, ignore
from hotfolder.runtime import log
from hotfolder.spool import fsnames, moves
from hotfolder.supervisor.recipe import RecipePauses
from hotfolder.supervisor.subfolders import SubfolderHolds

MAX_PAUSE = 60.0  # seconds: the longest claim backoff while the output folder is unusable
MAX_STUCK_WAIT = 60.0  # seconds between tries to move a file stuck in processing/
OTHER_FS = "file_on_another_file_system"
MAX_REMEMBERED = 1000  # unclaimable files remembered, so each is said once (memory stays bounded)
# Why an inbox file cannot be taken, in a word (a /metrics label: a few values, never a path).
PERMISSION, ON_OTHER_FS, NOT_A_FILE = "permission", "other_file_system", "not_a_file"
UNTAKEABLE_KINDS = (PERMISSION, ON_OTHER_FS, NOT_A_FILE)


@dataclass(frozen=True)
class Untakeable:
    """An inbox file the daemon cannot take: its folder, why in a word (UNTAKEABLE_KINDS), and said."""

    folder: str
    kind: str
    reason: str


@dataclass
class Stuck:
    folder: Folder
    claimed: moves.Claimed
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, MAX_STUCK_WAIT))
    due: float = 0.0  # time.monotonic() of the next try


class ClaimGate:
    def __init__(self, on_notice: Hook = ignore):
        self.log = log.get("ledger")
        self.recipes = RecipePauses(on_notice)  # folders paused for their recipe (watermark, profile)
        self.subfolders = SubfolderHolds(on_notice)  # output subfolders whose files wait
        self.pause_until = 0.0
        self.pause_backoff = Backoff(1.0, MAX_PAUSE)
        self.message = ""  # why claiming is paused, for the status
        self.stuck: dict[Path, Stuck] = {}
        # Inbox files the daemon cannot take, each said once, until they are taken or gone.
        self.untakeable: dict[Path, Untakeable] = {}

    # ------------------------------------------------------------------ asked by the service
    def paused(self, now: float) -> bool:
        """Claiming is paused for every folder (the output pause)."""
        return now < self.pause_until

    def open_for(self, folder_name: str) -> bool:
        """The folder's recipe works (as far as we know): its files may be claimed."""
        return not self.recipes.paused(folder_name)

    def closed_anywhere(self, now: float) -> bool:
        """Claiming is paused for all folders or for some (the status's claiming_paused)."""
        return self.paused(now) or bool(self.recipes.pauses)

    def look_again(self, folders: tuple[Folder, ...], now: float) -> None:
        """Once a second: the stuck files and the paused recipes whose try is due."""
        self.retry_stuck(now)
        self.recipes.recheck(folders, now)

    @property
    def on_other_fs(self) -> set[Path]:
        return {p for p, u in self.untakeable.items() if u.kind == ON_OTHER_FS}

    def notes(self) -> str:
        """What the status should say besides a pause of all claims: folders paused for
        their recipe, files an inbox cannot give up."""
        self._forget_gone()
        left = sorted(self.on_other_fs)
        mounted = (f"{len(left)} file(s) in an inbox are on another file system (e.g. {fsnames.display(str(left[0]))}) "
                   "and cannot be taken: copy them in instead of mounting inside the inbox") if left else ""
        others = [(p, u.reason) for p, u in self.untakeable.items() if u.kind != ON_OTHER_FS]
        stuck = (f"{len(others)} file(s) in an inbox cannot be taken (e.g. {fsnames.display(str(others[0][0]))}: "
                 f"{others[0][1]})") if others else ""
        held = self.subfolders.notes(time.monotonic())
        return "; ".join(n for n in (self.recipes.notes(), held, mounted, stuck) if n)

    def untakeable_by_folder(self) -> dict[str, dict[str, int]]:
        """Per folder name, the inbox files it cannot take now by kind (every kind, 0 when
        none): the status's and /metrics' count, which the log alone had (a `chmod 555` inbox
        was invisible to alerts: an admin's report)."""
        self._forget_gone()
        counts: dict[str, dict[str, int]] = {}
        for u in self.untakeable.values():
            kinds = counts.setdefault(u.folder, dict.fromkeys(UNTAKEABLE_KINDS, 0))
            kinds[u.kind] += 1
        return counts

    def _forget_gone(self) -> None:
        """A file taken (its folder writable again) or removed is no longer one that cannot be."""
        self.untakeable = {p: u for p, u in self.untakeable.items() if os.path.lexists(p)}

    # ------------------------------------------------------------------ told by the ledger
    def pause(self, now: float, reason: str) -> bool:
        """The output folder failed a file: claiming pauses. True when this starts a new
        episode (one doubling per episode, not per file given back meanwhile)."""
        self.message = f"claiming paused: {reason}"
        if now < self.pause_until:
            return False
        self.pause_until = now + self.pause_backoff.failed()
        return True

    def resume(self) -> bool:
        """A file was done: the output works. True when claiming had been paused for it."""
        if not self.pause_backoff.failing:
            return False
        self.pause_backoff.reset()
        self.message = ""
        return True

    def stuck_in_processing(self, folder: Folder, claimed: moves.Claimed, exc: OSError) -> None:
        """An original that could not go back to the inbox: said once, tried again with backoff."""
        first = claimed.path not in self.stuck
        entry = self.stuck[claimed.path] = Stuck(folder, claimed)
        entry.due = time.monotonic() + entry.backoff.failed()
        if first:
            self.log.error("file_stuck", folder=folder.name, file=fsnames.display(claimed.rel),
                           reason=f"it cannot be moved out of processing/: {exc.strerror or exc}",
                           action="fix its permissions or attributes (lsattr, chattr -i); it is tried again "
                                  "with backoff, and rendered again once it is back in the inbox")

    def retry_stuck(self, now: float) -> None:
        """Try again to move stuck files back to the inbox (they are rendered from there)."""
        for path, entry in list(self.stuck.items()):
            if now < entry.due:
                continue
            try:
                moves.unclaim(entry.folder, entry.claimed)
            except OSError:
                entry.due = now + entry.backoff.failed()
                continue
            del self.stuck[path]
            self.log.info("file_unstuck", folder=entry.folder.name, file=fsnames.display(entry.claimed.rel),
                          action="back in the inbox")

    def cannot_take(self, folder: Folder, path: Path, reason: str, kind: str, event: str = "claim_failed",
                    **said) -> None:
        """An inbox file the daemon cannot take (an immutable file, a folder it may not
        write, a FIFO, a mount), `kind` one of UNTAKEABLE_KINDS: said once per file, and in
        the status while it is there (an attack round: a bare "Operation not permitted", and
        nothing in the status). Tried again meanwhile."""
        if path in self.untakeable or len(self.untakeable) >= MAX_REMEMBERED:
            return  # said already (past MAX_REMEMBERED such files, the status's count says the rest)
        self.untakeable[path] = Untakeable(folder.name, kind, reason)
        self.log.error(event, folder=folder.name, file=fsnames.display(str(path)), reason=reason, **said)

    def unclaimable(self, folder: Folder, path: Path) -> None:
        """A file on a file system mounted inside the inbox cannot be claimed by rename
        (nor moved to failed/)."""
        self.cannot_take(folder, path, "it is on another file system than the inbox (a mount inside it): it cannot "
                                       "be taken by rename", ON_OTHER_FS, OTHER_FS,
                         action="copy it into the inbox instead of mounting there")
