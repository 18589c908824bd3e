"""The `http:` and `notify:` sections: what is accepted, and what each mistake says."""
from __future__ import annotations

import pytest

from hotfolder.config import parse
from hotfolder.config.model import ConfigError

BASE = """
folders:
  - inbox: {root}/inbox
    output: {root}/output
    archive: {root}/archive
    failed: {root}/failed
    renditions: [{{name: web, size: 100}}]
"""


def load(tmp_path, extra: str):
    return parse(BASE.format(root=tmp_path) + extra, "hotfolder.yaml")


@pytest.mark.parametrize("listen, host, port", [
    ("9464", "127.0.0.1", 9464),
    ('"9464"', "127.0.0.1", 9464),
    ('":9100"', "127.0.0.1", 9100),  # a bare port is loopback, with its colon too
    ('"0.0.0.0:9100"', "0.0.0.0", 9100),
    ('"[::1]:9464"', "::1", 9464),
    ('"[::]:0"', "::", 0),
    ('"localhost:8080"', "localhost", 8080),
])
def test_listen_addresses(tmp_path, listen, host, port):
    http = load(tmp_path, f"http: {{listen: {listen}}}").http
    assert (http.host, http.port, http.token) == (host, port, "")
    assert http.address == (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def test_http_is_off_unless_given_and_a_bare_port_is_loopback(tmp_path):
    assert load(tmp_path, "").http is None
    assert load(tmp_path, "http: 9464").http.host == "127.0.0.1"


@pytest.mark.parametrize("extra, key, says", [
    ('http: {listen: "::1:9464"}', "http.listen", "brackets"),
    ('http: {listen: "127.0.0.1"}', "http.listen", "has no port"),
    ('http: {listen: "127.0.0.1:99999"}', "http.listen", "not a port number"),
    ('http: {listen: "example.com:80"}', "http.listen", "not an IP address"),
    ("http: {listen: [1]}", "http.listen", "must be a port or host:port"),
    ("http: {token: short}", "http.token", "at least 16"),
    ("http: {lisen: 9464}", "http.lisen", "did you mean 'listen'"),
    ('notify: {url: "https://x.example"}', "notify", "must be a list"),
    ("notify: [{events: [failed]}]", "notify[0].url", "is required"),
    ('notify: [{url: "not a url"}]', "notify[0].url", "is not a URL"),
    ('notify: [{url: "https:///path"}]', "notify[0].url", "no host name"),
    ('notify: [{url: "https://u:pw@127.0.0.1:notaport/x"}]', "notify[0].url", "port is not a number"),
    ('notify: [{url: "https://127.0.0.1:70000/x"}]', "notify[0].url", "port is not a number"),
    ('notify: [{url: "nosuchscheme://x"}]', "notify[0].url", "apprise does not accept"),
    ('notify: [{url: "https://x.example", events: [failed, exploded]}]', "notify[0].events",
     "'exploded' is not one of"),
    ('notify: [{url: "https://x.example", events: []}]', "notify[0].events", "non-empty list"),
    ('notify: [{url: "mailto://me@example.com", secret: abc}]', "notify[0].secret", "only applies to http"),
    ('notify: [{url: "https://x.example", secret: "${HOTFOLDER_TEST_UNSET}"}]', "notify[0].secret", "not set"),
    ('notify: [{url: "https://x.example", evnets: [failed]}]', "notify[0].evnets", "did you mean 'events'"),
    ("notify_interval: 0.5", "notify_interval", "at least 1"),
])
def test_mistakes_name_the_key_and_what_to_change(tmp_path, extra, key, says):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, extra)
    assert err.value.key == key and says in err.value.reason, str(err.value)
    assert str(err.value).startswith("hotfolder.yaml:")


def test_notify_items_defaults_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "from-the-environment")
    cfg = load(tmp_path, """
notify_interval: 10
notify:
  - url: https://hooks.example.com/hotfolder?key=abc
    secret: ${HOOK_SECRET}
  - url: mailto://user:password@example.com
    events: [failed, recovered, failed]
""")
    web, mail = cfg.notify
    assert web.events == ("failed", "paused") and web.secret == "from-the-environment" and web.is_webhook
    assert mail.events == ("failed", "recovered") and not mail.is_webhook
    assert cfg.notify_interval == 10
    # What logs and the page show of a URL: never a webhook's path or query, nor a password
    # (an apprise URL's private parts are those apprise's privacy form hides).
    assert web.shown == "https://hooks.example.com/***" and mail.shown == "mailto://user:***@example.com"
