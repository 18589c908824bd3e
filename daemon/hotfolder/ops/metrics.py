"""Prometheus metrics: what /metrics shows, from the status the loop publishes.

The counts are not kept here: `hotfolder_files_processed_total` and
`hotfolder_files_failed_total` are read from the Status snapshot the loop builds once
a second, which reads the workers' shared Lock-guarded counters (workers/counters.py), the
same numbers `hotfolder status` prints. So a worker crash, a pool rebuild or a reload
changes nothing, and a file is never counted twice. (A prometheus_client Counter
incremented in the main process would be a second count that could drift; its
multiprocess mode keeps files per process, which a SIGKILLed worker leaves behind.)

Only the render durations are observed here, in the main process, from the workers'
Results as the loop handles each Finished event.
"""
from __future__ import annotations

import platform
import re
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily

from hotfolder import __version__, build
from hotfolder.status import Status

# Seconds: a web rendition takes ~0.05-0.3 s, a 100 MP TIFF or a HEIC tens of seconds.
RENDER_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_VERSION_GIVEN = re.compile(r"version=([^;,]*)")  # of a media type in an Accept header
_VERSION_NUMBER = re.compile(r"\d{1,6}(\.\d{1,6}){0,3}")


class Metrics:
    def __init__(self, cluster: bool = False):
        self.cluster = cluster
        self.registry = CollectorRegistry(auto_describe=False)
        self.render = Histogram("hotfolder_render_seconds", "Time a worker took to render one file (every "
                                "attempt that ended with a result, rendered or failed)", ["folder"],
                                buckets=RENDER_BUCKETS, registry=self.registry)
        self._status: Status | None = None
        self._notifications: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.registry.register(_SnapshotCollector(self))

    def observe_render(self, folder: str, seconds: float) -> None:
        self.render.labels(folder).observe(seconds)

    def publish(self, status: Status, notifications: dict[tuple[str, str], int]) -> None:
        """The loop's latest status, and the notifications sent/failed/dropped per endpoint."""
        with self._lock:
            self._status, self._notifications = status, dict(notifications)

    def latest(self) -> tuple[Status | None, dict]:
        with self._lock:
            return self._status, self._notifications

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The text a scraper asked for (Prometheus text or OpenMetrics), and its content type.
        An Accept whose `version=` is no version (`1.0.0<b>`, `abc`) gets the text format, as one
        that names none does: prometheus_client raised on some (a 500 and a traceback in the log
        for each request) and wrote the others into the Content-Type (an attack round)."""
        encode, content_type = choose_encoder(accept if _versions_readable(accept) else "")
        return encode(self.registry), content_type


def _versions_readable(accept: str) -> bool:
    """Every `version=` of an Accept header is a version: numbers and dots."""
    return all(_VERSION_NUMBER.fullmatch(v.strip()) for v in _VERSION_GIVEN.findall(accept))


class _SnapshotCollector:
    """Turns the published Status into metric families at each scrape."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        status, notifications = self.metrics.latest()
        # `build` added to the labels the alerts and dashboards know: the code, not only the release
        info = GaugeMetricFamily("hotfolder_build_info", "hotfolder's version and build (the value is always 1)",
                                 labels=["version", "python", "mode", "build"])
        info.add_metric([__version__, platform.python_version(), "cluster" if self.metrics.cluster else "local",
                         build.identity()], 1)
        yield info
        if status is None:
            return
        processed = CounterMetricFamily("hotfolder_files_processed", "Files rendered and archived since the "
                                        "daemon started (the count `hotfolder status` shows)", labels=["folder"])
        failed = CounterMetricFamily("hotfolder_files_failed", "Files moved to failed/ since the daemon started",
                                     labels=["folder"])
        for name, counts in status.folders.items():
            processed.add_metric([name], counts.get("processed", 0))
            failed.add_metric([name], counts.get("failed", 0))
        yield processed
        yield failed
        duplicates = CounterMetricFamily("hotfolder_duplicates", "Originals found to repeat an earlier one (kind "
                                         "exact: the same bytes) or to look like one (similar), since the daemon "
                                         "started: skipped, flagged, failed or rendered again as the folder says",
                                         labels=["folder", "kind"])
        for name, counts in status.folders.items():
            for kind in ("exact", "similar"):
                duplicates.add_metric([name, kind], (counts.get("duplicates") or {}).get(kind, 0))
        yield duplicates
        yield _gauge("hotfolder_queued", "Files waiting: claimed and not yet started, or ready in an inbox",
                     status.queued + status.waiting)
        yield _gauge("hotfolder_in_flight", "Files being rendered now", status.in_flight)
        # When the counts above were taken: a loop behind its once-a-second snapshot shows here
        # (and a test compares the counts with the folders at that moment, not at the scrape's).
        yield _gauge("hotfolder_status_updated_timestamp_seconds", "When the daemon's loop took the snapshot these "
                     "gauges and counters come from (Unix time; it does so about once a second)", status.updated)
        yield _gauge("hotfolder_failed_files", "Files in the failed/ folders now", status.in_failed)
        yield _untakeable(status)
        yield _per_folder("hotfolder_output_subfolders_held", "Output subfolders the daemon may not write now, per "
                          "folder: the files rendered into them wait in the inbox (the log's "
                          "output_subfolder_unwritable says which and why)", status,
                          lambda counts: counts.get("subfolders_held", 0))
        yield _per_folder("hotfolder_clips_comparing", "Clips passed through again (on_duplicate: skip) being "
                          "compared byte for byte with the archived clip of their name and size, or waiting for "
                          "their turn, per folder: they lie in the inbox meanwhile, neither queued nor in flight",
                          status, lambda counts: counts.get("comparing", 0))
        if not self.metrics.cluster:  # in cluster mode the workers are other machines' (see docs/cluster.md)
            yield _gauge("hotfolder_workers_alive", "Worker processes alive", status.workers_alive)
            yield _gauge("hotfolder_workers", "Worker processes wanted (the config's workers)", status.workers)
        if self.metrics.cluster:
            yield from _cluster_families(status.cluster)
        yield _gauge("hotfolder_claiming_paused", "1 while taking new files is paused (the output folder is "
                     "unusable: disk full, permissions; a folder's watermark or colour profile is; a folder's "
                     "share is not mounted)", int(status.claiming_paused))
        yield _per_folder("hotfolder_folder_unmounted", "1 while a place of the folder (inbox, output, ...) is on a "
                          "share that is not mounted: the folder waits for it", status,
                          lambda counts: int(bool(counts.get("unmounted"))))
        yield _gauge("hotfolder_config_reload_failed", "1 when the last reload was refused (the previous config "
                     "runs on)", int(status.reload_failed))
        yield _gauge("hotfolder_start_time_seconds", "When the daemon started (Unix time)", status.started)
        sent = CounterMetricFamily("hotfolder_notifications", "Notification messages per endpoint (notify[i]) and "
                                   "outcome: sent, failed (after retries), dropped (events beyond the batch limit)",
                                   labels=["endpoint", "outcome"])
        for (endpoint, outcome), n in sorted(notifications.items()):
            sent.add_metric([endpoint, outcome], n)
        yield sent


