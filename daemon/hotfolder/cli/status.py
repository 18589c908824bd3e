"""`hotfolder status`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from hotfolder.config import state_dir_of
from hotfolder.config.parsing import NotAConfigFile, read_file
from hotfolder.errors import ExitCode
from hotfolder.shown import printable
from hotfolder.status import SNAPSHOT_LIMIT, daemon_alive, read_snapshot
from hotfolder.supervisor.instance import LOCK_NAME, ConfigUnreadable, Holder, holder, status_file_of


def _why_unread(config) -> str:
    """Why the config's state_dir could not be read from it, for people: a file grown past
    4 MiB was said "not valid YAML", and check-config said otherwise."""
    if not os.access(config, os.R_OK):
        return "cannot be read by this user"
    try:
        read_file(Path(config))
    except NotAConfigFile as exc:
        return f"is not used ({exc.strerror})"
    except OSError:
        return "cannot be read by this user"
    return "is not valid YAML (`hotfolder check-config` says what is wrong with it)"


def cmd_status(args: argparse.Namespace) -> int:
    try:
        status_file = status_file_of(args.config)
    except ConfigUnreadable as exc:
        print(f"hotfolder status: {printable(str(exc))}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    snap = read_snapshot(status_file)
    fresh = snap is not None and daemon_alive(snap)
    lock = holder(status_file.parent)  # the instance lock says whether a daemon runs, not the snapshot's age
    running = fresh if lock.held is None else lock.held
    # Its lock file deleted (state_dir removed under it): it runs on, unguarded (a review: "not
    # running, last seen 0 s ago, state running", exit 1).
    lock_missing = fresh and not running and not (status_file.parent / LOCK_NAME).exists()
    running = running or lock_missing
    stale = _stale_snapshot(snap, lock, fresh) if running else None
    if args.json:
        extra: dict[str, object] = {"running": running}
        if stale:
            extra.update(pid=lock.pid, snapshot_stale=stale)
        if lock_missing:
            extra["lock_missing"] = str(status_file.parent / LOCK_NAME)
        if lock.problem:
            extra["lock_problem"] = lock.problem
        print(json.dumps({**(snap or {}), **extra}, indent=1))
        return ExitCode.OK if running else ExitCode.NOT_RUNNING
    if lock.problem:  # a FIFO there blocked this command for ever; whether one runs is the snapshot's word
        _say(lock.problem)
    if lock_missing:
        assert snap is not None
        _say(f"hotfolder is running (pid {snap.get('pid')}) but its instance lock {status_file.parent / LOCK_NAME} "
             "is gone (was state_dir deleted?): another daemon could start on the same folders; restart it")
    if stale:
        pid = lock.pid if lock.pid is not None else "unknown"
        _say(f"hotfolder is running (pid {pid}), status snapshot stale since {_when(stale['since'])}: "
             f"{stale['reason']}")
        if snap is not None:
            _say(f"  last counts: processed {snap.get('processed')}, failed {snap.get('failed')} "
                 f"(snapshot of pid {snap.get('pid')})")
        return ExitCode.OK
    if snap is None:
        guess = ""
        if state_dir_of(args.config) is None:  # unreadable or not YAML, and no daemon on it seen through /proc
            why = _why_unread(args.config)
            guess = (f"; the config {why}, so its state_dir is a guess: a daemon started by another user is not "
                     "seen from here")
        if os.path.lexists(status_file):  # there, but no snapshot: "no status file" was untrue
            seen = (f"{status_file} is no snapshot: no regular file, more than {SNAPSHOT_LIMIT >> 20} MiB, or "
                    "not a JSON object; a daemon replaces it when it starts")
        else:
            seen = f"no status file at {status_file}"
        _say(f"hotfolder is not running ({seen}){guess}")
        return ExitCode.NOT_RUNNING
    if not running:
        # A daemon killed (kill -9, a crash) never wrote its last state: "state running" beside
        # "not running" read as a contradiction (a new user); said as what it last said.
        state = snap.get("state")
        ended = ("stopped" if state == "stopped" else
                 f"it ended without stopping (killed, or it crashed) while {state}: the next start recovers its files")
        _say(f"hotfolder is not running (last seen {_ago(snap.get('updated', 0))}, pid {snap.get('pid')}; {ended})")
        _say(f"  last counts: processed {snap.get('processed')}, failed {snap.get('failed')}")
        return ExitCode.NOT_RUNNING
    _say(f"hotfolder is {snap['state']} (pid {snap['pid']}, up {_duration(time.time() - snap['started'])})")
    _build(snap.get("build"))
    cluster = snap.get("cluster")
    # a cluster's counts are its Redis's, kept across the head's restarts (not across Redis losing its data)
    since = "by the cluster's nodes (Redis's counts)" if cluster else "since the start"
    _say(f"  processed  {snap['processed']:<6} files rendered and archived {since}")
    if snap.get("unmatched"):
        _say(f"  unmatched  {snap['unmatched']:<6} of them taken by no rendition's `when:` (archived, nothing "
             "written; `hotfolder explain FILE` says why)")
    if snap.get("sidecars_late"):  # not files: each belongs to an image rendered without it
        _say(f"  late xmp   {snap['sidecars_late']:<6} XMP sidecars that came after their image was rendered (or "
             "taken by no rendition) without them (archived beside it; the log's sidecar_alone gives the "
             "`hotfolder rerender` command)")
    _say(f"  failed     {snap['failed']:<6} files moved to failed/ {since} "
         f"({snap.get('in_failed', 0)} in failed/ now; `hotfolder requeue` lists them)")
    folders = (snap.get("folders") or {}).values()
    exact = sum((f.get("duplicates") or {}).get("exact", 0) for f in folders)
    similar = sum((f.get("duplicates") or {}).get("similar", 0) for f in folders)
    versions = sum((f.get("names_reused") or {}).get("new_version", 0) for f in folders)
    others = sum((f.get("names_reused") or {}).get("different_photo", 0) for f in folders)
    clips = sum((f.get("duplicates") or {}).get("passed_through", 0) for f in folders)
    # "lists them" of a count that was all clips sent an admin to a list without them (a new user)
    passed = (f" ({clips} of them videos or other files passed through, each in duplicates/ beside its "
              f"NAME.duplicate.json)" if clips else "")
    _say(f"  duplicates {exact:<6} the same bytes as an earlier original{passed}, {similar} look-alikes "
         f"(`hotfolder duplicates` lists {'the photos' if clips else 'them'})")
    if versions or others:
        _say(f"  names      {versions} re-dropped as a new version (outputs replaced), {others} a different photo "
             f"under a used name (earlier outputs kept, its own numbered)")
    # Split: an empty file waiting for its writer counted as "queued 1" for a minute (a new user)
    _say(f"  queued     {snap['queued'] + snap['waiting']:<6} {snap['queued']} claimed and waiting for "
         f"{'a node' if cluster else 'a worker'}, {snap['waiting']} in the inbox (being written, or waiting for room)")
    _say(f"  in flight  {snap['in_flight']}")
    # In the inbox meanwhile, neither queued nor in flight: "queued 0, in flight 0" beside a clip
    # left there read as a clip forgotten (an admin's report)
    comparing = sum(_count(f.get("comparing")) for f in folders)
    if comparing:
        clips = ("clip in the inbox compared byte for byte with the archived one of its name" if comparing == 1 else
                 "clips in the inbox compared byte for byte with the archived one of their name")
        _say(f"  comparing  {comparing:<6} {clips} (then moved to duplicates/ or archived)")
    if cluster:  # the head starts no worker: "0/0 alive" read as a dead pool
        _say("  workers    none here: the cluster's nodes render (`hotfolder worker`)")
    else:
        _say(f"  workers    {snap['workers_alive']}/{snap['workers']} alive")
    for busy in snap.get("current", []):
        _say(f"    pid {busy['pid']}: {busy['file']} ({busy['seconds']} s)")
    if cluster:  # the head of a cluster: the counts above are cluster-wide
        oldest = cluster.get("oldest_claimed_s")
        _say(f"  cluster    {cluster.get('cluster_id')} on {cluster.get('shared_root')}, "
             f"broker {cluster.get('broker')}")
        _say(f"    queue length     {cluster.get('queue_length')}")
        _say(f"    oldest claimed   {'-' if oldest is None else _duration(oldest)}")
        for node, n in sorted((cluster.get("per_node") or {}).items()):
            _say(f"    rendering on {node}: {n}")
        for folder, by_node in sorted((cluster.get("nodes") or {}).items()):
            nodes = ", ".join(f"{node} ({state})" for node, state in by_node.items()) or "none registered"
            _say(f"    folder {folder}: config version {(cluster.get('versions') or {}).get(folder)}; nodes: {nodes}")
    if snap.get("message"):
        _say(f"  note       {snap['message']}")
    return ExitCode.OK


def _build(running: object) -> None:
    """The daemon's release and code (build.py), and whether this install's differ: an
    upgrade installed but not yet restarted (a snapshot of a daemon before builds has none)."""
    if not isinstance(running, str) or not running:
        return
    from hotfolder import build

    here = build.identity()
    _say(f"  build      {running}" + ("" if running == here else
                                      f" (this hotfolder is {here}: restart the daemon to run the code installed now)"))


def _say(text: str) -> None:
    """One line for people: what the snapshot holds is data (a file's name, a cluster node's
    name or version from Redis), never a cursor move or a line of its own (an attack round:
    `evil\x1b]0;pwned\x07…\nfake line: broker ok` from a node key was printed as it was)."""
    print(printable(text))


def _count(value) -> int:
    """A count of the snapshot, which a damaged file may give as anything: 0 then."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _stale_snapshot(snap: dict | None, lock: Holder, fresh: bool) -> dict | None:
    """Why the snapshot of a running daemon is not current (None when it is): the note the
    daemon left in its lock, else the snapshot's own age (or another daemon's pid)."""
    note = lock.note or {}
    if note.get("status_unwritable_since"):
        return {"since": note["status_unwritable_since"], "reason": f"cannot be written: {note.get('reason')}"}
    if fresh and snap is not None and (lock.pid is None or snap.get("pid") == lock.pid):
        return None
    return {"since": (snap or {}).get("updated") or None,
            "reason": "not written by the running daemon (it may be starting, or could not say why)"}


def _when(ts: float | None) -> str:
    if not ts:
        return "its start (never written)"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(ts)))} ({_ago(ts)})"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _ago(ts: float) -> str:
    return f"{_duration(time.time() - float(ts))} ago" if ts else "never"
