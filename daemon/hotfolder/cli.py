"""Command line: run, check-config, status, process, requeue, worker.

`main(argv)` returns the exit code, so tests call it directly.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from pathlib import Path

# A SIGHUP (reload) that arrives before `run` has its handler would end the process
# (the default action): hold it back from the first moment; the service lets it
# through once it can take it as a reload, main() at once for every other command.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})

from . import __version__, configfile, log
from . import config as config_mod
from .config import ConfigError
from .stats import AlreadyRunning

EPILOG = "Config reference: README.md, section 'Config reference'."
CONFIG_HELP = (f"the YAML config file (default: ${configfile.ENV}, else "
               + ", else ".join(str(p) for p in configfile.PLACES) + ")")
LEVELS = ("debug", "info", "warning", "error")
LEVEL_HELP = ("how much to log: debug (every rendition written, and each line's details), "
              "info (one line per file; the default), warning (problems only), error")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotfolder",
        description="Watch hot folders and turn every image dropped there into the renditions a YAML config asks for.",
        epilog=EPILOG,
    )
    p.add_argument("--version", action="version", version=f"hotfolder {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_arg(sp, positional=False):
        sp.add_argument("--config", "-c", metavar="FILE", type=Path, help=CONFIG_HELP)
        if positional:  # `check-config FILE` as well as --config FILE
            sp.add_argument("config_pos", metavar="FILE", type=Path, nargs="?", help="the same as --config FILE")

    run = sub.add_parser("run", help="watch the folders and render files as they arrive (foreground)",
                         description="Watch the configured folders in the foreground until SIGTERM or Ctrl-C.")
    config_arg(run)
    run.add_argument("--log-format", choices=("json", "console"), default="json",
                     help="json: one JSON object per line on stderr (default); console: for people")
    run.add_argument("--log-level", choices=LEVELS, default="info", help=LEVEL_HELP)

    check = sub.add_parser("check-config", help="validate a config file; exit 0 if usable, 1 if not",
                           description="Validate a config file. Prints what to change and exits 1 if it is not usable.")
    config_arg(check, positional=True)

    status = sub.add_parser("status", help="show what the running daemon is doing; exit 1 if it is not running",
                            description="Read the status snapshot the running daemon keeps current.")
    config_arg(status)
    status.add_argument("--json", action="store_true", help="print the raw snapshot as JSON")

    process = sub.add_parser("process", help="render the given files once, through the same pool, and exit",
                             description="Render files once with a folder's renditions; the originals stay where they are.")
    config_arg(process)
    process.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders of them")
    process.add_argument("--folder", help="which configured folder's renditions and output to use (default: the first)")
    process.add_argument("--output", "-o", type=Path, metavar="DIR", help="write the outputs here instead of the folder's output")
    process.add_argument("--log-format", choices=("json", "console"), default="console",
                         help="console: for people (default); json: one JSON object per line")
    process.add_argument("--log-level", choices=LEVELS, default="warning",
                         help="warning: the files that failed (default); info: every file; "
                              "debug: everything, without the progress bar")

    requeue = sub.add_parser("requeue", help="list failed files, or move them back to the inbox to try again",
                             description="Without arguments: list the failed files and why they failed. With "
                                         "NAME (a file in failed/, by name or path), a glob ('*.jpg', quoted) "
                                         "or --all: move them back to their inbox (their .error.json goes).")
    config_arg(requeue)
    which = requeue.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every failed file of every folder")
    which.add_argument("names", nargs="*", default=[], metavar="NAME",
                       help="failed files: names as listed, paths, or globs")
    worker = sub.add_parser("worker", help="cluster mode: render jobs from the cluster's queue on this machine",
                            description="Serve a hotfolder cluster (cluster.enabled in the config): check the "
                                        "shared root, then render jobs with Celery's worker until SIGTERM.")
    config_arg(worker)
    worker.add_argument("--concurrency", "-j", type=int, metavar="N",
                        help="render processes (default: cluster.concurrency, else one per core)")
    worker.add_argument("--name", "-n", metavar="NAME", help="node name, %%h = host name (default hotfolder@%%h)")
    worker.add_argument("--log-format", choices=("json", "console"), default="json")
    worker.add_argument("--log-level", choices=LEVELS, default="info", help=LEVEL_HELP)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "run":
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    try:
        _find_config(args)
        return COMMANDS[args.command](args)
    except configfile.NoConfig as exc:
        print(f"hotfolder {args.command}: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        if len(exc.problems) == 1:
            print(f"hotfolder: config error: {exc}", file=sys.stderr)
        else:  # one per line, each with its FILE:LINE:COLUMN, as compilers do
            print(f"hotfolder: config error: {exc.source}: {len(exc.problems)} problems:", file=sys.stderr)
            for line in exc.lines():
                print(f"  {line}", file=sys.stderr)
        return 1
    except AlreadyRunning as exc:
        print(f"hotfolder: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _find_config(args) -> None:
    """--config, or the first of the usual places; said on stderr when not given."""
    found = configfile.find(getattr(args, "config_pos", None) or args.config)
    if found.origin:
        print(found.said(), file=sys.stderr)
    args.config = found.path


def cmd_check_config(args) -> int:
    cfg = config_mod.load(args.config)
    names = ", ".join(f"{f.name} ({len(f.renditions)} renditions)" for f in cfg.folders)
    print(f"{args.config}: OK — {len(cfg.folders)} folder(s): {names}; {cfg.workers} workers")
    return 0


def cmd_run(args) -> int:
    from . import systemd

    systemd.scrub_environ()  # before any process starts: only we may talk to systemd
    cfg = config_mod.load(args.config)
    log.setup(args.log_format, args.log_level)
    from .service import Service  # imported late: check-config and status stay light

    if cfg.cluster.enabled:  # the head: claims here, renders on `hotfolder worker` machines
        from .cluster.backend import ClusterBackend  # Celery only in cluster mode

        backend = ClusterBackend(cfg)
    else:
        from .pool import LocalPool

        backend = LocalPool(cfg.workers, cfg.queue_bound, cfg.file_timeout, args.log_format, args.log_level)
    return Service(cfg, backend).run()


def cmd_worker(args) -> int:
    cfg = config_mod.load(args.config)
    from .cluster import node  # imported late: local mode needs no Celery

    return node.run(cfg, args.concurrency, args.name, args.log_format, args.log_level)


def cmd_status(args) -> int:
    from .instance import holder
    from .stats import daemon_alive, read_snapshot

    status_file = config_mod.status_file_of(args.config)
    snap = read_snapshot(status_file)
    fresh = snap is not None and daemon_alive(snap)
    lock = holder(status_file.parent)  # the instance lock says whether a daemon runs, not the snapshot's age
    running = fresh if lock.held is None else lock.held
    stale = _stale_snapshot(snap, lock, fresh) if running else None
    if args.json:
        extra = {"running": running}
        if stale:
            extra.update(pid=lock.pid, snapshot_stale=stale)
        print(json.dumps({**(snap or {}), **extra}, indent=1))
        return 0 if running else 1
    if stale:
        pid = lock.pid if lock.pid is not None else "unknown"
        print(f"hotfolder is running (pid {pid}), status snapshot stale since {_when(stale['since'])}: "
              f"{stale['reason']}")
        if snap is not None:
            print(f"  last counts: processed {snap.get('processed')}, failed {snap.get('failed')} "
                  f"(snapshot of pid {snap.get('pid')})")
        return 0
    if snap is None:
        print(f"hotfolder is not running (no status file at {status_file})")
        return 1
    if not running:
        print(f"hotfolder is not running (last seen {_ago(snap.get('updated', 0))}, "
              f"pid {snap.get('pid')}, state {snap.get('state')})")
        print(f"  last counts: processed {snap.get('processed')}, failed {snap.get('failed')}")
        return 1
    print(f"hotfolder is {snap['state']} (pid {snap['pid']}, up {_duration(time.time() - snap['started'])})")
    print(f"  processed  {snap['processed']:<6} files rendered and archived since the start")
    print(f"  failed     {snap['failed']:<6} files moved to failed/ since the start "
          f"({snap.get('in_failed', 0)} in failed/ now; `hotfolder requeue` lists them)")
    print(f"  queued     {snap['queued'] + snap['waiting']}")
    print(f"  in flight  {snap['in_flight']}")
    print(f"  workers    {snap['workers_alive']}/{snap['workers']} alive")
    for busy in snap.get("current", []):
        print(f"    pid {busy['pid']}: {busy['file']} ({busy['seconds']} s)")
    cluster = snap.get("cluster")
    if cluster:  # the head of a cluster: the counts above are cluster-wide
        oldest = cluster.get("oldest_claimed_s")
        print(f"  cluster    {cluster.get('cluster_id')} on {cluster.get('shared_root')}, broker {cluster.get('broker')}")
        print(f"    queue length     {cluster.get('queue_length')}")
        print(f"    oldest claimed   {'-' if oldest is None else _duration(oldest)}")
        for node, n in sorted((cluster.get("per_node") or {}).items()):
            print(f"    rendering on {node}: {n}")
        for folder, by_node in sorted((cluster.get("nodes") or {}).items()):
            nodes = ", ".join(f"{node} ({state})" for node, state in by_node.items()) or "none registered"
            print(f"    folder {folder}: config version {(cluster.get('versions') or {}).get(folder)}; nodes: {nodes}")
    if snap.get("message"):
        print(f"  note       {snap['message']}")
    return 0


def _stale_snapshot(snap: dict | None, lock, fresh: bool) -> dict | None:
    """Why the snapshot of a running daemon is not current (None when it is): the note the
    daemon left in its lock, else the snapshot's own age (or another daemon's pid)."""
    note = lock.note or {}
    if note.get("status_unwritable_since"):
        return {"since": note["status_unwritable_since"], "reason": f"cannot be written: {note.get('reason')}"}
    if fresh and (lock.pid is None or snap.get("pid") == lock.pid):
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


def cmd_process(args) -> int:
    cfg = config_mod.load(args.config)
    folder = cfg.folders[0]
    if args.folder:
        matches = [f for f in cfg.folders if f.name == args.folder]
        if not matches:
            print(f"hotfolder: no folder named {args.folder!r} in {args.config} "
                  f"(folders: {', '.join(f.name for f in cfg.folders)})", file=sys.stderr)
            return 2
        folder = matches[0]
    if args.output:
        folder = dataclasses.replace(folder, output=args.output.resolve())
    from . import batch
    from .progress import Progress

    # The main process says what happened to each file, above the bar; the workers stay
    # silent (their lines would cut through the bar), except at debug, drawn without a bar.
    verbose = args.log_level == "debug"
    bar = Progress(0, sys.stderr, enabled=sys.stderr.isatty() and not verbose)
    log.setup(args.log_format, args.log_level, stream=bar)
    logger = log.get("batch")
    files, missing = _expand(args.paths)
    for path in missing:
        logger.warning("file_not_found", file=str(path), outcome="failed")
    if not files:
        bar.close()
        print("hotfolder: nothing to process", file=sys.stderr)
        return 2
    bar.update(0, len(files))
    reported = 0

    def progress(outcomes: list, total: int) -> None:
        nonlocal reported
        for outcome in outcomes[reported:]:
            _report(logger, folder, outcome)
        reported = len(outcomes)
        bar.update(reported, total)

    t0 = time.monotonic()
    results = batch.run(cfg, files, folder, progress, args.log_format, "debug" if verbose else "critical")
    bar.close()
    ok = sum(1 for o in results if o.result.ok)
    bad = len(results) - ok
    elapsed = time.monotonic() - t0
    summary = [f"{bad} failed"] + ([f"{len(missing)} not found"] if missing else []) + (
        [f"{len(files) - len(results)} not processed (stopped)"] if len(results) < len(files) else [])
    print(f"processed {ok} of {len(files) + len(missing)} file(s) in {elapsed:.1f} s "
          f"({ok / elapsed:.1f}/s) into {folder.output}; {', '.join(summary)}", file=sys.stderr)
    return 0 if ok == len(files) + len(missing) else 1


def _report(logger, folder, outcome) -> None:
    """One file's end, as the daemon logs it (the same events and fields)."""
    result = outcome.result
    if result.ok:
        logger.info("file_done", file=outcome.rel, src=str(outcome.src),
                    renditions=[r.name for r in folder.renditions], outputs=list(result.outputs),
                    duration_ms=result.duration_ms, worker_pid=result.pid, outcome="ok")
    else:
        logger.warning("file_failed", file=outcome.rel, src=str(outcome.src), reason=result.error,
                       step=result.step, worker_pid=result.pid, outcome="failed")


