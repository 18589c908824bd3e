"""sd_notify against a real AF_UNIX datagram socket, as systemd would listen."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from hotfolder.runtime import systemd


@pytest.fixture
def listener(tmp_path):
    """A datagram socket bound to a path, and its NOTIFY_SOCKET value."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


@pytest.fixture
def abstract_listener():
    name = f"hotfolder-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    yield sock, "@" + name
    sock.close()


@pytest.fixture(autouse=True)
def clean_default(monkeypatch):
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
        monkeypatch.delenv(key, raising=False)
    systemd.reset({})
    yield
    systemd.reset({})


def fields(datagram: bytes) -> dict[str, str]:
    text = datagram.decode()
    assert text.endswith("\n")
    return dict(line.split("=", 1) for line in text.splitlines())


def test_ready_and_status_reach_a_path_socket(listener):
    sock, address = listener
    n = systemd.SdNotify(address)
    assert n.enabled
    assert n.ready("processed 0, failed 0") is True
    assert fields(sock.recv(4096)) == {"READY": "1", "STATUS": "processed 0, failed 0"}
    assert n.status("queued 3") is True
    assert sock.recv(4096) == b"STATUS=queued 3\n"
    assert n.last_error is None


def test_abstract_socket(abstract_listener):
    sock, address = abstract_listener
    assert systemd.SdNotify(address).watchdog() is True
    assert sock.recv(4096) == b"WATCHDOG=1\n"


def test_stopping_and_reloading(listener):
    sock, address = listener
    n = systemd.SdNotify(address)
    assert n.stopping("draining 2 files")
    assert fields(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "draining 2 files"}
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    got = fields(sock.recv(4096))
    assert got["RELOADING"] == "1"
    assert before <= int(got["MONOTONIC_USEC"]) <= after


def test_newlines_cannot_forge_fields(listener):
    sock, address = listener
    assert systemd.SdNotify(address).status("bad\nREADY=1")
    assert sock.recv(4096) == b"STATUS=bad READY=1\n"


def test_bad_field_names_return_false(listener):
    _, address = listener
    n = systemd.SdNotify(address)
    assert n.notify(ready=1) is False
    assert "not a notify field name" in n.last_error


def test_no_socket_is_a_noop():
    n = systemd.SdNotify.from_environ({})
    assert not n.enabled
    assert n.ready() is False and n.status("x") is False and n.watchdog() is False
    assert n.watchdog_interval() is None
    assert n.last_error is None
    # the module-level functions, with nothing in the environment
    assert systemd.ready() is False
    assert systemd.reloading() is False
    assert systemd.watchdog_interval() is None


def test_failures_return_false_and_never_raise(tmp_path):
    gone = systemd.SdNotify(str(tmp_path / "missing.sock"))
    assert gone.ready() is False
    assert "missing.sock" in gone.last_error
    weird = systemd.SdNotify("vsock:2:1234")
    assert weird.watchdog() is False
    assert "unsupported" in weird.last_error
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("")
    assert systemd.SdNotify(str(not_a_socket)).status("x") is False


def test_watchdog_interval_is_half_of_watchdog_usec(listener):
    _, address = listener
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert systemd.SdNotify.from_environ(env).watchdog_interval() == 15.0
    env_no_pid = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "4000000"}
    assert systemd.SdNotify.from_environ(env_no_pid).watchdog_interval() == 2.0
    other_pid = dict(env, WATCHDOG_PID=str(os.getpid() + 1))
    assert systemd.SdNotify.from_environ(other_pid).watchdog_interval() is None
    for bad in ("", "abc", "0", "-5"):
        assert systemd.SdNotify.from_environ(dict(env, WATCHDOG_USEC=bad)).watchdog_interval() is None
    # no socket: no watchdog either
    assert systemd.SdNotify.from_environ({"WATCHDOG_USEC": "30000000"}).watchdog_interval() is None


def test_scrub_environ_keeps_the_address_in_memory(listener, monkeypatch):
    sock, address = listener
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    systemd.reset()
    systemd.scrub_environ()
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        assert key not in os.environ
    assert os.environ["JOURNAL_STREAM"] == "1:2"  # workers log to the same stream
    assert systemd.watchdog_interval() == 5.0
    assert systemd.ready("up") is True
    assert fields(sock.recv(4096)) == {"READY": "1", "STATUS": "up"}
    # a child started now (as workers are) inherits no socket
    out = subprocess.run(
        [sys.executable, "-c",
         "import os; print(os.environ.get('NOTIFY_SOCKET', '-'), os.environ.get('WATCHDOG_USEC', '-'))"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["-", "-"]
    systemd.scrub_environ()  # twice is harmless
    assert systemd.status("still here") is True


def test_under_journal(tmp_path):
    st = os.fstat(2)
    assert systemd.under_journal(environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert not systemd.under_journal(environ={})
    assert not systemd.under_journal(environ={"JOURNAL_STREAM": "garbage"})
    assert not systemd.under_journal(environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
    with open(tmp_path / "log", "w") as f:
        fst = os.fstat(f.fileno())
        env = {"JOURNAL_STREAM": f"{fst.st_dev}:{fst.st_ino}"}
        assert systemd.under_journal(f.fileno(), environ=env)
        assert not systemd.under_journal(2, environ=env)


def test_send_does_not_block_when_systemd_stops_reading(tmp_path):
    """A full receive queue makes the send fail after a short timeout, not hang."""
    path = tmp_path / "full.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.bind(str(path))
    try:
        n = systemd.SdNotify(str(path), send_timeout=0.05)
        start = time.monotonic()
        results = [n.status("x" * 200) for _ in range(40)]
        assert results[0] is True
        assert False in results
        assert "timed out" in n.last_error
        assert time.monotonic() - start < 5
    finally:
        sock.close()
