"""Notifications: each `notify:` item hears the events it asked for, off the main loop.

Each endpoint has its own thread and a bounded list of pending events. The loop only
appends to that list (never waits on the network). The thread gathers a burst for a
moment (GATHER), sends everything pending as one message, then sends at most one
message per `notify_interval`: a hundred files failing at once make one or two
messages, not a hundred. A message that cannot be delivered is retried with backoff
(1, 2, 4, 8, 16 s), then logged and dropped: a dead endpoint never stops the daemon, and
never holds more than MAX_PENDING events in memory (MAX_PENDING_DONE for one that asks for
`done`, whose backlog goes out in messages of MAX_PENDING, one after another).

http:// and https:// URLs get a JSON POST, signed with HMAC-SHA256 of the body in
`X-Hotfolder-Signature: sha256=<hex>` when the item has a `secret` (GitHub's
X-Hub-Signature-256 convention). Any other scheme goes through apprise.

A try has a deadline for the whole of it, and a reload that replaces an endpoint
abandons its try at once (senders.py): a stuck endpoint never holds a thread or a socket
for long, and is counted and logged as failing.
"""
from __future__ import annotations

import itertools
import socket
import threading
import time
from enum import StrEnum

from hotfolder import redact
from hotfolder.backoff import Backoff
from hotfolder.config.choices import NotifyEvent
from hotfolder.config.model import NotifyTarget
from hotfolder.ops.message import Message
from hotfolder.ops.notices import Notice
from hotfolder.ops.senders import SEND_TIMEOUT, AppriseSender, Send, Try, Undeliverable, post_webhook
from hotfolder.runtime import log

GATHER = 1.0  # seconds the first event of a quiet endpoint waits for the rest of its burst
RETRY_FIRST, RETRY_CAP = 1.0, 16.0  # seconds between the tries of one message: 1, 2, 4, 8, 16
TRIES = 6  # of one message: the first and five retries
MAX_PENDING = 100  # events listed in one message, and kept per endpoint; more are counted, not listed
# Kept by an endpoint that asks for `done` (a shop's importer needs every file): its backlog
# goes out in messages of MAX_PENDING, one right after another. Kept to 100, a burst of 5,000
# files lost 3,700 `done` events to a healthy endpoint (an attack round). ~2 KB an event
# with its manifest: ~10 MB at most.
MAX_PENDING_DONE = 5_000
STOP_GRACE = 2.0  # seconds a stopping daemon gives its endpoints to send what is pending


class Delivery(StrEnum):
    """What became of a message (the `outcome` label of hotfolder_notifications)."""

    SENT = "sent"
    FAILED = "failed"  # after its retries
    DROPPED = "dropped"  # events beyond MAX_PENDING, or that a replaced endpoint could not pass on


