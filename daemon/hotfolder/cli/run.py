"""`hotfolder run` and `hotfolder worker`.
"""
from __future__ import annotations

from hotfolder.config import load
from hotfolder.runtime import log


def cmd_run(args) -> int:
    from hotfolder.runtime import systemd

    systemd.scrub_environ()  # before any process starts: only we may talk to systemd
    cfg = load(args.config)
    log.setup(args.log_format, args.log_level)
    from hotfolder.supervisor.service import Service  # imported late: check-config and status stay light

    if cfg.cluster.enabled:  # the head: claims here, renders on `hotfolder worker` machines
        from hotfolder.cluster.backend import ClusterBackend  # Celery only in cluster mode

        backend = ClusterBackend(cfg)
    else:
        from hotfolder.workers.pool import LocalPool

        backend = LocalPool(cfg.workers, cfg.queue_bound, cfg.file_timeout, args.log_format, args.log_level)
    return Service(cfg, backend).run()


def cmd_worker(args) -> int:
    cfg = load(args.config, serving=frozenset({"cluster"}))  # the broker's URL, not the status page's token
    from hotfolder.cluster import node  # imported late: local mode needs no Celery

    return node.run(cfg, args.concurrency, args.name, args.log_format, args.log_level)
