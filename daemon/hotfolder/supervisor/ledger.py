"""The ledger of claimed files: what is in flight, and where each original goes next.

    claim     inbox/x -> processing/x, and the Job that renders it
    settle    after a worker's result: archive (or delete), failed/ with its reason, the
              duplicates folder (a duplicate skipped: duplicates.py), or back to the inbox
              when the output folder is the problem (then pause)
    lost      a job ended without a result: retry it (an attempt if its worker died
              or hung), or fail it after max_attempts, or give it back when stopping
    give_back at a stop: every file in flight goes back to the inbox

This is the only caller of spool's moves in the daemon; the backend that renders
(the local pool, or a cluster) never touches an original. The attempt policy is
jobs.next_attempt; what the ledger meets that stops claiming (an unusable output
folder, a broken recipe, a file stuck in processing/) it tells the claim gate (gate.py).
"""
from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from hotfolder.arrival import rules
from hotfolder.config.model import Config, Folder
from hotfolder.jobs import Job, Result, Verdict, next_attempt, temp_tag
from hotfolder.ops.notices import Hook, Notice, NoticeKind, ignore
from hotfolder.runtime import held, log
from hotfolder.sidecars import is_sidecar
from hotfolder.spool import atomic, folders, fsnames, moves, oserrors, recovery, shares, space
from hotfolder.spool.failed_files import FailedIndex
from hotfolder.spool.syncs import SyncGroup
from hotfolder.supervisor import endings, side_files
from hotfolder.supervisor.adoption import Adoption
from hotfolder.supervisor.duplicates import Sameness
from hotfolder.supervisor.failing import Failing
from hotfolder.supervisor.gate import NOT_A_FILE, PERMISSION, ClaimGate
from hotfolder.supervisor.in_line import InLine
from hotfolder.supervisor.passed_again import PassedAgain
from hotfolder.supervisor.unfinished import Joined, Kept, Unfinished, identity


@dataclass
class Tracked:
    job: Job
    claimed: moves.Claimed


class Counts(Protocol):
    """Where the ledger's own verdicts are counted (the backend's shared counters)."""

    def count(self, verdict: Verdict, already: Verdict | None = None, *, folder: Folder | None = None) -> None: ...
    def uncount(self, already: Verdict | None, folder: Folder | None = None) -> None: ...


