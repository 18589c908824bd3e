"""The listening socket and the connections on it; what a request means is app.py's.

One thread runs an asyncio loop that accepts, reads and writes every connection; a
request, once it has arrived whole, is answered by one of WORKERS threads (app.handle,
which reads only what the daemon's loop published). A slow or idle client holds a
descriptor and a few bytes, never a thread. What a client can make the daemon hold:

- connections: at most `http.max_connections`, and none of the last FD_RESERVE
  descriptors (connections.py);
- time: a request must arrive whole within `http.request_timeout` of the connection
  (or of its previous answer), however slowly it drips: 408 if it was begun, 400 if its
  body fell short of its Content-Length; an answer must be taken within that time too;
- memory: headers of MAX_HEAD bytes, a body of MAX_BODY, one request at a time.

A client that goes away early, a deadline, a refusal: one log line per minute for
each kind, with a count (ratelog.py). Nothing the listener meets stops the daemon.

Under systemd the socket may come from `hotfolder.socket` (socket activation,
LISTEN_FDS): the service then keeps `PrivateNetwork=yes` and allows no Internet
socket family, yet is reachable on the host's address (see systemd/hotfolder.socket).
"""
from __future__ import annotations

import asyncio
import os
import select
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hotfolder import __version__
from hotfolder.ops.web.app import App, Request, Response, text
from hotfolder.ops.web.connections import Conn, Connections, Room
from hotfolder.ops.web.http11 import Incoming, Refused, encode
from hotfolder.ops.web.ratelog import RateLimitedLog
from hotfolder.runtime import log, systemd

MAX_CONNECTIONS = 64  # http.max_connections: the listener's share of the 1,024 descriptors systemd gives by default
REQUEST_TIMEOUT = 10.0  # http.request_timeout, seconds
WORKERS = 4  # threads answering requests (a page is rendered in ~1 ms; app.py lets requeues have 2)
BACKLOG = 128  # connections the kernel queues until they are accepted
ACCEPT_BATCH = 16  # accepts per turn of the loop, so reading and writing go on under a flood
ACCEPT_PAUSE = 1.0  # seconds without accepting after the system refused one (EMFILE...): no busy loop
HOUSEKEEPING = 5.0  # seconds between flushes of the counted log lines
SERVER = f"hotfolder/{__version__}"
SD_LISTEN_FDS_START = 3


@dataclass(frozen=True)
class Limits:
    max_connections: int = MAX_CONNECTIONS
    request_timeout: float = REQUEST_TIMEOUT


def systemd_socket() -> socket.socket | None:
    """The listening socket systemd passed us (sd_listen_fds), taken once: its variables
    left os.environ before any process started (runtime/systemd.scrub_environ), and a
    second call gets None."""
    count = systemd.claim_listen_fds()
    if count < 1:
        return None
    for extra in range(SD_LISTEN_FDS_START + 1, SD_LISTEN_FDS_START + count):
        os.close(extra)  # we listen on one socket
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    sock.set_inheritable(False)
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening (OSError if the address cannot be had)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # "[::]" means IPv6 only; "0.0.0.0" is how to ask for IPv4.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _refuse(sock: socket.socket, why: str) -> None:
    """Say 503 if the client's buffer takes it (it always does on a new connection), and close."""
    try:
        sock.send(encode(text(503, f"busy: {why}; try again").with_headers(("Retry-After", "1")), False, SERVER))
    except OSError:
        pass
    sock.close()


