"""`hotfolder duplicates` (what the index of originals found: skipped, flagged, failed,
rendered again) and `hotfolder index rebuild` (the index made again from the archives).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

from hotfolder.config import load
from hotfolder.config.model import Config
from hotfolder.errors import ExitCode
from hotfolder.shown import json_text
from hotfolder.spool import archived_clips, nofollow
from hotfolder.spool.fsnames import display, printable, relative_name
from hotfolder.state import db, originals, passed


def cmd_duplicates(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())
    if cfg.cluster.enabled:
        from hotfolder.cluster.originals import found_in_cluster  # redis: only in cluster mode

        found = found_in_cluster(cfg, args.limit)
    else:
        found = originals.found_in(cfg.state_dir, args.limit)
    found = [_gone_now(cfg, f) for f in found]
    if args.json:
        print(json_text([_as_json(f, _own_name(cfg, f)) for f in found], indent=1))
        return ExitCode.OK
    if not found:
        # "no duplicate found" of a card's clips skipped: the admin looked no further (a new user)
        print("no photo found to repeat or resemble an earlier original (within each folder's duplicate_window); "
              f"{NOT_LISTED}")
        return ExitCode.OK
    for f in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.time))
        what = {"skipped": f"skipped (in duplicates/ as {display(f.where)})", "rendered": "rendered",
                "failed": "failed"}.get(f.action, f.action)
        if f.action == "rendered" and f.outputs:  # a flagged look-alike, or one made for what its match lacked
            what += f" into {', '.join(display(o) for o in f.outputs)}"
        print(printable(f"{when}  {f.folder}/{f.name}: {what}"))
        m = f.match
        if m is None:
            print("    it matched an original forgotten since (older than duplicate_window)")
            continue
        print(printable(f"    {m.said()}" + (f"; its outputs: {', '.join(display(o) for o in m.outputs)}"
                                                 if m.outputs else "")))
        own = _own_name(cfg, f)
        if own:
            print(printable(f"    {own}"))
        folder = next((g for g in cfg.folders if g.name == m.folder), None)
        if m.gone and folder is not None:
            copy = folder.duplicates / f.where if f.action == "skipped" and folder.duplicates else None
            print(printable(f"    gone now: {', '.join(display(o) for o in m.gone)}: "
                            f"{m.gone_said(folder.archive, copy, folder.config_file)}"))
    return ExitCode.OK


NOT_LISTED = ("videos and other files passed through that were skipped are not listed: each lies in its folder's "
              "duplicates folder beside its NAME.duplicate.json")


def _gone_now(cfg: Config, found: originals.Found) -> originals.Found:
    """`found` with its match's outputs that are not in their output folder now (Match.gone):
    a copy skipped for an original whose outputs were deleted since delivered nothing (the
    skip's log line and record said so only of those gone then). A folder no longer in the
    config: not looked at."""
    m = found.match
    folder = next((f for f in cfg.folders if m is not None and f.name == m.folder), None)
    if m is None or folder is None:
        return found
    gone = tuple(o for o in m.outputs if not os.path.lexists(folder.output / o))
    return dataclasses.replace(found, match=dataclasses.replace(m, gone=gone))


def _own_name(cfg: Config, found: originals.Found) -> str:
    """How a copy skipped under a name of its own (`shoe-blue.jpg`, the bytes of `shoe-red.jpg`)
    gets rendered as that too, as its skip's line and record say (likeness.Match.own_name_said),
    told again now: "" for any other, for one no longer in its duplicates folder (the `cp` would
    find nothing), or one copied to archive/ under its name already (a file of its size there:
    the hint was followed)."""
    m = found.match
    folder = next((g for g in cfg.folders if g.name == found.folder), None)
    # a record's names are data (a cluster's come from Redis): plain names under the folder only
    rel, where = relative_name(found.name), relative_name(found.where)
    if m is None or found.action != "skipped" or folder is None or folder.duplicates is None or None in (rel, where):
        return ""
    assert rel is not None and where is not None
    copy = folder.duplicates / where
    try:
        size = nofollow.lstat(copy).st_size
    except OSError:
        return ""  # gone, or a link on the way: nothing to copy
    try:
        if folder.archive is not None and nofollow.lstat(folder.archive / rel).st_size == size:
            return ""
    except FileNotFoundError:
        pass  # the name is free in archive/: the hint's cp
    except OSError:
        return ""  # a link on the way, a permission: nothing to say of it
    return m.own_name_said(rel, copy, folder.name, folder.inbox, folder.archive, folder.config_file)


def _as_json(f: originals.Found, own: str = "") -> dict:
    return {"folder": f.folder, "file": display(f.name), "action": f.action,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(f.time)), "where": display(f.where),
            "outputs": [display(o) for o in f.outputs], "matched": f.match.as_json() if f.match else None,
            **({"own_name": own} if own else {})}


def cmd_index(args: argparse.Namespace) -> int:
    """`hotfolder index rebuild`: every archived original read, hashed and looked at again, and
    every clip passed through listed again (the rows that find a card's clip dumped again)."""
    cfg = load(args.config, serving=frozenset())
    for state_dir in dict.fromkeys(f.index_dir for f in cfg.folders if f.index_dir is not None):
        db.refuse_newer(state_dir)  # before anything is written: a part a newer release took further
    from hotfolder.workers.reindex import WHY, reindex_config  # the engine: only this command decodes

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr)

    t0 = time.monotonic()
    try:
        listed, known, unlisted, old = relist_config(cfg, progress)
        rebuilt = reindex_config(cfg, progress=progress)
    except Exception as exc:  # a cluster's Redis away: one line that says what to do, not a traceback
        if not (cfg.cluster.enabled and _redis_away(exc)):
            raise
        why = display(f"{type(exc).__name__}: {exc}")
        print(f"hotfolder index rebuild: the cluster's Redis does not answer ({why}): check cluster.broker_url in "
              f"{display(str(cfg.source))} and that Redis runs, then run it again", file=sys.stderr)
        return ExitCode.FAILED
    clips = (f"{listed + known} clips passed through listed ({known} of them known already)"
             + (f", {old} older than duplicate_window left out" if old else "")
             + (f", {unlisted} folders of archive/ unreadable (their clips not listed)" if unlisted else ""))
    over = rebuilt.passed_over
    others = (f", {sum(over.values())} passed over (not originals: "
              f"{', '.join(f'{over[kind]} {kind}' for kind in WHY if kind in over)})" if over else "")
    print(f"index rebuilt from the archives in {time.monotonic() - t0:.1f} s: {rebuilt.added} originals indexed, "
          f"{rebuilt.known} known already, {rebuilt.failed} unreadable{others}; {clips}")
    return ExitCode.FAILED if rebuilt.failed or unlisted else ExitCode.OK


def _redis_away(exc: BaseException) -> bool:
    import redis  # cluster mode only

    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError))