class Ledger:
    def __init__(self, config: Config, counts: Counts, on_end: Callable[[Folder, str], None],
                 on_notice: Hook = ignore, failed: FailedIndex | None = None, gate: ClaimGate | None = None,
                 on_hold: Callable[[Folder, str, float], None] = lambda folder, rel, until: None,
                 places: shares.Places | None = None):
        self.config = config
        self.places = places  # which file system each place was on: none is made on a share that is gone
        self.counts = counts
        self.failed = failed if failed is not None else FailedIndex()  # told of each file we move there
        self.on_end = on_end  # a same-named file may wait in the inbox for this one to end
        self.on_notice = on_notice  # the service's hook: files done or failed, claiming paused or resumed
        self.log = log.get("ledger")
        self.gate = gate if gate is not None else ClaimGate(on_notice)  # what stops claiming, and why
        self.gate.subfolders.on_release = self._released
        self.on_hold = on_hold  # a file back in the inbox is not taken before a time (the service's watcher)
        self.unfinished = Unfinished(on_hold, self.failed)  # files cut short whose writer may go on
        # The collaborators call the ledger's hook as it is then (the service may set it later).
        self.sameness = Sameness(lambda n: self.on_notice(n), self.log)  # duplicates: moves, counts, events
        self.failing = Failing(self.failed, counts, self.log, lambda n: self.on_notice(n))  # sent to failed/
        self.tracked: dict[int, Tracked] = {}
        self.next_id = 1
        self.adoption = Adoption(self.log)  # what a crash left in processing/, walked lazily
        self.in_line = InLine()  # given back while running, kept in processing/ (_keep_in_line)
        self.stopping = False  # set by the service when it drains: nothing is deferred then
        self.unmatched: dict[str, int] = {}  # per folder: files no rendition's `when:` took, since the start
        self.sidecars = side_files.LoneSidecars(config.state_dir)  # sidecars handed out without their image
        # files passed through again: compared off the loop with the file of their name in archive/
        self.passes = PassedAgain(self.sameness, self.log, lambda folder, rel: self.on_end(folder, rel),
                                  lambda: self.config.folders, on_settled=self._sidecar_again,
                                  cluster=lambda: self.config.cluster)
        self._group: SyncGroup | None = None  # while `grouped`: archive folders synced once for its files

    def reconfigure(self, config: Config) -> None:
        """A reload: new claims use the new config; files in flight keep their own Folder."""
        self.config = config

    # ------------------------------------------------------------------ start
    def prepare(self, folder: Folder) -> None:
        """Make the folder's folders (OSError if one cannot be made; shares.PlaceGone, and
        none made, while one is on a share that is not mounted)."""
        folders.ensure_dirs(folder, self.places)

    def recover(self, folder: Folder, adopt: bool = True, running: bool = False) -> recovery.Recovery:
        """The state a crash may have left in one folder, put right; with `adopt`, the files
        left in processing/ are ours again, rendered first (adoption.py; `running`: a folder
        a reload adds while files render, or one back from a share that was not mounted)."""
        folders.ensure_dirs(folder, self.places)
        if not adopt:
            return recovery.Recovery()
        return self.adoption.recover(folder, running)

    def waiting(self, limit: int) -> list[Job]:
        """Up to `limit` Jobs of files already in processing/ that wait for the backend:
        those given back while running but kept in line, then those a crash left there
        (read lazily: a large processing/ costs no memory)."""
        out = self.in_line.due(time.monotonic(), self.gate.open_for, limit)
        # In flight, or stuck (moved back to the inbox by the gate, with backoff): not adopted again.
        held = {t.claimed.path for t in self.tracked.values()} | set(self.gate.stuck) if self.adoption else set()
        while len(out) < limit and (claimed := self.adoption.next(held)) is not None:
            folder = next((f for f in self.config.folders if claimed.path.is_relative_to(f.processing)), None)
            if folder is None:
                continue
            job = Job(self.new_id(), folder, claimed.path, claimed.rel,
                      self.config.accepted_formats, self.config.max_image_pixels, sidecar=claimed.sidecar)
            self.tracked[job.id] = Tracked(job, claimed)
            out.append(job)
        return out

    # ------------------------------------------------------------------ claims
    def claim(self, folder: Folder, path: Path, sidecar: Path | None = None) -> Job | None:
        """Take a ready inbox file (with its XMP sidecar, when arrival paired one); the Job
        to submit, or None if it was not taken. A sidecar handed out alone (its image never
        came) is archived with a note: it is never a failure."""
        awaiting = self.unfinished.awaited(folder, path)
        if awaiting in self.tracked:  # the next piece of a claimed file cut short
            joined = self._join(self.tracked[awaiting], path)
            if joined is not None or awaiting in self.tracked:
                return joined
        if is_sidecar(path.name):
            # a clip being compared counts as in flight: a card's video XMP waits for it, then goes with it
            rendering = [*(t.job.rel for t in self.tracked.values() if t.job.folder.name == folder.name),
                         *self.passes.compared_in(folder)]
            self.sidecars.take(self.log, folder, path, rendering)
            return None
        claimed = None
        with self._taking(folder, path):
            if rules.passes_through(folder, path):  # a video: archived as it is (compared first if passed again)
                if not self.passes.take(folder, path):
                    self._pass_through(folder, path)
                return None
            claimed = moves.claim(folder, path, sidecar)
        if claimed is None:
            return None
        job = Job(self.new_id(), folder, claimed.path, claimed.rel,
                  self.config.accepted_formats, self.config.max_image_pixels, sidecar=claimed.sidecar)
        self.tracked[job.id] = Tracked(job, claimed)
        return job

    @contextmanager
    def _taking(self, folder: Folder, path: Path) -> Iterator[None]:
        """Around a claim or a pass-through of the inbox file `path`: what refuses it is said,
        or sent to failed/ (a link), and the file left where it is."""
        try:
            yield
        except moves.Refused as exc:
            self.failing.refused(folder, path, exc)
        except moves.NotAFile as exc:
            self.gate.cannot_take(folder, path, str(exc), NOT_A_FILE)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                self.gate.unclaimable(folder, path)
            elif exc.errno in (errno.EPERM, errno.EACCES):
                self.gate.cannot_take(folder, path, _claim_failed(exc, folder, path), PERMISSION)
            else:
                self.log.error("claim_failed", folder=folder.name, file=str(path),
                               reason=_claim_failed(exc, folder, path))

    def compared(self) -> None:
        """Each turn of the loop: the files passed through again whose comparison ended acted on
        (passed_again.py); those not the same bytes archived as before."""
        for folder, path, differs in self.passes.settle():
            with self._taking(folder, path):
                self._pass_through(folder, path, differs)

    def _pass_through(self, folder: Folder, path: Path, differs: bool = False) -> None:
        """Archive a file passed through as it is, and note it (a copy of it dumped into another
        subfolder later is compared with it: passed_again.py). `differs`: it was compared with
        the archived file of its name and size, and its bytes differ. The record is written
        before the move (a kill between the two lost it, and the clip dumped again was archived
        twice); one of a place the file did not go to is taken back (one a kill left is a record
        of no file: dropped by the lookup that meets it)."""
        noted: list[tuple[Path, int]] = []

        def noting(place: Path, size: int) -> None:
            self.passes.archiving(folder, path, place, size)
            noted.append((place, size))

        where = None
        try:
            where = side_files.pass_through(self.log, folder, path, differs, before=noting)
        finally:
            for place, size in noted:
                if place != where:
                    self.passes.not_archived(folder, path, place, size)
        held.at("passed", path.name)  # tests: killed here, after the move

    def _join(self, tracked: Tracked, piece: Path) -> Job | None:
        """Join an inbox file onto the claimed file cut short that awaits it (unfinished.py):
        the claimed file's new job, or None (then the piece is claimed as any file, unless
        the claimed one still awaits it)."""
        job = tracked.job
        joined = self.unfinished.join(job.folder, tracked.claimed, piece)
        if joined is Joined.NOT_NOW:
            self.unfinished.await_piece(job.folder, job.rel, job.id)
            return None
        if joined is Joined.APPENDED:
            del self.tracked[job.id]
            again = replace(job, id=self.new_id(), counted=None)
            self.tracked[again.id] = Tracked(again, tracked.claimed)
            return again
        if joined is Joined.SUPERSEDED:
            self.settle(job, Result(job.id, False, step="decode", error="The image could not be decoded: cut short, "
                                    "and a new whole file of its name arrived before it was complete (an upload "
                                    "begun again): this part is kept here"), counted_by_worker=False)
        else:
            del self.tracked[job.id]
        return None

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def in_flight(self) -> int:
        return len(self.tracked)

    def claimed_by_folder(self) -> dict[str, int]:
        """Files claimed and not yet at an end, per folder name (for the status)."""
        out: dict[str, int] = {}
        for tracked in self.tracked.values():
            out[tracked.job.folder.name] = out.get(tracked.job.folder.name, 0) + 1
        return out

    # ------------------------------------------------------------------ ends
    @contextmanager
    def grouped(self) -> Iterator[None]:
        """Settle the results of one turn of the loop as a group (spool/syncs.py): each
        original archived by a rename, then each archive folder synced once, then, in
        order, what waits on that: the index's note, `file_done`, a same-named file."""
        outer, self._group = self._group, self._group or SyncGroup()
        try:
            yield
        finally:
            if outer is None:
                group, self._group = self._group, None
                group.close(self._unsynced)

    def _unsynced(self, path: Path, exc: OSError) -> None:
        self.log.error("archive_sync_failed", folder=str(path), reason=f"fsync: {exc.strerror or exc}",
                       action="the originals are there, but a power cut may lose their move; check the disk")

    def settle(self, job: Job, result: Result, counted_by_worker: bool = True) -> Job | None:
        """Move the original to its end (or back to the inbox) after a result. Returns
        the job to submit again when the failure may pass (out of memory, a share's
        I/O error) and attempts are left.

        `counted_by_worker`: the worker counted its verdict already; the ledger's own
        verdicts (a file that kept killing workers) are counted here."""
        if result.transient and job.id in self.tracked:
            return self.lost(job, result.error, charged=True)
        if result.busy and job.id in self.tracked:  # its bytes are being rendered from another file
            return self.lost(job, result.error, charged=False)
        tracked = self.tracked.pop(job.id, None)
        if tracked is None:
            return None
        folder, claimed = job.folder, tracked.claimed
        # What the shared counters hold for this file now.
        if counted_by_worker and result.counted:
            counted: Verdict | None = result.verdict
        else:
            counted = job.counted
        logger = self.log.bind(folder=folder.name, file=job.rel, attempt=job.attempt)
        if not os.path.lexists(claimed.path):
            # Someone removed it from processing/ meanwhile: nothing to archive or fail.
            logger.warning("file_vanished", reason="the original left processing/ while it was rendered",
                           outcome="gone")
            self._end(folder, job.rel)
            return None
        try:
            if result.skipped:  # a duplicate: not rendered (supervisor/duplicates.py)
                self.sameness.skipped(folder, job, claimed, result)
            elif result.ok:
                self.gate.subfolders.written(folder.name, result.outputs)
                group = self._group
                where = moves.finish(folder, claimed, group)
                if group is not None:  # the rest once the archive folder is synced
                    group.then(lambda: self._archived(logger, job, result, where))
                else:
                    self._archived(logger, job, result, where)
                return None
            elif result.recipe:  # not the file's fault, and the same for every file of its folder
                if self._unclaim(tracked, counted):
                    self.gate.recipes.pause(folder, result.error, fsnames.display(job.rel))
            elif result.retry_later and result.held_in:
                self._hold_back(tracked, result, counted)
            elif result.retry_later:
                self._give_back(tracked, result.error, counted)
            elif result.cut_short and self._cut_short(tracked, result.error, counted):
                pass  # back in the inbox to grow, or awaiting its next piece
            else:
                # Seen before it moves: its writer may go on the moment the failure shows
                seen = identity(claimed.path) if result.cut_short else None
                where = self.failing.rendered(logger, job, claimed, result, counted, counted_by_worker)
                if seen is not None:
                    self.unfinished.watch(folder, where, seen)
                self.sameness.settled(folder, job, result, None)
        except OSError as exc:
            if oserrors.output_problem(exc) or result.retry_later:
                self._give_back(tracked, _not_moved(folder, exc, result.ok), counted)
            else:
                self._fail_after_move_error(tracked, exc, counted, rendered=result.ok)
        moves.prune_emptied(folder.processing, job.rel)  # processing/2027/jan, once its last file left
        self._end(folder, job.rel)
        return None

    def _archived(self, logger, job: Job, result: Result, where: Path | None) -> None:
        """A rendered file's original is archived (durably) or deleted: noted, said, counted, ended."""
        folder = job.folder
        self.sameness.settled(folder, job, result, where)
        if result.unmatched and where is not None:  # noted before it is said: a kill after its line keeps it
            self.sidecars.note_unmatched(self.log, folder, where)
        endings.done(logger, folder, job, result, where, self.on_notice, self.unmatched)
        self.unfinished.ended(folder, job.rel)
        if self.gate.resume():  # the folder works again: said in the log too (an admin watching it saw no end)
            self.log.info("claiming_resumed", folder=folder.name, reason="a file was archived: the folders work again")
            self.on_notice(Notice(NoticeKind.RECOVERED, folder.name, reason="claiming resumed: the output "
                                                                   "folder works again"))
        moves.prune_emptied(folder.processing, job.rel)
        self._end(folder, job.rel)

    def _fail_after_move_error(self, tracked: Tracked, exc: OSError, counted: Verdict | None, rendered: bool) -> None:
        """Moving the original failed for a reason of this file's own: to failed/ (failing.py);
        if even that is impossible, give it back."""
        try:
            self.failing.not_moved(tracked.job, tracked.claimed, exc, counted, rendered)
        except OSError as again:
            self._give_back(tracked, f"could not move the original: {again}", counted)

    def _cut_short(self, tracked: Tracked, reason: str, counted: Verdict | None) -> bool:
        """Failed as truncated, its writer may go on (closes between chunks, or paused): back
        to the inbox to grow, or kept for the piece its writer began; False: it fails."""
        kept = self.unfinished.give_back(tracked.job.folder, tracked.claimed, tracked.job.id, reason)
        if kept is Kept.NO:
            return False
        self.counts.uncount(counted, tracked.job.folder)  # counted when it really ends
        if kept is Kept.AWAITING:
            self.tracked[tracked.job.id] = Tracked(replace(tracked.job, counted=None), tracked.claimed)
        return True

    def look_after(self, now: float) -> None:
        """About once a second: files cut short. Those that grew in failed/ are requeued;
        one awaiting a piece that left the inbox is given back as it is."""
        self.unfinished.look(now)
        for _, _, job_id in self.unfinished.orphans():
            if job_id in self.tracked:
                self.settle(self.tracked[job_id].job, Result(job_id, False, step="decode", cut_short=True,
                            error="The image could not be decoded: cut short (its next piece left the inbox)"),
                            counted_by_worker=False)

    def _unclaim(self, tracked: Tracked, counted: Verdict | None) -> bool:
        """Back to the inbox. A file that cannot leave processing/ (immutable, its
        permissions changed) stays there: said once, rendered again at the next start."""
        try:
            moves.unclaim(tracked.job.folder, tracked.claimed)
        except moves.NameTaken:
            return self._keep_in_line(tracked, counted)
        except OSError as exc:
            self.gate.stuck_in_processing(tracked.job.folder, tracked.claimed, exc)
            return False
        self.counts.uncount(counted, tracked.job.folder)  # it is counted again when it really ends
        return True

    def _keep_in_line(self, tracked: Tracked, counted: Verdict | None) -> bool:
        """A newer file of its name waits in the inbox: the claim stays in processing/.
        While running it is submitted again once claiming resumes; at a stop it waits
        there, and the next start renders it first."""
        self.counts.uncount(counted, tracked.job.folder)
        if not self.stopping:
            self.in_line.keep(replace(tracked.job, counted=None))
            self.tracked[tracked.job.id] = tracked
        return True

    def _give_back(self, tracked: Tracked, reason: str, counted: Verdict | None) -> None:
        """Not the file's fault (disk full): back to the inbox, and pause claiming."""
        if not self._unclaim(tracked, counted):
            return
        if self.gate.pause(time.monotonic(), reason):  # a new episode, not another file of this one
            self.on_notice(Notice(NoticeKind.PAUSED, tracked.job.folder.name, fsnames.display(tracked.job.rel), reason))
        self.log.error("claiming_paused", folder=tracked.job.folder.name, file=tracked.job.rel, reason=reason,
                       retry_in_s=self.gate.pause_backoff.delay)

    def _sidecar_again(self, folder: Folder, rel: str) -> None:
        """A clip's comparison was acted on: the sidecar that waited for it, if any, is offered
        again (gone with the clip to duplicates/, it is no longer there to take)."""
        if (waiting := self.sidecars.ended(folder, rel)) is not None:
            self.on_end(folder, waiting)

    def _end(self, folder: Folder, rel: str) -> None:
        """A file ended: the same-named file waiting for it, and a sidecar that came while it
        was rendered, are offered again."""
        self.on_end(folder, rel)
        if (waiting := self.sidecars.ended(folder, rel)) is not None:
            self.on_end(folder, waiting)

    def _released(self, folder: Folder, rel: str) -> None:
        """A file that waited for its output subfolder may be taken again now (it works, or
        the wait was forgotten): in the inbox, or kept in line in processing/."""
        self.on_hold(folder, rel, 0.0)
        self.in_line.release(folder.name, rel)

    def _hold_back(self, tracked: Tracked, result: Result, counted: Verdict | None) -> None:
        """Not the file's fault, nor the whole output folder's: one of its subfolders may not
        be written. Back to the inbox, held there until that subfolder's next try; the
        other files go on (supervisor/subfolders.py)."""
        if not self._unclaim(tracked, counted):
            return
        job = tracked.job
        until = self.gate.subfolders.hold(job.folder, result.held_in, result.error, job.rel, time.monotonic())
        self.on_hold(job.folder, job.rel, until)
        # Kept in processing/ for a newer drop of its name (_keep_in_line): it waits as long
        # (submitted again at the next turn, it was rendered and refused as fast as a worker could)
        self.in_line.hold(job, until)

    def lost(self, job: Job, why: str, charged: bool, stopping: bool = False) -> Job | None:
        """A job ended without a result. Returns the job to submit again, if any."""
        if job.id not in self.tracked:
            return None
        atomic.remove_temp_outputs(job.folder, job.rel, temp_tag(job))  # a killed render's leftovers
        if stopping:
            self.give_back(job)
            return None
        following = next_attempt(job, why, charged, self.config.max_attempts)
        if isinstance(following, Result):
            self.settle(job, following, counted_by_worker=False)
            return None
        if charged:
            self.log.warning("file_retry", file=job.rel, reason=why, attempt=following.attempt)
        self.tracked[job.id].job = following
        return following

    def give_back(self, job: Job, pause_for: str = "") -> None:
        """The file goes back to the inbox; it is not lost. Quietly at a stop; with
        `pause_for`, the reason claiming pauses (the backend refused it)."""
        tracked = self.tracked.pop(job.id, None)
        if tracked is None:
            return
        if pause_for:
            self._give_back(tracked, pause_for, job.counted)
        else:
            self._unclaim(tracked, job.counted)

    def give_back_all(self) -> None:
        for job_id in list(self.tracked):
            self.give_back(self.tracked[job_id].job)

    def unmatched_elsewhere(self, folder_name: str, at: str) -> None:
        """A cluster's node archived an original no rendition took at `at` under the folder's
        archive/: noted as this ledger notes its own (_archived), for its late sidecar."""
        folder = next((f for f in self.config.folders if f.name == folder_name), None)
        if folder is not None and folder.archive is not None:
            self.sidecars.note_unmatched(self.log, folder, folder.archive / at)

    def ended(self, folder_name: str, rel: str) -> None:
        """A job settled elsewhere (cluster mode): forget it, and wake a same-named file."""
        for job_id, tracked in list(self.tracked.items()):
            if tracked.job.folder.name == folder_name and tracked.job.rel == rel:
                del self.tracked[job_id]
        folder = next((f for f in self.config.folders if f.name == folder_name), None)
        if folder is not None:
            moves.prune_emptied(folder.processing, rel)  # the nodes do not claim: the head prunes
            self._end(folder, rel)


