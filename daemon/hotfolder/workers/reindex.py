"""Rebuilding the index of originals from what the archives hold (issue 23: it survives a
deleted database and an upgrade): each archived original read once, hashed, decoded as its
folder's recipe would (the look does not depend on the draft) and recorded as rendered.

What an archive cannot say is left unknown: the outputs (they may have clash suffixes) and
the name the file was dropped under when archive/ had to change it (`a_1.jpg`). Its time
is when it was archived (the rename set its ctime), so duplicate_window holds as before.

Used by `hotfolder index rebuild` and, through the pool, by the daemon when it finds its
index made anew while originals were archived (`reindex_one` as a worker's job).
"""
from __future__ import annotations

import os
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotfolder.config.model import Config, Folder
from hotfolder.engine import fingerprint, pipeline, unopened
from hotfolder.jobs import PASSED_OVER, Job, Result
from hotfolder.spool import fsnames
from hotfolder.spool.folders import archived_files
from hotfolder.state import originals
from hotfolder.state.originals import RENDERED, Entry
from hotfolder.workers.duplicates import subfolder_scope


def reindex(folder: Folder, path: Path, index, accepted_formats, max_image_pixels: int) -> bool:
    """Index one archived original; False when its bytes were indexed already."""
    original = fingerprint.read_original(path)
    assert folder.archive is not None
    rel = path.relative_to(folder.archive).as_posix()
    # Known in its own subfolder where that is the scope: the same bytes archived under
    # clients/alice and clients/bob are two rows (a review: the rebuild kept one of them).
    subdir = subfolder_scope(folder, rel)
    if index.known(original.content, folder.name, subdir):
        return False
    opened = pipeline.open_source(path, folder.renditions, accepted_formats=accepted_formats,
                                  max_image_pixels=max_image_pixels, animation=folder.animation, raw=folder.raw,
                                  folder=folder.name, data=original.data)
    index.record(Entry(original.content, 0, RENDERED, folder.name, rel, original.size, look=opened.look,
                       archived=rel, time=os.stat(path).st_ctime, subdir=subdir))
    return True


def reindex_one(job: Job) -> Result:
    """A worker's job of the daemon's rebuild (Job.reindex): never an original's end."""
    t0 = time.perf_counter()
    assert job.folder.index_dir is not None
    try:
        if (kind := not_an_original(job.src)) is None:
            added = reindex(job.folder, job.src, originals.opened(job.folder.index_dir), job.accepted_formats,
                            job.max_image_pixels)
    except Exception as exc:  # noqa: BLE001 - an archived file that cannot be read is left out, said
        if (kind := not_an_original(job.src, failed=True)) is None:
            return Result(job.id, False, error=f"{type(exc).__name__}: {exc}", step="reindex", indexed=True,
                          duration_ms=round((time.perf_counter() - t0) * 1000, 1))
    if kind is not None:  # no original (a README.txt, a link put there by hand): said apart, not unreadable
        return Result(job.id, False, error=WHY[kind], step=PASSED_OVER, indexed=True,
                      duration_ms=round((time.perf_counter() - t0) * 1000, 1))
    return Result(job.id, added, step="reindex", indexed=True,
                  duration_ms=round((time.perf_counter() - t0) * 1000, 1))


LINK = "symbolic link"
NOT_A_FILE = "not a file"
NOT_AN_IMAGE = "not an image"
WHY = {LINK: "a symbolic link: never followed, not an original (put the file itself there to have it indexed)",
       NOT_A_FILE: "not a file but a FIFO, socket or device: not an original",
       NOT_AN_IMAGE: "not an image (neither its name nor its first bytes are an image format's): not an original"}


@dataclass(frozen=True)
class Rebuilt:
    """What `hotfolder index rebuild` did of the archives' entries."""
    added: int = 0  # originals indexed
    known: int = 0  # originals whose bytes were indexed already
    failed: int = 0  # originals that could not be read (a JPEG cut short): exit 1
    passed_over: dict[str, int] = field(default_factory=dict)  # no originals, by kind (LINK, ...): said, exit 0


def not_an_original(path: Path, failed: bool = False) -> str | None:
    """Why the archived entry `path` is no original (LINK, NOT_A_FILE; NOT_AN_IMAGE once its
    read `failed`), or None: an original, readable or not. Put there by hand (a README.txt, a
    link to another disk): the daemon archives only files it took, and never follows a link."""
    try:
        st = os.lstat(path)
    except OSError:
        return None  # gone, or a folder on the way swapped: the read says what
    if stat.S_ISLNK(st.st_mode):
        return LINK
    if not stat.S_ISREG(st.st_mode):
        return NOT_A_FILE
    return NOT_AN_IMAGE if failed and not unopened.could_be_image(path) else None


def reindex_config(config: Config, progress=None) -> Rebuilt:
    """`hotfolder index rebuild`: every folder's archive, in this process, into state_dir's
    index or (cluster mode) the cluster's."""
    added = known = failed = 0
    passed_over: Counter[str] = Counter()

    def said(folder: Folder, path: Path, why: str) -> None:
        if progress is not None:
            progress(f"{folder.name}: {fsnames.display(str(path))}: {why}")

    shared = None
    away: tuple[type[BaseException], ...] = ()
    if config.cluster.enabled:
        from hotfolder.cluster.originals import shared as cluster_index  # redis: cluster mode only
        from hotfolder.cluster.passed import AWAY

        shared = cluster_index(config.cluster)
        away = AWAY
    for folder in config.folders:
        index: Any
        if shared is not None:
            index = shared
        elif folder.index_dir is not None:
            index = originals.opened(folder.index_dir)
        else:
            continue
        for path in archived_files(folder):
            if (kind := not_an_original(path)) is not None:
                passed_over[kind] += 1
                said(folder, path, WHY[kind])
                continue
            try:
                if reindex(folder, path, index, config.accepted_formats, config.max_image_pixels):
                    added += 1
                else:
                    known += 1
            except away:  # the cluster's Redis, not this file: the command says it once (each photo
                raise  # was said `unreadable`, its ConnectionError a line, under "index rebuilt")
            except Exception as exc:  # noqa: BLE001 - said, and the rest goes on
                if (kind := not_an_original(path, failed=True)) is not None:
                    passed_over[kind] += 1
                    said(folder, path, WHY[kind])
                    continue
                failed += 1
                said(folder, path, f"{type(exc).__name__}: {exc}")
    return Rebuilt(added, known, failed, dict(passed_over))
