"""Notifications to a real HTTP receiver: signed, batched, retried, never in the way.

The receiver is an `http.server` in the test; the daemon is the real `hotfolder run`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import files_under, wait_for, worker_pids
from tests.harness.daemon import RENDITIONS

SECRET = "a shared secret"


class Receiver:
    """Records every POST; answers `fail_first` of them with 500."""

    def __init__(self, fail_first: int = 0):
        self.posts: list[dict] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    n = len(receiver.posts)
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                           "at": time.monotonic()})
                self.send_response(500 if n < receiver.fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def ok_posts(self, path: str | None = None) -> list[dict]:
        with self.lock:
            return [p for i, p in enumerate(self.posts) if i >= self.fail_first and (path is None or p["path"] == path)]

    def events(self, path: str | None = None) -> list[dict]:
        return [e for p in self.ok_posts(path) for e in json.loads(p["body"])["events"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**kw) -> Receiver:
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def bad(d, name: str) -> None:
    d.inbox.mkdir(parents=True, exist_ok=True)
    (d.root / name).write_bytes(b"not an image at all")
    os.rename(d.root / name, d.inbox / name)


def good(d, name: str, size=(160, 120)) -> None:
    d.inbox.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (10, 200, 90)).save(d.root / name, "JPEG")
    os.rename(d.root / name, d.inbox / name)


def notify_config(*items: str, interval: float = 2) -> str:
    return f"notify_interval: {interval}\nnotify:\n" + "".join(f"  - {item}\n" for item in items)


def test_a_failing_file_posts_a_signed_webhook_within_seconds(daemon_factory, receiver):
    r = receiver()
    d = daemon_factory(extra=notify_config(f'{{url: "{r.url}/hook", secret: "{SECRET}"}}')).start()
    t0 = time.monotonic()
    bad(d, "broken.jpg")
    post = wait_for(lambda: r.ok_posts("/hook"), 10, what="the webhook")[0]
    assert post["at"] - t0 < 5, f"took {post['at'] - t0:.1f} s"
    expected = "sha256=" + hmac.new(SECRET.encode(), post["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(post["headers"]["X-Hotfolder-Signature"], expected)
    assert post["headers"]["Content-Type"] == "application/json"
    assert post["headers"]["X-Hotfolder-Event"] == "failed"
    from hotfolder import build
    assert post["headers"]["User-Agent"] == f"hotfolder/{build.identity()}"  # the code, not only the release
    body = json.loads(post["body"])
    assert {k: body[k] for k in ("event", "folder", "file", "step", "attempts")} == {
        "event": "failed", "folder": "test", "file": "broken.jpg", "step": "open", "attempts": 1}
    assert "accepted" in body["reason"] and body["host"] == socket.gethostname()
    assert body["time"].endswith("Z") and body["count"] == 1 and len(body["events"]) == 1
    # The default events are failed and paused: the start's "recovered" was not sent.
    assert {e["event"] for e in r.events()} == {"failed"}
    assert d.stop() == 0


def test_many_failures_at_once_are_batched_per_interval(daemon_factory, receiver):
    r = receiver()
    interval = 3
    d = daemon_factory(extra=notify_config(f'{{url: "{r.url}/hook", events: [failed]}}', interval=interval)).start()
    names = [f"bad{i:02d}.jpg" for i in range(12)]
    for name in names:
        (d.root / name).write_bytes(b"garbage " + name.encode())
    d.inbox.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.rename(d.root / name, d.inbox / name)
    wait_for(lambda: sorted(e["file"] for e in r.events()) == names, 30,
             what=f"every failure notified once (got {[e['file'] for e in r.events()]})")
    posts = r.ok_posts()
    assert len(posts) <= 3, f"{len(posts)} messages for one burst"
    for a, b in zip(posts, posts[1:], strict=False):
        assert b["at"] - a["at"] >= interval - 0.3, "more than one message per notify_interval"
    assert sum(json.loads(p["body"])["count"] for p in posts) == len(names)
    assert d.stop() == 0


def test_a_dead_or_failing_endpoint_is_retried_and_never_stops_the_work(daemon_factory, receiver):
    flaky = receiver(fail_first=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again: connections are refused
    d = daemon_factory(extra=notify_config(f'{{url: "http://127.0.0.1:{dead}/nobody"}}',
                                           f'{{url: "{flaky.url}/flaky"}}')).start()
    bad(d, "broken.jpg")
    for i in range(5):
        good(d, f"fine{i}.jpg")
    wait_for(lambda: d.settled(6), 30, what="every file at its end despite the endpoints")
    assert sorted(files_under(d.archive)) == [f"fine{i}.jpg" for i in range(5)]
    got = wait_for(lambda: flaky.ok_posts(), 20, what="the flaky endpoint's third try")
    assert json.loads(got[0]["body"])["file"] == "broken.jpg" and len(flaky.posts) == 3
    retries = [e for e in d.events("notify_retry") if e["endpoint"] == "notify[0]"]
    assert retries and "refused" in retries[0]["reason"].lower()
    assert all("nobody" not in json.dumps(e) for e in d.events("notify_retry")), "no URL path (secrets) in logs"
    assert d.proc.poll() is None
    t0 = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t0 < 15, "a dead endpoint must not hold up the stop"


def test_apprise_urls_and_the_other_events(daemon_factory, receiver):
    """json:// goes through apprise to the same kind of receiver; reload_refused,
    worker_lost and recovered reach the items that asked for them."""
    r = receiver()
    every = "[failed, paused, reload_refused, worker_lost, recovered]"
    port = r.url.rsplit(":", 1)[1]
    d = daemon_factory(extra=notify_config(f'{{url: "{r.url}/all", events: {every}}}',
                                           f'{{url: "json://127.0.0.1:{port}/apprise", events: [recovered]}}',
                                           interval=1),
                       renditions="- name: full\n  operation: none\n  format: png\n", workers=1).start()
    wait_for(lambda: r.ok_posts("/apprise"), 10, what="apprise's message")
    sent = json.loads(r.ok_posts("/apprise")[0]["body"])
    assert "recovered" in sent["title"] and "recovery ran" in sent["message"], sent
    start = wait_for(lambda: [e for e in r.events("/all") if e["event"] == "recovered"], 10, what="recovered")[0]
    assert "recovery ran" in start["reason"]

    d.config.write_text(d.config.read_text().replace("workers: 1", "workers: lots"))
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: [e for e in r.events("/all") if e["event"] == "reload_refused"], 10,
                       what="reload_refused")[0]
    assert "workers" in refused["reason"] and "hotfolder.yaml" in refused["reason"]
    d.config.write_text(d.config.read_text().replace("workers: lots", "workers: 1"))

    # A big image keeps the worker busy; kill it mid-render.
    Image.effect_noise((3000, 3000), 60).convert("RGB").save(d.root / "huge.png")
    os.rename(d.root / "huge.png", d.inbox / "huge.png")
    busy = wait_for(lambda: [c for c in d.status_json().get("current", []) if c["file"] == "huge.png"], 20,
                    interval=0.02, what="the big file being rendered")[0]
    assert busy["pid"] in worker_pids(d) and busy["folder"] == "test"
    os.kill(busy["pid"], signal.SIGKILL)
    lost = wait_for(lambda: [e for e in r.events("/all") if e["event"] == "worker_lost"], 10, what="worker_lost")[0]
    assert lost["file"] == "huge.png" and "signal 9" in lost["reason"] and lost["attempts"] == 1
    assert len(r.ok_posts("/apprise")) == 1, "the apprise item asked for recovered only"
    assert d.stop() == 0


def test_done_is_sent_to_who_asks_with_the_manifest_written_beside_the_outputs(daemon_factory, receiver):
    """/api/status's `done` entries carry it as the webhook does, an object (or null): they
    had it as the manifest's JSON text, "" when there was none."""
    import urllib.request

    from tests.harness import http_url

    r = receiver()
    d = daemon_factory(extra=notify_config(f'{{url: "{r.url}/done", events: [done]}}', f'{{url: "{r.url}/default"}}',
                                           interval=1) + '\nhttp: {listen: "127.0.0.1:0"}',
                       renditions=RENDITIONS.replace("quality: 85", "quality: auto"),
                       folder_extra='manifest: "{stem}.json"', on_duplicate="skip").start()
    good(d, "fine.jpg", size=(640, 480))
    done = wait_for(lambda: r.events("/done"), 20, what="the done event")[0]
    assert (done["event"], done["folder"], done["file"]) == ("done", "test", "fine.jpg")
    assert sorted(done["outputs"]) == ["fine_thumb.webp", "fine_web.jpg"]
    manifest = done["manifest"]
    assert manifest == json.loads((d.output / "fine.json").read_text())
    assert manifest["source"]["name"] == "fine.jpg" and len(manifest["source"]["blake3"]) == 64
    assert {o["path"]: o["bytes"] for o in manifest["outputs"]} == {
        name: (d.output / name).stat().st_size for name in ("fine_web.jpg", "fine_thumb.webp")}
    assert manifest["placeholder"] and manifest["dominant_color"].startswith("#")
    assert d.events("manifest_written")[0]["manifest"] == "fine.json"
    # The quality chosen and its score: in the log as in the manifest (web: quality auto; thumb: 85, no score).
    logged = {e["rendition"]: (e["quality"], e["score"], e["scored"]) for e in d.events("rendition_written")}
    assert logged == {o["rendition"]: (o["quality"], o["score"], o["score_measured"]) for o in manifest["outputs"]}
    assert 40 <= logged["web"][0] <= 100 and logged["thumb"] == (85, None, False)
    assert logged["web"][1] is None or logged["web"][1] >= 77
    (d.root / "copy.jpg").write_bytes((d.archive / "fine.jpg").read_bytes())  # a skipped copy: no manifest
    os.rename(d.root / "copy.jpg", d.inbox / "copy.jpg")
    url = http_url(d)

    def listed() -> dict:
        with urllib.request.urlopen(url + "/api/status", timeout=10) as api:
            return {e["file"]: e["manifest"] for e in json.loads(api.read())["done"]}

    api = wait_for(lambda: (got := listed()).keys() == {"fine.jpg", "copy.jpg"} and got, 20,
                   what="the file and its copy in /api/status")
    assert api == {"fine.jpg": manifest, "copy.jpg": None}, api
    bad(d, "broken.jpg")
    wait_for(lambda: r.events("/default"), 20, what="the failure, to the default item")
    assert {e["event"] for e in r.events("/default")} == {"failed"}, "done is only for who asks for it"
    assert d.stop() == 0