def _expand(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(file, path kept in the output) for each input; a folder keeps its subfolders."""
    from .spool import walk_files

    files: dict[str, Path] = {}
    missing = []
    for p in paths:
        if p.is_dir():
            root = p.resolve()  # named by the user: followed, as the files in it are (not our folders)
            found = [(f.resolve(), f.relative_to(root).as_posix()) for f in sorted(walk_files(root))]
        elif p.is_file():
            found = [(p.resolve(), p.name)]
        else:
            missing.append(p)
            continue
        for path, rel in found:
            if rel in files and files[rel] != path:
                print(f"hotfolder: skipping {path}: {files[rel]} has the same name and would get the same "
                      f"outputs; process it separately (--output)", file=sys.stderr)
                continue
            files[rel] = path
    return [(path, rel) for rel, path in files.items()], missing


def cmd_requeue(args) -> int:
    from . import spool
    from .failed_files import failed_originals

    cfg = config_mod.load(args.config)
    if not args.all and not args.names:
        return _list_failed(cfg)
    problems = 0
    failed = list(failed_originals(cfg.folders))  # each file once, with the folder it failed in
    if args.all:
        targets = failed
    else:
        chosen: dict = {}  # in the order named, each once
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
            dst = spool.requeue(folder, path)
        except FileNotFoundError:
            print(f"hotfolder: {path} is gone (requeued already?)", file=sys.stderr)
            problems += 1
            continue
        except (spool.UnsafeRecord, OSError) as exc:  # a record naming a path, a folder swapped for a link
            print(f"hotfolder: not requeued: {exc}", file=sys.stderr)
            problems += 1
            continue
        print(f"requeued {_shown(folder, path)} -> {dst}")
        moved += 1
    print(f"{moved} file(s) requeued")
    return 1 if problems else 0


def _failed_matching(failed: list, name: str) -> list:
    """The failed files `name` stands for: a path to one, or a name or glob matched
    against the names and paths in failed/ — as listed, first (a user's own file may be
    named `x.error.json`); failing that, a record's path stands for its original."""
    from fnmatch import fnmatchcase

    from .spool import SIDECAR

    given = Path(name).absolute().parent.resolve() / Path(name).name
    record_of = name.endswith(SIDECAR)
    for path, pattern in ((given, name), (_original_of(given), name[: -len(SIDECAR)]) if record_of else (None, None)):
        if path is None:
            continue
        # A path given (or a shell glob, expanded): never followed, a failed entry may be a refused symlink.
        exact = [(f, p) for f, p in failed if p == path]
        if exact:
            return exact
        globbed = [(f, p) for f, p in failed if any(fnmatchcase(shown, pattern) for shown in (
                   p.relative_to(f.failed).as_posix(), p.name, f"{f.name}/{p.relative_to(f.failed).as_posix()}"))]
        if globbed:
            return globbed
    return []


def _list_failed(cfg) -> int:
    from . import spool
    from .failed_files import failed_originals

    total = 0
    found = list(failed_originals(cfg.folders))
    for folder in cfg.folders:
        failed = sorted(p for f, p in found if f is folder)
        total += len(failed)
        print(f"{folder.name}: {len(failed)} failed file(s) in {folder.failed}")
        width = max((len(_shown(folder, p)) for p in failed), default=0)
        for path in failed:
            record = spool.read_failure(folder, path) or {}
            why = record.get("error", "(no record of why)")
            when = f"{record['time']}, attempt {record.get('attempts', '?')}: " if record.get("time") else ""
            print(f"  {_shown(folder, path):<{width}}  {when}{why}")
    if total:
        print("requeue with: hotfolder requeue NAME …, a quoted glob ('*.jpg'), or --all")
    return 0


def _shown(folder, path: Path) -> str:
    from .spool import display

    return display(path.relative_to(folder.failed).as_posix())


def _original_of(path: Path) -> Path:
    """`x.jpg.error.json` stands for `x.jpg`."""
    from .spool import SIDECAR

    return path.with_name(path.name[: -len(SIDECAR)]) if path.name.endswith(SIDECAR) else path


COMMANDS = {
    "run": cmd_run,
    "check-config": cmd_check_config,
    "status": cmd_status,
    "process": cmd_process,
    "requeue": cmd_requeue,
    "worker": cmd_worker,
}
