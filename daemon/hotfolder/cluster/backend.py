"""ClusterBackend: the service's backend when `cluster.enabled` (the head's side).

The service claims exactly as in local mode (rename into processing/); instead of
Queue.put, `submit` writes a job record on the shared root and sends a Celery task
naming it. No worker runs here: `hotfolder worker` renders on each machine and moves
the original to archive/ or failed/ itself, then removes the record. So `poll`
reports `Ended` when a record is gone, `Told` with the notices of what the nodes said
of the files they ended (cluster/told.py), re-sends stale jobs (the reconciler), and
keeps the cluster-wide numbers for the status.

Claims survive a restart: files in processing/ may be rendered right now by a
remote worker, so the head never moves them back; at start it adopts claimed files
that have no record and lets the reconciler re-send what nobody holds.
"""
from __future__ import annotations

import os
import select
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from hotfolder import build
from hotfolder.backend import BackendStatus, Ended, Event, Told, Wake
from hotfolder.cluster import app as app_mod
from hotfolder.cluster import jobs, told, versions
from hotfolder.cluster.forget import Forgetting
from hotfolder.cluster.originals import SharedOriginals
from hotfolder.cluster.reconcile import Reconciler, adopt_orphans
from hotfolder.cluster.store import Store
from hotfolder.config.model import Cluster, Config, Folder
from hotfolder.jobs import Job, Verdict
from hotfolder.ops.notices import NoticeKind
from hotfolder.runtime import log
from hotfolder.spool.folders import archived_files

POLL_RECORDS = 0.25  # seconds between looks at which jobs ended (to offer same-named files)
CLUSTER_STATUS_EVERY = 1.0
SEND_BACKOFF = 2.0  # seconds without new claims after a send failed (the broker is away)


