"""`hotfolder requeue`.
"""
from __future__ import annotations

import argparse
import calendar
import sys
import time
from fnmatch import fnmatchcase
from pathlib import Path

from hotfolder.config import load
from hotfolder.config.model import Config, Folder
from hotfolder.errors import ExitCode
from hotfolder.spool import moves, records
from hotfolder.spool.failed_files import failed_originals
from hotfolder.spool.fsnames import display, name_from_hex, printable, relative_name
from hotfolder.spool.records import SIDECAR, original_of
from hotfolder.state import originals

Failed = tuple[Folder, Path]  # a failed original, with the folder it failed in


def cmd_requeue(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())  # no ${VAR} of the service's is needed here
    if not args.all and not args.names:
        return _list_failed(cfg)
    problems = 0
    failed = list(failed_originals(cfg.folders))  # each file once, with the folder it failed in
    if args.all:
        targets = sorted(failed, key=lambda found: (found[0].name, found[1]))  # as the listing shows them
    else:
        chosen: dict[Failed, None] = {}  # in the order named, each once
        for name in args.names:
            found = _failed_matching(failed, name)
            if not found:
                shown = ", ".join(_shown(f, p) for f, p in failed[:5]) + (", …" if len(failed) > 5 else "")
                print(f"hotfolder: no failed file matches {name!r} "
                      f"({'failed files: ' + shown if failed else 'failed/ is empty'}; "
                      "`hotfolder requeue` lists them)", file=sys.stderr)
                problems += 1
            chosen.update(dict.fromkeys(found))
        targets = list(chosen)
    moved = 0
    for folder, path in targets:
        try:
            dst = moves.requeue(folder, path)
        except FileNotFoundError:
            print(f"hotfolder: {printable(str(path))} is gone (requeued already?)", file=sys.stderr)
            problems += 1
            continue
        except (moves.UnsafeRecord, OSError) as exc:  # a record naming a path, a folder swapped for a link
            print(f"hotfolder: not requeued: {printable(str(exc))}", file=sys.stderr)
            problems += 1
            continue
        print(f"requeued {_shown(folder, path)} -> {printable(str(dst))}")
        moved += 1
    print(f"{moved} file(s) requeued")
    return ExitCode.FAILED if problems else ExitCode.OK


def _failed_matching(failed: list[Failed], name: str) -> list[Failed]:
    """The failed files `name` stands for: a path to one, or a name or glob matched
    against the names and paths in failed/ — as listed, first (a user's own file may be
    named `x.error.json`); failing that, a record's path stands for its original."""
    given = Path(name).absolute().parent.resolve() / Path(name).name
    tries = [(given, name)]
    if name.endswith(SIDECAR):
        tries.append((original_of(given), name[: -len(SIDECAR)]))
    for path, pattern in tries:
        # A path given (or a shell glob, expanded): never followed, a failed entry may be a refused symlink.
        exact = [(f, p) for f, p in failed if p == path]
        if exact:
            return exact
        globbed = [(f, p) for f, p in failed if any(fnmatchcase(shown, pattern) for shown in _names(f, p))]
        if globbed:
            return globbed
    return []


def _names(folder: Folder, path: Path) -> tuple[str, ...]:
    """What a failed file may be called: its path in failed/, its name, both under its
    folder's name; each also as listed (escaped: a name of terminal controls or bytes that
    are not UTF-8 is typed back as `requeue` showed it, a review found it could not be)."""
    rel = path.relative_to(folder.failed).as_posix()
    raw = (rel, path.name, f"{folder.name}/{rel}")
    return raw + tuple(printable(n) for n in raw)


def _list_failed(cfg: Config) -> int:
    total = 0
    found = list(failed_originals(cfg.folders))
    for folder in cfg.folders:
        failed = sorted(p for f, p in found if f is folder)
        total += len(failed)
        print(f"{folder.name}: {len(failed)} failed file(s) in {folder.failed}")
        width = max((len(_shown(folder, p)) for p in failed), default=0)
        for path in failed:
            record = records.read_failure(folder, path) or {}
            why = record.get("error", "(no record of why)")
            when = f"{record['time']}, attempt {record.get('attempts', '?')}: " if record.get("time") else ""
            print(f"  {_shown(folder, path):<{width}}  {printable(f'{when}{why}{_rendered_since(folder, record)}')}")
    if total:
        print("requeue with: hotfolder requeue NAME …, a quoted glob ('*.jpg'), or --all")
    return ExitCode.OK


def _rendered_since(folder: Folder, record: dict) -> str:
    """Of a failed file whose name a later copy rendered (a card's damaged file copied in again,
    as its reason asked): that it was, and where that copy is; it was listed as any failure,
    and `requeue --all` sent it round again. "" otherwise. The record's names are data."""
    came = relative_name(name_from_hex(record.get("file_as")))
    if folder.index_dir is None or came is None or not isinstance(record.get("time"), str):
        return ""
    try:
        failed_at = calendar.timegm(time.strptime(record["time"], "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return ""
    archived = originals.rendered_since(folder.index_dir, folder.name, came, failed_at)
    if archived is None:
        return ""
    where = f" (archived as {display(archived)})" if archived else ""
    return (f"; a later file of that name, {display(came)}, was rendered since{where}: if it is this photo copied "
            "again, delete this one and its .error.json rather than requeue it")


def _shown(folder: Folder, path: Path) -> str:
    return printable(path.relative_to(folder.failed).as_posix())
