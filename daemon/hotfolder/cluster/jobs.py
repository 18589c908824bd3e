"""Job records on the shared root, the cluster marker, and path translation.

    <shared_root>/.hotfolder-cluster           the cluster id: a worker refuses any other root
    <shared_root>/.hotfolder/jobs/<job>.json   one record per claimed file, until it ends

A record exists from just after the claim (inbox/ -> processing/) until the file
reached archive/ or failed/. So "no record" means "done" (or never sent): a second
delivery of the same job is a no-op. The attempt count lives in the record, not in
Redis, so a Redis restart does not reset it.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hotfolder.config.model import Cluster, Config, Folder
from hotfolder.errors import HotfolderError
from hotfolder.jsondata import json_object
from hotfolder.spool import atomic
from hotfolder.spool.shares import Places

MARKER = ".hotfolder-cluster"
STATE_DIR = ".hotfolder"


class SharedRootError(HotfolderError):
    """The shared root cannot be used on this node; the message says what to fix."""


def new_job_id() -> str:
    """Sortable by claim time, unique across heads and restarts."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(5)


@dataclass(frozen=True)
class Record:
    job: str
    folder: str
    rel: str  # relative to the folder's inbox (and processing/, output/, archive/)
    src: str  # the original's path relative to the shared root (under processing/)
    claimed_at: float
    attempts: int = 0  # renders started so far
    nodes: tuple[str, ...] = field(default_factory=tuple)  # who started them
    version: str = ""  # the head's config version of its folder when last sent (versions.py)
    sidecar: str = ""  # its XMP sidecar, claimed with it: relative to processing/, as `rel` ("" none)
    build: str = ""  # the head's release and code when last sent (build.py): a refusal names both builds

    def started(self, node: str) -> Record:
        return replace(self, attempts=self.attempts + 1, nodes=self.nodes + (node,))


_TEXT = ("job", "folder", "rel", "src", "version", "sidecar", "build")
MAX_ATTEMPTS_READ = 10_000  # far past any max_attempts: a count no node wrote


def record_of(data: object) -> Record | None:
    """A record from its JSON, or None when it is not one (read as no record: its file, if
    any is left in processing/, is adopted at the head's next start). A record is data
    anyone with the share can write: a field of a newer version is ignored, and a value of
    the wrong type must not be a TypeError in the head's loop (21 in 20 s stopped it, and
    it could not start again) or in every delivery of the job (an attack round's finding)."""
    if not isinstance(data, dict):
        return None
    values = {key: data[key] for key in (*_TEXT, "claimed_at", "attempts", "nodes") if key in data}
    nodes, attempts, claimed = values.get("nodes", []), values.get("attempts", 0), values.get("claimed_at", "")
    if (not all(isinstance(values.get(key, ""), str) for key in _TEXT)
            or not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes)
            or type(attempts) is not int or not 0 <= attempts <= MAX_ATTEMPTS_READ
            # 10**400, inf, nan: an OverflowError in the head's every turn (NaN fails the comparison)
            or type(claimed) not in (int, float) or not -2.0**53 < claimed < 2.0**53):
        return None
    try:
        return Record(**{**values, "nodes": tuple(nodes)})
    except TypeError:  # a required field missing
        return None


def is_job_id(job: object) -> bool:
    """A name a job record may have: a text that is one name of the jobs' folder, not hidden."""
    return isinstance(job, str) and bool(job) and "/" not in job and "\0" not in job and not job.startswith(".")


