"""The listening socket and the thread that serves it; the rest is app.py's.

A `ThreadingHTTPServer` in a thread of the main process: each request gets a short-
lived thread of its own (at most MAX_REQUESTS at once; more get 503), reads only what
the loop published, and never waits on the loop except for a requeue, which it asks
for and waits on with a deadline.

Under systemd the socket may come from `hotfolder.socket` (socket activation,
LISTEN_FDS): the service then keeps `PrivateNetwork=yes` and allows no Internet
socket family, yet is reachable on the host's address (see systemd/hotfolder.socket).
"""
from __future__ import annotations

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .. import __version__, log
from .app import MAX_BODY, App, Request, Response, text

MAX_REQUESTS = 32
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request
SD_LISTEN_FDS_START = 3


def systemd_socket() -> socket.socket | None:
    """The listening socket systemd passed us (sd_listen_fds), taken once: the
    variables are removed so no worker or second call sees them."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or not os.environ.get("LISTEN_FDS", "").isdigit():
        return None
    count = int(os.environ.pop("LISTEN_FDS"))
    os.environ.pop("LISTEN_PID", None)
    os.environ.pop("LISTEN_FDNAMES", None)
    if count < 1:
        return None
    for extra in range(SD_LISTEN_FDS_START + 1, SD_LISTEN_FDS_START + count):
        os.close(extra)  # we listen on one socket
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    sock.set_inheritable(False)
    return sock


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, app: App, sock: socket.socket | None = None):
        self.app = app
        self.slots = threading.BoundedSemaphore(MAX_REQUESTS)
        if sock is not None:
            self.address_family = sock.family
            super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
            self.socket.close()
            self.socket = sock
            self.server_address = sock.getsockname()
        else:
            self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            # "[::]" means IPv6 only; "0.0.0.0" is how to ask for IPv4.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = f"hotfolder/{__version__}"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(text(413, "request too large"))
            return
        self._serve(self.rfile.read(length))

    def _serve(self, body: bytes) -> None:
        if not self.server.slots.acquire(blocking=False):
            self._send(text(503, "busy; try again").with_headers(("Retry-After", "1")))
            return
        try:
            req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                          self.client_address[0])
            try:
                response = self.server.app.handle(req)
            except Exception:  # noqa: BLE001 - a bug of ours answers 500, the daemon goes on
                log.get("http").exception("http_error", path=self.path[:200])
                response = text(500, "internal error; the daemon's log has the details")
            self._send(response)
        finally:
            self.server.slots.release()

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # one line per scrape would flood the journal; errors are logged by the app


class WebServer:
    """Start, find out where it listens, stop."""

    def __init__(self, app: App):
        self.app = app
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, host: str, port: int, sock: socket.socket | None = None) -> str:
        """Listen (OSError if the address cannot be had); the URL it answers on."""
        self._server = _Server((host, port), self.app, sock)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="hotfolder-http", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = self._thread = None
