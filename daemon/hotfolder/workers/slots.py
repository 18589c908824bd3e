"""The pool's books: each worker's slot, and the jobs submitted and not yet ended.

A job is queued (submitted, not started), then held by a worker (its Starting was
read), then ends: Finished with the worker's Result, or Lost (its worker died or hung,
or the pool was rebuilt or is stopping). `Book` keeps that state and turns each change
into the backend's event; it starts, kills and reads no process (the pool does).
"""
from __future__ import annotations

import select
import time
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess

from hotfolder.backend import Finished, Lost, Started
from hotfolder.jobs import Job, Result
from hotfolder.workers.counters import SharedInt, verdict_of_mark


@dataclass
class Slot:
    """One worker process and the job it holds (a wedge.Worker)."""

    index: int
    process: BaseProcess
    mark: SharedInt  # the worker's shared Value: which job it counted last (see counters)
    ready: bool = False
    leaving: bool = False  # it took a sentinel (said so: Leaving): it retires, whatever its exit code
    job: Job | None = None
    since: float = field(default_factory=time.monotonic)  # start of the current job, or of idling
    spawned: float = field(default_factory=time.monotonic)

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def exited(self) -> bool:
        """Dead (and reaped: exitcode polls it). Its sentinel is polled first, with one
        poll(2): exitcode's own look builds a selector each time (~8 µs), and the loop
        asks this of every worker several times a turn, a turn a file in a burst."""
        if not _readable(self.process.sentinel):
            return False
        return self.process.exitcode is not None

    @property
    def pid(self) -> int:
        return self.process.pid or 0  # set once started, which every slot is

    def current(self, now: float) -> dict:
        """What the status says of this busy worker."""
        job = self.job
        assert job is not None, "only a busy worker has a current file"
        return {"pid": self.pid, "file": job.rel, "seconds": round(now - self.since, 1), "folder": job.folder.name}

    def counted(self, job: Job) -> Job:
        """The job, remembering whether this worker counted it before it died."""
        counted = verdict_of_mark(self.mark.value, job.id)
        return replace(job, counted=counted) if counted else job


@dataclass
class Entry:
    """A submitted job not yet ended (a wedge.Queued)."""

    job: Job
    queued_at: float = field(default_factory=time.monotonic)
    started: bool = False


class Book:
    """The jobs submitted and not yet ended, by job id, in submission order."""

    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, job: Job) -> None:
        self.entries[job.id] = Entry(job)

    def unstarted(self) -> int:
        return sum(1 for e in self.entries.values() if not e.started)

    def starting(self, slot: Slot, job_id: int, now: float) -> Started | None:
        """The worker took the job (None: a job we no longer wait for)."""
        entry = self.entries.get(job_id)
        slot.job, slot.since = (entry.job if entry else None), now
        if entry is None:
            return None
        entry.started = True
        return Started(entry.job, slot.pid)

    def done(self, slot: Slot, result: Result, now: float) -> Finished | None:
        slot.job, slot.since = None, now
        entry = self.entries.pop(result.job_id, None)
        return Finished(entry.job, result) if entry else None

    def declined(self, job_id: int) -> Lost | None:
        """Taken after the pool began to drain: not started, not charged."""
        entry = self.entries.pop(job_id, None)
        return Lost(entry.job, "the pool is stopping", charged=False) if entry else None

    def lose(self, slot: Slot, why: str, charged: bool) -> Lost | None:
        """The job a dead (or killed) worker held ends without a result."""
        job, slot.job = slot.job, None
        if job is None or self.entries.pop(job.id, None) is None:
            return None
        return Lost(slot.counted(job), why, charged)

    def hand_back(self, held: dict[int, Slot], why: str) -> list[Lost]:
        """Every job, lost not charged (the pool was rebuilt: killed by us, not by the file),
        in submission order; `held`: the slot that held each started job."""
        lost = []
        for entry in sorted(self.entries.values(), key=lambda e: e.job.id):
            holder = held.get(entry.job.id)
            lost.append(Lost(holder.counted(entry.job) if holder else entry.job, why, charged=False))
        self.entries.clear()
        return lost

    def clear(self) -> list[Job]:
        """Every job not ended (a cold stop)."""
        left = [e.job for e in self.entries.values()]
        self.entries.clear()
        return left


def _readable(fd: int) -> bool:
    """Whether a process's sentinel says it ended (readable: its status written, or EOF);
    True when it cannot be polled, so that exitcode decides."""
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
