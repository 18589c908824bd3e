"""The Celery app and its reliability settings (fixed here, not exposed in the YAML).

Why each one (docs/cluster.md and ../shared/notes/scale-out.md §2 have the sources):
- acks_late + reject_on_worker_lost: a message is removed only after the task
  returned; a killed pool child puts it back. The loop that can cause (celery
  #1628) is bounded by our own attempt counter in the job record (tasks.py).
- prefetch multiplier 1: a process reserves only the task it runs.
- JSON only, no result backend: messages carry a job id and a path, never pickles
  or image bytes.
- visibility_timeout set in broker_transport_options (the place Redis reads it) and
  a global_keyprefix per cluster, so another app on the same Redis cannot shorten it.
- the soft time limit lets the task move the file to failed/ itself; the hard one
  kills the child (the reconciler then re-sends the job, counted as an attempt).
- a task id of each send's own, and no remote control but `ping` (send,
  narrow_remote_control): a `revoke` must never stop a job for good.
- cancel long-running tasks on connection loss: after a broker reconnect Redis
  redelivers unacked tasks; running them twice in parallel is what the lease is
  for, and cancelling is the documented cure (default in Celery 6). A render so
  stopped (SIGTERM) is not counted as an attempt (tasks._give_back).
"""
from __future__ import annotations

import secrets

from celery import Celery

from hotfolder.cluster import versions
from hotfolder.cluster.store import key_prefix
from hotfolder.config.model import Cluster

TASK_NAME = "hotfolder.render"


def settings(cluster: Cluster) -> dict:
    transport = {
        "visibility_timeout": cluster.visibility_timeout,
        "global_keyprefix": key_prefix(cluster),
        # a killed worker's unacked messages come back within ~interval (kombu >= 5.7);
        # the reconciler stays the bound of last resort
        "unacked_restore_interval": max(1, min(60, int(cluster.visibility_timeout / 3))),
        "unacked_restore_throttle": 1,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "health_check_interval": 10,
    }
    return dict(
        broker_url=cluster.broker_url,
        broker_transport_options=transport,
        visibility_timeout=cluster.visibility_timeout,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_default_queue=cluster.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_time_limit=cluster.task_time_limit,
        task_soft_time_limit=cluster.task_soft_time_limit,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 1.0},
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_soft_shutdown_timeout=10.0,
        worker_enable_soft_shutdown_on_idle=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_max_tasks_per_child=cluster.max_tasks_per_child or None,
        worker_max_memory_per_child=(cluster.max_memory_per_child_mb * 1024) or None,
        broker_heartbeat=None,
    )


def make_app(cluster: Cluster) -> Celery:
    app = Celery("hotfolder", set_as_current=False)
    app.conf.update(settings(cluster))
    return app


def send(app: Celery, cluster: Cluster, job: str, folder: str, src: str, version: str) -> None:
    """The doorbell: a job id, a path relative to the shared root, and the head's config
    version of the folder, on that version's queue (versions.py). Each send has a task id
    of its own (the job's, and a suffix): with the job id as task id, one `revoke` of it
    (anyone with Redis access) dropped every later send of the job, and its file stayed in
    processing/ for ever. The task finds its job by the `job` argument, never by its id."""
    app.send_task(TASK_NAME, kwargs={"job": job, "folder": folder, "src": src, "version": version},
                  task_id=f"{job}.{secrets.token_hex(4)}", queue=versions.queue_name(cluster, version))


CONTROL_KEPT = frozenset({"ping"})  # the systemd watchdog's (node._watchdog)


def narrow_remote_control() -> None:
    """This process's Celery worker answers no remote control command but `ping`. Celery's
    others act on the node for whoever can write to the Redis: `revoke` and `terminate` stop
    a job (revoked ids are dropped at every delivery), `shutdown`, `pool_restart`, `hello` (it
    merges the sender's revoked ids); a node needs none of them. Called in `hotfolder worker`
    before Celery starts (its mailbox takes this dict of handlers)."""
    from celery.worker import control

    for name in [n for n in control.Panel.data if n not in CONTROL_KEPT]:
        del control.Panel.data[name]
