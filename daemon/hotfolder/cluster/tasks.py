"""The render task: idempotent, leased, attempt-counted; rendering is local mode's.

    no record            -> ALREADY_DONE            (a duplicate message: no-op)
    lease held elsewhere -> IN_PROGRESS_ELSEWHERE   (a redelivery while it runs: no-op)
    another config       -> REFUSED                 (the head sends it again to its version's nodes)
    attempts exhausted   -> failed/ with "worker lost N times"  (a poison file: no loop)
    otherwise            -> render.process_one, then archive/ or failed/ like local mode

The task moves the original itself (local mode's supervisor does that), deletes the
record, then releases the lease. Outputs are replaced atomically (spool.write_atomic),
so a re-run after a crash overwrites the same names with the same bytes.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from hotfolder import build
from hotfolder.cluster import jobs, told, versions
from hotfolder.cluster.app import TASK_NAME
from hotfolder.cluster.originals import SharedOriginals
from hotfolder.cluster.store import Holder, Store
from hotfolder.config.model import Config, Folder
from hotfolder.jobs import Job, Result, Superseded, Verdict
from hotfolder.runtime import log
from hotfolder.spool import atomic, fsnames, moves
from hotfolder.state import originals
from hotfolder.supervisor.duplicates import own_name_of
from hotfolder.workers.render import process_one

TEST_HOLD = "HOTFOLDER_TEST_HOLD"  # tests only: a folder of files that hold or kill a render
BUSY_AGAIN = 1.0  # seconds before a job whose bytes another node renders is tried again (it waited 30 s already)
# billiard's SIGTERM handler in a pool child: sys.exit(-(256 - SIGTERM)) (billiard.common._shutdown_cleanup)
TERMINATED = -(256 - signal.SIGTERM)
HARD_LIMIT_NEAR = 0.5  # seconds: a SIGTERM this close to task_time_limit is the hard limit's


class Outcome(StrEnum):
    """What a task did (its return value; Celery keeps no result: for the worker's log and tests)."""

    ALREADY_DONE = "already_done"
    IN_PROGRESS_ELSEWHERE = "in_progress_elsewhere"
    REFUSED = "refused"
    PROCESSED = Verdict.PROCESSED.value
    FAILED = Verdict.FAILED.value
    DUPLICATE = "duplicate"  # not rendered: to the duplicates folder (issue 23)


@dataclass
class Context:
    config: Config
    folders: dict[str, Folder]
    records: jobs.Records
    node: str
    versions: dict[str, str]  # this node's config version of each folder (versions.py)
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None or self._store_pid != os.getpid():  # never share a socket across fork
            self._store, self._store_pid = Store(self.config.cluster), os.getpid()
        return self._store

    _store_pid: int = 0
    _originals: SharedOriginals | None = None

    @property
    def originals(self) -> SharedOriginals:
        """The cluster's index of originals (cluster/originals.py), on this process's client."""
        store = self.store
        if self._originals is None or self._originals.r is not store.r:
            self._originals = SharedOriginals(store.r, store.prefix, store.ttl_ms)
        return self._originals


_context: Context | None = None


def set_context(config: Config, node: str) -> Context:
    global _context
    _context = Context(config, jobs.local_folders(config), jobs.Records(jobs.local_root(config)), node,
                       versions.of_config(config))
    return _context


def context() -> Context:
    if _context is None:
        raise RuntimeError("hotfolder.cluster.tasks: no context (start workers with `hotfolder worker`)")
    return _context


def register(app) -> None:
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=20)
    def render(self, job: str, folder: str, src: str, version: str = "") -> Outcome:
        return run(self, job, folder, src, version)


