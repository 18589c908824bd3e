"""One job in a worker: choose the renditions that apply (workers/choice.py), render them,
reserve the output names (workers/naming.py, spool/owners.py), write the outputs (and the
folder's manifest with them: workers/manifest.py). How an attempt that does not render
ends, and says so: workers/endings.py.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from hotfolder import nameparts
from hotfolder.engine import fingerprint, pipeline
from hotfolder.jobs import Had, Job, Result, Superseded, temp_tag
from hotfolder.likeness import Naming
from hotfolder.recipes import sequence
from hotfolder.recipes.sequence import Numbers
from hotfolder.runtime import log
from hotfolder.spool import atomic, folders, fsnames, nofollow, oserrors
from hotfolder.spool import owners as names
from hotfolder.spool.fsnames import display
from hotfolder.state import originals
from hotfolder.workers import manifest, naming, provenance, untouched
from hotfolder.workers.choice import choose, subdir_of
from hotfolder.workers.duplicates import Sameness
from hotfolder.workers.endings import Ending


def process_one(job: Job, numbers: Numbers | None = None, index=None,
                fence: Callable[[], None] | None = None) -> Result:
    """Choose the renditions that apply (workers/choice.py), render them, and write the
    outputs atomically; unless the index of originals (the folder's `index_dir`, or
    `index`: a cluster's) knows its bytes or its look (workers/duplicates.py). `numbers`:
    where `{seq}` counts (default: the folder's state_dir). `fence`, called before the
    first output is written and before a failure is reported, raises Superseded when this
    attempt is no longer the job's (cluster/tasks.py): it propagates, nothing written or said."""
    t0 = time.perf_counter()
    folder = job.folder
    logger = log.get().bind(file=job.rel, folder=folder.name, worker_pid=os.getpid(), attempt=job.attempt,
                            threads=job.threads)
    pipeline.configure(job.max_image_pixels)
    end = Ending(job, logger, t0, fence)
    written: list[str] = []
    step = "read"
    same: Sameness | None = None
    original: fingerprint.Original | None = None
    record = 0
    try:
        _check_source(job)
        # Read once: hashed, then decoded from memory, or through the descriptor it was read by
        original = fingerprint.read_original(job.src, keep=True)
        if index is None and folder.index_dir is not None:
            index = originals.opened(folder.index_dir)
        if index is not None:
            same = Sameness(job, original, index, logger)
            if (ended := same.claim(t0)) is not None:
                return ended
        choice = end.choice = choose(folder, job.src, job.rel, accepted_formats=job.accepted_formats,
                                     max_image_pixels=job.max_image_pixels, sidecar=_sidecar(job),
                                     numbers=numbers or _numbers(folder), original=original,
                                     holder=_holder(job, original), seq=job.seq, without=job.without)
        for note in choice.notes:
            logger.warning("file_note", note=note)
        chosen = tuple(r for r in choice.selection.chosen if r.name not in job.without)
        if not chosen:  # rerender --rendition: none asked for applies, though others do (no failure)
            return end.not_asked() if job.only and choice.selection.chosen else end.unmatched()
        step = "render"
        opened = pipeline.open_source(
            original.reading, chosen,
            accepted_formats=job.accepted_formats,
            max_image_pixels=job.max_image_pixels,
            animation=folder.animation,
            raw=folder.raw,
            threads=job.threads,
            folder=folder.name,
            described=choice.described,
            data=original.data,
            name=job.src.name,
        )
        if same is not None and (ended := same.judge(opened.look, t0, tuple(r.name for r in chosen))) is not None:
            return ended
        if same is not None and same.only is not None:  # a look-alike: what the earlier photo did not get
            chosen = tuple(r for r in chosen if r.name in same.only)
        rendered = pipeline.render_with_facts(opened, chosen, placeholder=folder.manifest is not None)
        step = "write"
        end.needed = sum(len(out.data) for out in rendered.outputs)
        if fence is not None:
            fence()
        with _prover(job, same) as proving:
            wrote = _write_outputs(job, rendered, written, logger, choice.values,
                                   same.generation if same else job.generation, original,
                                   fresh=same is not None and not same.again
                                   and same.naming != Naming.NEW_VERSION
                                   and folder.on_name_clash != "replace",
                                   index=proving)
        described, generation = wrote.described, wrote.generation
        if same is not None and generation != same.generation:
            same.renumbered(generation)
        names_said = ""
        if same is not None:
            kept = same.written(wrote.taken, folder)
        else:
            kept, names_said = _said(wrote.taken, folder, logger)
        record = (same.recorded(tuple(written), wrote.hashes, tuple(o.rendition.name for o in rendered.outputs),
                                choice.seq) if same is not None else 0)
    except Superseded:
        raise
    except RenderedSince as exc:
        return end.kept(str(exc))
    except (fsnames.NameTooLong, names.NameClash, naming.EmptyName) as exc:
        return end.failed(str(exc), "write")
    except pipeline.InputError as exc:
        return end.unreadable(exc)
    except pipeline.RecipeError as exc:
        return end.unusable(exc)
    except Exception as exc:  # noqa: BLE001 - report every failure; the daemon goes on
        return end.unexpected(exc, step)
    finally:
        if same is not None:
            _release(same, logger)
        if original is not None:
            original.close()
    logger.info("file_rendered", outputs=len(written), duration_ms=end.ms(), outcome="ok")
    return Result(job.id, True, outputs=tuple(written), renditions=tuple(o.rendition.name for o in rendered.outputs),
                  duration_ms=end.ms(), match=same.match if same else None,
                  naming=same.naming if same else Naming.FIRST, record=record, manifest=described, kept=kept,
                  output_hashes=wrote.hashes, names_said=names_said, seq=choice.seq, listed_before=wrote.listed_before,
                  notes=tuple((o.rendition.name, note) for o in rendered.outputs for note in o.notes))


def _holder(job: Job, original: fingerprint.Original) -> int | None:
    """Who a `{seq}` is held for: a file of processing/, by its identity there (another
    attempt after a kill gets its number again); a file of `process` or rerender, no one."""
    if not job.src.is_relative_to(job.folder.processing):
        return None
    return originals.job_key(job.folder.name, job.rel, original.inode, original.mtime_ns)


def _numbers(folder) -> Numbers | None:
    return sequence.local(folder.state_dir) if folder.state_dir is not None else None


def _sidecar(job: Job) -> Path | None:
    """The XMP sidecar claimed with the file (beside it in processing/), if any."""
    if job.sidecar is None:
        return None
    return job.src.parent / Path(job.sidecar).name


def _release(same: Sameness, logger) -> None:
    """A render that did not end in its record: its bytes may be claimed again. Said, never
    raised (a claim left behind is taken over once its file has left processing/)."""
    try:
        same.release()
    except Exception as exc:  # noqa: BLE001
        logger.warning("duplicate_claim_kept", reason=f"{type(exc).__name__}: {exc}")


def _check_source(job: Job) -> None:
    """A file of processing/ is read by its path (the decoders take one): its folders must
    be real ones now, not a link someone swapped processing/ (or a folder in it) for.
    The window left, between this check and the decoder's open, is microseconds; the
    supervisor's moves are by descriptor and have none."""
    if job.src.is_relative_to(job.folder.processing):  # not a file of `hotfolder process`
        nofollow.reachable(job.src.parent)


@contextlib.contextmanager
def _prover(job: Job, same: Sameness | None):
    """What proves outputs of no owner record this file's own (workers/provenance.py): a new
    version's index; rerender's, read only (Job.proved_by: an archived original, the photo its
    rows are of); else nothing (a first drop, a different photo, `process`: none of its rows)."""
    if same is not None:
        yield same.index if same.naming == Naming.NEW_VERSION else None
    elif job.proved_by is not None:
        with originals.recorded_outputs(job.proved_by) as recorded:
            yield recorded
    else:
        yield None


def _said(taken: list[names.Taken], folder, logger) -> tuple[tuple[str, ...], str]:
    """A file rendered without the index (`process`, `rerender`): outputs written beside ones
    no record names, or proved its own, are said, as a drop's are (provenance.worth_a_line).
    The outputs kept, and what was said ("" nothing: for the command to say again)."""
    reason, fields = provenance.said(taken, folder, Naming.FIRST)
    if not provenance.worth_a_line(taken):
        reason = ""
    if reason:
        logger.info("outputs_kept", reason=reason, **fields)
    return tuple(fields.get("kept", ())), reason


class Wrote(NamedTuple):
    described: str  # the manifest's JSON ("": none)
    generation: int  # the photo of its name the outputs were written as
    taken: list[names.Taken]  # where each output (and the manifest, last) went, and what that replaced
    hashes: bytes  # the outputs' content hashes, then the manifest's (state/originals.Entry.output_hashes)
    listed_before: tuple[Had, ...] = ()  # jobs.Result.listed_before


def _write_outputs(job: Job, rendered: pipeline.Rendered, written: list[str], logger, values, generation: int,
                   original: fingerprint.Original, fresh: bool = False, index=None) -> Wrote:
    """Each output written atomically into its folder (workers/naming.py says which), each
    folder opened once by descriptor (spool.folders.opened_folder): an output folder
    swapped for a link raises FolderSwapped and receives nothing, and a swap after the
    open cannot redirect a write; one missing while its share is not mounted is not made
    on the disk beneath (spool/shares.py: PlaceGone). The temp file of an output that goes elsewhere than the
    file's own subfolder is staged in the output folder itself, where a killed job's are
    looked for. If writing fails for a reason of the folder (OUTPUT_PROBLEMS), what was
    written is removed (by the same descriptors): the file comes back later, and leaves
    no incomplete set.

    With a `manifest:`, its name (in the file's own subfolder) is reserved with the outputs'
    (a clash is settled the same way); an earlier manifest at that name is removed, durably,
    before any output is replaced, and the new one written after the last: its JSON is
    returned ("": none), with the generation the outputs were written as (`fresh`: a photo
    the index knows none of the outputs of: spool/owners.reserve_new). `index`: a new version's,
    which proves outputs no record names to be its own (workers/provenance.py)."""
    folder, outputs = job.folder, rendered.outputs
    rels = [naming.output_rel(out, job.rel, folder.name, values) for out in outputs]
    for out, rel in zip(outputs, rels, strict=True):  # each part fits; the whole may not (a review)
        if len(os.fsencode(str(folder.output / rel))) >= fsnames.PATH_MAX:  # before any folder is made
            raise fsnames.PathTooLong(str(folder.output / rel), out.rendition.name)
    home = subdir_of(job.rel)
    with contextlib.ExitStack() as stack:
        dirs: dict[str, nofollow.Opened] = {}
        for d in dict.fromkeys([*(_parent(r) for r in rels), *([home] if folder.manifest is not None else [])]):
            dirs[d] = stack.enter_context(folders.opened_folder(folder.output, d, folder.state_dir))
        stage = dirs.get(home) or stack.enter_context(folders.opened_folder(folder.output, "", folder.state_dir))
        wanted = [dirs[_parent(r)].path / nameparts.name(r) for r in rels]
        if folder.manifest is not None:
            name = names.manifest_name(folder.manifest, nameparts.name(job.rel), folder.name)
            if len(os.fsencode(name)) > fsnames.NAME_MAX:
                raise fsnames.NameTooLong(name, manifest=True)
            wanted.append(dirs[home].path / name)
        source = job.src.absolute() if job.outside else None
        proven = ({} if index is None else
                  provenance.proven(folder, job.rel, generation, wanted, index,
                                    manifest=wanted[-1] if folder.manifest is not None else None))
        taken, generation = names.reserve_told(folder, job.rel, wanted, generation,
                                               claimed_ns=original.ctime_ns if fresh else 0, source=source,
                                               proven=proven)
        paths = [t.path for t in taken]
        # --rendition: the outputs left as they are too (a newer drop rendered by a daemon not yet
        # reloaded wrote those, and none of the renditions asked for: the old version's beside them)
        if job.kept_since_ns and (newer := _written_since(paths + untouched.paths(folder.output, job.had),
                                                          job.kept_since_ns)) is not None:
            raise RenderedSince(f"{display(newer.relative_to(folder.output).as_posix())} was written after this "
                                f"rerender started (a newer drop of the name, rendered by the daemon): kept as it is")
        # rerender --rendition lists the outputs left as they are from the manifest before, when proved
        previous = untouched.read_previous(dirs[home].fd, paths[-1].name) if job.only and folder.manifest else None
        before = () if job.had or previous is None else untouched.listed_before(previous,
                                                                               [r.name for r in folder.renditions])
        manifest_at = _without_stale_manifest(dirs[home], paths.pop()) if folder.manifest is not None else None
        described = ""
        hashes: list[bytes] = []
        done: list[tuple[nofollow.Opened, str]] = []
        try:
            for out, rel, path in zip(outputs, rels, paths, strict=True):  # reserve gives one path per output
                t1 = time.perf_counter()
                out_dir = dirs[_parent(rel)]
                atomic.write_atomic_at(out_dir, path.name, out.data, folder.output_mode, folder.output_group,
                                       tag=temp_tag(job), token=folder.temp_token,
                                       stage=None if out_dir is stage else stage)
                done.append((out_dir, path.name))
                written.append(path.relative_to(folder.output).as_posix())
                hashes.append(provenance.output_hash(out.data))
                logger.info("rendition_written", rendition=out.rendition.name, output=written[-1],
                            width=out.width, height=out.height, bytes=len(out.data), quality=out.quality,
                            score=None if out.score is None else round(out.score, 2), scored=out.score_measured,
                            duration_ms=round((time.perf_counter() - t1) * 1000, 1), outcome="ok")
                for note in out.notes:
                    logger.warning("rendition_note", rendition=out.rendition.name, output=written[-1], note=note)
            # One fsync of each folder makes its renames durable, before the result is
            # reported and the original leaves processing/.
            for out_dir in dirs.values():
                os.fsync(out_dir.fd)
            if manifest_at is not None:
                described = _write_manifest(job, rendered, written, dirs[home], manifest_at, original, logger,
                                            previous, values.get("taken"))
                hashes.append(provenance.output_hash(described.encode("utf-8")))
        except Exception as exc:
            if oserrors.output_problem(exc):
                for out_dir, name in done:
                    atomic.remove_at(out_dir, name)
            raise
    return Wrote(described, generation, taken, b"".join(hashes), before)


class RenderedSince(Exception):
    """rerender: an output of this original was written since the run started (jobs.Job.kept_since_ns)."""


def _written_since(paths: list[Path], since_ns: int) -> Path | None:
    """The first of `paths` written after `since_ns`: a newer drop's (rerender, run beside the
    daemon, put the old version back over the new one's outputs: an attack round)."""
    return next((path for path in paths if (written := names.mtime_ns(path)) is not None and written > since_ns), None)


def _parent(rel: str) -> str:
    return nameparts.parent(rel)


def _without_stale_manifest(out_dir: nofollow.Opened, path: Path) -> str:
    """The manifest's name, with an earlier manifest there removed durably (the folder
    synced) before any output of this version replaces one of that version's."""
    try:
        os.unlink(path.name, dir_fd=out_dir.fd)
    except FileNotFoundError:
        return path.name
    except OSError as exc:  # named by its path: the bare name said "a file in output/", the wrong folder
        raise OSError(exc.errno, exc.strerror, str(out_dir.path / path.name)) from exc
    os.fsync(out_dir.fd)
    return path.name


def _write_manifest(job: Job, rendered: pipeline.Rendered, written: list[str], out_dir: nofollow.Opened,
                    name: str, original: fingerprint.Original, logger, previous: bytes | None = None,
                    taken: dt.datetime | None = None) -> str:
    """The manifest, written atomically once every output is in place (and synced); its JSON.
    The source's hash and size are those of the bytes read once (`original`), no second read.
    rerender --rendition: with the outputs left as they are (workers/untouched.py; `previous`:
    the manifest this one replaces). `taken`: the `{taken}` the names were made with, the
    camera's clock corrected (the folder's clock_offsets: workers/choice.corrected); the
    manifest says it where the photo says a date (the decoder's reading gave the camera's
    own, an hour off its other camera's in a wedding gallery sorted by it)."""
    folder = job.folder
    if taken is not None and rendered.source.taken is not None:
        rendered = dataclasses.replace(rendered, source=dataclasses.replace(rendered.source,
                                                                            taken=taken.isoformat()))
    doc = manifest.document(nameparts.name(job.rel), original.content, original.size, rendered, written,
                            subdir_of(job.rel))
    if job.only:
        doc = untouched.document(doc, [o.rendition.name for o in rendered.outputs], written, job.had,
                                 job.had_manifest, previous, folder.output, subdir_of(job.rel),
                                 [r.name for r in folder.renditions], job.only)
    listed = {entry["rendition"] for entry in doc["outputs"]}
    doc = manifest.published(doc, [r for r in folder.renditions if r.name in listed])
    text = manifest.text(doc)
    atomic.write_atomic_at(out_dir, name, text.encode("utf-8"), folder.output_mode, folder.output_group,
                           tag=temp_tag(job), token=folder.temp_token)
    os.fsync(out_dir.fd)
    logger.info("manifest_written", manifest=(out_dir.path / name).relative_to(folder.output).as_posix(),
                bytes=len(text), outcome="ok")
    return text
