"""`hotfolder process`: the same pool and pipeline over given files, left in place.

Batch mode drives the local pool directly: it submits the files as the queue has
room, applies the same attempt policy as the service (jobs.next_attempt), and
collects one Result per file. No original is moved, so there is no ledger.
"""
from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from hotfolder.backend import Finished, Lost
from hotfolder.config.model import Config, Folder
from hotfolder.jobs import Had, Job, Result, next_attempt
from hotfolder.runtime import systemd
from hotfolder.sidecars import find_sidecar
from hotfolder.spool import shares
from hotfolder.workers.pool import LocalPool

TICK = 0.05


@dataclass(frozen=True)
class Outcome:
    src: Path
    rel: str
    result: Result


def run(config: Config, files: list[tuple[Path, str]], folder: Folder,
        progress: Callable[[list[Outcome], int], None] | None = None,
        log_format: str = "console", log_level: str = "warning",
        generations: Mapping[Path, int] | None = None, outside: bool = False,
        kept_since_ns: int = 0, prove: bool = False,
        withouts: Mapping[Path, tuple[str, ...]] | None = None, seqs: Mapping[Path, int] | None = None,
        only: tuple[str, ...] = (), hads: Mapping[Path, tuple[tuple[Had, ...], bytes]] | None = None
        ) -> list[Outcome]:
    """Render `files` (each with the relative path its outputs keep); one Outcome each,
    or fewer if interrupted (SIGINT/SIGTERM: what was started finishes, nothing new).
    `generations`: which photo of its name each file is (rerender: the index said).
    `outside`: files of `hotfolder process`, each the owner of its outputs as itself (a file
    of a drop's name would replace a different photo's outputs: jobs.Job.outside).
    `kept_since_ns`: rerender's start (jobs.Job.kept_since_ns). `prove`: the folder's index of
    originals, read only, proves outputs of no owner record its own (rerender: jobs.Job.proved_by).
    `withouts`: renditions each file does not make again (rerender: jobs.Job.without); `seqs`:
    the `{seq}` number each had (rerender: jobs.Job.seq). `only`, `hads`: rerender --rendition's
    renditions asked for, and the outputs each file had and its manifest's hash (jobs.Job.only,
    had, had_manifest)."""
    systemd.scrub_environ()
    proved_by = folder.index_dir if prove else None
    folder = replace(folder, index_dir=None)  # rendered as asked: the index of originals is the daemon's
    stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    if not folder.output.is_dir():  # never made beneath a share that is not mounted (spool/shares.py)
        shares.refuse_if_gone(folder.output, folder.state_dir)
    folder.output.mkdir(parents=True, exist_ok=True)
    pool = LocalPool.for_config(config, log_format, log_level)
    outcomes: list[Outcome] = []
    todo = deque(files)
    next_id = 1
    try:
        pool.start()
        while todo or not pool.idle():
            if stop and not pool.draining:
                pool.drain()
            while todo and not stop and pool.room() > 0:
                src, rel = todo.popleft()
                side = find_sidecar(src.parent, src.name)  # read where it lies, left in place like the image
                pool.submit(Job(next_id, folder, src, rel, config.accepted_formats, config.max_image_pixels,
                                sidecar=side, generation=(generations or {}).get(src, 0), outside=outside,
                                kept_since_ns=kept_since_ns, proved_by=proved_by,
                                without=(withouts or {}).get(src, ()), seq=(seqs or {}).get(src), only=only,
                                had=(hads or {}).get(src, ((), b""))[0],
                                had_manifest=(hads or {}).get(src, ((), b""))[1]))
                next_id += 1
            for event in pool.poll(TICK):
                if isinstance(event, Finished):
                    outcomes.append(Outcome(event.job.src, event.job.rel, event.result))
                elif isinstance(event, Lost):
                    following = next_attempt(event.job, event.why, event.charged, config.max_attempts)
                    if isinstance(following, Result):
                        outcomes.append(Outcome(event.job.src, event.job.rel, following))
                    elif not pool.draining:
                        pool.submit(following)
                if progress:  # the outcomes so far, and how many files in all
                    progress(outcomes, len(files))
            if stop and pool.draining and pool.idle():  # no worker is left
                break
        if not pool.draining:
            pool.drain()
        deadline = time.monotonic() + config.drain_timeout
        while not pool.idle() and time.monotonic() < deadline:  # draining: until no worker is left
            pool.poll(TICK)
    finally:
        pool.stop_now()
    return outcomes
