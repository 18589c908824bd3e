"""Who owns which output name: no output of one original silently replaces another's.

`a.jpg`, `a.png` and a camera's `a.CR3` all render to `a_web.jpg` with the default
template; so do `x_big.jpg`'s `web` and `x.jpg`'s `big_web`. The first original to
write a name owns it; re-dropping the same original (same folder, same path in the
inbox) replaces its own outputs, when it is the same photo: the index of originals tells a
new version (an edit, a re-export: the same generation) from a different photo under a used
name (IMG_7777 again on another card: the next generation, another owner, whose clashes go
straight to `~2`), issue 26.2. Another original whose output would land on an
owned name follows the folder's `on_name_clash`:

    suffix  (default) its output gets `~<its extension>` before the output's own
            (`a_web~png.jpg`), then `~2`, `~3`… if that is owned too (straight to `~2`
            beside an original whose extension differs in case only: IMG_1.JPG's)
    replace it replaces the output and takes the name over
    fail    the file goes to failed/, naming the original that owns the name

Names that differ only in case are one name (`IMG_0001_web.jpg`, `img_0001_web.jpg`): an
SMB share's clients and an exFAT or NTFS disk take them for one, and on such an output folder
the second write replaced the first. Each output also has a marker keyed by its case-folded
path (`folded`), naming the original that first took the name in any case; a name this
original owns exactly (two written apart before) stays its own.

Ownership is decided from what is on disk, so it holds across restarts and between
the workers (and machines) writing at once: each output name has a marker under
`names_dir`, a symlink whose target is a digest of its owner (a symlink this short
lives in its inode: no data block per output). The markers are read and written
under an flock. A marker whose output is gone, whose owner is not in processing/ and
which was not made in the last RESERVED_FOR seconds is stale: the name is free again,
and `prune` deletes it.

An output with no marker has an owner nobody knows: written before markers existed,
put there by hand, its marker deleted (state_dir/names removed), or its output folder
moved (markers are keyed by the output's path). The output file holds nothing that names
its original, and the template cannot be inverted (`a.jpg` and `a.png` both make
`a_web.jpg`), so ownership cannot be rebuilt from names: such an output is treated as
another original's (kept; the new one gets `~ext`, or fails), except under
on_name_clash: replace, or where the caller proves it this original's by its bytes
(reserve_told's `proven`: workers/provenance.py, from the index of originals). Never a
silent replacement on a guess.
"""
from __future__ import annotations

import bisect
import errno
import fcntl
import hashlib
import os
import re
import stat
import time
import unicodedata
from array import array
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hotfolder import nameparts
from hotfolder.config.model import MANIFEST_FIELDS, Config, Folder, Rendition
from hotfolder.errors import HotfolderError
from hotfolder.filekinds import kind, open_regular, removal
from hotfolder.recipes import templates
from hotfolder.spool import nofollow, space
from hotfolder.spool.fsnames import NAME_MAX, display, fit_name
from hotfolder.spool.recovery import claimed_files

MAX_SUFFIX = 99  # `~2` … `~99`: past that, something is wrong with the templates
PRUNE_AFTER = 10_000  # files rendered between two prunes, at the least (see Pruning)
# A marker made this recently whose output is not there yet may be a write under way of
# an owner that is not in processing/ (a file of `hotfolder process` or `rerender`): never
# stale. A name is reserved after the render, so only the writing of the outputs lies
# between the two: seconds; ten minutes leaves a slow share room. (Taken as stale at once,
# `process` of a.jpg and a.png wrote both thumbnails to one name: CI saw it.)
RESERVED_FOR = 600.0


class NameClash(HotfolderError):
    """on_name_clash: fail, and the output's name is owned by another original."""


class RecordsUnwritable(HotfolderError):
    """The name-ownership records (in state_dir) cannot be written: the daemon's folder is
    the problem, not the file (the file waits, and claiming pauses, as for a full disk)."""

    def __init__(self, names_dir: Path, exc: OSError):
        self.errno = exc.errno
        full = f" (on {space.file_system(names_dir)})" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        super().__init__(f"the records of which output names are whose ({names_dir}, in state_dir{full}) cannot be "
                         f"written: {exc.strerror or exc}; free space there or fix its permissions")


def output_name(rendition: Rendition, src_name: str, ext: str, folder: str = "",
                values: Mapping[str, object] | None = None) -> str:
    """The output's path the rendition's template asks for (before clashes), relative to
    its folder: one name, or folders and a name when the template has a `/`. `values`:
    the photo's fields and the output's own (workers/naming.py), over the name's."""
    given = name_fields(rendition, src_name, ext, folder, values)
    return templates.fill(templates.parsed(rendition.filename), given, as_path=True)


def name_fields(rendition: Rendition, src_name: str, ext: str, folder: str = "",
                values: Mapping[str, object] | None = None) -> dict[str, object]:
    """Every field an output's template is filled with: the name's own (`stem`, `name`,
    `ext`, `rendition`, `folder`, `source_ext`) and `values` over them."""
    return {"stem": nameparts.stem(src_name), "name": src_name, "ext": ext, "rendition": rendition.name,
            "folder": folder, "source_ext": nameparts.suffix(src_name).lstrip(".").lower(), **(values or {})}