class Records:
    """The job records under one shared root (as this node sees it)."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / STATE_DIR / "jobs"

    def path(self, job: str) -> Path:
        if not is_job_id(job):
            raise ValueError(f"not a job id: {job!r}")
        return self.dir / f"{job}.json"

    def write(self, record: Record) -> None:
        data = json.dumps({**asdict(record), "nodes": list(record.nodes)}, indent=1) + "\n"
        atomic.write_atomic(self.path(record.job), data.encode())

    def read(self, job: str) -> Record | None:
        try:
            text = self.path(job).read_bytes()
        except FileNotFoundError:
            return None
        # Not one (anyone with the share can write one; a torn record cannot happen: atomic writes): gone
        return record_of(json_object(text))

    def remove(self, job: str) -> None:
        try:
            os.unlink(self.path(job))
        except FileNotFoundError:
            return
        atomic.fsync_dir(self.dir)

    def all(self) -> list[Record]:
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                record = self.read(name[:-5])
                if record is not None:
                    out.append(record)
        return out


# --- the shared root ----------------------------------------------------------

def mark(root: Path, cluster_id: str, state_dir: Path | None = None) -> None:
    """The head: claim the shared root for this cluster, or refuse a foreign one. With
    `state_dir` (the head's records of file systems, spool/shares.py), a shared root on a
    share that is not mounted is refused, never made on the disk beneath: every folder of a
    cluster lies in it, so the head has nothing to serve without it."""
    places = Places(state_dir)
    gone = places.judge(root, "", "cluster.shared_root")
    if gone is not None:
        raise SharedRootError(f"{gone.reason()}. Is {gone.was.mount or root} mounted? Mount it and start the head "
                              f"again (RequiresMountsFor= in its unit makes systemd wait for it)")
    found = read_marker(root)
    if found is None:
        (root / STATE_DIR / "jobs").mkdir(parents=True, exist_ok=True)
        atomic.write_atomic(root / MARKER, (cluster_id + "\n").encode())
    elif found != cluster_id:
        raise SharedRootError(f"{root} belongs to cluster {found!r}, not {cluster_id!r} "
                              f"(cluster.cluster_id); use another shared_root or fix the id")
    (root / STATE_DIR / "jobs").mkdir(parents=True, exist_ok=True)
    places.judge(root, "", "cluster.shared_root")  # recorded: where it is


def read_marker(root: Path) -> str | None:
    try:
        return (root / MARKER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def check_root(root: Path, cluster_id: str) -> None:
    """A worker: the shared root must be there, ours, and writable — before any task."""
    if not root.is_dir():
        raise SharedRootError(f"the shared root {root} does not exist or is not a folder "
                              f"(is the share mounted? is cluster.path_map right for this machine?)")
    found = read_marker(root)
    if found is None:
        raise SharedRootError(f"{root} has no {MARKER} file: it is not the shared root of a hotfolder "
                              f"cluster (start the head once, or fix cluster.shared_root / cluster.path_map)")
    if found != cluster_id:
        raise SharedRootError(f"{root} belongs to cluster {found!r}, not {cluster_id!r}: "
                              f"this machine mounts another cluster's share, or cluster.cluster_id is wrong")
    probe = root / STATE_DIR / f".probe-{os.uname().nodename}-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise SharedRootError(f"cannot write to the shared root {root}: {exc.strerror or exc} "
                              f"(mount it read-write for this user)") from None


# --- path_map -----------------------------------------------------------------

def translate(path: Path, cluster: Cluster) -> Path:
    """A path as the head names it -> the same path on this node."""
    for head, node in cluster.path_map:
        if path == head or path.is_relative_to(head):
            return node / path.relative_to(head)
    return path


def local_folders(config: Config) -> dict[str, Folder]:
    """The configured folders with their paths as this node sees them, resolved as the
    head's config resolves its own (a linked mount point is this machine's layout; the
    folders themselves are then reached without links: see nofollow)."""
    c = config.cluster

    def here(path: Path) -> Path:
        return Path(os.path.realpath(translate(path, c)))

    def here_or_none(path: Path | None) -> Path | None:
        return here(path) if path is not None else None

    # Every place a node writes: duplicates/ and the name markers as well (a node with a
    # path_map moved skipped duplicates onto its own disk, off the share: an attack round).
    out = {}
    for f in config.folders:
        out[f.name] = replace(f, inbox=here(f.inbox), output=here(f.output), failed=here(f.failed),
                              processing=here(f.processing), archive=here_or_none(f.archive),
                              duplicates=here_or_none(f.duplicates), names_dir=here_or_none(f.names_dir))
    return out


def local_root(config: Config) -> Path:
    root = config.cluster.shared_root
    assert root is not None, "cluster.enabled requires shared_root (config/load.py)"
    return translate(root, config.cluster)
