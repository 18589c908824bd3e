"""The head's note of jobs a stopped node holds (Reconciler.held_elsewhere), against a real
redis-server and the messages Celery really queues."""
from __future__ import annotations

import pytest

from hotfolder import config

pytest.importorskip("celery", reason="the cluster extra is not installed (pip install -e '.[cluster]')")


def test_a_held_job_is_said_held_while_newer_jobs_wait_in_the_queue(redis_server, tmp_path):
    """The count was the quiet jobs less every queued message: in a busy cluster's backlog
    the head tops its jobs up as files end, so the queue always holds jobs sent in the last
    half minute, and a job a killed node held was hidden behind them (a review)."""
    from hotfolder.cluster import app as app_mod
    from hotfolder.cluster import versions
    from hotfolder.cluster.reconcile import Reconciler
    from hotfolder.cluster.store import Store

    shared = tmp_path / "shared"
    cfg = config.parse(f"""folders:
  - name: photos
    inbox: {shared}/photos/inbox
    output: {shared}/photos/output
    archive: {shared}/photos/archive
    failed: {shared}/photos/failed
    renditions: [{{name: web, size: 100}}]
cluster: {{enabled: true, broker_url: '{redis_server.url}', cluster_id: c1, shared_root: {shared}}}
""")
    c = cfg.cluster
    version = versions.of_config(cfg)["photos"]
    queues = [versions.queue_name(c, version)]
    store = Store(c)
    reconciler = Reconciler(c, None, store, None)  # type: ignore[arg-type] - held_elsewhere needs neither
    quiet = max(c.lease_ttl / 3, min(30.0, c.visibility_timeout / 4)) + 1.0

    def held(jobs: list[str], now: float) -> int:
        return reconciler.held_elsewhere(jobs, set(), store.queue_length(queues),
                                         in_queues=lambda: store.queued_jobs(queues), now=now)

    assert held(["killed-node-s"], now=1000.0) == 0  # its lease just went
    app = app_mod.make_app(c)
    try:
        app_mod.send(app, c, "sent-just-now", "photos", "photos/processing/b.jpg", version)
    finally:
        app.close()
    assert store.queued_jobs(queues) == {"sent-just-now"}
    later = 1000.0 + quiet
    assert held(["killed-node-s", "sent-just-now"], now=later) == 1  # the queued job is not it: 0 before
    assert held(["killed-node-s", "sent-just-now"], now=later + quiet) == 1  # quiet too, but queued
