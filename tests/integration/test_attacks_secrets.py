"""The third attack round (issue 20), its secrets and its stuck senders.

Secrets (http.token, a webhook's secret, passwords in URLs, the tokens in apprise URLs)
never reach a log line, in JSON or console form, the status (file, `hotfolder status`,
/api/status, the page), an error of check-config, or a notification's failure reason.
A webhook that trickles its reply is cut at a whole-try deadline, counted and logged as
failing, and a reload abandons a stuck sender without leaking its thread or socket.

Real daemons (SIGHUP, their JSON and console logs), real HTTP servers on loopback. (The
secrets where they are known, without a daemon: tests/unit/test_attacks_secrets.py.)
"""
from __future__ import annotations

import base64
import os
import re
import secrets
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fake_secrets import leaks, tgram_token, tok
from tests.harness import hotfolder, http_url, wait_for


def bad_file(d, name: str) -> None:
    d.inbox.mkdir(parents=True, exist_ok=True)
    (d.root / name).write_bytes(b"not an image at all")
    os.rename(d.root / name, d.inbox / name)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8", "replace")


# --- servers on loopback ---------------------------------------------------------

class Receiver:
    """A webhook that answers 200 at once and records each request's headers."""

    def __init__(self):
        self.posts: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Trickle:
    """An HTTP server that reads the request, then drips its answer one byte every
    `every` seconds, for ever: no read of the client's ever waits long enough to time
    out. `live` counts the connections it holds now (a client that closes or shuts its
    socket down ends its connection here within `every` seconds)."""

    HTTP = b"HTTP/1.1 200 OK\r\nX-Slow: "
    TLS = b"\x16\x03\x03\x40\x00"  # a TLS handshake record of 16 KiB, never finished

    def __init__(self, every: float = 0.5, answer: bytes = HTTP, then: bytes = b"a", head_ends: bytes = b"\r\n\r\n"):
        self.every, self.answer, self.then, self.head_ends = every, answer, then, head_ends
        self.lock = threading.Lock()
        self.live = 0
        self.accepted = 0
        self.closing = threading.Event()
        trickle = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with trickle.lock:
                    trickle.live += 1
                    trickle.accepted += 1
                try:
                    trickle.drip(self.request)
                finally:
                    with trickle.lock:
                        trickle.live -= 1

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.port = self.server.server_address[1]

    def drip(self, sock: socket.socket) -> None:
        sock.settimeout(30)
        head = b""
        while self.head_ends not in head:  # the request's head; its body is left unread
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        answer = self.answer
        i = 0
        while not self.closing.is_set():
            readable, _, _ = select.select([sock], [], [], self.every)
            if readable:
                try:
                    if not sock.recv(4096):  # the client closed or shut down its side
                        return
                except OSError:
                    return
                continue
            try:
                sock.sendall(answer[i:i + 1] if i < len(answer) else self.then)
            except OSError:
                return
            i += 1

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.live, self.accepted

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    made = []

    def make(kind):
        made.append(kind())
        return made[-1]

    yield make
    for s in made:
        s.close()


def secret_config(values: dict) -> str:
    return (f'http: {{listen: "127.0.0.1:0", token: "{values["token"]}"}}\n'
            "notify_interval: 2\n"
            "notify:\n"
            f'  - {{url: "http://hook:{values["hook_pw"]}@127.0.0.1:9/hooks/{values["path"]}", '
            f'secret: "{values["hook_secret"]}"}}\n'
            f'  - {{url: "mailto://studio:{values["mail_pw"]}@mail.example.com"}}\n'
            f'  - {{url: "tgram://{values["bot"]}/-1001234567890"}}\n'
            f'  - {{url: "discord://4174216298/{values["discord"]}"}}\n')


def secret_values() -> dict:
    return {"token": tok("newtoken"), "hook_pw": tok("hookpw"), "path": tok("pathtok"),
            "hook_secret": tok("hooksecret"), "mail_pw": tok("mailpw"), "bot": tgram_token(),
            "discord": tok("discord")}


