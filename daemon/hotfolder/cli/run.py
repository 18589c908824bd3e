"""`hotfolder run` and `hotfolder worker`.
"""
from __future__ import annotations

from hotfolder.config import load
from hotfolder.runtime import log


def cmd_run(args) -> int:
    from hotfolder.runtime import systemd

    systemd.scrub_environ()  # before any process starts: only we may talk to systemd
    cfg = load.load(args.config)
    log.setup(args.log_format, args.log_level)
    from hotfolder.backend import open_backend  # the pool, or the cluster head's (Celery only in cluster mode)
    from hotfolder.supervisor.service import Service  # imported late: check-config and status stay light

    return Service(cfg, open_backend(cfg, args.log_format, args.log_level)).run()


def cmd_worker(args) -> int:
    cfg = load.load(args.config)
    from hotfolder.cluster import node  # imported late: local mode needs no Celery

    return node.run(cfg, args.concurrency, args.name, args.log_format, args.log_level)
