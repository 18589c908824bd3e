"""The head: `hotfolder run` with cluster.enabled.

It is the local supervisor with the pool taken out: the same watcher, the same
claim (rename into processing/), then a job record on the shared root and a
Celery task instead of Queue.put; no local workers. Originals are moved to
archive/ or failed/ by the task on whichever machine rendered them.

Recovery differs from local mode: files in processing/ may be rendered right now
by a remote worker, so a restart never moves them back to the inbox and never
deletes temp outputs; it adopts claimed files that have no record and lets the
reconciler re-send what nobody holds.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import spool
from ..config import Config, Folder
from ..stats import Status
from ..supervisor import Supervisor
from . import app as app_mod, jobs
from .reconcile import Reconciler, adopt_orphans
from .store import Store

POLL_RECORDS = 0.25  # seconds between looks at which jobs ended (to offer same-named files)
CLUSTER_STATUS_EVERY = 1.0


@dataclass
class ClusterStatus(Status):
    cluster: dict = field(default_factory=dict)


class Head(Supervisor):
    def __init__(self, config: Config, log_format: str = "json", log_level: str = "info"):
        super().__init__(config, log_format, log_level)
        c = config.cluster
        self.root: Path = c.shared_root  # type: ignore[assignment]
        self.records = jobs.Records(self.root)
        self.app = app_mod.make_app(c)
        self.store = Store(c)
        self.reconciler = Reconciler(c, self.records, self.store, self._send_record)
        self.known: dict[str, tuple[str, str]] = {}  # job -> (folder, rel), to notice ends
        self.in_flight = 0
        self._next_poll = 0.0
        self._next_reconcile = 0.0
        self._next_cluster_status = 0.0
        self.cluster_info: dict = {"broker": "unknown"}
        self.broker_ok_at = time.monotonic()

    # ------------------------------------------------------------------ start
    def run(self) -> int:
        c = self.config.cluster
        try:
            jobs.mark(self.root, c.cluster_id)
        except (jobs.SharedRootError, OSError) as exc:
            self.log.error("shared_root_refused", shared_root=str(self.root), reason=str(exc))
            return 2
        if c.visibility_timeout <= c.task_time_limit:
            self.log.warning("visibility_timeout_short", visibility_timeout=c.visibility_timeout,
                             task_time_limit=c.task_time_limit,
                             reason="a long render is redelivered while it runs; the lease stops a second "
                                    "render, but raise visibility_timeout above task_time_limit")
        return super().run()

    def _recover(self) -> None:
        for folder in self.config.folders:
            spool.ensure_dirs(folder)
        adopted = adopt_orphans(list(self.config.folders), self.records, self.root)
        self.known = {r.job: (r.folder, r.rel) for r in self.records.all()}
        self.in_flight = len(self.known)
        self.log.info("recovered", mode="cluster", in_flight=self.in_flight, adopted=len(adopted),
                      note="claimed files stay in processing/ for the workers")

    def _open_queues(self) -> None:
        pass  # no local queue: the broker is the queue

    def _start_workers(self) -> None:
        pass  # `hotfolder worker` runs on each machine

    def _resize_pool(self, old: int, new: int) -> None:
        pass

    # ------------------------------------------------------------------ claims
    def _room(self) -> int:
        if time.monotonic() < self.pause_until:
            return 0
        return self.config.cluster.max_in_flight - self.in_flight

    def _enqueue(self, job, claimed: spool.Claimed | None) -> None:
        folder: Folder = job.folder
        record = jobs.Record(jobs.new_job_id(), folder.name, claimed.rel,
                             claimed.path.relative_to(self.root).as_posix(), time.time())
        self.records.write(record)  # before the message: a worker must find it
        self.known[record.job] = (folder.name, record.rel)
        self.in_flight += 1
        try:
            self._send_record(record)
            self.store.sent(record.job, time.time())
            self.broker_ok_at = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - the record stays; the reconciler sends it later
            self.log.error("send_failed", job=record.job, file=record.rel, reason=str(exc),
                           note="kept in processing/; re-sent when the broker is back")
            self.pause_until = time.monotonic() + 2.0
        else:
            self.log.info("file_sent", job=record.job, folder=folder.name, file=record.rel)

    def _send_record(self, record: jobs.Record) -> None:
        app_mod.send(self.app, self.config.cluster, record.job, record.folder, record.src)

    # ------------------------------------------------------------------ the loop
    def _step(self) -> None:
        time.sleep(0.02)
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + POLL_RECORDS
            self._notice_ends()
        if now >= self._next_reconcile:
            self._next_reconcile = now + self.config.cluster.reconcile_interval
            self._reconcile()
        if now - self._last_status >= 1.0:
            if self.watcher is not None:
                self.watcher.check()
            self._maybe_reload_on_change()
            self._refresh_cluster_info()
            self._publish()

    def _notice_ends(self) -> None:
        try:
            names = {n[:-5] for n in os.listdir(self.records.dir) if n.endswith(".json") and not n.startswith(".")}
        except FileNotFoundError:
            names = set()
        for job in [j for j in self.known if j not in names]:
            folder_name, rel = self.known.pop(job)
            self.last_progress = time.monotonic()
            inbox = self.watcher.inboxes.get(folder_name) if self.watcher else None
            folder = next((f for f in self.config.folders if f.name == folder_name), None)
            if inbox is not None and folder is not None:
                inbox.offer(folder.inbox / rel)  # a same-named file may have waited for this one
        self.in_flight = len(names)

    def _reconcile(self) -> None:
        try:
            result = self.reconciler.run()
            self.broker_ok_at = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - Redis away: try again next pass
            self.log.warning("reconcile_failed", reason=str(exc))
            return
        if result.resent:
            self.log.warning("jobs_resent", count=result.resent, in_flight=result.records, leased=result.leased,
                             reason="no live lease and not sent recently (lost message, dead node, Redis restart)")
        for rec in self.records.all():
            self.known.setdefault(rec.job, (rec.folder, rec.rel))

    # ------------------------------------------------------------------ status
    def _refresh_cluster_info(self) -> None:
        now = time.monotonic()
        if now < self._next_cluster_status:
            return
        self._next_cluster_status = now + CLUSTER_STATUS_EVERY
        recs = self.records.all()
        oldest = min((r.claimed_at for r in recs), default=None)
        info = {"in_flight": len(recs), "oldest_claimed_s": round(time.time() - oldest, 1) if oldest else None,
                "shared_root": str(self.root), "cluster_id": self.config.cluster.cluster_id}
        try:
            processed, failed = self.store.counts()
            per_node: dict[str, int] = {}
            for holder in self.store.leases().values():
                per_node[holder.node] = per_node.get(holder.node, 0) + 1
            info.update(broker="ok", queue_length=self.store.queue_length(), processed=processed, failed=failed,
                        rendering=sum(per_node.values()), per_node=per_node)
            self.broker_ok_at = now
        except Exception as exc:  # noqa: BLE001 - status must not stop the head
            keep = {k: self.cluster_info.get(k) for k in ("queue_length", "processed", "failed", "per_node",
                                                          "rendering")}
            info.update(keep, broker=f"unreachable: {exc}")
        self.cluster_info = info

    def status(self) -> Status:
        info = self.cluster_info
        return ClusterStatus(
            pid=os.getpid(), started=self.started,
            processed=info.get("processed") or 0, failed=info.get("failed") or 0,
            queued=info.get("queue_length") or 0,
            waiting=self.watcher.pending_count() if self.watcher else 0,
            in_flight=info.get("in_flight", self.in_flight), workers=0, workers_alive=0,
            state=self.state, message=self.message, config=str(self.config.source),
            cluster=dict(info),
        )

    def _status_line(self) -> str:
        i = self.cluster_info
        line = (f"cluster: processed {i.get('processed', 0)}, failed {i.get('failed', 0)}, "
                f"queue {i.get('queue_length', 0)}, in flight {i.get('in_flight', self.in_flight)}, "
                f"broker {i.get('broker')}")
        return f"{line}; {self.message}" if self.message else line

    def _healthy(self) -> bool:
        # A Redis outage is shown in the status, not answered by a restart: it would not help.
        return self.watcher is None or self.watcher.healthy()
