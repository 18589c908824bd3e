"""Who owns which output name: no output of one original silently replaces another's.

`a.jpg`, `a.png` and a camera's `a.CR3` all render to `a_web.jpg` with the default
template; so do `x_big.jpg`'s `web` and `x.jpg`'s `big_web`. The first original to
write a name owns it; re-dropping the same original (same folder, same path in the
inbox) replaces its own outputs. Another original whose output would land on an
owned name follows the folder's `on_name_clash`:

    suffix  (default) its output gets `~<its extension>` before the output's own
            (`a_web~png.jpg`), then `~2`, `~3`… if that is owned too
    replace it replaces the output and takes the name over
    fail    the file goes to failed/, naming the original that owns the name

Ownership is decided from what is on disk, so it holds across restarts and between
the workers (and machines) writing at once: each output name has a marker under
`names_dir`, a symlink whose target is a digest of its owner (a symlink this short
lives in its inode: no data block per output). The markers are read and written
under an flock. A marker whose output is gone and whose owner is not in processing/
is stale: the name is free again. An output with no marker (written before this
existed, or put there by hand) is taken over as before.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from .config import Folder, Rendition
from .errors import HotfolderError
from .spool import NAME_MAX, claimed_files, display, fit_name

MAX_SUFFIX = 99  # `~2` … `~99`: past that, something is wrong with the templates


class NameClash(HotfolderError):
    """on_name_clash: fail, and the output's name is owned by another original."""


class RecordsUnwritable(HotfolderError):
    """The name-ownership records (in state_dir) cannot be written: the daemon's folder is
    the problem, not the file (the file waits, and claiming pauses, as for a full disk)."""

    def __init__(self, names_dir: Path, exc: OSError):
        self.errno = exc.errno
        super().__init__(f"the records of which output names are whose ({names_dir}, in state_dir) cannot be "
                         f"written: {exc.strerror or exc}; free space there or fix its permissions")


def output_name(rendition: Rendition, src_name: str, ext: str, folder: str = "") -> str:
    """The output file name the rendition's template asks for (before clashes)."""
    src = Path(src_name)
    return rendition.filename.format(
        stem=src.stem, name=src_name, ext=ext, rendition=rendition.name, folder=folder,
        source_ext=src.suffix.lstrip(".").lower(),
    )


def owner_id(folder: Folder, rel: str) -> str:
    """An original's identity: its path in processing/ (one per folder and inbox path)."""
    return hashlib.sha1(os.fsencode(str(folder.processing / rel))).hexdigest()


def _marker(names_dir: Path, output: Path) -> Path:
    key = hashlib.sha256(os.fsencode(str(output))).hexdigest()
    return names_dir / key[:2] / key


def _read(marker: Path) -> str | None:
    try:
        return os.readlink(marker)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write(marker: Path, owner: str) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(owner, tmp)
    os.replace(tmp, marker)


@contextmanager
def _locked(names_dir: Path):
    names_dir.mkdir(parents=True, exist_ok=True)
    with open(names_dir / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def candidates(output: Path, source_ext: str):
    """`a_web.jpg`, then `a_web~png.jpg`, `a_web~2.jpg`, `a_web~3.jpg`…"""
    yield output
    stem, suffix = output.stem, output.suffix
    tags = ([source_ext] if source_ext else []) + [str(n) for n in range(2, MAX_SUFFIX + 1)]
    for tag in tags:
        name = f"{stem}~{tag}{suffix}"
        if len(os.fsencode(name)) > NAME_MAX:
            name = fit_name(output.with_name(name), 0).name
        yield output.with_name(name)


def reserve(folder: Folder, rel: str, outputs: list[Path]) -> list[Path]:
    """The paths this original's outputs are written to: `outputs` where they are free
    or its own, else per the folder's on_name_clash. Raises NameClash (policy fail)."""
    if folder.names_dir is None:
        return list(outputs)
    try:
        return _reserve(folder, rel, outputs)
    except OSError as exc:
        raise RecordsUnwritable(folder.names_dir, exc) from None


def _reserve(folder: Folder, rel: str, outputs: list[Path]) -> list[Path]:
    me = owner_id(folder, rel)
    source_ext = Path(rel).suffix.lstrip(".").lower()
    chosen: list[Path] = []
    with _locked(folder.names_dir):
        in_flight: set[str] | None = None
        for output in outputs:
            for path in candidates(output, source_ext):
                if path in chosen:
                    continue  # two renditions of this file on one name: the second moves over
                owner = _read(_marker(folder.names_dir, path))
                free = owner is None or owner == me or folder.on_name_clash == "replace"
                if not free and not os.path.lexists(path):
                    if in_flight is None:  # only when needed: processing/ is small
                        in_flight = {owner_id(folder, c.rel) for c in claimed_files(folder)}
                    free = owner not in in_flight  # stale: its output is gone, its owner not rendering
                if free:
                    break
                if folder.on_name_clash == "fail":
                    raise NameClash(f"its output {display(path.name)} would replace the output of another "
                                    f"original of the same name (on_name_clash: fail); rename the file, or "
                                    f"add {{source_ext}} to the rendition's filename")
            else:
                raise NameClash(f"every name for the output {display(output.name)} up to ~{MAX_SUFFIX} is "
                                f"taken by other originals; add {{source_ext}} to the rendition's filename")
            if owner != me:
                _write(_marker(folder.names_dir, path), me)
            chosen.append(path)
    return chosen
