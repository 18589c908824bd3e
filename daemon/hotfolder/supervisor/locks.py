"""One daemon per folder: each folder's processing/ is flock'ed by the daemon claiming from it.
"""
from __future__ import annotations

import os
from pathlib import Path

from hotfolder.errors import ExitCode, HotfolderError


class AlreadyRunning(HotfolderError):
    """Another daemon holds this config's instance lock, or a folder's processing/."""

    exit_code = ExitCode.ALREADY_RUNNING


def lock_folder(processing: Path) -> int:
    """One daemon per folder, whatever its config says: an flock on the processing/
    folder itself (two configs, or one whose state_dir was edited, must not claim from
    one processing/). No file is added to the folder. Returns the fd; keep it open."""
    import fcntl

    processing.mkdir(parents=True, exist_ok=True)
    fd = os.open(processing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"another hotfolder daemon is using the folder whose processing folder is "
                             f"{processing} (it holds a lock on it); stop it first, or give this folder its "
                             f"own processing folder") from None
    return fd
