"""The third attack round (issue 20), its secrets where they are known: redact's URLs, the
reload diff, and the log pipeline, the last line of defence (JSON and console).
(Through real daemons and webhooks: tests/integration/test_attacks_secrets.py.)"""
from __future__ import annotations

import base64
import io
import logging

import pytest
import structlog

from hotfolder.config import describe_changes, parse
from hotfolder.runtime import log
from tests.fake_secrets import leaks, tgram_token, tok
from tests.harness import log_events

# --- 3. secrets: the one place that knows them ------------------------------------

def test_redacted_urls_keep_what_is_public_and_hide_what_apprise_calls_private():
    """apprise's own privacy form shows a token's first and last character (`1...w`):
    it tells which parts are private, and we show those as *** whole."""
    from hotfolder import redact

    bot = tgram_token()
    discord_token = tok("dtok")
    slack = (tok("T", 8).upper(), tok("B", 8).upper(), tok("s", 24))
    mail_password = tok("mailpw")
    ntfy_token = tok("tk_")
    cases = {
        f"tgram://{bot}/-1001234567890": (bot.split(":"), ["-1001234567890"]),
        f"discord://4174216298/{discord_token}": ([discord_token, "4174216298"], []),
        f"slack://{slack[0]}/{slack[1]}/{slack[2]}/#general": (list(slack), ["general"]),
        f"mailto://studio:{mail_password}@mail.example.com": ([mail_password], ["studio", "mail.example.com"]),
        f"ntfy://ntfy.example.com/photos?token={ntfy_token}": ([ntfy_token], ["ntfy.example.com", "photos"]),
        f"json://hook:{mail_password}@127.0.0.1:8080/apprise": ([mail_password], ["hook", "127.0.0.1:8080"]),
        f"https://hook:{mail_password}@hooks.example.com/services/{discord_token}?sig={ntfy_token}":
            ([mail_password, discord_token, ntfy_token], ["hook", "hooks.example.com"]),
        f"redis://:{mail_password}@redis.example.com:6379/0": ([mail_password], ["redis.example.com:6379/0"]),
        f"studio:{mail_password}@smtp.example.com": ([mail_password], ["smtp.example.com"]),
    }
    for url, (hidden, shown) in cases.items():
        out = redact.url(url)
        assert redact.MASK in out, (url, out)
        assert not leaks(out, hidden), (url, out)
        assert "..." not in out and "services" not in out, (url, out)  # a webhook's path: all of it
        for part in shown:
            assert part in out, (url, out, part)
        for value in hidden:  # each is known to the last line of defence, whole
            if len(value) >= redact.MIN_REGISTERED:
                assert value in redact.url_secrets(url), (url, value)


def test_an_apprise_header_and_a_password_written_unencoded_are_hidden_whole():
    """An attack round's findings: apprise's privacy form shows an HTTP header's value
    (`json://…?-X-Api-Key=KEY`), and a password holding an unencoded `/` showed its first
    part (`https://u:Sl/ash@host` → `u:Sl/***`)."""
    from hotfolder import redact

    key, password = tok("hdr"), tok("pw") + "/" + tok("rest")
    for url, hidden in ((f"json://127.0.0.1:11/hook?-X-Api-Key={key}", [key]),
                        (f"https://user:{password}@127.0.0.1:13/x", [password, password.split("/")[0]]),
                        (f"redis://:{password}@127.0.0.1:1/0", [password, password.split("/")[0]])):
        out = redact.url(url)
        assert not leaks(out, hidden), (url, out)
        assert hidden[0] in redact.url_secrets(url), url
    assert redact.password_cut_short(f"https://user:{password}@127.0.0.1:13/x")
    assert redact.password_cut_short("https://host:8080/path@x") is None


def test_apprises_plain_webhooks_hide_their_path_as_ours_do():
    """json://, form:// and xml:// are webhooks whose path often is the token: apprise's privacy
    form shows the path, and the log showed `json://user:***@host/redir/TOKEN` (an attack round)."""
    from hotfolder import redact

    token = tok("pathtoken", 24)
    for scheme in ("json", "jsons", "form", "forms", "xml", "xmls"):
        url = f"{scheme}://jsonuser:{tok('pw')}@hooks.example.com:8088/redir/{token}?x=1"
        out = redact.url(url)
        assert out == f"{scheme}://jsonuser:***@hooks.example.com:8088/***", out
        assert token in redact.url_secrets(url) or f"/redir/{token}?x=1" in redact.url_secrets(url), url


