"""The on-disk states of a file and the moves between them.

    inbox/ ──claim──▶ processing/ ──finish──▶ archive/ (or deleted)
                                  └──fail───▶ failed/ + NAME.error.json

The folders are the queue: nothing a restart needs is kept in memory. Every move
is one rename on one file system, so a file is always in exactly one state; it is
made between folders opened by descriptor (nofollow), so a folder swapped for a link
is never followed. Only the supervisor process moves originals; workers only write
outputs.
"""
from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import nofollow
from .config import Folder
from .errors import HotfolderError
from .nofollow import FolderSwapped

SIDECAR = ".error.json"
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", "~")


def temp_prefix(token: str) -> str:
    """Every temp file of ours starts with this: hidden, and carrying this daemon's token
    (config.temp_token_for), so recovery never mistakes a user's file for one of ours,
    whatever its name holds."""
    return f".hf-{token}."


def is_our_temp(name: str, token: str) -> bool:
    return name.startswith(temp_prefix(token))


def display(name: str) -> str:
    """A name as text that can always be written (JSON, logs): bytes that are not UTF-8
    (Linux allows any) are shown as \\xNN instead of making the write fail."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def cut(name: str, limit: int) -> str:
    """`name` cut to at most `limit` bytes, at a character boundary where it is UTF-8."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    raw = raw[:max(0, limit)]
    for trim in range(4):
        try:
            return raw[:len(raw) - trim].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return os.fsdecode(raw)


def is_ignored_path(path: Path, root: Path) -> bool:
    """A file under `root` whose own name, or one of whose folders' names, is ignored
    (`inbox/.sync/a.jpg`, `inbox/upload.tmp/a.jpg`): the same rule for the watcher's
    events and for every scan, so what is taken while running is what a rescan finds."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    return any(is_ignored_name(part) for part in parts)


def is_ignored_name(name: str) -> bool:
    """Hidden files and the temp names of browsers, rsync, and copy tools."""
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


def ensure_dirs(folder: Folder) -> None:
    for d in folder.all_dirs():
        os.close(nofollow.open_dir(d, make=True))


FOLDER_KINDS = ("inbox", "processing", "output", "archive", "failed")


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


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Opened:
    """A folder open by descriptor (see nofollow): what is done in it stays in it, even if
    its path is swapped for a link meanwhile. `path` is for names and messages only."""
    path: Path
    fd: int


@dataclass(frozen=True)
class Claimed:
    rel: str  # path relative to the inbox, kept for output, archive and failed
    path: Path  # where the original lies now, under processing/


class Refused(HotfolderError):
    """The inbox entry must not be processed (e.g. a symlink); it goes to failed/."""


PATH_MAX = 4096  # bytes with the final NUL: the longest path open(2) takes on Linux


def claim(folder: Folder, src: Path) -> Claimed | None:
    """Take ownership of an inbox file by renaming it into processing/.

    Returns None when the file is gone or a file of the same name is still being
    processed (it stays in the inbox and is offered again after that one ends).
    Raises Refused for entries that are not plain files: a symlink is moved as a
    link, never followed. Both folders are opened by descriptor (nofollow): a folder
    swapped for a link raises FolderSwapped, and nothing moves.
    """
    rel = src.relative_to(folder.inbox).as_posix()
    try:
        src_dir = nofollow.open_dir(src.parent)
    except (FileNotFoundError, NotADirectoryError, FolderSwapped):
        return None  # its folder is gone, or a link now (the watcher says so if it is the inbox)
    try:
        try:
            st = os.stat(src.name, dir_fd=src_dir, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            raise Refused("symbolic links are not followed; copy the file itself into the inbox")
        if not stat.S_ISREG(st.st_mode):
            return None  # a directory, fifo or socket: nothing to render
        _refuse_too_long(folder, rel)
        dst = folder.processing / rel
        with nofollow.opened(dst.parent, make=True) as dst_dir:
            if _exists_at(dst_dir, dst.name):
                return None
            try:
                os.rename(src.name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
            except FileNotFoundError:
                return None
    finally:
        os.close(src_dir)
    return Claimed(rel, dst)


def _refuse_too_long(folder: Folder, rel: str) -> None:
    """A path the decoders (and every other program that opens it by name) cannot open:
    the daemon reaches it by descriptor, and sends it to failed/ with this reason."""
    longest = max((d / rel for d in (folder.inbox, folder.processing, folder.output, folder.archive) if d),
                  key=lambda p: len(os.fsencode(str(p))))
    size = len(os.fsencode(str(longest)))
    if size >= PATH_MAX:
        raise Refused(f"its path ({size} bytes, as {display(str(longest)[:60])}…) is longer than the "
                      f"{PATH_MAX - 1} bytes a path may have on Linux (PATH_MAX): programs cannot open it by "
                      f"name; move it to a shallower folder or shorten its folders' names")


def _exists_at(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


NAME_MAX = 255  # bytes, on every Linux file system we expect
TEMP_RANDOM = 8  # the random part of our temp names
DEFAULT_TOKEN = "0" * 12  # a Folder made without a config (tests); config sets each folder's own


def fit_name(path: Path, reserve: int) -> Path:
    """Shorten a name so that it, plus `reserve` bytes (a sidecar suffix, `_12`), fits NAME_MAX."""
    name = path.name
    if len(os.fsencode(name)) + reserve <= NAME_MAX:
        return path
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    suffix = path.suffix if len(os.fsencode(path.suffix)) < 16 else ""
    room = NAME_MAX - reserve - len(os.fsencode(suffix)) - len(digest) - 1
    stem = cut(name[: len(name) - len(suffix)], room)
    return path.with_name(f"{stem}~{digest}{suffix}")


def _unique(folder: Opened, name: str) -> Path:
    """`name` in the open folder, or `stem_1.ext`, `stem_2.ext`… : never overwrite an earlier file."""
    path = fit_name(folder.path / name, len(SIDECAR) + 6)
    n = 1
    candidate = path
    while _exists_at(folder.fd, candidate.name) or _exists_at(folder.fd, candidate.name + SIDECAR):
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


@contextmanager
def opened_folder(root: Path, rel_dir: str | Path) -> Iterator[Opened]:
    """The folder `root/rel_dir`, made if needed, open by descriptor (nofollow): a
    folder on the way that is a link raises FolderSwapped, as for `root` itself.

    A file (or a link) standing where one of its subfolders should be (`archive/2024`
    is a photo, and now `2024/img.jpg` arrives) is not an error: that subfolder
    becomes `2024~1` (then `~2`…). A file where `root` itself should be is the folder's
    problem (ENOTDIR: claiming pauses, see OUTPUT_PROBLEMS), never the file's."""
    fd = nofollow.open_dir(root, make=True)
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