def manifest_name(template: str, src_name: str, folder: str = "") -> str:
    """The file name a folder's `manifest` template asks for (before clashes)."""
    src = Path(src_name)
    given = {"stem": src.stem, "name": src_name, "folder": folder, "source_ext": src.suffix.lstrip(".").lower()}
    name = templates.fill(templates.parsed(template, MANIFEST_FIELDS), given, as_path=True)
    return name.replace("/", "_")  # one name, in the file's own subfolder (a `{folder}` with a / too)


def manifest_rel(folder: Folder, rel: str) -> str | None:
    """Where the manifest of the original at `rel` goes under the output folder (before
    clashes): in the file's own subfolder, wherever templates send its outputs; None
    without a `manifest:` (what `explain` and `rerender --dry-run` say of it)."""
    if folder.manifest is None:
        return None
    parent, name = os.path.split(rel)
    name = manifest_name(folder.manifest, name, folder.name)
    return f"{parent}/{name}" if parent else name


def owner_id(folder: Folder, rel: str, generation: int = 0, source: Path | None = None) -> str:
    """An original's identity: its path in processing/ (one per folder and inbox path), and
    which photo of that name it is (issue 26.2: the index of originals tells a new version
    of the earlier photo, which keeps its generation, from a different photo, which gets the
    next). Generation 0 is the identity markers had before generations existed. `source`:
    a file of `hotfolder process`, which is itself wherever it lies: a file of the same name
    was the drop of that name, and replaced a different photo's outputs (an attack round)."""
    where = source if source is not None else folder.processing / rel
    digest = hashlib.sha1(os.fsencode(str(where))).hexdigest()
    return digest if not generation else f"{digest}:{generation}"


def _file_of(owner: str | None) -> str | None:
    """The file part of an owner (its path in processing/), whichever photo of the name it is:
    what tells whether the owner is being rendered now."""
    return owner.partition(":")[0] if owner else owner


def _key(output: Path | str) -> str:
    return hashlib.sha256(os.fsencode(str(output))).hexdigest()


def _marker(names_dir: Path, output: Path) -> Path:
    key = _key(output)
    return names_dir / key[:2] / key


def folded(output: Path | str) -> str:
    """A path as a file system that does not tell case apart sees it (exFAT, NTFS, a Windows
    server's share, APFS by default, a Samba share to its clients): its letters case-folded,
    in one spelling (NFC, as macOS compares). Folds more than some do (`ß` is `ss`): two names
    taken for one get `~2`, where the other way one output replaced another's."""
    return unicodedata.normalize("NFC", str(output)).casefold()


def _fold_key(output: Path | str) -> str:
    return hashlib.sha256(b"fold\0" + os.fsencode(folded(output))).hexdigest()


def _fold_marker(names_dir: Path, output: Path) -> Path:
    """The marker of the name whatever its case: the owner of the first output written under
    any case of it (beside the marker of its exact name, which says whose that name is)."""
    key = _fold_key(output)
    return names_dir / key[:2] / key


