"""The supervisor's side of the same photo seen again (issue 23, and 26.2): where a skipped
duplicate goes, what is counted and said, and where the index learns an original went.

The worker decided (workers/duplicates.py) and its Result says what it found; the ledger
calls `Sameness` as it settles the file:

    skipped(...)   a duplicate (or a look-alike under `similar: skip`): the original to the
                   folder's duplicates folder with NAME.duplicate.json, counted, the
                   `duplicate` or `similar` event
    settled(...)   a rendered or refused file: a flagged look-alike or a duplicate rendered
                   again (on_duplicate: process) or failed (fail) is counted and said; a
                   name used before says which it was (a new version, a different photo)

The counts are the main process's own (the ledger settles each file once), per folder:
the status, /metrics (`hotfolder_duplicates_total{folder,kind}`) and the page read them.
"""
from __future__ import annotations

import dataclasses
import os
import shlex
import stat
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from hotfolder import sidecars
from hotfolder.config import locate
from hotfolder.config.model import Config, Folder
from hotfolder.jobs import PASSED_OVER, Job, Result
from hotfolder.likeness import Kind, Match, Naming
from hotfolder.ops.notices import SKIPPED, Hook, Notice, NoticeKind
from hotfolder.spool import fsnames, moves, nofollow, xmp_sidecars
from hotfolder.spool.folders import archived_files
from hotfolder.state import db, originals

FORGET_EVERY = 3600.0  # seconds between two looks for rows older than a folder's duplicate_window
KINDS = {Kind.EXACT: NoticeKind.DUPLICATE, Kind.SIMILAR: NoticeKind.SIMILAR}