class _Refresher(threading.Thread):
    """Keeps the lease alive while the render runs; dies with the process."""

    def __init__(self, store: Store, job: str, me: Holder, originals: SharedOriginals | None = None):
        super().__init__(daemon=True, name=f"lease-{job}")
        self.store, self.job, self.me, self.originals = store, job, me, originals
        self.stop_event = threading.Event()
        self.lost = False  # another holder took the lease: this attempt must not publish

    def run(self) -> None:
        interval = self.store.cluster.lease_ttl / 3
        while not self.stop_event.wait(interval):
            try:
                if self.originals is not None:  # the claim of the bytes lives as long as the job's lease
                    self.originals.refresh_claims()
                if not self.store.refresh(self.job, self.me):
                    self.lost = True
                    log.get().error("lease_lost", job=self.job, reason="another holder took the lease; this "
                                    "attempt writes nothing")
            except Exception as exc:  # noqa: BLE001 - Redis away: keep trying, keep rendering
                log.get().warning("lease_refresh_failed", job=self.job, reason=str(exc))

    def stop(self) -> None:
        self.stop_event.set()


def run(task, job: str, folder_name: str, src_rel: str, version: str = "") -> Outcome:
    began = time.monotonic()  # the pool's hard time limit counts from (just before) here
    ctx = context()
    c = ctx.config.cluster
    logger = log.get().bind(job=job, node=ctx.node, worker_pid=os.getpid())
    record = ctx.records.read(job)
    if record is None:
        logger.info("job_skipped", reason=Outcome.ALREADY_DONE, outcome="noop")
        return Outcome.ALREADY_DONE
    if record.src != src_rel or record.folder != folder_name:
        logger.error("job_refused", reason=f"the message ({folder_name}, {src_rel}) does not match the job "
                     f"record ({record.folder}, {record.src})", outcome="noop")
        return Outcome.REFUSED
    if fsnames.relative_name(record.rel) is None:  # a record's name is data: never a way out of the folders
        logger.error("job_refused", reason=f"the record names {fsnames.display(record.rel)[:80]!r}, not a path "
                     f"inside the folder's inbox", outcome="noop")
        return Outcome.REFUSED
    refusal = _refusal(ctx, folder_name, version, record.build)
    if refusal:  # the head hears of it and sends the job to a node of its version
        logger.error("job_refused", folder=folder_name, file=record.rel, reason=refusal, outcome="refused")
        try:
            ctx.store.refuse(job, ctx.node, refusal)
        except Exception as exc:  # noqa: BLE001 - the head's reconciler sends it again anyway
            logger.warning("refusal_not_recorded", reason=str(exc))
        return Outcome.REFUSED
    folder = ctx.folders[folder_name]
    logger = logger.bind(file=record.rel, folder=folder.name)
    me = Holder.here(ctx.node)
    other = ctx.store.acquire(job, me)
    if other is not None:
        logger.info("job_skipped", reason=Outcome.IN_PROGRESS_ELSEWHERE, holder=str(other), outcome="noop")
        return Outcome.IN_PROGRESS_ELSEWHERE
    refresher = _Refresher(ctx.store, job, me, ctx.originals)
    refresher.start()
    try:
        record = ctx.records.read(job)  # again, now that we hold the lease
        # The original is where the claim put it: processing/ + its checked name (the
        # record's `src` only has to match the message).
        if record is not None and fsnames.relative_name(record.rel) is None:
            logger.error("job_refused", reason="the record changed to a name outside the folder", outcome="noop")
            return Outcome.REFUSED
        if record is None or not os.path.lexists(folder.processing / record.rel):
            if record is not None:
                ctx.records.remove(job)  # the last holder died between archiving and this
            logger.info("job_skipped", reason=Outcome.ALREADY_DONE, outcome="noop")
            return Outcome.ALREADY_DONE
        src = folder.processing / record.rel
        if record.attempts:  # the last attempt began and never ended: its worker was lost (the head notifies)
            lost = told.lost(folder.name, record.rel, job, record.attempts, record.nodes)
            told.push(ctx.store, lost, logger)
            if record.attempts < c.max_attempts:  # said as local mode says it (the last one: file_failed)
                logger.warning("file_retry", reason=lost["reason"], attempt=record.attempts + 1, outcome="retry")
        if record.attempts >= c.max_attempts:
            error = (f"worker lost {record.attempts} times (killed, out of memory, crashed or over the "
                     f"hard time limit of {c.task_time_limit:g} s) on {', '.join(record.nodes)}")
            return _end(ctx, logger, folder, record, src, ok=False, error=error, step="worker")
        record = record.started(ctx.node)
        ctx.records.write(record)
        atomic.remove_temp_outputs(folder, record.rel, f"{job}-")  # a killed attempt's leftovers
        logger = logger.bind(attempt=record.attempts)
        fence = _Fence(ctx, record, refresher)
        try:
            _test_hook(job, record)
            fence()  # a pause before here (the lease expired) may have handed the job to another
            # A cluster job's id is its record's name (a str where the pool numbers its jobs):
            # here only temp_tag and the log read it.
            result = process_one(Job(job, folder, src, record.rel, ctx.config.accepted_formats,  # type: ignore[arg-type]
                                     ctx.config.max_image_pixels, attempt=record.attempts,
                                     sidecar=_sidecar(record)),
                                 numbers=ctx.store, index=ctx.originals,  # `{seq}`: the cluster's Redis counts it
                                 fence=fence)
            fence()  # again, before the original is moved
        except SoftTimeLimitExceeded as exc:  # outside the pipeline (inside, process_one reports it)
            result = Result(job, False, error=f"SoftTimeLimitExceeded: {exc}", step="render")  # type: ignore[arg-type]
        except Superseded as exc:
            logger.warning("job_superseded", reason=str(exc), outcome="noop")
            return Outcome.IN_PROGRESS_ELSEWHERE
        except SystemExit as exc:
            if exc.code == TERMINATED and time.monotonic() - began < c.task_time_limit - HARD_LIMIT_NEAR:
                _give_back(ctx, logger, record)
            raise
        if result.retry_later or result.recipe or result.busy:  # disk full, a broken watermark, its bytes
            ctx.records.write(replace(record, attempts=record.attempts - 1, nodes=record.nodes[:-1]))
            logger.error("job_retry_later", reason=result.error, outcome="retry")  # rendered elsewhere now
            raise task.retry(countdown=BUSY_AGAIN if result.busy else min(30.0, c.visibility_timeout / 4))
        error = result.error
        if "SoftTimeLimitExceeded" in error:
            error = f"timeout: rendering took longer than cluster.task_soft_time_limit ({c.task_soft_time_limit:g} s)"
        return _end(ctx, logger, folder, record, src, ok=result.ok, error=error, step=result.step,
                    outputs=result.outputs, duration_ms=result.duration_ms, explained=result.explained,
                    unmatched=result.unmatched, found=result)
    finally:
        refresher.stop()
        try:
            ctx.store.release(job, me)
        except Exception as exc:  # noqa: BLE001 - it expires by itself
            logger.warning("lease_release_failed", reason=str(exc))


