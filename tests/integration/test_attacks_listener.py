"""The HTTP listener under attack (issue 20, the third round): real sockets against a
real daemon. Each test here failed before its fix. (Its settings, checked before any
socket: tests/unit/test_attacks_listener.py.)

    Host names            only loopback literals, localhost and http.allowed_hosts
    guessing the token    Bearer and login throttled alike, per client address, logged
    idle connections      a connection cap, a whole-request deadline, a reserve of
                          descriptors the daemon keeps for its own work
    a login flood         /metrics, /healthz and / keep answering
    early resets          one structured log line, no tracebacks
    listen ":port"        loopback; a short body is answered 400
"""
from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import http_url, wait_for, worker_pids
from tests.http_clients import (
    Drip,
    FdSampler,
    address,
    ask,
    login_form,
    reset,
    served_connections,
    status_of,
    until_closed,
)

TOKEN = "studio-token-0123456789"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DEFAULT_MAX_CONNECTIONS = 64  # http.max_connections when the config does not say


# ---------------------------------------------------------------------- helpers
def drop(d, name: str) -> None:
    d.inbox.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (60, 40), (20, 140, 90)).save(d.root / name, "JPEG")
    os.rename(d.root / name, d.inbox / name)


def token_daemon(daemon_factory, extra: str = ""):
    return daemon_factory(extra=f'http: {{listen: "127.0.0.1:0", token: "{TOKEN}"{extra}}}')


def running(url: str) -> None:
    wait_for(lambda: status_of(url, "/healthz") == 200, 15, what="/healthz to answer 200")


# ---------------------------------------------------------------------- 4. Host names
REBOUND = ["127.evil.com", "127.0.0.1.nip.io", "127.0.0.1.nip.io:{port}", "localhost.evil.com", "evil.example:{port}",
           "[::1].evil.com", "127.1", ""]
LOOPBACK = ["127.0.0.1", "127.0.0.1:{port}", "127.0.0.2:{port}", "localhost", "LocalHost:{port}", "[::1]",
            "[::1]:{port}"]


