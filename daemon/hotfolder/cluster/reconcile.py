"""The head's safety net: the job records are the truth, the broker only a doorbell.

A job is re-sent (a new task id, the same job; a duplicate is a no-op, see tasks.py) when nobody
holds its lease and has not for a whole lease_ttl, and it was sent more than
stale_after ago — or Redis does not know when (Redis restarted, or the send failed).
This covers a Redis restart without persistence, a send during an outage, a whole
machine gone with its unacked message, a child killed by the hard time limit (its
message is acked), and a worker that silently stopped consuming (celery #8030).
"""
from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hotfolder.cluster import jobs
from hotfolder.cluster.store import Store
from hotfolder.config.model import Cluster, Folder
from hotfolder.spool import fsnames, recovery
from hotfolder.spool.xmp_sidecars import follow


@dataclass
class Pass:
    records: int = 0
    leased: int = 0
    resent: int = 0


class Reconciler:
    def __init__(self, cluster: Cluster, records: jobs.Records, store: Store, send):
        self.cluster, self.records, self.store, self.send = cluster, records, store, send
        self.unleased_since: dict[str, float] = {}  # job -> first pass that saw no lease
        self.lease_gone: dict[str, float] = {}  # job -> first status look that saw no lease (held_elsewhere)

    def run(self, now: float | None = None) -> Pass:
        now = time.time() if now is None else now
        recs = self.records.all()
        leases = self.store.leases()
        sent = self.store.sent_at([r.job for r in recs])
        result = Pass(records=len(recs))
        live = set()
        for rec in recs:
            live.add(rec.job)
            if rec.job in leases:
                result.leased += 1
                self.unleased_since.pop(rec.job, None)
                continue
            first = self.unleased_since.setdefault(rec.job, now)
            if now - first < self.cluster.lease_ttl:
                continue  # a running render re-creates its lease within lease_ttl/3
            at = sent.get(rec.job)
            if at is not None and abs(now - at) < self.cluster.stale_after:  # a forged future time: sent again
                continue
            self.send(rec)
            self.store.sent(rec.job, now)
            result.resent += 1
        self.unleased_since = {j: t for j, t in self.unleased_since.items() if j in live}
        self.store.prune_sent(live)
        return result


    def held_elsewhere(self, jobs_now: list[str], leases: set[str], queued: int,
                       in_queues: Callable[[], frozenset[str] | None] = lambda: None,
                       now: float | None = None) -> int:
        """Jobs no node has rendered for a while and no queue holds: taken by a node that
        stopped (killed, its machine gone) with its messages unacked. Redis hands them to
        another node after visibility_timeout, `run` sends them again after stale_after; till
        then the status said only "in flight" and nothing being rendered (an admin's audit).
        Looked at each second (the head's status): `jobs_now` in flight, `leases` the jobs
        leased now. A job is quiet once it has had no lease for longer than a running render
        takes to make its lease again (lease_ttl/3, after a Redis restart) and a retry waits
        away from both queue and lease (min(30, visibility_timeout/4) s, tasks.run).
        `in_queues()`: the jobs queued (Store.queued_jobs), asked only when some job is quiet;
        when it cannot say, the `queued` messages are taken off the count: that hid a held
        job behind the jobs sent in the last half minute of a busy cluster's backlog."""
        now = time.time() if now is None else now
        self.lease_gone = {j: self.lease_gone.get(j, now) for j in jobs_now if j not in leases}
        quiet_after = max(self.cluster.lease_ttl / 3, min(30.0, self.cluster.visibility_timeout / 4)) + 1.0
        quiet = [j for j, since in self.lease_gone.items() if now - since >= quiet_after]
        if not quiet:
            return 0
        waiting = in_queues()
        if waiting is None:
            return max(0, len(quiet) - queued)
        return sum(1 for j in quiet if j not in waiting)


def adopt_orphans(folders: list[Folder], records: jobs.Records, root) -> list[jobs.Record]:
    """At the head's start: a file in processing/ without a record (the head died
    between claim and record, or the folder was used in local mode) gets one, with the
    XMP sidecar claimed with it (paired as local mode pairs them: recovery.claimed_files).
    A sidecar is never a job of its own: one a record names is its job's (adopted alone, it
    went to failed/ as "not an image" and its image rendered without it: a tester's
    finding), and one whose image left (archived before a crash) waits in the inbox again,
    as in local mode."""
    known = set()
    for r in records.all():
        known.add(r.src)
        if r.sidecar:  # beside its image (tasks._sidecar): in the folder of `src`
            known.add(posixpath.join(posixpath.dirname(r.src), posixpath.basename(r.sidecar)))
    made = []
    for folder in folders:
        for claimed in recovery.claimed_files(folder):
            src = os.path.relpath(claimed.path, root)
            if src in known or fsnames.is_ignored_name(claimed.path.name):
                continue
            record = jobs.Record(jobs.new_job_id(), folder.name, claimed.rel, src, time.time(),
                                 sidecar=claimed.sidecar or "")
            records.write(record)
            made.append(record)
        for path in list(recovery.sidecars_alone(folder)):
            if os.path.relpath(path, root) not in known:
                _give_back(folder, path)
    return made


def _give_back(folder: Folder, sidecar: Path) -> None:
    """A sidecar alone in processing/ to the inbox, where it waits for its image again."""
    try:
        follow(sidecar, (folder.inbox / sidecar.relative_to(folder.processing)).parent, sidecar.name)
    except OSError:  # stays in processing/: tried again at the next start (never a job)
        pass