def _give_back(ctx: Context, logger, record: jobs.Record) -> None:
    """A render stopped by SIGTERM before the hard time limit is not an attempt: Celery stops
    it when the broker connection is lost (its message cannot be acked; Redis redelivers it),
    and so does a cold shutdown. Three Redis restarts during one slow render sent a good file
    to failed/ as "worker lost 3 times" (a tester's finding). Crashes, the OOM killer (SIGKILL)
    and the hard time limit (SIGTERM at task_time_limit, then SIGKILL) still count. Written
    back only while the record on the share is this attempt's (as _Fence asks)."""
    try:
        now = ctx.records.read(record.job)
        if now is not None and (now.attempts, now.nodes) == (record.attempts, record.nodes):
            ctx.records.write(replace(record, attempts=record.attempts - 1, nodes=record.nodes[:-1]))
            logger.warning("job_stopped", reason="the render was stopped (SIGTERM: the broker connection was "
                           "lost, or the node stopped); not counted as an attempt", outcome="retry")
    except OSError as exc:  # the share cannot be written now: the attempt stays counted
        logger.warning("attempt_not_given_back", reason=str(exc))


class _Fence:
    """Whether this attempt is still its job's, asked before its outputs are written and before
    the original is moved: the lease was not lost, and the record on the share is still this
    attempt's (its attempts and nodes). A node paused (SIGSTOP, a VM suspended, a swap storm)
    past its lease found the job taken over, or ended, by another, and still wrote its outputs
    and moved the original: two output sets for one drop with `{seq}` (an attack round). The
    share is the truth; what is left is the moment between this look and the write."""

    def __init__(self, ctx: Context, record: jobs.Record, refresher: _Refresher):
        self.ctx, self.record, self.refresher = ctx, record, refresher

    def __call__(self) -> None:
        if self.refresher.lost:
            raise Superseded("another holder took this job's lease while it rendered: it renders it")
        try:
            now = self.ctx.records.read(self.record.job)
        except OSError:  # the share cannot be read now (EIO, ESTALE): not known to be another's; the
            return  # writes meet the share's error, and the job is retried later, as before the fence
        if now is None:
            raise Superseded("the job ended elsewhere while this attempt rendered (its record is gone)")
        if (now.attempts, now.nodes) != (self.record.attempts, self.record.nodes):
            raise Superseded(f"another attempt (on {now.nodes[-1] if now.nodes else '?'}) took the job over while "
                             "this one rendered")


