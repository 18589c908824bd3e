"""LocalPool: the fixed set of worker processes on this machine.

The textbook shape, kept visible:

    tasks = ctx.Queue(maxsize=...)        # claimed files go in as Jobs
    workers = [ctx.Process(target=consume, args=(slot, tasks, results, counters, ...))]
    counters = Counters(ctx)              # Lock-guarded multiprocessing.Value's
    ... tasks.put(None) once per worker   # the sentinel: retire, or drain and stop

Around it, what makes it survive (after gunicorn's arbiter and rq's worker pool):
each turn of `poll()` reads the workers' messages, reaps dead workers, kills hung
ones, notices a queue or lock wedged by a worker that died holding it and rebuilds
queue, mailbox, counters and workers, and recomputes the pool toward its target
size (`_manage`), instead of tracking spawns and retirements by hand.

The pool knows jobs, not files: what happens to an original is the ledger's
business. It reports what happened to each job as events: `Started`, `Finished`
(with the worker's Result) and `Lost` (the worker died or hung: `charged`, an
attempt of the file's own; or we rebuilt or stopped the pool: not charged).
This is the only code that starts processes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import time
from dataclasses import dataclass, field, replace

from hotfolder.backend import BackendStatus, Event, Finished, Lost, Started
from hotfolder.config.model import MAX_QUEUE_SIZE
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.jobs import Job
from hotfolder.runtime import log
from hotfolder.workers.counters import Counters, LockStuck, verdict_of_mark
from hotfolder.workers.mailbox import Broken, Mailbox
from hotfolder.workers.worker import consume

# Never fork the main process: it runs watchdog threads. A forkserver is a clean,
# single-threaded process started once; it forks workers with Pillow already
# imported, so a dead worker is replaced in tens of milliseconds.
START_METHOD = "forkserver"
PRELOAD = ["hotfolder.workers.worker", "hotfolder.engine.pipeline", "PIL.Image", "PIL.JpegImagePlugin",
           "rawpy"]  # LibRaw and numpy: ~80 ms to import, once here rather than in each worker (engine/raw)
WEDGE_AFTER = 2.0  # seconds without any message while work waits and a worker is free
BOOT_DEADLINE = 10.0  # a worker not ready by then is stuck (e.g. in its first message)
HEALTH_EVERY = 1.0  # seconds between probes of the shared locks
MAX_BOOT_FAILURES = 5  # workers failing before they are ready: stop, don't flap


class BootFailure(HotfolderError):
    """Workers die before they are ready: a broken install, not a bad file."""

    exit_code = ExitCode.BOOT_FAILURE


@dataclass
class Slot:
    """One worker process and the job it holds."""

    index: int
    process: mp.process.BaseProcess
    mark: object  # the worker's shared Value: which job it counted last (see stats)
    ready: bool = False
    job: Job | None = None
    since: float = field(default_factory=time.monotonic)  # start of the current job, or of idling
    spawned: float = field(default_factory=time.monotonic)


@dataclass
class _Entry:
    job: Job
    queued_at: float = field(default_factory=time.monotonic)
    started: bool = False


@dataclass(frozen=True)
class Busy:
    pid: int
    job: Job
    seconds: float


# The resource tracker (the process multiprocessing starts to unlink named semaphores a
# crash leaves behind) sometimes ends with "There appear to be 1 leaked semaphore
# objects", then "'/mp-…': No such file or directory": the semaphore was unlinked, only
# its unregister never reached the tracker's books (1 in 70 runs of `hotfolder process`
# under load; the cause is in CPython, not found). The tracker takes its warning filters
# from this process's -W options when it starts, so they are set before it does: people
# and journals see our lines, not the interpreter's bookkeeping. Its cleanup still runs.
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def _quiet_resource_tracker() -> None:
    if TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNINGS)


class LocalPool:
    claims_survive_restart = False  # our workers die with us: their claims go back

    def __init__(self, workers: int, queue_bound: int, file_timeout: float,
                 log_format: str = "json", log_level: str = "info"):
        self.target = workers
        self.queue_bound = queue_bound
        self.file_timeout = file_timeout
        self.log_format, self.log_level = log_format, log_level
        self.log = log.get("pool")
        _quiet_resource_tracker()  # before the first semaphore starts the tracker
        self.ctx = mp.get_context(START_METHOD)
        self.ctx.set_forkserver_preload(PRELOAD)
        self.counters = Counters(self.ctx)
        self.tasks = None
        self.results: Mailbox | None = None
        self.stopping = None  # shared flag: workers decline jobs once it is set
        self.slots: dict[int, Slot] = {}
        self.jobs: dict[int, _Entry] = {}  # submitted and not yet ended
        self.retiring = 0  # sentinels in the queue not yet taken
        self.draining = False
        self.boot_failures = 0
        self.last_progress = time.monotonic()
        self._events: list[Event] = []
        self._uncounted: list[tuple] = []  # (verdict, already, folder) a stuck counter lock refused
        self._lock_misses = 0
        self._next_health = 0.0
        self._dying: list = []  # killed hung workers not yet reaped by the kernel

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self._open_queues()
        self._manage()

    def _open_queues(self) -> None:
        # Bounded: the service submits at most queue_bound unstarted jobs (`room`); the
        # slack is for sentinels and for the jobs a rebuild submits again. Sized for the
        # largest queue_size a config allows, so a reload can raise it on this queue.
        self.tasks = self.ctx.Queue(maxsize=max(self.queue_bound, MAX_QUEUE_SIZE) + 1024)
        self.results = Mailbox(self.ctx)
        self.stopping = self.ctx.Value("b", 1 if self.draining else 0, lock=False)

    def _close_queues(self) -> None:
        if self.tasks is not None:
            self.tasks.cancel_join_thread()  # never block on jobs no worker will read
            self.tasks.close()
            self.results.close()
        self.tasks = self.results = None

    def _spawn(self, index: int) -> None:
        mark = self.ctx.Value("q", 0, lock=False)  # written only under a counter's lock
        process = self.ctx.Process(
            target=consume,
            args=(index, self.tasks, self.results, self.counters, mark, self.stopping, os.getpid(),
                  self.log_format, self.log_level),
            name=f"hotfolder-worker-{index}",
        )
        process.start()
        self.slots[index] = Slot(index, process, mark)

    def _manage(self) -> None:
        """Recompute the pool toward `target` (gunicorn's manage_workers): workers that
        will remain once the sentinels in the queue are taken, against the target."""
        if self.draining:
            return
        remaining = len(self.slots) - self.retiring
        if remaining < self.target:
            free = (i for i in range(len(self.slots) + self.target + 1) if i not in self.slots)
            for _ in range(self.target - remaining):
                self._spawn(next(free))
        elif remaining > self.target:
            # Graceful: whichever worker takes a sentinel finishes its file first and leaves.
            for _ in range(remaining - self.target):
                self.tasks.put(None, timeout=5)
                self.retiring += 1

    def resize(self, workers: int) -> None:
        self.target = workers

    def reconfigure(self, config) -> None:
        """A reload: the new worker count (applied gracefully by `_manage`), room and
        file_timeout (also for the files running now: the limit is read each turn)."""
        self.resize(config.workers)
        self.queue_bound = config.queue_bound
        self.file_timeout = config.file_timeout

    def drain(self) -> None:
        """Warm stop: no job starts from now on; one sentinel per worker."""
        self.draining = True
        if self.stopping is not None:
            self.stopping.value = 1
        for _ in range(len(self.slots) - self.retiring):
            self.tasks.put(None, timeout=5)
            self.retiring += 1

    def stop_now(self) -> list[Job]:
        """Cold stop: kill what is left. Returns the jobs that did not end.

        Idempotent: also the last word of every exit path."""
        for slot in self.slots.values():
            if slot.process.is_alive():
                self.log.warning("worker_killed", slot=slot.index, pid=slot.process.pid, reason="stopping")
                slot.process.kill()
        for process in [s.process for s in self.slots.values()] + self._dying:
            process.join(5)
        self.slots.clear()
        self._dying.clear()
        left = [self._with_count(e.job, None) for e in self.jobs.values()]
        self.jobs.clear()
        self._close_queues()
        return left

    # ------------------------------------------------------------------ work
    def room(self) -> int:
        """How many more jobs may be submitted now."""
        if self.draining:
            return 0
        return self.queue_bound - sum(1 for e in self.jobs.values() if not e.started)

    def submit(self, job: Job) -> None:
        # libvips threads: every core for a file the pool renders alone (lower latency),
        # a worker's share of the cores once others are in the pool (no oversubscription).
        cores = len(os.sched_getaffinity(0))
        job = replace(job, threads=cores if not self.jobs else max(1, cores // self.target))
        self.jobs[job.id] = _Entry(job)
        self.tasks.put(job, timeout=5)

    def count(self, verdict: str, already: str = "", folder=None) -> None:
        """A verdict of the service's own (a file that kept killing workers) is counted
        in the same shared counters."""
        try:
            self.counters.count(verdict, already, folder=folder)
        except LockStuck:
            self._uncounted.append((verdict, already, folder))
            self._rebuild("a counter lock is held by a dead worker")

    def uncount(self, already: str, folder=None) -> None:
        if already:
            try:
                self.counters.uncount(already, folder)
            except LockStuck:
                self._uncounted.append(("", already, folder))

    def poll(self, timeout: float, wake=None) -> list[Event]:
        """Wait up to `timeout` for messages (or until `wake`, a Waker, is woken), look
        after the workers; what happened."""
        self._read(timeout, wake)
        self._reap()
        self._kill_hung()
        self._check_stalled()
        if time.monotonic() >= self._next_health:
            self._next_health = time.monotonic() + HEALTH_EVERY
            self._check_locks()
        self._manage()
        if self.boot_failures >= MAX_BOOT_FAILURES:
            raise BootFailure(f"{self.boot_failures} workers died before they were ready; "
                              "see the worker errors above")
        events, self._events = self._events, []
        return events

    def _read(self, timeout: float, wake=None) -> None:
        """Read every message waiting; returns at the first lull after one arrived, so a
        finished file frees its place in the queue at once, not at the next tick."""
        wait = timeout
        while self.results is not None:
            try:
                message = self.results.get(timeout=wait, wake=wake)
            except queue.Empty:
                return
            except (Broken, OSError) as exc:
                self.log.error("results_pipe_broken", reason=str(exc))
                self._rebuild(f"the results pipe is broken: {exc}")
                return
            self._on_message(message)
            wait = 0.0

    def _on_message(self, message) -> None:
        kind, index = message[0], message[1]
        slot = self.slots.get(index)
        if slot is None:
            return  # from a worker already replaced
        now = time.monotonic()
        self.last_progress = now
        if kind == "ready":
            slot.ready, slot.since = True, now
            self.boot_failures = 0
            return
        entry = self.jobs.get(message[2] if kind != "done" else message[2].job_id)
        if kind == "start":
            slot.job, slot.since = (entry.job if entry else None), now
            if entry is not None:
                entry.started = True
                self._events.append(Started(entry.job, slot.process.pid))
        elif kind == "done":
            result, counted = message[2], message[3]
            slot.job, slot.since = None, now
            if entry is not None:
                del self.jobs[entry.job.id]
                if not counted and result.final:
                    self._uncounted.append(("processed" if result.ok else "failed", entry.job.counted,
                                            entry.job.folder))
                self._events.append(Finished(entry.job, result))
        elif kind == "declined" and entry is not None:
            del self.jobs[entry.job.id]
            self._events.append(Lost(entry.job, "the pool is stopping", charged=False))

    # ------------------------------------------------------------------ health
    def _reap(self) -> None:
        self._dying = [p for p in self._dying if p.exitcode is None]  # exitcode polls (reaps) them
        if any(slot.process.exitcode is not None for slot in self.slots.values()):
            # A dead worker's last words ("start" of the file that killed it) may
            # still be in the pipe: read them first, so the right file is retried.
            self._read(0)
        for index, slot in list(self.slots.items()):
            code = slot.process.exitcode
            if code is None:
                continue
            slot.process.join()
            del self.slots[index]
            if code == 0 and self.retiring:
                self.retiring -= 1  # it took a sentinel: whoever takes one retires
                continue
            cause = f"signal {-code}" if code < 0 else f"exit code {code}"
            self.log.error("worker_died", slot=index, pid=slot.process.pid, cause=cause,
                           job=slot.job.rel if slot.job else None)
            if not slot.ready and code > 0:
                self.boot_failures += 1  # it failed on its own (an exception at start), not killed
            self._lose(slot, f"worker died by {cause}", charged=True)

    def _lose(self, slot: Slot, why: str, charged: bool) -> None:
        """The job a dead worker held ends without a result."""
        job, slot.job = slot.job, None
        if job is None or self.jobs.pop(job.id, None) is None:
            return
        self._events.append(Lost(self._with_count(job, slot), why, charged))

    @staticmethod
    def _with_count(job: Job, slot: Slot | None) -> Job:
        """The job, remembering whether its worker counted it before it died."""
        if slot is None:
            return job
        counted = verdict_of_mark(slot.mark.value, job.id)
        return replace(job, counted=counted) if counted else job

    def _kill_hung(self) -> None:
        """A worker past file_timeout is killed and its slot emptied at once: `_manage`
        replaces it in this turn. Left in `slots` until the next reap, its dead slot
        looked free to `_check_stalled`, which then rebuilt the pool, killing every
        healthy busy worker with it (their files restarted uncharged)."""
        now = time.monotonic()
        for index, slot in list(self.slots.items()):
            if slot.job is not None and now - slot.since > self.file_timeout:
                self.log.error("worker_hung", slot=slot.index, pid=slot.process.pid, file=slot.job.rel,
                               timeout_s=self.file_timeout)
                slot.process.kill()
                slot.process.join(5)
                del self.slots[index]
                if slot.process.exitcode is None:
                    self._dying.append(slot.process)  # in the kernel still (D state): joined later
                self._lose(slot, f"worker timed out after {self.file_timeout:g} s", charged=True)

    def _check_stalled(self) -> None:
        """Work waits and a worker is free, yet nothing was heard for a while: a killed
        worker took the queue's read lock (or the mailbox's write lock) to its grave.
        "Free" includes a worker that never said it was ready: it may be stuck in its
        first message."""
        now = time.monotonic()
        if now - self.last_progress < WEDGE_AFTER:
            return
        waiting = any(not e.started and now - e.queued_at > WEDGE_AFTER for e in self.jobs.values())
        free = any(((s.ready and s.job is None) or (not s.ready and now - s.spawned > BOOT_DEADLINE))
                   and s.process.exitcode is None for s in self.slots.values())  # a dead one is _reap's
        if waiting and free:
            self._rebuild("queue stalled: work waits while workers are free")

    def _check_locks(self) -> None:
        """A worker killed while holding a counter's lock or the mailbox's write lock
        would block every other worker; a healthy holder keeps them for microseconds.
        Two misses in a row (a second apart), not one: a holder may be descheduled."""
        ok = self.counters.healthy() and (self.results is None or self.results.lock_free())
        self._lock_misses = 0 if ok else self._lock_misses + 1
        if self._lock_misses >= 2:
            self._rebuild("a shared lock is held by a dead worker")
        elif ok and self._uncounted:
            self._apply_uncounted()

    def _apply_uncounted(self) -> None:
        pending, self._uncounted = self._uncounted, []
        for verdict, already, folder in pending:
            if verdict:
                self.counters.count(verdict, already, folder=folder)
            else:
                self.counters.uncount(already, folder)

    def _rebuild(self, why: str) -> None:
        """New queue, mailbox, counters and workers; the counts carried over, every job
        in flight handed back (not charged: killed by us, not by the file)."""
        self.log.error("rebuilding_workers", reason=why, in_flight=len(self.jobs),
                       workers=sorted(s.process.pid for s in self.slots.values()))
        for slot in self.slots.values():
            slot.process.kill()
        for slot in self.slots.values():
            slot.process.join(5)
        held = {s.job.id: s for s in self.slots.values() if s.job is not None}
        self.slots.clear()
        self.counters = Counters(self.ctx, carried=self.counters)
        self._apply_uncounted()
        self._close_queues()
        self._open_queues()
        self.retiring = 0  # the sentinels went with the old queue
        for entry in sorted(self.jobs.values(), key=lambda e: e.job.id):
            self._events.append(Lost(self._with_count(entry.job, held.get(entry.job.id)), why, charged=False))
        self.jobs.clear()
        self._lock_misses = 0
        self.last_progress = time.monotonic()
        self._manage()

    # ------------------------------------------------------------------ status
    def alive(self) -> int:
        return sum(1 for s in self.slots.values() if s.process.is_alive())

    def busy(self) -> list[Busy]:
        now = time.monotonic()
        return [Busy(s.process.pid, s.job, round(now - s.since, 1)) for s in self.slots.values() if s.job]

    def unstarted(self) -> int:
        return sum(1 for e in self.jobs.values() if not e.started)

    def healthy(self) -> bool:
        """Enough workers alive and either ready or still booting; the locks free."""
        now = time.monotonic()
        working = sum(1 for s in self.slots.values()
                      if s.process.is_alive() and (s.ready or now - s.spawned < BOOT_DEADLINE))
        return working >= self.target and self._lock_misses == 0

    def idle(self) -> bool:
        """Nothing submitted is unfinished; draining: no worker is left either (they leave
        on their sentinels, so a clean stop kills none)."""
        return not self.slots if self.draining else not self.jobs

    def processes(self) -> int:
        return len(self.slots)

    def snapshot(self) -> BackendStatus:
        processed, failed = self.counters.snapshot()
        return BackendStatus(
            processed=processed, failed=failed, queued=self.unstarted(),
            in_flight=sum(1 for s in self.slots.values() if s.job is not None),
            workers=self.target, workers_alive=self.alive(),
            current=[{"pid": b.pid, "file": b.job.rel, "seconds": b.seconds, "folder": b.job.folder.name}
                     for b in self.busy()],
            by_slot=self.counters.by_slot(),
        )
