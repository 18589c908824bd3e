"""The on-disk states of a file and the moves between them.

    inbox/ ──claim──▶ processing/ ──finish──▶ archive/ (or deleted)
                                  └──fail───▶ failed/ + NAME.error.json

The folders are the queue: nothing a restart needs is kept in memory. Every move
is one `os.rename` on one file system, so a file is always in exactly one state.
Only the supervisor process moves originals; workers only write outputs.
"""
from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Folder
from .errors import HotfolderError

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
        d.mkdir(parents=True, exist_ok=True)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Claimed:
    rel: str  # path relative to the inbox, kept for output, archive and failed
    path: Path  # where the original lies now, under processing/


class Refused(HotfolderError):
    """The inbox entry must not be processed (e.g. a symlink); it goes to failed/."""


def claim(folder: Folder, src: Path) -> Claimed | None:
    """Take ownership of an inbox file by renaming it into processing/.

    Returns None when the file is gone or a file of the same name is still being
    processed (it stays in the inbox and is offered again after that one ends).
    Raises Refused for entries that are not plain files: a symlink is moved as a
    link, never followed.
    """
    rel = src.relative_to(folder.inbox).as_posix()
    dst = folder.processing / rel
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise Refused("symbolic links are not followed; copy the file itself into the inbox")
    if not stat.S_ISREG(st.st_mode):
        return None  # a directory, fifo or socket: nothing to render
    if os.path.lexists(dst):
        return None
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return None
    return Claimed(rel, dst)


NAME_MAX = 255  # bytes, on every Linux file system we expect
TEMP_RANDOM = 8  # the random part mkstemp adds
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


def _unique(path: Path) -> Path:
    """`path`, or `stem_1.ext`, `stem_2.ext`… : never overwrite an earlier file."""
    path = fit_name(path, len(SIDECAR) + 6)
    if not os.path.lexists(path) and not os.path.lexists(_sidecar(path)):
        return path
    n = 1
    while True:
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        if not os.path.lexists(candidate) and not os.path.lexists(_sidecar(candidate)):
            return candidate
        n += 1


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def folder_for(root: Path, rel_dir: str | Path) -> Path:
    """The folder `root/rel_dir`, made if needed. A file standing where one of its
    subfolders should be (`archive/2024` is a photo, and now `2024/img.jpg` arrives) is
    not an error: that subfolder becomes `2024~1` (then `~2`…). A file where `root`
    itself should be is the folder's problem (ENOTDIR: claiming pauses, see
    OUTPUT_PROBLEMS), never the file's."""
    if os.path.lexists(root) and not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file stands where this folder should be", str(root))
    root.mkdir(parents=True, exist_ok=True)
    here = root
    for part in Path(rel_dir).parts:
        candidate, n = here / part, 1
        while os.path.lexists(candidate) and not candidate.is_dir():
            candidate = here / fit_name(here / f"{part}~{n}", 0).name
            n += 1
        candidate.mkdir(exist_ok=True)
        here = candidate
    return here


def _place(root: Path, rel: str) -> Path:
    """Where `rel` goes under root: its folders made (see folder_for), its name unique."""
    rel_path = Path(rel)
    return _unique(folder_for(root, rel_path.parent) / rel_path.name)


def _move(src: Path, dst_dir: Path, rel: str) -> Path:
    dst = _place(dst_dir, rel)
    os.rename(src, dst)
    fsync_dir(dst.parent)
    return dst


def finish(folder: Folder, claimed: Claimed) -> Path | None:
    """The outputs are durable: archive (never overwriting) or delete the original."""
    if folder.on_success == "delete":
        os.unlink(claimed.path)
        fsync_dir(claimed.path.parent)
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
    dst = _place(folder.failed, rel)
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
    pending = _write_temp(dst.parent, data, temp_prefix(folder.temp_token) + "sidecar-")
    try:
        os.rename(src, dst)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.rename(pending, _sidecar(dst))
    fsync_dir(dst.parent)
    return dst


def read_failure(folder: Folder, path: Path) -> dict | None:
    """The record of why a file in failed/ failed, or None if it has none."""
    try:
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


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


