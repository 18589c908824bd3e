"""How a job's attempt ends when it does not render: for each kind of failure, the
Result the supervisor acts on and the one log line that says it (workers/render.py calls
these from its `except` clauses, so a traceback logged here is the attempt's own).

    failed       the file's fault: to failed/ with its reason and what `explain` says
    kept         outputs written after this attempt began are newer: left as they are
    unreadable   a decoder's refusal; a file still being written waits for its writer
    unusable     the recipe's fault, not the file's: the file waits for a reload
    unexpected   anything else: another attempt (a share's hiccup, memory), a wait for
                 the output or the index to be writable again, or failed/ with the error
    unmatched    no rendition's `when:` holds: archived, or failed (on_no_rendition: fail)
"""
from __future__ import annotations

import errno
import time
from collections.abc import Callable

from hotfolder.config.model import Folder
from hotfolder.engine import pipeline
from hotfolder.engine.errors import unpinned
from hotfolder.jobs import Job, Result
from hotfolder.recipes import select
from hotfolder.recipes.explain import Explanation, shown_fields, verdicts
from hotfolder.spool import nofollow, oserrors
from hotfolder.spool import owners as names
from hotfolder.spool.shares import PlaceGone
from hotfolder.state import db
from hotfolder.workers import truncation
from hotfolder.workers.choice import Choice

# Reading the input failed for a reason that may pass (a share's hiccup, not the bytes).
TRANSIENT_READ_ERRNOS = {errno.EIO, errno.ESTALE, errno.ENOTCONN, errno.ETIMEDOUT, errno.EHOSTDOWN,
                         errno.EAGAIN, errno.EINTR}


def transient_reason(exc: BaseException) -> str | None:
    """Why a render that raised `exc` deserves another attempt, or None if it does not."""
    if isinstance(exc, MemoryError):
        return "out of memory while rendering (MemoryError); another attempt may have more room"
    if isinstance(exc, OSError) and exc.errno in TRANSIENT_READ_ERRNOS:
        return f"the input could not be read: {exc.strerror or exc} (errno {errno.errorcode.get(exc.errno, exc.errno)})"
    return None


