"""Lock-guarded shared counters (per folder slot), and each worker's mark of what it counted.
"""
from __future__ import annotations

from typing import Protocol

from hotfolder.backend import MAX_FOLDERS
from hotfolder.config.model import Folder
from hotfolder.errors import HotfolderError
from hotfolder.jobs import Verdict

LOCK_WAIT = 2.0  # seconds; a healthy holder keeps the lock for microseconds


class SharedInt(Protocol):
    """A lock-free shared integer (`ctx.Value(code, 0, lock=False)`): a worker's mark, the stop flag."""

    value: int


class LockStuck(HotfolderError):
    """A counter's lock could not be taken: its holder probably died with it."""


class Counter:
    """One count per folder slot in a shared Array, guarded by one Lock."""

    def __init__(self, ctx, initial=()):
        self.by_slot = ctx.Array("q", MAX_FOLDERS, lock=False)
        for slot, n in enumerate(initial):
            self.by_slot[slot] = n
        self.lock = ctx.Lock()

    def add(self, n: int = 1, mark: SharedInt | None = None, mark_value: int = 0, slot: int = 0) -> None:
        """Add n; set `mark` (a shared Value) under the same lock, so both or neither happen."""
        if not self.lock.acquire(timeout=LOCK_WAIT):
            raise LockStuck(f"counter lock not released within {LOCK_WAIT:.0f} s")
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

    def __init__(self, ctx, carried: Counters | None = None):
        """New counters; `carried`: old ones whose values go on (a rebuild replaces locks
        a dead worker may hold, not the counts)."""
        self.processed: Counter = Counter(ctx, carried.processed.slots() if carried else ())
        self.failed: Counter = Counter(ctx, carried.failed.slots() if carried else ())

    def of(self, verdict: Verdict) -> Counter:
        return self.processed if verdict == Verdict.PROCESSED else self.failed

    def count(self, verdict: Verdict, already: Verdict | None = None, mark: SharedInt | None = None,
              mark_value: int = 0, folder: Folder | None = None) -> None:
        """Count one file of `folder` as `verdict`, unless an earlier attempt counted it so
        already; an earlier attempt that counted the other verdict is taken back."""
        if verdict == already:
            return
        slot = _slot(folder)
        if already:
            self.of(already).add(-1, slot=slot)
        self.of(verdict).add(1, mark, mark_value, slot=slot)

    def uncount(self, already: Verdict | None, folder: Folder | None = None) -> None:
        """A counted file goes back to the inbox (it will be counted when it ends)."""
        if already:
            self.of(already).add(-1, slot=_slot(folder))

    def healthy(self) -> bool:
        return self.processed.healthy() and self.failed.healthy()

    def snapshot(self) -> tuple[int, int]:
        return self.processed.read(), self.failed.read()

    def by_slot(self) -> tuple[tuple[int, int], ...]:
        """(processed, failed) of each folder slot."""
        return tuple(zip(self.processed.slots(), self.failed.slots(), strict=True))


def _slot(folder: Folder | None) -> int:
    return folder.slot if folder is not None else 0


def verdict_of_mark(mark_value: int, job_id: int) -> Verdict | None:
    """What a worker's mark says it counted for job `job_id` (None if nothing)."""
    if mark_value == job_id:
        return Verdict.PROCESSED
    if mark_value == -job_id:
        return Verdict.FAILED
    return None


class Owed:
    """Counts a stuck counter lock refused (its holder died with it): kept here, and paid
    into the counters once the lock is seen free or the counters are rebuilt, so every
    file is still counted exactly once."""

    def __init__(self):
        self._owed: list[tuple[Verdict | None, Verdict | None, Folder | None]] = []  # verdict None: an uncount

    def __bool__(self) -> bool:
        return bool(self._owed)

    def owe(self, verdict: Verdict | None, already: Verdict | None, folder: Folder | None) -> None:
        """A count nobody could make yet (a worker's refused one); verdict None: an uncount."""
        self._owed.append((verdict, already, folder))

    def count(self, counters: Counters, verdict: Verdict, already: Verdict | None, folder: Folder | None) -> bool:
        """Count now, or owe it; False when the lock is stuck (the counters need rebuilding)."""
        try:
            counters.count(verdict, already, folder=folder)
        except LockStuck:
            self.owe(verdict, already, folder)
            return False
        return True

    def uncount(self, counters: Counters, already: Verdict | None, folder: Folder | None) -> None:
        try:
            counters.uncount(already, folder)
        except LockStuck:
            self.owe(None, already, folder)

    def pay(self, counters: Counters) -> None:
        owed, self._owed = self._owed, []
        for verdict, already, folder in owed:
            if verdict is not None:
                counters.count(verdict, already, folder=folder)
            else:
                counters.uncount(already, folder)