def _refusal(ctx: Context, folder: str, version: str, head_build: str = "") -> str:
    """Why this node must not render a job of `folder` sent for config `version` ("": it may).
    `head_build`: the head's release and code, from the job record ("": a head before builds)."""
    if folder not in ctx.folders:
        return f"this node has no folder {folder} (its config lacks it): restart it with the head's config"
    mine = ctx.versions[folder]
    if version != mine:
        sent = version or "none (sent by an older head)"
        if head_build and head_build != build.identity():  # the code differs: the config may well be the same
            return (f"this node has config version {mine} of folder {folder}, the job was sent for version {sent}: "
                    f"this node runs hotfolder {build.identity()}, the head {head_build} (other code renders "
                    "other outputs); install the head's release on this node, or the node's on the head, and "
                    "restart it")
        return (f"this node has config version {mine} of folder {folder}, the job was sent for version {sent}: "
                "its outputs would differ; restart this node with the head's config")
    return ""


def _end(ctx: Context, logger, folder: Folder, record: jobs.Record, src: Path, *, ok: bool, error: str = "",
         step: str = "", outputs: tuple[str, ...] = (), duration_ms: float = 0.0,
         explained: tuple[str, ...] = (), unmatched: str = "", found: Result | None = None) -> Outcome:
    """The original to archive/ (or deleted), the duplicates folder or failed/, then the record
    goes: the job is over. `found`: what the index of originals found (supervisor/duplicates.py
    does the same in local mode)."""
    holder = _holder(folder, record, src)  # before the original moves: its identity in processing/
    if found is not None and found.skipped and found.match is not None:
        own: dict[str, str] = {}  # a copy under a name of its own: how it gets rendered as that too, as locally
        said = own_name_of(logger, folder, record.rel, found.match, own)
        moved = moves.duplicate(folder, src, record.rel, kind=str(found.match.kind), matched=found.match.as_json(),
                                sidecar=_sidecar(record), said=said)
        logger.info("file_skipped", kind=str(found.match.kind), matched=found.match.said(), duplicates=str(moved),
                    outcome="duplicate", **own)
        _found(ctx, logger, folder, found, moved.relative_to(folder.duplicates).as_posix() if folder.duplicates
               else None)
        atomic.remove_temp_outputs(folder, record.rel, f"{record.job}-")
        ctx.records.remove(record.job)
        _let_go(ctx, logger, folder, holder)
        told.push(ctx.store, told.ended(folder.name, record.rel, record.job, record.attempts, ok=ok, found=found),
                  logger)
        return Outcome.DUPLICATE
    if ok:
        where = moves.finish(folder, moves.Claimed(record.rel, src, _sidecar(record)))
        logger.info("file_unmatched" if unmatched else "file_done", outputs=list(outputs), duration_ms=duration_ms,
                    attempts=record.attempts, archived=str(where) if where else None,
                    **({"reason": unmatched} if unmatched else {}), outcome="unmatched" if unmatched else "ok")
        if found is not None:
            _found(ctx, logger, folder, found, where.relative_to(folder.archive).as_posix()
                   if where is not None and folder.archive is not None else None)
    else:
        where = moves.fail(folder, src, record.rel, error=error, step=step, attempts=record.attempts,
                           explained=explained, sidecar=_sidecar(record))
        logger.warning("file_failed", reason=error, step=step, attempts=record.attempts, failed=str(where),
                       outcome="failed")
        if found is not None and found.match is not None:
            _found(ctx, logger, folder, found, None)
    atomic.remove_temp_outputs(folder, record.rel, f"{record.job}-")  # a killed attempt's leftovers
    ctx.records.remove(record.job)
    store = ctx.store
    try:
        store.forget(record.job)
        store.count(Verdict.PROCESSED if ok else Verdict.FAILED, folder.name)
    except Exception as exc:  # noqa: BLE001 - the file is done; counts are only for status
        logger.warning("count_failed", reason=str(exc))
    _let_go(ctx, logger, folder, holder)
    at = (where.relative_to(folder.archive).as_posix() if ok and unmatched and where is not None
          and folder.archive is not None else "")
    told.push(store, told.ended(folder.name, record.rel, record.job, record.attempts, ok=ok,
                                reason=error or unmatched, step=step, outputs=outputs, duration_ms=duration_ms,
                                found=found, unmatched_at=at), logger)  # the head notifies
    return Outcome.PROCESSED if ok else Outcome.FAILED


