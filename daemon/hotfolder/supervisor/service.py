"""The service: `hotfolder run`. One instance per config, a signal queue, the main loop.

Each turn of the loop, in phases (after gunicorn's arbiter):

    signals      act on the signals received (the handlers only queue them)
    claim        claim ready inbox files while the backend has room and the gate is open
    settle       hand each event of the backend to the ledger (settle, retry, give back)
    serve        answer the status page's requests (a requeue)
    look after   about once a second: the gate's retries, the watcher, a changed config
                 (reload_on_change), and the status published (publish.py)

    watcher ──ready paths──▶ ledger.claim ──Job──▶ backend.submit
    backend.poll ──Started / Finished / Lost / Ended──▶ ledger (settle, retry, give back)
                 ──Told──▶ ops (the notices of files a cluster's nodes ended)

Its collaborators: the ledger (claims in flight, where originals go), the claim gate
(what stops claiming), the publisher (the status), the backend (the local pool in
workers/pool.py or a cluster in cluster/backend.py: the service does not know which,
beyond `claims_survive_restart`) and ops (metrics, the page, notifications).
"""
from __future__ import annotations

import os
import signal
import time
from collections import deque

from hotfolder.arrival.watcher import Watcher
from hotfolder.backend import Backend, BootFailure, Ended, Event, Finished, Lost, Told
from hotfolder.config.model import Config, Folder
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.ops.notices import Notice, NoticeKind
from hotfolder.ops.ops import Ops
from hotfolder.runtime import log, systemd
from hotfolder.spool import owners as names
from hotfolder.spool.recovery import Recovery
from hotfolder.spool.shares import Places
from hotfolder.state import db, places
from hotfolder.status import ServiceState, Status
from hotfolder.supervisor import leftovers
from hotfolder.supervisor.clips_listing import ClipsListing
from hotfolder.supervisor.duplicates import Rebuild, counted
from hotfolder.supervisor.folder_slots import FolderSlots
from hotfolder.supervisor.gate import ClaimGate
from hotfolder.supervisor.instance import lock_instance
from hotfolder.supervisor.ledger import Ledger
from hotfolder.supervisor.locks import FolderLocks
from hotfolder.supervisor.publish import Publisher
from hotfolder.supervisor.reload import ConfigWatch, Refused, prepare
from hotfolder.supervisor.serving import Serving