def all_secrets(*value_sets: dict) -> list[str]:
    out = []
    for values in value_sets:
        out += [v for k, v in values.items()] + values["bot"].split(":")
    return out


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_reload_shows_no_secret_in_the_log_or_the_status(daemon_factory, monkeypatch, fmt):
    """A reload that changes every secret, the token first taken from the environment:
    the log (JSON and console) says what changed, never a value; nor does the status."""
    first = secret_values()
    monkeypatch.setenv("HOTFOLDER_TEST_TOKEN", first["token"])
    d = daemon_factory(extra=secret_config({**first, "token": "${HOTFOLDER_TEST_TOKEN}"}), workers=1)
    d.inbox.mkdir(parents=True)
    d.start("--log-format", fmt, wait_ready=False)
    said = (lambda what: f" {what}: " in d.log_text()) if fmt == "console" else \
        (lambda what: d.event(what) is not None)
    wait_for(lambda: said("ready") or not d.running(), 30, what="ready")
    d.check_alive()
    second = secret_values()
    d.config.write_text(d.config.read_text().replace("workers: 1", "workers: 2").replace(
        secret_config({**first, "token": "${HOTFOLDER_TEST_TOKEN}"}), secret_config(second)))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: said("reloaded"), 20, what="the reload")
    status = d.status()
    plain = hotfolder("status", "-c", str(d.config))
    assert plain.returncode == 0, plain.stderr
    assert d.stop() == 0
    text = d.log_text()
    if fmt == "json":
        changes = d.event("reloaded")["changes"]
        for change in ("workers 1 → 2", "http.token changed", "notify[0]: secret changed",
                       "notify[0]: url changed", "notify[1]: url changed", "notify[3]: url changed"):
            assert change in changes, changes
    else:
        assert "reloaded: workers 1 → 2; http.token changed" in text, text
    everything = text + status.stdout + status.stderr + plain.stdout + plain.stderr
    assert not leaks(everything, all_secrets(first, second)), everything


def test_a_refused_reload_quotes_no_secret_in_the_log_status_page_or_check_config(daemon_factory):
    """Config errors that quote a value (a numeric token, a URL without its scheme, an
    apprise URL apprise refuses and logs): the key is named, the value is not."""
    token = tok("goodtoken")
    d = daemon_factory(extra=f'http: {{listen: "127.0.0.1:0", token: {token}}}', workers=1).start()
    url = http_url(d)
    numeric = str(secrets.randbelow(10**23) + 10**23)
    smtp_pw, bot = tok("smtppw"), tgram_token()
    original = d.config.read_text()
    d.config.write_text(original.replace(f"token: {token}", f"token: {numeric}") + "notify:\n"
                        f'  - {{url: "studio:{smtp_pw}@smtp.example.com"}}\n'
                        f'  - {{url: "tgram://{bot}@api.example.com/-100123"}}\n')
    hidden = [numeric, smtp_pw, bot, *bot.split(":")]
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 20, what="the refusal")
    assert refused["key"] == "http.token" and any("notify[0].url" in p for p in refused["problems"]), refused
    wait_for(lambda: "reload refused" in d.status_json().get("message", ""), 10, what="the status to say so")
    status = d.status().stdout
    plain = subprocess.run([sys.executable, "-m", "hotfolder", "status", "-c", str(d.config)],
                           capture_output=True, text=True, timeout=30, check=False)
    api = wait_for(lambda: [t for t in [get(url + "/api/status")] if "reload refused" in t], 10,
                   what="/api/status to say so")[0]
    page = get(url + "/")
    check = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(d.config)],
                           capture_output=True, text=True, timeout=60, cwd=d.root, check=False)
    assert d.stop() == 0
    for name, text in (("log", d.log_text()), ("status --json", status), ("status", plain.stdout + plain.stderr),
                       ("/api/status", api), ("page", page), ("check-config", check.stdout + check.stderr)):
        assert not leaks(text, hidden), (name, text)
    assert check.returncode == 1 and "http.token" in check.stderr and "notify[0].url" in check.stderr, check.stderr
    assert "smtp.example.com" in check.stderr, "the public part of the URL is still shown"


