"""The supervisor: owns the queue, the sentinels and the workers.

The textbook shape, kept visible:

    tasks = ctx.Queue(maxsize=...)        # claimed files go in as Jobs
    workers = [ctx.Process(target=consume, args=(slot, tasks, results, counters, ...))]
    counters = Counters(ctx)              # Lock-guarded multiprocessing.Value's
    ... tasks.put(None) once per worker   # the sentinel: drain and stop

Around it, what makes it a daemon (after gunicorn's arbiter): signal handlers only
record the signal; the main loop claims ready files, reads results, finishes or
fails originals, reaps and replaces dead workers, kills hung ones, rebuilds the
queue and locks when a killed worker wedged them, and keeps the status current.
This is the only code that starts processes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import config as config_mod
from . import log, spool, systemd
from .config import Config, ConfigError, Folder
from .stats import Counters, LockStuck, Status, lock_instance, write_snapshot
from .watcher import Watcher
from .mailbox import Mailbox
from .worker import Job, Result, consume, temp_tag

# Never fork the main process: it runs watchdog threads. A forkserver is a clean,
# single-threaded process started once; it forks workers with Pillow already
# imported, so a dead worker is replaced in tens of milliseconds.
START_METHOD = "forkserver"
PRELOAD = ["hotfolder.worker", "hotfolder.pipeline", "PIL.Image", "PIL.JpegImagePlugin"]
TICK = 0.05  # seconds the loop waits for results before looking at everything else
WEDGE_AFTER = 2.0  # seconds of no progress, with work queued and a worker idle
STATUS_EVERY = 1.0
MAX_BOOT_FAILURES = 5  # workers dying before they are ready: stop, don't flap
MAX_ERRORS_PER_MINUTE = 20  # unexpected errors of the supervisor tolerated before exiting


@dataclass
class Slot:
    """One worker process and the job it holds."""

    index: int
    process: mp.process.BaseProcess
    ready: bool = False
    job_id: int | None = None
    since: float = field(default_factory=time.monotonic)  # start of the current job, or of idling


@dataclass
class Tracked:
    job: Job
    claimed: spool.Claimed | None  # None in batch mode: the original is not moved
    queued_at: float = field(default_factory=time.monotonic)
    slot: int | None = None


class Supervisor:
    def __init__(self, config: Config, log_format: str = "json", log_level: str = "info"):
        self.config = config
        self.log_format = log_format
        self.log_level = log_level
        self.log = log.get("supervisor")
        self.ctx = mp.get_context(START_METHOD)
        self.ctx.set_forkserver_preload(PRELOAD)
        self.counters = Counters(self.ctx)
        self.tasks = None
        self.results = None
        self.slots: dict[int, Slot] = {}
        self.jobs: dict[int, Tracked] = {}
        self.next_job_id = 1
        self.signals: deque[int] = deque()
        self.watcher: Watcher | None = None
        self.started = time.time()
        self.last_progress = time.monotonic()
        self.pause_until = 0.0
        self.pause_backoff = 0.0
        self.boot_failures = 0
        self.draining = False
        self.retiring = 0  # sentinels sent to shrink the pool, not yet taken
        self.recent_errors: list[float] = []
        self.state = "starting"
        self.message = ""
        self.batch_results: list[tuple[Tracked, Result]] | None = None
        self._last_status = 0.0
        self._config_mtime = self._mtime(config.source)

    # ------------------------------------------------------------------ setup
    def _open_queues(self) -> None:
        # Bounded: claims stop at queue_bound unstarted jobs; the slack is for sentinels.
        self.tasks = self.ctx.Queue(maxsize=self.config.queue_bound + 256)
        self.results = Mailbox(self.ctx)

    def _close_queues(self) -> None:
        if self.tasks is not None:
            self.tasks.cancel_join_thread()  # never block on jobs no worker will read
            self.tasks.close()
            self.results.close()
        self.tasks = self.results = None

    def _spawn(self, index: int) -> None:
        process = self.ctx.Process(
            target=consume,
            args=(index, self.tasks, self.results, self.counters, os.getpid(), self.log_format, self.log_level),
            name=f"hotfolder-worker-{index}",
        )
        process.start()
        self.slots[index] = Slot(index, process)

    def _start_workers(self) -> None:
        for index in range(self.config.workers):
            self._spawn(index)

    def _install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: self.signals.append(signum))

    # ------------------------------------------------------------------ daemon
    def run(self) -> int:
        """`hotfolder run`: serve until SIGTERM/SIGINT; returns the exit code."""
        systemd.scrub_environ()  # workers must never inherit NOTIFY_SOCKET
        self._instance_lock = lock_instance(self.config.state_dir)
        self._install_signals()
        self._recover()
        self._open_queues()
        self._start_workers()
        self.watcher = Watcher(self.config.folders)
        self.watcher.start()
        self.state = "running"
        self.log.info("ready", workers=self.config.workers, folders=[f.name for f in self.config.folders],
                      pid=os.getpid(), config=str(self.config.source))
        self._publish(force=True)
        systemd.ready(self._status_line())
        try:
            while not self.draining:
                self._handle_signals()
                if self.draining:
                    break
                try:
                    self._claim_ready()
                    self._step()
                except _StopNow:
                    raise
                except Exception:  # noqa: BLE001 - a bug of ours must not stop the service
                    if not self._tolerate_error():
                        return 1
                if self.boot_failures >= MAX_BOOT_FAILURES:
                    self.log.error("workers_fail_at_boot", failures=self.boot_failures,
                                   reason="workers die before they are ready; see the worker errors above")
                    self._stop_now()
                    return 1
            return self._drain()
        except _StopNow:
            return 0
        finally:
            # Whatever ended the loop, no worker outlives us and every claim is given back.
            if self.watcher:
                self.watcher.stop()
            self._stop_now()
            self.state = "stopped"
            self._publish(force=True)

    def _recover(self) -> None:
        """At start: processing/ back to the inbox, temp outputs deleted (cluster mode
        overrides this: remote workers may be rendering those files)."""
        for folder in self.config.folders:
            spool.ensure_dirs(folder)
            found = spool.recover(folder)
            self.log.info("recovered", folder=folder.name, returned_to_inbox=found.returned,
                          temp_removed=found.temp_removed, sidecars_removed=found.sidecars_removed)

    def _tolerate_error(self) -> bool:
        """Log an unexpected error and go on, unless they come too fast to be passing."""
        now = time.monotonic()
        self.recent_errors = [t for t in self.recent_errors if now - t < 60] + [now]
        self.log.exception("supervisor_error", errors_last_minute=len(self.recent_errors))
        if len(self.recent_errors) > MAX_ERRORS_PER_MINUTE:
            self.log.error("giving_up", reason="too many unexpected errors; see the tracebacks above")
            return False
        time.sleep(TICK)  # no hot loop on a persistent error
        return True

    def _step(self) -> None:
        """One turn of the loop: results, dead and hung workers, wedges, status."""
        self._collect_results(TICK)
        self._reap()
        self._kill_hung()
        self._check_wedged()
        if time.monotonic() - self._last_status >= STATUS_EVERY:
            if self.watcher is not None:
                self.watcher.check()
            self._check_counters()
            self._maybe_reload_on_change()
            self._publish()

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.popleft()
            if sig == signal.SIGHUP:
                self.reload()
            elif not self.draining:
                self.log.info("stopping", signal=signal.Signals(sig).name, drain_timeout=self.config.drain_timeout)
                self.draining = True
            else:
                self.log.warning("stopping_now", signal=signal.Signals(sig).name)
                raise _StopNow

    # ------------------------------------------------------------------ claims
    def _unstarted(self) -> int:
        return sum(1 for t in self.jobs.values() if t.slot is None)

    def _room(self) -> int:
        """How many more files may be claimed now (cluster mode: jobs in flight)."""
        return self.config.queue_bound - self._unstarted()

    def _claim_ready(self) -> None:
        now = time.monotonic()
        if now < self.pause_until:
            return
        room = self._room()
        if room <= 0:
            return
        for folder in self.config.folders:
            inbox = self.watcher.inboxes.get(folder.name)
            if inbox is None:
                continue
            for path in inbox.ready(room, now):
                if self._claim(folder, path):
                    room -= 1
            if room <= 0:
                return

    def _claim(self, folder: Folder, path: Path) -> bool:
        try:
            claimed = spool.claim(folder, path)
        except spool.Refused as exc:
            rel = path.relative_to(folder.inbox).as_posix()
            spool.fail(folder, path, rel, error=str(exc), step="claim", attempts=0)
            self._count(failed=1)
            self.log.warning("file_refused", folder=folder.name, file=rel, reason=str(exc), outcome="failed")
            return False
        except OSError as exc:
            self.log.error("claim_failed", folder=folder.name, file=str(path), reason=str(exc))
            return False
        if claimed is None:
            return False
        self._enqueue(Job(self._new_id(), folder, claimed.path, claimed.rel,
                          self.config.accepted_formats, self.config.max_image_pixels), claimed)
        return True

    def _new_id(self) -> int:
        self.next_job_id += 1
        return self.next_job_id - 1

    def _enqueue(self, job: Job, claimed: spool.Claimed | None) -> None:
        self.jobs[job.id] = Tracked(job, claimed)
        self.tasks.put(job, timeout=5)

    # ------------------------------------------------------------------ results
    def _collect_results(self, timeout: float) -> None:
        """Wait up to `timeout` for a message, then read all that are waiting.

        Returns as soon as something was read, so a finished file frees its queue
        slot for the next claim at once, not at the next tick.
        """
        wait = timeout
        while True:
            try:
                message = self.results.get(timeout=wait)
            except queue.Empty:
                return
            except Exception as exc:  # noqa: BLE001 - unreadable: a worker died mid-write
                self.log.error("results_queue_broken", reason=repr(exc))
                self._rebuild("the results pipe is corrupted")
                return
            self._on_message(message)
            wait = 0.0

    def _on_message(self, message) -> None:
        kind, index = message[0], message[1]
        slot = self.slots.get(index)
        if slot is None:
            return  # from a worker already replaced
        now = time.monotonic()
        if kind != "ready":
            self.last_progress = now  # a file started or ended
        if kind == "ready":
            slot.ready = True
            slot.since = now
            self.boot_failures = 0
        elif kind == "start":
            tracked = self.jobs.get(message[2])
            if tracked is not None:
                tracked.slot = index
            slot.job_id, slot.since = message[2], now
        elif kind == "done":
            result: Result = message[2]
            slot.job_id, slot.since = None, now
            tracked = self.jobs.pop(result.job_id, None)
            if tracked is not None:
                self._settle(tracked, result)

    def _settle(self, tracked: Tracked, result: Result, counted: bool = True) -> None:
        """Move the original to its end (or back to the inbox) after a worker's result.

        `counted`: a worker counted the result already; the supervisor's own verdicts
        (a file that kept killing workers) are counted here."""
        if self.batch_results is not None:
            self.batch_results.append((tracked, result))
            return
        job, claimed, folder = tracked.job, tracked.claimed, tracked.job.folder
        logger = self.log.bind(folder=folder.name, file=job.rel, attempt=job.attempt)
        if not os.path.lexists(claimed.path):
            # Someone removed it from processing/ meanwhile: nothing to archive or fail.
            logger.warning("file_vanished", reason="the original left processing/ while it was rendered",
                           outcome="gone")
            return
        try:
            if result.ok:
                where = spool.finish(folder, claimed)
                logger.info("file_done", outputs=list(result.outputs), duration_ms=result.duration_ms,
                            archived=str(where) if where else None, worker_pid=result.pid, outcome="ok")
                if self.pause_backoff:
                    self.pause_backoff, self.message = 0.0, ""  # the folder works again
            elif result.retry_later:
                self._give_back(tracked, result.error)
            else:
                where = spool.fail(folder, claimed.path, claimed.rel, error=result.error,
                                   step=result.step, attempts=job.attempt)
                if not counted:
                    self._count(failed=1)
                logger.warning("file_failed", reason=result.error, step=result.step, failed=str(where),
                               worker_pid=result.pid, outcome="failed")
        except OSError as exc:
            if spool.output_problem(exc) or result.retry_later:
                self._give_back(tracked, f"could not move the original: {exc}")
            else:
                self._fail_after_move_error(tracked, exc)
        inbox = self.watcher.inboxes.get(folder.name) if self.watcher else None
        if inbox is not None:
            inbox.offer(folder.inbox / job.rel)  # a same-named file may have waited for this one

    def _fail_after_move_error(self, tracked: Tracked, exc: OSError) -> None:
        """Archiving failed for a reason of this file's own: record it in failed/ rather
        than loop on it. If even that is impossible, give it back and pause."""
        job, claimed = tracked.job, tracked.claimed
        try:
            spool.fail(job.folder, claimed.path, claimed.rel, step="finish", attempts=job.attempt,
                       error=f"rendered, but the original could not be archived: {exc}")
            self._count(processed=-1, failed=1)  # the worker counted it as processed
            self.log.error("file_failed", file=job.rel, step="finish", reason=str(exc), outcome="failed")
        except OSError as again:
            self._give_back(tracked, f"could not move the original: {again}")

    def _give_back(self, tracked: Tracked, reason: str) -> None:
        """Not the file's fault (disk full): back to the inbox, and pause claiming."""
        if tracked.claimed is not None:
            spool.unclaim(tracked.job.folder, tracked.claimed)
        now = time.monotonic()
        if now >= self.pause_until:  # one doubling per episode, not per file given back
            self.pause_backoff = min(60.0, max(1.0, self.pause_backoff * 2))
            self.pause_until = now + self.pause_backoff
        self.message = f"claiming paused: {reason}"
        self.log.error("claiming_paused", file=tracked.job.rel, reason=reason, retry_in_s=self.pause_backoff)

    def _count(self, processed: int = 0, failed: int = 0) -> None:
        """Verdicts of the supervisor's own go into the same shared counters."""
        try:
            if processed:
                self.counters.processed.add(processed)
            if failed:
                self.counters.failed.add(failed)
        except LockStuck:
            self._rebuild("a counter lock is held by a dead worker")

    # ------------------------------------------------------------------ worker health
    def _reap(self) -> None:
        if any(slot.process.exitcode is not None for slot in self.slots.values()):
            # A dead worker's last words ("start" of the file that killed it) may
            # still be in the pipe: read them first, so the right file is retried.
            self._collect_results(0)
        for index, slot in list(self.slots.items()):
            code = slot.process.exitcode
            if code is None:
                continue
            slot.process.join()
            del self.slots[index]
            if code == 0 and (self.retiring or self.draining):
                # It took a sentinel: whichever worker takes it is the one that retires.
                self.retiring = max(0, self.retiring - 1)
                continue
            cause = f"signal {-code}" if code < 0 else f"exit code {code}"
            self.log.error("worker_died", slot=index, pid=slot.process.pid, cause=cause,
                           job=self.jobs[slot.job_id].job.rel if slot.job_id in self.jobs else None)
            if not slot.ready and code > 0:
                self.boot_failures += 1  # it failed on its own (an exception at start), not killed
            self._retry_held(slot, f"worker died by {cause}")
            if not self.draining and len(self.slots) < self.config.workers - self.retiring:
                self._spawn(index)

    def _retry_held(self, slot: Slot, why: str) -> None:
        tracked = self.jobs.pop(slot.job_id, None) if slot.job_id is not None else None
        if tracked is None:
            return
        job = tracked.job
        spool.remove_temp_outputs(job.folder, job.rel, temp_tag(job))
        if job.attempt >= self.config.max_attempts or self.draining:
            if self.draining:
                self._give_back_quietly(tracked)
                return
            result = Result(job.id, False, error=f"{why} on attempt {job.attempt}", step="worker")
            self._settle(tracked, result, counted=False)
            return
        retry = Job(job.id, job.folder, job.src, job.rel, job.accepted_formats, job.max_image_pixels,
                    attempt=job.attempt + 1)
        self.log.warning("file_retry", file=job.rel, reason=why, attempt=retry.attempt)
        self._enqueue(retry, tracked.claimed)

    def _give_back_quietly(self, tracked: Tracked) -> None:
        if tracked.claimed is not None:
            spool.unclaim(tracked.job.folder, tracked.claimed)
        elif self.batch_results is not None:
            self.batch_results.append((tracked, Result(tracked.job.id, False, error="interrupted", step="stop")))

    def _kill_hung(self) -> None:
        now = time.monotonic()
        for slot in self.slots.values():
            if slot.job_id is not None and now - slot.since > self.config.file_timeout:
                self.log.error("worker_hung", slot=slot.index, pid=slot.process.pid,
                               timeout_s=self.config.file_timeout)
                slot.process.kill()
                slot.process.join(5)
                # the reaper sees signal 9; say why in the file's record
                self._retry_held(slot, f"worker timed out after {self.config.file_timeout:g} s")
                slot.job_id = None

    def _check_wedged(self) -> None:
        """Work waits, a worker is idle, yet no file starts or ends: a killed worker
        took the queue's read lock (or the mailbox's write lock) to its grave."""
        now = time.monotonic()
        if now - self.last_progress < WEDGE_AFTER:
            return
        waiting = any(t.slot is None and now - t.queued_at > WEDGE_AFTER for t in self.jobs.values())
        idle = any(s.ready and s.job_id is None for s in self.slots.values())
        if waiting and idle:
            self._rebuild("queue stalled: work waits while workers idle")

    def _check_counters(self) -> None:
        """A worker killed while holding a counter's lock would block every count."""
        if not self.counters.healthy():
            self._rebuild("a counter lock is held by a dead worker")

    def _rebuild(self, why: str) -> None:
        """New queues, locks and workers; the counts and the in-flight files carried over."""
        self.log.error("rebuilding_workers", reason=why, in_flight=len(self.jobs))
        for slot in self.slots.values():
            slot.process.kill()
        for slot in self.slots.values():
            slot.process.join(5)
        self.slots.clear()
        processed, failed = self.counters.snapshot()
        self.counters = Counters(self.ctx, processed, failed)
        self._close_queues()
        self._open_queues()
        pending = sorted(self.jobs.values(), key=lambda t: t.job.id)
        self.jobs.clear()
        self.retiring = 0  # the sentinels went with the old queue
        self._start_workers()
        for tracked in pending:  # killed by us, not by the file: the attempt is not counted
            self._enqueue(tracked.job, tracked.claimed)
        self.last_progress = time.monotonic()

    # ------------------------------------------------------------------ reload
    def reload(self) -> bool:
        """SIGHUP: load and validate the config; swap it in, or keep the running one."""
        systemd.reloading("reloading config")
        try:
            new = config_mod.load(self.config.source)
        except ConfigError as exc:
            self.message = f"reload refused, still running the previous config: {exc}"
            self.log.error("reload_refused", key=exc.key, reason=exc.reason, file=exc.source)
            systemd.ready(self._status_line())
            self._publish(force=True)
            return False
        old = self.config
        for folder in new.folders:
            spool.ensure_dirs(folder)
            if folder.name not in {f.name for f in old.folders}:
                spool.recover(folder)
        self.config = new
        self.watcher.stop()
        self.watcher = Watcher(new.folders)
        self.watcher.start()
        self._resize_pool(old.workers, new.workers)
        self.message = ""
        self.log.info("reloaded", workers=new.workers, folders=[f.name for f in new.folders])
        systemd.ready(self._status_line())
        self._publish(force=True)
        return True

    def _resize_pool(self, old: int, new: int) -> None:
        if new > old:
            free = (i for i in range(new + len(self.slots)) if i not in self.slots)
            for _ in range(new - old):
                self._spawn(next(free))
        elif new < old:
            # Graceful: one sentinel per worker to retire; each finishes its file first.
            self.retiring += old - new
            for _ in range(old - new):
                self.tasks.put(None, timeout=5)

    def _maybe_reload_on_change(self) -> None:
        if not self.config.reload_on_change:
            return
        mtime = self._mtime(self.config.source)
        if mtime != self._config_mtime:
            self._config_mtime = mtime
            self.log.info("config_changed", file=str(self.config.source))
            self.reload()

    @staticmethod
    def _mtime(path: Path) -> float | None:
        try:
            return path.stat().st_mtime
        except OSError:
            return None

    # ------------------------------------------------------------------ shutdown
    def _drain(self) -> int:
        """Warm shutdown: stop watching, one None per worker, join with a deadline."""
        systemd.stopping("draining")
        self.state = "stopping"
        self.watcher.stop()
        for _ in self.slots:
            self.tasks.put(None, timeout=5)
        deadline = time.monotonic() + self.config.drain_timeout
        try:
            while self.slots and time.monotonic() < deadline:
                self._handle_signals()
                self._step()
        except _StopNow:
            pass
        self._stop_now()
        self.log.info("stopped", processed=self.counters.processed.read(), failed=self.counters.failed.read())
        return 0

    def _stop_now(self) -> None:
        """Cold shutdown: kill what is left; every claimed file goes back to the inbox.

        Idempotent: also the last word of every exit path."""
        for slot in self.slots.values():
            if slot.process.is_alive():
                self.log.warning("worker_killed", slot=slot.index, pid=slot.process.pid, reason="drain deadline")
                slot.process.kill()
        for slot in self.slots.values():
            slot.process.join(5)
        self.slots.clear()
        for tracked in self.jobs.values():
            self._give_back_quietly(tracked)
        self.jobs.clear()
        self._close_queues()

    # ------------------------------------------------------------------ status
    def status(self) -> Status:
        processed, failed = self.counters.snapshot()
        return Status(
            pid=os.getpid(),
            started=self.started,
            processed=processed,
            failed=failed,
            queued=self._unstarted(),
            waiting=self.watcher.pending_count() if self.watcher else 0,
            in_flight=sum(1 for s in self.slots.values() if s.job_id is not None),
            workers=self.config.workers,
            workers_alive=sum(1 for s in self.slots.values() if s.process.is_alive()),
            state=self.state,
            message=self.message,
            config=str(self.config.source),
            current=[{"pid": s.process.pid, "file": self.jobs[s.job_id].job.rel,
                      "seconds": round(time.monotonic() - s.since, 1)}
                     for s in self.slots.values() if s.job_id in self.jobs],
        )

    def _status_line(self) -> str:
        s = self.status()
        line = (f"processed {s.processed}, failed {s.failed}, queued {s.queued + s.waiting}, "
                f"in flight {s.in_flight}, workers {s.workers_alive}/{s.workers}")
        return f"{line}; {self.message}" if self.message else line

    def _healthy(self) -> bool:
        alive = sum(1 for s in self.slots.values() if s.process.is_alive())
        return alive >= self.config.workers and (self.watcher is None or self.watcher.healthy())

    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_EVERY:
            return
        self._last_status = now
        try:
            write_snapshot(self.config.status_file, self.status())
        except OSError as exc:
            self.log.error("status_write_failed", path=str(self.config.status_file), reason=str(exc))
        systemd.status(self._status_line())
        if self.state == "running" and self._healthy():
            systemd.watchdog()

    # ------------------------------------------------------------------ batch
    def run_batch(self, files: list[tuple[Path, str]], folder: Folder, progress=None) -> list[tuple[Tracked, Result]]:
        """`hotfolder process`: the same pool and pipeline over given files, left in place.

        `files` pairs each file with the relative path its outputs keep."""
        systemd.scrub_environ()
        self._install_signals()
        folder.output.mkdir(parents=True, exist_ok=True)
        self.batch_results = []
        self._open_queues()
        self._start_workers()
        self.state = "running"
        todo = deque(files)
        try:
            while (todo or self.jobs) and not self.signals:
                while todo and self._unstarted() < self.config.queue_bound:
                    path, rel = todo.popleft()
                    self._enqueue(Job(self._new_id(), folder, path, rel,
                                      self.config.accepted_formats, self.config.max_image_pixels), None)
                before = len(self.batch_results)
                self._collect_results(TICK)
                self._reap()
                self._kill_hung()
                self._check_wedged()
                if progress and len(self.batch_results) != before:
                    progress(len(self.batch_results), len(files))
                if self.boot_failures >= MAX_BOOT_FAILURES:
                    break
            self.draining = True
            for _ in self.slots:
                self.tasks.put(None, timeout=5)
            deadline = time.monotonic() + self.config.drain_timeout
            while self.slots and time.monotonic() < deadline:
                self._collect_results(TICK)
                self._reap()
        finally:
            self._stop_now()
        return self.batch_results


class _StopNow(Exception):
    """A second SIGTERM/SIGINT during the drain."""
