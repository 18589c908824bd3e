"""LocalPool: the fixed set of worker processes on this machine.

The textbook shape, kept visible:

    tasks = ctx.Queue(maxsize=...)        # claimed files go in as Jobs
    workers = [ctx.Process(target=consume, args=(slot, tasks, results, counters, ...))]
    counters = Counters(ctx)              # Lock-guarded multiprocessing.Value's
    ... tasks.put(None) once per worker   # the sentinel: retire, or drain and stop

Around it, what makes it survive (after gunicorn's arbiter and rq's worker pool), each
turn of `poll()` in phases:

    read_messages    the workers' Ready / Starting / Done / Declined / Leaving (messages.py)
    reap_workers     dead workers: their jobs are Lost (charged)
    murder_workers   workers hung past file_timeout: killed, their jobs Lost (charged)
    check_wedged     a queue or a lock wedged by a worker that died holding it (wedge.py):
                     queue, mailbox, counters and workers rebuilt, jobs Lost (not charged);
                     draining, the free workers that cannot reach their sentinel killed
    manage_workers   the pool recomputed toward its target size, instead of tracking
                     spawns and retirements by hand

The pool knows jobs, not files: what happens to an original is the ledger's
business. It reports what happened to each job as events: `Started`, `Finished`
(with the worker's Result) and `Lost` (the worker died or hung: `charged`, an
attempt of the file's own; or we rebuilt or stopped the pool: not charged).
This is the only code that starts workers (forks.py starts their forkserver).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from dataclasses import replace
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Final, Self

from hotfolder.backend import BackendStatus, BootFailure, Event, Wake
from hotfolder.config.model import MAX_QUEUE_SIZE, Config, Folder
from hotfolder.jobs import Job, Verdict
from hotfolder.runtime import log
from hotfolder.workers import forks, wedge
from hotfolder.workers.counters import Counters, Owed, SharedInt
from hotfolder.workers.mailbox import Broken, Mailbox
from hotfolder.workers.messages import Declined, Done, Leaving, Message, Ready, Starting
from hotfolder.workers.slots import Book, Slot
from hotfolder.workers.wedge import LockProbe

START_METHOD: Final = "forkserver"  # see forks.py
HEALTH_EVERY = 1.0  # seconds between probes of the shared locks
MAX_BOOT_FAILURES = 5  # workers failing before they are ready: stop, don't flap


class LocalPool:
    claims_survive_restart = False  # our workers die with us: their claims go back

    def __init__(self, workers: int, queue_bound: int, file_timeout: float,
                 log_format: str = "json", log_level: str = "info"):
        self.target = workers
        self.queue_bound = queue_bound
        self.file_timeout = file_timeout
        self.log_format, self.log_level = log_format, log_level
        self.log = log.get("pool")
        forks.start()  # before the first semaphore starts the resource tracker (as ours)
        self.ctx: ForkServerContext = mp.get_context(START_METHOD)
        self.counters = Counters(self.ctx)
        self.owed = Owed()  # counts a stuck counter lock refused
        self.tasks: Queue | None = None
        self.results: Mailbox | None = None
        self.stopping: SharedInt | None = None  # shared flag: workers decline jobs once set
        self.slots: dict[int, Slot] = {}
        self.book = Book()  # the jobs submitted and not yet ended
        self.retiring = 0  # sentinels in the queue not yet taken
        self.draining = False
        self.drained_at = 0.0  # when the drain began (monotonic)
        self.boot_failures = 0
        self.last_heard = time.monotonic()  # the last message of any worker
        self.locks = LockProbe()
        self._events: list[Event] = []
        self._next_health = 0.0
        self._dying: list[BaseProcess] = []  # killed hung workers not yet reaped by the kernel

    @classmethod
    def for_config(cls, config: Config, log_format: str = "json", log_level: str = "info") -> Self:
        return cls(config.workers, config.queue_bound, config.file_timeout, log_format, log_level)

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self._open_queues()
        self._manage_workers()

    def _open_queues(self) -> None:
        # Bounded: the service submits at most queue_bound unstarted jobs (`room`); the
        # slack is for sentinels and for the jobs a rebuild submits again. Sized for the
        # largest queue_size a config allows, so a reload can raise it on this queue.
        self.tasks = self.ctx.Queue(maxsize=max(self.queue_bound, MAX_QUEUE_SIZE) + 1024)
        self.results = Mailbox(self.ctx)
        self.stopping = self.ctx.Value("b", 1 if self.draining else 0, lock=False)

    def _close_queues(self) -> None:
        if self.tasks is not None and self.results is not None:
            self.tasks.cancel_join_thread()  # never block on jobs no worker will read
            self.tasks.close()
            self.results.close()
        self.tasks = self.results = None

    def _put(self, item: Job | None) -> None:
        assert self.tasks is not None, "the pool is not started"
        self.tasks.put(item, timeout=5)

    def _spawn(self, index: int) -> None:
        forks.start()  # again, if the forkserver died
        mark = self.ctx.Value("q", 0, lock=False)  # written only under a counter's lock
        process = self.ctx.Process(
            target=forks.consume,
            args=(index, self.tasks, self.results, self.counters, mark, self.stopping, os.getpid(),
                  self.log_format, self.log_level),
            name=f"hotfolder-worker-{index}",
        )
        process.start()
        self.slots[index] = Slot(index, process, mark)

    def resize(self, workers: int) -> None:
        self.target = workers

    def reconfigure(self, config: Config) -> None:
        """A reload: the new worker count (applied gracefully by `_manage_workers`), room and
        file_timeout (also for the files running now: the limit is read each turn)."""
        self.resize(config.workers)
        self.queue_bound = config.queue_bound
        self.file_timeout = config.file_timeout

    def drain(self) -> None:
        """Warm stop: no job starts from now on; one sentinel per worker."""
        self.draining = True
        self.drained_at = time.monotonic()
        if self.stopping is not None:
            self.stopping.value = 1
        for _ in range(len(self.slots) - self.retiring):
            self._put(None)
            self.retiring += 1

    def stop_now(self) -> list[Job]:
        """Cold stop: kill what is left. Returns the jobs that did not end.

        Idempotent: also the last word of every exit path."""
        for slot in self.slots.values():
            if slot.process.is_alive():
                self.log.warning("worker_killed", slot=slot.index, pid=slot.pid, reason="stopping")
                slot.process.kill()
        for process in [s.process for s in self.slots.values()] + self._dying:
            process.join(5)
        self.slots.clear()
        self._dying.clear()
        self._close_queues()
        return self.book.clear()

    # ------------------------------------------------------------------ work
    def room(self) -> int:
        """How many more jobs may be submitted now."""
        return 0 if self.draining else self.queue_bound - self.book.unstarted()

    def submit(self, job: Job) -> None:
        # libvips threads: every core for a file the pool renders alone (lower latency),
        # a worker's share of the cores once others are in the pool (no oversubscription).
        cores = len(os.sched_getaffinity(0))
        threads = cores if not self.book else max(1, cores // self.target)
        if job.threads != threads:  # replace() builds a new Job of 20 fields: not when it would be equal
            job = replace(job, threads=threads)
        self.book.add(job)
        self._put(job)

    def count(self, verdict: Verdict, already: Verdict | None = None, folder: Folder | None = None) -> None:
        """A verdict of the service's own (a file that kept killing workers) is counted
        in the same shared counters."""
        if not self.owed.count(self.counters, verdict, already, folder):
            self._rebuild("a counter lock is held by a dead worker")

    def uncount(self, already: Verdict | None, folder: Folder | None = None) -> None:
        self.owed.uncount(self.counters, already, folder)

    def poll(self, timeout: float, wake: Wake | None = None) -> list[Event]:
        """Wait up to `timeout` for messages (or until `wake` is woken), look after the
        workers in gunicorn's phases; what happened."""
        self._read_messages(timeout, wake)
        self._reap_workers()
        self._murder_workers()
        self._check_wedged()
        self._manage_workers()
        if self.boot_failures >= MAX_BOOT_FAILURES:
            raise BootFailure(f"{self.boot_failures} workers died before they were ready; "
                              "see the worker errors above")
        events, self._events = self._events, []
        return events

    def _read_messages(self, timeout: float, wake: Wake | None = None) -> None:
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

    def _on_message(self, message: Message) -> None:
        slot = self.slots.get(message.slot)
        if slot is None:
            return  # from a worker already replaced
        now = self.last_heard = time.monotonic()
        event: Event | None = None
        match message:
            case Ready():
                slot.ready, slot.since = True, now
                self.boot_failures = 0
            case Starting(job_id=job_id):
                event = self.book.starting(slot, job_id, now)
            case Done(result=result, counted=counted):
                event = self.book.done(slot, result, now)
                if event is not None and not counted and result.counted:
                    self.owed.owe(result.verdict, event.job.counted, event.job.folder)
            case Declined(job_id=job_id):
                event = self.book.declined(job_id)
            case Leaving():
                slot.leaving = True
        if event is not None:
            self._events.append(event)

    # ------------------------------------------------------------------ the phases
    def _reap_workers(self) -> None:
        self._dying = [p for p in self._dying if p.exitcode is None]  # exitcode polls (reaps) them
        if any(slot.exited for slot in self.slots.values()):
            # A dead worker's last words (Starting the file that killed it) may
            # still be in the pipe: read them first, so the right file is retried.
            self._read_messages(0)
        for index, slot in list(self.slots.items()):
            code = slot.process.exitcode if slot.exited else None
            if code is None:
                continue
            slot.process.join()
            del self.slots[index]
            cause = f"signal {-code}" if code < 0 else f"exit code {code}"
            if (code == 0 or slot.leaving) and self.retiring:
                # It took a sentinel: whoever takes one retires. Killed while exiting, it
                # still took one: counted as died, the pool would wait for a sentinel no
                # longer in the queue and keep a worker too many.
                self.retiring -= 1
                if code != 0:
                    self.log.warning("worker_died", slot=index, pid=slot.pid, cause=cause, job=None,
                                     reason="while retiring: not replaced")
                continue
            self.log.error("worker_died", slot=index, pid=slot.pid, cause=cause,
                           job=slot.job.rel if slot.job else None)
            if not slot.ready and code > 0:
                self.boot_failures += 1  # it failed on its own (an exception at start), not killed
            self._lose(slot, f"worker died by {cause}")

    def _murder_workers(self) -> None:
        """A worker past file_timeout is killed and its slot emptied at once: `_manage_workers`
        replaces it in this turn. Left in `slots` until the next reap, its dead slot
        looked free to the stall check, which then rebuilt the pool, killing every
        healthy busy worker with it (their files restarted uncharged)."""
        for slot in wedge.hung(list(self.slots.values()), time.monotonic(), self.file_timeout):
            self.log.error("worker_hung", slot=slot.index, pid=slot.pid, file=slot.job.rel if slot.job else None,
                           timeout_s=self.file_timeout)
            self._put_down(slot)
            self._lose(slot, f"worker timed out after {self.file_timeout:g} s")

    def _put_down(self, slot: Slot) -> None:
        """Kill a worker and empty its slot at once (not at the next reap)."""
        slot.process.kill()
        slot.process.join(5)
        del self.slots[slot.index]
        if slot.process.exitcode is None:
            self._dying.append(slot.process)  # in the kernel still (D state): joined later

    def _lose(self, slot: Slot, why: str) -> None:
        """The job a dead or hung worker held ends without a result: charged to its file."""
        lost = self.book.lose(slot, why, charged=True)
        if lost is not None:
            self._events.append(lost)

    def _check_wedged(self) -> None:
        """A queue stalled by a worker killed in Queue.get(); a lock held by a dead worker
        (probed once a second: a probe waits up to half a second for a lock)."""
        now = time.monotonic()
        if wedge.stalled(self.slots.values(), self.book.entries.values(), self.last_heard, now):
            self._rebuild("queue stalled: work waits while workers are free")
        if self.draining:
            self._kill_unretired(now)
        if now < self._next_health:
            return
        self._next_health = now + HEALTH_EVERY
        free = self.counters.healthy() and (self.results is None or self.results.lock_free())
        if self.locks.probed(free):
            self._rebuild("a shared lock is held by a dead worker")
        elif free and self.owed:
            self.owed.pay(self.counters)

    def _kill_unretired(self, now: float) -> None:
        """Draining: free workers that cannot reach their sentinel (the queue's read lock went
        with a worker killed in Queue.get()) are killed now, not at drain_timeout: they hold
        no file. (A group SIGTERM left an idle daemon so for 20 s; DESIGN.md.)"""
        for slot in wedge.unretired(list(self.slots.values()), max(self.last_heard, self.drained_at), now):
            self.log.warning("worker_killed", slot=slot.index, pid=slot.pid,
                             reason=f"stopping: its sentinel not taken in {wedge.WEDGE_AFTER:g} s (the queue's "
                                    "read lock held by a dead worker, or a worker starved of CPU)")
            self._put_down(slot)

    def _manage_workers(self) -> None:
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
                self._put(None)
                self.retiring += 1

    def _rebuild(self, why: str) -> None:
        """New queue, mailbox, counters and workers; the counts carried over, every job
        in flight handed back (not charged: killed by us, not by the file)."""
        self.log.error("rebuilding_workers", reason=why, in_flight=len(self.book),
                       workers=sorted(s.pid for s in self.slots.values()))
        forks.start()  # a resource tracker that died is started again masked, before the new semaphores
        for slot in self.slots.values():
            slot.process.kill()
        for slot in self.slots.values():
            slot.process.join(5)
        held = {s.job.id: s for s in self.slots.values() if s.job is not None}
        self.slots.clear()
        self.counters = Counters(self.ctx, carried=self.counters)
        self.owed.pay(self.counters)
        self._close_queues()
        self._open_queues()
        self.retiring = 0  # the sentinels went with the old queue
        self._events += self.book.hand_back(held, why)
        self.locks = LockProbe()
        self.last_heard = time.monotonic()
        self._manage_workers()

    # ------------------------------------------------------------------ status
    def alive(self) -> int:
        return sum(1 for s in self.slots.values() if s.process.is_alive())

    def healthy(self) -> bool:
        """Enough workers alive and either ready or still booting; the locks free."""
        return wedge.working(self.slots.values(), time.monotonic()) >= self.target and self.locks.clear

    def idle(self) -> bool:
        """Nothing submitted is unfinished; draining: no worker is left either (they leave
        on their sentinels, so a clean stop kills none)."""
        return not self.slots if self.draining else not self.book

    def snapshot(self) -> BackendStatus:
        processed, failed = self.counters.snapshot()
        now = time.monotonic()
        return BackendStatus(
            processed=processed, failed=failed, queued=self.book.unstarted(),
            in_flight=sum(1 for s in self.slots.values() if s.busy),
            workers=self.target, workers_alive=self.alive(),
            current=[s.current(now) for s in self.slots.values() if s.busy],
            by_slot=self.counters.by_slot(),
        )
