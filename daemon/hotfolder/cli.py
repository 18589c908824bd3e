"""Command line: run, check-config, status, process, requeue, worker.

`main(argv)` returns the exit code, so tests call it directly.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from . import __version__, log
from . import config as config_mod
from .config import ConfigError
from .stats import AlreadyRunning

EPILOG = "Config reference: README.md, section 'Config reference'."


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotfolder",
        description="Watch hot folders and turn every image dropped there into the renditions a YAML config asks for.",
        epilog=EPILOG,
    )
    p.add_argument("--version", action="version", version=f"hotfolder {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_arg(sp, positional=False):
        if positional:  # FILE or --config FILE, like every other command
            sp.add_argument("config_pos", metavar="FILE", type=Path, nargs="?", help="the YAML config file")
            sp.add_argument("--config", "-c", metavar="FILE", type=Path, dest="config_opt", help=argparse.SUPPRESS)
        else:
            sp.add_argument("--config", "-c", metavar="FILE", type=Path, required=True, help="the YAML config file")

    run = sub.add_parser("run", help="watch the folders and render files as they arrive (foreground)",
                         description="Watch the configured folders in the foreground until SIGTERM or Ctrl-C.")
    config_arg(run)
    run.add_argument("--log-format", choices=("json", "console"), default="json",
                     help="json: one JSON object per line on stderr (default); console: for people")
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")

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
    process.add_argument("--log-format", choices=("json", "console"), default="console")

    requeue = sub.add_parser("requeue", help="move failed files back to the inbox (and drop their .error.json)",
                             description="Move files from failed/ back to their inbox to be tried again.")
    config_arg(requeue)
    which = requeue.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every failed file of every folder")
    which.add_argument("paths", nargs="*", type=Path, default=[], metavar="PATH", help="failed files to requeue")
    worker = sub.add_parser("worker", help="cluster mode: render jobs from the cluster's queue on this machine",
                            description="Serve a hotfolder cluster (cluster.enabled in the config): check the "
                                        "shared root, then render jobs with Celery's worker until SIGTERM.")
    config_arg(worker)
    worker.add_argument("--concurrency", "-j", type=int, metavar="N",
                        help="render processes (default: cluster.concurrency, else one per core)")
    worker.add_argument("--name", "-n", metavar="NAME", help="node name, %%h = host name (default hotfolder@%%h)")
    worker.add_argument("--log-format", choices=("json", "console"), default="json")
    worker.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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


def cmd_check_config(args) -> int:
    args.config = args.config_pos or args.config_opt
    if args.config is None:
        print("hotfolder check-config: give the config file: hotfolder check-config FILE", file=sys.stderr)
        return 2
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
    from .stats import daemon_alive, read_snapshot

    status_file = config_mod.status_file_of(args.config)
    snap = read_snapshot(status_file)
    running = snap is not None and daemon_alive(snap)
    if args.json:
        print(json.dumps({**(snap or {}), "running": running}, indent=1))
        return 0 if running else 1
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
    if snap.get("message"):
        print(f"  note       {snap['message']}")
    return 0


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
    files, missing = _expand(args.paths)
    for path in missing:
        print(f"hotfolder: {path}: no such file or folder", file=sys.stderr)
    if not files:
        print("hotfolder: nothing to process", file=sys.stderr)
        return 2
    log.setup(args.log_format, "warning")
    from .progress import Progress
    from . import batch

    bar = Progress(len(files), sys.stderr)
    t0 = time.monotonic()
    results = batch.run(cfg, files, folder, bar.update, args.log_format, "warning")
    bar.close()
    ok = [o for o in results if o.result.ok]
    bad = [o for o in results if not o.result.ok]
    elapsed = time.monotonic() - t0
    print(f"processed {len(ok)} of {len(files)} file(s) in {elapsed:.1f} s "
          f"({len(ok) / elapsed:.1f}/s) into {folder.output}; {len(bad)} failed", file=sys.stderr)
    for outcome in bad:
        print(f"  failed: {outcome.src}: {outcome.result.error}", file=sys.stderr)
    return 0 if not bad and len(results) == len(files) else 1


def _expand(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(file, path kept in the output) for each input; a folder keeps its subfolders."""
    from .spool import walk_files

    files: dict[str, Path] = {}
    missing = []
    for p in paths:
        if p.is_dir():
            found = [(f.resolve(), f.relative_to(p).as_posix()) for f in sorted(walk_files(p))]
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

    cfg = config_mod.load(args.config)
    moved, problems = 0, 0
    if args.all:
        targets = [(f, p) for f in cfg.folders for p in list(spool.walk_failed(f))]
    else:
        targets = []
        # A glob names the sidecars too; a failed entry may be a refused symlink: never follow it.
        for p in dict.fromkeys(_original_of(p.absolute().parent.resolve() / p.name) for p in args.paths):
            folder = next((f for f in cfg.folders if p.is_relative_to(f.failed)), None)
            if folder is None or not (p.is_symlink() or p.is_file()):
                print(f"hotfolder: {p} is not a failed file in a failed/ folder of {args.config}", file=sys.stderr)
                problems += 1
                continue
            targets.append((folder, p))
    for folder, path in targets:
        try:
            dst = spool.requeue(folder, path)
        except FileNotFoundError:
            print(f"hotfolder: {path} is gone (requeued already?)", file=sys.stderr)
            problems += 1
            continue
        print(f"requeued {path} -> {dst}")
        moved += 1
    print(f"{moved} file(s) requeued")
    return 1 if problems else 0


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
