"""`hotfolder worker`: check this machine can serve the cluster, then run Celery's worker.

The checks run before anything is consumed, and each failure says what to fix
(Tdarr's mapped nodes taught this: a node with a wrong path mapping or a lost
mount must not take jobs and fail them all):

- the config has cluster.enabled;
- the shared root (after path_map) exists, holds .hotfolder-cluster with our
  cluster_id, and is writable;
- every folder's processing/ and output/ is there under it.

Then Celery's prefork worker: one process per core by default, `--concurrency`
to change it. It consumes only the queues of its own folders' config versions, and
registers those versions in Redis while it runs (versions.py), so a node with a stale
copy of the config takes none of the jobs it would render differently.

SIGTERM is Celery's warm shutdown (the running render finishes,
unacked messages go back to Redis). Under systemd (Type=notify) READY=1 is sent
once the worker consumes, and WATCHDOG=1 only while the worker answers a ping
through the broker, so one that silently stopped consuming (celery #8030) is
restarted.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

from hotfolder import build
from hotfolder.cluster import jobs, versions
from hotfolder.config.model import Config
from hotfolder.engine import pipeline
from hotfolder.errors import HotfolderError
from hotfolder.runtime import log, systemd

REGISTRATION_TTL = versions.REGISTRATION_TTL


class NodeError(HotfolderError):
    """This machine cannot serve the cluster; the message says what to change."""


def check(config: Config) -> None:
    c = config.cluster
    if not c.enabled:
        raise NodeError(f"{config.source}: cluster.enabled is not true; `hotfolder worker` only serves a "
                        f"cluster (for one machine, use `hotfolder run`)")
    root = jobs.local_root(config)
    try:
        jobs.check_root(root, c.cluster_id)
    except jobs.SharedRootError as exc:
        raise NodeError(str(exc)) from None
    for folder in jobs.local_folders(config).values():
        for what in ("processing", "output"):
            d = getattr(folder, what)
            if not d.is_dir():
                raise NodeError(f"folder {folder.name!r}: its {what} folder {d} is missing on this machine "
                                f"(is the share mounted the same way as on the head? see cluster.path_map)")


def node_name(name: str | None) -> str:
    return (name or "hotfolder@%h").replace("%h", socket.gethostname())


def run(config: Config, concurrency: int | None = None, name: str | None = None,
        log_format: str = "json", log_level: str = "info") -> int:
    try:
        check(config)
    except NodeError as exc:
        print(f"hotfolder worker: {exc}", file=sys.stderr)
        return 2
    systemd.scrub_environ()  # pool children must not talk to systemd
    c = config.cluster
    node = node_name(name)
    log.setup(log_format, log_level, role="cluster-worker", node=node)
    logger = log.get("worker")
    if c.visibility_timeout <= c.task_time_limit:
        logger.warning("visibility_timeout_short", visibility_timeout=c.visibility_timeout,
                       task_time_limit=c.task_time_limit,
                       reason="a long render is redelivered while it runs; the lease stops a second render")

    from celery import signals  # imported here: local mode never needs Celery

    from hotfolder.cluster import app as app_mod
    from hotfolder.cluster import tasks

    app = app_mod.make_app(c)
    tasks.register(app)
    app_mod.narrow_remote_control()
    ctx = tasks.set_context(config, node)
    registration = Registration(ctx.store, node, ctx.versions)

    @signals.worker_process_init.connect(weak=False)
    def _child_init(**_kw):
        log.setup(log_format, log_level, role="cluster-worker", node=node, worker_pid=os.getpid())
        pipeline.warm_up()  # in each child: libvips threads must not start in the parent that forks

    @signals.worker_ready.connect(weak=False)
    def _ready(**_kw):
        registration.start()  # the head compares our config versions with its own
        logger.info("ready", node=node, concurrency=concurrency or c.concurrency or os.cpu_count(),
                    queues=queues, versions=ctx.versions, shared_root=str(jobs.local_root(config)), pid=os.getpid())
        systemd.ready(f"serving cluster {c.cluster_id} as {node}")
        interval = systemd.watchdog_interval()
        if interval:
            threading.Thread(target=_watchdog, args=(app, node, interval), daemon=True).start()

    workers: list = []  # Celery's WorkController, for its exit code

    @signals.celeryd_after_setup.connect(weak=False)
    def _made(instance=None, **_kw):
        workers.append(instance)

    @signals.worker_shutting_down.connect(weak=False)
    def _stopping(**_kw):
        registration.stop()
        systemd.stopping("warm shutdown: finishing the running renders")

    # Only the queues of our folders' config versions: a job of another version (another
    # rendition size, a folder we lack) is never delivered here (versions.py).
    queues = sorted({versions.queue_name(c, v) for v in ctx.versions.values()})
    procs = concurrency or c.concurrency or (os.cpu_count() or 1)
    # --quiet: no banner, which Celery prints as plain text among the JSON lines (the journal's)
    argv = ["--quiet", "worker", "-n", node, "-c", str(procs), "-P", "prefork", "-Q", ",".join(queues),
            "--loglevel", log_level.upper(), "--without-gossip", "--without-mingle", "--without-heartbeat"]
    app.worker_main(argv)
    # The worker's own exit code (worker_main drops it): an "Unrecoverable error" (Redis
    # refusing writes at maxmemory) ended the node with 0, and systemd's Restart=on-failure
    # left every node down once Redis had room again (an attack round).
    return int(workers[0].exitcode or 0) if workers else 0


class Registration(threading.Thread):
    """This node's config versions in Redis, refreshed while it runs (the key expires
    REGISTRATION_TTL after the last refresh: a node that died drops out by itself)."""

    def __init__(self, store, node: str, folder_versions: dict[str, str]):
        super().__init__(daemon=True, name="registration")
        self.store, self.node, self.versions = store, node, folder_versions
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.store.register(self.node, self.versions, REGISTRATION_TTL, build.identity())
            except Exception as exc:  # noqa: BLE001 - Redis away: the head sees no node meanwhile
                log.get("worker").warning("registration_failed", reason=str(exc))
            if self.stopped.wait(REGISTRATION_TTL / 3):
                return

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.store.unregister(self.node)
        except Exception:  # noqa: BLE001 - it expires by itself
            pass


def _watchdog(app, node: str, interval: float) -> None:
    """WATCHDOG=1 only while our own node answers a ping through the broker."""
    while True:
        try:
            if app.control.ping(destination=[node], timeout=min(5.0, interval / 2)):
                systemd.watchdog()
        except Exception:  # noqa: BLE001 - no ping, no watchdog: systemd restarts us
            pass
        time.sleep(interval / 2)
