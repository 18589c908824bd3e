"""The service: `hotfolder run`. One instance per config, a signal queue, the main loop.

Each turn of the loop (after gunicorn's arbiter): act on the signals received (the
handlers only queue them), claim ready inbox files while the backend has room, hand
each event of the backend to the ledger, and about once a second watch the watcher,
reload on a changed config if asked, and publish the status (file, sd_notify STATUS
and WATCHDOG).

    watcher ──ready paths──▶ ledger.claim ──Job──▶ backend.submit
    backend.poll ──Started / Finished / Lost / Ended──▶ ledger (settle, retry, give back)

The backend is the local pool (pool.py) or a cluster (cluster/backend.py); the
service does not know which, beyond `claims_survive_restart`.
"""
from __future__ import annotations

import os
import signal
import time
from collections import deque
from pathlib import Path

from hotfolder import redact
from hotfolder.arrival.watcher import Watcher
from hotfolder.backend import Backend, BootFailure, Ended, Finished, Lost
from hotfolder.config import load, reloadable
from hotfolder.config.model import Config, ConfigError, Folder
from hotfolder.errors import HotfolderError
from hotfolder.ops.notices import Notice
from hotfolder.ops.ops import Ops
from hotfolder.runtime import log, systemd
from hotfolder.spool import owners as names
from hotfolder.status import Status
from hotfolder.supervisor.folder_slots import FolderSlots
from hotfolder.supervisor.instance import SnapshotWriter, lock_instance
from hotfolder.supervisor.ledger import Ledger
from hotfolder.supervisor.locks import AlreadyRunning, lock_folder

TICK = 0.05  # seconds the loop waits for the backend's events before looking at the rest
MIN_WAIT = 0.005  # the shortest wait: a candidate due now is looked at in the next turn
STATUS_EVERY = 1.0
MAX_ERRORS_PER_MINUTE = 20  # unexpected errors of our own tolerated before exiting


class _StopNow(Exception):
    """A second SIGTERM/SIGINT during the drain."""


