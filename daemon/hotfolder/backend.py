"""What the service needs of whatever renders its jobs: the local pool, or a cluster.

    room()          how many more jobs may be submitted now
    submit(job)     render this claimed file
    poll(timeout, wake)  wait up to `timeout` (less if the watcher's Waker wakes), look
                    after the workers, and say what happened:
                      Started(job, pid)     a worker began it
                      Finished(job, result) a worker's Result: the service settles the original
                      Lost(job, why, charged)  no result: the worker died or hung (charged, an
                                            attempt of the file's own) or was stopped by us
                      Ended(folder, rel)    rendered and settled elsewhere (cluster mode)
                      Told(notices, dropped)  what the nodes said of the files they ended (cluster
                                            mode): the service raises the notices as local mode does
    reconfigure(config)  a reload: what the backend reads of the config (workers, queue_size,
                    file_timeout; the cluster's room and reconciler), applied now (reloadable.py)
    drain()         start no new job; let the running ones finish
    stop_now()      stop at once; returns the jobs that did not end
    count(verdict, already, folder) / uncount(already, folder)   the service's own verdicts, in the same counts
    snapshot()      the numbers `hotfolder status` shows
    healthy()       for the systemd watchdog
    idle()          nothing submitted is unfinished

`LocalPool` (workers/pool.py) and `ClusterBackend` (cluster/backend.py) implement it,
registered by name in BACKENDS; the service (supervisor/service.py) and batch mode
(workers/batch.py) use nothing else of them. Importing this module loads neither: a
backend's module is imported when it is opened (the pool's brings the engine, the
cluster's Celery).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol, Self, cast

from hotfolder.config.model import Config, Folder
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.jobs import Job, Result, Verdict
from hotfolder.ops.notices import Notice

MAX_FOLDERS = 256  # distinct folder names one daemon counts (slots in the shared counts; never reused)

BACKENDS = {  # name -> "module:class", imported only when opened
    "local": "hotfolder.workers.pool:LocalPool",
    "cluster": "hotfolder.cluster.backend:ClusterBackend",
}


class BootFailure(HotfolderError):
    """Workers die before they are ready: a broken install, not a bad file."""

    exit_code = ExitCode.BOOT_FAILURE


@dataclass(frozen=True)
class Started:
    job: Job
    pid: int


@dataclass(frozen=True)
class Finished:
    job: Job
    result: Result


@dataclass(frozen=True)
class Lost:
    """The job ended without a result. `charged`: the file's own doing (its worker
    died or hung), an attempt; not charged: the pool was rebuilt or is stopping."""

    job: Job
    why: str
    charged: bool


@dataclass(frozen=True)
class Ended:
    """A job rendered and settled by another machine: its original is at its end."""

    folder: str
    rel: str


@dataclass(frozen=True)
class Told:
    """What the nodes told of files they ended (cluster mode): the notices local mode raises
    itself, and per event those the cluster dropped on the way (cluster/told.py)."""

    notices: tuple[Notice, ...] = ()
    dropped: tuple[tuple[str, int], ...] = ()
    unmatched: tuple[tuple[str, str], ...] = ()  # (folder, under its archive/): originals no rendition took


Event = Started | Finished | Lost | Ended | Told


@dataclass(frozen=True)
class BackendStatus:
    processed: int
    failed: int
    queued: int  # submitted, not started
    in_flight: int  # being rendered
    workers: int  # the target
    workers_alive: int
    current: list[dict] = field(default_factory=list)  # [{"pid", "file", "seconds", "folder"}]
    cluster: dict = field(default_factory=dict)  # cluster mode only
    # Per folder, from the same counts as processed and failed: (processed, failed) by
    # folder slot (local pool), or by folder name (cluster: Redis).
    by_slot: tuple[tuple[int, int], ...] = ()
    by_folder: dict[str, tuple[int, int]] = field(default_factory=dict)
    problem: str = ""  # what the status must say of the backend (cluster: nodes of another config)
    # Cluster mode: per folder name, what the nodes found ({"exact", "similar", "new_version",
    # "different_photo"}: counts in Redis); local mode counts them in the ledger.
    duplicates: dict[str, dict[str, int]] = field(default_factory=dict)


class Wake(Protocol):
    """What ends a poll's wait early (arrival.waker.Waker: a new file in an inbox)."""

    fd: int

    def drain(self) -> None: ...


class Backend(Protocol):
    # Cluster mode keeps claimed files in processing/ across a restart: remote
    # workers may be rendering them. The local pool's claims die with it.
    claims_survive_restart: bool

    @classmethod
    def for_config(cls, config: Config, log_format: str = "json", log_level: str = "info") -> Self: ...
    def start(self) -> None: ...
    def room(self) -> int: ...
    def submit(self, job: Job) -> None: ...
    def poll(self, timeout: float, wake: Wake | None = None) -> list[Event]: ...
    def reconfigure(self, config: Config) -> None: ...
    def drain(self) -> None: ...
    def stop_now(self) -> list[Job]: ...
    def count(self, verdict: Verdict, already: Verdict | None = None, folder: Folder | None = None) -> None: ...
    def uncount(self, already: Verdict | None, folder: Folder | None = None) -> None: ...
    def snapshot(self) -> BackendStatus: ...
    def healthy(self) -> bool: ...
    def idle(self) -> bool: ...


def backend_class(name: str) -> type[Backend]:
    """The backend registered as `name` (BACKENDS), its module imported now."""
    module, _, attr = BACKENDS[name].partition(":")
    return cast("type[Backend]", getattr(importlib.import_module(module), attr))


def open_backend(config: Config, log_format: str = "json", log_level: str = "info") -> Backend:
    """The backend `config` asks for: the cluster head's with cluster.enabled, else the local pool."""
    return backend_class("cluster" if config.cluster.enabled else "local").for_config(config, log_format, log_level)
