"""What travels between the supervisor and the workers: Job, Result, the verdict a file is
counted under, and the attempt policy (standard library only: importing it loads no decoder).
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.errors import HotfolderError
from hotfolder.likeness import Match, Naming


class Verdict(StrEnum):
    """What a file that reached its end is counted as (the shared counters, the status)."""

    PROCESSED = "processed"
    FAILED = "failed"


@dataclass(frozen=True)
class Had:
    """An output an archived original had (the index of originals says), which `rerender
    --rendition` leaves as it is: its rendition ("" not known), its path under the output
    folder, the content hash it was written with (b"" not known)."""

    rendition: str
    output: str
    digest: bytes = b""


@dataclass(frozen=True)
class Job:
    id: int
    folder: Folder  # carried by each job, so a reloaded config applies to new jobs only
    src: Path  # the file to read (under processing/, or anywhere for `hotfolder process`)
    rel: str  # its path relative to the inbox: the output keeps its subfolders
    accepted_formats: tuple[str, ...]
    max_image_pixels: int
    attempt: int = 1
    counted: Verdict | None = None  # an earlier attempt of this file was counted so
    threads: int = 1  # libvips threads for this file: more only when it has the machine to itself
    sidecar: str | None = None  # its XMP sidecar, claimed with it: relative to the inbox, as `rel`
    generation: int = 0  # which photo of its name it is (spool/owners.py), where no index decides: rerender
    reindex: bool = False  # not an original to render: an archived one to put in the index (workers/reindex.py)
    outside: bool = False  # a file of `hotfolder process`: it owns its outputs as itself, not as a drop of `rel`
    kept_since_ns: int = 0  # rerender: an output written after this (its start) is a newer drop's, kept
    # rerender: the state_dir whose index of originals (read only) proves outputs of no owner
    # record this original's own, as a new version's are in the daemon (workers/provenance.py)
    proved_by: Path | None = None
    # rerender: renditions not made again, which the earlier photo it is a look-alike of made
    # (similar: skip rendered it for the others only: workers/duplicates.judge)
    without: tuple[str, ...] = ()
    seq: int | None = None  # rerender: the `{seq}` number it had (the index says), given again
    # rerender --rendition: the renditions asked for (the others are in `without`), and the
    # outputs the original had that are left as they are, listed with the new in its manifest
    only: tuple[str, ...] = ()
    had: tuple[Had, ...] = ()
    had_manifest: bytes = b""  # the content hash of the manifest written with them (b"" not known)

    def __reduce__(self):
        """Pickled with its folder as that folder's pickle, made once per Folder object and
        unpickled once per distinct pickle by each receiving process (_folder_bytes,
        _folder_of): the folder is ~2 KB of a job's ~2.3 KB, and unpickling it took ~60 µs
        of a worker's ~3 ms a small file (and pickling it ~30 µs of the supervisor's)."""
        rest = tuple(getattr(self, f.name) for f in _JOB_FIELDS)
        return _job, (_folder_bytes(self.folder), rest)


_CACHED = 64  # folders a process keeps (a reload makes new ones; more than this is a leak's sign, cleared)
# id(folder) -> (the folder, kept alive so that its id is not reused; its pickle)
_sent: dict[int, tuple[Folder, bytes]] = {}
_received: dict[bytes, Folder] = {}  # a folder's pickle -> the folder unpickled from it


def _folder_bytes(folder: Folder) -> bytes:
    hit = _sent.get(id(folder))
    if hit is not None and hit[0] is folder:
        return hit[1]
    data = pickle.dumps(folder, protocol=pickle.HIGHEST_PROTOCOL)
    if len(_sent) >= _CACHED:
        _sent.clear()
    _sent[id(folder)] = (folder, data)
    return data


def _folder_of(data: bytes) -> Folder:
    """The folder pickled as `data`: equal bytes are an equal (frozen) folder, so one
    object serves every job that carries them."""
    folder = _received.get(data)
    if folder is None:
        if len(_received) >= _CACHED:
            _received.clear()
        folder = _received[data] = pickle.loads(data)
    return folder


def _job(folder: bytes, rest: tuple) -> Job:
    job = object.__new__(Job)
    object.__setattr__(job, "folder", _folder_of(folder))
    for f, value in zip(_JOB_FIELDS, rest, strict=True):
        object.__setattr__(job, f.name, value)
    return job


_JOB_FIELDS = tuple(f for f in fields(Job) if f.name != "folder")  # in order
# A Job.reindex's Result.step when its archived file is no original (a README.txt, a link put
# there by hand: workers/reindex.not_an_original): said apart from one it cannot read
PASSED_OVER = "reindex_passed_over"


@dataclass(frozen=True)
class Result:
    job_id: int
    ok: bool
    outputs: tuple[str, ...] = ()
    renditions: tuple[str, ...] = ()  # the renditions written (those `when:` chose), in the outputs' order
    error: str = ""
    step: str = ""
    retry_later: bool = False  # a resource problem (disk full), not the file's fault
    held_in: str = ""  # with retry_later: the output subfolder (relative) it may not write; "": the folder itself
    transient: bool = False  # may pass (out of memory, a share's I/O error): retried as an attempt
    recipe: bool = False  # the folder's recipe cannot be used (watermark, profile): the file waits
    cut_short: bool = False  # failed as truncated: its writer may go on (the ledger may give it back to grow)
    unmatched: str = ""  # no rendition's `when:` holds (why, for the log): archived, nothing written
    # rerender --rendition: none asked for applies, though others do (with `unmatched`): its outputs
    # are left whole, counted in the asked renditions' "not for N", not as an original that made nothing
    not_asked: bool = False
    explained: tuple[str, ...] = ()  # what `hotfolder explain` says of it: kept in a failure's record
    duration_ms: float = 0.0
    pid: int = field(default_factory=os.getpid)
    manifest: str = ""  # the manifest written with the outputs (its JSON), for the `done` event; "": none
    # What the index of originals found (issue 23; workers/duplicates.py):
    match: Match | None = None  # an earlier original it repeats or resembles
    skipped: bool = False  # not rendered (a duplicate): the original goes to the duplicates folder
    busy: bool = False  # the same bytes are being rendered from another file: it comes again, not an attempt
    naming: Naming = Naming.FIRST  # a drop under a used name: a new version, or a different photo (26.2)
    # Outputs (relative to the output folder) kept as they were, not replaced: their names'
    # owners are another original or unknown, and this file's were written beside them
    kept: tuple[str, ...] = ()
    # The outputs' content hashes, then the manifest's (state/originals.Entry.output_hashes):
    # `rerender` notes them with the outputs it wrote, so that they stay provable its own
    output_hashes: bytes = b""
    # The `{seq}` number its outputs took (None: none): `rerender` notes it, so that its next run
    # gives the same again (one it numbered anew made one more set of outputs each run)
    seq: int | None = None
    # What the worker said of the names its outputs took (workers/provenance.said; "" nothing):
    # said again by `process` and `rerender`, whose workers log nothing (their lines would cut the bar)
    names_said: str = ""
    # Each output's rendition_note, (rendition, note): said again by `process` and `rerender`,
    # as names_said is (a `quality_target` not reached, a profile not read, ...)
    notes: tuple[tuple[str, str], ...] = ()
    record: int = 0  # its row in the index (where the original went is noted there)
    # rerender --rendition, where the index did not say what the original had (a rebuilt index,
    # a cluster's): the outputs the manifest before listed (workers/untouched.listed_before),
    # which its row then lists with the new ones, as its manifest does
    listed_before: tuple[Had, ...] = ()
    indexed: bool = False  # the result of a Job.reindex: no original's end, never counted

    @property
    def final(self) -> bool:
        """The file ends with this result (and is counted); otherwise it comes back."""
        return not (self.retry_later or self.transient or self.recipe or self.busy)

    @property
    def counted(self) -> bool:
        """Counted as processed or failed when final: a skipped duplicate is counted apart."""
        return self.final and not (self.skipped or self.indexed)

    @property
    def verdict(self) -> Verdict:
        """What the file is counted as when this result is final."""
        return Verdict.PROCESSED if self.ok else Verdict.FAILED


class Superseded(HotfolderError):
    """This attempt is no longer its job's (cluster mode: another node took the job over while
    this one was paused): it must not write outputs or move the original."""


def temp_tag(job: Job) -> str:
    """Marks a job's temp outputs, so those of a killed worker can be found and removed."""
    return f"{job.id}-"


def next_attempt(job: Job, why: str, charged: bool, max_attempts: int) -> Job | Result:
    """What follows a job that ended without a result: the same job again (we stopped
    it: no attempt counted), its next attempt, or the verdict that it failed. The one
    attempt policy of the service (the ledger) and of batch mode."""
    if not charged:
        return job
    if job.attempt >= max_attempts:
        return Result(job.id, False, error=f"{why} on attempt {job.attempt}", step="worker")
    return replace(job, attempt=job.attempt + 1)