class Service:
    def __init__(self, config: Config, backend: Backend):
        self.slots = FolderSlots()  # each folder's place in the shared per-folder counts
        config = self.slots.assign(config)
        self.config = config
        self.backend = backend
        self.log = log.get("service")
        self.ops = Ops(config)  # metrics, the status page, notifications; its hook hears the ledger
        self.ledger = Ledger(config, backend, self._offer_again, on_notice=self.ops.notice, failed=self.ops.failed)
        self.signals: deque[int] = deque()
        self.watcher: Watcher | None = None
        self.started = time.time()
        self.draining = False
        self.recent_errors: list[float] = []
        self.state = "starting"
        self.message = ""  # a refused reload, for the status
        self._last_status = 0.0
        self._config_mtime = _mtime(config.source)
        self.name_pruning = names.Pruning()  # the name records of outputs that are gone
        self._snapshot = SnapshotWriter()

    # ------------------------------------------------------------------ life
    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit code."""
        systemd.scrub_environ()  # workers must never inherit NOTIFY_SOCKET
        self._snapshot.lock = lock_instance(self.config.state_dir)
        self._folder_locks = {f.processing: lock_folder(f.processing) for f in self.config.folders}
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: self.signals.append(signum))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # held back since the start (cli)
        try:
            found = [self.ledger.recover(folder, adopt=not self.backend.claims_survive_restart)
                     for folder in self.config.folders]
            self.name_pruning.when_due(self.config, 0, self.log)  # before any worker reserves a name
            self.backend.start()
            self.watcher = Watcher(self.config.folders)
            self.watcher.start()
            self.ops.start()  # its threads start after the pool's forkserver, as the watcher's do
            self.state = "running"
            self.log.info("ready", workers=self.config.workers, folders=[f.name for f in self.config.folders],
                          inboxes=[str(f.inbox) for f in self.config.folders],
                          pid=os.getpid(), config=str(self.config.source))
            self._publish(force=True)
            systemd.ready(self._status_line())
            self.ops.notice(Notice("recovered", reason=_recovery_summary(found)))
            while not self.draining:
                self._handle_signals()
                if not self.draining and not self._turn():
                    return 1
            return self._drain()
        except _StopNow:
            return 0
        except BootFailure as exc:
            self.log.error("workers_fail_at_boot", reason=str(exc))
            return 1
        except HotfolderError as exc:  # at start: e.g. a shared root of another cluster
            self.log.error("start_refused", reason=str(exc))
            return 2
        finally:
            # Whatever ended the loop, no worker outlives us and every claim is given back.
            if self.watcher:
                self.watcher.stop()
            self._stop_now()
            self.state = "stopped"
            self._publish(force=True)
            self.ops.stop()

    def _turn(self) -> bool:
        """One turn of the loop; False when unexpected errors come too fast to go on."""
        try:
            wait = self._claim_ready()
            self._handle(self.backend.poll(wait, self.watcher.waker))
            if self.ops.serve(stopping=False):  # requeues the status page asked for
                self._publish(force=True)
            if time.monotonic() - self._last_status >= STATUS_EVERY:
                self.ledger.retry_stuck(time.monotonic())
                self.ledger.recipes.recheck(self.config.folders, time.monotonic())
                self.watcher.check()
                self._maybe_reload_on_change()
                self._publish()
        except (_StopNow, BootFailure):
            raise
        except Exception:  # noqa: BLE001 - a bug of ours must not stop the service
            return self._tolerate_error()
        return True

    def _tolerate_error(self) -> bool:
        now = time.monotonic()
        self.recent_errors = [t for t in self.recent_errors if now - t < 60] + [now]
        self.log.exception("service_error", errors_last_minute=len(self.recent_errors))
        if len(self.recent_errors) > MAX_ERRORS_PER_MINUTE:
            self.log.error("giving_up", reason="too many unexpected errors; see the tracebacks above")
            return False
        time.sleep(TICK)  # no hot loop on a persistent error
        return True

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.popleft()
            if sig == signal.SIGHUP:
                self.reload()
            elif not self.draining:
                self.log.info("stopping", signal=signal.Signals(sig).name, drain_timeout=self.config.drain_timeout)
                self.draining = self.ledger.stopping = True
            else:
                self.log.warning("stopping_now", signal=signal.Signals(sig).name)
                raise _StopNow

    # ------------------------------------------------------------------ work
    def _claim_ready(self) -> float:
        """Claim what is ready while there is room; how long the loop may wait for events
        before looking again (sooner when a candidate's quiet period ends sooner)."""
        now = time.monotonic()
        if self.ledger.paused(now):
            return TICK
        room = self._claim(now)
        due = self.watcher.next_due() if room > 0 else None
        return TICK if due is None else min(TICK, max(MIN_WAIT, due - time.monotonic()))

    def _claim(self, now: float) -> int:
        """Claim ready files into the backend's room; the room left."""
        room = self.backend.room()
        for job in self.ledger.waiting(room):  # files in processing/ first: drop order is kept
            self.backend.submit(job)
            room -= 1
        for folder in self.config.folders:
            if room <= 0:
                return room
            inbox = self.watcher.inboxes.get(folder.name)
            if inbox is None or self.ledger.recipes.paused(folder.name):
                continue
            for path in inbox.ready(room, now):
                job = self.ledger.claim(folder, path)
                if job is None:
                    continue
                try:
                    self.backend.submit(job)
                except Exception as exc:  # noqa: BLE001 - e.g. the shared root's job record cannot be written
                    self.ledger.give_back(job, pause_for=f"could not hand the file over: {exc}")
                    return 0
                room -= 1
        return room

    def _handle(self, events) -> None:
        for event in events:
            again = None
            if isinstance(event, Finished):
                self.ops.finished(event.job.folder.name, event.result.duration_ms)
                again = self.ledger.settle(event.job, event.result)
            elif isinstance(event, Lost):
                if event.charged:  # its worker died or hung (not our rebuild or stop)
                    self.ops.notice(Notice("worker_lost", event.job.folder.name, event.job.rel, event.why,
                                           "worker", event.job.attempt))
                again = self.ledger.lost(event.job, event.why, event.charged, stopping=self.draining)
            elif isinstance(event, Ended):
                self.ledger.ended(event.folder, event.rel)
            if again is not None:
                if self.draining:
                    self.ledger.give_back(again)
                else:
                    self.backend.submit(again)

    def _offer_again(self, folder: Folder, rel: str) -> None:
        inbox = self.watcher.inboxes.get(folder.name) if self.watcher else None
        if inbox is not None:
            inbox.offer(folder.inbox / rel)

    # ------------------------------------------------------------------ reload
    def reload(self) -> bool:
        """SIGHUP: load and validate the config; swap it in, or keep the running one.

        Nothing here may stop the service: whatever goes wrong refuses the reload."""
        if self.draining:
            self._refuse_reload("the daemon is stopping", key="", source=str(self.config.source))
            return False
        systemd.reloading("reloading config")
        try:
            new = self.slots.assign(load.load(self.config.source))
            for_nodes = reloadable.check(self.config, new)
            self._lock_folders(new)
            old_names = {f.name for f in self.config.folders}
            for folder in new.folders:
                if folder.name not in old_names:
                    self.ledger.recover(folder, adopt=not self.backend.claims_survive_restart, running=True)
                else:
                    self.ledger.prepare(folder)
        except ConfigError as exc:
            self._refuse_reload(exc.reason, key=exc.key, source=exc.source, problems=exc.lines())
            return False
        except AlreadyRunning as exc:
            self._refuse_reload(str(exc), key="", source=str(self.config.source))
            return False
        except OSError as exc:
            self._refuse_reload(f"a folder of the new config cannot be made: {exc}", key="",
                                source=str(self.config.source))
            return False
        changes = load.describe_changes(self.config, new)
        self.config = new
        self.ledger.reconfigure(new)
        old_watcher = self.watcher
        old_watcher.stop()
        self.watcher = Watcher(new.folders, previous=old_watcher)
        self.watcher.start()
        self.backend.reconfigure(new)
        self.ops.reconfigure(new)
        self.message = ""
        self.log.info("reloaded", workers=new.workers, folders=[f.name for f in new.folders], changes=changes,
                      **({"nodes_restart_needed": for_nodes} if for_nodes else {}))
        systemd.ready(self._status_line())
        self._publish(force=True)
        return True

    def _lock_folders(self, new: Config) -> None:
        """The new config's folders are this daemon's too (AlreadyRunning if another's).
        A folder a reload removes stays locked until the daemon stops: its files in
        flight still finish there."""
        for folder in new.folders:
            if folder.processing not in self._folder_locks:
                self._folder_locks[folder.processing] = lock_folder(folder.processing)

    def _refuse_reload(self, reason: str, key: str, source: str, problems: list[str] | None = None) -> None:
        said = "; ".join(problems or []) or f"{source}: {key + ': ' if key else ''}{reason}"
        self.message = f"reload refused, still running the previous config: {said}"
        self.log.error("reload_refused", key=key, reason=reason, file=source, problems=list(problems or []))
        self.ops.notice(Notice("reload_refused", reason=said, step="reload"))
        if not self.draining:
            systemd.ready(self._status_line())
        self._publish(force=True)

    def _maybe_reload_on_change(self) -> None:
        if not self.config.reload_on_change:
            return
        mtime = _mtime(self.config.source)
        if mtime != self._config_mtime:
            self._config_mtime = mtime
            self.log.info("config_changed", file=str(self.config.source))
            self.reload()

    # ------------------------------------------------------------------ stop
    def _drain(self) -> int:
        """Warm stop: stop watching; the files being rendered finish, no new one starts."""
        systemd.stopping("draining")
        self.state = "stopping"
        self.watcher.stop()
        self.backend.drain()
        deadline = time.monotonic() + self.config.drain_timeout
        try:
            while not self.backend.idle() and time.monotonic() < deadline:
                self._handle_signals()
                self._handle(self.backend.poll(TICK))
                self.ops.serve(stopping=True)
                self._publish()
        except _StopNow:
            pass
        self._stop_now()
        status = self.backend.snapshot()
        self.log.info("stopped", processed=status.processed, failed=status.failed)
        return 0

    def _stop_now(self) -> None:
        """Cold stop: the backend stops at once; every file in flight goes back to the inbox.

        Idempotent: also the last word of every exit path."""
        self.ledger.stopping = True
        for job in self.backend.stop_now():
            self.ledger.give_back(job)
        if not self.backend.claims_survive_restart:
            self.ledger.give_back_all()

    # ------------------------------------------------------------------ status
    def status(self) -> Status:
        b = self.backend.snapshot()
        return Status(
            pid=os.getpid(), started=self.started, processed=b.processed, failed=b.failed,
            queued=b.queued, waiting=self.watcher.pending_count() if self.watcher else 0,
            in_flight=b.in_flight, workers=b.workers, workers_alive=b.workers_alive,
            state=self.state, message=redact.text(self._message(b.problem)), config=str(self.config.source),
            current=b.current, cluster=_masked(b.cluster), in_failed=self._in_failed(),
            folders=self._folder_counts(b),
            claiming_paused=self.ledger.paused(time.monotonic()) or bool(self.ledger.recipes.pauses),
            reload_failed=bool(self.message),
        )

    def _folder_counts(self, b) -> dict:
        """Per folder: processed and failed from the backend's shared counts (every folder
        counted since the start, also one a reload removed), waiting and claimed now."""
        names = self.slots.names()
        counts = dict(b.by_folder) or {name: b.by_slot[i] for i, name in enumerate(names) if i < len(b.by_slot)}
        claimed = self.ledger.claimed_by_folder()
        paused = self.ledger.recipes.reasons()
        out = {}
        for name in dict.fromkeys([*names, *counts]):
            processed, failed = counts.get(name, (0, 0))
            inbox = self.watcher.inboxes.get(name) if self.watcher else None
            out[name] = {"processed": processed, "failed": failed, "claimed": claimed.get(name, 0),
                         "waiting": inbox.pending_count() if inbox else 0, "paused": paused.get(name, "")}
        return out

    def _in_failed(self) -> int:
        """Files in failed/ now: kept by the ledger's moves and the page's requeues, walked
        again only when something else changed failed/ (failed_files.FailedIndex)."""
        self.ops.failed.refresh(self.config.folders)
        return self.ops.failed.total

    def _message(self, backend_problem: str = "") -> str:
        watcher = self.watcher.notes() if self.watcher else ""
        return "; ".join(m for m in (self.ledger.message, self.ledger.notes(), watcher, self.message, log.dropped(),
                                     self.ops.problem, self._snapshot.problem, backend_problem) if m)

    def _status_line(self) -> str:
        s = self.status()
        if s.cluster:
            line = (f"cluster: processed {s.processed}, failed {s.failed}, queue {s.queued}, "
                    f"in flight {s.in_flight}, broker {s.cluster.get('broker')}")
        else:
            line = (f"processed {s.processed}, failed {s.failed}, queued {s.queued + s.waiting}, "
                    f"in flight {s.in_flight}, workers {s.workers_alive}/{s.workers}")
        return f"{line}; {s.message}" if s.message else line

    def _healthy(self) -> bool:
        return self.backend.healthy() and (self.watcher is None or self.watcher.healthy())

    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_EVERY:
            return
        self._last_status = now
        status = self.status()
        self._snapshot.write(self.config.status_file, status)
        self.ops.publish(status)  # the same snapshot, for /metrics and the status page
        if self.state == "running":
            self.name_pruning.when_due(self.config, status.processed, self.log)
        systemd.status(self._status_line())
        if self.state == "running" and self._healthy():
            systemd.watchdog()


def _masked(cluster: dict | None) -> dict | None:
    """The cluster's part of the status: its texts (the broker's error) with every known secret masked."""
    if not cluster:
        return cluster
    return {k: redact.text(v) if isinstance(v, str) else v for k, v in cluster.items()}


def _recovery_summary(found) -> str:
    adopted = sum(r.in_processing for r in found)
    temp = sum(r.temp_removed for r in found)
    problems = [p for r in found for p in r.problems]
    parts = [f"{adopted} file(s) a stop left in processing/ are rendered again" if adopted else "",
             f"{temp} unfinished temp output(s) removed" if temp else "",
             f"{len(problems)} problem(s) skipped (see recovery_problem in the log)" if problems else ""]
    done = "; ".join(p for p in parts if p) or "nothing needed putting right"
    return f"the daemon started (pid {os.getpid()}) and recovery ran: {done}"


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