def test_an_apprise_webhook_follows_no_redirect_to_another_host(tmp_path):
    """A json:// target answering 302 to another host: apprise followed it, taking the URL's path
    (its token) there, and the notice was counted sent (an attack round). Real servers, real apprise."""
    import http.server
    import threading

    from hotfolder.ops.senders import AppriseSender

    stolen: list[str] = []

    class Thief(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            stolen.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    thief = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Thief)

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{thief.server_port}/stolen{self.path}")
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    for server in (thief, hook):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = AppriseSender(f"json://127.0.0.1:{hook.server_port}/hook/{tok('pathtoken', 24)}")
        assert not sender.client.notify(body="a file failed", title="hotfolder")  # as the sender's try calls it
    finally:
        for server in (thief, hook):
            server.shutdown()
            server.server_close()
    assert stolen == []


@pytest.mark.parametrize("text", [
    'notify: ["https://listuser:{pw}@127.0.0.1:1/hook"]',  # a bare list where items are mappings
    'notify: "https://listuser:{pw}@127.0.0.1:1/hook"',
    'cluster: "redis://:{pw}@127.0.0.1:1/0"',
    "http:\n  token: *{pw}",  # a token starting with * is an alias to YAML
    "http:\n  token: !{pw} value",  # and with ! a tag
    'notify:\n  - url: "https://user:{pw}/x@127.0.0.1:13/x"',
    # a token alone where its URL was due (`url: ${{SLACK_TOKEN}}`): no scheme, nothing told which part is private
    'notify:\n  - url: "{pw}"',
    'notify:\n  - url: "xoxb-{pw}"',
    'notify:\n  - url: "hooks.example.com/{pw}"',
    'cluster: {{enabled: true, broker_url: "{pw}", cluster_id: c, shared_root: /tmp}}',
])
def test_a_config_error_never_quotes_a_secret(tmp_path, text):
    """Each of these quoted the password in the error, which went to check-config, the
    reload_refused line, the status and the notifications (an attack round's findings)."""
    from hotfolder.config.model import ConfigError

    pw = tok("Secret")
    with pytest.raises(ConfigError) as raised:
        parse(text.format(pw=pw) + "\nfolders: []\n", "hotfolder.yaml", tmp_path)
    said = str(raised.value) + " ".join(p.reason for p in raised.value.problems)
    assert not leaks(said, [pw, pw[:10]]), said


def test_a_reload_diff_says_what_changed_never_the_values(tmp_path):
    """describe_changes (the `reloaded` event's `changes`) names a secret that changed."""
    base = tmp_path / "d"
    (base / "in").mkdir(parents=True)
    old = {"token": tok("t"), "secret": tok("s"), "pw": tok("p"), "broker": tok("b")}
    new = {k: tok(k) for k in old}

    def text(v):
        return (f"http: {{listen: 9464, token: {v['token']}}}\n"
                f"notify:\n  - {{url: 'https://u:{v['pw']}@hooks.example.com/x', secret: {v['secret']}}}\n"
                f"cluster: {{enabled: true, broker_url: 'redis://:{v['broker']}@127.0.0.1:6379/0', "
                f"cluster_id: c1, shared_root: {base}}}\n"
                f"folders:\n  - {{name: a, inbox: {base}/in, output: {base}/out, failed: {base}/failed, "
                f"processing: {base}/proc, archive: {base}/arch,\n     renditions: [{{name: w, size: 10}}]}}\n")

    a = parse(text(old), "x.yaml", tmp_path)
    b = parse(text(new), "x.yaml", tmp_path)
    changes = describe_changes(a, b)
    said = "\n".join(changes)
    assert not leaks(said, [*old.values(), *new.values()]), said
    assert "http.token changed" in changes, changes
    assert "notify[0]: secret changed" in changes, changes
    assert any(c.startswith("notify[0]: url") for c in changes), changes
    assert any(c.startswith("cluster.broker_url") for c in changes), changes
    # The reprs that a traceback or a debugger prints hide them too.
    assert not leaks(repr(b), new.values()), repr(b)


