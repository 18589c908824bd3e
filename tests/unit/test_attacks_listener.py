"""The HTTP listener's settings under attack (issue 20, the third round), before any socket:
http.allowed_hosts mistakes name the key, check-config refuses a weak token and says why,
the login throttle's table stays bounded. (Real sockets against a real daemon:
tests/integration/test_attacks_listener.py.)"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("hosts, says", [
    ('["studio.example:8080"]', "without its port"),
    ('["*"]', "is not a host name"),
    ('["http://studio.example"]', "is not a host name"),
    ("studio.example", "must be a list"),
])
def test_allowed_hosts_mistakes_name_the_key(tmp_path, hosts, says):
    from hotfolder.config import parse
    from hotfolder.config.model import ConfigError

    text = (f"http: {{listen: 9464, allowed_hosts: {hosts}}}\nfolders:\n  - inbox: {tmp_path}/in\n"
            f"    output: {tmp_path}/out\n    archive: {tmp_path}/arc\n    failed: {tmp_path}/failed\n"
            "    renditions: [{name: web, size: 100}]\n")
    with pytest.raises(ConfigError) as err:
        parse(text, "hotfolder.yaml")
    assert err.value.key.startswith("http.allowed_hosts") and says in err.value.reason, str(err.value)


WEAK_TOKENS = [
    (" " * 16, "visible ASCII"),
    ("aaaaaaaaaaaaaaaa", "different characters"),
    ("abababababababababababab", "different characters"),
    ("studio token 0123456789", "visible ASCII"),
    ("stüdio-token-0123456789", "visible ASCII"),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabcdef", "estimated"),
]


@pytest.mark.parametrize("token, says", WEAK_TOKENS)
def test_check_config_refuses_a_weak_token_and_says_why(tmp_path, token, says):
    cfg = tmp_path / "hotfolder.yaml"
    cfg.write_text('http: {listen: 9464, token: "${HOTFOLDER_TOKEN}"}\nfolders:\n  - inbox: in\n'
                   "    output: out\n    archive: arc\n    failed: failed\n    renditions: [{name: web, size: 100}]\n")
    env = {**os.environ, "HOTFOLDER_TOKEN": token}
    result = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(cfg)], capture_output=True,
                            text=True, env=env, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "http.token" in result.stderr and says in result.stderr, result.stderr
    if token.strip():
        assert token not in result.stderr, "the message never repeats the token"
    env["HOTFOLDER_TOKEN"] = "3f9a1c27e4b85d60a2c9f1e7b4d83a05"  # `openssl rand -hex 16`
    good = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(cfg)], capture_output=True,
                          text=True, env=env, timeout=60, cwd=tmp_path, check=False)
    assert good.returncode == 0, good.stderr


def test_the_throttle_table_stays_bounded():
    from hotfolder.ops.web.throttle import MAX_CLIENTS, Throttle

    throttle = Throttle()
    for i in range(MAX_CLIENTS * 3):
        throttle.failed(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(throttle) <= MAX_CLIENTS
    for _ in range(20):
        throttle.failed("2001:db8:1:2::7")
    assert throttle.retry_after("2001:db8:1:2:ffff::1") > 0, "an IPv6 client is throttled by its /64"
    assert throttle.retry_after("2001:db8:1:3::7") == 0
