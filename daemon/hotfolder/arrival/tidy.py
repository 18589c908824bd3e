"""The subfolders of an inbox that its claims emptied: removed once they have stayed empty
and untouched for the folder's `stalled_after`; never the inbox itself.

Why wait. A writer makes a folder, then its files (`cp -r`, rsync, a file manager, a card
reader's import); between two files the folder may be empty for a moment, and a folder
removed then fails the writer's next file (ENOENT). A writer that adds a file changes the
folder's mtime, and makes rmdir fail (ENOTEMPTY); one that pauses longer than
stalled_after is taken as done, as its files are. Only folders a claim emptied are
removed (one a writer made and has not filled yet is left alone), with each folder above
them, up to the inbox, that holds nothing else and is as old; never one the folder's
`keep_subfolders` names (a client's drop folder), nor any above it. Left: the instant between
the last look and the rmdir, for a writer that paused stalled_after and adds a file just
then. Everything goes by descriptor (nofollow): no link is followed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from hotfolder.spool import nofollow

MAX_NOTED = 2048  # folders remembered (as candidates are): past that, the oldest are forgotten


class EmptiedFolders:
    def __init__(self):
        self._noted: dict[Path, None] = {}  # folders a claim took a file from, oldest first

    def noted(self, folder: Path) -> None:
        self._noted.pop(folder, None)
        self._noted[folder] = None
        while len(self._noted) > MAX_NOTED:
            del self._noted[next(iter(self._noted))]

    def tidy(self, inbox: Path, quiet: float, keep: tuple[str, ...] = ()) -> int:
        """Remove what is due (about once a second); how many folders went. `keep`: globs of
        subfolders never removed (`keep_subfolders`)."""
        removed = 0
        now = time.time()
        for folder in list(self._noted):
            state = _state(folder, now, quiet)
            if state == "wait":
                continue
            del self._noted[folder]
            if state == "empty":
                chain = _unkept(inbox, _chain(inbox, folder, now, quiet), keep)
                if not chain:
                    continue
                gone = _remove_up_to(inbox, chain)
                removed += gone
                if gone == len(chain) and chain[-1].parent != inbox:
                    self.noted(chain[-1].parent)  # emptied by us, or not: looked at once it is as old
        return removed


def _unkept(inbox: Path, chain: list[Path], keep: tuple[str, ...]) -> list[Path]:
    """The part of `chain` (a folder, then those above it) below the first folder `keep` names."""
    if not keep:
        return chain
    from hotfolder.recipes.conditions import path_matches  # the globs of `when: subfolder:`

    for i, folder in enumerate(chain):
        rel = folder.relative_to(inbox).as_posix()
        if any(path_matches(glob, rel) for glob in keep):
            return chain[:i]
    return chain


def _state(folder: Path, now: float, quiet: float) -> str:
    """"empty" (and untouched for `quiet`), "wait" (empty, but changed lately) or "done" (gone,
    holding something, or unreachable: forgotten)."""
    try:
        with nofollow.opened(folder) as fd:
            st = os.fstat(fd)
            with os.scandir(fd) as entries:
                if next(entries, None) is not None:
                    return "done"
    except OSError:
        return "done"
    return "empty" if now - st.st_mtime >= quiet else "wait"


def _chain(inbox: Path, folder: Path, now: float, quiet: float) -> list[Path]:
    """`folder`, then each folder above it (below the inbox) that holds only the one below
    and has not changed for `quiet`: looked at before any is removed (a removal changes
    its parent's mtime)."""
    chain = [folder]
    while chain[-1].parent != inbox and chain[-1].parent.is_relative_to(inbox):
        parent = chain[-1].parent
        try:
            with nofollow.opened(parent) as fd:
                if now - os.fstat(fd).st_mtime < quiet or os.listdir(fd) != [chain[-1].name]:
                    break
        except OSError:
            break
        chain.append(parent)
    return chain


def _remove_up_to(inbox: Path, chain: list[Path]) -> int:
    removed = 0
    for folder in chain:
        if folder == inbox or not folder.is_relative_to(inbox):
            break
        try:
            with nofollow.opened(folder.parent) as parent:
                os.rmdir(folder.name, dir_fd=parent)  # fails if a writer put a file there meanwhile
        except OSError:
            break
        removed += 1
    return removed
