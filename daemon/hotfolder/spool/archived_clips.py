"""The clips a folder passed through (`pass_through:`) that lie in its archive/, as the rows of
state/passed.py name them: what `hotfolder index rebuild` lists again after state_dir was lost
or restored, so that a card dumped again into another subfolder finds its clips there.

Only what the daemon would have passed through is listed: a regular file whose name the
folder's `pass_through:` matches (never an XMP sidecar, which goes with its image; never a
hidden, temp or `ignore:` name, nor anything under such a folder). Every name is data: the
walk is spool/nofollow's (a link is an entry, never entered nor read; a link at a clip's
name is left out), lazily, so memory stays bounded whatever the archive holds.

A row's name is the one the clip came in with, which the archive keeps unless it had to
rename (`MVI_0009_1.MP4` beside `MVI_0009.MP4`: moves._unique); such a file is listed under
`MVI_0009.MP4` when that file lies beside it, as the daemon noted it, else under its own
name. Its time is its ctime (the archive's rename set it): the latest first, as noted.
"""
from __future__ import annotations

import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hotfolder.arrival.rules import ignored_name, passes_through
from hotfolder.config.model import Folder
from hotfolder.sidecars import is_sidecar
from hotfolder.spool import nofollow
from hotfolder.spool.atomic import is_our_temp

_RENAMED = re.compile(r"(?s)(.+)_[1-9][0-9]*")  # the stem moves._unique gives a second file of a name


@dataclass(frozen=True)
class Clip:
    name: str  # the name it came in with (as far as the archive says)
    subdir: str  # its subfolder ("" the top)
    size: int
    archived: str  # its path under archive/
    time: float  # when it was archived (its ctime)


def clips(folder: Folder, on_error: Callable[[Path, OSError], None] | None = None) -> Iterator[Clip]:
    """The clips in the folder's archive/ (none when it has none: `on_success: delete`);
    `on_error(folder, exc)` hears of a folder that cannot be read (its clips are not listed)."""
    if folder.archive is None:
        return
    skip = lambda name: ignored_name(folder, name) or is_our_temp(name, folder.temp_token)  # noqa: E731
    for path in nofollow.walk(folder.archive, skip=skip, on_error=on_error):
        if is_sidecar(path.name) or not passes_through(folder, path):
            continue
        try:
            st = nofollow.lstat(path)
        except OSError:
            continue  # gone meanwhile, or a folder swapped for a link: not followed
        if not stat.S_ISREG(st.st_mode):
            continue
        rel = path.relative_to(folder.archive).as_posix()
        yield Clip(came_as(path, st.st_size), rel.rpartition("/")[0], st.st_size, rel, st.st_ctime)


def came_as(path: Path, size: int) -> str:
    """The name the archived clip `path` came in with: `MVI_0009.MP4` for `MVI_0009_1.MP4`
    when that file lies beside it (of any size: a row is found by name and size), else its own."""
    renamed = _RENAMED.fullmatch(path.stem)
    if renamed is None:
        return path.name
    first = path.with_name(renamed.group(1) + path.suffix)
    try:
        return first.name if stat.S_ISREG(nofollow.lstat(first).st_mode) else path.name
    except OSError:
        return path.name