@pytest.fixture
def captured():
    """log.setup on a stream of ours; structlog and the root logger put back after."""
    stream = io.StringIO()
    handlers = logging.getLogger().handlers[:]
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_log_pipeline_masks_every_known_secret_and_prints_no_locals(captured, fmt, tmp_path):
    """The last line of defence: a library's message or a traceback quoting a secret
    of the config is masked, wherever it sits in the event; and no traceback carries
    its frames' local variables (a header built from a password is one)."""
    token, password = tok("tok"), tok("pw")
    (tmp_path / "in").mkdir()
    parse(f"http: {{token: {token}}}\nnotify: [{{url: 'https://u:{password}@h.example.com/'}}]\n"
          "folders: [{inbox: in, output: out, failed: f, archive: a, renditions: [{name: w, size: 9}]}]\n",
          "x.yaml", tmp_path)
    log.setup(fmt, "info", stream=captured)
    logger = log.get("test")
    logger.warning("library_said", reason=f"nonnumeric port: '{password}@h.example.com'",
                   nested={"deep": [f"Bearer {token}"]})
    logging.getLogger("somelib").warning("connecting with %s", token)

    def send(auth_header):
        basic = "Basic " + base64.b64encode(f"u:{password}".encode()).decode()  # noqa: F841 - a local
        raise RuntimeError(f"refused {auth_header}")

    try:
        send(f"Bearer {token}")
    except RuntimeError:
        logger.exception("send_failed")
    out = captured.getvalue()
    basic = base64.b64encode(f"u:{password}".encode()).decode()
    assert not leaks(out, [token, password, basic]), out
    assert out.count("***") >= 4, out
    assert "RuntimeError" in out and "send_failed" in out
    if fmt == "json":
        records = log_events(out)
        assert records[0]["reason"] == "nonnumeric port: '***@h.example.com'", records[0]
        frames = [f for r in records for e in r.get("exception", []) for f in e.get("frames", [])]
        assert frames and not any("locals" in f for f in frames), frames


def test_a_redis_password_with_an_at_before_a_slash_is_refused_and_hidden_whole():
    """`redis://hotfolder:p@ssw0rd-Studio/2024@host/0`, the docs' form with a password as it
    is: check-config said OK, and most of the password showed as a host in the log, the
    status and the page (`ssw0rd-studio`, `2024`: an attack round)."""
    from hotfolder import redact

    password = "p@" + tok("pw") + "/" + tok("rest")
    url = f"redis://hotfolder:{password}@127.0.0.1:6399/0"
    assert redact.password_cut_short(url) and "%40" in redact.password_cut_short(url)
    assert redact.url(url) == "redis://hotfolder:***@127.0.0.1:6399/0"
    assert password in redact.url_secrets(url)
    assert redact.password_cut_short("redis://hotfolder:p%40ss%2Fword@127.0.0.1:6399/0") is None
    assert redact.password_cut_short("https://user:pw@host/path/a@b") is None  # a webhook's path may hold an @
    # An @ in a query, or in a unix socket's path, is no password's (a review of this rule)
    for fine, shown in (("redis://host:6379/0?password=pa@ss", "redis://host:6379/0?password=***"),
                        ("redis://:secret@host/0?client_name=a@b", "redis://:***@host/0?client_name=***"),
                        ("unix://:secret@/run/redis@main/redis.sock", "unix://:***@/run/redis@main/redis.sock")):
        assert redact.password_cut_short(fine) is None and redact.url(fine) == shown, fine


def test_an_ntfy_topic_without_credentials_is_hidden_as_its_only_secret():
    """On ntfy.sh a topic with no password or token is readable and writable by anyone who
    knows its name: the name is the secret (ntfy's docs: pick one that cannot be guessed).
    apprise's privacy form shows it, so every notify_retry line and the status showed it (an
    attack round). With a password or a token, the topic is a name again, shown."""
    from hotfolder import redact

    topic = tok("topic")
    for url in (f"ntfy://{topic}", f"ntfys://ntfy.sh/{topic}", f"ntfys://ntfy.sh/{topic}/other"):
        out = redact.url(url)
        assert not leaks(out, [topic]), (url, out)
        assert topic in redact.url_secrets(url), url
    assert "ntfy.sh" in redact.url(f"ntfys://ntfy.sh/{topic}")
    assert "photos" in redact.url(f"ntfys://u:{tok('pw')}@ntfy.example.com/photos")
