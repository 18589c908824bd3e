"""Recovery at start: our stale temp files removed, cut-short failure records finished,
and what a crash left in processing/ adopted.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.sidecars import image_of, is_sidecar, sidecar_of
from hotfolder.spool import nofollow
from hotfolder.spool.atomic import is_our_temp
from hotfolder.spool.fsnames import display, file_name, name_from_hex
from hotfolder.spool.moves import Claimed
from hotfolder.spool.nofollow import exists_at, unlink_at
from hotfolder.spool.records import DUPLICATE_RECORD, SIDECAR, read_record
from hotfolder.spool.xmp_sidecars import follow


@dataclass
class Recovery:
    in_processing: int = 0  # claimed files a crash left: rendered again where they are
    temp_removed: int = 0
    sidecars_finished: int = 0
    problems: list[str] = field(default_factory=list)  # what could not be put right, and why


def recover(folder: Folder) -> Recovery:
    """At start: the state a crash may have left, put right, never touching a file that
    is not ours (ours carry the folder's temp token; see temp_prefix).

    - our temp outputs never renamed to their final name are deleted;
    - a failure record a crash left under its temp name is finished, or deleted if its
      original never reached failed/;
    - originals left in processing/ stay there: the ledger adopts them, so they are
      rendered again before a newer file of the same name (drop order is kept).
    What cannot be put right (permissions, an immutable file) is reported and skipped.
    """
    result = Recovery()
    for path in nofollow.walk(folder.output):
        if is_our_temp(path.name, folder.temp_token):
            try:
                _unlink(path)
                result.temp_removed += 1
            except OSError as exc:
                result.problems.append(f"cannot remove the temp output {display(str(path))}: {exc.strerror or exc}")
    for root, moved_as, sidecar in ((folder.failed, "failed_as", SIDECAR),
                                    (folder.duplicates, "duplicate_as", DUPLICATE_RECORD)):
        for path in nofollow.walk(root) if root is not None else ():
            if is_our_temp(path.name, folder.temp_token):
                try:
                    result.sidecars_finished += _finish_sidecar(path, moved_as, sidecar)
                except OSError as exc:
                    result.problems.append(f"cannot finish the record {display(str(path))}: {exc.strerror or exc}")
    for path in list(sidecars_alone(folder)):  # its image left before a crash: it waits in the inbox again
        try:
            follow(path, (folder.inbox / path.relative_to(folder.processing)).parent, path.name)
        except OSError as exc:
            result.problems.append(f"cannot give the sidecar {display(str(path))} back to the inbox: "
                                   f"{exc.strerror or exc}")
    result.in_processing = sum(1 for _ in claimed_files(folder))
    _prune_empty_dirs(folder.processing)
    return result


def _unlink(path: Path) -> None:
    with nofollow.opened(path.parent) as parent:
        unlink_at(parent, path.name)


def _finish_sidecar(temp: Path, moved_as: str = "failed_as", sidecar: str = SIDECAR) -> int:
    """A temp record (failure, or duplicate): give it its final name if its original reached
    its folder. The name it gives (`moved_as`) is data: one name in this folder, or nothing."""
    record = read_record(temp) or {}
    original = file_name(name_from_hex(record.get(moved_as)))
    with nofollow.opened(temp.parent) as here:
        if original is not None and exists_at(here, original) and not exists_at(here, original + sidecar):
            os.rename(temp.name, original + sidecar, src_dir_fd=here, dst_dir_fd=here)
            return 1
        unlink_at(here, temp.name)
    return 0


def claimed_files(folder: Folder) -> Iterator[Claimed]:
    """The originals in processing/, lazily, as Claimed: every file there is ours, whatever
    its name (no name rule applies, so nothing claimed is ever left behind), each with the
    XMP sidecar claimed with it (sidecars.py's rules). A sidecar there whose image is not
    is no original: recovery gives it back to the inbox (`recover`)."""
    for _, entries in itertools.groupby(nofollow.walk(folder.processing), key=lambda p: p.parent):
        paths = list(entries)
        names = [p.name for p in paths]
        for path in paths:
            if is_sidecar(path.name):
                continue
            side = sidecar_of(path.name, names)
            rel = path.relative_to(folder.processing).as_posix()
            yield Claimed(rel, path, (Path(rel).parent / side).as_posix() if side else None)


def sidecars_alone(folder: Folder) -> Iterator[Path]:
    for _, entries in itertools.groupby(nofollow.walk(folder.processing), key=lambda p: p.parent):
        paths = list(entries)
        names = [p.name for p in paths]
        yield from (p for p in paths if is_sidecar(p.name) and image_of(p.name, names) is None)


def _prune_empty_dirs(root: Path) -> None:
    """Remove the empty folders under root, deepest first (by a stack: a deep tree
    must not exhaust Python's recursion), each by descriptor."""
    found, stack = [], [root]
    while stack:
        here = stack.pop()
        try:
            with nofollow.opened(here) as fd, os.scandir(fd) as entries:
                subs = [here / e.name for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        found += subs
        stack += subs
    for folder in reversed(found):  # every folder comes after its parent in `found`
        try:
            with nofollow.opened(folder.parent) as parent:
                os.rmdir(folder.name, dir_fd=parent)
        except OSError:
            pass
