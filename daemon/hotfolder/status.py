"""The status snapshot: what the daemon publishes once a second, written and read as JSON.
"""
from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class ServiceState(StrEnum):
    """Where the service is in its life (the snapshot's `state`)."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


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
    state: ServiceState = ServiceState.RUNNING
    message: str = ""
    updated: float = 0.0
    config: str = ""
    current: list[dict] = field(default_factory=list)  # [{"pid", "file", "seconds"}] per busy worker
    cluster: dict = field(default_factory=dict)  # cluster mode: the cluster-wide numbers
    in_failed: int = 0  # files in the failed/ folders now (a requeued file has left)
    # per folder name: {"processed", "failed", "waiting", "claimed", "paused" (its recipe),
    # "unmounted" (a place on a share not mounted), "comparing" (clips in the inbox compared with
    # the archived one of their name: supervisor/passed_again.py), ...}; processed and failed sum to the
    # totals above (folders a reload removed keep their counts here)
    folders: dict = field(default_factory=dict)
    claiming_paused: bool = False
    reload_failed: bool = False
    # files no rendition's `when:` took (archived, counted in `processed` too), since the
    # start; local mode (a cluster's nodes log theirs as file_unmatched)
    unmatched: int = 0
    # XMP sidecars that came after their image was rendered, without them (archived beside it, not
    # counted as files: `hotfolder rerender` of the image takes them in), since the start
    sidecars_late: int = 0
    build: str = ""  # the daemon's release and code (build.py): `0.1.0+3f2a9c1b7d4e`


def write_snapshot(path: Path, status: Status) -> None:
    """Atomically replace the snapshot (readers never see half a file). `updated` is when
    its figures were taken (Publisher.status), else now."""
    status.updated = status.updated or time.time()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status.__dict__, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


SNAPSHOT_LIMIT = 1 << 20  # bytes: a snapshot is a few KB (a folder's counts, the files in flight)


def read_snapshot(path: Path) -> dict | None:
    """The snapshot at `path`; None when there is none, or what is there is not one (JSON
    that is no object, or no regular file: a FIFO's open blocked `status` for ever; more than
    SNAPSHOT_LIMIT bytes: a sparse file of 3 GB took `status` 6 GB of memory; JSON nested past
    the parser's recursion, RecursionError: a traceback. The last two an attack round's)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            data = f.read(SNAPSHOT_LIMIT + 1)
            if len(data) > SNAPSHOT_LIMIT:
                return None
            found = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


def daemon_alive(snapshot: dict, stale_after: float = 15.0) -> bool:
    """True when the snapshot's daemon process exists and keeps it current."""
    if snapshot.get("state") == ServiceState.STOPPED:
        return False
    try:  # the file's words, which a damaged one may give as anything
        pid, updated = int(snapshot["pid"]), float(snapshot.get("updated", 0))
    except (KeyError, ValueError, TypeError, OverflowError):
        return False
    if pid <= 0:  # kill(0 or -1) asks of a process group, or of every process: never the daemon
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass  # running as another user (the service): it exists
    return time.time() - updated < stale_after