class Endpoint(threading.Thread):
    """One notify item: its pending events, its pace, its deliveries."""

    def __init__(self, index: int, target: NotifyTarget, interval: float, host: str):
        super().__init__(name=f"hotfolder-notify-{index}", daemon=True)
        self.index, self.target, self.interval, self.host = index, target, interval, host
        self.item = f"notify[{index}]"  # the config item, as logs and /metrics name it
        self.log = log.get("notify").bind(endpoint=self.item, url=target.shown)
        self.cond = threading.Condition()
        self.pending: list[Notice] = []
        self.omitted = 0  # events beyond `room` since the last message
        self.room = MAX_PENDING_DONE if NotifyEvent.DONE in target.events else MAX_PENDING
        self.first_at = 0.0  # when the oldest pending event arrived
        self.next_send = 0.0  # not before: one message per interval
        self.stopping = False
        self.counts = dict.fromkeys(Delivery, 0)
        self.current: Try | None = None  # the try under way
        self.retired = False  # a reload replaced it
        self.successor: Endpoint | None = None  # the item's new endpoint, if the item is still there
        self._send: Send | None = None

    def put(self, notice: Notice) -> None:
        """Never blocks on the network (the loop calls it)."""
        if notice.event in self.target.events:
            self.adopt((notice,), 0)

    def adopt(self, notices: tuple[Notice, ...], omitted: int) -> None:
        """Events to send (from the loop, or handed over by the endpoint this one replaced)."""
        with self.cond:
            if not self.retired:
                if notices and not self.pending and not self.omitted:
                    self.first_at = time.monotonic()
                room = max(0, self.room - len(self.pending))
                self.pending.extend(notices[:room])
                self.omitted += omitted + max(0, len(notices) - room)
                self.cond.notify()
                return
        self._pass_on(notices, omitted)  # replaced meanwhile (two reloads in a row): on to the newest

    def _pass_on(self, notices: tuple[Notice, ...], omitted: int) -> None:
        """Events a retired endpoint will not send: to its successor, or counted as dropped."""
        successor = self.successor
        if successor is not None:
            successor.adopt(tuple(n for n in notices if n.event in successor.target.events), omitted)
        elif notices or omitted:
            with self.cond:
                self.counts[Delivery.DROPPED] += len(notices) + omitted

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()

    def abort(self, why: str) -> None:
        """End the try under way now (its socket shut down); it counts as failed."""
        with self.cond:
            current = self.current
        if current is not None:
            current.abort(why)

    def retire(self, successor: Endpoint | None) -> None:
        """A reload replaced this item: what is pending, and the events of a try cut
        short, go to its successor (the item at the same place, if any); the thread ends
        at once, even when stuck in a try (never waits on the network: the loop calls this)."""
        with self.cond:
            self.stopping = self.retired = True
            self.successor = successor
            notices, omitted = tuple(self.pending), self.omitted
            self.pending, self.omitted = [], 0
            self.cond.notify()
        self._pass_on(notices, omitted)
        self.abort("abandoned: a reload replaced this notify item")

    def run(self) -> None:
        try:
            self._send = post_webhook if self.target.is_webhook else AppriseSender(self.target.url)
        except Exception as exc:  # noqa: BLE001 - a broken endpoint is logged, never fatal
            self.log.error("notify_unusable", reason=redact.text(str(exc)))
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
            notices, self.pending = tuple(self.pending[:MAX_PENDING]), self.pending[MAX_PENDING:]
            if self.pending:  # a `done` backlog: the rest goes in the next message, at once
                self.first_at = self.next_send = time.monotonic() - GATHER
                return Message(notices, len(notices), self.host)
            total, omitted, self.omitted = len(notices) + self.omitted, self.omitted, 0
            if omitted:
                self.counts[Delivery.DROPPED] += omitted
                self.log.warning("notify_dropped", events=omitted, kept=self.room,
                                 reason=f"more than {self.room:,} events waited for this endpoint: the message "
                                        f"counts them, lists {len(notices)}")
            return Message(notices, total, self.host)

    def _try(self, message: Message) -> None:
        """One try, under its deadline: the whole try, not each read."""
        call = Try(SEND_TIMEOUT)
        with self.cond:
            if self.retired:  # replaced while it waited to try again
                raise Undeliverable("abandoned: a reload replaced this notify item")
            self.current = call
        timer = threading.Timer(SEND_TIMEOUT, call.expire)
        timer.daemon = True
        timer.start()
        try:
            assert self._send is not None  # run() sets it before the first message
            self._send(self.target, message, call)
        finally:
            timer.cancel()
            with self.cond:
                self.current = None

    def _deliver(self, message: Message) -> None:
        backoff = Backoff(RETRY_FIRST, RETRY_CAP)
        for attempt in itertools.count(1):
            try:
                self._try(message)
            except Undeliverable as exc:
                if attempt >= TRIES or not exc.retry or self.stopping:
                    self._failed(message, str(exc), attempt)
                    break
                delay = backoff.failed()
                self.log.warning("notify_retry", reason=str(exc), tries=attempt, retry_in_s=delay)
                with self.cond:
                    self.cond.wait_for(lambda: self.stopping, delay)
            except Exception as exc:  # noqa: BLE001 - never let a sender's bug end the thread
                self.counts[Delivery.FAILED] += 1
                self.log.exception("notify_failed", reason=redact.text(f"{type(exc).__name__}: {exc}"),
                                   events=message.total)
                break
            else:
                self.counts[Delivery.SENT] += 1
                self.log.info("notify_sent", events=message.total, first=message.notices[0].event, tries=attempt)
                break
        with self.cond:  # a backlog of `done` goes on at once; else one message per interval
            self.next_send = time.monotonic() + (0.0 if self.pending else self.interval)

    def _failed(self, message: Message, reason: str, tries: int) -> None:
        self.counts[Delivery.FAILED] += 1
        if self.successor is not None:  # its events are not lost: the item's new endpoint sends them
            self._pass_on(message.notices, message.total - len(message.notices))
            action = "its events go to the reloaded item"
        else:
            action = "dropped; the daemon goes on (check the URL and the endpoint)"
        self.log.error("notify_failed", reason=reason, events=message.total, tries=tries, action=action)


class Notifications:
    """Every endpoint of `notify:`; an endpoint is kept across reloads when its item is unchanged."""

    def __init__(self):
        self.host = socket.gethostname()
        self.endpoints: list[Endpoint] = []
        self._gone: dict[tuple[str, str], int] = {}  # counts of endpoints a reload replaced
        self._retired: list[Endpoint] = []  # replaced, their counts still moving (a try cut short)

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
            endpoint.retire(kept[endpoint.index] if endpoint.index < len(kept) else None)
            self._retired.append(endpoint)
        self.endpoints = kept
        self._settle_retired()

    def _settle_retired(self) -> None:
        """Fold the counts of replaced endpoints whose thread has ended into `_gone`."""
        for endpoint in [e for e in self._retired if not e.is_alive()]:
            self._retired.remove(endpoint)
            for outcome, n in endpoint.counts.items():
                key = (endpoint.item, outcome)
                self._gone[key] = self._gone.get(key, 0) + n

    def submit(self, notice: Notice) -> None:
        for endpoint in self.endpoints:
            endpoint.put(notice)

    def dropped(self, event: str, n: int) -> None:
        """`n` events that never reached us (cluster/told.py): dropped by each endpoint taking them."""
        for endpoint in self.endpoints:
            if event in endpoint.target.events:
                with endpoint.cond:
                    endpoint.counts[Delivery.DROPPED] += n

    def counts(self) -> dict[tuple[str, str], int]:
        """(item, outcome) -> messages, for /metrics: of every endpoint since the start."""
        self._settle_retired()
        out = dict(self._gone)
        for e in (*self.endpoints, *self._retired):
            for outcome, n in e.counts.items():
                out[(e.item, outcome)] = out.get((e.item, outcome), 0) + n
        return out

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Each endpoint sends what is pending (one try), within `grace` seconds in all;
        a try still under way then is cut short (counted and logged as failed)."""
        for endpoint in self.endpoints:
            endpoint.stop()
        deadline = time.monotonic() + grace
        for endpoint in self.endpoints:
            endpoint.join(max(0.0, deadline - time.monotonic()))
        for endpoint in (*self.endpoints, *self._retired):
            endpoint.abort("the daemon is stopping")
        for endpoint in self.endpoints:
            endpoint.join(0.5)  # woken: it logs the failure and ends
        self.endpoints = []
