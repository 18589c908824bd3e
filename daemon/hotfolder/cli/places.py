"""`hotfolder places`: the places of the folders (an inbox, an output, ...) the daemon has
recorded, each with the file system it was on when last seen (state/filesystems.py) and
where it stands now; `--forget PATH...`: records forgotten, so that the next start takes
that path as it finds it.

A place recorded on a share is never made on the disk beneath it, nor used there
(spool/shares.py). Once the share is gone for good, forgetting the record is how an admin
keeps the path on the local disk. The daemon holds the records in memory and writes them
through, so a record is forgotten only while no daemon runs (instance.stopped). A path is
data: matched by its bytes, or as the listing shows it (escaped); nothing but the database
is written.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotfolder.arrival.mounts import mount_of
from hotfolder.config import load
from hotfolder.config.model import Config
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.shown import display, json_text, printable
from hotfolder.spool import shares
from hotfolder.spool.shares import Look, on_filesystem
from hotfolder.state import db, filesystems
from hotfolder.state.filesystems import Seen
from hotfolder.supervisor import instance

LISTED_IN_ERRORS = 5  # records named when PATH matches none


class NoRecord(HotfolderError):
    """A PATH of --forget names no record, or more than one as listed: nothing is forgotten."""


class StateUnreadable(HotfolderError):
    """state_dir's database is there but cannot be read (or, to forget, written)."""


@dataclass(frozen=True)
class Standing:
    """Where a recorded place stands now: `state`, a word for scripts (there, missing,
    waiting, unknown), and what it means for people."""

    state: str
    said: str


def standing(path: Path, was: Seen, now: Look | None) -> Standing:
    """The daemon's rule (shares.is_gone) said of one record and what is at its path now."""
    if now is None:
        return Standing("unknown", "cannot be looked at now (its file system answers with an error, or it is a "
                                   "symbolic link)")
    here = on_filesystem(now.mount.point, now.mount.fstype)
    if shares.is_gone(path, was, now):
        if not now.present:
            return Standing("waiting", f"waits for its share: missing, and {display(str(now.holder))} is on {here}; "
                                       "never made there")
        if was.mount == str(path):
            return Standing("waiting", "waits for its share: nothing is mounted on it")
        return Standing("waiting", f"waits for its share: the folder there is one of the disk beneath, on {here}; "
                                   "never used")
    if not now.present:
        return Standing("missing", "missing: made again at the next start (the folder above it is on the file "
                                   "system it was on)")
    if now.dev == was.dev or (now.mount.point, now.mount.fstype) == (was.mount, was.fstype):
        return Standing("there", "there, on that file system")
    return Standing("there", f"there, on {here} now (recorded so at the next start)")


def named_now(cfg: Config) -> dict[Path, list[str]]:
    """What the config calls each of its places now, as check-config does (`folders[photos].output`)."""
    named: dict[Path, list[str]] = {}
    for folder in cfg.folders:
        for key in shares.KEYS:
            path = getattr(folder, key)
            if path is not None:
                named.setdefault(path, []).append(f"folders[{folder.name}].{key}")
    if cfg.cluster.enabled and cfg.cluster.shared_root is not None:
        named.setdefault(cfg.cluster.shared_root, []).append("cluster.shared_root")
    return named


def _was_on(seen: Seen) -> str:
    if not seen.mount and not seen.fstype:  # the mount table could not be read then
        return f"the file system of st_dev {seen.dev}"
    return on_filesystem(seen.mount, seen.fstype)


def _whose(seen: Seen) -> str:
    """The config's key that last named the place (`cluster.shared_root` has no folder)."""
    return f"folders[{seen.folder}].{seen.key}" if seen.folder else seen.key


def matching(records: Sequence[Seen], given: str, cwd: str) -> Seen:
    """The record PATH stands for: its bytes exactly (a relative path from `cwd`; a trailing /,
    a `.` or a doubled / aside, as in the config's paths, which are resolved), else as the listing
    shows it (escaped: a path of terminal controls or bytes that are not UTF-8 typed back as
    listed). `..` is kept: under a link it is not the folder above. NoRecord, listing what there
    is, when none or several do."""
    absolute = os.path.join(cwd, given) if not given.startswith("/") else given
    forms = (given, absolute, str(Path(absolute)))  # Path drops `.`, a doubled / and the trailing one
    wanted = {os.fsencode(p) for p in forms}
    found = [s for s in records if os.fsencode(s.path) in wanted]
    if not found:
        shown = {printable(p) for p in forms} | {given}
        found = [s for s in records if printable(str(s.path)) in shown]
    if len(found) == 1:
        return found[0]
    if found:
        raise NoRecord(f"{printable(given)} is how {len(found)} recorded places are listed "
                       f"({', '.join(repr(os.fsencode(s.path))[1:] for s in found)}): give the path's own bytes "
                       "(in bash, $'…')")
    if not records:
        raise NoRecord(f"no place's record is {printable(given)}: none is recorded")
    listed = ", ".join(printable(str(s.path)) for s in records[:LISTED_IN_ERRORS])
    more = f" and {len(records) - LISTED_IN_ERRORS} more" if len(records) > LISTED_IN_ERRORS else ""
    raise NoRecord(f"no place's record is {printable(given)} (recorded: {listed}{more}; `hotfolder places` "
                   "lists them)")


