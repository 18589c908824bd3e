"""One job in a worker: render the original, reserve the output names, write the outputs
(and the folder's manifest with them: workers/manifest.py).
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from hotfolder.engine import fingerprint, pipeline
from hotfolder.jobs import Job, Result, temp_tag
from hotfolder.runtime import log
from hotfolder.spool import atomic, folders, fsnames, nofollow, oserrors
from hotfolder.spool import owners as names
from hotfolder.workers import manifest

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
        rendered = pipeline.render_file(
            job.src, folder.renditions,
            accepted_formats=job.accepted_formats,
            max_image_pixels=job.max_image_pixels,
            animation=folder.animation,
            raw=folder.raw,
            threads=job.threads,
            folder=folder.name,
            placeholder=folder.manifest is not None,
        )
        step = "write"
        described = _write_outputs(job, rendered, written, logger)
    except (fsnames.NameTooLong, names.NameClash) as exc:
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
    return Result(job.id, True, outputs=tuple(written), duration_ms=ms, manifest=described)


def _check_source(job: Job) -> None:
    """A file of processing/ is read by its path (the decoders take one): its folders must
    be real ones now, not a link someone swapped processing/ (or a folder in it) for.
    The window left, between this check and the decoder's open, is microseconds; the
    supervisor's moves are by descriptor and have none."""
    if job.src.is_relative_to(job.folder.processing):  # not a file of `hotfolder process`
        nofollow.reachable(job.src.parent)


def _write_outputs(job: Job, rendered: pipeline.Rendered, written: list[str], logger) -> str:
    """Each output written atomically into its folder, opened once by descriptor
    (spool.folders.opened_folder): an output folder swapped for a link raises FolderSwapped and
    receives nothing, and a swap after the open cannot redirect a write. If writing
    fails for a reason of the folder (OUTPUT_PROBLEMS), what was written is removed (by
    the same descriptor): the file comes back later, and leaves no incomplete set.

    With a `manifest:`, its name is reserved with the outputs' (a clash is settled the
    same way); an earlier manifest at that name is removed, durably, before any output
    is replaced, and the new one written after the last: its JSON is returned ("": none)."""
    folder, outputs = job.folder, rendered.outputs
    src_name = Path(job.rel).name
    with folders.opened_folder(folder.output, Path(job.rel).parent) as out_dir:
        wanted = [out_dir.path / names.output_name(out.rendition, src_name, out.ext, folder.name)
                  for out in outputs]
        if folder.manifest is not None:
            wanted.append(out_dir.path / names.manifest_name(folder.manifest, src_name, folder.name))
        for name in wanted:
            if len(os.fsencode(name.name)) > fsnames.NAME_MAX:
                raise fsnames.NameTooLong(name.name)
        paths = names.reserve(folder, job.rel, wanted)
        manifest_at = _without_stale_manifest(out_dir, paths.pop()) if folder.manifest is not None else None
        described = ""
        try:
            for out, path in zip(outputs, paths, strict=True):  # reserve gives one path per output
                t1 = time.perf_counter()
                atomic.write_atomic_at(out_dir, path.name, out.data, folder.output_mode, folder.output_group,
                                      tag=temp_tag(job), token=folder.temp_token)
                written.append(path.relative_to(folder.output).as_posix())
                logger.info("rendition_written", rendition=out.rendition.name, output=written[-1],
                            width=out.width, height=out.height, bytes=len(out.data), quality=out.quality,
                            score=None if out.score is None else round(out.score, 2), scored=out.score_measured,
                            duration_ms=round((time.perf_counter() - t1) * 1000, 1), outcome="ok")
                for note in out.notes:
                    logger.warning("rendition_note", rendition=out.rendition.name, output=written[-1], note=note)
            # One fsync of the folder makes all the renames durable, before the result is
            # reported and the original leaves processing/.
            os.fsync(out_dir.fd)
            if manifest_at is not None:
                described = _write_manifest(job, rendered, written, out_dir, manifest_at, logger)
        except Exception as exc:
            if oserrors.output_problem(exc):
                for path in paths[:len(written)]:
                    atomic.remove_at(out_dir, path.name)
            raise
    return described


def _without_stale_manifest(out_dir: nofollow.Opened, path: Path) -> str:
    """The manifest's name, with an earlier manifest there removed durably (the folder
    synced) before any output of this version replaces one of that version's."""
    try:
        os.unlink(path.name, dir_fd=out_dir.fd)
    except FileNotFoundError:
        return path.name
    os.fsync(out_dir.fd)
    return path.name


def _write_manifest(job: Job, rendered: pipeline.Rendered, written: list[str], out_dir: nofollow.Opened,
                    name: str, logger) -> str:
    """The manifest, written atomically once every output is in place (and synced); its JSON."""
    with open(job.src, "rb") as original:  # the content hash: the bytes the decoder read, read again
        size = os.fstat(original.fileno()).st_size
        content_hash = fingerprint.content_hash_of(original)
    text = manifest.text(manifest.document(Path(job.rel).name, content_hash, size, rendered, written))
    folder = job.folder
    atomic.write_atomic_at(out_dir, name, text.encode("utf-8"), folder.output_mode, folder.output_group,
                           tag=temp_tag(job), token=folder.temp_token)
    os.fsync(out_dir.fd)
    logger.info("manifest_written", manifest=(out_dir.path / name).relative_to(folder.output).as_posix(),
                bytes=len(text), outcome="ok")
    return text