def test_a_name_that_is_not_utf8_reaches_the_done_event_and_the_page_shown_not_raw(daemon_factory, receiver):
    """One such name made the page answer 500 until 50 files pushed it out, and failed the
    `done` webhook of every file batched with it (a review): names are shown as \\xNN."""
    import urllib.request

    from tests.harness import http_url

    r = receiver()
    d = daemon_factory(extra=notify_config(f'{{url: "{r.url}/done", events: [done]}}', interval=1)
                       + '\nhttp: {listen: "127.0.0.1:0"}', on_duplicate="skip").start()
    d.inbox.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (160, 120), (10, 200, 90)).save(d.root / "x.jpg", "JPEG")
    again = (d.root / "x.jpg").read_bytes()
    os.rename(d.root / "x.jpg", os.fsdecode(os.fsencode(d.inbox) + b"/ok\xffbyte.jpg"))
    good(d, "fine.jpg", size=(200, 150))
    events = wait_for(lambda: len(r.events("/done")) == 2 and r.events("/done"), 20, what="both done events")
    (d.root / "copy.jpg").write_bytes(again)  # skipped: the page lists it with the earlier one's outputs
    os.rename(d.root / "copy.jpg", d.inbox / "copy.jpg")
    wait_for(lambda: d.event("duplicate_skipped"), 20, what="the copy skipped")
    assert {e["file"] for e in events} == {"ok\\xffbyte.jpg", "fine.jpg"}
    assert sorted(o for e in events for o in e["outputs"] if o.startswith("ok")) == [
        "ok\\xffbyte_thumb.webp", "ok\\xffbyte_web.jpg"]
    url = http_url(d)
    def page() -> str:
        with urllib.request.urlopen(url + "/", timeout=10) as answer:
            assert answer.status == 200
            return answer.read().decode("utf-8")

    shown = wait_for(lambda: [p for p in [page()] if "copy.jpg" in p], 10, what="the skipped copy on the page")[0]
    assert "ok\\xffbyte" in shown
    with urllib.request.urlopen(url + "/api/status", timeout=10) as api:
        text = api.read().decode("utf-8")
    assert "\\udcff" not in text and "ok\\\\xffbyte_web.jpg" in text
    assert d.stop() == 0