def _untakeable(status: Status) -> GaugeMetricFamily:
    """Inbox files a folder cannot take now, by why (the status's `untakeable`; the log says
    each once): a `chmod 555` inbox was seen in the log only (an admin's report)."""
    family = GaugeMetricFamily("hotfolder_untakeable_files", "Files in a folder's inbox the daemon cannot take now, "
                               "by reason: permission (it may not move them: the inbox's or a subfolder's "
                               "permissions, an immutable file), other_file_system (a mount inside the inbox), "
                               "not_a_file (a FIFO, socket or device)", labels=["folder", "reason"])
    for name, counts in status.folders.items():
        for reason, n in (counts.get("untakeable") or {}).items():
            family.add_metric([name, reason], n)
    return family


def _per_folder(name: str, doc: str, status: Status, value: Callable[[dict], float]) -> GaugeMetricFamily:
    """A gauge per folder, its `value` of the folder's counts in the status."""
    family = GaugeMetricFamily(name, doc, labels=["folder"])
    for folder, counts in status.folders.items():
        family.add_metric([folder], value(counts))
    return family


def _cluster_families(cluster: dict):
    """Nodes per folder by config version (cluster/versions.py), and the jobs nodes refused."""
    nodes = GaugeMetricFamily("hotfolder_cluster_nodes", "Nodes registered now, per folder of the head and their "
                              "config of it: same (the head's version), other (another version: they take none of "
                              "its files), missing (they have no such folder)", labels=["folder", "config"])
    for folder, by_node in sorted((cluster.get("nodes") or {}).items()):
        for state in ("same", "other", "missing"):
            nodes.add_metric([folder, state], sum(1 for s in by_node.values() if s == state))
    yield nodes
    yield CounterMetricFamily("hotfolder_cluster_jobs_refused", "Jobs nodes refused (another config version, a "
                              "folder they lack); each is sent again to the nodes of the head's config",
                              value=cluster.get("refused") or 0)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
