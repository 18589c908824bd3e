"""The listener's connection bound, turn by turn of its loop: a real listening socket,
real client connections, the listener's own asyncio loop run one turn at a time in the
test's thread, and after every turn the sockets this process holds counted in /proc.

CI once saw 65 connections held against a cap of 64: a connection closed to make room
for a newer one closes at the loop's next turn (the loop still watches its socket), and
the newer one had been accepted in the meantime. (Against a daemon: the integration
test of the same name in tests/integration/test_attacks_listener.py.)
"""
from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from hotfolder.ops.web.app import App
from hotfolder.ops.web.auth import Auth
from hotfolder.ops.web.hosts import HostPolicy
from hotfolder.ops.web.server import ACCEPT_BATCH, Limits, _Listener, listening_socket
from tests.http_clients import served_connections

REQUEST_TIMEOUT = 600.0  # the listener's, here: longer than any run of these tests, however loaded


class Stepped:
    """A listener whose loop turns only when asked. No request is sent: the app, which
    answers requests, is never called."""

    def __init__(self, max_connections: int):
        self.loop = asyncio.new_event_loop()
        self.sock = listening_socket("127.0.0.1", 0)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.pool = ThreadPoolExecutor(1)
        app = App(None, None, Auth(), HostPolicy(loopback=True))  # type: ignore[arg-type]
        # No request is sent: the held connections must not reach http.request_timeout (10 s) while the
        # test turns, which a full suite beside a busy loop took longer than ("66 of 65 closed, 19 held")
        limits = Limits(max_connections=max_connections, request_timeout=REQUEST_TIMEOUT)
        self.listener = _Listener(self.sock, app, limits, self.loop, self.pool)
        self.listener.start()
        self.clients: list[socket.socket] = []

    def connect(self, n: int) -> None:
        for _ in range(n):  # the kernel completes them (backlog 128) before any accept
            self.clients.append(socket.create_connection(("127.0.0.1", self.port), timeout=2))

    def turn(self) -> None:
        """One turn: poll once, run what is ready (asyncio's documented stop-before-run)."""
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()

    def held(self) -> int:
        return served_connections(os.getpid(), self.port)

    def closed_by_listener(self) -> int:
        gone = 0
        for c in self.clients:
            c.setblocking(False)
            try:
                gone += c.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                gone += 1
        return gone

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.loop.run_until_complete(self.listener.close())
        self.loop.close()
        self.pool.shutdown()
        self.sock.close()


@pytest.fixture
def stepped():
    made: list[Stepped] = []
    yield lambda cap: made.append(Stepped(cap)) or made[-1]
    for s in made:
        s.close()


def settle(s: Stepped, closed: int, cap: int, counts: list[int]) -> None:
    """Turn until `closed` clients were closed by the listener and `cap` are held, then 50
    turns more (nothing is pending: nothing may change), counting what is held each turn."""
    for _ in range(40 * len(s.clients)):  # each surplus connection takes a few turns: deterministic, no clock
        s.turn()
        counts.append(s.held())
        if s.closed_by_listener() == closed and counts[-1] == cap:
            break
    for _ in range(50):
        s.turn()
        counts.append(s.held())


@pytest.mark.parametrize("cap", [1, ACCEPT_BATCH - 4, ACCEPT_BATCH + 4])
def test_never_more_connections_than_the_cap_at_any_turn(stepped, cap):
    """cap 1 and cap 12: the connection closed for a newer one was accepted in the same
    batch, its task not started yet (it leaked: never closed, held for ever); cap 20:
    the batches before had started theirs (one over the cap between two turns)."""
    s = stepped(cap)
    extra = 3 * cap + 5
    s.connect(cap + extra)
    counts: list[int] = []
    settle(s, extra, cap, counts)
    assert max(counts) <= cap, f"{max(counts)} connections held at one turn; the cap is {cap}: {counts}"
    assert s.closed_by_listener() == extra and s.held() == cap, \
        f"after {len(counts)} turns: {s.closed_by_listener()} of {extra} closed, {s.held()} held (cap {cap})"
    assert len(s.listener.connections.held) == cap, "the listener's table holds only open connections"


@pytest.mark.parametrize("cap", [1, 2, ACCEPT_BATCH, ACCEPT_BATCH + 4])
def test_the_connection_that_reaches_the_cap_closes_no_other(stepped, cap):
    """Exactly `cap` clients: all are kept. The accept that reached the cap used to ask
    for room for a connection that was not there: one held was closed (with cap 1, every
    connection; a review found it)."""
    s = stepped(cap)
    s.connect(cap)
    counts: list[int] = []
    settle(s, 0, cap, counts)
    assert s.closed_by_listener() == 0 and s.held() == cap, \
        f"{s.closed_by_listener()} of {cap} closed by the listener, {s.held()} held: {counts}"