def _claim_failed(exc: OSError, folder: Folder, path: Path) -> str:
    """Why a file could not be taken, and what to change: the system's bare words ("[Errno 1]
    Operation not permitted: 'z.jpg' -> 'z.jpg'") said neither (an attack round), nor which
    folder on its way (an admin's audit: the inbox's subfolder a client made with umask 022).
    It is tried again at the next look."""
    if exc.errno in (errno.EPERM, errno.EACCES):
        into = (folder.processing / path.relative_to(folder.inbox)).parent
        if told := oserrors.not_movable(exc, path, into):
            return f"the daemon's user may not move it out of the inbox: {told}; it is tried again"
        return (f"the daemon's user may not move it out of the inbox ({exc.strerror}): an immutable or "
                "append-only file (lsattr; chattr -i -a), or a folder on its way the daemon's user may not "
                "write to (its permissions, or a sticky inbox whose files are another user's); it is tried again")
    return f"{exc.strerror or exc} (errno {errno.errorcode.get(exc.errno or 0, exc.errno)}); it is tried again"


def _not_moved(folder: Folder, exc: OSError, rendered: bool) -> str:
    """Why a rendered (or failed) original could not leave processing/, naming the folder it
    was moved to (an admin read "Permission denied: 'a.jpg' -> 'a.jpg'" and could not tell
    which), and what happens next."""
    to = folder.archive if rendered and folder.archive is not None else folder.failed if not rendered else None
    where = f" into {fsnames.display(str(to))}" if to is not None else ""
    then = "; it waits in the inbox and is rendered again (into its own outputs) once it can" if rendered else ""
    if to is not None and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # which file system, and what is free there
        return (f"could not move the original{where}: {exc.strerror}: that folder is on {space.file_system(to)}; "
                f"free some space there{then}")
    return f"could not move the original{where}: {exc.strerror or exc} (fix that folder's permissions or space){then}"
