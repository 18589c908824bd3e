"""The moves of an original between the states:

    inbox/ ──claim──▶ processing/ ──finish─────▶ archive/ (or deleted)
                                  ├──fail───────▶ failed/ + NAME.error.json
                                  └──duplicate──▶ duplicates/ + NAME.duplicate.json

Every move is one rename between two folders opened without following a link,
so a file is always in exactly one state. Only the supervisor moves originals.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hotfolder.arrival import rules
from hotfolder.config.model import Folder
from hotfolder.errors import HotfolderError
from hotfolder.sidecars import beside
from hotfolder.spool import archived, nofollow, noreplace, xmp_sidecars
from hotfolder.spool.atomic import temp_name, temp_prefix, write_temp
from hotfolder.spool.folders import opened_folder
from hotfolder.spool.fsnames import PATH_MAX, display, fit_name, name_as_hex, name_from_hex, relative_name
from hotfolder.spool.nofollow import FolderSwapped, Opened, exists_at, unlink_at
from hotfolder.spool.records import DUPLICATE_RECORD, SIDECAR, read_failure
from hotfolder.spool.syncs import SyncGroup


@dataclass(frozen=True)
class Claimed:
    rel: str  # path relative to the inbox, kept for output, archive and failed
    path: Path  # where the original lies now, under processing/
    sidecar: str | None = None  # its XMP sidecar, claimed with it: relative to processing/, as `rel`

    @property
    def sidecar_path(self) -> Path | None:
        return self.path.parent / Path(self.sidecar).name if self.sidecar else None


class Refused(HotfolderError):
    """The inbox entry must not be processed (e.g. a symlink); it goes to failed/."""


RECORD_TEMP = "sidecar-"  # a record's temp name: temp_prefix + this + random (spool/recovery finishes it)


def claim(folder: Folder, src: Path, sidecar: Path | None = None) -> Claimed | None:
    """Take ownership of an inbox file by renaming it into processing/ (and its XMP
    sidecar, when arrival paired one with it: spool/xmp_sidecars.py).

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
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            raise NotAFile(f"it is a {_kind(st.st_mode)}, not a file: only files are taken; remove it from the inbox")
        if not stat.S_ISREG(st.st_mode):
            return None  # a folder now: the inbox's walk finds its files
        _refuse_too_long(folder, rel)
        dst = folder.processing / rel
        with nofollow.opened(dst.parent, make=True) as dst_dir:
            if exists_at(dst_dir, dst.name):
                return None
            try:
                noreplace.rename(src.name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
            except (FileNotFoundError, FileExistsError):  # gone, or its name in processing/ taken meanwhile
                return None
    finally:
        os.close(src_dir)
    return Claimed(rel, dst, xmp_sidecars.claim(folder, rel, sidecar) if sidecar is not None else None)


class NotAFile(HotfolderError):
    """A FIFO, socket or device in the inbox: never taken (it was left there unsaid: an attack round)."""


def _kind(mode: int) -> str:
    return ("FIFO (named pipe)" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
            else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file")


def pass_through(folder: Folder, src: Path, before: Callable[[Path, int], None] | None = None) -> Path | None:
    """Move an inbox file to archive/ as it is, in one rename (a video, a sidecar: the
    folder's `pass_through`); where it went, or None when it is gone. Like a claim: a
    symlink is Refused (to failed/), never followed; anything but a file is left alone.
    `before(place, size)`: called with each place the file is about to be renamed to (again
    if a file took that name meanwhile), so its record is written before the move."""
    if folder.archive is None:
        raise ValueError(f"folder {folder.name!r} has no archive to pass files through to")
    rel = src.relative_to(folder.inbox).as_posix()
    try:
        with nofollow.opened(src.parent) as src_dir:
            st = os.stat(src.name, dir_fd=src_dir, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise Refused("symbolic links are not followed; copy the file itself into the inbox")
            if not stat.S_ISREG(st.st_mode):
                return None
            with _opened_place(folder.archive, rel) as (dst_dir, dst):
                told = None if before is None else (lambda place: before(place, st.st_size))
                dst = _rename_unique(src_dir, src.name, dst_dir, dst, Path(rel).name, before=told)
                os.fsync(dst_dir.fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return dst


def _refuse_too_long(folder: Folder, rel: str) -> None:
    """A path the decoders (and every other program that opens it by name) cannot open:
    the daemon reaches it by descriptor, and sends it to failed/ with this reason."""
    # Measured as the joined paths' bytes, without making them (4 Paths a claim): `rel` is
    # relative and normalised (relative_to), each folder absolute, not "/".
    tail = len(os.fsencode(rel)) + 1
    size = max(len(os.fsencode(str(d))) + tail for d in (folder.inbox, folder.processing, folder.output,
                                                         folder.archive) if d)
    if size >= PATH_MAX:
        longest = max((d / rel for d in (folder.inbox, folder.processing, folder.output, folder.archive) if d),
                      key=lambda p: len(os.fsencode(str(p))))
        raise Refused(f"its path ({size} bytes, as {display(str(longest)[:60])}…) is longer than the "
                      f"{PATH_MAX - 1} bytes a path may have on Linux (PATH_MAX): programs cannot open it by "
                      f"name; move it to a shallower folder or shorten its folders' names")


def _unique(folder: Opened, name: str, sidecar: str = SIDECAR) -> Path:
    """`name` in the open folder, or `stem_1.ext`, `stem_2.ext`… : never overwrite an earlier file."""
    path = fit_name(folder.path / name, len(sidecar) + 6)
    n = 1
    candidate = path
    while exists_at(folder.fd, candidate.name) or exists_at(folder.fd, candidate.name + sidecar):
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate


@contextmanager
def _opened_place(root: Path, rel: str, sidecar: str = SIDECAR) -> Iterator[tuple[Opened, Path]]:
    """Where `rel` goes under root: its folder open (see opened_folder), its name unique."""
    rel_path = Path(rel)
    with opened_folder(root, rel_path.parent) as folder:
        yield folder, _unique(folder, rel_path.name, sidecar)


def _rename_unique(src_dir: int, name: str, dst_dir: Opened, dst: Path, wanted: str, sidecar: str = SIDECAR,
                   before: Callable[[Path], None] | None = None) -> Path:
    """`name` renamed to `dst` (the free name found for `wanted`), or, if a file took it since,
    to the next free one (spool/noreplace): never over a file. `before`: told each place first."""
    for _ in range(MAX_NAME_RACES):
        if before is not None:
            before(dst)
        try:
            noreplace.rename(name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir.fd)
            return dst
        except FileExistsError:
            dst = _unique(dst_dir, wanted, sidecar)  # from the name wanted: a_2.jpg, not a_1_1.jpg (a review)
    raise OSError(errno.EEXIST, f"every name tried for {display(name)} was taken as it was tried", name)


MAX_NAME_RACES = 100  # names tried while others take them one after another


def _move(src: Path, dst_root: Path, rel: str, synced: SyncGroup | None = None) -> Path:
    """`src` renamed to its unique place for `rel` under dst_root, durably: its folder
    synced now, or added to `synced` (the caller syncs it before anything relies on it)."""
    with nofollow.opened(src.parent) as src_dir, _opened_place(dst_root, rel) as (dst_dir, dst):
        dst = _rename_unique(src_dir, src.name, dst_dir, dst, Path(rel).name)
        if synced is None:
            os.fsync(dst_dir.fd)
        else:
            synced.add(dst_dir.path, dst_dir.fd)
    return dst


def finish(folder: Folder, claimed: Claimed, synced: SyncGroup | None = None) -> Path | None:
    """The outputs are durable: archive (never overwriting) or delete the original, and
    its XMP sidecar with it. `synced`: the archive folder is synced by the caller, with
    those of other files (spool/syncs.py: a group commit)."""
    side = claimed.sidecar_path
    if folder.on_success == "delete":
        with nofollow.opened(claimed.path.parent) as src_dir:
            os.unlink(claimed.path.name, dir_fd=src_dir)
            if side is not None:
                unlink_at(src_dir, side.name)
            if synced is None:
                os.fsync(src_dir)
            else:
                synced.add(claimed.path.parent, src_dir)
        return None
    if folder.archive is None:  # the config gives every folder that archives its archive/
        raise ValueError(f"folder {folder.name!r} archives its originals but has no archive folder")
    where = _move(claimed.path, folder.archive, claimed.rel, synced)
    if where.relative_to(folder.archive).as_posix() != claimed.rel:  # `a_1.jpg`: the path it came in with
        archived.remember(where, claimed.rel)                          # is kept (for `hotfolder rerender`)
    if side is not None:
        xmp_sidecars.follow(side, where.parent, beside(side.name, claimed.path.name, where.name))
    return where


def prune_emptied(root: Path, rel: str) -> None:
    """The folders of `rel` under `root` (processing/) that its file's leaving emptied,
    deepest first, by descriptor; never `root`, and none that holds anything (rmdir
    refuses). Only from the thread that claims: a claim into a folder removed under it
    would fail (so never in a cluster's nodes, which do not claim). `rel` may come from a
    cluster's job record, which is data: nothing but a path inside the folder is pruned
    (`../inbox/x.jpg` or an absolute path emptied folders outside processing/)."""
    if relative_name(rel) is None:
        return
    parts = Path(rel).parent.parts
    for depth in range(len(parts), 0, -1):
        try:
            with nofollow.opened(root.joinpath(*parts[:depth - 1])) as parent:
                os.rmdir(parts[depth - 1], dir_fd=parent)
        except OSError:  # not empty (another file, or the original kept), or gone: the rest is not ours
            return


def fail(folder: Folder, src: Path, rel: str, *, error: str, step: str, attempts: int = 1,
         explained: tuple[str, ...] = (), sidecar: str | None = None) -> Path:
    """Move the original to failed/ with a record saying why (and its XMP `sidecar`, a
    path relative to the inbox as `rel`, beside it).

    Three steps, each one rename: the record is written under a hidden temp name of
    ours (which names where the original goes), the original is moved, then the
    record takes its final name. A crash between two leaves a temp record, which
    recovery finishes (the original is there) or removes (it is not): recovery never
    has to guess from a name whether a file in failed/ is ours.
    """
    fields: dict = {"error": display(error), "step": step, "attempts": attempts}
    if explained:  # what `hotfolder explain` says of it (the status page shows it)
        fields["explain"] = [display(line) for line in explained]
    return _move_with_record(folder, src, rel, folder.failed, SIDECAR, "failed_as", fields, sidecar)


def duplicate(folder: Folder, src: Path, rel: str, *, kind: str, matched: dict, sidecar: str | None = None,
              said: Callable[[Path], dict] | None = None) -> Path:
    """Move a skipped duplicate to the folder's duplicates folder with `NAME.duplicate.json`
    naming the earlier original it repeats or resembles (`matched`), as fail() does; `said`:
    more of the record, from where the copy goes (a command that names it)."""
    if folder.duplicates is None:  # the config gives every folder one
        raise ValueError(f"folder {folder.name!r} has no duplicates folder")
    fields = {"kind": kind, "matched": matched}
    return _move_with_record(folder, src, rel, folder.duplicates, DUPLICATE_RECORD, "duplicate_as", fields, sidecar,
                             said)


def _move_with_record(folder: Folder, src: Path, rel: str, root: Path, suffix: str, moved_as: str,
                      fields: dict, xmp: str | None, said: Callable[[Path], dict] | None = None) -> Path:
    """The original to `root` with its JSON record beside it (`NAME` + `suffix`): the record
    under a temp name, the move, the record's rename (see fail()); then its XMP sidecar."""
    with nofollow.opened(src.parent) as src_dir, _opened_place(root, rel, suffix) as (dst_dir, dst):
        record = {
            "file": display(rel),
            **fields,
            **(said(dst) if said is not None else {}),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "folder": display(folder.name),
            moved_as: name_as_hex(dst.name),  # for recovery: the exact bytes of the name
            "file_as": name_as_hex(rel),  # for requeue: the name it came in with, exactly
        }
        if xmp:  # its XMP sidecar goes beside it: requeue brings it back under this name
            record["sidecar_as"] = name_as_hex(xmp)
        data = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        pending = write_temp(dst_dir.fd, data, temp_prefix(folder.temp_token) + RECORD_TEMP)
        try:
            os.rename(src.name, dst.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir.fd)
        except BaseException:
            unlink_at(dst_dir.fd, pending)
            raise
        os.rename(pending, dst.name + suffix, src_dir_fd=dst_dir.fd, dst_dir_fd=dst_dir.fd)
        os.fsync(dst_dir.fd)
    if xmp:
        name = Path(xmp).name
        xmp_sidecars.follow(src.parent / name, dst.parent, beside(name, src.name, dst.name))
    return dst


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
        named = name_from_hex(record["file_as"])
        inside = relative_name(named)
        if inside is None:
            raise UnsafeRecord(
                f"{display(str(path))}: its failure record asks to requeue it as {display(str(named))[:80]!r}, which "
                f"is not a name inside the inbox (absolute, '..', or not a name): a record is data, never a path "
                f"to follow; delete {display(path.name + SIDECAR)} to requeue it under its name in failed/")
        ignored = next((part for part in Path(inside).parts if rules.ignored_name(folder, part)), None)
        if ignored is not None:
            raise UnsafeRecord(
                f"{display(str(path))}: its failure record asks to requeue it as {display(inside)[:80]!r}, where the "
                f"inbox never takes a file ({display(ignored)!r} is a name it ignores: hidden, a temp or system "
                f"file's, or `ignore:`); it would lie there for ever, or in a folder of the daemon's kept inside the "
                f"inbox; delete {display(path.name + SIDECAR)} to requeue it under its name in failed/")
        rel = inside
    side = xmp_sidecars.failed_beside(path, record)
    # Unique by the name alone: the inbox holds no records, so a user's file named like one
    # (`y.jpg.error.json`, requeued first) must not push `y.jpg` to `y_1.jpg` (it did on
    # tmpfs, whose listing order put that file first).
    with nofollow.opened(path.parent) as src_dir, _opened_place(folder.inbox, rel, sidecar="") as (dst_dir, dst):
        if side is not None:  # first: the image it waits for is not in the inbox yet
            xmp_sidecars.follow(path.parent / side[0], dst.parent, side[1])
        # The record leaves first: a file renamed into the inbox is claimed at once, and one
        # failing again within milliseconds found its old record still there and went to
        # failed/ as NAME_1 (met under load). Under a temp record's name, a crash before the
        # file's move is recovery's to undo (spool/recovery: the record goes back beside it).
        parked = park_record(src_dir, path.name, folder.temp_token)
        try:
            dst = _rename_unique(src_dir, path.name, dst_dir, dst, Path(rel).name, sidecar="")
        except BaseException:
            if parked is not None:  # back beside its file; if the file has gone (another
                _unpark(src_dir, parked, path.name)  # requeue took it), it goes too
            raise
        if parked is not None:
            drop_parked(src_dir, parked, path.name)
        os.fsync(dst_dir.fd)
    return dst


def drop_parked(dir_fd: int, parked: tuple[str, int], name: str) -> None:
    """The record taken away (`park_record`) removed, once its file has left. A daemon
    starting in between gave it its name back (recovery finishes a temp record whose file
    is there), which would leave it beside nothing and send the file's next failure to
    `NAME_1`: then the record under its name goes, if it is the same one (its inode; a
    newer failure's record is a file of its own)."""
    temp, inode = parked
    try:
        os.unlink(temp, dir_fd=dir_fd)
        return
    except FileNotFoundError:
        pass
    try:
        back = os.stat(name + SIDECAR, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if back.st_ino == inode:
        unlink_at(dir_fd, name + SIDECAR)


def _unpark(dir_fd: int, parked: tuple[str, int], name: str) -> None:
    """The record taken away put back beside its file (the move failed), or dropped if the
    file has gone; already back under its name (a daemon's recovery, see drop_parked) is fine."""
    if not exists_at(dir_fd, name):
        unlink_at(dir_fd, parked[0])
        return
    try:
        os.rename(parked[0], name + SIDECAR, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def park_record(dir_fd: int, name: str, token: str) -> tuple[str, int] | None:
    """`name`'s failure record renamed to a temp record's name of ours (which recovery
    finishes or removes, by the original it names): that name and the record's inode;
    None if it has no record."""
    parked = temp_name(temp_prefix(token) + RECORD_TEMP)
    try:
        inode = os.stat(name + SIDECAR, dir_fd=dir_fd, follow_symlinks=False).st_ino
        os.rename(name + SIDECAR, parked, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    return parked, inode


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
        side = claimed.sidecar_path
        if side is not None:  # first: back in the inbox, it waits for its image
            xmp_sidecars.follow(side, (folder.inbox / claimed.rel).parent, side.name)
        return _move(claimed.path, folder.inbox, claimed.rel)
    except FileNotFoundError:
        return None  # gone from processing/ meanwhile
