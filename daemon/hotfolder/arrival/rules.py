"""What an inbox takes: the names it leaves alone (`ignore:`) and those it passes to
archive/ untouched (`pass_through:`), on top of the names every folder ignores (hidden and
temp names: spool/fsnames.py). None of them is ever a failure.

Patterns match one name, case aside (`*.mov` takes `CLIP.MOV`); `ignore` also applies to
each folder on the way (`System Volume Information/…`), the same for events and scans, so
a restart never takes what the running daemon left alone. Each folder's patterns are
compiled into one regular expression, once.
"""
from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path

from hotfolder.config.model import Folder, OnSuccess
from hotfolder.spool.fsnames import is_ignored_name


@lru_cache(maxsize=64)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(g.casefold())})" for g in globs))


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    pattern = _pattern(globs)
    return pattern is not None and pattern.match(name.casefold()) is not None


def _left_alone(folder: Folder) -> tuple[str, ...]:
    """Passed through nowhere (`on_success: delete`: no archive/), such files stay in the inbox."""
    return folder.ignore + folder.pass_through if folder.on_success == OnSuccess.DELETE else folder.ignore


def ignored_name(folder: Folder, name: str) -> bool:
    """A file or folder name of the inbox that is never taken."""
    return is_ignored_name(name) or _matches(name, _left_alone(folder))


def ignored(folder: Folder, path: Path) -> bool:
    """A path under the inbox whose own name, or one of whose folders' names, is ignored (or
    one outside the inbox)."""
    try:
        parts = path.relative_to(folder.inbox).parts
    except ValueError:
        return True
    return any(ignored_name(folder, part) for part in parts)


def passes_through(folder: Folder, path: Path) -> bool:
    """A file moved to archive/ as it is, never rendered (a video, a sidecar)."""
    return folder.archive is not None and _matches(path.name, folder.pass_through)