def test_a_burst_of_done_reaches_an_endpoint_whole_in_messages_of_a_hundred(receiver):
    """A shop's importer needs every file: kept to 100 events an endpoint, a burst of 5,000
    files lost 3,700 `done` events to a healthy endpoint, counted only in a metric (an attack
    round). Now a `done` backlog goes out in messages of 100, one right after another; an
    endpoint of failures alone still keeps 100 and says what it dropped."""
    from hotfolder.config.model import NotifyTarget
    from hotfolder.ops.notices import Notice, NoticeKind
    from hotfolder.ops.notify import Delivery, Endpoint

    r = receiver()
    done = Endpoint(0, NotifyTarget(f"{r.url}/done", events=("done",)), interval=30.0, host="test")
    failed = Endpoint(1, NotifyTarget(f"{r.url}/failed", events=("failed",)), interval=30.0, host="test")
    for endpoint in (done, failed):
        endpoint.start()
    try:
        for i in range(1_000):
            done.put(Notice(NoticeKind.DONE, "test", f"f{i:04d}.jpg", outputs=(f"f{i:04d}_web.jpg",)))
        for i in range(150):
            failed.put(Notice(NoticeKind.FAILED, "test", f"b{i:03d}.jpg", reason="broken"))
        wait_for(lambda: len(r.events("/done")) == 1_000 and r.ok_posts("/failed"), 20,
                 what=f"every done event (got {len(r.events('/done'))}) and the failures' message")
    finally:
        for endpoint in (done, failed):
            endpoint.stop()
            endpoint.join(5)
    assert [e["file"] for e in r.events("/done")] == [f"f{i:04d}.jpg" for i in range(1_000)]
    assert [json.loads(p["body"])["count"] for p in r.ok_posts("/done")] == [100] * 10
    assert done.counts[Delivery.DROPPED] == 0
    (message,) = [json.loads(p["body"]) for p in r.ok_posts("/failed")]
    assert message["count"] == 150 and len(message["events"]) == 100 and failed.counts[Delivery.DROPPED] == 50