def relist_config(cfg: Config, progress) -> tuple[int, int, int, int]:
    """Each folder's archived clips into the rows of its state_dir (state/passed.py), or in
    cluster mode into the cluster's Redis (cluster/passed.py: after Redis lost its data):
    (rows made, rows there already, folders that could not be read, clips older than
    duplicate_window left out: cluster mode only, as Redis would expire them)."""
    made = kept = unreadable = old = 0
    opened: dict = {}

    def said(where, exc: OSError) -> None:
        nonlocal unreadable
        unreadable += 1
        progress(f"{display(str(where))}: cannot be read ({exc.strerror or exc}): its clips are not listed; make it "
                 "readable by the daemon's user and run `hotfolder index rebuild` again")

    if cfg.cluster.enabled:
        import redis

        from hotfolder.cluster.passed import SharedPassed  # redis: cluster mode only
        from hotfolder.cluster.store import key_prefix

        # not the head's 1 s: a batch's reply may take longer, and nothing waits on this command
        shared = SharedPassed(redis.Redis.from_url(cfg.cluster.broker_url, socket_timeout=30,
                                                   socket_connect_timeout=10), key_prefix(cfg.cluster))
        try:
            for folder in cfg.folders:
                m, k, o = shared.listed(folder.name, archived_clips.clips(folder, on_error=said),
                                        window=folder.duplicate_window)
                made, kept, old = made + m, kept + k, old + o
        finally:
            shared.close()
        return made, kept, unreadable, old
    try:
        for folder in cfg.folders:
            if folder.index_dir is None:
                continue
            rows = opened.get(folder.index_dir) or opened.setdefault(folder.index_dir, passed.Passed(folder.index_dir))
            m, k = rows.listed(folder.name, archived_clips.clips(folder, on_error=said),
                               processing=folder.processing)  # a daemon's reload may rename it meanwhile
            made, kept = made + m, kept + k
        if not unreadable:
            for rows in opened.values():  # what the daemon's start would list is listed
                rows.listing_done()
    finally:
        for rows in opened.values():
            rows.close()
    return made, kept, unreadable, old
