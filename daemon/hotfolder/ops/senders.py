"""One try of one notify message: the webhook POST and apprise, each under a deadline.

The deadline (SEND_TIMEOUT) is for the whole try, not per read: a server that drips its
answer a byte a second never trips a socket timeout. At the deadline, or when a reload
replaces the endpoint, `Try.abort` shuts a webhook's socket down, which wakes the read it
is stuck in; an apprise try, whose sockets are not ours, is left to end in its own thread,
and no new one starts for that URL before it does (AppriseSender).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from hotfolder import build, redact
from hotfolder.config.model import NotifyTarget
from hotfolder.ops.message import Message

SEND_TIMEOUT = 10.0  # seconds for one whole try: connect, send, the answer's head
# An answer that another try may change; other 4xx (a wrong URL, a rejected signature) will not.
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class Undeliverable(Exception):
    """This try did not deliver the message; `retry`: another try may."""

    def __init__(self, reason: str, retry: bool = True):
        super().__init__(redact.text(reason))  # a library's words may quote a secret
        self.retry = retry


class Try:
    """One try of one message: its deadline, and the way to end it early (`abort`).

    A sender `attach`es its socket; `abort` shuts it down, which wakes a read stuck in
    it. Only shut down, never closed from here: the sender's own thread closes it after
    `detach`, so no other thread's new socket can get its number meanwhile."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.late = f"no complete answer within {seconds:g} s (the whole try: connect, send, answer)"
        self.lock = threading.Lock()
        self.woken = threading.Event()  # set by abort (and by an apprise try's end)
        self.why = ""
        self._sock: socket.socket | None = None

    def remaining(self) -> float:
        return max(0.01, self.deadline - time.monotonic())

    def attach(self, sock: socket.socket) -> None:
        with self.lock:
            self._sock = sock
            if self.why:
                _shutdown(sock)

    def expire(self) -> None:
        """The deadline passed (a timer calls this)."""
        self.abort(self.late)

    def detach(self) -> None:
        with self.lock:
            self._sock = None

    def abort(self, why: str) -> None:
        with self.lock:
            if self.why:
                return
            self.why = why
            self.woken.set()
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock: socket.socket) -> None:
    try:  # the plain socket's shutdown, also for TLS: ssl's own would unwrap under the reader
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # closed already, or never connected


# A sender: one try of one message to one target, under the try's deadline; raises
# Undeliverable when it did not arrive. post_webhook, or an AppriseSender.
Send = Callable[[NotifyTarget, Message, Try], None]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


_tls: ssl.SSLContext | None = None


def post_webhook(target: NotifyTarget, message: Message, call: Try) -> None:
    """POST the message; `user:password@` in the URL is sent as Basic auth, as curl does.
    No redirect is followed: a webhook that redirects is misconfigured."""
    global _tls
    parts = urlsplit(target.url)
    https = parts.scheme.lower() == "https"
    body = json.dumps(message.payload(), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"hotfolder/{build.identity()}",
               "X-Hotfolder-Event": message.notices[0].event}
    if target.secret:
        headers["X-Hotfolder-Signature"] = sign(target.secret, body)
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(creds).decode("ascii")
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        raise Undeliverable("the URL's port is not a number from 0 to 65535", retry=False) from None
    host = parts.hostname
    if not host:  # refused by the config already; never the loopback in its place (getaddrinfo(None))
        raise Undeliverable("the URL has no host name", retry=False)
    sock = conn = None
    try:
        sock = _connect(host, port, call)
        if https:
            _tls = _tls or ssl.create_default_context()
            sock = _tls.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            call.attach(sock)  # the plain socket object is detached now; this one holds the connection
            sock.do_handshake()
        conn = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(host, port)
        conn.sock = sock  # ours, attached: the deadline reaches every read
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        response = conn.getresponse()  # the status is the answer: its body is not waited for
        status, reason = response.status, response.reason
        if call.why:  # cut short: http.client takes an answer's head cut at EOF for a whole one
            raise Undeliverable(call.why)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # A socket timeout is the deadline too (reads time out at `remaining`): say it as one.
        raise Undeliverable(call.why or (call.late if isinstance(exc, TimeoutError) else _reason(exc))) from None
    finally:
        call.detach()
        if conn is not None:
            conn.close()
        elif sock is not None:
            sock.close()
    if 300 <= status < 400:
        raise Undeliverable(f"HTTP {status} {reason}: a webhook must not redirect (the POST would be lost); "
                            "use the URL it points to", retry=False)
    if status >= 400:
        raise Undeliverable(f"HTTP {status} {reason}", retry=status in RETRY_STATUS)


