"""The files a crash left in processing/ (or a folder a reload adds holds there): ours
again, found by a lazy walk (a large processing/ costs no memory), rendered first.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.spool import moves, recovery


class Adoption:
    def __init__(self, log):
        self.log = log
        self._walks: list[Iterator[moves.Claimed]] = []

    def __bool__(self) -> bool:
        return bool(self._walks)

    def recover(self, folder: Folder, running: bool) -> recovery.Recovery:
        """Put right what a crash left in `folder` (spool.recover) and adopt its files in
        processing/. `running`: a folder a reload adds while files render: nothing is
        cleaned (a temp output may be one being written now, under another name for the
        same folders), and only files no job holds are adopted (`next`'s `held`)."""
        if running:
            self._walks.append(recovery.claimed_files(folder))
            return recovery.Recovery()
        found = recovery.recover(folder)
        for problem in found.problems:
            self.log.warning("recovery_problem", folder=folder.name, reason=problem,
                             action="skipped; the rest is served")
        self.log.info("recovered", folder=folder.name, in_processing=found.in_processing,
                      temp_removed=found.temp_removed, sidecars_finished=found.sidecars_finished)
        if found.in_processing:
            self._walks.append(recovery.claimed_files(folder))
        return found

    def next(self, held: set[Path]) -> moves.Claimed | None:
        """The next adopted file not in `held` (in flight already: a reload renamed or
        re-added its folder), or None when every walk is done."""
        while self._walks:
            claimed = next(self._walks[0], None)
            if claimed is None:
                self._walks.pop(0)
            elif claimed.path not in held:
                return claimed
        return None
