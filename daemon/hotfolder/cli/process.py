"""`hotfolder process`.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from hotfolder.config import load
from hotfolder.config.model import Folder
from hotfolder.errors import ExitCode
from hotfolder.runtime import log
from hotfolder.runtime.progress import Progress
from hotfolder.sidecars import is_sidecar
from hotfolder.spool.fsnames import walk_files


def cmd_process(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())  # serves no http, sends no notification
    folder = cfg.folders[0]
    if args.folder:
        matches = [f for f in cfg.folders if f.name == args.folder]
        if not matches:
            print(f"hotfolder: no folder named {args.folder!r} in {args.config} "
                  f"(folders: {', '.join(f.name for f in cfg.folders)})", file=sys.stderr)
            return ExitCode.USAGE
        folder = matches[0]
    if args.output:
        folder = dataclasses.replace(folder, output=args.output.resolve())
    # Imported here, not at the top: the pool and the engine (pyvips, Pillow) cost ~0.4 s,
    # which the other commands, and this one's own mistakes above, need not pay.
    from hotfolder.workers import batch

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
        return ExitCode.USAGE
    bar.update(0, len(files))
    reported = 0

    def progress(outcomes: list, total: int) -> None:
        nonlocal reported
        for outcome in outcomes[reported:]:
            _report(logger, folder, outcome)
        reported = len(outcomes)
        bar.update(reported, total)

    t0 = time.monotonic()
    try:
        results = batch.run(cfg, files, folder, progress, args.log_format, "debug" if verbose else "critical")
    finally:  # cleared before any line says what went wrong (cli.commands.main)
        bar.close()
    ok = sum(1 for o in results if o.result.ok)
    bad = len(results) - ok
    elapsed = time.monotonic() - t0
    summary = [f"{bad} failed"] + ([f"{len(missing)} not found"] if missing else []) + (
        [f"{len(files) - len(results)} not processed (stopped)"] if len(results) < len(files) else [])
    print(f"processed {ok} of {len(files) + len(missing)} file(s) in {elapsed:.1f} s "
          f"({ok / elapsed:.1f}/s) into {folder.output}; {', '.join(summary)}", file=sys.stderr)
    return ExitCode.OK if ok == len(files) + len(missing) else ExitCode.FAILED


def _report(logger, folder: Folder, outcome) -> None:
    """One file's end, as the daemon logs it (the same events and fields)."""
    result = outcome.result
    if result.ok and result.unmatched:
        logger.info("file_unmatched", file=outcome.rel, src=str(outcome.src), reason=result.unmatched,
                    duration_ms=result.duration_ms, worker_pid=result.pid, outcome="unmatched")
    elif result.ok:
        logger.info("file_done", file=outcome.rel, src=str(outcome.src),
                    renditions=[r.name for r in folder.renditions], outputs=list(result.outputs),
                    duration_ms=result.duration_ms, worker_pid=result.pid, outcome="ok")
    else:
        logger.warning("file_failed", file=outcome.rel, src=str(outcome.src), reason=result.error,
                       step=result.step, worker_pid=result.pid, outcome="failed")


def _expand(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(file, path kept in the output) for each input; a folder keeps its subfolders."""
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
            if is_sidecar(path.name):
                continue  # an XMP sidecar is read with its image (workers/batch.py), never rendered
            if rel in files and files[rel] != path:
                print(f"hotfolder: skipping {path}: {files[rel]} has the same name and would get the same "
                      f"outputs; process it separately (--output)", file=sys.stderr)
                continue
            files[rel] = path
    return [(path, rel) for rel, path in files.items()], missing
