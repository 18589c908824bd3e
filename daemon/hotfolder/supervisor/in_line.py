"""Claims kept in line in processing/: given back while running, but a newer drop of their
name waits in the inbox (ledger._keep_in_line), so each stays claimed and is submitted
again when its time comes: at the next turn, or at its output subfolder's next try
(ledger._hold_back). One per file of processing/ (its folder and path), in the order kept.
"""
from __future__ import annotations

from collections.abc import Callable

from hotfolder.jobs import Job


class InLine:
    def __init__(self) -> None:
        # (folder name, rel) -> the job and the time.monotonic() it waits for (0: none)
        self._kept: dict[tuple[str, str], tuple[Job, float]] = {}

    def keep(self, job: Job) -> None:
        self._kept[_key(job)] = (job, 0.0)

    def hold(self, job: Job, until: float) -> None:
        """`job`, if kept, waits until `until` (its output subfolder's next try)."""
        if (key := _key(job)) in self._kept:
            self._kept[key] = (self._kept[key][0], until)

    def release(self, folder: str, rel: str) -> None:
        """The file `rel` of `folder`, if kept, waits no more. A dict lookup: called once for
        every held file let go (each scanned the whole line before)."""
        if (kept := self._kept.get((folder, rel))) is not None:
            self._kept[(folder, rel)] = (kept[0], 0.0)

    def due(self, now: float, open_for: Callable[[str], bool], limit: int) -> list[Job]:
        """Up to `limit` jobs whose time has come and whose folder takes claims, taken out of
        the line in the order kept."""
        out: list[Job] = []
        for key, (job, until) in list(self._kept.items()):
            if len(out) >= limit:
                break
            if until <= now and open_for(job.folder.name):
                out.append(job)
                del self._kept[key]
        return out


def _key(job: Job) -> tuple[str, str]:
    return job.folder.name, job.rel
