"""Machine checks: whether a parsed config can run on this machine.

Parsing (hotfolder.config) says whether the file is a valid config; these checks ask
the machine: every folder can be made (no file stands where it or a parent should be),
the originals' folders are on the inbox's file system (they move by rename), the
output group exists, each watermark image is a file, each colour profile is an RGB ICC
profile LittleCMS can read, and state_dir can be a folder.

`config.parse` and `config.load` run them after parsing, on whatever could be built
(so check-config reports every problem at once), and record each against its key,
with its line: a key path names folders and renditions by name
(`folders[photos].renditions[web].color_profile`).

This module imports only config.model; the engine's LittleCMS (pyvips, Pillow) is
imported only when a rendition names a profile file.
"""
from __future__ import annotations

import grp
import os
from collections.abc import Iterator
from pathlib import Path

from hotfolder.config.model import COLOR_PROFILES, Config, Folder, Rendition

Problem = tuple[str, str]  # (key path, what to change)

_PLACES = ("inbox", "output", "failed", "processing", "archive", "duplicates")
_BY_RENAME = ("processing", "archive", "failed", "duplicates")  # where originals move from the inbox


def problems(config: Config) -> Iterator[Problem]:
    """Every machine problem of `config`, as (key path, reason)."""
    for folder in config.folders:
        at = f"folders[{folder.name}]"
        yield from _folder_places(at, folder)
        if folder.output_group is not None:
            yield from _group(f"{at}.output_group", folder.output_group)
        for rendition in folder.renditions:
            yield from _rendition_files(f"{at}.renditions[{rendition.name}]", rendition)
    blocker = _blocker(config.state_dir) if config.state_dir is not None else None
    if blocker is not None:
        yield "state_dir", f"{config.state_dir} cannot be a folder: {blocker} is a file"


def _folder_places(at: str, folder: Folder) -> Iterator[Problem]:
    blocked = set()
    for key in _PLACES:
        p = getattr(folder, key)
        blocker = _blocker(p) if p is not None else None
        if blocker is not None:
            blocked.add(key)
            what = "is a file, not a folder" if blocker == p else f"cannot be made: {blocker} is a file, not a folder"
            yield f"{at}.{key}", f"{p} {what}; point {key} at a folder"
    if folder.inbox is None:  # not a path: said by the parse
        return
    # Originals move by rename(2), which cannot cross file systems.
    inbox_dev = _device(folder.inbox)
    for key in _BY_RENAME:
        p = getattr(folder, key)
        if p is not None and key not in blocked and _device(p) != inbox_dev:
            yield f"{at}.{key}", (f"{p} is on another file system than the inbox ({folder.inbox}); originals move "
                                  "between them by rename, which cannot cross file systems: put it on the same "
                                  "disk (outputs may go anywhere)")


def _group(at: str, value: str) -> Iterator[Problem]:
    if value.isdigit():
        return
    try:
        grp.getgrnam(value)
    except KeyError:
        yield at, f"there is no group {value!r} on this machine (create it, or fix the name)"


def _rendition_files(at: str, rendition: Rendition) -> Iterator[Problem]:
    mark = rendition.watermark
    if mark is not None and mark.image is not None and not mark.image.is_file():
        yield f"{at}.watermark.image", f"file {mark.image} does not exist"
    if rendition.color_profile not in COLOR_PROFILES:
        from hotfolder.engine.colour import profile_problem  # LittleCMS, only when a path is given

        path = Path(rendition.color_profile)
        problem = profile_problem(path)
        if problem:
            yield f"{at}.color_profile", f"{path.name!r} is not srgb, keep, or a usable ICC profile: {problem}"


def _device(path: Path) -> int:
    """The file system of path, or of its nearest existing parent (folders are made at start)."""
    for p in (path, *path.parents):
        try:
            return os.stat(p).st_dev
        except OSError:
            continue
    return -1


def _blocker(path: Path) -> Path | None:
    """What stops `path` from being (made) a folder: itself or a parent that exists and
    is not a folder (a file where a folder should be). None when it can be made."""
    for p in (path, *path.parents):
        if p.exists():
            return None if p.is_dir() else p
        if p.is_symlink():  # a dangling link
            return p
    return None