class ClusterBackend:
    claims_survive_restart = True

    def __init__(self, config: Config):
        self.config = config
        c = config.cluster
        assert c.shared_root is not None, "cluster.enabled requires shared_root (config/load.py)"
        self.root: Path = c.shared_root
        self.records = jobs.Records(self.root)
        self.app = app_mod.make_app(c)
        self.store = Store(c)
        self.originals = SharedOriginals(self.store.r, self.store.prefix, self.store.ttl_ms)  # its counts, its state
        self.reconciler = Reconciler(c, self.records, self.store, self._send_record)
        self.log = log.get("cluster")
        self.forgetting = Forgetting(self.originals, self.log)  # the shared index's duplicate_window
        self.versions = versions.of_config(config)  # folder -> our config version: the queue its jobs go to
        self.known: dict[str, tuple[str, str]] = {}  # job -> (folder, rel), to notice ends
        self.in_flight = 0
        self.paused_until = 0.0
        self._next_poll = 0.0
        self._next_reconcile = 0.0
        self._next_info = 0.0
        self.info: dict = {"broker": "unknown"}
        self._versions_said: tuple = ()  # the node versions last logged about
        self._mismatch_said = False  # config_version_mismatch was the last said of them
        self._nodes_seen = 0.0  # monotonic: when some node was last registered
        self._marked = False  # our mark was seen in Redis: its loss means Redis lost its data

    @classmethod
    def for_config(cls, config: Config, log_format: str = "json", log_level: str = "info") -> Self:
        return cls(config)  # the head's own log is set up by the cli; nothing renders here

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Claim the shared root for this cluster (or refuse a foreign one), adopt orphans."""
        c = self.config.cluster
        jobs.mark(self.root, c.cluster_id, self.config.state_dir)
        if c.visibility_timeout <= c.task_time_limit:
            self.log.warning("visibility_timeout_short", visibility_timeout=c.visibility_timeout,
                             task_time_limit=c.task_time_limit,
                             reason="a long render is redelivered while it runs; the lease stops a second "
                                    "render, but raise visibility_timeout above task_time_limit")
        adopted = adopt_orphans(list(self.config.folders), self.records, self.root)
        self._check_index()
        try:
            self.store.mark_data()
            self._marked = True
        except Exception:  # noqa: BLE001 - the broker's trouble is said by the status; marked later
            pass
        self.known = {r.job: (r.folder, r.rel) for r in self.records.all()}
        self.in_flight = len(self.known)
        self.log.info("recovered", mode="cluster", in_flight=self.in_flight, adopted=len(adopted),
                      note="claimed files stay in processing/ for the workers")

    def _check_index(self) -> None:
        """The cluster's index of originals is empty while the archives hold originals (Redis
        lost its data, or this version runs for the first time): said, with what to run."""
        try:
            empty = self.originals.r.get(self.originals.p + "next") is None
        except Exception as exc:  # noqa: BLE001 - the broker's trouble is said by the status
            self.log.warning("index_unreachable", reason=str(exc))
            return
        if empty and any(next(archived_files(f), None) for f in self.config.folders):
            self.log.warning("index_empty", reason="the cluster's index of originals (in Redis) is empty while "
                             "the archives hold originals: copies of them are not known as duplicates",
                             action="run `hotfolder index rebuild` once (on any machine with the config)")

    def reconfigure(self, config: Config) -> None:
        """A reload: the room and the reconciler's timings (reloadable.py). The workers
        count is unused here: each machine's `hotfolder worker` has its own concurrency."""
        self.config = config
        self.reconciler.cluster = self.store.cluster = config.cluster
        self.versions = versions.of_config(config)  # new jobs (and re-sent ones) go to the new versions

    def drain(self) -> None:
        pass  # nothing renders here; remote renders go on

    def stop_now(self) -> list[Job]:
        return []  # claims stay with the cluster

    # ------------------------------------------------------------------ work
    def room(self) -> int:
        if time.monotonic() < self.paused_until:
            return 0
        return self.config.cluster.max_in_flight - self.in_flight

    def submit(self, job: Job) -> None:
        record = jobs.Record(jobs.new_job_id(), job.folder.name, job.rel,
                             job.src.relative_to(self.root).as_posix(), time.time(),
                             version=self.versions.get(job.folder.name, ""), sidecar=job.sidecar or "",
                             build=build.identity())
        self.records.write(record)  # before the message: a worker must find it
        self.known[record.job] = (job.folder.name, record.rel)
        self.in_flight += 1
        try:
            self._send_record(record)
            self.store.sent(record.job, time.time())
        except Exception as exc:  # noqa: BLE001 - the record stays; the reconciler sends it later
            self.log.error("send_failed", job=record.job, file=record.rel, reason=str(exc),
                           note="kept in processing/; re-sent when the broker is back" + (
                               "; Redis is full (maxmemory): raise its maxmemory or free memory" if is_full(exc)
                               else ""))
            self.paused_until = time.monotonic() + SEND_BACKOFF
        else:
            self.log.info("file_sent", job=record.job, folder=job.folder.name, file=record.rel)

    def _send_record(self, record: jobs.Record) -> None:
        """Send (or send again) a job, for our current config version of its folder."""
        version = self.versions.get(record.folder, record.version)
        # a reload changed the recipe since it was first sent, or a head of other code sent it
        if (version, build.identity()) != (record.version, record.build):
            record = replace(record, version=version, build=build.identity())
            self.records.write(record)
        app_mod.send(self.app, self.config.cluster, record.job, record.folder, record.src, version)

    def _send_refused(self) -> None:
        """Jobs a node refused (another config version, a folder it lacks) go again to the
        queue of our version, which only nodes with our config consume."""
        again: dict[str, jobs.Record] = {}
        for refusal in self.store.take_refusals():
            record = self.records.read(str(refusal.get("job")))
            self.log.warning("job_refused_by_node", job=refusal.get("job"), node=refusal.get("node"),
                             reason=refusal.get("reason"), file=record.rel if record else None,
                             action="sent again to the nodes of the head's config" if record else "already ended")
            if record is not None:
                again[record.job] = record
        for record in again.values():  # once, however many nodes refused it
            self._send_record(record)

    def count(self, verdict: Verdict, already: Verdict | None = None, folder: Folder | None = None) -> None:
        """A verdict of the head's own (a refused symlink) in the cluster-wide counts."""
        if verdict == already:
            return
        try:
            self.store.count(verdict, folder.name if folder is not None else "")
        except Exception as exc:  # noqa: BLE001 - counts are only for status
            self.log.warning("count_failed", reason=str(exc))

    def uncount(self, already: Verdict | None, folder: Folder | None = None) -> None:
        pass  # the head never settles a rendered file: workers count in Redis

    def poll(self, timeout: float, wake: Wake | None = None) -> list[Event]:
        if wake is not None:  # a new file in an inbox ends the wait, as in local mode
            if select.select([wake.fd], [], [], min(timeout, 0.02))[0]:
                wake.drain()
        else:
            time.sleep(min(timeout, 0.02))
        now = time.monotonic()
        events: list[Event] = []
        if now >= self._next_poll:
            self._next_poll = now + POLL_RECORDS
            events = [*self._notice_ends(), *self._told()]
            self.forgetting.step({f.name: f.duplicate_window for f in self.config.folders}, now)  # hourly, in steps
        if now >= self._next_reconcile:
            self._next_reconcile = now + self.config.cluster.reconcile_interval
            self._reconcile()
        if now >= self._next_info:
            self._next_info = now + CLUSTER_STATUS_EVERY
            self._refresh_info()
        return events

    def _notice_ends(self) -> list[Event]:
        try:
            names = {n[:-5] for n in os.listdir(self.records.dir) if n.endswith(".json") and not n.startswith(".")}
        except FileNotFoundError:
            names = set()
        ended: list[Event] = [Ended(*self.known.pop(job)) for job in [j for j in self.known if j not in names]]
        self.in_flight = len(names)
        return ended

    def _told(self) -> list[Event]:
        """What the nodes said of the files they ended (cluster/told.py), as the notices local
        mode raises; a verdict that is not one is skipped and said."""
        try:
            taken = told.take(self.store.r, self.store.prefix, {f.name for f in self.config.folders})
        except Exception:  # noqa: BLE001 - Redis away: the status says so; the verdicts wait there
            return []
        if taken.refused:
            self.log.warning("verdicts_refused", count=taken.refused,
                             reason="a node's verdict named no folder of this config or no file inside one, or was "
                                    "not a verdict: not notified (a node of another config, or a forged one)")
        for n in taken.notices:  # one line a file here too: the head's log said only `file_sent` of each
            level = self.log.warning if n.event in (NoticeKind.FAILED, NoticeKind.WORKER_LOST) else self.log.info
            level("file_told", told=str(n.event), folder=n.folder, file=n.file, outputs=list(n.outputs),
                  reason=n.reason, step=n.step, attempts=n.attempts)
        if not (taken.notices or taken.dropped):
            return []
        return [Told(tuple(taken.notices), tuple(sorted(taken.dropped.items())), tuple(taken.unmatched))]

    def _reconcile(self) -> None:
        try:
            result = self.reconciler.run()
        except Exception as exc:  # noqa: BLE001 - Redis away: try again next pass
            self.log.warning("reconcile_failed", reason=str(exc))
            return
        if result.resent:
            self.log.warning("jobs_resent", count=result.resent, in_flight=result.records, leased=result.leased,
                             reason="no live lease and not sent recently (lost message, dead node, Redis restart)")
        for rec in self.records.all():
            self.known.setdefault(rec.job, (rec.folder, rec.rel))

    # ------------------------------------------------------------------ status
    def _refresh_info(self) -> None:
        recs = self.records.all()
        oldest = min((r.claimed_at for r in recs), default=None)
        info: dict[str, Any] = {
            "in_flight": len(recs), "oldest_claimed_s": round(time.time() - oldest, 1) if oldest else None,
            "shared_root": str(self.root), "cluster_id": self.config.cluster.cluster_id,
            "versions": dict(self.versions)}
        try:
            self._send_refused()
            self._watch_data()
            processed, failed = self.store.counts()
            info["by_folder"] = self.store.counts_by_folder()
            per_node: dict[str, int] = {}
            leases = self.store.leases()
            for holder in leases.values():
                per_node[holder.node] = per_node.get(holder.node, 0) + 1
            queues = {versions.queue_name(self.config.cluster, v) for v in [*self.versions.values(),
                                                                             *(r.version for r in recs)]}
            info["duplicates"] = self.originals.counts()
            queued = self.store.queue_length(sorted(queues))
            info.update(broker="ok", queue_length=queued, processed=processed,
                        failed=failed, rendering=sum(per_node.values()), per_node=per_node,
                        refused=self.store.refused_count(), held=self._held(recs, set(leases), queued, sorted(queues)),
                        **self._node_versions(recs))
        except Exception as exc:  # noqa: BLE001 - status must not stop the head
            keep = {k: self.info.get(k) for k in ("queue_length", "processed", "failed", "per_node", "rendering",
                                                  "held", "by_folder", "refused", "nodes", "version_problems",
                                                  "duplicates")}
            info.update(keep, broker=f"{'full' if is_full(exc) else 'unreachable'}: {exc}")
            if self._nodes_seen:  # nor could the nodes refresh their registrations: they have a refresh
                self._nodes_seen = time.monotonic()  # once it is back (down longer: the error came at once)
        self.info = info

    def _watch_data(self) -> None:
        """Said when Redis lost its data while the head ran (restarted without appendonly, or
        flushed): the start's check (index_empty) said nothing then, and copies of earlier
        originals were rendered again without a word (an admin's audit of cluster mode).
        Unreachable at the start, the start's check is made when Redis is first reached."""
        if self.store.mark_data():
            if self._marked:
                self.log.warning("redis_data_lost", reason="Redis lost its data (restarted without persistence, or "
                                 "flushed): the index of originals is empty (copies of earlier originals are "
                                 "rendered again, not skipped as duplicates), as are the records of clips passed "
                                 "through (a clip dumped again into another subfolder is archived again), each "
                                 "folder's {seq} starts again at 1 and the counts at 0; queued messages are sent "
                                 "again by the reconciler",
                                 action=data_lost_action(self.config, self.store.prefix))
            else:  # it said index_unreachable then: a Redis up without its data since was said by nothing
                self._check_index()
        self._marked = True

    def _held(self, recs: list[jobs.Record], leases: set[str], queued: int, queues: list[str]) -> int:
        """Jobs a stopped node holds (Reconciler.held_elsewhere), said in the log when they come."""
        held = self.reconciler.held_elsewhere([r.job for r in recs], leases, queued,
                                              lambda: self.store.queued_jobs(queues))
        if held > (self.info.get("held") or 0):
            self.log.warning("jobs_held", count=held, reason=_held_reason(held, self.config.cluster))
        return held

    def _node_versions(self, recs: list[jobs.Record]) -> dict:
        """Each node's config against ours, per folder; what people must hear of it."""
        nodes, builds = self.store.nodes_and_builds()
        now = time.monotonic()
        if nodes:
            self._nodes_seen = now
        elif self._nodes_seen and now - self._nodes_seen < versions.REGISTRATION_TTL / 3 + 1:
            # Redis lost its data (a restart): the live nodes register again within a refresh; till
            # then "no node is registered: start a node" was an error nobody had to act on
            return {k: self.info.get(k) for k in ("nodes", "version_problems")}
        waiting: dict[str, int] = {}
        for record in recs:
            waiting[record.folder] = waiting.get(record.folder, 0) + 1
        found = versions.problems(self.versions, nodes, waiting, builds)
        states = versions.compare(self.versions, nodes)
        stuck = sorted(f for f, by_node in states.items()
                       if waiting.get(f) and versions.NodeVersion.SAME not in by_node.values())
        if found and (states, stuck) != self._versions_said:  # once per change of the nodes, not each second
            for problem in found:
                self.log.error("config_version_mismatch", reason=problem)
            self._mismatch_said = True
        elif not found and self._mismatch_said and nodes:  # the log's last word was an error: said it is over
            self.log.info("config_versions_match", reason="every node registered has the head's config of "
                          "each folder: " + "; ".join(f"folder {f}: {', '.join(by_node)}" for f, by_node in
                                                      sorted(states.items())))
            self._mismatch_said = False
        self._versions_said = (states, stuck)
        return {"nodes": states, "version_problems": found}

    def snapshot(self) -> BackendStatus:
        i = self.info
        return BackendStatus(processed=i.get("processed") or 0, failed=i.get("failed") or 0,
                             queued=i.get("queue_length") or 0, in_flight=i.get("in_flight", self.in_flight),
                             workers=0, workers_alive=0,
                             cluster={k: v for k, v in i.items() if k not in ("by_folder", "duplicates")},
                             by_folder=dict(i.get("by_folder") or {}), duplicates=dict(i.get("duplicates") or {}),
                             problem="; ".join([*(i.get("version_problems") or ()), *_broker_problem(i),
                                                *([_held_reason(i["held"], self.config.cluster)] if i.get("held")
                                                  else [])]))

    def healthy(self) -> bool:
        # A Redis outage is shown in the status, not answered by a restart: it would not help.
        return True

    def idle(self) -> bool:
        return True