def _variant_there(root: Path, path: Path) -> bool:
    """Whether a file whose path under `root` differs from `path`'s only in case is there (on a
    file system that tells case apart: where it does not, lstat of `path` finds it), its
    folders' case too (`Anna/a.jpg` for `ANNA/a.jpg`). Read only for a name whose case another
    original holds, not rendering and not lately: the listings of the folders on its way."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    places = [root]
    for i, part in enumerate(parts):
        want, last = folded(part), i == len(parts) - 1
        found = []
        for place in places:
            try:
                with os.scandir(place) as entries:
                    found += [Path(e.path) for e in entries if folded(e.name) == want
                              and (e.is_file(follow_symlinks=False) if last else e.is_dir(follow_symlinks=False))]
            except OSError:
                continue
        places = found
    return any(p != path for p in places)


class PlannedNames(dict[Path, str]):
    """plan's `planned`, the paths the originals planned before would have written and whose,
    also by their folded paths (`folded`): a dry run of 10,000 originals folded every name
    planned before for each original (quadratic) without it."""

    def __init__(self) -> None:
        super().__init__()
        self.folded: dict[str, str] = {}

    def __setitem__(self, path: Path, owner: str) -> None:
        super().__setitem__(path, owner)
        self.folded[folded(path)] = owner

    def update(self, *args, **kwargs) -> None:
        for path, owner in dict(*args, **kwargs).items():
            self[path] = owner


def _read(marker: Path) -> str | None:
    try:
        return os.readlink(marker)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write(buckets: _Buckets, marker: Path, owner: str, present: bool, like: Path | None = None) -> None:
    """The marker says `owner` (under the lock). A new one is a symlink made in one step
    (atomic: there or not); one `present` is replaced through a temp link and a rename. Made
    by descriptor, in its bucket open from names_dir's (`buckets`): never through a link.

    `like`: a marker this reserve wrote for the same owner a moment ago. The new one is then a
    hard link to that symlink (link(2) of a symlink links the symlink itself): it reads the
    same (readlink), and is pruned by its own name as any other, but makes no new inode,
    which costs 15-20 µs where making one costs 25 µs to 0.7 ms of CPU (ext4 steps over
    recently deleted inodes). Made as a symlink of its own if linking fails."""
    at = buckets(marker)
    source = (buckets(like), like.name) if like is not None else None
    if not present:
        try:
            _make(owner, at, marker.name, source)
            return
        except FileExistsError:
            pass  # a marker's name, yet readlink found none there: replaced as any other
    tmp = f".{marker.name}.{os.getpid()}"
    nofollow.unlink_at(at, tmp)
    _make(owner, at, tmp, source)
    os.replace(tmp, marker.name, src_dir_fd=at, dst_dir_fd=at)


def _make(owner: str, at: int, name: str, like: tuple[int, str] | None) -> None:
    """The marker `name` in the bucket open as `at`: a hard link to the marker `like` (its
    bucket's descriptor and its name; it says `owner`), else (none, gone, a file system
    without hard links, or too many) a symlink of its own. FileExistsError: `name` is there."""
    if like is not None:
        try:
            os.link(like[1], name, src_dir_fd=like[0], dst_dir_fd=at, follow_symlinks=False)
            return
        except FileExistsError:
            raise  # the caller replaces it, as for a symlink
        except OSError:
            pass  # `like` went (not under our lock: by hand), or no hard link here: our own symlink
    os.symlink(owner, name, dir_fd=at)


class NotTheNamesFolder(RecordsUnwritable):
    """A symbolic link stands at names_dir, or at one of its buckets (names/<2 hex>/): the
    daemon's user can put one there. Followed, `rerender` and `process` run as root made the
    lock, the buckets and root's markers wherever it pointed (an attack round). Never
    followed: names_dir is opened from / without a link (nofollow.open_dir), its lock and
    buckets from its descriptor, the markers in theirs."""

    def __init__(self, link: Path):
        self.errno = None
        HotfolderError.__init__(self, f"{display(str(link))} is a symbolic link, where the records of which output "
                                      "names are whose keep a folder: it is never followed; remove it "
                                      f"(`{removal(link, 'a symlink')}`, as root or the daemon's user): it is "
                                      "made again")


class _Buckets:
    """names_dir's buckets (names/<2 hex>/) open by descriptor from names_dir's, each once
    for the markers a reserve writes (made if missing; a link there is NotTheNamesFolder):
    one openat a bucket, where opening each from / (openat2) per marker cost ~30 µs a
    marker more than writing by path (bench in DESIGN)."""

    def __init__(self, names_dir: Path, fd: int):
        self.names_dir, self.fd = names_dir, fd
        self.open: dict[str, int] = {}

    def __call__(self, marker: Path) -> int:
        name = marker.parent.name
        if name not in self.open:
            try:
                self.open[name] = nofollow.open_child(self.fd, name, make=True, where=self.names_dir)
            except nofollow.FolderSwapped as exc:
                raise NotTheNamesFolder(exc.link) from None
        return self.open[name]

    def close(self) -> None:
        for fd in self.open.values():
            os.close(fd)
        self.open.clear()


# open(…, "a"), by the descriptor alone; never through a symlink, never waiting in a FIFO's open
LOCK_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND  # filekinds.open_regular adds the rest
PLAN_FLAGS = os.O_RDONLY


class NotTheNamesLock(RecordsUnwritable):
    """Something other than a regular file stands at names_dir/.lock. It was opened through a
    symlink (as root, `rerender` and `process` made an empty file wherever it pointed:
    /etc/nologin keeps every other user out) and a FIFO's open waited for ever (an attack
    round). The daemon's folder is the problem, not the file's, as RecordsUnwritable says."""

    def __init__(self, path: Path, what: str):
        self.errno = None
        HotfolderError.__init__(self, f"{display(str(path))} is {what}, not the lock of the records of which "
                                      "output names are whose: it is never opened; remove it "
                                      f"(`{removal(path, what)}`, as root or the daemon's user): it is "
                                      "made again")


def _open_lock(path: Path, flags: int, folder: int) -> int:
    """The names lock at `path` (in names_dir, open as `folder`), a regular file;
    NotTheNamesLock for anything else there."""
    return open_regular(path, flags, 0o666, NotTheNamesLock, dir_fd=folder)


@contextmanager
def _locked(names_dir: Path, make: bool = True):
    """The names lock, held; yields names_dir's buckets (_Buckets), for writing markers.
    `make` False (a plan, which writes nothing): none is made, and where names_dir or its
    lock is not there no record is either, so there is nothing to wait for (a dry run made
    them again, as root a folder the daemon's user could not write in); it yields None then.
    names_dir is reached from / without a link (NotTheNamesFolder), its lock opened in it."""
    try:
        folder = nofollow.open_dir(names_dir, make)
    except nofollow.FolderSwapped as exc:
        raise NotTheNamesFolder(exc.link) from None
    except FileNotFoundError:  # names_dir is new (or was removed): made again by a write
        if make:
            raise
        yield None
        return
    buckets = _Buckets(names_dir, folder)
    try:
        try:
            fd = _open_lock(names_dir / ".lock", LOCK_FLAGS if make else PLAN_FLAGS, folder)
        except FileNotFoundError:
            if make:
                raise
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield buckets
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        buckets.close()
        os.close(folder)


def candidates(output: Path, source_ext: str):
    """`a_web.jpg`, then `a_web~png.jpg`, `a_web~2.jpg`, `a_web~3.jpg`… (without a
    `source_ext`: a different photo under the same name goes straight to `~2`)."""
    yield output
    stem, suffix = output.stem, output.suffix
    tags = ([source_ext] if source_ext else []) + [str(n) for n in range(2, MAX_SUFFIX + 1)]
    for tag in tags:
        name = f"{stem}~{tag}{suffix}"
        if len(os.fsencode(name)) > NAME_MAX:
            name = fit_name(output.with_name(name), 0).name
        yield output.with_name(name)


def reserve(folder: Folder, rel: str, outputs: list[Path], generation: int = 0, *,
            source: Path | None = None) -> list[Path]:
    """The paths this original's outputs are written to: `outputs` where they are free
    or its own, else per the folder's on_name_clash. Raises NameClash (policy fail).
    `generation`: which photo of this name it is (owner_id); a later one's clashes are
    numbered (`~2`), the extension being the same. `source`: owner_id's."""
    return [t.path for t in reserve_told(folder, rel, outputs, generation, source=source)[0]]


def reserve_new(folder: Folder, rel: str, outputs: list[Path], generation: int = 0, *, claimed_ns: int,
                source: Path | None = None) -> tuple[list[Path], int]:
    """reserve() for a photo the index of originals knows no earlier rendering of (a first
    drop of its name, or a different photo), and the generation it is written as. Outputs
    its identity already owns, written before this file was claimed (`claimed_ns`), are
    then an earlier photo's that the index no longer knows (forgotten past duplicate_window,
    rebuilt from the archive, which keeps no names or generations, or from before the
    index): they are never replaced, and the next generation is taken. Trusting the index
    there replaced them (an attack round). Written since the claim, they are this file's own,
    from an attempt a kill cut short: replaced, as always (a review: a second set)."""
    taken, generation = reserve_told(folder, rel, outputs, generation, claimed_ns=claimed_ns, source=source)
    return [t.path for t in taken], generation


@dataclass(frozen=True)
class Taken:
    """Where reserve puts one output, and what that does (the worker's log says it)."""

    path: Path
    asked: Path  # the name the template asked for
    owner: str | None  # the owner its record named before (None: no record)
    # What the write replaces: "" (nothing is there), "own" (this original's output), "proven"
    # (an output of no record that `proven` shows to be this original's), "another" (another
    # original's: on_name_clash replace), "unknown" (an output of no record: replace)
    replaces: str
    # Why the name asked for was not taken: "" (it was), "another" (another original's output),
    # "unknown" (an output no record names the writer of), "twin" (another output of this file's),
    # "not_a_file" (a folder, or a FIFO or a link, stands there), "case" (another original's output
    # has the name in another case)
    kept: str = ""
    # Whether the marker of the name whatever its case is to say this original (none said
    # another that holds the name now: see _choose)
    fold: bool = False


# An output file as `proven` saw it: st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns. The change
# time, which no one can set, tells a rewrite in place whose mtime was put back (`touch -r`).
Identity = tuple[int, int, int, int, int]


def identity(st: os.stat_result) -> Identity:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def reserve_told(folder: Folder, rel: str, outputs: list[Path], generation: int = 0, *, claimed_ns: int = 0,
                 source: Path | None = None, proven: Mapping[Path, Identity] | None = None
                 ) -> tuple[list[Taken], int]:
    """reserve() (reserve_new() with a `claimed_ns`), each output told as a Taken. `proven`:
    outputs with no owner record whose bytes the caller proved to be this original's, as it
    saw them (their Identity): each is this original's own if it is still that very file (an
    output folder moved, or names/ deleted: workers/provenance.py)."""
    if folder.names_dir is None:
        return [Taken(out, out, None, "own" if os.path.lexists(out) else "") for out in outputs], generation
    try:
        return _reserve(folder, folder.names_dir, rel, outputs, generation, fresh=claimed_ns, source=source,
                        proven=proven or {})
    except OSError as exc:
        raise RecordsUnwritable(folder.names_dir, exc) from None


@dataclass(frozen=True)
class Planned:
    """What reserve would do with one output, said without doing it (`hotfolder rerender
    --dry-run`): `path` it would be written to, and `how`: "replaced" (this original's own
    output), "new", "renamed" (a new output under another name: the name is another
    original's, on_name_clash suffix), "taken over" (another's, on_name_clash replace), or
    why it would fail (on_name_clash fail)."""

    path: Path
    how: str


def plan(folder: Folder, rel: str, outputs: list[Path], generation: int = 0,
         planned: Mapping[Path, str] | None = None, proven: Mapping[Path, Identity] | None = None
         ) -> list[Planned]:
    """What reserve_told(folder, rel, outputs, generation, proven=proven) would choose now,
    under the same lock, writing nothing. `planned`: paths (and their owners) that originals
    planned before this one would have written by then (a dry run of several: each sees the
    names the ones before it take)."""
    names_dir = folder.names_dir
    if names_dir is None:
        return [Planned(out, "replaced" if os.path.lexists(out) or out in (planned or {}) else "new")
                for out in outputs]
    try:
        picks = _reserve(folder, names_dir, rel, outputs, generation, write=False, pending=planned or {},
                         proven=proven)[0]
    except NameClash as exc:
        return [Planned(out, f"fails: {exc}") for out in outputs]
    return [Planned(t.path, ("new" if t.path == t.asked else "renamed") if not t.replaces
                    else "replaced" if t.replaces in ("own", "proven") else "taken over") for t in picks]


def _reserve(folder: Folder, names_dir: Path, rel: str, outputs: list[Path], generation: int,
             write: bool = True, fresh: int = 0, source: Path | None = None,
             pending: Mapping[Path, str] | None = None,
             proven: Mapping[Path, Identity] | None = None) -> tuple[list[Taken], int]:
    """`fresh`: reserve_new's `claimed_ns` (0: not new); `pending`: plan's `planned`;
    `proven`: reserve_told's."""
    with _locked(names_dir, make=write) as buckets:
        while True:
            me = owner_id(folder, rel, generation, source)
            picks = _choose(folder, names_dir, rel, outputs, generation, me, pending or {}, source, proven or {})
            if not fresh or not _earlier_photos(picks, me, fresh):
                break
            generation += 1  # see reserve_new: an earlier photo's, which the index no longer knows
            if generation > MAX_SUFFIX:
                raise NameClash(f"every name for the outputs of {display(rel)} up to ~{MAX_SUFFIX} is taken by "
                                f"earlier photos of that name; add {{source_ext}} or {{seq}} to the filename")
        mine: Path | None = None  # a marker written here for `me`: the others link to it (_write)
        for taken in picks if write else ():
            if taken.owner != me:
                marker = _marker(names_dir, taken.path)
                _write(buckets, marker, me, present=taken.owner is not None, like=mine)
                mine = marker
            if taken.fold:
                marker = _fold_marker(names_dir, taken.path)
                _write(buckets, marker, me, present=False, like=mine)
                mine = marker
    return picks, generation


def _earlier_photos(picks: list[Taken], me: str, claimed_ns: int) -> bool:
    """Whether `me` owns an output written before its file was claimed (reserve_new). One
    written in the same tick of the file system's clock as the claim (coarse: a few ms;
    Linux stamps a file finer only once its time was read) counts as an earlier photo's: an
    attempt killed after writing it that fast gets a second set, never the other way round
    (an earlier photo's outputs replaced)."""
    return any(t.owner == me and (written := mtime_ns(t.path)) is not None and written <= claimed_ns
               for t in picks)


def _made_lately(marker: Path | str) -> bool:
    """Whether the marker was made in the last RESERVED_FOR seconds (its owner may be
    writing its output now)."""
    try:
        return os.lstat(marker).st_mtime > time.time() - RESERVED_FOR
    except FileNotFoundError:
        return False


def mtime_ns(path: Path) -> int | None:
    """When the output at `path` was last written; None: there is none."""
    try:
        return os.lstat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def _choose(folder: Folder, names_dir: Path, rel: str, outputs: list[Path], generation: int,
            me: str, pending: Mapping[Path, str], source: Path | None = None,
            proven: Mapping[Path, Identity] | None = None) -> list[Taken]:
    """Under the names lock: each output's path, with the owner its marker names now (or
    will have named, for a path in `pending`: written by then, by that owner)."""
    source_ext = "" if generation else nameparts.suffix(rel).lstrip(".").lower()
    picks: list[Taken] = []
    in_flight: set[str] | None = None
    twins: frozenset[str] | None = None
    pending_folded = pending.folded if isinstance(pending, PlannedNames) else {folded(p): o for p, o in pending.items()}
    replace = folder.on_name_clash == "replace"
    for output in outputs:
        by_twin = False  # the plain name is the original's whose extension differs in case only
        kept = ""  # why `output` itself was not taken
        for n, path in enumerate(candidates(output, source_ext)):
            marker = _marker(names_dir, path)
            owner = pending[path] if path in pending else _read(marker)
            if any(path == t.path or (owner != me and folded(path) == folded(t.path)) for t in picks):
                kept = kept or "twin"
                continue  # two renditions of this file on one name (in any case): the second moves over
            # The owner of the name whatever its case (Case, below)
            kin = pending_folded[folded(path)] if folded(path) in pending_folded else \
                _read(_fold_marker(names_dir, path))
            if n == 0 and source_ext and owner is not None and owner != me:
                if twins is None:  # only when needed
                    twins = _case_twins(folder, rel, source)
                by_twin = _file_of(owner) in twins
            elif n == 1 and by_twin and owner != me:
                # `~jpg` beside IMG_1.JPG's output tells nothing of IMG_1.jpg's: the next number
                # does, as for another photo of one name (`IMG_1_web~jpg.jpg` was an admin's report).
                # A `~jpg` this original holds already (from before) stays its own.
                continue
            standing = None if path in pending else _standing(path)
            if standing is not None and standing != "file":
                # A folder (or a FIFO, a link) at an output's name: made for another original's
                # outputs by a template of the photo's values (a client's camera named
                # `IMG_0002_thumb.webp`), or by hand. Never replaced, whatever on_name_clash
                # says: the write failed IsADirectoryError under `replace` (an attack round).
                kept = kept or "not_a_file"
                if folder.on_name_clash == "fail":
                    raise NameClash(f"{standing} stands at its output's name {display(path.name)} (made for "
                                    "another original's outputs, or by hand), so it is not written there "
                                    "(on_name_clash: fail); move that away, or rename the file")
                continue
            there = standing is not None or path in pending
            ours = False  # an output of no record, proved this original's (the caller's `proven`)
            if owner is None:  # no record: free, unless an output whose owner is unknown is there
                # (on a file system blind to case, this original's own output under another case)
                ours = there and (_still(proven, path) or kin == me)
                free = replace or not there or ours
            else:
                free = owner == me or replace
                if not free and not there:  # looked at above: no second stat of each name
                    if in_flight is None:  # only when needed: processing/ is small
                        in_flight = {owner_id(folder, c.rel) for c in claimed_files(folder)}
                    # stale: its output is gone, its owner not rendering, nor writing it now
                    free = _file_of(owner) not in in_flight and not _made_lately(marker)
            # Case: another original holds the name under another case (`IMG_0001_web.jpg` for
            # `img_0001_web.jpg`, `Anna/` for `ANNA/`). A client of an SMB share, an exFAT or NTFS
            # disk takes the two for one name, and where the output folder is such a file system
            # the second write replaced the first (measured: 20 originals, 19 outputs). The name
            # this original owns exactly (two outputs written apart before this rule) stays its own.
            by_case = False  # the name was not taken for another original's under another case
            other_case = kin is not None and kin not in (me, owner) and owner != me
            if free and other_case and not replace:
                if in_flight is None:
                    in_flight = {owner_id(folder, c.rel) for c in claimed_files(folder)}
                # planned (a dry run: written by then), or not stale as an exact name's record would
                # be, or a file of the name in another case is there
                by_case = (folded(path) in pending_folded or _file_of(kin) in in_flight
                           or _made_lately(_fold_marker(names_dir, path)) or _variant_there(folder.output, path))
                free = not by_case
            elif not free and other_case and owner is None:
                by_case = True  # where case is one, lstat found that original's output: known, not "unknown"
            if free:
                break
            kept = kept or ("case" if by_case else "another" if owner is not None else "unknown")
            if folder.on_name_clash == "fail":
                raise NameClash(_clash_reason(path, kin if by_case else owner, case=by_case, under=folder.output))
        else:
            raise NameClash(f"every name for the output {display(output.name)} up to ~{MAX_SUFFIX} is "
                            f"taken by other originals; add {{source_ext}} to the rendition's filename")
        replaces = ("" if not there else "own" if owner == me else "proven" if ours
                    else "unknown" if owner is None else "another")
        # The marker of the name whatever its case says this original, unless it says another
        # that still holds the name under another case (this one's exact name kept from before)
        fold = kin != me and (owner != me or kin is None)
        picks.append(Taken(path, output, owner, replaces, kept, fold))
    return picks


def _still(proven: Mapping[Path, Identity] | None, path: Path) -> bool:
    """`path` is in `proven` and still the very file that was proved (not replaced since)."""
    if not proven or path not in proven:
        return False
    try:
        return identity(os.lstat(path)) == proven[path]
    except OSError:
        return False


CASE_TWINS_UP_TO = 6  # letters in an extension whose case variants are looked at (2**6 digests at most)


def _case_twins(folder: Folder, rel: str, source: Path | None) -> frozenset[str]:
    """The identities (file parts) of the originals whose names differ from this one's only in
    the case of their extension's letters (`IMG_1.JPG`, `IMG_1.Jpg` for `IMG_1.jpg`): each
    would be tagged with the same `~jpg`."""
    where = source if source is not None else folder.processing / rel
    ext = where.suffix[1:]
    letters = [i for i, ch in enumerate(ext) if ch.isascii() and ch.isalpha()]
    if not where.stem or not letters or len(letters) > CASE_TWINS_UP_TO:
        return frozenset()
    twins = set()
    for mask in range(1 << len(letters)):
        chars = list(ext)
        for bit, i in enumerate(letters):
            chars[i] = chars[i].upper() if mask >> bit & 1 else chars[i].lower()
        if (variant := "".join(chars)) != ext:
            twins.add(hashlib.sha1(os.fsencode(str(where.with_suffix("." + variant)))).hexdigest())
    return frozenset(twins)


def has_record(folder: Folder, output: Path) -> bool:
    """Whether a marker names the owner of `output` (read without the lock: a hint only)."""
    return folder.names_dir is not None and _read(_marker(folder.names_dir, output)) is not None


def why_not_taken(folder: Folder, rel: str, output: Path, proven: Mapping[Path, Identity] | None = None) -> str:
    """Why reserve would not give `output` to the original `rel` now ("" it would), as far as
    can be read without the lock or a write (`hotfolder explain`): Taken.kept ("another",
    "unknown", "not_a_file", "case"), or "fail" (on_name_clash: fail). The same choice (_choose), so an output of no
    record that `proven` shows to be this original's is its own, as in the daemon."""
    if folder.names_dir is None:
        return ""
    try:
        picked = _choose(folder, folder.names_dir, rel, [output], 0, owner_id(folder, rel), {}, proven=proven)
    except NameClash:
        return "fail"
    return picked[0].kept


def _standing(path: Path) -> str | None:
    """What stands at an output's name: None (nothing), "file" (a regular file), or what
    else it is, in words ("a directory")."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # nothing to be seen there, as os.path.lexists says: no such file, a file or a link's
        return None  # loop where its folder would be, a folder not ours to search (the write says why)
    return "file" if stat.S_ISREG(mode) else kind(mode)


def _clash_reason(path: Path, owner: str | None, case: bool = False, under: Path | None = None) -> str:
    if case:
        # Its path under the output: the case may differ in a folder (`ANNA/` of a title, `Anna/`)
        # only. {source_ext} tells nothing apart here (IMG_1.JPG and img_1.jpg are both `jpg`).
        shown = path.relative_to(under).as_posix() if under is not None and path.is_relative_to(under) else path.name
        return (f"its output {display(shown)} differs only in case from another original's output, which "
                f"Windows and macOS clients (an SMB share, an exFAT or NTFS disk) take for the same name "
                f"(on_name_clash: fail); rename the file, or add {{seq}} or {{hash:8}} to the rendition's "
                f"filename")
    if owner is None:
        return (f"its output {display(path.name)} exists, and which original wrote it is not known (no record in "
                f"state_dir/names: made before names were recorded, by hand, or its record was deleted), so it "
                f"is not replaced (on_name_clash: fail); remove or rename that output, or rename the file")
    return (f"its output {display(path.name)} would replace the output of another original of the same name "
            f"(on_name_clash: fail); rename the file, or add {{source_ext}} to the rendition's filename")


# --- pruning ------------------------------------------------------------------

@dataclass(frozen=True)
class Pruned:
    kept: int
    removed: int
    seconds: float


def prune(folders: tuple[Folder, ...], unseen: frozenset[str] = frozenset()) -> Pruned:
    """Delete the markers whose output is gone, whose owner is not in processing/ and
    which were not made lately (the names of outputs someone took away: they would be free
    anyway), and the temp markers a crash left. `folders`: all those sharing the
    names_dir, whose outputs are walked; the markers of a names_dir shared with a folder
    of `unseen` (its output on a share not mounted now: its outputs cannot be seen, not
    gone) are left as they are.

    Under the flock, so no worker reserves meanwhile: a marker whose output is being
    written has its owner in processing/, or (`process`, rerender) was made lately, and is
    kept. A marker of a folder no longer in the config goes; its outputs are then of
    unknown owner (kept, see the top).

    What it holds meanwhile is 8 bytes a marker and 16 an output (_Keys), whatever the
    names: it runs in the main process at every start and as the outputs grow, and a dict
    of the keys as text took ~840 bytes an output (100,000 outputs: 108 MiB more at its
    peak; bench/names_prune.py)."""
    t0 = time.monotonic()
    kept = removed = 0
    for names_dir in dict.fromkeys(f.names_dir for f in folders if f.names_dir is not None):
        sharing = [f for f in folders if f.names_dir == names_dir]
        if any(f.name in unseen for f in sharing):
            continue
        with _locked(names_dir) as buckets:
            there = _marker_keys(names_dir)
            live = _Keys()
            for f in sharing:
                for path in _files_under(f.output):
                    key, fold_key = _key(path), _fold_key(path)
                    own, fold = int(key[:16], 16), int(fold_key[:16], 16)  # as _short reads them
                    live.add(own)
                    live.add(fold)
                    if there.has(own) and not there.has(fold):
                        _fold_marker_made(buckets, names_dir, key, fold_key)
                        there.add(fold)
            live.freeze()
            in_flight = {owner_id(f, c.rel) for f in sharing for c in claimed_files(f)}
            k, r = _prune_markers(names_dir, live, in_flight)
        kept, removed = kept + k, removed + r
    return Pruned(kept, removed, time.monotonic() - t0)


def _files_under(root: Path):
    """The path of every file under root (as str(Path) spells it: what _key digests), as
    os.walk lists them (a link to a folder is not entered, nor given), one at a time: os.walk
    lists a folder's names first, all of a flat output folder's; and a Path made of each took
    a quarter of the prune's time (cProfile, 100,000 outputs)."""
    folders = [os.fspath(root)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        yield entry.path
                    elif not entry.is_symlink():
                        folders.append(entry.path)
        except OSError:
            continue  # gone or unreadable, as os.walk passes over it


class _Keys:
    """A set of markers' names (64 hex digits) kept as their first 64 bits (`short`), 8 bytes
    each: one array per first byte (the markers' own buckets), sorted once filled (`freeze`),
    looked up by bisection; what is added after the freeze, in a set beside. Two names sharing
    their first 64 bits are one here: a stale marker kept (it goes at a later prune, once the
    other one's output is gone too), or a case marker of a release before the case rule not
    made again (odds ~n²/2**64, 1e-6 at a million outputs)."""

    def __init__(self) -> None:
        self._buckets = [array("Q") for _ in range(256)]
        self._added: set[int] = set()
        self._frozen = False

    def add(self, k: int) -> None:
        if self._frozen:
            self._added.add(k)
        else:
            self._buckets[k >> 56].append(k)

    def freeze(self) -> None:
        self._buckets = [array("Q", sorted(b)) for b in self._buckets]
        self._frozen = True

    def has(self, k: int) -> bool:
        bucket = self._buckets[k >> 56]
        i = bisect.bisect_left(bucket, k)
        return (i < len(bucket) and bucket[i] == k) or k in self._added


def _short(name: str) -> int | None:
    """A marker's name as _Keys keeps it; None for a name no output has (a temp marker, a
    file put there by hand: int() alone read `-fff…` as a negative key, which _Keys' array
    refused, and every start's prune failed)."""
    if len(name) != 64 or not _HEX.fullmatch(name):
        return None
    return int(name[:16], 16)


_HEX = re.compile(r"[0-9a-f]{64}")  # as hexdigest() writes a marker's name


def _marker_keys(names_dir: Path) -> _Keys:
    """The names of the markers in names_dir, frozen."""
    keys = _Keys()
    with os.scandir(names_dir) as buckets:
        for bucket in buckets:
            if bucket.is_dir(follow_symlinks=False):
                with os.scandir(bucket.path) as markers:
                    for marker in markers:
                        if (k := _short(marker.name)) is not None:
                            keys.add(k)
    keys.freeze()
    return keys


def _fold_marker_made(buckets: _Buckets, names_dir: Path, key: str, fold_key: str) -> None:
    """The marker of the name whatever its case, made for an output whose own marker is there
    without one (written by a release before the case rule, which made no such markers): it says
    the owner of the output's own marker (of the first seen, where outputs differ in case only;
    the others' own markers keep their names theirs). Without it, an upgraded output folder's
    names were held in their exact case only: `img_0001_web.jpg` of a new original went beside
    `IMG_0001_web.jpg` written before the upgrade (an SMB share's clients see one name). Made at
    the start's prune, before any worker reserves."""
    if (owner := _read(names_dir / key[:2] / key)) is None:
        return
    _write(buckets, names_dir / fold_key[:2] / fold_key, owner, present=False, like=names_dir / key[:2] / key)


def _prune_markers(names_dir: Path, live: _Keys, in_flight: set[str]) -> tuple[int, int]:
    """Delete the markers found stale (see prune): how many are kept, how many removed."""
    kept = removed = 0
    with os.scandir(names_dir) as buckets:
        for bucket in [b for b in buckets if b.is_dir(follow_symlinks=False)]:
            with os.scandir(bucket.path) as markers:
                for marker in list(markers):
                    if _stays(marker, live, in_flight):
                        kept += 1
                        continue
                    os.unlink(marker.path)
                    removed += 1
            try:
                os.rmdir(bucket.path)
            except OSError:
                pass  # not empty
    return kept, removed


def _stays(marker: os.DirEntry, live: _Keys, in_flight: set[str]) -> bool:
    """A marker of an output there, or (not a temp marker) of an owner being rendered or made
    lately."""
    k = _short(marker.name)
    if k is not None and live.has(k):
        return True
    return not marker.name.startswith(".") and (_file_of(_owner_of(marker.path)) in in_flight
                                                or _made_lately(marker.path))


def _owner_of(marker: str) -> str | None:
    try:
        return os.readlink(marker)
    except OSError:  # gone, or not a marker of ours
        return None


SAID_AFTER = 1.0  # seconds: a prune this long is said even when it removed nothing (100,000 outputs: ~1.3 s)


class Pruning:
    """When the markers are pruned: at start, then each time as many files have been
    rendered since the last prune as it kept markers (PRUNE_AFTER at least). A prune
    walks the outputs and the markers once, so its cost is paid for by the files that
    made the markers (O(1) a file), and the markers never outgrow the outputs there are
    by more than a small factor. Without it, 20,000 files left 40,000 markers for ever.
    80,000 markers against 40,000 outputs took 1.7 s to prune (0.55 s with none to go),
    a pause of the loop and of the workers' reserves once every 40,000 files."""

    def __init__(self):
        self.next_at = 0  # the count of files rendered at which the next prune is due

    def when_due(self, config: Config, rendered: int, logger, unseen: frozenset[str] = frozenset()) -> None:
        """Prune if due (`rendered`: files rendered since start; `unseen`: see prune); said in
        the log, and a failure is said, never raised: the records only grow until the next try."""
        if rendered < self.next_at:
            return
        try:
            pruned = self.run(config, rendered, unseen)
        except OSError as exc:
            logger.warning("names_prune_failed", reason=exc.strerror or str(exc),
                           action=f"tried again after {self.next_at - rendered} more files")
            return
        if pruned is not None:  # at info when it removed something, or paused the loop long enough to ask why
            (logger.info if pruned.removed or pruned.seconds >= SAID_AFTER else logger.debug)(
                "names_pruned", kept=pruned.kept, removed=pruned.removed, duration_ms=round(pruned.seconds * 1000, 1))

    def run(self, config: Config, rendered: int, unseen: frozenset[str] = frozenset()) -> Pruned | None:
        """Prune now (None where the markers are not this daemon's to judge); the next
        prune is due after as many files as markers kept, even if this one fails."""
        self.next_at = rendered + PRUNE_AFTER
        if config.cluster.enabled and config.cluster.path_map:
            return None  # nodes key their markers by their own paths: the head cannot tell which are live
        pruned = prune(config.folders, unseen)
        self.next_at = rendered + max(PRUNE_AFTER, pruned.kept)
        return pruned
