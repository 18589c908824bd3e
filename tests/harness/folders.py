"""What is in a folder's places, as the tests count it: the ends a file can reach
(archive, or failed/ beside its record) and the files in a tree."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

TEMP_MARK = ".hf-"  # every temp file of ours starts so (spool.atomic's temp_prefix)
SIDECAR = ".error.json"


class Places(Protocol):
    """Anything with a folder's places: a Daemon, a Cluster, a Dirs."""
    archive: Path
    failed: Path
    processing: Path


@dataclass(frozen=True)
class Dirs:
    """One folder's places under root/<kind>, for a config of several folders."""
    inbox: Path
    output: Path
    archive: Path
    failed: Path
    processing: Path

    @classmethod
    def under(cls, root: Path) -> Dirs:
        return cls(*(root / kind for kind in ("inbox", "output", "archive", "failed", "processing")))


def _walk(root: Path | str):
    """os.walk(root), each folder with its path relative to root ("" for root itself) and
    "/"-joined as os.walk joins it: a string slice, not a Path per name (10x: a test polls
    the archive of a 10,000-file burst every 0.5 s, and spent seconds of CPU in pathlib)."""
    top = str(Path(root))  # as Path reads it: no trailing "/", no "." parts
    skip = len(os.path.join(top, ""))
    for dirpath, dirnames, filenames in os.walk(top):  # skips what vanished; links to folders not followed
        yield dirpath, dirpath[skip:], dirnames, filenames


def files_under(root: Path) -> list[str]:
    """Regular files under root, relative, sorted (a link to a file counts as one). A folder
    the daemon removes while it is walked is passed over: rglob raised FileNotFoundError for
    an emptied processing/clients (a fresh clone's run)."""
    out = []
    for dirpath, rel, _, filenames in _walk(root):
        out += [f"{rel}/{n}" if rel else n for n in filenames if os.path.isfile(os.path.join(dirpath, n))]
    return sorted(out)


def entries(root: Path) -> list[str]:
    """Non-directory entries under root (files, symbolic links: never followed), relative."""
    out = []
    for dirpath, rel, dirnames, filenames in _walk(root):
        names = filenames + [n for n in dirnames if os.path.islink(os.path.join(dirpath, n))]
        out += [f"{rel}/{n}" for n in names] if rel else names
    return sorted(out)


def archived(where: Places) -> list[str]:
    return entries(where.archive)


def failed_originals(where: Places) -> list[str]:
    """The originals in failed/: not our temp files (a record being written), and X.error.json
    only when it is not X's record (a dropped file may be named so)."""
    names = {p for p in entries(where.failed) if not Path(p).name.startswith(TEMP_MARK)}
    return sorted(p for p in names if not (p.endswith(SIDECAR) and p[: -len(SIDECAR)] in names))


def ends(where: Places) -> int:
    """Originals that reached an end: archived, or failed."""
    return len(archived(where)) + len(failed_originals(where))


def settled(where: Places, n: int) -> bool:
    """Exactly n originals reached an end and none is being rendered (processing/ is empty)."""
    return ends(where) == n and not entries(where.processing)