def folder_for(root: Path, rel_dir: str | Path) -> Path:
    """The path of `opened_folder(root, rel_dir)`, made if needed."""
    with opened_folder(root, rel_dir) as folder:
        return folder.path


@contextmanager
def _opened_place(root: Path, rel: str) -> Iterator[tuple[Opened, Path]]:
    """Where `rel` goes under root: its folder open (see opened_folder), its name unique."""
    rel_path = Path(rel)
    with opened_folder(root, rel_path.parent) as folder:
        yield folder, _unique(folder, rel_path.name)


def _move(src: Path, dst_root: Path, rel: str) -> Path:
    with nofollow.opened(src.parent) as src_dir, _opened_place(dst_root, rel) as (dst_dir, dst):
        os.rename(src.name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir.fd)
        os.fsync(dst_dir.fd)
    return dst


def finish(folder: Folder, claimed: Claimed) -> Path | None:
    """The outputs are durable: archive (never overwriting) or delete the original."""
    if folder.on_success == "delete":
        with nofollow.opened(claimed.path.parent) as src_dir:
            os.unlink(claimed.path.name, dir_fd=src_dir)
            os.fsync(src_dir)
        return None
    return _move(claimed.path, folder.archive, claimed.rel)  # type: ignore[arg-type]


def fail(folder: Folder, src: Path, rel: str, *, error: str, step: str, attempts: int = 1) -> Path:
    """Move the original to failed/ with a sidecar saying why.

    Three steps, each one rename: the sidecar is written under a hidden temp name of
    ours (which names where the original goes), the original is moved, then the
    sidecar takes its final name. A crash between two leaves a temp sidecar, which
    recovery finishes (the original is there) or removes (it is not): recovery never
    has to guess from a name whether a file in failed/ is ours.
    """
    with nofollow.opened(src.parent) as src_dir, _opened_place(folder.failed, rel) as (dst_dir, dst):
        record = {
            "file": display(rel),
            "error": display(error),
            "step": step,
            "attempts": attempts,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "folder": display(folder.name),
            "failed_as": os.fsencode(dst.name).hex(),  # for recovery: the exact bytes of the name
            "file_as": os.fsencode(rel).hex(),  # for requeue: the name it came in with, exactly
        }
        data = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        pending = _write_temp(dst_dir.fd, data, temp_prefix(folder.temp_token) + "sidecar-")
        try:
            os.rename(src.name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir.fd)
        except BaseException:
            _unlink_at(dst_dir.fd, pending)
            raise
        os.rename(pending, dst.name + SIDECAR, src_dir_fd=dst_dir.fd, dst_dir_fd=dst_dir.fd)
        os.fsync(dst_dir.fd)
    return dst


RECORD_LIMIT = 1 << 20  # bytes: a failure record is a few hundred; a larger "record" is not ours