def is_full(exc: BaseException) -> bool:
    """Redis refused a write for its memory (maxmemory with noeviction): reachable, and full."""
    return "maxmemory" in str(exc) or type(exc).__name__ == "OutOfMemoryError"


def data_lost_action(config: Config, prefix: str) -> str:
    """What to do when Redis lost its data: the index made again from the archives, and each
    counter of a folder whose names use `{seq}` set by hand, which the rebuild does not make
    (the action named the rebuild only, and such a folder's names came again)."""
    from hotfolder.recipes.facts import need_of_fields
    from hotfolder.recipes.select import template_fields

    action = ("set `appendonly yes` in redis.conf (docs/cluster.md), then run `hotfolder index rebuild` once (on "
              "any machine with the config)")
    counted = [f.name for f in config.folders if need_of_fields(template_fields(f.renditions)).seq]
    if counted:
        action += ("; the rebuild does not set {seq}: SET " + ", ".join(f"{prefix}hf:seq:{name}" for name in counted)
                   + " to the last number each gave (the newest outputs' names say it), or the names it gave "
                     "come again (then on_name_clash decides: suffixed by default)")
    return action


def _held_reason(held: int, c: Cluster) -> str:
    return (f"{held} job(s) are neither being rendered nor queued: a node that took them stopped (killed, or its "
            f"machine is gone), or Redis lost them (restarted); Redis hands them to another node after "
            f"cluster.visibility_timeout "
            f"({c.visibility_timeout:g} s), the head sends them again after stale_after ({c.stale_after:g} s) at the "
            f"latest")


def _broker_problem(info: dict) -> list[str]:
    """The broker's trouble, for the status's message (the page, `hotfolder status`, systemd's
    status line): said only in the cluster's own line before, while files piled up in flight
    (a wrong password: an attack round)."""
    broker = str(info.get("broker", ""))
    if broker.startswith("full"):
        return ["the broker (Redis) is full: it refuses writes past its maxmemory, so files wait in processing/ "
                "until it has room; raise its maxmemory (redis.conf, or CONFIG SET maxmemory) or free memory "
                f"({broker.partition(': ')[2].rstrip('. ')})"]
    if not broker.startswith("unreachable"):
        return []
    return [f"the broker (Redis) is {broker.rstrip('. ')}: files wait in processing/ until it answers; "
            "check cluster.broker_url"]
