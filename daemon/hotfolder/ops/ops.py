"""What admins and studio staff see and hear: /metrics, the status page and its
requeue, and notifications. The service owns one Ops and talks to it in four places:

    notice(n)        the hook: a file done or failed, claiming paused or resumed, a reload
                     refused, a worker lost, recovery done (see notices.py); never raises
    finished(job, r) a worker's Result: its render time for the histogram
    publish(status)  once a second: the snapshot every request reads
    serve(...)       each turn: carry out the requeues the page asked for

The web reads it through two protocols (view.py): StatusSource (the view, /metrics) and
Requeuer (request_requeue, from a request's thread); it never imports this module.

Threads (all daemon threads of the main process, started after the pool's forkserver):
the HTTP listener (one asyncio loop, and the few threads that answer whole requests:
web/server.py), and one thread per notify endpoint (notify.py). None of them touches the ledger, the pool or
a file of the spool: the loop does, when it carries out a request.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import queue
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

from hotfolder import __version__, build, redact
from hotfolder.config.model import Config, Http
from hotfolder.ops.metrics import Metrics
from hotfolder.ops.notices import SKIPPED, Notice, NoticeKind
from hotfolder.ops.notify import Notifications
from hotfolder.ops.view import RequeueCode, RequeueOutcome, View
from hotfolder.ops.web.app import App
from hotfolder.ops.web.auth import Auth
from hotfolder.ops.web.hosts import HostPolicy
from hotfolder.ops.web.server import Limits, WebServer, systemd_socket
from hotfolder.runtime import log
from hotfolder.spool import fsnames, moves
from hotfolder.spool.failed_files import FailedIndex
from hotfolder.status import Status

RECENT = 50  # files done, for the page


REQUEUE_WAIT = 10.0  # seconds a request waits for the loop to carry out its requeue


BIND_RETRY = 10.0  # seconds between tries to listen when the address was taken


MAX_REQUESTS_WAITING = 32


@dataclass
class _Ask:
    fid: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: RequeueOutcome | None = None


class Ops:
    def __init__(self, config: Config):
        self.config = config
        self.log = log.get("ops")
        self.host = socket.gethostname()
        self.metrics = Metrics(cluster=config.cluster.enabled)
        self.notifications = Notifications()
        self.failed = FailedIndex()
        self.recent: deque[Notice] = deque(maxlen=RECENT)
        self.auth = Auth(config.http.token if config.http else "")
        self._asks: queue.Queue[_Ask] = queue.Queue(MAX_REQUESTS_WAITING)
        self._view: View | None = None
        self._server: WebServer | None = None
        self._listening: Http | None = None
        # The socket systemd passed (its variables left os.environ before any process started).
        self._systemd_socket = systemd_socket()
        self._from_systemd = False
        self._next_bind = 0.0
        self.problem = ""  # for the status: the listener could not be had

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self.notifications.configure(self.config.notify, self.config.notify_interval)
        if self.config.notify and _no_network():
            self.log.warning("notify_offline", reason="this process has no network but the loopback (systemd's "
                             "PrivateNetwork=yes): notifications to other machines cannot be sent",
                             action="install systemd/hotfolder-notify.conf as a drop-in of hotfolder.service")
        self._listen()

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self.notifications.configure(config.notify, config.notify_interval)
        self.auth.set_token(config.http.token if config.http else "")
        if self._server is not None and config.http is not None:
            self._server.configure(_limits(config.http))
            self._server.app.hosts = HostPolicy.of(self._server.app.hosts.loopback, config.http.allowed_hosts)
        if self._from_systemd:
            return  # the socket is systemd's; its address is hotfolder.socket's business
        wanted = (config.http.host, config.http.port) if config.http else None
        have = (self._listening.host, self._listening.port) if self._listening else None
        if wanted != have:
            self._stop_listening()
            self._listen()

    def stop(self) -> None:
        self._stop_listening()
        self.notifications.stop()
        while True:  # whoever still waits for a requeue hears no
            try:
                ask = self._asks.get_nowait()
            except queue.Empty:
                break
            self._answer(ask, RequeueOutcome(False, RequeueCode.STOPPING, "the daemon is stopping", status=503))

    def _listen(self) -> None:
        http = self.config.http
        if http is None:
            self.problem = ""  # no listener asked for: none missing
            return
        if self._server is not None and self._server.running:
            return
        self._next_bind = time.monotonic() + BIND_RETRY
        sock, self._systemd_socket = self._systemd_socket, None
        loopback = _is_loopback(sock.getsockname()[0] if sock else http.host)
        server = WebServer(App(self, self, self.auth, HostPolicy.of(loopback, http.allowed_hosts)))
        try:
            url = server.start(http.host, http.port, sock, _limits(http))
        except OSError as exc:
            problem = f"the status page and /metrics are off: cannot listen on {http.address}: " \
                      f"{exc.strerror or exc}"
            if problem != self.problem:  # said once, not at each try (8,640 error lines a day)
                self.log.error("http_unavailable", address=http.address, reason=exc.strerror or str(exc),
                               action=_bind_action(exc))
            self.problem = problem
            return
        self._server, self._listening, self._from_systemd = server, http, sock is not None
        self.problem = ""
        if sock is None and _no_network():
            self.log.warning("http_unreachable", reason="this process has no network but its own loopback "
                             "(systemd's PrivateNetwork=yes): nobody else can reach the listener",
                             action=SOCKET_UNIT)
        self.log.info("http_listening", url=url, socket="systemd" if sock else "own",
                      requeue="token" if self.auth.enabled else "off (no http.token: read-only)",
                      hosts=("localhost, loopback addresses" if loopback else "localhost, IP addresses")
                      + "".join(f", {h}" for h in http.allowed_hosts),
                      max_connections=http.max_connections)

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = self._listening = None

    # ------------------------------------------------------------------ hook
    def notice(self, notice: Notice) -> None:
        """The service's hook. Never raises, never blocks: a notification's trouble is not the loop's."""
        try:
            # Names as data to show: bytes that are not UTF-8 as \xNN (raw, an output's name broke the
            # page and every notification of its batch: a review).
            notice = replace(notice, file=fsnames.display(notice.file),
                             reason=redact.text(fsnames.display(notice.reason)),
                             outputs=tuple(fsnames.display(o) for o in notice.outputs))
            if notice.event == NoticeKind.DONE or notice.step == SKIPPED:
                self.recent.appendleft(notice)  # the page's list: what became of each file, skipped duplicates too
            self.notifications.submit(notice)  # each endpoint takes the events it asked for (`done`: opt-in)
        except Exception:  # noqa: BLE001 - see the docstring
            self.log.exception("notice_failed", kind=notice.event)

    def dropped(self, event: str, n: int) -> None:
        """Notices of `event` lost before they reached us (a cluster's full list of verdicts):
        counted as each endpoint that takes the event counts what it drops."""
        try:
            self.notifications.dropped(event, n)
            self.log.warning("notices_dropped", kind=event, count=n,
                             reason="the nodes' list of verdicts was full (the head was stopped or fell behind): "
                                    "these files were not notified")
        except Exception:  # noqa: BLE001 - see notice()
            self.log.exception("notice_failed", kind=event)

    def finished(self, folder: str, duration_ms: float) -> None:
        try:
            if duration_ms > 0:
                self.metrics.observe_render(folder, duration_ms / 1000.0)
        except Exception:  # noqa: BLE001 - metrics must not stop the loop
            self.log.exception("metrics_failed")

    # ------------------------------------------------------------------ publish
    def publish(self, status: Status) -> None:
        """The loop's status of this second, for every reader until the next one."""
        if self.config.http is not None and not self.running and time.monotonic() >= self._next_bind:
            self._listen()
        if self.config.http is None:
            return
        self.failed.refresh(self.config.folders)
        self.metrics.publish(status, self.notifications.counts())
        self._view = View(status, self.failed.files, tuple(self.recent), self.host, __version__, self.auth.enabled,
                          build.identity())

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    def view(self) -> View | None:
        """The status page's view of the last second (StatusSource); None before the first."""
        return self._view

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """/metrics as the scraper asked for it (StatusSource)."""
        return self.metrics.exposition(accept)

    # ------------------------------------------------------------------ requeue
    def request_requeue(self, fid: str) -> RequeueOutcome:
        """From a request's thread: ask the loop, wait for its answer (with a deadline). (Requeuer)"""
        ask = _Ask(fid)
        try:
            self._asks.put_nowait(ask)
        except queue.Full:
            return RequeueOutcome(False, RequeueCode.BUSY, "too many requests waiting", status=503)
        if not ask.done.wait(REQUEUE_WAIT) or ask.outcome is None:
            return RequeueOutcome(False, RequeueCode.BUSY, "the daemon did not answer in time", status=503)
        return ask.outcome

    def serve(self, stopping: bool) -> bool:
        """In the loop: carry out the requeues asked for. True if one moved a file."""
        moved = False
        while True:
            try:
                ask = self._asks.get_nowait()
            except queue.Empty:
                return moved
            outcome = (RequeueOutcome(False, RequeueCode.STOPPING, "the daemon is stopping", status=503) if stopping
                       else self._requeue(ask.fid))
            moved = moved or outcome.ok
            self._answer(ask, outcome)

    def _requeue(self, fid: str) -> RequeueOutcome:
        found = self.failed.lookup(fid)
        if found is None:
            self.failed.refresh(self.config.folders, force=True)  # listed since the last look?
            found = self.failed.lookup(fid)
        folder = next((f for f in self.config.folders if found and f.name == found[0]), None)
        if found is None or folder is None:
            return RequeueOutcome(False, RequeueCode.GONE, "no such file in failed/ (requeued already?)", status=404)
        path = found[1]
        before = self.failed.stamp(folder)
        try:
            dst = moves.requeue(folder, path)
        except FileNotFoundError:
            return RequeueOutcome(False, RequeueCode.GONE, "no such file in failed/ (requeued already?)", status=404)
        except moves.UnsafeRecord as exc:  # its record names a place outside the inbox: data, not a path
            self.log.error("requeue_refused", folder=folder.name, file=fsnames.display(str(path)), reason=str(exc))
            return RequeueOutcome(False, RequeueCode.REFUSED, str(exc), status=409)
        except OSError as exc:
            self.log.error("requeue_failed", folder=folder.name, file=fsnames.display(str(path)),
                           reason=exc.strerror or str(exc))
            return RequeueOutcome(False, RequeueCode.MOVE, f"could not move it back: {exc.strerror or exc}", status=500)
        rel = fsnames.display(path.relative_to(folder.failed).as_posix())
        self.log.info("requeued", folder=folder.name, file=rel, inbox=fsnames.display(str(dst)), by="http")
        self.failed.removed(folder, path, before)
        return RequeueOutcome(True, file=rel, folder=folder.name,
                              message=f"back in the inbox as {fsnames.display(os.path.basename(dst))}")

    @staticmethod
    def _answer(ask: _Ask, outcome: RequeueOutcome) -> None:
        ask.outcome = outcome
        ask.done.set()


#: what lets the service listen under systemd: hotfolder.socket. In this order: systemd refuses
#: to start a socket whose service runs already ("already active, refusing").
SOCKET_UNIT = ("let systemd listen for it: systemctl stop hotfolder && systemctl enable --now hotfolder.socket "
               "&& systemctl start hotfolder (systemd/install.sh does it when the config has http:)")


def _bind_action(exc: OSError) -> str:
    """What to change when the listener's socket cannot be had."""
    if exc.errno == errno.EAFNOSUPPORT:  # RestrictAddressFamilies=AF_UNIX: socket() itself is refused
        return ("this process may not open Internet sockets (the systemd unit's RestrictAddressFamilies=AF_UNIX, "
                f"or no IPv6 in the kernel for an IPv6 address): {SOCKET_UNIT}; tried again every {BIND_RETRY:g} s")
    return f"free the address or change http.listen; tried again every {BIND_RETRY:g} s"


def _no_network() -> bool:
    """Only a loopback interface: a private network namespace (PrivateNetwork=yes)."""
    try:
        return os.listdir("/sys/class/net") == ["lo"]
    except OSError:
        return False


def _limits(http: Http) -> Limits:
    return Limits(max_connections=http.max_connections, request_timeout=http.request_timeout)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
