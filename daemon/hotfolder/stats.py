"""Lock-guarded shared counters and the status snapshot file.

Workers count each file they processed or failed into `multiprocessing.Value`s, each
guarded by its own `Lock`, as in the textbook pattern; the service reads them and
writes a JSON snapshot that `hotfolder status` reads. Two additions:

- a bounded wait for the lock: a worker SIGKILLed while holding it would otherwise
  block every other worker for ever (the pool then rebuilds them);
- a per-worker mark, set under the same lock as the count (`+job` processed, `-job`
  failed): when a worker dies or is killed after counting a file but before saying
  so, the pool reads the mark and the file's next attempt is not counted again. So
  the counts are of files, not of attempts;
- one count per folder: each counter is a shared Array indexed by the folder's slot
  (the service gives every folder name a slot for the life of the process, kept across
  reloads), and its total is the sum. `hotfolder status`, the status page and /metrics
  all read these, so they cannot disagree, and nothing is counted twice.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HotfolderError

LOCK_WAIT = 2.0  # seconds; a healthy holder keeps the lock for microseconds
VERDICTS = ("processed", "failed")
MAX_FOLDERS = 256  # distinct folder names one daemon can count (slots are never reused)


class LockStuck(HotfolderError):
    """A counter's lock could not be taken: its holder probably died with it."""


class Counter:
    """One count per folder slot in a shared Array, guarded by one Lock."""

    def __init__(self, ctx, initial=()):
        self.by_slot = ctx.Array("q", MAX_FOLDERS, lock=False)
        for slot, n in enumerate(initial):
            self.by_slot[slot] = n
        self.lock = ctx.Lock()

    def add(self, n: int = 1, mark=None, mark_value: int = 0, slot: int = 0) -> None:
        """Add n; set `mark` (a shared Value) under the same lock, so both or neither happen."""
        if not self.lock.acquire(timeout=LOCK_WAIT):
            raise LockStuck("counter lock not released within %.0f s" % LOCK_WAIT)
        try:
            self.by_slot[slot] += n
            if mark is not None:
                mark.value = mark_value
        finally:
            self.lock.release()

    def slots(self) -> list[int]:
        # A torn read is impossible for an aligned 64-bit value; no lock needed to look.
        return list(self.by_slot)

    def read(self) -> int:
        return sum(self.by_slot)

    def healthy(self, timeout: float = 0.5) -> bool:
        if not self.lock.acquire(timeout=timeout):
            return False
        self.lock.release()
        return True


class Counters:
    """The processed and failed counts (files, since start, per folder) shared by all workers."""

    def __init__(self, ctx, carried: "Counters | None" = None):
        """New counters; `carried`: old ones whose values go on (a rebuild replaces locks
        a dead worker may hold, not the counts)."""
        self.processed = Counter(ctx, carried.processed.slots() if carried else ())
        self.failed = Counter(ctx, carried.failed.slots() if carried else ())

    def count(self, verdict: str, already: str = "", mark=None, mark_value: int = 0, folder=None) -> None:
        """Count one file of `folder` as `verdict`, unless an earlier attempt counted it so
        already; an earlier attempt that counted the other verdict is taken back."""
        if verdict == already:
            return
        slot = _slot(folder)
        if already:
            getattr(self, already).add(-1, slot=slot)
        getattr(self, verdict).add(1, mark, mark_value, slot=slot)

    def uncount(self, already: str, folder=None) -> None:
        """A counted file goes back to the inbox (it will be counted when it ends)."""
        if already:
            getattr(self, already).add(-1, slot=_slot(folder))

    def healthy(self) -> bool:
        return self.processed.healthy() and self.failed.healthy()

    def snapshot(self) -> tuple[int, int]:
        return self.processed.read(), self.failed.read()

    def by_slot(self) -> tuple[tuple[int, int], ...]:
        """(processed, failed) of each folder slot."""
        return tuple(zip(self.processed.slots(), self.failed.slots()))


def _slot(folder) -> int:
    return folder.slot if folder is not None else 0


class FolderSlots:
    """Which slot of the shared counts each folder name has: given at first sight and
    kept for the life of the process, so a reload that removes a folder and brings it
    back continues its counts, and a new folder never inherits another's."""

    def __init__(self):
        self._slots: dict[str, int] = {}

    def assign(self, config):
        """The config, each folder carrying its slot. ConfigError when there is no slot left."""
        import dataclasses

        from .config import ConfigError

        for i, folder in enumerate(config.folders):
            if folder.name not in self._slots:
                if len(self._slots) >= MAX_FOLDERS:
                    raise ConfigError(str(config.source), f"folders[{i}].name",
                                      f"this daemon has counted {MAX_FOLDERS} folder names since it started; "
                                      "restart it to use a new one")
                self._slots[folder.name] = len(self._slots)
        folders = tuple(dataclasses.replace(f, slot=self._slots[f.name]) for f in config.folders)
        return dataclasses.replace(config, folders=folders)

    def names(self) -> list[str]:
        """Every folder name given a slot, in slot order (including folders a reload removed)."""
        return sorted(self._slots, key=self._slots.__getitem__)


def verdict_of_mark(mark_value: int, job_id: int) -> str:
    """What a worker's mark says it counted for job `job_id` ("" if nothing)."""
    if mark_value == job_id:
        return "processed"
    if mark_value == -job_id:
        return "failed"
    return ""


@dataclass
class Status:
    pid: int
    started: float
    processed: int
    failed: int
    queued: int
    waiting: int
    in_flight: int
    workers: int
    workers_alive: int
    state: str = "running"
    message: str = ""
    updated: float = 0.0
    config: str = ""
    current: list = field(default_factory=list)  # [{"pid", "file", "seconds"}] per busy worker
    cluster: dict = field(default_factory=dict)  # cluster mode: the cluster-wide numbers
    in_failed: int = 0  # files in the failed/ folders now (a requeued file has left)
    # per folder name: {"processed", "failed", "waiting", "claimed"}; processed and failed
    # sum to the totals above (folders a reload removed keep their counts here)
    folders: dict = field(default_factory=dict)
    claiming_paused: bool = False
    reload_failed: bool = False


def write_snapshot(path: Path, status: Status) -> None:
    """Atomically replace the snapshot (readers never see half a file)."""
    status.updated = time.time()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status.__dict__, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_snapshot(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def daemon_alive(snapshot: dict, stale_after: float = 15.0) -> bool:
    """True when the snapshot's daemon process exists and keeps it current."""
    if snapshot.get("state") == "stopped":
        return False
    try:
        os.kill(int(snapshot["pid"]), 0)
    except (KeyError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # running as another user (the service): it exists
    return time.time() - float(snapshot.get("updated", 0)) < stale_after


class AlreadyRunning(HotfolderError):
    pass


def lock_folder(processing: Path) -> int:
    """One daemon per folder, whatever its config says: an flock on the processing/
    folder itself (two configs, or one whose state_dir was edited, must not claim from
    one processing/). No file is added to the folder. Returns the fd; keep it open."""
    import fcntl

    processing.mkdir(parents=True, exist_ok=True)
    fd = os.open(processing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"another hotfolder daemon is using the folder whose processing folder is "
                             f"{processing} (it holds a lock on it); stop it first, or give this folder its "
                             f"own processing folder") from None
    return fd
