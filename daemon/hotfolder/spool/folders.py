"""A folder's places on disk: made, opened by descriptor, and checked for a swap.

Each Folder of the config has five places (inbox, processing, output, archive, failed);
every subfolder in them is reached as nofollow reaches a folder: never through a link.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hotfolder.arrival.rules import passes_through
from hotfolder.config.model import Folder
from hotfolder.sidecars import is_sidecar
from hotfolder.spool import nofollow, oserrors, shares
from hotfolder.spool.atomic import is_our_temp
from hotfolder.spool.fsnames import display, fit_name, is_ignored_path
from hotfolder.spool.nofollow import FolderSwapped, Opened

FOLDER_KINDS = ("inbox", "processing", "output", "archive", "failed")


def ensure_dirs(folder: Folder, places: shares.Places | None = None) -> None:
    """Make the folder's places that are missing (each reached without a link). An OSError
    names the whole path and the key (the system names only the part it failed on: "out").
    With `places` (the main process's records), none is made while one of them is on a
    share that is gone (PlaceGone), and those there are recorded."""
    if places is not None and (gone := places.gone(folder)) is not None:
        raise shares.PlaceGone(gone)
    for kind in FOLDER_KINDS:
        d = getattr(folder, kind)
        if d is None:
            continue
        try:
            os.close(nofollow.open_dir(d, make=True))
        except FolderSwapped:
            raise
        except OSError as exc:
            raise OSError(exc.errno, f"{exc.strerror or exc} (folders[{folder.name}].{kind})"
                          f"{oserrors.read_only_advice(exc, str(d))}", str(d)) from None
    if places is not None:
        places.gone(folder)  # those just made are recorded too


def swapped_folder(folder: Folder, kinds: tuple[str, ...] = FOLDER_KINDS) -> str | None:
    """Why one of the folder's folders (of `kinds`) cannot be used: it is reached through
    a symbolic link now. None when none is. A missing folder, or a file where one should
    be, is not this (the first is made again when needed, the second pauses claiming:
    OUTPUT_PROBLEMS)."""
    for kind in kinds:
        path = getattr(folder, kind)
        if path is None:
            continue
        try:
            nofollow.reachable(path)
        except FolderSwapped as exc:
            return (f"the {kind} folder {display(str(path))} is reached through a symbolic link "
                    f"({display(str(exc.link))}): a swapped folder is never followed; put the real folder back")
        except OSError:
            continue
    return None


def open_place(root: Path, state_dir: Path | None = None) -> int:
    """The place `root` open by descriptor (nofollow), made if missing; with `state_dir`,
    not while its share is gone (shares.PlaceGone): the check costs nothing while it is there."""
    try:
        return nofollow.open_dir(root)
    except FileNotFoundError:
        shares.refuse_if_gone(root, state_dir)
        return nofollow.open_dir(root, make=True)


@contextmanager
def opened_folder(root: Path, rel_dir: str | Path, state_dir: Path | None = None) -> Iterator[Opened]:
    """The folder `root/rel_dir`, made if needed, open by descriptor (nofollow): a
    folder on the way that is a link raises FolderSwapped, as for `root` itself. With
    `state_dir`, `root` is not made while its share is gone (open_place).

    A file (or a link) standing where one of its subfolders should be (`archive/2024`
    is a photo, and now `2024/img.jpg` arrives) is not an error: that subfolder
    becomes `2024~1` (then `~2`…). A file where `root` itself should be is the folder's
    problem (ENOTDIR: claiming pauses, see OUTPUT_PROBLEMS), never the file's."""
    fd = open_place(root, state_dir)
    here = root
    try:
        for part in Path(rel_dir).parts:
            name, n = part, 1
            while True:
                try:
                    child = nofollow.open_child(fd, name, make=True, where=here)
                    break
                except (NotADirectoryError, FolderSwapped):  # the user's file or link: go beside it
                    name = fit_name(here / f"{part}~{n}", 0).name
                    n += 1
            os.close(fd)
            fd, here = child, here / name
        yield Opened(here, fd)
    finally:
        os.close(fd)


def archived_files(folder: Folder) -> Iterator[Path]:
    """The originals in the folder's archive/, lazily (none when it deletes them): what the
    index of originals is rebuilt from (workers/reindex.py). Not the XMP sidecars archived
    beside their images, nor what passes through (videos): a rebuild counted each as an
    original it could not read, and `index rebuild` exited 1 for every studio using
    sidecars (a new user's walkthrough)."""
    if folder.archive is None:
        return
    for path in nofollow.walk(folder.archive):
        if (not is_our_temp(path.name, folder.temp_token) and not is_ignored_path(path, folder.archive)
                and not is_sidecar(path.name) and not passes_through(folder, path)):
            yield path