class Ending:
    """One attempt's endings. `choice` is set once the renditions are chosen (a failure
    record then says which applied and why), `needed` once they are rendered."""

    def __init__(self, job: Job, logger, t0: float, fence: Callable[[], None] | None):
        self.job, self.logger, self.t0, self.fence = job, logger, t0, fence
        self.choice: Choice | None = None
        self.needed = 0  # bytes of the outputs being written, once rendered: said when they do not fit

    def ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 1)

    def failed(self, reason: str, at: str, cut_short: bool = False) -> Result:
        if self.fence is not None:
            self.fence()  # superseded: the file is another attempt's now (it may have moved it), not failed
        if cut_short:  # the main process decides: held for its writer (file_cut_short), or failed (file_failed).
            # Said as file_failed, a slow upload wrote 29 of them for a file that rendered (an attack round).
            self.logger.info("file_read_cut_short", step=at, reason=reason, duration_ms=self.ms(), outcome="cut_short")
        else:
            self.logger.warning("file_failed", step=at, reason=reason, duration_ms=self.ms(), outcome="failed")
        return Result(self.job.id, False, error=reason, step=at, duration_ms=self.ms(),
                      explained=explained(self.job, self.choice, reason), cut_short=cut_short)

    def kept(self, reason: str) -> Result:
        self.logger.info("file_kept", reason=reason, duration_ms=self.ms(), outcome="kept")
        return Result(self.job.id, True, skipped=True, error=reason, duration_ms=self.ms())

    def unreadable(self, exc: pipeline.InputError) -> Result:
        if truncation.cut_short(exc.reason, self.job.src):
            said = pipeline.InputError(exc.step, truncation.in_plain_words(exc.reason))
            return self.failed(str(said), exc.step, cut_short=True)
        return self.failed(str(exc), exc.step)

    def unusable(self, exc: pipeline.RecipeError) -> Result:
        """Every file of the folder would fail alike: this one waits."""
        self.logger.info("recipe_unusable", reason=str(exc), duration_ms=self.ms(), outcome="retry")
        return Result(self.job.id, False, error=str(exc), step="render", recipe=True, duration_ms=self.ms())

    def unexpected(self, exc: Exception, step: str) -> Result:
        """Called in the `except` clause that caught `exc` (its traceback is logged)."""
        if self.fence is not None:
            self.fence()  # as in failed()
        problem = oserrors.output_problem(exc) if step == "write" else None
        if isinstance(exc, names.RecordsUnwritable):
            problem = str(exc)
        if _index_problem(exc):  # state_dir's database or the cluster's Redis: the daemon's, not the file's
            problem = _index_said(exc, self.job.folder)
        transient = transient_reason(exc) if step in ("read", "render") else None
        if transient:
            self.logger.warning("render_interrupted", step=step, reason=transient, duration_ms=self.ms(),
                                outcome="retry")
            return Result(self.job.id, False, error=transient, step=step, transient=True, duration_ms=self.ms())
        if isinstance(exc, nofollow.FolderSwapped | PlaceGone):  # swapped for a link; on a share not mounted
            problem = str(exc)
        if problem:
            folder = self.job.folder
            said = (oserrors.said_at(exc, "output", folder.name, folder.output, self.needed)
                    if isinstance(exc, OSError) else None)
            reason = said or (problem if problem == str(exc) else f"{problem} ({exc})")
            held_in = oserrors.unwritable_subfolder(exc, folder.output) if isinstance(exc, OSError) else ""
            self.logger.error("output_unwritable", step=step, reason=reason, duration_ms=self.ms(), outcome="retry",
                              **({"subfolder": held_in} if held_in else {}))
            return Result(self.job.id, False, error=reason, step=step, retry_later=True, held_in=held_in,
                          duration_ms=self.ms())
        reason = unpinned(f"{type(exc).__name__}: {exc}")
        self.logger.error("file_failed", step=step, reason=reason, duration_ms=self.ms(), outcome="failed",
                          exc_info=True)
        return Result(self.job.id, False, error=reason, step=step, duration_ms=self.ms(),
                      explained=explained(self.job, self.choice, reason))

    def unmatched(self) -> Result:
        """No rendition's `when:` holds: archived (a count, not a failure), or failed when
        the folder says `on_no_rendition: fail`."""
        assert self.choice is not None
        why = self.choice.selection.said()
        if self.job.folder.on_no_rendition == "fail":
            reason = f"no rendition applies (on_no_rendition: fail): {why}"
            self.logger.warning("file_failed", step="conditions", reason=reason, duration_ms=self.ms(),
                                outcome="failed")
            return Result(self.job.id, False, error=reason, step="conditions", duration_ms=self.ms(),
                          explained=explained(self.job, self.choice, ""))
        self.logger.info("file_rendered", outputs=0, duration_ms=self.ms(), outcome="unmatched")
        return Result(self.job.id, True, unmatched=why, duration_ms=self.ms())

    def not_asked(self) -> Result:
        """rerender --rendition: no rendition asked for applies to the file (their `when:`), though
        others do: nothing made, its outputs left as they are; no failure, whatever on_no_rendition."""
        assert self.choice is not None
        why = self.choice.selection.said()
        self.logger.info("file_rendered", outputs=0, duration_ms=self.ms(), outcome="unmatched")
        return Result(self.job.id, True, unmatched=f"no rendition asked for applies: {why}", not_asked=True,
                      duration_ms=self.ms())


def explained(job: Job, choice: Choice | None, problem: str) -> tuple[str, ...]:
    """What `hotfolder explain` would say of the file, for its failure record."""
    folder = job.folder
    if choice is None:
        said = Explanation(job.rel, folder.name, "in its inbox", select.folder_need(folder).said(), problem=problem)
    else:
        said = Explanation(job.rel, folder.name, "in its inbox", select.folder_need(folder).said(),
                           shown_fields(choice.facts, choice.seq), verdicts(choice.selection), problem,
                           choice.notes)
    return tuple(said.lines())


def _index_problem(exc: BaseException) -> bool:
    """An error of the index's store (sqlite3, or redis-py in cluster mode; by module, so
    that local mode never imports redis)."""
    return type(exc).__module__.split(".")[0] in ("sqlite3", "redis")


def _index_said(exc: BaseException, folder: Folder) -> str:
    said = f"the index of originals cannot be used: {type(exc).__name__}: {exc}"
    where = folder.index_dir or folder.state_dir
    if type(exc).__module__.split(".")[0] != "sqlite3" or where is None:
        return said  # the cluster's Redis says its own
    return db.unusable(said, exc, where)
