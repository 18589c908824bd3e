"""What is said when a file's outputs are written and its original archived: the log line
(`file_done`, or `file_unmatched` when no rendition's `when:` took it), what the index of
originals found (issue 23, 26.2), and the `done` notice.
"""
from __future__ import annotations

from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.jobs import Job, Result
from hotfolder.likeness import Naming
from hotfolder.ops.notices import Hook, Notice, NoticeKind
from hotfolder.spool import fsnames

NAMING = {Naming.NEW_VERSION: "a new version of the earlier photo of this name: its outputs were replaced",
          Naming.DIFFERENT: "a different photo under a name used before: the earlier outputs were kept, this "
                            "one's are numbered"}


def done_note(naming: Naming, said: str, kept: tuple[str, ...] = (), unmatched: str = "") -> str:
    """A `done` notice's reason: how its name was taken, and what the index found it to be
    (cluster/told.py says the same of a node's file). `kept`: outputs it was written beside;
    `unmatched`: why no rendition took it, so the page, /api/status and a webhook tell such a
    file from one whose outputs were written (its `outputs` alone, empty, said nothing)."""
    if unmatched:
        return f"no rendition applies, nothing written ({unmatched})"
    how = NAMING.get(naming, "")
    if kept:  # "its outputs were replaced" was said of outputs written beside (an admin's report)
        beside = (f"{fsnames.display(', '.join(kept))} kept (no record says which original wrote "
                  f"{'it' if len(kept) == 1 else 'them'}, or another's): this file's written beside")
        how = (f"a new version of the earlier photo of this name, but {beside}" if naming == Naming.NEW_VERSION
               else "; ".join(filter(None, (how, beside))))
    return "; ".join(filter(None, (how, said)))


def done(logger, folder: Folder, job: Job, result: Result, where: Path | None, on_notice: Hook,
         unmatched: dict[str, int]) -> None:
    """Say it; `unmatched` counts, per folder, the files no rendition took."""
    if result.unmatched:  # no rendition's `when:` held: archived, counted, not a failure
        unmatched[folder.name] = unmatched.get(folder.name, 0) + 1
        logger.info("file_unmatched", reason=result.unmatched, duration_ms=result.duration_ms,
                    archived=str(where) if where else None, worker_pid=result.pid, outcome="unmatched")
    else:
        logger.info("file_done", renditions=list(result.renditions or (r.name for r in folder.renditions)),
                    outputs=list(result.outputs), duration_ms=result.duration_ms,
                    archived=str(where) if where else None, worker_pid=result.pid, outcome="ok",
                    **found(result))
    note = done_note(result.naming, result.match.said() if result.match else "", result.kept, result.unmatched)
    on_notice(Notice(NoticeKind.DONE, folder.name, fsnames.display(job.rel), note, outputs=result.outputs,
                     duration_ms=result.duration_ms, attempts=job.attempt, manifest=result.manifest))


def found(result: Result) -> dict:
    """What the index of originals found, for the file_done line."""
    out: dict = {}
    if result.naming:
        out["naming"] = str(result.naming)
    if result.kept:
        out["kept"] = [fsnames.display(k) for k in result.kept]
    if result.match is not None:
        out.update(matched=fsnames.display(f"{result.match.folder}/{result.match.name}"),
                   kind=str(result.match.kind), bits=result.match.bits)
    return out
