"""Originals the ledger sends to failed/: each moved with its record, told to the failed/
index, counted, said in the log and notified. Three ways in: a file refused at its claim
(a link, a name too long), a render that failed, and an original that could not be moved
to its end for a reason of its own.
"""
from __future__ import annotations

from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.jobs import Job, Result, Verdict
from hotfolder.ops.notices import Hook, Notice, NoticeKind
from hotfolder.spool import fsnames, moves
from hotfolder.spool.failed_files import FailedIndex


class Failing:
    def __init__(self, failed: FailedIndex, counts, log, on_notice: Hook):
        self.failed = failed
        self.counts = counts
        self.log = log
        self.on_notice = on_notice

    def refused(self, folder: Folder, path: Path, exc: moves.Refused) -> None:
        """An inbox file refused at its claim; if even failed/ cannot take it, it stays in the
        inbox (the next rescan tries again)."""
        rel = path.relative_to(folder.inbox).as_posix()
        try:
            before = self.failed.stamp(folder)
            self.failed.added(folder, moves.fail(folder, path, rel, error=str(exc), step="claim", attempts=0), before)
        except OSError as again:
            self.log.error("claim_failed", folder=folder.name, file=rel, reason=f"{exc}; and {again}")
            return
        self.counts.count(Verdict.FAILED, folder=folder)
        self.log.warning("file_refused", folder=folder.name, file=rel, reason=str(exc), outcome="failed")
        self.on_notice(Notice(NoticeKind.FAILED, folder.name, fsnames.display(rel), str(exc), "claim", 0))

    def rendered(self, logger, job: Job, claimed: moves.Claimed, result: Result, counted: Verdict | None,
                 counted_by_worker: bool) -> Path:
        """A render that failed: where the original went (OSError: it did not move)."""
        folder = job.folder
        before = self.failed.stamp(folder)
        where = moves.fail(folder, claimed.path, claimed.rel, error=result.error, step=result.step,
                           attempts=job.attempt, explained=result.explained, sidecar=claimed.sidecar)
        self.failed.added(folder, where, before)
        if not counted_by_worker:
            self.counts.count(Verdict.FAILED, counted, folder=folder)
        logger.warning("file_failed", reason=result.error, step=result.step, failed=str(where),
                       worker_pid=result.pid, outcome="failed")
        self.on_notice(Notice(NoticeKind.FAILED, folder.name, fsnames.display(job.rel), result.error,
                              result.step, job.attempt))
        return where

    def not_moved(self, job: Job, claimed: moves.Claimed, exc: OSError, counted: Verdict | None,
                  rendered: bool) -> None:
        """Moving the original to its end failed for a reason of this file's own: record it
        in failed/ rather than loop on it (OSError: not even that; the caller gives it back)."""
        what = "rendered, but the original could not be archived" if rendered else "the original could not be moved"
        before = self.failed.stamp(job.folder)
        where = moves.fail(job.folder, claimed.path, claimed.rel, step="finish", attempts=job.attempt,
                           error=f"{what}: {exc}", sidecar=claimed.sidecar)
        self.failed.added(job.folder, where, before)
        self.counts.count(Verdict.FAILED, counted, folder=job.folder)
        self.log.error("file_failed", file=job.rel, step="finish", reason=str(exc), outcome="failed")
        self.on_notice(Notice(NoticeKind.FAILED, job.folder.name, fsnames.display(job.rel), f"{what}: {exc}",
                              "finish", job.attempt))
