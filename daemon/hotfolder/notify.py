"""Notifications: each `notify:` item hears the events it asked for, off the main loop.

Each endpoint has its own thread and a bounded list of pending events. The loop only
appends to that list (never waits on the network). The thread gathers a burst for a
moment (GATHER), sends everything pending as one message, then sends at most one
message per `notify_interval`: a hundred files failing at once make one or two
messages, not a hundred. A message that cannot be delivered is retried with backoff
(RETRY_DELAYS), then logged and dropped: a dead endpoint never stops the daemon, and
never holds more than MAX_PENDING events in memory.

http:// and https:// URLs get a JSON POST, signed with HMAC-SHA256 of the body in
`X-Hotfolder-Signature: sha256=<hex>` when the item has a `secret` (GitHub's
X-Hub-Signature-256 convention). Any other scheme goes through apprise.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from . import __version__, log
from .config import NotifyTarget
from .notices import Notice

GATHER = 1.0  # seconds the first event of a quiet endpoint waits for the rest of its burst
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)  # between the tries of one message
MAX_PENDING = 100  # events kept per endpoint; more are counted in the message, not listed
SEND_TIMEOUT = 10.0  # seconds for one try
STOP_GRACE = 2.0  # seconds a stopping daemon gives its endpoints to send what is pending
# An answer that another try may change; other 4xx (a wrong URL, a rejected signature) will not.
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class Undeliverable(Exception):
    def __init__(self, reason: str, retry: bool = True):
        super().__init__(reason)
        self.retry = retry


@dataclass(frozen=True)
class Message:
    """One delivery: the events it carries, and how many there were in all."""

    notices: tuple[Notice, ...]
    total: int
    host: str

    def payload(self) -> dict:
        """The first event's fields at the top level (a receiver that handles one event
        reads those), every event listed in `events`, `count` of them in all."""
        events = [_fields(n, self.host) for n in self.notices]
        return {**events[0], "count": self.total, "events": events}

    def text(self) -> tuple[str, str]:
        """Title and body for apprise (mail, chat, push)."""
        first = self.notices[0]
        kinds = sorted({n.event for n in self.notices})
        if self.total == 1:
            title = f"hotfolder on {self.host}: {_describe(first)}"
        else:
            title = f"hotfolder on {self.host}: {self.total} events ({', '.join(kinds)})"
        lines = [_line(n) for n in self.notices]
        if self.total > len(self.notices):
            lines.append(f"… and {self.total - len(self.notices)} more")
        return title, "\n".join(lines)


def _fields(n: Notice, host: str) -> dict:
    return {"event": n.event, "folder": n.folder, "file": n.file, "reason": n.reason, "step": n.step,
            "attempts": n.attempts, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(n.time)), "host": host}


def _describe(n: Notice) -> str:
    what = {"failed": "file failed", "paused": "claiming paused", "reload_refused": "reload refused",
            "worker_lost": "worker lost", "recovered": "recovered"}.get(n.event, n.event)
    return f"{what}: {n.folder}/{n.file}" if n.file else what


def _line(n: Notice) -> str:
    where = "/".join(part for part in (n.folder, n.file) if part)
    step = f" (step {n.step}, attempt {n.attempts})" if n.step else ""
    return f"{n.event}: {where + ': ' if where else ''}{n.reason}{step}"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured; urllib would resend the POST as a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_webhook(target: NotifyTarget, message: Message) -> None:
    body = json.dumps(message.payload(), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"hotfolder/{__version__}",
               "X-Hotfolder-Event": message.notices[0].event}
    if target.secret:
        headers["X-Hotfolder-Signature"] = sign(target.secret, body)
    request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=SEND_TIMEOUT) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise Undeliverable(f"HTTP {exc.code} {exc.reason}", retry=exc.code in RETRY_STATUS) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Undeliverable(str(getattr(exc, "reason", exc))) from None


class AppriseSender:
    """Other schemes (mailto://, slack://, ntfy://, matrix://, …) through apprise."""

    def __init__(self, url: str):
        import apprise

        logging.getLogger("apprise").addHandler(logging.NullHandler())  # we log the outcome ourselves
        logging.getLogger("apprise").propagate = False
        self.apprise = apprise
        self.client = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
        if not self.client.add(url):
            raise Undeliverable("apprise does not accept this URL", retry=False)

    def __call__(self, _target: NotifyTarget, message: Message) -> None:
        title, body = message.text()
        bad = any(n.event != "recovered" for n in message.notices)
        kind = self.apprise.NotifyType.FAILURE if bad else self.apprise.NotifyType.SUCCESS
        if not self.client.notify(body=body, title=title, notify_type=kind):
            raise Undeliverable("apprise could not deliver it (see the service's own error, e.g. with "
                                "`apprise -vv URL`)")


class Endpoint(threading.Thread):
    """One notify item: its pending events, its pace, its deliveries."""

    def __init__(self, index: int, target: NotifyTarget, interval: float, host: str):
        super().__init__(name=f"hotfolder-notify-{index}", daemon=True)
        self.index, self.target, self.interval, self.host = index, target, interval, host
        self.name_ = f"notify[{index}]"
        self.log = log.get("notify").bind(endpoint=self.name_, url=target.shown)
        self.cond = threading.Condition()
        self.pending: list[Notice] = []
        self.omitted = 0  # events beyond MAX_PENDING since the last message
        self.first_at = 0.0  # when the oldest pending event arrived
        self.next_send = 0.0  # not before: one message per interval
        self.stopping = False
        self.counts = {"sent": 0, "failed": 0, "dropped": 0}
        self._send = None

    def put(self, notice: Notice) -> None:
        """Never blocks on the network (the loop calls it)."""
        if notice.event not in self.target.events:
            return
        with self.cond:
            if not self.pending and not self.omitted:
                self.first_at = time.monotonic()
            if len(self.pending) < MAX_PENDING:
                self.pending.append(notice)
            else:
                self.omitted += 1
            self.cond.notify()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()

    def run(self) -> None:
        try:
            self._send = post_webhook if self.target.is_webhook else AppriseSender(self.target.url)
        except Exception as exc:  # noqa: BLE001 - a broken endpoint is logged, never fatal
            self.log.error("notify_unusable", reason=str(exc))
            return
        while True:
            message = self._next_message()
            if message is None:
                return
            self._deliver(message)

    def _next_message(self) -> Message | None:
        with self.cond:
            while True:
                if self.pending:
                    due = max(self.first_at + GATHER, self.next_send)
                    wait = due - time.monotonic()
                    if wait <= 0 or self.stopping:
                        break
                    self.cond.wait(wait)
                elif self.stopping:
                    return None
                else:
                    self.cond.wait()
            notices, total = tuple(self.pending), len(self.pending) + self.omitted
            if self.omitted:
                self.counts["dropped"] += self.omitted
            self.pending, self.omitted = [], 0
            return Message(notices, total, self.host)

    def _deliver(self, message: Message) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS, None), start=1):
            try:
                self._send(self.target, message)
            except Undeliverable as exc:
                if delay is None or not exc.retry or self.stopping:
                    self.counts["failed"] += 1
                    self.log.error("notify_failed", reason=str(exc), events=message.total, tries=attempt,
                                   action="dropped; the daemon goes on (check the URL and the endpoint)")
                    break
                self.log.warning("notify_retry", reason=str(exc), tries=attempt, retry_in_s=delay)
                with self.cond:
                    self.cond.wait_for(lambda: self.stopping, delay)
            except Exception as exc:  # noqa: BLE001 - never let a sender's bug end the thread
                self.counts["failed"] += 1
                self.log.exception("notify_failed", reason=f"{type(exc).__name__}: {exc}", events=message.total)
                break
            else:
                self.counts["sent"] += 1
                self.log.info("notify_sent", events=message.total, first=message.notices[0].event, tries=attempt)
                break
        self.next_send = time.monotonic() + self.interval