def _holder(folder: Folder, record: jobs.Record, src: Path) -> int | None:
    """Who its `{seq}` is held for (workers/render._holder: the file's identity in processing/)."""
    try:
        st = os.lstat(src)
    except OSError:
        return None
    return originals.job_key(folder.name, record.rel, st.st_ino, st.st_mtime_ns)


def _let_go(ctx: Context, logger, folder: Folder, holder: int | None) -> None:
    """The file ended (after its record went: a new attempt would need its number again)."""
    if holder is None:
        return
    try:
        ctx.store.let_go(folder.name, holder)
    except Exception as exc:  # noqa: BLE001 - it expires after 30 days by itself
        logger.warning("held_number_kept", reason=str(exc))


def _sidecar(record: jobs.Record) -> str | None:
    """The record's sidecar: a name beside its original (data: never a path elsewhere)."""
    side = fsnames.relative_name(record.sidecar) if record.sidecar else None
    return side if side is not None and Path(side).parent == Path(record.rel).parent else None


def _found(ctx: Context, logger, folder: Folder, result: Result, where: str | None) -> None:
    """What the index found, counted in Redis for the head's status; where the original went."""
    try:
        originals = ctx.originals
        if result.record and where is not None:
            originals.archived(result.record, where)
        if result.match is not None:
            originals.count(folder.name, str(result.match.kind))
        if result.naming:
            originals.count(folder.name, str(result.naming))
    except Exception as exc:  # noqa: BLE001 - the file is at its end; counts and names are for people
        logger.warning("count_failed", reason=str(exc))


def _test_hook(job: str, record: jobs.Record) -> None:
    """HOTFOLDER_TEST_HOLD=<dir>: say where we are, then obey kill-NAME / hold-NAME / hang-NAME files."""
    hold = os.environ.get(TEST_HOLD)
    if not hold:
        return
    d, name = Path(hold), Path(record.rel).name
    (d / f"started-{name}-{record.attempts}-{os.getpid()}").write_text(job)
    if (d / f"kill-{name}").exists():
        os.kill(os.getpid(), signal.SIGKILL)
    deadline = time.monotonic() + 120
    while (d / f"hold-{name}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    while True:  # deaf to the soft limit, as C code is: wherever its signal lands, the look too
        try:
            if not ((d / f"hang-{name}").exists() and time.monotonic() < deadline):
                break
            time.sleep(0.02)
        except SoftTimeLimitExceeded:
            continue