def test_a_loopback_listener_answers_only_loopback_literals_and_localhost(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    port = address(url)[1]
    running(url)
    for path in ("/api/status", "/metrics", "/", "/healthz"):
        for name in REBOUND:
            status, _, body = ask(url, path, host=name.format(port=port))
            assert status == 421, f"Host: {name!r} read {path} (DNS rebinding): {status}"
        for name in LOOPBACK:
            assert ask(url, path, host=name.format(port=port))[0] == 200, (path, name)
    assert b"http.allowed_hosts" in body, "the refusal says how to add a name"
    assert d.stop() == 0


def test_a_listener_on_every_address_refuses_names_it_was_not_given(daemon_factory):
    d = daemon_factory(extra='http: {listen: "0.0.0.0:0"}').start()
    url = http_url(d)
    port = address(url)[1]
    running(url)
    for name in ("evil.example", f"evil.example:{port}", "127.evil.com"):
        assert ask(url, "/api/status", host=name)[0] == 421, name
    # An address typed as such cannot have been rebound: the browser went to it.
    assert ask(url, "/api/status", host=f"192.0.2.7:{port}")[0] == 200
    assert d.stop() == 0


def test_the_names_the_admin_lists_are_answered(daemon_factory):
    d = daemon_factory(extra='http: {listen: "0.0.0.0:0", allowed_hosts: [studio.example, Metrics.Example.org]}')
    d.start()
    url = http_url(d)
    port = address(url)[1]
    running(url)
    for name in ("studio.example", f"studio.example:{port}", "metrics.example.org", "STUDIO.EXAMPLE"):
        assert ask(url, "/metrics", host=name)[0] == 200, name
    for name in ("evil.studio.example", "studio.example.evil.com", "metrics.example"):
        assert ask(url, "/metrics", host=name)[0] == 421, name
    # A reload changes the list, on the same socket.
    d.config.write_text(d.config.read_text().replace("Metrics.Example.org", "metrics.example"))
    reloads = len(d.events("reloaded"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reloaded")) > reloads, 15, what="the reload")
    assert ask(url, "/metrics", host="metrics.example")[0] == 200
    assert ask(url, "/metrics", host="metrics.example.org")[0] == 421
    assert d.stop() == 0


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="needs systemd-socket-activate (apt: systemd)")
def test_a_socket_passed_by_systemd_checks_the_host_too(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:1"}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # -E PYTHONPATH: the tool passes on only what it is told to; else the daemon would be
    # whichever hotfolder the venv has installed, not this tree's
    d.start(launcher=["systemd-socket-activate", "-E", "PYTHONPATH", "-l", f"127.0.0.1:{port}"], wait_ready=False)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: status_of(url, "/healthz", timeout=10) == 200, 30, what="the daemon behind the socket")
    assert ask(url, "/api/status", host="127.evil.com")[0] == 421
    assert ask(url, "/api/status", host=f"127.0.0.1:{port}")[0] == 200
    assert d.stop() == 0


# ---------------------------------------------------------------------- 6. guessing the token
def test_bearer_guesses_are_throttled_and_logged_as_logins_are(daemon_factory):
    d = token_daemon(daemon_factory).start()
    url = http_url(d)
    running(url)
    answers = []
    for i in range(30):
        status, headers, body = ask(url, "/requeue", "POST", b"id=x",
                                    {**FORM, "Authorization": f"Bearer wrong-guess-{i:04d}-abcdefgh"})
        answers.append(status)
    assert answers[0] == 401 and answers[-1] == 429, answers
    assert answers.count(401) <= 10, f"{answers.count(401)} guesses in a row were checked"
    retry = int(headers["Retry-After"])
    assert 1 <= retry <= 60 and json.loads(body)["ok"] is False

    # While throttled even the right token waits: answering it would tell the token from a guess.
    bearer = {**FORM, "Authorization": f"Bearer {TOKEN}"}
    assert ask(url, "/requeue", "POST", b"id=nothing", bearer)[0] == 429
    # The login form is the same door: guesses through either count together.
    pre, csrf = login_form(url)
    status, headers, _ = ask(url, "/login", "POST", f"csrf={csrf}&token={TOKEN}".encode(),
                             {**FORM, "Cookie": f"hf_pre={pre}"})
    assert status == 429 and int(headers["Retry-After"]) >= 1
    # After Retry-After the token works again (404: past the token, no such file).
    wait_for(lambda: ask(url, "/requeue", "POST", b"id=nothing", bearer)[0] == 404, retry + 10,
             interval=0.5, what="the throttle to let the right token through")

    failed = d.events("http_auth_failed")
    assert failed and {e["via"] for e in failed} == {"bearer"}, failed
    assert all(e["client"] == "127.0.0.1" for e in failed)
    assert d.stop() == 0
    text = d.log_text()
    assert TOKEN not in text and "wrong-guess" not in text, "a token, right or wrong, never reaches the log"
    assert d.events("http_auth_throttled"), "the refusals are said (rate-limited)"


def test_wrong_logins_are_throttled_per_client_without_a_wait(daemon_factory):
    d = token_daemon(daemon_factory).start()
    url = http_url(d)
    running(url)
    pre, csrf = login_form(url)
    answers, took = [], []
    for i in range(15):
        start = time.monotonic()
        status, _, _ = ask(url, "/login", "POST", f"csrf={csrf}&token=wrong-{i:04d}-abcdefgh".encode(),
                           {**FORM, "Cookie": f"hf_pre={pre}"})
        took.append(time.monotonic() - start)
        answers.append(status)
    assert answers[0] == 303 and answers[-1] == 429 and answers.count(303) <= 10, answers
    median = sorted(took)[len(took) // 2]
    assert median < 0.25, f"a wrong login takes {median:.2f} s: the throttle must not hold a thread (it slept 0.5 s)"
    assert {e["via"] for e in d.events("http_auth_failed")} == {"login"}
    assert d.stop() == 0


# ---------------------------------------------------------------------- 7. descriptors
def test_the_connection_cap_holds_and_a_scrape_still_gets_in(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    host, port = address(url)
    running(url)
    idle = []
    try:
        for _ in range(DEFAULT_MAX_CONNECTIONS + 40):
            idle.append(socket.create_connection((host, port), timeout=2))
        wait_for(lambda: served_connections(d.proc.pid, port) >= DEFAULT_MAX_CONNECTIONS - 5, 10,
                 what="the daemon to take the idle connections")
        held = served_connections(d.proc.pid, port)
        assert held <= DEFAULT_MAX_CONNECTIONS, f"{held} connections held; the cap is {DEFAULT_MAX_CONNECTIONS}"
        # The oldest idle connection makes room for one that asks for something.
        for _ in range(5):
            assert ask(url, "/metrics", timeout=3)[0] == 200
        assert served_connections(d.proc.pid, port) <= DEFAULT_MAX_CONNECTIONS
    finally:
        for s in idle:
            s.close()
    assert d.stop() == 0


def test_a_listener_of_one_connection_answers_and_keeps_its_keep_alive(daemon_factory):
    """http.max_connections: 1 answered nothing once: the accept that reached the cap
    closed a connection to make room for one that was not there (a review found it)."""
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0", max_connections: 1}').start()
    url = http_url(d)
    running(url)
    assert [ask(url, "/healthz")[0] for _ in range(3)] == [200] * 3
    kept = http.client.HTTPConnection(*address(url), timeout=5)
    try:
        for path in ("/healthz", "/metrics", "/healthz"):  # one connection, kept alive
            kept.request("GET", path)
            response = kept.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
    finally:
        kept.close()
    assert d.stop() == 0


def test_dripping_connections_cannot_take_the_descriptors_the_daemon_needs(daemon_factory):
    """~1,000 connections each dripping a byte every few seconds used to take all 1,024
    descriptors: claiming stalled and a worker's death made the daemon give up. Here the
    daemon gets 200 descriptors and 400 such connections."""
    soft = 200
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}')
    d.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    url = http_url(d)
    running(url)
    with FdSampler(d.proc.pid) as fds, Drip(*address(url), n=400, every=1.0) as drip:
        wait_for(lambda: drip.rounds >= 3, 60, what="three rounds of the drip")
        # the scrape gets in at once under the flood: the oldest dripping connection makes room
        answers = [status_of(url, path, timeout=5) for path in ("/metrics", "/healthz") * 5]
        assert answers == [200] * 10, answers
        # files are claimed and rendered
        for i in range(3):
            drop(d, f"a{i}.jpg")
        wait_for(lambda: d.settled(3), 40, what="3 files rendered under the flood")
        # a worker that dies is replaced, and the daemon goes on
        victim = worker_pids(d)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in worker_pids(d) and len(worker_pids(d)) == 2, 30,
                 what="the dead worker to be replaced")
        drop(d, "b.jpg")
        wait_for(lambda: d.settled(4), 40, what="a file rendered after the worker's death")
        assert d.proc.poll() is None, d.log_text()[-3000:]
        assert drip.opened > 400, "the server closed dripping connections to make room"
    from hotfolder.ops.web.connections import FD_RESERVE

    # The listener stops at the reserve; what the daemon opens for a moment (a claim, a
    # worker's pipes) comes out of it.
    moment = 8
    assert fds.most <= soft - FD_RESERVE + moment, f"the daemon held {fds.most} of {soft} descriptors"
    assert d.stop() == 0
    assert "Too many open files" not in d.log_text()


# ---------------------------------------------------------------------- 8. a login flood
def test_a_login_flood_leaves_the_scrape_and_the_page_answering(daemon_factory):
    d = token_daemon(daemon_factory).start()
    url = http_url(d)
    running(url)
    pre, csrf = login_form(url)
    stop = threading.Event()
    logins: list[tuple[int, float]] = []

    def guess(n: int) -> None:
        i = 0
        while not stop.is_set():
            start = time.monotonic()
            try:
                status = ask(url, "/login", "POST", f"csrf={csrf}&token=wrong-{n}-{i}-abcdefgh".encode(),
                             {**FORM, "Cookie": f"hf_pre={pre}"}, timeout=30)[0]
            except OSError:
                status = 0
            logins.append((status, time.monotonic() - start))
            i += 1

    threads = [threading.Thread(target=guess, args=(n,), daemon=True) for n in range(40)]
    for t in threads:
        t.start()
    scrapes = []
    try:
        wait_for(lambda: len(logins) >= 40, 20, what="the flood to start")
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for path in ("/metrics", "/healthz", "/"):
                start = time.monotonic()
                scrapes.append((path, status_of(url, path, timeout=5), time.monotonic() - start))
    finally:
        stop.set()
        for t in threads:
            t.join(35)
    refused = [s for s in scrapes if s[1] != 200]
    assert not refused, f"{len(refused)} of {len(scrapes)} answers under the login flood were not 200: {refused[:5]}"
    median = sorted(s[2] for s in scrapes)[len(scrapes) // 2]
    assert median < 1.0, f"a scrape takes {median:.2f} s under the login flood"
    statuses = {s for s, _ in logins}
    assert 429 in statuses and statuses <= {303, 429}, statuses
    assert d.stop() == 0


# ---------------------------------------------------------------------- 9. early resets
def test_clients_that_reset_early_cost_a_log_line_not_tracebacks(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    host, port = address(url)
    running(url)
    for _ in range(200):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half a request, then gone
        reset(s)
    wait_for(lambda: d.event("http_client_gone") or _not_json(d), 10, what="the resets to be noticed")
    assert status_of(url, "/healthz") == 200
    assert d.stop() == 0
    not_json = _not_json(d)
    assert not not_json, f"{len(not_json)} log lines are not JSON, e.g.:\n" + "\n".join(not_json[:10])
    gone = d.events("http_client_gone")
    assert 1 <= len(gone) <= 3, f"{len(gone)} lines for 200 resets"
    assert sum(e["count"] for e in gone) >= 100, gone


def _not_json(d) -> list[str]:
    return [line for line in d.log_text().splitlines() if line.strip() and not _is_json_object(line)]


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


# ---------------------------------------------------------------------- 23. ":port", short bodies
def test_a_port_after_a_bare_colon_listens_on_loopback_only(daemon_factory):
    d = daemon_factory(extra='http: {listen: ":0"}').start()
    url = http_url(d)
    assert url.startswith("http://127.0.0.1:"), url
    port = address(url)[1]
    # a set: the kernel may list a socket twice while other tests' listeners come and go
    listening = {line.split()[1] for line in Path(f"/proc/{d.proc.pid}/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and int(line.split()[1].rsplit(":", 1)[1], 16) == port}
    assert listening == {f"0100007F:{port:04X}"}, f"bound to {listening}, not 127.0.0.1"
    assert d.stop() == 0


def test_a_short_body_is_answered_400_within_the_request_deadline(daemon_factory):
    d = token_daemon(daemon_factory, ", request_timeout: 2").start()
    url = http_url(d)
    running(url)
    with socket.create_connection(address(url), timeout=5) as s:
        s.sendall(b"POST /requeue HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\nid=abc")
        answer, took = until_closed(s, 10)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"Content-Length" in answer.split(b"\r\n\r\n", 1)[1], "the answer says what was short"
    assert 1.5 <= took <= 4.5, f"answered after {took:.1f} s; the deadline is 2 s"
    assert d.stop() == 0


def test_a_request_that_drips_is_cut_at_the_whole_request_deadline(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0", request_timeout: 2}').start()
    url = http_url(d)
    running(url)
    with socket.create_connection(address(url), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        start = time.monotonic()
        answer = b""
        while time.monotonic() - start < 10:  # a byte every 0.25 s: no single read ever times out
            try:
                s.sendall(b"x")
            except OSError:
                break
            s.settimeout(0.25)
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert took <= 4.5, f"the connection lived {took:.1f} s; the deadline is 2 s"
    assert d.stop() == 0
