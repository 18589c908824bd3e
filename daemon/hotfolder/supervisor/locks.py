"""One daemon per folder: each folder's processing/ is flock'ed by the daemon claiming from it.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.errors import ExitCode, HotfolderError


class AlreadyRunning(HotfolderError):
    """Another daemon holds the lock of this config or of one of its folders."""

    exit_code = ExitCode.ALREADY_RUNNING


def lock_folder(place: Path, kind: str = "processing") -> int:
    """One daemon per folder, whatever its config says: an flock on the folder's processing/
    (two configs, or one whose state_dir was edited, must not claim from one processing/) and
    on its inbox (two daemons with processing folders of their own took from one inbox, each
    with an index of its own: an admin, following the first refusal's advice). No file is
    added to the folder, and the folder is not made (folders.ensure_dirs makes a folder's
    places, never on a share that is not mounted). Returns the fd; keep it open."""
    fd = os.open(place, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"another hotfolder daemon is using the folder whose {kind} folder is "
                             f"{place} (it holds a lock on it): stop it first, or give this config folders "
                             f"of its own (an inbox and a processing folder: two daemons must never take "
                             f"from one inbox)") from None
    return fd


class FolderLocks:
    """The processing/ folders this daemon holds, for its whole life: a folder a reload
    removes stays locked until the daemon stops (its files in flight still finish there)."""

    def __init__(self):
        self.fds: dict[Path, int] = {}  # processing/ and inbox -> its flock'ed descriptor, kept open

    def hold(self, folders: Iterable[Folder]) -> None:
        """Lock each folder's processing/ and inbox not held yet (AlreadyRunning if another
        daemon's). One held whose path is another folder now (its share was unmounted and
        mounted again, it was deleted and made again) is locked anew: a lock on the folder
        that was there keeps nobody from the one that is."""
        for folder in folders:
            for place, kind in ((folder.processing, "processing"), (folder.inbox, "inbox")):
                held = self.fds.get(place)
                if held is not None and _still_there(held, place):
                    continue
                self.fds[place] = lock_folder(place, kind)
                if held is not None:
                    os.close(held)


def _still_there(fd: int, place: Path) -> bool:
    """Whether the folder open as `fd` is the one at `place` (or `place` cannot be looked at)."""
    try:
        st, now = os.fstat(fd), os.stat(place)
    except OSError:
        return True
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)