def test_a_secret_starting_with_a_block_scalar_sign_is_not_quoted_by_its_refusal(daemon_factory, servers):
    """`token: |Zq8…` unquoted is YAML's block of text: the hint of the refusal quoted the
    value whole (`quote it, e.g. token: "|Zq8…"`), into the journal, the status, the page,
    and the reload_refused notification to a third party (an attack round). A refused
    config's values are registered nowhere: the last line of defence could not mask them."""
    hook = servers(Receiver)
    token = tok("goodtoken")
    d = daemon_factory(extra=f'http: {{listen: "127.0.0.1:0", token: {token}}}\nnotify_interval: 1\nnotify:\n'
                             f'  - {{url: "http://127.0.0.1:{hook.port}/hook", events: [reload_refused]}}\n',
                       workers=1).start()
    url = http_url(d)
    original = d.config.read_text()
    for sign, key in (("|", "token"), (">", "url")):
        leaked = sign + tok("Zq8")
        if key == "token":
            line = f'http: {{listen: "127.0.0.1:0", token: {token}}}'
            assert line in original
            d.config.write_text(original.replace(line, f'http:\n  listen: "127.0.0.1:0"\n  token: {leaked}'))
        else:
            d.config.write_text(original + f"cluster:\n  broker_url: {leaked}\n")
        before = len(d.events("reload_refused"))
        d.proc.send_signal(signal.SIGHUP)
        refused = wait_for(lambda before=before: d.events("reload_refused")[before:], 20, what="the refusal")[0]
        said = "broker_url" if key == "url" else "token"
        assert f'begins a YAML block of text: quote it, e.g. {said}: "{sign}…"' in refused["reason"], refused
        wait_for(lambda before=before: len(hook.posts) > before, 20, what="the reload_refused notification")
        status = d.status().stdout
        api = get(url + "/api/status")
        page = get(url + "/")
        posts = "".join(p["body"].decode("utf-8", "replace") for p in hook.posts)
        for name, text in (("log", d.log_text()), ("status --json", status), ("/api/status", api), ("page", page),
                           ("notification", posts)):
            assert not leaks(text, [leaked[1:]]), (name, text)
    assert d.stop() == 0


def test_webhook_credentials_are_sent_and_failure_reasons_hide_them(daemon_factory, servers):
    """`http://user:password@host/…` sends Basic auth (it used to fail with urllib's
    `nonnumeric port: 'password@host'`, logged whole); the failure reasons of a dead
    webhook and of an apprise URL (apprise's own messages) hide every credential."""
    r = servers(Receiver)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again: connections are refused
    pw, path, secret, dead_pw, json_pw = (tok("hookpw"), tok("path"), tok("sec"), tok("deadpw"), tok("jsonpw"))
    d = daemon_factory(extra="notify_interval: 1\nnotify:\n"
                             f'  - {{url: "http://hook:{pw}@127.0.0.1:{r.port}/hooks/{path}", secret: "{secret}"}}\n'
                             f'  - {{url: "http://hook:{dead_pw}@127.0.0.1:{dead}/x"}}\n'
                             f'  - {{url: "json://hook:{json_pw}@127.0.0.1:{dead}/apprise"}}\n', workers=1).start()
    bad_file(d, "broken.jpg")
    post = wait_for(lambda: r.posts, 15, what="the webhook with credentials")[0]
    assert post["path"] == f"/hooks/{path}"
    assert post["headers"]["Authorization"] == "Basic " + base64.b64encode(f"hook:{pw}".encode()).decode()
    wait_for(lambda: {e["endpoint"] for e in d.events("notify_retry")} >= {"notify[1]", "notify[2]"}, 20,
             what="both dead endpoints retried")
    retries = {e["endpoint"]: e for e in d.events("notify_retry")}
    assert "refused" in retries["notify[1]"]["reason"].lower(), retries
    assert "apprise" in retries["notify[2]"]["reason"].lower(), retries
    assert retries["notify[1]"]["url"] == f"http://hook:***@127.0.0.1:{dead}/***", retries
    assert d.stop() == 0
    basic = base64.b64encode(f"hook:{pw}".encode()).decode()
    assert not leaks(d.log_text(), [pw, path, secret, dead_pw, json_pw, basic]), d.log_text()


# --- 10. a webhook that trickles its reply ----------------------------------------

