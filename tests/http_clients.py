"""Clients for the listener's tests, on real sockets: one request with any Host, a
reset, a slowloris that keeps its pressure on, and what the daemon holds (/proc)."""
from __future__ import annotations

import http.client
import os
import socket
import struct
import threading
import time
import urllib.parse
from pathlib import Path


def address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    return ("127.0.0.1" if host == "0.0.0.0" else host), parts.port


def ask(url: str, path: str = "/", method: str = "GET", body: bytes | None = None,
        headers: dict | None = None, host: str | None = None, timeout: float = 5.0):
    """One request on a connection of its own: (status, headers, body)."""
    conn = http.client.HTTPConnection(*address(url), timeout=timeout)
    try:
        sent = dict(headers or {})
        if host is not None:
            sent["Host"] = host  # http.client then sends this one instead of its own
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def status_of(url: str, path: str, timeout: float = 3.0) -> int:
    try:
        return ask(url, path, timeout=timeout)[0]
    except OSError:
        return 0


def until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and how long that took."""
    start = time.monotonic()
    sock.settimeout(0.2)
    got = b""
    while time.monotonic() - start < timeout:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return got, time.monotonic() - start


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST, as a client that gives up does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def login_form(url: str) -> tuple[str, str]:
    """(the hf_pre cookie, the CSRF field) a login needs."""
    _, headers, page = ask(url, "/login")
    pre = headers["Set-Cookie"].split("hf_pre=")[1].split(";")[0]
    return pre, page.decode().split('name="csrf" value="')[1].split('"')[0]


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def served_connections(pid: int, port: int) -> int:
    """Connections to `port` the process holds (accepted: in its descriptor table)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    # A set, not a count of lines: the kernel writes the table a page per read and goes on
    # where it was, so a socket can be listed twice while others connect and close (this
    # counted 23 of a listener's 20 while another test dripped 400 connections).
    served = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: established
                served.add(fields[9])
    return len(served)


class Drip:
    """`n` connections that each start a request and send one more byte every `every`
    seconds, never finishing it (a slowloris). Those the server closes are opened again,
    so the pressure stays on."""

    def __init__(self, host: str, port: int, n: int, every: float = 1.0):
        self.where, self.n, self.every = (host, port), n, every
        self.socks: list[socket.socket] = []
        self.opened = 0
        self.rounds = 0  # times every connection has dripped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drip", daemon=True)

    def __enter__(self) -> Drip:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        for s in self.socks:
            s.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._fill()
            for s in list(self.socks):
                try:
                    s.send(b"X")
                except OSError:
                    self.socks.remove(s)
                    s.close()
            self.rounds += 1
            self._stop.wait(self.every)

    def _fill(self) -> None:
        while len(self.socks) < self.n and not self._stop.is_set():
            try:
                s = socket.create_connection(self.where, timeout=0.5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            except OSError:
                return  # the server's backlog is full: the next round tries again
            self.socks.append(s)
            self.opened += 1


class FdSampler:
    """The most descriptors the process held, sampled every 20 ms."""

    def __init__(self, pid: int):
        self.pid, self.most = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FdSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.most = max(self.most, open_fds(self.pid))
