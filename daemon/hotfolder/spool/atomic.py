"""Our temp names (hidden, with the daemon's token) and writes that a reader never sees half of.
"""
from __future__ import annotations

import errno
import grp
import os
import secrets
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.spool import nofollow
from hotfolder.spool.fsnames import NAME_MAX, NameTooLong, cut
from hotfolder.spool.nofollow import Opened, unlink_at


def temp_prefix(token: str) -> str:
    """Every temp file of ours starts with this: hidden, and carrying this daemon's token
    (config/sections/daemon.py, temp_token_for), so recovery never mistakes a user's file for one of ours,
    whatever its name holds."""
    return f".hf-{token}."


def is_our_temp(name: str, token: str) -> bool:
    return name.startswith(temp_prefix(token))


def fsync_dir(path: Path) -> None:
    """Make the names written in the folder `path` durable (our own state's folders)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TEMP_RANDOM = 8  # the random part of our temp names


DEFAULT_TOKEN = "0" * 12  # a Folder made without a config (tests); config sets each folder's own


def temp_output_path(final: Path, tag: str = "", token: str = DEFAULT_TOKEN) -> Path:
    """A temp name for `final` (without the random part mkstemp adds): hidden, with our
    token and the job's tag, then as much of the final name as fits, for people
    looking at the folder."""
    head = f"{temp_prefix(token)}{tag}"
    room = NAME_MAX - len(os.fsencode(head)) - TEMP_RANDOM - 1
    return final.with_name(f"{head}{cut(final.name, room)}.")


def temp_name(prefix: str) -> str:
    """`prefix` + TEMP_RANDOM random hex digits: a new temp name (O_EXCL or a rename decides)."""
    return prefix + secrets.token_hex(TEMP_RANDOM // 2)


def write_temp(dir_fd: int, data: bytes, prefix: str, mode: int = 0o644, group: str | None = None) -> str:
    """Write data to a new temp file (name: prefix + random) in the folder open as
    `dir_fd`, fsync'ed; its name."""
    while True:
        name = temp_name(prefix)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        try:
            # By the descriptor, without a Python file object: its buffer, and the fstat, isatty
            # and lseek calls made to set it up (5 µs an output) would be all it added.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            if group is not None:
                os.fchown(fd, -1, _gid(group))
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        unlink_at(dir_fd, name)
        raise
    return name


def remove_at(folder: Opened, name: str) -> None:
    """Remove `name` (an output of ours) from the open folder, if it is there."""
    unlink_at(folder.fd, name)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, group: str | None = None, tag: str = "",
                 token: str = DEFAULT_TOKEN) -> None:
    """write_atomic_at in `path`'s folder (made if needed), reached by its path as it is:
    for the daemon's own state (status, cluster records), not for a folder of the config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        write_atomic_at(Opened(path.parent, fd), path.name, data, mode, group, tag, token)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic_at(folder: Opened, name: str, data: bytes, mode: int = 0o644, group: str | None = None,
                    tag: str = "", token: str = DEFAULT_TOKEN, stage: Opened | None = None) -> None:
    """Temp file in the open folder (or in `stage`, a folder of the same file system where
    a killed job's temp files are looked for: remove_temp_outputs), fsync, rename over the
    final name; the caller fsyncs the folder (once for all the files it writes there).

    A reader never sees half a file under its final name, and a rerun replaces an
    earlier output instead of adding a copy. An OSError names the output's path in the
    folder that refused it: the temp name the system gave (`.hf-….tmp`) is ours, not a path
    the user knows; and a temp file the stage refused is the stage's problem, not the output
    folder's (it named `output/acme/web`, mode 755, where `output/` was read-only).
    """
    if len(os.fsencode(name)) > NAME_MAX:
        raise NameTooLong(name)
    _write_then_rename(folder, name, data, mode, group, tag, token, stage)


def _write_then_rename(folder: Opened, name: str, data: bytes, mode: int, group: str | None, tag: str, token: str,
                       stage: Opened | None) -> None:
    at = stage or folder
    try:
        tmp = write_temp(at.fd, data, temp_output_path(folder.path / name, tag, token).name, mode, group)
    except OSError as exc:  # written where it is staged: that folder refused it
        raise _named(exc, at.path / name) from exc
    try:
        os.replace(tmp, name, src_dir_fd=at.fd, dst_dir_fd=folder.fd)
    except OSError as exc:
        unlink_at(at.fd, tmp)
        if stage is None or exc.errno != errno.EXDEV:
            raise _named(exc, folder.path / name) from exc  # the stage took the temp file: the output's folder
        _write_then_rename(folder, name, data, mode, group, tag, token, None)  # a mount inside the output: write there
    except BaseException:
        unlink_at(at.fd, tmp)
        raise


def _named(exc: OSError, path: Path) -> OSError:
    """`exc` naming `path` (an error without an errno as it is)."""
    return exc if exc.errno is None else OSError(exc.errno, exc.strerror, str(path))


def remove_temp_outputs(folder: Folder, rel: str, tag: str) -> int:
    """Delete the temp outputs a killed worker left for one job (tagged with its id): in
    the output folder of its subfolder, and in the output folder itself (where the temp
    files of outputs a template puts elsewhere are staged: workers/render.py)."""
    removed = 0
    mine = temp_prefix(folder.temp_token) + tag
    for place in dict.fromkeys((folder.output / Path(rel).parent, folder.output)):
        try:
            with nofollow.opened(place) as out_dir:
                for name in os.listdir(out_dir):
                    if name.startswith(mine):
                        try:
                            unlink_at(out_dir, name)
                            removed += 1
                        except OSError:
                            pass  # it goes at the next start
        except OSError:
            continue
    return removed


def _gid(group: str) -> int:
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
