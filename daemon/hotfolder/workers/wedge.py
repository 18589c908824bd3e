"""The wedge detector: from the workers' states, the queue and the times, what is hung or wedged.

Pure (no process, no clock: `now` is given), so each rule is unit-tested on plain values:

    hung       a worker busy on one file past file_timeout: killed, its file charged
    stalled    work waits and a worker is free, yet nothing was heard for WEDGE_AFTER: a
               worker killed in Queue.get() took the queue's read lock (or the mailbox's
               write lock) to its grave; the pool rebuilds queue, mailbox and workers
    unretired  draining, a free worker has not taken its sentinel after WEDGE_AFTER of
               silence: the same grave, met by the stop (sentinels are not jobs, so
               `stalled` never sees it); the pool kills those workers, which hold no file
    locks      a shared lock (a counter's, the mailbox's) not free twice in a row: held by
               a dead worker; the pool rebuilds
    working    workers alive and either ready or still booting (for the watchdog)

The pool (pool.py) probes the processes and the locks, and acts on the answers.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

WEDGE_AFTER = 2.0  # seconds without any message while work waits and a worker is free
BOOT_DEADLINE = 10.0  # a worker not ready by then is stuck (e.g. in its first message)
LOCK_MISSES = 2  # probes in a row (a second apart): a healthy holder may be descheduled once


class Worker(Protocol):
    """What the detector reads of a worker (pool.Slot)."""

    @property
    def ready(self) -> bool: ...  # said Ready
    @property
    def busy(self) -> bool: ...  # holds a job
    @property
    def since(self) -> float: ...  # start of its current job, or of its idling
    @property
    def spawned(self) -> float: ...
    @property
    def exited(self) -> bool: ...  # dead, not yet reaped
    @property
    def leaving(self) -> bool: ...  # took its sentinel (said Leaving)


class Queued(Protocol):
    """What the detector reads of a submitted job (pool.Entry)."""

    @property
    def queued_at(self) -> float: ...
    @property
    def started(self) -> bool: ...


W = TypeVar("W", bound=Worker)


def hung(workers: Iterable[W], now: float, file_timeout: float) -> list[W]:
    """The workers busy on one file for longer than file_timeout."""
    return [w for w in workers if w.busy and now - w.since > file_timeout]


def free(worker: Worker, now: float) -> bool:
    """Alive and able to take a job: ready and idle, or never ready past BOOT_DEADLINE
    (it may be stuck in its first message, which counts as free: it should have spoken)."""
    if worker.exited:
        return False  # a dead one is the reaper's
    return (worker.ready and not worker.busy) or (not worker.ready and now - worker.spawned > BOOT_DEADLINE)


def stalled(workers: Iterable[Worker], queued: Iterable[Queued], last_heard: float, now: float) -> bool:
    """Nothing heard for WEDGE_AFTER, while a job waits longer than that and a worker is free."""
    if now - last_heard < WEDGE_AFTER:
        return False
    waiting = any(not q.started and now - q.queued_at > WEDGE_AFTER for q in queued)
    return waiting and any(free(w, now) for w in workers)


def unretired(workers: Iterable[W], heard: float, now: float) -> list[W]:
    """Draining: the free workers that have not taken their sentinel although nothing was
    heard for WEDGE_AFTER (`heard`: the last message, or the drain's start if later). A free
    worker takes one and says so within milliseconds."""
    if now - heard < WEDGE_AFTER:
        return []
    return [w for w in workers if free(w, now) and not w.leaving]


def working(workers: Iterable[Worker], now: float) -> int:
    """Workers alive and either ready or still booting."""
    return sum(1 for w in workers if not w.exited and (w.ready or now - w.spawned < BOOT_DEADLINE))


@dataclass
class LockProbe:
    """A worker killed while holding a counter's lock or the mailbox's write lock would
    block every other worker; a healthy holder keeps it for microseconds. So a lock is
    held by the dead only when LOCK_MISSES probes in a row found it taken."""

    misses: int = 0

    def probed(self, free: bool) -> bool:
        """One probe's answer; True when the locks are wedged (rebuild)."""
        self.misses = 0 if free else self.misses + 1
        return self.misses >= LOCK_MISSES

    @property
    def clear(self) -> bool:
        return self.misses == 0
