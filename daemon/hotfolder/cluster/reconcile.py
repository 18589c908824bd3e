"""The head's safety net: the job records are the truth, the broker only a doorbell.

A job is re-sent (same task id; a duplicate is a no-op, see tasks.py) when nobody
holds its lease and has not for a whole lease_ttl, and it was sent more than
stale_after ago — or Redis does not know when (Redis restarted, or the send failed).
This covers a Redis restart without persistence, a send during an outage, a whole
machine gone with its unacked message, a child killed by the hard time limit (its
message is acked), and a worker that silently stopped consuming (celery #8030).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from hotfolder.cluster import jobs
from hotfolder.cluster.store import Store
from hotfolder.config.model import Cluster, Folder
from hotfolder.spool import fsnames


@dataclass
class Pass:
    records: int = 0
    leased: int = 0
    resent: int = 0


class Reconciler:
    def __init__(self, cluster: Cluster, records: jobs.Records, store: Store, send):
        self.cluster, self.records, self.store, self.send = cluster, records, store, send
        self.unleased_since: dict[str, float] = {}  # job -> first pass that saw no lease

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


def adopt_orphans(folders: list[Folder], records: jobs.Records, root) -> list[jobs.Record]:
    """At the head's start: a file in processing/ without a record (the head died
    between claim and record, or the folder was used in local mode) gets one."""
    known = {r.src for r in records.all()}
    made = []
    for folder in folders:
        for dirpath, _dirs, names in os.walk(folder.processing):
            for name in names:
                path = os.path.join(dirpath, name)
                src = os.path.relpath(path, root)
                if src in known or fsnames.is_ignored_name(name):
                    continue
                rel = os.path.relpath(path, folder.processing)
                record = jobs.Record(jobs.new_job_id(), folder.name, rel, src, time.time())
                records.write(record)
                made.append(record)
    return made
