"""Failure records (NAME.error.json): where they lie and how they are read, as data, never paths.
"""
from __future__ import annotations

from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.jsondata import json_object
from hotfolder.spool import nofollow

SIDECAR = ".error.json"
DUPLICATE_RECORD = ".duplicate.json"  # beside a skipped duplicate: the original it repeats


def record_of(original: Path) -> Path:
    """Where the failure record of the failed file `original` lies: `x.jpg.error.json`."""
    return original.with_name(original.name + SIDECAR)


def original_of(record: Path) -> Path:
    """The failed file a record's path stands for (`x.jpg.error.json` → `x.jpg`); any other path as it is."""
    return record.with_name(record.name[: -len(SIDECAR)]) if record.name.endswith(SIDECAR) else record


RECORD_LIMIT = 1 << 20  # bytes: a failure record is a few hundred; a larger "record" is not ours


def read_record(path: Path) -> dict | None:
    """A JSON record of ours at `path` (a failure record, or one in the making), or None.

    Read as data: never through a link (nor a fifo or device, which could block), never
    more than RECORD_LIMIT bytes; JSON nested past what the parser recurses (200 KB of `[`
    raise RecursionError, no ValueError) is none of ours either: it stopped the daemon, whose
    walk of failed/ raised at every turn (an attack round)."""
    try:
        return json_object(nofollow.read_small(path, RECORD_LIMIT))
    except (OSError, ValueError):  # read_small's ValueError: no regular file (a link, a FIFO), or too large
        return None


def read_failure(folder: Folder, path: Path) -> dict | None:
    """The record of why a file in failed/ failed, or None if it has none."""
    return read_record(record_of(path))