def counted(theirs: dict[str, dict[str, int]], ours: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The counts per folder and kind, added: the backend's (a cluster's nodes', from Redis;
    none in local mode) and the main process's own (local mode's photos, and in both modes
    the clips passed through again: passed_again.py). A cluster head's one clip replaced its
    folder's counts of the nodes' photos when the two were merged as dicts."""
    out = {name: dict(tally) for name, tally in theirs.items()}
    for name, tally in ours.items():
        mine = out.setdefault(name, {})
        for kind, n in tally.items():
            mine[kind] = mine.get(kind, 0) + n
    return out


def skipped_notice(folder: str, shown: str, kind: Kind, said: str, outputs: tuple[str, ...]) -> Notice:
    """The notice of a copy skipped as a duplicate or look-alike of `said` (both modes: a
    cluster's head makes it of a node's verdict, cluster/told.py)."""
    return Notice(KINDS[kind], folder, shown, f"skipped: {said}", SKIPPED, outputs=outputs)


def found_notice(folder: str, shown: str, kind: Kind, said: str, ok: bool, outputs: tuple[str, ...]) -> Notice:
    """The notice of a copy rendered again or failed (on_duplicate: process or fail) as what it repeats."""
    return Notice(KINDS[kind], folder, shown, ("rendered, " if ok else "failed: ") + said, "duplicate",
                  outputs=outputs)


def _news_for(folder: Folder, job: Job, claimed: moves.Claimed, match: Match) -> tuple[Path, str, bool] | None:
    """(the archived original, the name its sidecar takes beside it, whether it says no date
    while the original lies with a sidecar) when the skipped copy `claimed` of its bytes came
    with a sidecar, readable as XMP, that is not the one it lies with in this folder's
    archive/; None otherwise (the same sidecar: a card copied twice; or one saved before it,
    xmp_sidecars.not_older: an old export dropped again)."""
    new = claimed.sidecar_path
    if (new is None or match.kind != Kind.EXACT or match.folder != folder.name or folder.archive is None
            or fsnames.relative_name(match.archived) is None):  # a name inside archive/, as data
        return None
    original = folder.archive / match.archived
    try:
        if not stat.S_ISREG(nofollow.lstat(original).st_mode) or not _looks_same(original, claimed.path):
            return None  # the index's name is not proof: another photo may lie under it now
        data = nofollow.read_small(new, sidecars.SIDECAR_LIMIT)
        newer = xmp_sidecars.date_of(data)  # XMP, or xmp.Unreadable (not a tree: the main loop); scanned once
        there = sidecars.find_sidecar(original.parent, original.name)
        if there is not None:
            earlier = nofollow.read_small(original.parent / there, sidecars.SIDECAR_LIMIT)
            if earlier == data or not xmp_sidecars.not_older_than(newer, earlier):
                return None
    except (OSError, ValueError):  # xmp.Unreadable is a ValueError, as is a file past the limit
        return None
    undated = there is not None and newer is None
    name = there or sidecars.beside(new.name, PurePosixPath(job.rel).name, original.name)
    try:
        if there is None and nofollow.lexists(original.parent / name):
            return None  # another image's (a RAW+JPEG pair's IMG_1.xmp is the RAW's), never compared with it
    except OSError:
        return None
    return original, name, undated


SAMPLE = 1 << 20  # bytes read at each end of an archived original and its copy (_looks_same)


def _looks_same(archived: Path, copy: Path) -> bool:
    """Whether the file at the index's archived name still holds the copy's bytes, as far as
    their sizes and first and last SAMPLE bytes tell (the main loop reads no more of a RAW):
    the archive is the admin's to clean, and a camera's numbers come round again, so another
    photo may lie under that name now, with its own sidecar. Neither is opened through a link."""
    with nofollow.opened(archived.parent) as a_dir, nofollow.opened(copy.parent) as c_dir:
        a = nofollow.open_file_at(a_dir, archived.name, archived)
        try:
            c = nofollow.open_file_at(c_dir, copy.name, copy)
            try:
                size = os.fstat(a).st_size
                if size != os.fstat(c).st_size:
                    return False
                ends = ((size, 0),) if size <= 2 * SAMPLE else ((SAMPLE, 0), (SAMPLE, size - SAMPLE))
                return all(os.pread(a, n, at) == os.pread(c, n, at) for n, at in ends)
            finally:
                os.close(c)
        finally:
            os.close(a)


def own_name_of(log, folder: Folder, rel: str, match: Match, own: dict[str, str]) -> Callable[[Path], dict]:
    """moves.duplicate's `said` for the copy `rel` skipped as a repeat of `match`: its record's
    `own_name` (likeness.Match.own_name_said: how a copy under a name of its own gets rendered as
    that too), also left in `own` for the skip's line. A local daemon's and a cluster node's."""
    def said(copy: Path) -> dict[str, str]:
        try:
            text = match.own_name_said(rel, copy, folder.name, folder.inbox, folder.archive, folder.config_file)
        except Exception as exc:  # noqa: BLE001 - a hint, never a reason the copy is not moved
            log.warning("hint_failed", folder=folder.name, file=fsnames.display(rel),
                        reason=f"{type(exc).__name__}: {exc}")
            return own
        own.update({"own_name": text} if text else {})
        return own

    return said