TICK = 0.05  # seconds the loop waits for the backend's events before looking at the rest
MIN_WAIT = 0.005  # the shortest wait: a candidate due now is looked at in the next turn
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
        self.gate = ClaimGate(on_notice=self.ops.notice)  # what stops claiming, and why
        self.places = Places(config.state_dir)  # which file system each place was on (spool/shares.py)
        self.ledger = Ledger(config, backend, self._offer_again, on_notice=self.ops.notice, failed=self.ops.failed,
                             gate=self.gate, on_hold=self._hold, places=self.places)
        self.publisher = Publisher(self)  # the status: snapshot, /metrics and the page, sd_notify
        self.signals: deque[int] = deque()
        self.watcher: Watcher | None = None
        self.started = time.time()
        self.draining = False
        self.recent_errors: list[float] = []
        self.state = ServiceState.STARTING
        self.refused_reload = ""  # why the last reload was refused, for the status
        self.config_watch = ConfigWatch(config.source)  # reload_on_change
        self.name_pruning = names.Pruning()  # the name records of outputs that are gone
        self.rebuild: Rebuild | None = None  # the index of originals rebuilt from the archives
        self.clips_listing = ClipsListing(self.log)  # the rows of clips passed through, made anew: listed again
        self.folder_locks = FolderLocks()
        self.serving = Serving(self.ledger, self.folder_locks, self.ops.notice,  # folders waiting for a share
                               adopt=not backend.claims_survive_restart)

    @property
    def watching(self) -> Watcher:
        """The watcher, once `run` started it."""
        if self.watcher is None:
            raise RuntimeError("the service is not running: no watcher yet")
        return self.watcher

    # ------------------------------------------------------------------ life
    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit code."""
        systemd.scrub_environ()  # workers must never inherit NOTIFY_SOCKET
        self.publisher.snapshot.lock = lock_instance(self.config.state_dir)
        try:  # before anything is read or written: the places are judged (and recorded) next
            db.refuse_newer(self.config.state_dir)
        except db.StateTooNew as exc:
            self.log.error("start_refused", reason=str(exc))
            return ExitCode.USAGE
        ready = self.serving.made(self.config.folders)  # not one on a share that is not mounted: the watcher says it
        self.folder_locks.hold(ready)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: self.signals.append(signum))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # held back since the start (cli)
        try:
            leftovers.gather(self.config, self.log, self.places)  # processing/ folders a reload took out of the config
            found = [self.ledger.recover(folder, adopt=not self.backend.claims_survive_restart)
                     for folder in ready]
            # before any worker reserves a name
            self.name_pruning.when_due(self.config, 0, self.log, self.serving.unseen(self.unmounted()))
            if self.ledger.sameness.recover(self.config):  # before any worker claims some bytes
                self.rebuild = Rebuild(self.config, self.ledger.new_id, self.log)
                self.log.warning("index_rebuilding", state_dir=str(self.config.state_dir),
                                 reason="the index of originals was made anew (a deleted database, or the first "
                                        "start of this version) while the archives hold originals: it is rebuilt "
                                        "from them, behind the files dropped meanwhile; until it ends, a copy of an "
                                        "original not indexed yet is rendered again")
            self.backend.start()
            self.watcher = Watcher(self.config.folders, places=self.places,
                                   prepare=lambda f: self.serving.prepare(f, self.unmounted()))
            self.watcher.start()
            self.ops.start()  # its threads start after the pool's forkserver, as the watcher's do
            self.clips_listing.start(self.config, ready)  # a thread too
            self.state = ServiceState.RUNNING
            # Published before `ready` is said: a client that reads the line (or READY=1) and asks
            # the listener at once had a 503 "starting" while the first status was being taken
            # (a test under load).
            self._publish(force=True)
            cluster = self.config.cluster.cluster_id if self.config.cluster.enabled else None
            # a cluster's head renders nothing: its nodes do (`workers` was said, as if it rendered too)
            self.log.info("ready", workers=0 if cluster else self.config.workers,
                          **({"cluster": cluster} if cluster else {}), folders=[f.name for f in self.config.folders],
                          inboxes=[str(f.inbox) for f in self.config.folders],
                          pid=os.getpid(), config=str(self.config.source))
            systemd.ready(self.publisher.line())
            self.ops.notice(Notice(NoticeKind.RECOVERED, reason=_recovery_summary(found)))
            while not self.draining:
                self._handle_signals()
                if not self.draining and not self._turn():
                    return 1
            return self._drain()
        except _StopNow:
            return 0
        except BootFailure as exc:
            self.log.error("workers_fail_at_boot", reason=str(exc))
            return ExitCode.BOOT_FAILURE
        except HotfolderError as exc:  # at start: e.g. a shared root of another cluster
            self.log.error("start_refused", reason=str(exc))
            return ExitCode.USAGE
        finally:
            # Whatever ended the loop, no worker outlives us and every claim is given back.
            if self.watcher:
                self.watcher.stop()
            self.clips_listing.stop()
            self._stop_now()
            self.state = ServiceState.STOPPED
            self._publish(force=True)
            self.ops.stop()

    def _turn(self) -> bool:
        """One turn of the loop (the signals are handled by `run`, before it); False when
        unexpected errors come too fast to go on."""
        try:
            self.ledger.compared()  # clips passed through again whose comparison ended
            wait = self._claim_ready()
            self._settle(self.backend.poll(wait, self.watching.waker))
            if self.ops.serve(stopping=False):  # requeues the status page asked for
                self._publish(force=True)
            if self.publisher.due(time.monotonic()):
                self._look_after()
        except (_StopNow, BootFailure):
            raise
        except Exception:  # noqa: BLE001 - a bug of ours must not stop the service
            return self._tolerate_error()
        return True

    def _look_after(self) -> None:
        """About once a second: the gate's retries, the watcher, a changed config, the status."""
        self.gate.look_again(self.config.folders, time.monotonic())
        self.ledger.look_after(time.monotonic())
        self.watching.check()
        self.serving.notify(self.unmounted(), {f.name for f in self.config.folders})
        if self.config.reload_on_change and self.config_watch.changed():
            self.log.info("config_changed", file=str(self.config.source))
            self.reload()
        self._publish()

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
        if self.gate.paused(now):
            return TICK
        room = self._claim(now)
        if self.rebuild is not None and room > 0 and not self.draining:  # only into the room files left
            room -= self.rebuild.feed(self.backend, room)
        due = self.watching.next_due() if room > 0 else None
        return TICK if due is None else min(TICK, max(MIN_WAIT, due - time.monotonic()))

    def _claim(self, now: float) -> int:
        """Claim ready files into the backend's room; the room left."""
        room = self.backend.room()
        for waiting in self.ledger.waiting(room):  # files in processing/ first: drop order is kept
            self.backend.submit(waiting)
            room -= 1
        for folder in self.config.folders:
            if room <= 0:
                return room
            inbox = self.watching.inboxes.get(folder.name)
            if inbox is None or not self.gate.open_for(folder.name):
                continue
            for path in inbox.ready(room, now):
                job = self.ledger.claim(folder, path, sidecar=inbox.partner(path))
                if job is None:
                    continue
                try:
                    self.backend.submit(job)
                except Exception as exc:  # noqa: BLE001 - e.g. the shared root's job record cannot be written
                    self.ledger.give_back(job, pause_for=f"could not hand the file over: {exc}")
                    return 0
                room -= 1
        return room

    def _settle(self, events: list[Event]) -> None:
        """The backend's events, each to the ledger; a job to render again goes back to the
        backend (or, draining, its file back to the inbox). As one group: the originals
        archived, then their folders synced once (Ledger.grouped)."""
        with self.ledger.grouped():
            self._settle_each(events)

    def _settle_each(self, events: list[Event]) -> None:
        for event in events:
            again = None
            if isinstance(event, Finished | Lost) and event.job.reindex:
                self._rebuilt(event.result if isinstance(event, Finished) else None)
            elif isinstance(event, Finished):
                if not (event.result.skipped or event.result.busy):  # the histogram is of renders
                    self.ops.finished(event.job.folder.name, event.result.duration_ms)
                again = self.ledger.settle(event.job, event.result)
            elif isinstance(event, Lost):
                if event.charged:  # its worker died or hung (not our rebuild or stop)
                    self.ops.notice(Notice(NoticeKind.WORKER_LOST, event.job.folder.name, event.job.rel, event.why,
                                           "worker", event.job.attempt))
                again = self.ledger.lost(event.job, event.why, event.charged, stopping=self.draining)
            elif isinstance(event, Ended):
                self.ledger.ended(event.folder, event.rel)
            elif isinstance(event, Told):  # a node ended them: notified as local mode's own ends are
                for notice in event.notices:
                    self.ops.notice(notice)
                for kind, n in event.dropped:
                    self.ops.dropped(kind, n)
                for folder_name, at in event.unmatched:
                    self.ledger.unmatched_elsewhere(folder_name, at)
            if again is not None:
                if self.draining:
                    self.ledger.give_back(again)
                else:
                    self.backend.submit(again)

    def _rebuilt(self, result) -> None:
        """A job of the index's rebuild ended; said when the whole rebuild has."""
        if self.rebuild is not None and self.rebuild.finished(result):
            r, self.rebuild = self.rebuild, None
            self.ledger.sameness.rebuilt(self.config)
            self.log.warning("index_rebuilt", indexed=r.indexed, known=r.known, unreadable=r.failed,
                             passed_over=r.passed_over)

    def unmounted(self) -> dict[str, str]:
        """The folders waiting for their share (the watcher's), by name: why."""
        return self.watcher.unmounted() if self.watcher else {}

    def _offer_again(self, folder: Folder, rel: str) -> None:
        inbox = self.watcher.inboxes.get(folder.name) if self.watcher else None
        if inbox is not None:
            inbox.offer(folder.inbox / rel)

    def _hold(self, folder: Folder, rel: str, until: float) -> None:
        """A file cut short is back in the inbox: not taken before `until` unless it grows."""
        inbox = self.watcher.inboxes.get(folder.name) if self.watcher else None
        if inbox is not None:
            inbox.hold(folder.inbox / rel, until)

    # ------------------------------------------------------------------ reload
    def reload(self) -> bool:
        """SIGHUP: load and validate the config; swap it in, or keep the running one.

        Nothing here may stop the service: whatever goes wrong refuses the reload."""
        if self.draining:
            self._refuse_reload(Refused("the daemon is stopping", str(self.config.source)))
            return False
        systemd.reloading("reloading config")
        try:
            ready = prepare(self.config, self.slots, self.folder_locks, self.ledger,
                            adopt=not self.backend.claims_survive_restart)
        except Refused as refused:
            self._refuse_reload(refused)
            return False
        kept = {f.name for f in self.config.folders} & {f.name for f in ready.config.folders}
        self.serving.reloaded(kept, ready.gone)
        new = self.config = ready.config
        # Before a job of the new config is claimed: a worker recording under a folder's new
        # name first made two folders of one (state/places.py follows a rename; a review).
        self._remember_places(new)
        self.ledger.reconfigure(new)
        watcher = self.watching
        watcher.stop()
        self.watcher = Watcher(new.folders, previous=watcher)  # with its places and serving.prepare
        self.watcher.start()
        self.backend.reconfigure(new)
        self.ops.reconfigure(new)
        self.refused_reload = ""
        self.log.info("reloaded", workers=new.workers, folders=[f.name for f in new.folders], changes=ready.changes,
                      **({"nodes_restart_needed": ready.for_nodes} if ready.for_nodes else {}),
                      **({"rerender": ready.rerender} if ready.rerender else {}))
        for warning in ready.warnings:
            self.log.warning("config_warning", problem=warning)
        systemd.ready(self.publisher.line())
        self._publish(force=True)
        return True

    def _remember_places(self, config: Config) -> None:
        """The new config's processing/ folders, beside the old ones (state/places.py): a
        crash before the old ones' queued files finish leaves them for the next start."""
        try:
            places.remember(config.state_dir, config.folders)
        except Exception as exc:  # noqa: BLE001 - the database: said; the reload stands
            self.log.warning("processing_check_failed", reason=f"{type(exc).__name__}: {exc}",
                             action="files a crash leaves in the old processing folders are not looked for")

    def _refuse_reload(self, refused: Refused) -> None:
        said = refused.said()
        self.refused_reload = f"reload refused, still running the previous config: {said}"
        self.log.error("reload_refused", key=refused.key, reason=refused.reason, file=refused.source,
                       problems=list(refused.problems))
        self.ops.notice(Notice(NoticeKind.RELOAD_REFUSED, reason=said, step="reload"))
        if not self.draining:
            systemd.ready(self.publisher.line())
        self._publish(force=True)

    # ------------------------------------------------------------------ stop
    def _drain(self) -> int:
        """Warm stop: stop watching; the files being rendered finish, no new one starts."""
        systemd.stopping("draining")
        self.state = ServiceState.STOPPING
        self.watching.stop()
        self.ledger.passes.stop()  # a clip being compared stays in the inbox
        self.backend.drain()
        deadline = time.monotonic() + self.config.drain_timeout
        try:
            while not self.backend.idle() and time.monotonic() < deadline:
                self._handle_signals()
                self._settle(self.backend.poll(TICK))
                self.ops.serve(stopping=True)
                self._publish()
        except _StopNow:
            pass
        self._stop_now()
        status = self.backend.snapshot()
        found = counted(status.duplicates, self.ledger.sameness.counts)  # the cluster's (Redis) and our own
        self.log.info("stopped", processed=status.processed, failed=status.failed,
                      duplicates=sum(tally.get("exact", 0) for tally in found.values()))
        return 0

    def _stop_now(self) -> None:
        """Cold stop: the backend stops at once; every file in flight goes back to the inbox.

        Idempotent: also the last word of every exit path."""
        self.ledger.stopping = True
        self.ledger.passes.stop()
        for job in self.backend.stop_now():
            self.ledger.give_back(job)
        if not self.backend.claims_survive_restart:
            self.ledger.give_back_all()

    # ------------------------------------------------------------------ status
    def status(self) -> Status:
        """The status now (what the publisher publishes)."""
        return self.publisher.status()

    def _publish(self, force: bool = False) -> None:
        """The status, once a second (or now); while running, the name records of outputs
        that are gone are pruned when due (counted in files rendered since the last time)."""
        status = self.publisher.publish(force)
        if status is not None and self.state == ServiceState.RUNNING:
            self.name_pruning.when_due(self.config, status.processed, self.log, self.serving.unseen(self.unmounted()))
            self.ledger.sameness.forget_old(self.config, time.monotonic())  # the index's window, hourly
            self.ledger.passes.rows.forget_old(self.config.folders, time.monotonic())  # the clips' rows' too


def _recovery_summary(found: list[Recovery]) -> str:
    adopted = sum(r.in_processing for r in found)
    temp = sum(r.temp_removed for r in found)
    problems = [p for r in found for p in r.problems]
    parts = [f"{adopted} file(s) a stop left in processing/ are rendered again" if adopted else "",
             f"{temp} unfinished temp output(s) removed" if temp else "",
             f"{len(problems)} problem(s) skipped (see recovery_problem in the log)" if problems else ""]
    done = "; ".join(p for p in parts if p) or "nothing needed putting right"
    return f"the daemon started (pid {os.getpid()}) and recovery ran: {done}"