def read_record(path: Path) -> dict | None:
    """A JSON record of ours at `path` (a failure record, or one in the making), or None.

    Read as data: never through a link (nor a fifo or device, which could block), never
    more than RECORD_LIMIT bytes."""
    try:
        record = json.loads(nofollow.read_small(path, RECORD_LIMIT).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_failure(folder: Folder, path: Path) -> dict | None:
    """The record of why a file in failed/ failed, or None if it has none."""
    return read_record(_sidecar(path))


class NameTooLong(HotfolderError, ValueError):
    def __init__(self, name: str):
        super().__init__(
            f"the output name {name[:40]}… is {len(os.fsencode(name))} bytes, longer than the "
            f"{NAME_MAX} a file name may have; shorten the input's name or the rendition's filename template")


def temp_output_path(final: Path, tag: str = "", token: str = DEFAULT_TOKEN) -> Path:
    """A temp name for `final` (without the random part mkstemp adds): hidden, with our
    token and the job's tag, then as much of the final name as fits, for people
    looking at the folder."""
    head = f"{temp_prefix(token)}{tag}"
    room = NAME_MAX - len(os.fsencode(head)) - TEMP_RANDOM - 1
    return final.with_name(f"{head}{cut(final.name, room)}.")


def _write_temp(dir_fd: int, data: bytes, prefix: str, mode: int = 0o644, group: str | None = None) -> str:
    """Write data to a new temp file (name: prefix + random) in the folder open as
    `dir_fd`, fsync'ed; its name."""
    while True:
        name = prefix + secrets.token_hex(TEMP_RANDOM // 2)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if group is not None:
                os.fchown(f.fileno(), -1, _gid(group))
            os.fsync(f.fileno())
    except BaseException:
        _unlink_at(dir_fd, name)
        raise
    return name


def remove_at(folder: Opened, name: str) -> None:
    _unlink_at(folder.fd, name)


def _unlink_at(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


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
                    tag: str = "", token: str = DEFAULT_TOKEN) -> None:
    """Temp file in the open folder, fsync, rename over the final name; the caller fsyncs
    the folder (once for all the files it writes there).

    A reader never sees half a file under its final name, and a rerun replaces an
    earlier output instead of adding a copy.
    """
    if len(os.fsencode(name)) > NAME_MAX:
        raise NameTooLong(name)
    tmp = _write_temp(folder.fd, data, temp_output_path(folder.path / name, tag, token).name, mode, group)
    try:
        os.replace(tmp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
    except BaseException:
        _unlink_at(folder.fd, tmp)
        raise


def remove_temp_outputs(folder: Folder, rel: str, tag: str) -> int:
    """Delete the temp outputs a killed worker left for one job (tagged with its id)."""
    removed = 0
    mine = temp_prefix(folder.temp_token) + tag
    try:
        with nofollow.opened(folder.output / Path(rel).parent) as out_dir:
            for name in os.listdir(out_dir):
                if name.startswith(mine):
                    try:
                        _unlink_at(out_dir, name)
                        removed += 1
                    except OSError:
                        pass  # it goes at the next start
    except OSError:
        return removed
    return removed


def _gid(group: str) -> int:
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


def walk_files(root: Path, on_error=None):
    """Yield the entries under root lazily (files and symlinks; not directories), but
    not those with an ignored name or in a folder with one. Folders are opened by
    descriptor (nofollow.walk): a link is an entry, never a way in.

    A folder that cannot be read is skipped; `on_error(folder, exc)` hears of it."""
    return nofollow.walk(root, skip=is_ignored_name, on_error=on_error)


def _walk_all(root: Path, prune=lambda folder: False):
    return nofollow.walk(root, prune=prune)


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
    for path in _walk_all(folder.output):
        if is_our_temp(path.name, folder.temp_token):
            try:
                _unlink(path)
                result.temp_removed += 1
            except OSError as exc:
                result.problems.append(f"cannot remove the temp output {display(str(path))}: {exc.strerror or exc}")
    for path in _walk_all(folder.failed):
        if is_our_temp(path.name, folder.temp_token):
            try:
                result.sidecars_finished += _finish_sidecar(path)
            except OSError as exc:
                result.problems.append(f"cannot finish the failure record {display(str(path))}: {exc.strerror or exc}")
    result.in_processing = sum(1 for _ in claimed_files(folder))
    _prune_empty_dirs(folder.processing)
    return result


def _unlink(path: Path) -> None:
    with nofollow.opened(path.parent) as parent:
        _unlink_at(parent, path.name)


def _finish_sidecar(temp: Path) -> int:
    """A temp failure record: give it its final name if its original reached failed/.
    The name it gives (`failed_as`) is data: one name in this folder, or nothing."""
    record = read_record(temp) or {}
    original = file_name(_from_hex(record.get("failed_as")))
    with nofollow.opened(temp.parent) as here:
        if original is not None and _exists_at(here, original) and not _exists_at(here, original + SIDECAR):
            os.rename(temp.name, original + SIDECAR, src_dir_fd=here, dst_dir_fd=here)
            return 1
        _unlink_at(here, temp.name)
    return 0


def _from_hex(value) -> str | None:
    try:
        return os.fsdecode(bytes.fromhex(value))
    except (TypeError, ValueError):
        return None


def file_name(text: str | None) -> str | None:
    """`text` if it is one plain name (no '/', not '.' or '..', no NUL, at most
    NAME_MAX bytes), else None: a name read from a record is never a path."""
    if not isinstance(text, str) or text in ("", ".", "..") or "/" in text or "\0" in text:
        return None
    return text if len(os.fsencode(text)) <= NAME_MAX else None


def relative_name(text: str | None) -> str | None:
    """`text` if it is a path inside a folder (relative, each part a file_name), else None."""
    if not isinstance(text, str):
        return None
    return text if all(file_name(part) for part in text.split("/")) else None


def claimed_files(folder: Folder):
    """The originals in processing/, lazily, as Claimed: every file there is ours, whatever
    its name (no name rule applies, so nothing claimed is ever left behind)."""
    for path in _walk_all(folder.processing):
        yield Claimed(path.relative_to(folder.processing).as_posix(), path)


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


class UnsafeRecord(HotfolderError):
    """A failure record names a place outside the folder's inbox: it is not followed."""


def requeue(folder: Folder, path: Path) -> Path:
    """Move a failed file back to the inbox, under the name it came in with (failed/ may
    have had to change it), and drop its record.

    The record's name is data: it must be a path inside the inbox (no '..', not
    absolute), or the requeue is refused (UnsafeRecord) and nothing moves."""
    rel = path.relative_to(folder.failed).as_posix()
    record = read_failure(folder, path) or {}
    if "file_as" in record:
        named = _from_hex(record["file_as"])
        rel = relative_name(named)
        if rel is None:
            raise UnsafeRecord(
                f"{display(str(path))}: its failure record asks to requeue it as {display(str(named))[:80]!r}, which "
                f"is not a name inside the inbox (absolute, '..', or not a name): a record is data, never a path "
                f"to follow; delete {display(path.name + SIDECAR)} to requeue it under its name in failed/")
    with nofollow.opened(path.parent) as src_dir, _opened_place(folder.inbox, rel) as (dst_dir, dst):
        os.rename(path.name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir.fd)
        _unlink_at(src_dir, path.name + SIDECAR)
        os.fsync(dst_dir.fd)
    return dst


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


# Writing an output failed for a reason of the output folder, not of the file: every
# other file would fail the same way, so the file waits in the inbox instead.
OUTPUT_PROBLEMS = {
    errno.ENOSPC: "no space left on the output file system: free some space",
    errno.EDQUOT: "the disk quota of the output file system is used up: raise it or free some space",
    errno.EACCES: "the output folder is not writable by the daemon's user: fix its permissions",
    errno.EPERM: "the output folder is not writable by the daemon's user: fix its permissions "
                 "(or output_group names a group the daemon is not in)",
    errno.EROFS: "the output file system is read-only: remount it read-write",
    errno.ENOTCONN: "the output share is not connected: check the mount",
    errno.ESTALE: "the output share went stale: check the mount",
    errno.EIO: "input/output error on the output file system: check the disk or share",
    errno.ENOTDIR: "a file stands where a folder of this folder's config should be: move it away",
    errno.ELOOP: "a folder of this folder's config is reached through a symbolic link now (swapped?): "
                 "put the real folder back; nothing is moved there meanwhile",
}


def output_problem(exc: BaseException) -> str | None:
    """What to fix when writing an output failed because of the output folder."""
    if isinstance(exc, OSError):
        return OUTPUT_PROBLEMS.get(exc.errno)
    return None


class NameTaken(HotfolderError):
    """A newer file of the same name waits in the inbox: the claim keeps its place."""


def unclaim(folder: Folder, claimed: Claimed) -> Path | None:
    """Give a claimed file back to the inbox (shutdown, disk full): it is not lost.

    Raises NameTaken when a newer file of its name is in the inbox: renaming the older
    one (`a_1.png`) would give the user a name they never dropped, and its outputs with
    it; it stays in processing/, in line before the newer one."""
    try:
        taken = nofollow.lexists(folder.inbox / claimed.rel)
    except FolderSwapped:  # a link where its folder was: _move steps around it (refuses if it is the inbox)
        taken = False
    if taken:
        raise NameTaken(f"{display(claimed.rel)}: a newer file of this name waits in the inbox")
    try:
        return _move(claimed.path, folder.inbox, claimed.rel)
    except FileNotFoundError:
        return None  # gone from processing/ meanwhile
