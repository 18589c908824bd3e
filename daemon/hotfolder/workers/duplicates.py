"""One file's dealings with the index of originals (issue 23, and 26.2), in the worker.

    claim()     after the bytes are read and hashed, before anything is decoded: the same
                bytes rendered before are a duplicate (skip, fail, or process it again);
                the same bytes being rendered now from another file: wait for that one
    judge()     after the decode, from the picture's look: a look-alike of an earlier
                original (flag it, or skip it), and, for a name used before, whether this
                is a new version of that photo (it replaces its outputs) or a different
                photo (the earlier outputs stay; its own are numbered, `~2`)
    written()   once the outputs are written: a new version says whether each replaced its
                own (workers/provenance.py), as any file whose outputs went beside others
    recorded()  then the row (with the outputs' hashes), and the claim dropped
    release()   the render failed: the bytes may be claimed again

The index is state/originals.Originals (local mode) or cluster/originals.SharedOriginals;
both answer the same calls. The decision is the worker's; where the original goes is
the supervisor's (supervisor/ledger.py), from the Result.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from hotfolder.config.choices import NameClash, OnDuplicate, Similar
from hotfolder.config.model import Folder
from hotfolder.engine.fingerprint import Original
from hotfolder.jobs import Job, Result
from hotfolder.likeness import Kind, Look, Match, Naming, alike
from hotfolder.recipes.select import subfolder_scope
from hotfolder.spool.fsnames import display
from hotfolder.spool.owners import Taken
from hotfolder.state.originals import DUPLICATE, LOOKALIKE, REFUSED, RENDERED, Entry, job_key
from hotfolder.workers import provenance

BUSY_WAIT = 30.0  # seconds a file waits for another rendering its bytes (a render takes 0.1-10 s)
BUSY_POLL = 0.02  # first pause between two looks, doubling to BUSY_POLL_MAX
BUSY_POLL_MAX = 0.25


@dataclass
class Sameness:
    job: Job
    original: Original
    index: Any  # Originals | SharedOriginals (see the module's doc)
    logger: Any
    match: Match | None = None  # what it repeats (on_duplicate: process) or resembles (similar: flag)
    naming: Naming = Naming.FIRST
    generation: int = 0
    look: Look | None = None
    claimed: bool = False
    again: bool = False  # this file rendered before, not archived (Claim.again): its outputs are its own
    renumbered_since: bool = False  # written as a later photo of its name than the index gave (renumbered)
    # A look-alike under `similar: skip` rendered for these renditions only: the earlier photo
    # did not get them (judge); None: every rendition chosen
    only: tuple[str, ...] | None = None
    # A duplicate processed again (on_duplicate: process) under `similar: skip`, rendered for
    # what this look-alike of other bytes lacked, as its first drop was: its row names it
    completes: Match | None = None
    key: int = field(init=False)
    subdir: str | None = field(init=False)  # where an earlier original counts (subfolder_scope)

    def __post_init__(self) -> None:
        self.key = job_key(self.job.folder.name, self.job.rel, self.original.inode, self.original.mtime_ns)
        self.subdir = subfolder_scope(self.job.folder, self.job.rel)

    @property
    def _since(self) -> float:
        return time.time() - self.job.folder.duplicate_window

    # ------------------------------------------------------------------ before decoding
    def claim(self, t0: float) -> Result | None:
        """None: go on and render. Else the Result: a duplicate, or still busy after BUSY_WAIT."""
        folder = self.job.folder
        deadline, pause = time.monotonic() + BUSY_WAIT, BUSY_POLL
        while True:
            got = self.index.claim(self.original.content, self.key, self.job.src, folder=folder.name,
                                   scope_all=folder.duplicate_scope == "all", since=self._since,
                                   subdir=self.subdir)
            if got.verdict != "busy" or time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(BUSY_POLL_MAX, pause * 2)
        if got.verdict == "busy":
            self.logger.info("duplicate_busy", reason="the same bytes are being rendered from another file",
                             outcome="retry")
            return Result(self.job.id, False, error="the same bytes are being rendered from another file",
                          step="duplicate", busy=True, duration_ms=_ms(t0))
        if got.verdict == "new":
            self.claimed, self.again = True, got.again
            return None
        match = got.match
        assert match is not None
        if folder.on_duplicate == OnDuplicate.PROCESS:
            self.match = match
            return None
        failing = folder.on_duplicate == OnDuplicate.FAIL
        record = self._record(REFUSED if failing else DUPLICATE, other=match)
        match = _with_gone(match, folder)
        said = f"{match.said()}"
        hint = match.gone_said(folder.archive, config=folder.config_file)  # "" when no output is gone
        if failing:
            error = f"{said} (on_duplicate: fail)" + (f"; {hint}" if hint else "")
            self.logger.warning("file_failed", step="duplicate", reason=error, duration_ms=_ms(t0), outcome="failed")
            return Result(self.job.id, False, error=error, step="duplicate", match=match, record=record,
                          duration_ms=_ms(t0))
        gone = {"outputs_gone": len(match.gone), "hint": hint} if match.gone else {}
        self.logger.info("duplicate_skipped", kind=str(match.kind), matched=display(f"{match.folder}/{match.name}"),
                         duration_ms=_ms(t0), outcome="skipped", **gone)
        return Result(self.job.id, True, skipped=True, match=match, record=record, duration_ms=_ms(t0))

    # ------------------------------------------------------------------ after decoding
    def judge(self, look: Look, t0: float, chosen: tuple[str, ...] = ()) -> Result | None:
        """None: render it (as a new version, a different photo, or flagged; `only` set: a
        look-alike, for the renditions of `chosen` the earlier photo did not get). Else the
        Result of a look-alike skipped."""
        self.look = look
        folder = self.job.folder
        replaced: set[int] = set()
        if folder.on_name_clash != NameClash.REPLACE:
            replaced = self._name_used_before(look)
        if folder.similar == Similar.OFF:
            return None
        if self.match is not None:
            if folder.similar == Similar.SKIP and self.match.kind == Kind.EXACT:
                self._as_its_first_drop(look, replaced, chosen)
            return None
        if folder.similar == Similar.SKIP:
            self._after_lookalikes_rendering(look)
        found, got = self._lookalike(look, frozenset(replaced))
        if found is None:
            return None
        missing = tuple(name for name in chosen if got is not None and name not in got)
        if folder.similar == Similar.SKIP and missing:
            # A RAW whose sidecar rates it 5 stars, after its camera JPEG (unrated: web only);
            # a re-export rated since: skipped, its proof was never delivered (the wedding audit)
            self.match, self.only = found, missing
            self.logger.info("lookalike_completed", matched=display(f"{found.folder}/{found.name}"), bits=found.bits,
                             renditions=list(missing), outcome="rendered",
                             reason=f"it looks like {display(found.name)}, which did not get "
                                    f"{', '.join(missing)}: only {'it' if len(missing) == 1 else 'they'} rendered")
            return None
        if folder.similar == Similar.FLAG:
            self.match = found
            self.logger.info("lookalike_flagged", matched=display(f"{found.folder}/{found.name}"), bits=found.bits,
                             outcome="rendered")
            return None
        self.release()
        record = self._record(LOOKALIKE, other=found)
        found = _with_gone(found, folder)  # said as of a copy: skipped, a deleted output was no longer delivered
        gone = {"outputs_gone": len(found.gone), "hint": found.gone_said(folder.archive, config=folder.config_file)}
        self.logger.info("duplicate_skipped", kind=str(found.kind), matched=display(f"{found.folder}/{found.name}"),
                         bits=found.bits, duration_ms=_ms(t0), outcome="skipped", **(gone if found.gone else {}))
        return Result(self.job.id, True, skipped=True, match=found, record=record, duration_ms=_ms(t0))

    def _as_its_first_drop(self, look: Look, replaced: set[int], chosen: tuple[str, ...]) -> None:
        """A duplicate rendered again (on_duplicate: process) under `similar: skip`: for what
        its look-alikes of other bytes did not get, as its first drop was. A card's rated RAW,
        rendered for the proof its camera JPEG lacked, copied in again, was rendered whole,
        and its web size came beside its JPEG's (the shot delivered twice)."""
        same = getattr(self.index, "records_of", None)
        if same is None:  # a cluster's: rendered whole, as before
            return
        found, got = self._lookalike(look, frozenset(replaced) | same(self.original.content))
        missing = tuple(name for name in chosen if got is not None and name not in got)
        if found is None or not missing or len(missing) == len(chosen):
            return
        self.only, self.completes = missing, found
        self.logger.info("lookalike_completed", matched=display(f"{found.folder}/{found.name}"), bits=found.bits,
                         renditions=list(missing), outcome="rendered",
                         reason=f"it looks like {display(found.name)}, which did not get "
                                f"{', '.join(missing)}: only {'it' if len(missing) == 1 else 'they'} rendered")

    def _after_lookalikes_rendering(self, look: Look) -> None:
        """Under `similar: skip`: wait (BUSY_WAIT at most) while a look-alike claimed before
        this file is being rendered by another worker, so that its record is there to be
        found: a card's RAW and its camera JPEG, taken at once, were both delivered."""
        if not self.claimed or not hasattr(self.index, "rendering_alike"):  # a cluster's: not kept
            return
        folder = self.job.folder
        deadline, pause = time.monotonic() + BUSY_WAIT, BUSY_POLL
        said = False
        while self.index.rendering_alike(self.original.content, self.key, look, folder.similar_distance,
                                         folder=folder.name, scope_all=folder.duplicate_scope == "all",
                                         subdir=self.subdir):
            if time.monotonic() >= deadline:
                self.logger.info("lookalike_busy", reason="a look-alike claimed before it is still being rendered",
                                 outcome="rendered")
                return
            if not said:
                self.logger.debug("lookalike_wait", reason="a look-alike claimed before it is being rendered")
                said = True
            time.sleep(pause)
            pause = min(BUSY_POLL_MAX, pause * 2)

    def _name_used_before(self, look: Look) -> set[int]:
        """Issue 26.2: this name was rendered before. A look-alike of one of those photos is
        a new version of it (its generation: its outputs are replaced); else a different
        photo, which keeps the earlier outputs and numbers its own. The rows it replaces."""
        folder, rel = self.job.folder, self.job.rel
        earlier = self.index.named(folder.name, rel)
        if not earlier:
            return set()
        same = next((n for n in earlier if n.look is not None and alike(look, n.look, folder.similar_distance)), None)
        if same is not None:
            # Said once its outputs are written (`written`): whether each replaced its own is
            # known only then (said before, "replaced" was said of outputs written beside: a report)
            self.naming, self.generation = Naming.NEW_VERSION, same.generation
            return {n.record for n in earlier if n.generation == same.generation}
        # Said once its outputs are written, from where they went (`written`): said here, it was
        # said of a file that then failed (on_name_clash: fail), and "~2" of outputs that took the
        # plain names the earlier ones had left
        self.naming, self.generation = Naming.DIFFERENT, self.index.next_generation(folder.name, rel)
        return set()

    def written(self, taken: list[Taken], folder: Folder) -> tuple[str, ...]:
        """The outputs are written where `taken` says: a new version says so now, truly (each
        output replaced, or kept and written beside: workers/provenance.said); any file whose
        outputs went beside ones no record names says that. The outputs kept so."""
        reason, fields = provenance.said(taken, folder, self.naming, self.renumbered_since)
        if self.naming in (Naming.NEW_VERSION, Naming.DIFFERENT):
            self.logger.info("name_reused", outcome=str(self.naming), generation=self.generation, reason=reason,
                             **fields)
        elif reason and provenance.worth_a_line(taken):
            self.logger.info("outputs_kept", reason=reason, **fields)
        return tuple(fields.get("kept", ()))

    def renumbered(self, generation: int) -> None:
        """The outputs were written as a later generation than the index gave (spool/owners
        reserve_new: the names its generation owns are an earlier photo's, which the index no
        longer knows): recorded as that one, as a different photo (`written` says so)."""
        self.naming, self.generation, self.renumbered_since = Naming.DIFFERENT, generation, True

    def _lookalike(self, look: Look, exclude: frozenset[int]) -> tuple[Match | None, frozenset[str] | None]:
        """The closest earlier look-alike, and the renditions the look-alikes got between them
        (None: one of them is of a row that does not say: taken as all)."""
        folder = self.job.folder
        first: Match | None = None
        got: set[str] | None = set()
        for record, bits, other in self.index.lookalikes(look, folder.similar_distance, folder=folder.name,
                                                         scope_all=folder.duplicate_scope == "all",
                                                         since=self._since, exclude=exclude, subdir=self.subdir):
            if alike(look, other, folder.similar_distance):  # the second look: shape and colour
                found = self.index.match(record, Kind.SIMILAR, bits)
                if found is None:
                    continue
                first = first or found
                if folder.similar != Similar.SKIP:
                    break
                if found.renditions is None or got is None:
                    got = None
                else:
                    got.update(found.renditions)
        return first, (None if got is None else frozenset(got))

    # ------------------------------------------------------------------ the end
    def recorded(self, outputs: tuple[str, ...], hashes: bytes = b"", renditions: tuple[str, ...] = (),
                 seq: int | None = None) -> int:
        """The outputs are written: the row (and the claim dropped), one transaction.
        `hashes`: the outputs' (state/originals.Entry.output_hashes); `renditions`: which made them;
        `seq`: the number they took."""
        record = self._record(RENDERED, other=self.completes or self.match, outputs=outputs, hashes=hashes,
                              renditions=renditions, seq=seq)
        self.claimed = False
        return record

    def release(self) -> None:
        if self.claimed:
            self.claimed = False
            self.index.release(self.original.content, self.key)

    def _record(self, state: int, other: Match | None, outputs: tuple[str, ...] = (), hashes: bytes = b"",
                renditions: tuple[str, ...] = (), seq: int | None = None) -> int:
        return self.index.record(Entry(
            self.original.content, self.key, state, self.job.folder.name, self.job.rel, self.original.size,
            look=self.look, generation=self.generation, other=other.record if other else None,
            bits=other.bits if other and other.kind == Kind.SIMILAR else None, outputs=outputs,
            output_hashes=hashes, renditions=renditions, seq=seq, subdir=self.subdir))


def _with_gone(match: Match, folder: Folder) -> Match:
    """`match` with the outputs of it that are no longer in the output folder (deleted since,
    or taken away by a downstream job): the copy (or look-alike) is still skipped, as the index says it was
    rendered, but the log and its record say how to have it rendered again (a review: a
    re-drop after deleting an output brought nothing back, and nothing said why).
    Another folder's (duplicate_scope: all) are not looked at: its output is not this one's."""
    if match.folder != folder.name or not match.outputs:
        return match
    gone = tuple(o for o in match.outputs if not os.path.lexists(folder.output / o))
    return replace(match, gone=gone) if gone else match


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
