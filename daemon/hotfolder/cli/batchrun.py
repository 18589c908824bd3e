"""Rendering a list of files through the local pool with a progress bar: what `hotfolder
process` and `hotfolder rerender` share.

The main process says what happened to each file, above the bar (the same events and
fields as the daemon's log); the workers stay silent (their lines would cut through the
bar), except at debug, which draws no bar.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hotfolder.config.model import Config, Folder
from hotfolder.runtime import log
from hotfolder.runtime.progress import Progress
from hotfolder.state import db


def setup_log(args: argparse.Namespace) -> Progress:
    """The bar (drawn on a terminal, unless at debug), which is also the log's stream."""
    verbose = args.log_level == "debug"
    bar = Progress(0, sys.stderr, enabled=sys.stderr.isatty() and not verbose)
    log.setup(args.log_format, args.log_level, stream=bar)
    return bar


def render(args: argparse.Namespace, cfg: Config, folder: Folder, files: list[tuple[Path, str]],
           bar: Progress, generations: dict[Path, int] | None = None, outside: bool = False,
           kept_since_ns: int = 0, prove: bool = False,
           withouts: dict[Path, tuple[str, ...]] | None = None,
           seqs: dict[Path, int] | None = None, only: tuple[str, ...] = (),
           hads: dict | None = None) -> tuple[list, float]:
    """Render `files` (each with the relative path its outputs keep) with the folder's
    renditions: the Outcomes, in the order they ended, and the seconds it took. `outside`:
    files of `hotfolder process` (jobs.Job.outside), not archived originals (rerender).
    `prove`, `withouts`, `seqs`, `only`, `hads`: rerender's (batch.run)."""
    # Imported here, not at the top: the pool and the engine (pyvips, Pillow) cost ~0.4 s,
    # which the commands' own mistakes need not pay.
    from hotfolder.workers import batch

    # A downgrade: refused in one line, as `run` refuses it (a worker's first `{seq}` file
    # failed, the next wrote the newer tables; rerender notes its outputs in the index)
    db.refuse_newer(cfg.state_dir)
    logger = log.get("batch")
    bar.update(0, len(files))
    reported = 0
    level = "debug" if args.log_level == "debug" else "critical"  # the workers': silent but at debug

    def progress(outcomes: list, total: int) -> None:
        nonlocal reported
        for outcome in outcomes[reported:]:
            # an archived original rerendered that makes nothing now is news as well (its
            # rating or keywords changed): said at the default level, as a file named to process
            report(logger, folder, outcome, asked=True, workers_said=level == "debug")
        reported = len(outcomes)
        bar.update(reported, total)

    t0 = time.monotonic()
    try:
        results = batch.run(cfg, files, folder, progress, args.log_format, level, generations, outside,
                            kept_since_ns, prove, withouts, seqs, only, hads)
    finally:  # cleared before any line says what went wrong (cli.commands.main)
        bar.close()
    return results, time.monotonic() - t0


def kept_beside(outcomes) -> int:
    """The outputs kept as they were, this run's written beside them, of the files `report`
    said `outputs_kept` of: what the summaries of `process` and `rerender` count."""
    return sum(len(o.result.kept) for o in outcomes if o.result.ok and o.result.names_said)


def report(logger, folder: Folder, outcome, asked: bool = False, workers_said: bool = False) -> None:
    """One file's end, as the daemon logs it (the same events and fields). `asked`: a file
    named to `process` or rendered again by `rerender`, of which nothing made is said at the
    default level, not only at info (a shop admin saw "processed 1 of 1", and no output,
    without a word why; a photographer, "rendered 1 of 1 … again" of a photo whose five
    stars were taken off, its print still in output/). `workers_said`: the workers logged
    their own lines (--log-level debug)."""
    result = outcome.result
    if result.ok and result.skipped:
        logger.info("file_kept", file=outcome.rel, src=str(outcome.src), reason=result.error,
                    duration_ms=result.duration_ms, worker_pid=result.pid, outcome="kept")
    elif result.ok and result.unmatched:  # one none of `rerender --rendition`'s takes: in its summary only
        said = logger.warning if asked and not result.not_asked else logger.info
        said("file_unmatched", file=outcome.rel, src=str(outcome.src), reason=result.unmatched,
             duration_ms=result.duration_ms, worker_pid=result.pid, outcome="unmatched")
    elif result.ok:
        # the workers' rendition_note: they log it themselves only at debug (`workers_said`), where
        # saying it here too printed each note twice
        for rendition, note in () if workers_said else result.notes:
            logger.warning("rendition_note", file=outcome.rel, src=str(outcome.src), rendition=rendition, note=note)
        if result.names_said:  # a second set written beside outputs kept: said at the default level
            (logger.warning if result.kept else logger.info)(
                "outputs_kept", file=outcome.rel, src=str(outcome.src), reason=result.names_said,
                kept=list(result.kept))
        logger.info("file_done", file=outcome.rel, src=str(outcome.src),
                    renditions=list(result.renditions or (r.name for r in folder.renditions)),
                    outputs=list(result.outputs),
                    duration_ms=result.duration_ms, worker_pid=result.pid, outcome="ok",
                    **({"kept": list(result.kept)} if result.kept else {}))
    else:
        logger.warning("file_failed", file=outcome.rel, src=str(outcome.src), reason=result.error,
                       step=result.step, worker_pid=result.pid, outcome="failed")
