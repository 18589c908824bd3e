"""`hotfolder run` and `hotfolder worker`.
"""
from __future__ import annotations

import argparse
import signal

from hotfolder.config import EVERY_PART, check, load
from hotfolder.runtime import formats, log, systemd
from hotfolder.workers import forks


def cmd_run(args: argparse.Namespace) -> int:
    systemd.scrub_environ()  # before any process starts: only we may talk to systemd
    checked = check(args.config, serving=EVERY_PART)
    cfg = checked.config
    args.log_format = formats.chosen(args.log_format)  # the workers and the cluster's head get the same
    log.setup(args.log_format, args.log_level)
    for warning in checked.warnings:  # check-config says them too; the journal is where a service's are read
        log.get().warning("config_warning", problem=str(warning))
    if not cfg.cluster.enabled:  # the local pool's forkserver: its imports overlap ours and the recovery
        forks.start()
    # Imported here, not at the top: the service brings watchdog, and each backend its
    # renderer (LocalPool: pyvips and Pillow; ClusterBackend: Celery), which check-config,
    # status and requeue must not pay for (~0.4 s).
    from hotfolder.backend import open_backend
    from hotfolder.supervisor.service import Service

    try:
        return Service(cfg, open_backend(cfg, args.log_format, args.log_level)).run()
    finally:
        # Stopped: a signal now has nothing left to stop. Ignored, it no longer turns the
        # exit into a death by SIGTERM (-15) while the interpreter shuts down, which puts the
        # default action back for handlers it set (a second SIGTERM, or a supervisor's, met
        # it in the suite; 10 of 10 with a SIGTERM every 0.5 ms after the first).
        for sig in forks.GROUP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def cmd_worker(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset({"cluster"}))  # the broker's URL, not the status page's token
    from hotfolder.cluster import node  # Celery: imported only by the command that needs it

    return node.run(cfg, args.concurrency, args.name, args.log_format, args.log_level)