def cmd_places(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())  # no ${VAR} of the service's is needed here
    if args.forget is not None:
        return _forget(cfg, args.forget)
    db.refuse_newer(cfg.state_dir)
    records = _records(cfg.state_dir)
    if args.json:
        named = named_now(cfg)
        print(json_text([_as_json(seen, named) for seen in records or ()], indent=1))
    else:
        _list(cfg, records)
    return ExitCode.OK


def _records(state_dir: Path) -> list[Seen] | None:
    try:
        return filesystems.recorded(state_dir)
    except sqlite3.DatabaseError as exc:
        raise StateUnreadable(db.unusable(f"the places' records cannot be read: {exc}", exc, state_dir)) from None


def _list(cfg: Config, records: list[Seen] | None) -> None:
    where = db.path_in(cfg.state_dir)
    if not records:
        _say(f"no place recorded in {where}" + (" (no database yet)" if records is None else "") +
             ": the daemon records each folder's places (inbox, output, ...) whenever it sees them there")
        return
    named = named_now(cfg)
    _say(f"{len(records)} place(s) recorded in {where}, each with the file system it was on when last seen:")
    for seen in records:
        now = standing(seen.path, seen, shares.look(seen.path, seen))
        names = named.get(seen.path)
        current = ("" if names == [_whose(seen)] else
                   f" (the config's {' and '.join(names)} now)" if names else " (the config names it no more)")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(seen.seen))
        _say(f"  {seen.path}")
        _say(f"      {_whose(seen)}{current}; on {_was_on(seen)} when last seen, {when}")
        _say(f"      now: {now.said}")
    _say("forget one, with the daemon stopped, so the next start takes its path as it finds it: "
         "hotfolder places --forget PATH...")


def _as_json(seen: Seen, named: dict[Path, list[str]]) -> dict:
    now = standing(seen.path, seen, shares.look(seen.path, seen))
    return {"path": display(str(seen.path)), "folder": seen.folder, "key": seen.key,
            "named_now": named.get(seen.path, []), "mount": display(seen.mount),
            "filesystem": seen.fstype, "dev": seen.dev,
            "seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seen.seen)), "now": now.state,
            "said": now.said}


def _forget(cfg: Config, given: Sequence[str]) -> int:
    """Forget the records PATHs name: all of them, or none when one names no record."""
    with instance.stopped(cfg.state_dir, "a place's record can be forgotten"):
        db.refuse_newer(cfg.state_dir)
        records = _records(cfg.state_dir) or []
        chosen = list(dict.fromkeys(matching(records, path, os.getcwd()) for path in given))  # each once, in order
        try:
            forgot = filesystems.forget(cfg.state_dir, [seen.path for seen in chosen])
        except sqlite3.DatabaseError as exc:  # another user's state_dir, or a file damaged past its header
            raise StateUnreadable(db.unusable(f"the places' records cannot be written: {exc}", exc,
                                              cfg.state_dir)) from None
        if not forgot:
            raise NoRecord("the records changed while they were being forgotten, and none was: run `hotfolder "
                           "places` again")
    for seen in chosen:  # said once written: a refusal above forgot nothing
        _say(f"forgot the record of {seen.path} ({_whose(seen)}, on {_was_on(seen)} when last seen): the next "
             f"start takes the path as it finds it{next_start(shares.look(seen.path))}")
    return ExitCode.OK


def next_start(now: Look | None) -> str:
    """What a start does with a place that has no record, by what is at its path now."""
    if now is None:
        return ""
    here = on_filesystem(*mount_of(now.holder))  # look() reads the table only when a record needs it
    if now.present:
        return f": the folder there, on {here}, is used and recorded anew"
    return f": it is made on {here}, where {display(str(now.holder))} is, and recorded"


def _say(text: str) -> None:
    """One line for people: a path is data (`shown.printable`), never a cursor move or a line."""
    print(printable(text))
