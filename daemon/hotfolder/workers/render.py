"""One job in a worker: render the original, reserve the output names, write the outputs.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from hotfolder.engine import pipeline
from hotfolder.jobs import Job, Result, temp_tag
from hotfolder.runtime import log
from hotfolder.spool import atomic, folders, fsnames, nofollow, oserrors
from hotfolder.spool import owners as names
from hotfolder.workers import truncation

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
    except (fsnames.NameTooLong, names.NameClash) as exc:
        ms = round((time.perf_counter() - t0) * 1000, 1)
        logger.warning("file_failed", step="write", reason=str(exc), duration_ms=ms, outcome="failed")
        return Result(job.id, False, error=str(exc), step="write", duration_ms=ms)
    except pipeline.InputError as exc:
        ms = round((time.perf_counter() - t0) * 1000, 1)
        logger.warning("file_failed", step=exc.step, reason=str(exc), duration_ms=ms, outcome="failed")
        return Result(job.id, False, error=str(exc), step=exc.step, duration_ms=ms,
                      cut_short=truncation.cut_short(exc.reason, job.src))
    except pipeline.RecipeError as exc:  # every file of the folder would fail alike: this one waits
        ms = round((time.perf_counter() - t0) * 1000, 1)
        logger.info("recipe_unusable", reason=str(exc), duration_ms=ms, outcome="retry")
        return Result(job.id, False, error=str(exc), step="render", recipe=True, duration_ms=ms)
    except Exception as exc:  # noqa: BLE001 - report every failure; the daemon goes on
        ms = round((time.perf_counter() - t0) * 1000, 1)
        problem = oserrors.output_problem(exc) if step == "write" else None
        if isinstance(exc, names.RecordsUnwritable):
            problem = str(exc)
        transient = transient_reason(exc) if step == "render" else None
        if transient:
            logger.warning("render_interrupted", step=step, reason=transient, duration_ms=ms, outcome="retry")
            return Result(job.id, False, error=transient, step=step, transient=True, duration_ms=ms)
        if isinstance(exc, nofollow.FolderSwapped):  # processing/ or output/ swapped for a link
            problem = str(exc)
        if problem:
            reason = problem if problem == str(exc) else f"{problem} ({exc})"
            logger.error("output_unwritable", step=step, reason=reason, duration_ms=ms, outcome="retry")
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
    (spool.folders.opened_folder): an output folder swapped for a link raises FolderSwapped and
    receives nothing, and a swap after the open cannot redirect a write. If writing
    fails for a reason of the folder (OUTPUT_PROBLEMS), what was written is removed (by
    the same descriptor): the file comes back later, and leaves no incomplete set."""
    folder = job.folder
    with folders.opened_folder(folder.output, Path(job.rel).parent) as out_dir:
        wanted = [out_dir.path / names.output_name(out.rendition, Path(job.rel).name, out.ext, folder.name)
                  for out in outputs]
        for name in wanted:
            if len(os.fsencode(name.name)) > fsnames.NAME_MAX:
                raise fsnames.NameTooLong(name.name)
        paths = names.reserve(folder, job.rel, wanted)
        try:
            for out, path in zip(outputs, paths, strict=True):  # reserve gives one path per output
                t1 = time.perf_counter()
                atomic.write_atomic_at(out_dir, path.name, out.data, folder.output_mode, folder.output_group,
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
            if oserrors.output_problem(exc):
                for path in paths[:len(written)]:
                    atomic.remove_at(out_dir, path.name)
            raise
