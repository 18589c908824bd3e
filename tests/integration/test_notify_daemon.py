"""The daemon's sd_notify conversation, against a real datagram socket as systemd listens."""
from __future__ import annotations

import re
import signal
import socket

from tests.harness import wait_for


class Listener:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[dict[str, str]] = []

    def poll(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return self.messages
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line))

    def seen(self, key: str, value: str | None = None) -> dict | None:
        for m in self.poll():
            if key in m and (value is None or m[key] == value):
                return m
        return None


def test_ready_status_watchdog_reload_stopping(daemon_factory, tmp_path):
    d = daemon_factory()
    listener = Listener(tmp_path / "notify.sock")
    try:
        d.start(env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"})
        ready = wait_for(lambda: listener.seen("READY", "1"), 30, what="READY=1")
        # READY carries the status line; the workers may still be starting then, and the
        # status, sent again every second, says so once both are up
        idle = "processed 0, failed 0, queued 0, in flight 0"
        assert re.fullmatch(idle + r", workers [0-2]/2", ready.get("STATUS", "")), ready
        wait_for(lambda: listener.seen("STATUS", idle + ", workers 2/2"), 10, what="STATUS with both workers alive")
        wait_for(lambda: listener.seen("WATCHDOG", "1"), 10, what="WATCHDOG=1 while healthy")
        # Workers (and every other child) never inherit the socket: only we talk to systemd.
        children = d.descendants()
        assert children
        for pid in children:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
            assert not any(e.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_")) for e in environ), pid
        d.proc.send_signal(signal.SIGHUP)
        reloading = wait_for(lambda: listener.seen("RELOADING", "1"), 20, what="RELOADING=1")
        assert int(reloading["MONOTONIC_USEC"]) > 0
        d.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: listener.seen("STOPPING", "1"), 20, what="STOPPING=1")
        assert d.stop() == 0
    finally:
        listener.sock.close()


def test_status_counts_a_clip_being_compared(daemon_factory, tmp_path):
    """`systemctl status` said "queued 0, in flight 0" while a clip dumped again lay in the
    inbox being compared with its archived twin; held there (fanotify: tests/harness/held.py)."""
    import os

    from tests.harness.held import HeldOpen

    d = daemon_factory(on_duplicate=None)
    listener = Listener(tmp_path / "notify.sock")
    try:
        d.start(env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
        clip = os.urandom(1 << 16)
        (d.inbox / "MVI_0009.MP4").write_bytes(clip)
        wait_for(lambda: d.events("file_passed_through"), 20, what="the clip archived")
        with HeldOpen(d.archive / "MVI_0009.MP4") as held:
            (d.inbox / "MVI_0009.MP4").write_bytes(clip)
            held.wait_open(20)
            wait_for(lambda: any(", in flight 0, comparing 1, workers " in m.get("STATUS", "")
                                 for m in listener.poll()), 10, what="STATUS to count the clip being compared")
        wait_for(lambda: d.events("file_skipped"), 20, what="the copy skipped")
        listener.messages.clear()
        wait_for(lambda: listener.seen("STATUS", "processed 0, failed 0, queued 0, in flight 0, workers 2/2"), 10,
                 what="STATUS without it once compared")
        assert d.stop() == 0
    finally:
        listener.sock.close()
