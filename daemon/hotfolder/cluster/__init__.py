"""Cluster mode (issue 7): render on several machines through Celery + Redis.

The filesystem is the truth and Celery is only the doorbell. The head (`hotfolder
run` with `cluster.enabled`) claims files exactly as in local mode, writes a job
record on the shared root and sends a task naming the job; `hotfolder worker` on
each machine renders it with the same code as local mode. Every message may be
lost or delivered twice: a job record, a Redis lease and a reconciler make either
harmless.

    jobs.py       job ids, job records and the cluster marker on the shared root; path_map
    store.py      our Redis keys: leases, enqueue times, cluster-wide counts
    app.py        the Celery app and its fixed reliability settings
    tasks.py      the render task (idempotent, leased, attempt-counted)
    reconcile.py  the head's pass that re-sends stale jobs
    backend.py    the head's backend: a job record and a Celery task instead of a local pool
    node.py       `hotfolder worker`: the start-up checks, then Celery's worker
    versions.py   each folder's config version: jobs go to its queue; nodes register theirs

Nothing here is imported in local mode: Celery and redis are an optional extra.
"""