class _Listener:
    """The loop's side: accept, read, hand over to a worker thread, write. Only the
    loop's thread touches it (but for `limits`, replaced whole by a reload)."""

    def __init__(self, sock: socket.socket, app: App, limits: Limits, loop: asyncio.AbstractEventLoop,
                 pool: ThreadPoolExecutor):
        self.sock, self.app, self.limits, self.loop, self.pool = sock, app, limits, loop, pool
        self.connections = Connections()
        self.closing = False
        self.log = log.get("http")
        self._counted: dict[tuple[str, str], RateLimitedLog] = {}
        self._poll = select.poll()  # the listening socket alone: is a connection waiting?
        self._poll.register(sock.fileno(), select.POLLIN)

    def start(self) -> None:
        self.loop.set_exception_handler(self._loop_exception)
        self.loop.add_reader(self.sock.fileno(), self._accept)
        self.loop.call_later(HOUSEKEEPING, self._housekeeping)

    async def close(self) -> None:
        self.closing = True
        self.loop.remove_reader(self.sock.fileno())
        await asyncio.gather(*self.connections.close_all(), return_exceptions=True)
        self._flush(due_only=False)

    # ------------------------------------------------------------------ log lines
    def _note(self, event: str, level: str = "info", **fields) -> None:
        key = (event, str(fields.get("reason", "")))
        if key not in self._counted:
            self._counted[key] = RateLimitedLog(self.log, event, level)
        self._counted[key].note(**fields)

    def _flush(self, due_only: bool) -> None:
        for counted in self._counted.values():
            counted.flush(due_only)
        self.app.flush_logs(due_only)

    def _housekeeping(self) -> None:
        self._flush(due_only=True)
        self.loop.call_later(HOUSEKEEPING, self._housekeeping)

    def _loop_exception(self, _loop, context: dict) -> None:
        exc = context.get("exception")
        self._note("http_error", "error", reason=str(context.get("message", "")),
                   error=f"{type(exc).__name__}: {exc}" if exc else "")

    # ------------------------------------------------------------------ accepting
    def _pending(self) -> bool:
        """A connection waits in the kernel's queue. Only for one is a held one closed:
        the accept that reaches the cap must not close another for nobody."""
        return bool(self._poll.poll(0))

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            if not self._pending():
                return
            room, why = self.connections.make_room(self.limits.max_connections)
            if room is Room.WAIT:
                # Resumed when the connection making room has closed (_closed): its socket
                # is still open until the loop's next turn, and the bound counts it.
                self.loop.remove_reader(self.sock.fileno())
                return
            try:
                sock, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS, ENOMEM: wait rather than spin
                self._note("http_accept_failed", "warning", reason=exc.strerror or str(exc), pause_s=ACCEPT_PAUSE)
                self.loop.remove_reader(self.sock.fileno())
                self.loop.call_later(ACCEPT_PAUSE, self._resume_accepting)
                return
            if room is Room.REFUSE:
                self._note("http_connection_refused", "warning", reason=why)
                _refuse(sock, why)
                return  # answers finishing make room; the loop's next turn looks again
            self._take(sock, addr[0] if isinstance(addr, tuple) else "")

    def _resume_accepting(self) -> None:
        if not self.closing:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def _take(self, sock: socket.socket, client: str) -> None:
        sock.setblocking(False)
        conn = Conn(sock, client, self.loop.time())
        self.connections.add(conn)
        conn.task = self.loop.create_task(self._serve(conn))
        # A done callback, not the task's `finally`: a task cancelled before its first
        # step never runs its body (a connection closed for a newer one in the same batch).
        conn.task.add_done_callback(lambda _task: self._closed(conn))

    def _closed(self, conn: Conn) -> None:
        try:
            self.connections.release(conn)
            conn.sock.close()
        finally:
            if conn.closed_for:  # it was making room (or the listener stops: then nothing resumes)
                self._resume_accepting()

    # ------------------------------------------------------------------ one connection
    async def _serve(self, conn: Conn) -> None:
        try:
            await self._exchange(conn, Incoming(self.loop, conn.sock))
        except asyncio.CancelledError:
            if conn.closed_for and conn.closed_for != "the listener stops":
                self._note("http_connection_closed", reason=conn.closed_for)
        except TimeoutError:
            self._note("http_connection_closed", reason="the answer was not taken within http.request_timeout")
        except OSError as exc:  # reset, broken pipe: the client went away
            self._note("http_client_gone", reason=exc.strerror or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a bug of ours closes one connection, never the listener
            self.log.exception("http_error", client=conn.client, error=str(exc))

    async def _exchange(self, conn: Conn, incoming: Incoming) -> None:
        """Requests and answers, one at a time, until either side closes."""
        while True:
            conn.wait(self.loop.time())
            try:
                async with asyncio.timeout(self.limits.request_timeout):
                    got = await incoming.next()
            except TimeoutError:
                late = incoming.late()
                if late is None:
                    return  # an idle connection: closed without a word
                self._note("http_connection_closed", reason="the request did not arrive whole within "
                                                            "http.request_timeout")
                await self._send(conn, late.response, keep_alive=False)
                return
            except Refused as refused:
                await self._send(conn, refused.response, keep_alive=False)
                return
            if got is None:
                return
            head, body = got
            conn.busy = True
            request = Request(head.method, head.target, head.headers, body, conn.client)
            response = await self.loop.run_in_executor(self.pool, self._answer, request)
            conn.wait(self.loop.time())
            conn.sending = True
            await self._send(conn, response, head.keep_alive)
            conn.sending = False
            conn.answered += 1
            if not head.keep_alive:
                return

    async def _send(self, conn: Conn, response: Response, keep_alive: bool) -> None:
        async with asyncio.timeout(self.limits.request_timeout):
            await self.loop.sock_sendall(conn.sock, encode(response, keep_alive, SERVER))

    def _answer(self, request: Request) -> Response:
        """In a worker thread."""
        try:
            return self.app.handle(request)
        except Exception:  # noqa: BLE001 - a bug of ours answers 500, the daemon goes on
            self.log.exception("http_error", path=request.target[:200])
            return text(500, "internal error; the daemon's log has the details")


@dataclass(frozen=True)
class _Running:
    """A started listener: its loop, the loop's thread and the threads that answer."""

    listener: _Listener
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    pool: ThreadPoolExecutor


class WebServer:
    """Start, find out where it listens, change its limits, stop."""

    def __init__(self, app: App):
        self.app = app
        self._running: _Running | None = None

    @property
    def running(self) -> bool:
        return self._running is not None

    def start(self, host: str, port: int, sock: socket.socket | None = None, limits: Limits = Limits()) -> str:
        """Listen (OSError if the address cannot be had); the URL it answers on."""
        sock = sock if sock is not None else listening_socket(host, port)
        sock.setblocking(False)
        loop = asyncio.new_event_loop()
        pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="hotfolder-http-request")
        listener = _Listener(sock, self.app, limits, loop, pool)
        thread = threading.Thread(target=_run, args=(listener,), name="hotfolder-http", daemon=True)
        self._running = _Running(listener, loop, thread, pool)
        thread.start()
        return self.url

    def configure(self, limits: Limits) -> None:
        """New limits (a reload): for the connections and requests that come next."""
        if self._running is not None:
            self._running.listener.limits = limits

    @property
    def url(self) -> str:
        if self._running is None:
            return ""
        host, port = self._running.listener.sock.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        closing = asyncio.run_coroutine_threadsafe(running.listener.close(), running.loop)
        try:
            closing.result(5)
        except Exception:  # noqa: BLE001 - stopping goes on whatever a connection did
            pass
        running.loop.call_soon_threadsafe(running.loop.stop)
        running.thread.join(5)
        if not running.thread.is_alive():
            running.loop.close()
        running.listener.sock.close()
        running.pool.shutdown(wait=False, cancel_futures=True)


def _run(listener: _Listener) -> None:
    """The listener's thread: its loop, until stop() stops it."""
    asyncio.set_event_loop(listener.loop)
    listener.start()
    listener.loop.run_forever()
