"""Job records on the shared root, the cluster marker, and path translation.

    <shared_root>/.hotfolder-cluster           the cluster id: a worker refuses any other root
    <shared_root>/.hotfolder/jobs/<job>.json   one record per claimed file, until it ends

A record exists from just after the claim (inbox/ -> processing/) until the file
reached archive/ or failed/. So "no record" means "done" (or never sent): a second
delivery of the same job is a no-op. The attempt count lives in the record, not in
Redis, so a Redis restart does not reset it.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import shlex
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hotfolder.config.model import Cluster, Config, Folder
from hotfolder.errors import HotfolderError
from hotfolder.jsondata import json_object
from hotfolder.spool import atomic, nofollow
from hotfolder.spool.nofollow import Opened
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


MAX_RECORD = 1 << 20  # bytes: a record is ~400; a larger file there is not one


class Records:
    """The job records under one shared root (as this node sees it).

    `.hotfolder/jobs` is reached from the root without following a link (nofollow): anyone
    with the share can put one there, and the head wrote its records wherever it pointed
    (a review by attack, 2026-12-07). The root's own path is the admin's (a linked mount
    point is this machine's layout). A link there is refused (nofollow.FolderSwapped), each
    record written, read and removed in the folder opened so."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / STATE_DIR / "jobs"

    def path(self, job: str) -> Path:
        if not is_job_id(job):
            raise ValueError(f"not a job id: {job!r}")
        return self.dir / f"{job}.json"

    @contextmanager
    def opened(self, make: bool = False) -> Iterator[int]:
        """The jobs folder open (made with `make`), its two parts never through a link."""
        if make:
            self.root.mkdir(parents=True, exist_ok=True)  # the admin's path, links and all (a mount point)
        root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            state = nofollow.open_child(root, STATE_DIR, os.O_RDONLY, make, self.root, self.dir)
            try:
                fd = nofollow.open_child(state, "jobs", os.O_RDONLY, make, self.root / STATE_DIR, self.dir)
            finally:
                os.close(state)
        finally:
            os.close(root)
        try:
            yield fd
        finally:
            os.close(fd)

    def write(self, record: Record) -> None:
        data = json.dumps({**asdict(record), "nodes": list(record.nodes)}, indent=1) + "\n"
        name = self.path(record.job).name
        with self.opened(make=True) as fd:
            atomic.write_atomic_at(Opened(self.dir, fd), name, data.encode())
            os.fsync(fd)

    def read(self, job: str) -> Record | None:
        path = self.path(job)
        try:
            with self.opened() as fd:
                return _record_at(fd, path)
        except FileNotFoundError:
            return None

    def remove(self, job: str) -> None:
        name = self.path(job).name
        try:
            with self.opened() as fd:
                if nofollow.exists_at(fd, name):
                    nofollow.unlink_at(fd, name)
                    os.fsync(fd)
        except FileNotFoundError:
            return

    def all(self) -> list[Record]:
        """Every record, read in the jobs folder opened once."""
        out = []
        try:
            with self.opened() as fd:
                for name in sorted(os.listdir(fd)):
                    if not (name.endswith(".json") and not name.startswith(".") and is_job_id(name[:-5])):
                        continue
                    try:
                        record = _record_at(fd, self.dir / name)
                    except FileNotFoundError:  # ended meanwhile
                        continue
                    if record is not None:
                        out.append(record)
        except FileNotFoundError:
            return []
        return out


def _record_at(folder: int, path: Path) -> Record | None:
    """The record `path` in the open jobs folder, or None when it is not one (anyone with the
    share can write one; a torn record cannot happen: atomic writes)."""
    text = _record_bytes(folder, path)
    return record_of(json_object(text)) if text is not None else None


def _record_bytes(folder: int, path: Path) -> bytes | None:
    """The bytes of the record `path` in the open jobs folder; None for what is not one (a link
    under its name, never followed; a FIFO, never waited on; a file past MAX_RECORD). A folder
    there raises, as a share's read error does (the fence's "not known to be another's")."""
    try:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RECORD:
            return None
        chunks, size = [], 0
        while size <= MAX_RECORD and (chunk := os.read(fd, MAX_RECORD + 1 - size)):  # a share may read short
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if size <= MAX_RECORD else None
    finally:
        os.close(fd)


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
        _jobs_folder(root)
        atomic.write_atomic(root / MARKER, (cluster_id + "\n").encode())
    elif found != cluster_id:
        raise SharedRootError(f"{root} belongs to cluster {found!r}, not {cluster_id!r} "
                              f"(cluster.cluster_id); use another shared_root or fix the id")
    _jobs_folder(root)
    places.judge(root, "", "cluster.shared_root")  # recorded: where it is


def _jobs_folder(root: Path) -> None:
    """The jobs folder made if missing; a link on its way refused with what to do."""
    try:
        with Records(root).opened(make=True):
            pass
    except nofollow.FolderSwapped as exc:
        raise SharedRootError(f"{exc.link} is a symbolic link: the cluster's job records are never written "
                              f"through one. Remove it (rm {shlex.quote(str(exc.link))}); the head makes the "
                              f"folder again") from None


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
    probe = f".probe-{os.uname().nodename}-{os.getpid()}"
    try:
        _jobs_folder(root)
        with Records(root).opened() as fd:
            atomic.write_atomic_at(Opened(root / STATE_DIR / "jobs", fd), probe, b"ok")
            nofollow.unlink_at(fd, probe)
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