def _connect(host: str, port: int, call: Try) -> socket.socket:
    """A socket connected to one of the host's addresses, attached to the try. Each address
    in turn gets an equal share of the time the try has left (the last all of it):
    socket.create_connection gave the first the whole deadline, so a host whose AAAA
    record leads where packets are dropped (IPv6 firewalled, IPv4 answering at once) was
    never sent a message: every try timed out on IPv6 (an attack round). The name is looked
    up first, outside the deadline (getaddrinfo cannot be interrupted: the resolver's own
    timeouts bound it)."""
    addresses = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    error: OSError | None = None
    for i, (family, kind, proto, _name, address) in enumerate(addresses):
        if call.why:
            break
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:  # no IPv6 socket here (RestrictAddressFamilies=, ipv6.disable=1): the next address
            error = error or exc  # said only if no address could be tried (a connection's error says more)
            continue
        call.attach(sock)  # an abort shuts it down, connecting or not
        try:
            sock.settimeout(call.remaining() / (len(addresses) - i))
            sock.connect(address)
        except OSError as exc:
            error = exc
            call.detach()
            sock.close()
            continue
        sock.settimeout(call.remaining())  # each read after it: within the try's deadline too
        return sock
    if error is None or call.why:
        raise TimeoutError(call.why or call.late)
    raise error


def _reason(exc: BaseException) -> str:
    said = getattr(exc, "strerror", None) or str(exc)
    return said or type(exc).__name__


class AppriseSender:
    """Other schemes (mailto://, slack://, ntfy://, matrix://, …) through apprise.

    apprise has timeouts per connect and per read, not for a whole try, and its sockets
    are not ours to shut down: each try runs in a thread of its own, and the endpoint
    stops waiting for it at the deadline. At most one such thread per URL: while one is
    stuck, the next try fails at once instead of starting another. So a URL that never
    finishes answering holds one thread, whatever the number of messages or reloads."""

    _running: ClassVar[dict[str, threading.Thread]] = {}  # URL -> its try still in apprise's hands
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str):
        self.apprise = redact.apprise_module()
        if self.apprise is None:
            raise Undeliverable("apprise is not installed (pip install apprise)", retry=False)
        self.url = url
        self.client = self.apprise.Apprise(asset=_asset(self.apprise))
        if not self.client.add(url):
            raise Undeliverable("apprise does not accept this URL", retry=False)

    def __call__(self, _target: NotifyTarget, message: Message, call: Try) -> None:
        title, body = message.text()
        kind = self.apprise.NotifyType.SUCCESS if message.all_good else self.apprise.NotifyType.FAILURE
        outcome: list = []

        def run() -> None:
            try:
                outcome.append(self.client.notify(body=body, title=title, notify_type=kind))
            except Exception as exc:  # noqa: BLE001 - reported by the endpoint's thread
                outcome.append(exc)
            finally:
                call.woken.set()

        with self._running_lock:
            stuck = self._running.get(self.url)
            if stuck is not None and stuck.is_alive():
                raise Undeliverable("an earlier try is still waiting for this service's answer; no new one "
                                    "starts before it ends")
            thread = self._running[self.url] = threading.Thread(target=run, name="hotfolder-apprise-try",
                                                                 daemon=True)
        thread.start()
        call.woken.wait(call.remaining())  # its end, the deadline or a reload: whichever comes first
        if not outcome:
            raise Undeliverable(call.why or call.late)
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        if not outcome[0]:
            raise Undeliverable(_apprise_reason(outcome[0]))


def _asset(apprise):
    """Each try in the thread that calls apprise (ours, a daemon thread). By default
    apprise 2 sends in a shared pool of its own, whose threads the interpreter joins at
    exit: one stuck on a service that never finishes answering kept the daemon from ever
    exiting (measured: a trickling json:// URL, `hotfolder run` hung after `stopped`).
    async_mode=False sends in the caller's thread; service_timeout=0 (apprise 2 only)
    leaves the whole-try deadline to us, since apprise's own would move the try back
    into that pool. http_redirects=False (apprise 2.3+; a URL's own `?redirect=yes` still
    may): apprise's plain webhooks (json://, form://, xml://) followed a 3xx to any host, with
    their path's token, and the notice was counted sent (an attack round); our http(s)
    webhooks refuse a redirect too (post_webhook)."""
    for newer in ({"service_timeout": 0, "http_redirects": False}, {"service_timeout": 0}, {}):
        try:
            return apprise.AppriseAsset(storage_mode="memory", async_mode=False, **newer)
        except (TypeError, AttributeError):  # an older apprise: no such setting (apprise 1: no pool either)
            continue
    return apprise.AppriseAsset()


def _apprise_reason(result) -> str:
    """apprise's own warnings of this call (apprise 2 keeps them in its result), with
    its half-hidden tokens (`1...w`) hidden whole."""
    logs = getattr(result, "logs", None)
    said = [e.message for e in logs() if e.level in ("WARNING", "ERROR", "CRITICAL")] if callable(logs) else []
    if not said:
        return "apprise could not deliver it (see the service's own error, e.g. with `apprise -vv URL`)"
    return "apprise: " + redact.apprise_said("; ".join(dict.fromkeys(said[-3:])))