class Sameness:
    def __init__(self, on_notice: Hook, log):
        self.on_notice = on_notice
        self.log = log
        # folder -> exact, similar, new_version, different_photo; passed_through: of `exact`, the clips
        # passed through again (`hotfolder duplicates` lists photos only: status says where those are)
        self.counts: dict[str, dict[str, int]] = {}
        self._index: dict[Path, originals.Originals] = {}
        self._next_forget = 0.0

    def _count(self, folder: str, what: str) -> None:
        tally = self.counts.setdefault(folder, {"exact": 0, "similar": 0, "new_version": 0, "different_photo": 0,
                                                "passed_through": 0})
        tally[what] += 1

    def skipped(self, folder: Folder, job: Job, claimed: moves.Claimed, result: Result) -> Path:
        """Move a skipped duplicate to the duplicates folder with its record; count and say it."""
        match = result.match
        assert match is not None, "a skipped file always says what it repeats"
        claimed, sidecar_note = self._sidecar_news(folder, job, claimed, match)
        own: dict[str, str] = {}  # a copy under a name of its own: how it gets rendered as that too
        where = moves.duplicate(folder, claimed.path, claimed.rel, kind=str(match.kind), matched=match.as_json(),
                                sidecar=claimed.sidecar, said=own_name_of(self.log, folder, claimed.rel, match, own))
        self._count(folder.name, str(match.kind))
        self.log.info("file_skipped", folder=folder.name, file=job.rel, kind=str(match.kind), bits=match.bits,
                      matched=fsnames.display(f"{match.folder}/{match.name}"),
                      matched_archived=fsnames.display(match.archived), duplicates=str(where), outcome="duplicate",
                      **({"hint": match.gone_said(folder.archive, where, folder.config_file)} if match.gone else {}),
                      **own, **({"sidecar": sidecar_note} if sidecar_note else {}))
        self._note(folder, result.record, where.relative_to(folder.duplicates).as_posix()
                   if folder.duplicates else None)
        self.on_notice(skipped_notice(folder.name, fsnames.display(job.rel), match.kind, match.said(),
                                      match.outputs))
        return where

    def passed_again(self, folder: Folder, path: Path, twin: Path, of: Folder | None = None) -> Path:
        """A file passed through again (a clip of a card dumped twice: supervisor/passed_again)
        whose bytes are those of `twin`, a file of its name in the archive/ of `of` (None: the
        folder's own): to the duplicates folder with its record, counted and said as a photo
        copy skipped is. The index of originals holds no clip: the record names the archived
        file (`outputs` empty), as its name too (a clip is archived under the name it came in)."""
        of = of or folder
        assert of.archive is not None, "a folder passes files through to its archive"
        rel = path.relative_to(folder.inbox).as_posix()
        archived_as = twin.relative_to(of.archive).as_posix()
        when = nofollow.lstat(twin).st_ctime  # its move into archive/ set it
        match = Match(Kind.EXACT, of.name, archived_as, archived_as, (), when)
        xmp = _same_sidecar(path, twin)
        where = moves.duplicate(folder, path, rel, kind=str(Kind.EXACT), matched=match.as_json(), sidecar=xmp)
        self._count(folder.name, str(Kind.EXACT))
        self._count(folder.name, "passed_through")
        self.log.info("file_skipped", folder=folder.name, file=fsnames.display(rel), kind=str(Kind.EXACT), bits=0,
                      matched=fsnames.display(f"{of.name}/{archived_as}"),
                      matched_archived=fsnames.display(archived_as),
                      duplicates=str(where), outcome="duplicate", passed_through=True,
                      **({"sidecar_with_it": fsnames.display(xmp)} if xmp else {}))
        self.on_notice(skipped_notice(folder.name, fsnames.display(rel), Kind.EXACT, match.said(), ()))
        return where

    def _sidecar_news(self, folder: Folder, job: Job, claimed: moves.Claimed,
                      match: Match) -> tuple[moves.Claimed, str | None]:
        """A copy of an archived original's bytes that came with a sidecar the original does not
        lie with (a keyword or rating fixed in Lightroom, the photo dropped again with its
        re-exported sidecar): the sidecar went to duplicates/ with the copy, unread, and the
        fix was lost without a word. Its bytes are the original's, so the sidecar is that
        photo's: it takes the place of the original's beside it in archive/ (the earlier kept,
        spool/xmp_sidecars.superseding), and the line says how to render the photo with it.
        One that says no date of itself, beside an original that lies with a sidecar, may be the
        stale one (the same card or export folder copied in again): it goes with the copy, and
        the line says how to make it the photo's if it is the newer. The claim (without its
        sidecar when it was moved) and what to say (None: nothing to say)."""
        original = _news_for(folder, job, claimed, match)
        if original is None:
            return claimed, None
        original_path, name, undated = original
        sidecar = claimed.sidecar_path
        assert sidecar is not None and folder.archive is not None, "_news_for found both"
        if undated:  # a card's or a folder's copied in again, or the fix: nothing tells; the drop decides
            alone = folder.inbox / original_path.parent.relative_to(folder.archive) / name
            return claimed, (f"its sidecar {fsnames.display(sidecar.name)} is not the one "
                             f"{fsnames.display(original_path.name)} was archived with, and says nothing of when it "
                             "was saved (xmp:MetadataDate): it went to duplicates/ with the copy; if it is the newer "
                             f"one, copy it alone to {fsnames.display(str(alone))}: it then takes that one's place "
                             "beside the image")
        try:
            went, earlier = xmp_sidecars.superseding(folder, sidecar, original_path.parent.relative_to(folder.archive),
                                                     name)
        except OSError as exc:  # it goes with the copy, as before
            self.log.warning("sidecar_not_moved", folder=folder.name, file=job.rel, reason=str(exc))
            return claimed, None
        if went is None:
            return dataclasses.replace(claimed, sidecar=None), None
        at = str(original_path)
        command = f"hotfolder rerender{locate.option(folder.config_file)} {shlex.quote(at)}"
        how = f"`{command}`" if fsnames.printable(at) == at else "`hotfolder rerender` of it"
        kept = f" (the earlier kept as {fsnames.display(earlier.name)}, which nothing reads)" if earlier else ""
        return dataclasses.replace(claimed, sidecar=None), (
            f"its sidecar {fsnames.display(sidecar.name)} is not the one {fsnames.display(original_path.name)} was "
            f"archived with: it takes that one's place beside it in archive/{kept}; {how} renders the photo with it")

    def settled(self, folder: Folder, job: Job, result: Result, archived: Path | None) -> None:
        """After a rendered file is archived (or a refused duplicate failed): count and say
        what the index found, and note where the original went."""
        match = result.match
        if result.ok:
            self._note(folder, result.record, archived.relative_to(folder.archive).as_posix()
                       if archived is not None and folder.archive is not None else None)
        if result.naming != Naming.FIRST:
            self._count(folder.name, str(result.naming))
        if match is None:
            return
        self._count(folder.name, str(match.kind))
        self.on_notice(found_notice(folder.name, fsnames.display(job.rel), match.kind, match.said(), result.ok,
                                    result.outputs))

    def _note(self, folder: Folder, record: int, where: str | None) -> None:
        """Where the original went, into its row (for the records naming it later). Not
        durable on purpose: losing it loses a name shown, and the main loop pays no fsync."""
        if not record or folder.index_dir is None:
            return
        try:
            self._opened(folder.index_dir).archived(record, where)
        except Exception as exc:  # noqa: BLE001 - a name for the records, never a reason to stop
            self.log.warning("index_note_failed", folder=folder.name, reason=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ upkeep
    def recover(self, config: Config) -> bool:
        """At the start, before any worker: claims a stop or crash cut short are dropped, and
        what is older than each folder's duplicate_window forgotten. True when the index must
        be rebuilt from the archives (Rebuild): it was made anew while they hold originals."""
        self._next_forget = 0.0
        rebuild = False
        for state_dir in dict.fromkeys(f.index_dir for f in config.folders if f.index_dir is not None):
            try:
                index = self._opened(state_dir)
                dropped = index.recover()
                if index.made and any(next(archived_files(f), None) for f in config.folders
                                      if f.index_dir == state_dir):
                    index.rebuild_due(True)
                rebuild = rebuild or index.rebuild_due()
            except Exception as exc:  # noqa: BLE001 - the workers meet it too, as an output problem
                self.log.error("index_unusable", reason=db.unusable(f"{type(exc).__name__}: {exc}", exc, state_dir),
                               state_dir=str(state_dir))
                continue
            if dropped:
                self.log.info("index_recovered", claims_dropped=dropped)
        self.forget_old(config, time.monotonic())
        return rebuild

    def rebuilt(self, config: Config) -> None:
        for state_dir in dict.fromkeys(f.index_dir for f in config.folders if f.index_dir is not None):
            self._opened(state_dir).rebuild_due(False)

    def forget_old(self, config: Config, now: float) -> None:
        """Once an hour: rows older than their folder's duplicate_window are deleted."""
        if now < self._next_forget:
            return
        self._next_forget = now + FORGET_EVERY
        for folder in config.folders:
            if folder.index_dir is None:
                continue
            try:
                gone = self._opened(folder.index_dir).forget_before(folder.name, time.time() - folder.duplicate_window)
            except Exception as exc:  # noqa: BLE001 - tried again in an hour
                self.log.warning("index_forget_failed", folder=folder.name, reason=f"{type(exc).__name__}: {exc}")
                continue
            if gone:
                self.log.info("index_forgot", folder=folder.name, rows=gone, window_s=folder.duplicate_window)

    def _opened(self, state_dir: Path) -> originals.Originals:
        """The main process's connection: synchronous NORMAL, since what it writes (where an
        original went, claims dropped, old rows forgotten) is safe to lose in a power cut."""
        index = self._index.get(state_dir)
        if index is None:
            index = self._index[state_dir] = originals.Originals(state_dir)
            index.conn.execute("PRAGMA synchronous=NORMAL")
        return index


class Rebuild:
    """The daemon's own rebuild of an index made anew while the archives hold originals (a
    deleted database, or the first start of this version): each archived original a job for
    the pool (workers/reindex.py), fed only into room the inboxes left, at most half the
    workers at a time, so files dropped meanwhile go first. Until it ends, a copy of an
    original not indexed yet is rendered again (the warning says so)."""

    def __init__(self, config: Config, new_id, log):
        self.config, self.new_id, self.log = config, new_id, log
        self._files = ((f, p) for f in config.folders if f.index_dir is not None for p in archived_files(f))
        self._next = next(self._files, None)  # looked at ahead: the end is known when the last job ends
        self.in_flight = self.indexed = self.known = self.failed = self.passed_over = 0
        self._paths: dict[int, tuple[str, str]] = {}  # job -> (folder, path in archive/) for a failure's line

    @property
    def ended(self) -> bool:
        return self._next is None

    def feed(self, backend, room: int) -> int:
        """Submit up to `room` jobs (within the limit); how many."""
        sent = 0
        limit = max(1, self.config.workers // 2)
        while self._next is not None and room > sent and self.in_flight < limit:
            folder, path = self._next
            job_id = self.new_id()
            if folder.archive is not None:
                self._paths[job_id] = (folder.name, fsnames.display(path.relative_to(folder.archive).as_posix()))
            backend.submit(Job(job_id, folder, path, path.name, self.config.accepted_formats,
                               self.config.max_image_pixels, reindex=True))
            self._next = next(self._files, None)
            self.in_flight += 1
            sent += 1
        return sent

    def finished(self, result: Result | None) -> bool:
        """A job's result (None: lost); True when the rebuild is over."""
        self.in_flight -= 1
        folder, rel = self._paths.pop(result.job_id, (None, None)) if result is not None else (None, None)
        if result is not None and result.step == PASSED_OVER:  # a README.txt, a link put there by hand
            self.passed_over += 1
            self.log.info("index_rebuild_passed_over", reason=result.error, folder=folder, file=rel)
        elif result is None or not result.ok:
            if result is not None and result.error:
                self.failed += 1
                self.log.warning("index_rebuild_skipped", reason=result.error, folder=folder, file=rel)
            else:
                self.known += 1
        else:
            self.indexed += 1
        return self.ended and self.in_flight == 0


def _same_sidecar(path: Path, twin: Path) -> str | None:
    """The name of the XMP sidecar beside `path` (a clip passed through again, in the inbox)
    that holds the very bytes of the one beside `twin` (the archived clip it repeats): the
    same card dumped again, a video's XMP with it. It goes to duplicates/ with the clip: it
    was archived a second time (`MVI_0009_1.xmp`), or alone in a new folder of archive/ with
    "no image of it arrived". One that differs, or is no regular file, stays in the inbox, to
    be archived beside the first as before (nothing read it; nothing is lost)."""
    name = sidecars.find_sidecar(path.parent, path.name)
    old = sidecars.find_sidecar(twin.parent, twin.name)
    if name is None or old is None:
        return None
    return name if xmp_sidecars.same(path.parent / name, twin.parent / old) else None