def _write_temp(directory: Path, data: bytes, prefix: str, mode: int = 0o644, group: str | None = None) -> Path:
    """Write data to a new temp file (name: prefix + random) in `directory`, fsync'ed."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if group is not None:
                os.fchown(f.fileno(), -1, _gid(group))
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return Path(tmp)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, group: str | None = None, tag: str = "",
                 sync_dir: bool = True, token: str = DEFAULT_TOKEN) -> None:
    """Temp file in the same folder, fsync, rename over the final name, fsync the folder
    (or leave that to the caller, who writes several files to one folder: sync_dir=False).

    A reader never sees half a file under its final name, and a rerun replaces an
    earlier output instead of adding a copy.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise NameTooLong(path.name)
    tmp = _write_temp(path.parent, data, temp_output_path(path, tag, token).name, mode, group)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def remove_temp_outputs(folder: Folder, rel: str, tag: str) -> int:
    """Delete the temp outputs a killed worker left for one job (tagged with its id)."""
    removed = 0
    out_dir = folder.output / Path(rel).parent
    try:
        names = os.listdir(out_dir)
    except OSError:
        return 0
    mine = temp_prefix(folder.temp_token) + tag
    for name in names:
        if name.startswith(mine):
            try:
                (out_dir / name).unlink(missing_ok=True)
                removed += 1
            except OSError:
                pass  # it goes at the next start
    return removed


def _gid(group: str) -> int:
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


def walk_files(root: Path, on_error=None):
    """Yield the entries under root lazily (files and symlinks; not directories).

    A folder that cannot be read is skipped; `on_error(folder, exc)` hears of it."""
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if is_ignored_name(entry.name):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            yield Path(entry.path)
                    except OSError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:  # unreadable (permissions) or an I/O error on a share
            if on_error is not None:
                on_error(d, exc)
            continue


def _walk_all(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            yield Path(dirpath) / name


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
                path.unlink(missing_ok=True)
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


def _finish_sidecar(temp: Path) -> int:
    """A temp failure record: give it its final name if its original reached failed/."""
    try:
        record = json.loads(temp.read_text(encoding="utf-8"))
        original = temp.with_name(os.fsdecode(bytes.fromhex(record["failed_as"])))
    except (ValueError, KeyError, TypeError):
        original = None  # not a record (a temp output of ours?): nothing to finish
    if original is not None and os.path.lexists(original) and not os.path.lexists(_sidecar(original)):
        os.rename(temp, _sidecar(original))
        return 1
    temp.unlink(missing_ok=True)
    return 0


def claimed_files(folder: Folder):
    """The originals in processing/, lazily, as Claimed: every file there is ours, whatever
    its name (no name rule applies, so nothing claimed is ever left behind)."""
    for path in _walk_all(folder.processing):
        yield Claimed(path.relative_to(folder.processing).as_posix(), path)


def _prune_empty_dirs(root: Path) -> None:
    for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
        if Path(dirpath) != root:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def requeue(folder: Folder, path: Path) -> Path:
    """Move a failed file back to the inbox, under the name it came in with (failed/ may
    have had to change it), and drop its record."""
    rel = path.relative_to(folder.failed).as_posix()
    record = read_failure(folder, path) or {}
    try:
        rel = os.fsdecode(bytes.fromhex(record["file_as"]))
    except (KeyError, ValueError, TypeError):
        pass  # an older record: the name it has in failed/
    dst = _place(folder.inbox, rel)
    os.rename(path, dst)
    _sidecar(path).unlink(missing_ok=True)
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
    if os.path.lexists(folder.inbox / claimed.rel):
        raise NameTaken(f"{display(claimed.rel)}: a newer file of this name waits in the inbox")
    try:
        dst = _place(folder.inbox, claimed.rel)
        os.rename(claimed.path, dst)
        return dst
    except FileNotFoundError:
        return None


def walk_failed(folder: Folder):
    """The failed originals of a folder, not their records, lazily.

    `X.error.json` is the record of X when the file X is there: fail() never gives an
    original a name whose record name is taken, nor the other way round (see _unique).
    So a user's own `notes.error.json` is an original like any other. Each folder is
    listed once and a record told by the names beside it, with no stat a file: 150,000
    failed files took 0.6–1.5 s to walk, against 2.7–5.3 s with an lexists for each
    record (a loaded 2-core machine)."""
    stack = [folder.failed]
    while stack:
        here = stack.pop()
        files: list[str] = []  # in the folder's own order, as os.walk gave them
        try:
            with os.scandir(here) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                            continue
                    except OSError:
                        continue
                    files.append(entry.name)
        except OSError:  # gone, or unreadable: skipped, as os.walk does
            continue
        present = set(files)
        for name in files:
            if is_our_temp(name, folder.temp_token):
                continue
            if name.endswith(SIDECAR) and name[: -len(SIDECAR)] in present:
                continue
            yield here / name