class Notifier:
    """Every endpoint of the config; kept across reloads when an item is unchanged."""

    def __init__(self):
        self.host = socket.gethostname()
        self.endpoints: list[Endpoint] = []
        self.interval = 30.0
        self._gone: dict[tuple[str, str], int] = {}  # counts of endpoints a reload removed

    def configure(self, targets: tuple[NotifyTarget, ...], interval: float) -> None:
        old = {(e.index, e.target, e.interval): e for e in self.endpoints}
        kept: list[Endpoint] = []
        for i, target in enumerate(targets):
            endpoint = old.pop((i, target, interval), None)
            if endpoint is None:
                endpoint = Endpoint(i, target, interval, self.host)
                endpoint.start()
            kept.append(endpoint)
        for endpoint in old.values():
            endpoint.stop()  # it sends what it holds, then ends
            for outcome, n in endpoint.counts.items():
                key = (endpoint.name_, outcome)
                self._gone[key] = self._gone.get(key, 0) + n
        self.endpoints, self.interval = kept, interval

    def submit(self, notice: Notice) -> None:
        for endpoint in self.endpoints:
            endpoint.put(notice)

    def counts(self) -> dict[tuple[str, str], int]:
        out = dict(self._gone)
        for e in self.endpoints:
            for outcome, n in e.counts.items():
                out[(e.name_, outcome)] = out.get((e.name_, outcome), 0) + n
        return out

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Each endpoint sends what is pending (one try), within `grace` seconds in all."""
        for endpoint in self.endpoints:
            endpoint.stop()
        deadline = time.monotonic() + grace
        for endpoint in self.endpoints:
            endpoint.join(max(0.0, deadline - time.monotonic()))
        self.endpoints = []
