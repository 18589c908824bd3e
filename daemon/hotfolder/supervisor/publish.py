"""Publishing the service's status: the snapshot file, /metrics and the page, sd_notify.

Once a second, and at once after a change people must see (started, reloaded, a reload
refused, stopped), the publisher gathers one `Status` from the backend's numbers, the
ledger's claims, the gate's pauses and the watcher's queue, and hands it on:

    status.json       SnapshotWriter (instance.py): `hotfolder status` reads it
    ops.publish       the same snapshot, for /metrics and the status page
    STATUS=           one line for `systemctl status`
    WATCHDOG=1        only while the service runs and its backend and watcher are healthy

It reads the service through `Published` and changes nothing of it.
"""
from __future__ import annotations

import os
import time
from typing import Protocol

from hotfolder import build, redact
from hotfolder.arrival.watcher import Watcher
from hotfolder.backend import Backend, BackendStatus
from hotfolder.config.model import Config
from hotfolder.ops.ops import Ops
from hotfolder.runtime import log, systemd
from hotfolder.status import ServiceState, Status
from hotfolder.supervisor.duplicates import counted
from hotfolder.supervisor.folder_slots import FolderSlots
from hotfolder.supervisor.gate import UNTAKEABLE_KINDS, ClaimGate
from hotfolder.supervisor.instance import SnapshotWriter
from hotfolder.supervisor.ledger import Ledger

STATUS_EVERY = 1.0  # seconds between two snapshots (and watchdog pings)


class Published(Protocol):
    """What the publisher reads of the service."""

    config: Config
    started: float
    state: ServiceState
    refused_reload: str  # why the last reload was refused ("" once one is applied)
    backend: Backend
    ledger: Ledger
    gate: ClaimGate
    slots: FolderSlots
    ops: Ops
    watcher: Watcher | None

    def unmounted(self) -> dict[str, str]: ...  # folders waiting for their share, by name: why


class Publisher:
    def __init__(self, service: Published):
        self.service = service
        self.snapshot = SnapshotWriter()  # its lock is the instance lock, once the service holds it
        self.last = 0.0  # time.monotonic() of the last publish

    def due(self, now: float) -> bool:
        return now - self.last >= STATUS_EVERY

    def publish(self, force: bool = False) -> Status | None:
        """Publish the status if a second has passed (or `force`); the Status published, or None."""
        now = time.monotonic()
        if not force and not self.due(now):
            return None
        self.last = now
        s = self.service
        status = self.status()
        self.snapshot.write(s.config.status_file, status)
        s.ops.publish(status)  # the same snapshot, for /metrics and the status page
        systemd.status(self.line(status))
        if s.state == ServiceState.RUNNING and self._healthy():
            systemd.watchdog()
        return status

    def status(self) -> Status:
        s = self.service
        # Stamped before the figures are taken (~ms under load): a reader comparing it with
        # the time of an event knows the figures came after it.
        taken = time.time()
        b = s.backend.snapshot()
        return Status(
            updated=taken, pid=os.getpid(), started=s.started, processed=b.processed, failed=b.failed,
            queued=b.queued, waiting=s.watcher.pending_count() if s.watcher else 0,
            in_flight=b.in_flight, workers=b.workers, workers_alive=b.workers_alive,
            state=s.state, message=redact.text(self._message(b.problem)), config=str(s.config.source),
            current=b.current, cluster=_masked(b.cluster), in_failed=self._in_failed(),
            folders=self._folder_counts(b),
            claiming_paused=s.gate.closed_anywhere(time.monotonic()) or bool(s.unmounted()),
            reload_failed=bool(s.refused_reload), unmatched=sum(s.ledger.unmatched.values()),
            sidecars_late=sum(s.ledger.sidecars.late.values()), build=build.identity(),
        )

    def line(self, status: Status | None = None) -> str:
        """The one line of sd_notify STATUS (and of READY=1)."""
        st = status or self.status()
        # clips in the inbox compared with their archived twin: neither queued nor in flight
        comparing = sum(c.get("comparing", 0) for c in st.folders.values())
        also = f", comparing {comparing}" if comparing else ""
        if st.cluster:
            line = (f"cluster: processed {st.processed}, failed {st.failed}, queue {st.queued}, "
                    f"in flight {st.in_flight}{also}, broker {st.cluster.get('broker')}")
        else:
            line = (f"processed {st.processed}, failed {st.failed}, queued {st.queued + st.waiting}, "
                    f"in flight {st.in_flight}{also}, workers {st.workers_alive}/{st.workers}")
        return f"{line}; {st.message}" if st.message else line

    def _folder_counts(self, b: BackendStatus) -> dict:
        """Per folder: processed and failed from the backend's shared counts (every folder
        counted since the start, also one a reload removed), waiting, claimed, the inbox
        files it cannot take (by kind), the output subfolders whose files wait and the clips
        being compared (passed_again.py), now."""
        s = self.service
        names = s.slots.names()
        counts = dict(b.by_folder) or {name: b.by_slot[i] for i, name in enumerate(names) if i < len(b.by_slot)}
        claimed = s.ledger.claimed_by_folder()
        paused = s.gate.recipes.reasons()
        untakeable = s.gate.untakeable_by_folder()
        held = s.gate.subfolders.by_folder(time.monotonic())
        unmounted = self.service.unmounted()
        same = counted(b.duplicates, s.ledger.sameness.counts)  # the cluster's (Redis) and this daemon's own
        comparing = s.ledger.passes.comparing()  # clips passed through again, compared here (a cluster's head too)
        out = {}
        for name in dict.fromkeys([*names, *counts, *comparing]):
            processed, failed = counts.get(name, (0, 0))
            inbox = s.watcher.inboxes.get(name) if s.watcher else None
            tally = same.get(name) or {}
            out[name] = {"processed": processed, "failed": failed, "claimed": claimed.get(name, 0),
                         "waiting": inbox.pending_count() if inbox else 0, "paused": paused.get(name, ""),
                         "unmounted": unmounted.get(name, ""),
                         "unmatched": s.ledger.unmatched.get(name, 0),
                         "sidecars_late": s.ledger.sidecars.late.get(name, 0),
                         "duplicates": {k: tally.get(k, 0) for k in ("exact", "similar", "passed_through")},
                         "names_reused": {k: tally.get(k, 0) for k in ("new_version", "different_photo")},
                         "untakeable": untakeable.get(name) or dict.fromkeys(UNTAKEABLE_KINDS, 0),
                         "subfolders_held": held.get(name, 0), "comparing": comparing.get(name, 0)}
        return out

    def _in_failed(self) -> int:
        """Files in failed/ now: kept by the ledger's moves and the page's requeues, walked
        again only when something else changed failed/ (failed_files.FailedIndex)."""
        s = self.service
        s.ops.failed.refresh(s.config.folders)
        return s.ops.failed.total

    def _message(self, backend_problem: str = "") -> str:
        s = self.service
        watcher = s.watcher.notes() if s.watcher else ""
        return "; ".join(m for m in (s.gate.message, s.gate.notes(), watcher, s.refused_reload, log.dropped(),
                                     s.ops.problem, self.snapshot.problem, backend_problem) if m)

    def _healthy(self) -> bool:
        s = self.service
        return s.backend.healthy() and (s.watcher is None or s.watcher.healthy())


def _masked(cluster: dict) -> dict:
    """The cluster's part of the status: its texts (the broker's error) with every known secret masked."""
    return {k: redact.text(v) if isinstance(v, str) else v for k, v in cluster.items()}
