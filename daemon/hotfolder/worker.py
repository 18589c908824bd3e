"""The consumer: take a Job from the queue, render it, report; stop on None.

`process_one` does the work and is a plain function (tests call it directly);
`consume` is the thin loop that runs in each worker process.
"""
from __future__ import annotations

import errno
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import log, names, nofollow, pipeline, spool
from .config import Folder
from .stats import Counters, LockStuck


@dataclass(frozen=True)
class Job:
    id: int
    folder: Folder  # carried by each job, so a reloaded config applies to new jobs only
    src: Path  # the file to read (under processing/, or anywhere for `hotfolder process`)
    rel: str  # its path relative to the inbox: the output keeps its subfolders
    accepted_formats: tuple[str, ...]
    max_image_pixels: int
    attempt: int = 1
    counted: str = ""  # "processed"/"failed": an earlier attempt of this file was counted so
    threads: int = 1  # libvips threads for this file: more only when it has the machine to itself


@dataclass(frozen=True)
class Result:
    job_id: int
    ok: bool
    outputs: tuple[str, ...] = ()
    error: str = ""
    step: str = ""
    retry_later: bool = False  # a resource problem (disk full), not the file's fault
    transient: bool = False  # may pass (out of memory, a share's I/O error): retried as an attempt
    recipe: bool = False  # the folder's recipe cannot be used (watermark, profile): the file waits
    duration_ms: float = 0.0
    pid: int = field(default_factory=os.getpid)

    @property
    def final(self) -> bool:
        """The file ends with this result (and is counted); otherwise it comes back."""
        return not (self.retry_later or self.transient or self.recipe)


# Reading the input failed for a reason that may pass (a share's hiccup, not the bytes).
TRANSIENT_READ_ERRNOS = {errno.EIO, errno.ESTALE, errno.ENOTCONN, errno.ETIMEDOUT, errno.EHOSTDOWN,
                         errno.EAGAIN, errno.EINTR}


def transient_reason(exc: BaseException) -> str | None:
    """Why a render that raised `exc` deserves another attempt, or None if it does not."""
    if isinstance(exc, MemoryError):
        return "out of memory while rendering (MemoryError); another attempt may have more room"
    if isinstance(exc, OSError) and exc.errno in TRANSIENT_READ_ERRNOS:
        return f"the input could not be read: {exc.strerror or exc} (errno {errno.errorcode.get(exc.errno, exc.errno)})"
    return None


def temp_tag(job: Job) -> str:
    """Marks a job's temp outputs, so those of a killed worker can be found and removed."""
    return f"{job.id}-"


def process_one(job: Job) -> Result:
    """Render every rendition of one file and write the outputs atomically."""
    t0 = time.perf_counter()
    folder = job.folder
    logger = log.get().bind(file=job.rel, folder=folder.name, worker_pid=os.getpid(), attempt=job.attempt,
                            threads=job.threads)
    pipeline.configure(job.max_image_pixels)
    written: list[str] = []
    step = "render"
    try:
        _check_source(job)
        outputs = pipeline.render(
            job.src, folder.renditions,
            accepted_formats=job.accepted_formats,
            max_image_pixels=job.max_image_pixels,
            animation=folder.animation,
            raw=folder.raw,
            threads=job.threads,
            folder=folder.name,
        )
        step = "write"
        _write_outputs(job, outputs, written, logger)
    except (spool.NameTooLong, names.NameClash) as exc:
        ms = round((time.perf_counter() - t0) * 1000, 1)
        logger.warning("file_failed", step="write", reason=str(exc), duration_ms=ms, outcome="failed")
        return Result(job.id, False, error=str(exc), step="write", duration_ms=ms)
    except pipeline.InputError as exc:
        ms = round((time.perf_counter() - t0) * 1000, 1)
        logger.warning("file_failed", step=exc.step, reason=str(exc), duration_ms=ms, outcome="failed")
        return Result(job.id, False, error=str(exc), step=exc.step, duration_ms=ms)
    except pipeline.RecipeError as exc:  # every file of the folder would fail alike: this one waits
        ms = round((time.perf_counter() - t0) * 1000, 1)
        logger.info("recipe_unusable", reason=str(exc), duration_ms=ms, outcome="retry")
        return Result(job.id, False, error=str(exc), step="render", recipe=True, duration_ms=ms)
    except Exception as exc:  # noqa: BLE001 - report every failure; the daemon goes on
        ms = round((time.perf_counter() - t0) * 1000, 1)
        problem = spool.output_problem(exc) if step == "write" else None
        if isinstance(exc, names.RecordsUnwritable):
            problem = str(exc)
        transient = transient_reason(exc) if step == "render" else None
        if transient:
            logger.warning("render_interrupted", step=step, reason=transient, duration_ms=ms, outcome="retry")
            return Result(job.id, False, error=transient, step=step, transient=True, duration_ms=ms)
        if isinstance(exc, nofollow.FolderSwapped):  # processing/ or output/ swapped for a link
            problem = str(exc)
        if problem:
            logger.error("output_unwritable", step=step, reason=problem if problem == str(exc) else f"{problem} ({exc})",
                         duration_ms=ms, outcome="retry")
            reason = problem if problem == str(exc) else f"{problem} ({exc})"
            return Result(job.id, False, error=reason, step=step, retry_later=True, duration_ms=ms)
        logger.error("file_failed", step=step, reason=f"{type(exc).__name__}: {exc}", duration_ms=ms,
                     outcome="failed", exc_info=True)
        return Result(job.id, False, error=f"{type(exc).__name__}: {exc}", step=step, duration_ms=ms)
    ms = round((time.perf_counter() - t0) * 1000, 1)
    logger.info("file_rendered", outputs=len(written), duration_ms=ms, outcome="ok")
    return Result(job.id, True, outputs=tuple(written), duration_ms=ms)