def metric(url: str, endpoint: str, outcome: str) -> float:
    pattern = rf'^hotfolder_notifications_total{{endpoint="{re.escape(endpoint)}",outcome="{outcome}"}} (\S+)$'
    m = re.search(pattern, get(url + "/metrics"), re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def test_a_trickling_webhook_is_cut_at_the_deadline_counted_and_logged(daemon_factory, servers):
    t = servers(Trickle)
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}\nnotify_interval: 2\nnotify:\n'
                             f'  - {{url: "http://127.0.0.1:{t.port}/hook"}}\n', workers=1).start()
    url = http_url(d)
    bad_file(d, "broken.jpg")
    wait_for(lambda: t.counts()[1] >= 1, 15, what="the first try")
    retry = wait_for(lambda: d.event("notify_retry"), 25, what="the try cut at its deadline")
    assert retry["endpoint"] == "notify[0]" and "within" in retry["reason"], retry
    # A reload that touches the item abandons the stuck try: counted and logged as failed.
    d.config.write_text(d.config.read_text().replace("notify_interval: 2", "notify_interval: 3"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reloaded"), 20, what="the reload")
    failed = wait_for(lambda: d.event("notify_failed"), 15, what="the abandoned try logged")
    assert failed["endpoint"] == "notify[0]" and failed["events"] == 1, failed
    wait_for(lambda: metric(url, "notify[0]", "failed") == 1, 10, what="the failure counted in /metrics")
    wait_for(lambda: t.counts()[0] == 0, 10, what="the stuck connection closed")
    t0 = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t0 < 15


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_one_try_is_cut_at_its_deadline_even_in_a_tls_handshake(servers, scheme):
    """The sender on its own (real sockets): a deadline ends the try wherever it is stuck,
    reading the answer's head or in a TLS handshake whose record never ends."""
    from hotfolder.config.model import NotifyTarget
    from hotfolder.ops.message import Message
    from hotfolder.ops.notices import Notice
    from hotfolder.ops.senders import Try, Undeliverable, post_webhook

    t = servers(Trickle) if scheme == "http" else \
        servers(lambda: Trickle(answer=Trickle.TLS, then=b"\0", head_ends=b""))  # drips at once
    call = Try(1.5)
    timer = threading.Timer(1.5, call.expire)
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(Undeliverable, match="no complete answer within 1.5 s"):
            post_webhook(NotifyTarget(url=f"{scheme}://127.0.0.1:{t.port}/hook"),
                         Message((Notice("failed", "f", "x.jpg", "bad"),), 1, "host"), call)
    finally:
        timer.cancel()
    assert 1.4 < time.monotonic() - t0 < 4
    wait_for(lambda: t.counts()[0] == 0, 5, what="the connection closed")


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_reloads_against_a_trickling_endpoint_leak_no_thread_or_socket(daemon_factory, servers):
    """Each cycle: a failure gets both endpoints (a webhook, an apprise URL) stuck on the
    trickling server, then a reload replaces them. Threads and connections stay bounded."""
    t = servers(Trickle)
    items = (f'  - {{url: "http://127.0.0.1:{t.port}/hook"}}\n'
             f'  - {{url: "json://127.0.0.1:{t.port}/apprise"}}\n')
    d = daemon_factory(extra=f"notify_interval: 2\nnotify:\n{items}", workers=1).start()
    baseline = threads_of(d.proc.pid)
    cycles = 6
    for i in range(cycles):
        want = t.counts()[1] + (2 if i == 0 else 1)  # after the first, apprise's try stays stuck: no new one
        bad_file(d, f"broken{i}.jpg")
        wait_for(lambda n=want: t.counts()[1] >= n, 15, what=f"cycle {i}: a stuck try")
        reloads = len(d.events("reloaded"))
        interval = 3 if i % 2 == 0 else 2
        d.config.write_text(re.sub(r"notify_interval: \d", f"notify_interval: {interval}", d.config.read_text()))
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda n=reloads: len(d.events("reloaded")) > n, 20, what=f"cycle {i}: the reload")
    # Abandoned webhook tries end at once; apprise's (its sockets are not ours) are
    # bounded to one per URL: no new try starts while the old one is stuck. Left: that
    # one's thread, and the webhook item's current try (the events handed over to it)
    # with its deadline's timer: 2 connections, 2 threads.
    wait_for(lambda: t.counts()[0] <= 2, 15, what=f"at most 2 connections held (live, accepted: {t.counts()})")
    wait_for(lambda: threads_of(d.proc.pid) <= baseline + 2, 15,
             what=f"threads back near the baseline of {baseline} (now {threads_of(d.proc.pid)})")
    failed = [e for e in d.events("notify_failed") if e["endpoint"] == "notify[0]"]
    assert len(failed) == cycles, failed
    assert d.stop() == 0
