"""Lock-guarded shared counters (per folder slot), and each worker's mark of what it counted.
"""
from __future__ import annotations

from hotfolder.errors import HotfolderError

LOCK_WAIT = 2.0  # seconds; a healthy holder keeps the lock for microseconds


VERDICTS = ("processed", "failed")


MAX_FOLDERS = 256  # distinct folder names one daemon can count (slots are never reused)


class LockStuck(HotfolderError):
    """A counter's lock could not be taken: its holder probably died with it."""


class Counter:
    """One count per folder slot in a shared Array, guarded by one Lock."""

    def __init__(self, ctx, initial=()):
        self.by_slot = ctx.Array("q", MAX_FOLDERS, lock=False)
        for slot, n in enumerate(initial):
            self.by_slot[slot] = n
        self.lock = ctx.Lock()

    def add(self, n: int = 1, mark=None, mark_value: int = 0, slot: int = 0) -> None:
        """Add n; set `mark` (a shared Value) under the same lock, so both or neither happen."""
        if not self.lock.acquire(timeout=LOCK_WAIT):
            raise LockStuck("counter lock not released within %.0f s" % LOCK_WAIT)
        try:
            self.by_slot[slot] += n
            if mark is not None:
                mark.value = mark_value
        finally:
            self.lock.release()

    def slots(self) -> list[int]:
        # A torn read is impossible for an aligned 64-bit value; no lock needed to look.
        return list(self.by_slot)

    def read(self) -> int:
        return sum(self.by_slot)

    def healthy(self, timeout: float = 0.5) -> bool:
        if not self.lock.acquire(timeout=timeout):
            return False
        self.lock.release()
        return True


class Counters:
    """The processed and failed counts (files, since start, per folder) shared by all workers."""

    def __init__(self, ctx, carried: "Counters | None" = None):
        """New counters; `carried`: old ones whose values go on (a rebuild replaces locks
        a dead worker may hold, not the counts)."""
        self.processed = Counter(ctx, carried.processed.slots() if carried else ())
        self.failed = Counter(ctx, carried.failed.slots() if carried else ())

    def count(self, verdict: str, already: str = "", mark=None, mark_value: int = 0, folder=None) -> None:
        """Count one file of `folder` as `verdict`, unless an earlier attempt counted it so
        already; an earlier attempt that counted the other verdict is taken back."""
        if verdict == already:
            return
        slot = _slot(folder)
        if already:
            getattr(self, already).add(-1, slot=slot)
        getattr(self, verdict).add(1, mark, mark_value, slot=slot)

    def uncount(self, already: str, folder=None) -> None:
        """A counted file goes back to the inbox (it will be counted when it ends)."""
        if already:
            getattr(self, already).add(-1, slot=_slot(folder))

    def healthy(self) -> bool:
        return self.processed.healthy() and self.failed.healthy()

    def snapshot(self) -> tuple[int, int]:
        return self.processed.read(), self.failed.read()

    def by_slot(self) -> tuple[tuple[int, int], ...]:
        """(processed, failed) of each folder slot."""
        return tuple(zip(self.processed.slots(), self.failed.slots()))


def _slot(folder) -> int:
    return folder.slot if folder is not None else 0


class FolderSlots:
    """Which slot of the shared counts each folder name has: given at first sight and
    kept for the life of the process, so a reload that removes a folder and brings it
    back continues its counts, and a new folder never inherits another's."""

    def __init__(self):
        self._slots: dict[str, int] = {}

    def assign(self, config):
        """The config, each folder carrying its slot. ConfigError when there is no slot left."""
        import dataclasses

        from hotfolder.config.model import ConfigError

        for i, folder in enumerate(config.folders):
            if folder.name not in self._slots:
                if len(self._slots) >= MAX_FOLDERS:
                    raise ConfigError(str(config.source), f"folders[{i}].name",
                                      f"this daemon has counted {MAX_FOLDERS} folder names since it started; "
                                      "restart it to use a new one")
                self._slots[folder.name] = len(self._slots)
        folders = tuple(dataclasses.replace(f, slot=self._slots[f.name]) for f in config.folders)
        return dataclasses.replace(config, folders=folders)

    def names(self) -> list[str]:
        """Every folder name given a slot, in slot order (including folders a reload removed)."""
        return sorted(self._slots, key=self._slots.__getitem__)


def verdict_of_mark(mark_value: int, job_id: int) -> str:
    """What a worker's mark says it counted for job `job_id` ("" if nothing)."""
    if mark_value == job_id:
        return "processed"
    if mark_value == -job_id:
        return "failed"
    return ""