def _check_source(job: Job) -> None:
    """A file of processing/ is read by its path (the decoders take one): its folders must
    be real ones now, not a link someone swapped processing/ (or a folder in it) for.
    The window left, between this check and the decoder's open, is microseconds; the
    supervisor's moves are by descriptor and have none."""
    if job.src.is_relative_to(job.folder.processing):  # not a file of `hotfolder process`
        nofollow.reachable(job.src.parent)


def _write_outputs(job: Job, outputs, written: list[str], logger) -> None:
    """Each output written atomically into its folder, opened once by descriptor
    (spool.opened_folder): an output folder swapped for a link raises FolderSwapped and
    receives nothing, and a swap after the open cannot redirect a write. If writing
    fails for a reason of the folder (OUTPUT_PROBLEMS), what was written is removed (by
    the same descriptor): the file comes back later, and leaves no incomplete set."""
    folder = job.folder
    with spool.opened_folder(folder.output, Path(job.rel).parent) as out_dir:
        wanted = [out_dir.path / names.output_name(out.rendition, Path(job.rel).name, out.ext, folder.name)
                  for out in outputs]
        for name in wanted:
            if len(os.fsencode(name.name)) > spool.NAME_MAX:
                raise spool.NameTooLong(name.name)
        paths = names.reserve(folder, job.rel, wanted)
        try:
            for out, path in zip(outputs, paths):
                t1 = time.perf_counter()
                spool.write_atomic_at(out_dir, path.name, out.data, folder.output_mode, folder.output_group,
                                      tag=temp_tag(job), token=folder.temp_token)
                written.append(path.relative_to(folder.output).as_posix())
                logger.info("rendition_written", rendition=out.rendition.name, output=written[-1],
                            width=out.width, height=out.height, bytes=len(out.data),
                            duration_ms=round((time.perf_counter() - t1) * 1000, 1), outcome="ok")
                for note in out.notes:
                    logger.warning("rendition_note", rendition=out.rendition.name, output=written[-1], note=note)
            # One fsync of the folder makes all the renames durable, before the result is
            # reported and the original leaves processing/.
            os.fsync(out_dir.fd)
        except Exception as exc:
            if spool.output_problem(exc):
                for path in paths[:len(written)]:
                    spool.remove_at(out_dir, path.name)
            raise


def _exit_when_orphaned(main_pid: int) -> None:
    """Workers leave by themselves when the main process dies (even by SIGKILL).

    Our parent is the forkserver, which exits when the main process is gone; we
    are then re-parented. Checking the main pid as well covers both orders.
    """
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent or not _exists(main_pid):
            os._exit(3)


def _exists(pid: int) -> bool:
    """Alive, and not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def consume(slot: int, tasks, results, counters: Counters, mark, stopping, parent: int, log_format: str,
            log_level: str = "info") -> None:
    """The worker process: Queue.get() until the None sentinel.

    `mark` is this worker's own shared Value, set with each count (see stats);
    `stopping` is a shared flag the pool raises when it drains: a job taken after it
    is declined, not started, so a stop never begins new work."""
    # The pool decides when we stop: SIGTERM/SIGINT to the process group
    # (Ctrl-C, systemd's KillMode=mixed) must not cut a render in half.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.setup(log_format, log_level, role="worker", slot=slot)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    pipeline.warm_up()  # codecs and libvips loaded before the first file, not during it
    results.put(("ready", slot, os.getpid()))
    while True:
        job = tasks.get()
        if job is None:
            break
        if stopping.value:
            results.put(("declined", slot, job.id))
            continue
        results.put(("start", slot, job.id))
        result = process_one(job)
        counted = True
        if result.final:  # counted when it really ends
            verdict = "processed" if result.ok else "failed"
            try:
                counters.count(verdict, job.counted, mark, job.id if result.ok else -job.id, folder=job.folder)
            except LockStuck:
                counted = False  # the pool counts it once it has rebuilt the counters
                log.get().error("counter_lock_stuck", reason="a worker died holding the counter lock")
        results.put(("done", slot, result, counted))