_PROBE_SERVER = '''
import ctypes, json, socket, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from hotfolder.config.model import NotifyTarget
from hotfolder.ops.message import Message
from hotfolder.ops.notices import Notice, NoticeKind
from hotfolder.ops.senders import SEND_TIMEOUT, Try, Undeliverable, post_webhook

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
'''


def _probe_with_hook_test(tmp_path: Path, code: str) -> dict:
    """Run a probe (a real HTTP server, then post_webhook) in a mount namespace of its own
    whose /etc/hosts names `hook.test` ::1 first and 127.0.0.1 second; its JSON line."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 hook.test\n127.0.0.1 hook.test\n")
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    proc = subprocess.run(["unshare", "-m", "sh", "-c", f'mount --bind "{hosts}" /etc/hosts && exec '
                           f'"{sys.executable}" "{probe}"'], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and "mount" in proc.stderr + proc.stdout and not proc.stdout.strip():
        pytest.skip(f"cannot mount an /etc/hosts of its own here (needs root): {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


_DUAL_STACK_PROBE = _PROBE_SERVER + '''port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
hole = socket.socket(socket.AF_INET6)  # the same port on ::1, where every SYN is dropped:
hole.bind(("::1", port))               # its one place in the queue taken, nothing accepted
hole.listen(0)
filler = socket.socket(socket.AF_INET6)
filler.connect(("::1", port))
first = socket.getaddrinfo("hook.test", port, 0, socket.SOCK_STREAM)[0][0]
call = Try(SEND_TIMEOUT)  # as notify.Endpoint._try runs one
timer = threading.Timer(SEND_TIMEOUT, call.expire)
timer.daemon = True
timer.start()
started = time.monotonic()
try:
    post_webhook(NotifyTarget(f"http://hook.test:{port}/hook"),
                 Message((Notice(NoticeKind.FAILED, "test", "a.jpg", reason="broken"),), 1, "host"), call)
    out = {"sent": True}
except Undeliverable as exc:
    out = {"sent": False, "reason": str(exc)}
out.update(seconds=time.monotonic() - started, first="ipv6" if first == socket.AF_INET6 else "ipv4")
print(json.dumps(out))
'''


def test_a_webhook_whose_ipv6_drops_packets_is_reached_over_ipv4_within_the_try(tmp_path):
    """socket.create_connection gave a host's first address the whole 10 s of a try: a
    webhook host whose AAAA record leads where packets are dropped (IPv6 firewalled) and
    whose IPv4 answers at once was never sent anything, every try timing out on IPv6 (an
    attack round). The name `hook.test` is ::1 (a port where SYNs are dropped) and
    127.0.0.1 (a real HTTP server), in an /etc/hosts of a mount namespace of its own."""
    out = _probe_with_hook_test(tmp_path, _DUAL_STACK_PROBE)
    if out["first"] != "ipv6":
        pytest.skip("this resolver puts IPv4 first: the dropped IPv6 address is not tried first")
    assert out["sent"] and out["seconds"] < 9, out


_NO_IPV6_PROBE = _PROBE_SERVER + '''threading.Thread(target=server.serve_forever, daemon=True).start()
closed = socket.socket()  # a port of 127.0.0.1 where nothing listens: refused
closed.bind(("127.0.0.1", 0))
refused_port = closed.getsockname()[1]
closed.close()

# What systemd's RestrictAddressFamilies= (without AF_INET6), or a kernel booted with
# ipv6.disable=1, does: socket(AF_INET6, ...) fails with EAFNOSUPPORT. A seccomp filter
# of this thread (and those it starts), for x86_64.
def ins(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)
program = b"".join([
    ins(0x20, 4), ins(0x15, 0xC000003E, 0, 5),     # arch: x86_64, else allow
    ins(0x20, 0), ins(0x15, 41, 0, 3),             # socket(2), else allow
    ins(0x20, 16), ins(0x15, socket.AF_INET6, 0, 1),
    ins(0x06, 0x00050000 | 97),                    # EAFNOSUPPORT
    ins(0x06, 0x7FFF0000)])                        # allow
buf = ctypes.create_string_buffer(program)
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
prog = Prog(len(program) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0, ctypes.get_errno()  # PR_SET_SECCOMP, FILTER
try:
    socket.socket(socket.AF_INET6)
    sys.exit("the filter did not apply")
except OSError:
    pass

out = {}
for name, port in (("up", server.server_address[1]), ("refused", refused_port)):
    call = Try(SEND_TIMEOUT)
    timer = threading.Timer(SEND_TIMEOUT, call.expire)
    timer.daemon = True
    timer.start()
    try:
        post_webhook(NotifyTarget(f"http://hook.test:{port}/hook"),
                     Message((Notice(NoticeKind.FAILED, "test", "a.jpg", reason="broken"),), 1, "host"), call)
        out[name] = "sent"
    except Undeliverable as exc:
        out[name] = str(exc)
    timer.cancel()
print(json.dumps(out))
'''


def test_a_webhook_host_with_an_ipv6_address_is_reached_where_no_ipv6_socket_may_be_made(tmp_path):
    """A host of an IPv6 and an IPv4 address, where this process may not make an IPv6 socket
    (RestrictAddressFamilies= without AF_INET6, a kernel without IPv6): each address is
    tried, and a refused IPv4 is said as refused, not as the IPv6 socket the process could
    not make (the socket's creation ended the try before any further address)."""
    if os.uname().machine != "x86_64":
        pytest.skip("the probe's seccomp filter is written for x86_64")
    out = _probe_with_hook_test(tmp_path, _NO_IPV6_PROBE)
    assert out == {"up": "sent", "refused": "Connection refused"}, out


def test_a_name_cannot_forge_a_line_or_act_on_a_terminal_in_an_apprise_message(daemon_factory, receiver):
    """apprise's title and body are text for people (a mail, a chat, a push): a name's newline
    forged a line of its own there (`failed: forged.jpg: …` under the real one) and its
    ESC reached the reader as it is (an attack round). Written as the terminal lines are
    (shown.printable); the webhook's JSON keeps the name, JSON escaping it."""
    r = receiver()
    port = r.url.rsplit(":", 1)[1]
    d = daemon_factory(extra=notify_config(f'{{url: "json://127.0.0.1:{port}/apprise", events: [failed]}}',
                                           f'{{url: "{r.url}/hook", events: [failed]}}', interval=1)).start()
    name = "x\nfailed: forged.jpg: it lied\x1b[2J.jpg"
    bad(d, name)
    sent = json.loads(wait_for(lambda: r.ok_posts("/apprise"), 20, what="apprise's message")[0]["body"])
    assert "\x1b" not in sent["title"] + sent["message"] and "\n" not in sent["title"], sent
    assert sent["message"].count("\n") == 0 and "x\\x0afailed: forged.jpg" in sent["message"], sent
    hooked = wait_for(lambda: r.events("/hook"), 20, what="the webhook's event")[0]
    assert hooked["file"] == name, hooked
    assert d.stop() == 0
