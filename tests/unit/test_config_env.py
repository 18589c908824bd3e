"""`${VAR}` in the config (issue 26.11): the service needs its token and secrets, a
shell that requeues or checks files does not. `run` still refuses an unset one."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from hotfolder import config
from hotfolder.cli import commands

UNSET = "HOTFOLDER_TEST_SURELY_UNSET_TOKEN"

CONFIG = f"""\
state_dir: var/state
workers: 1
http:
  listen: 0
  token: "${{{UNSET}}}"
notify:
  - url: https://hooks.example.com/hotfolder
    secret: "${{{UNSET}_SECRET}}"
folders:
  - name: photos
    inbox: var/inbox
    output: var/output
    archive: var/archive
    failed: var/failed
    renditions:
      - {{name: web, size: 64, format: jpeg}}
"""


@pytest.fixture
def path(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.delenv(f"{UNSET}_SECRET", raising=False)
    written = tmp_path / "hotfolder.yaml"
    written.write_text(CONFIG)
    return written


def line_of(path: Path, text: str) -> int:
    return next(i + 1 for i, line in enumerate(path.read_text().splitlines()) if text in line)


def test_check_config_warns_of_an_unset_variable_and_passes(path, capsys):
    assert commands.main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out
    token_line = line_of(path, "token:")
    assert (f"hotfolder: warning: {path}:{token_line}:3: http.token: uses ${{{UNSET}}}, but that environment "
            "variable is not set here") in err, err
    assert "notify[0].secret: uses" in err and "EnvironmentFile=" in err


def test_requeue_does_not_need_the_services_token(path, capsys):
    assert commands.main(["requeue", "--config", str(path)]) == 0, capsys.readouterr().err
    assert "photos: 0 failed file(s)" in capsys.readouterr().out


def test_process_does_not_need_the_services_token(path, tmp_path, capsys):
    Image.new("RGB", (80, 60), "orange").save(tmp_path / "a.jpg")
    assert commands.main(["process", "--config", str(path), str(tmp_path / "a.jpg")]) == 0, capsys.readouterr().err
    assert (tmp_path / "var" / "output" / "a_web.jpg").is_file()


def test_run_still_refuses_an_unset_token(path):
    """The daemon serves the page: without its token it would be read-only unawares."""
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"http.token: uses ${{{UNSET}}}, but that environment variable is not set" in proc.stderr
    assert "notify[0].secret" in proc.stderr and "warning" not in proc.stderr
    # and how to give it: in the shell that runs it, or to the service (it said only "not set")
    assert f"`export {UNSET}=…` in the shell that starts it" in proc.stderr, proc.stderr
    assert "EnvironmentFile= or LoadCredential=" in proc.stderr, proc.stderr


def test_the_service_takes_them_from_its_environment(path, monkeypatch):
    token = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv(UNSET, token)
    monkeypatch.setenv(f"{UNSET}_SECRET", "signing-secret")
    cfg = config.load(path)
    assert cfg.http.token == token and cfg.notify[0].secret == "signing-secret"


def test_a_worker_needs_the_brokers_variable_not_the_page_token(path, tmp_path):
    shared = tmp_path / "var"
    text = path.read_text() + textwrap.dedent(f"""\
        cluster:
          enabled: true
          broker_url: "redis://:${{{UNSET}_REDIS}}@127.0.0.1:6379/0"
          cluster_id: c1
          shared_root: {shared}
        """)
    path.write_text(text.replace("failed: var/failed", "failed: var/failed\n    processing: var/processing"))
    with pytest.raises(config.ConfigError) as info:
        config.load(path, serving=frozenset({"cluster"}))
    assert [p.key for p in info.value.problems] == ["cluster.broker_url"], info.value.lines()
    assert config.check(path).config.cluster.enabled  # check-config: warnings only


def test_a_systemd_credential_stands_for_an_unset_variable(path, tmp_path, monkeypatch):
    """LoadCredential=NAME:FILE puts the secret in $CREDENTIALS_DIRECTORY/NAME: the
    service's alone, not inherited by its children as the environment is."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / UNSET).write_text("fedcba9876543210fedcba9876543210\n")
    (credentials / f"{UNSET}_SECRET").write_text("from-a-credential")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    cfg = config.load(path)
    assert cfg.http.token == "fedcba9876543210fedcba9876543210" and cfg.notify[0].secret == "from-a-credential"
    monkeypatch.setenv(UNSET, "0123456789abcdef0123456789abcdef")  # the environment first
    assert config.load(path).http.token == "0123456789abcdef0123456789abcdef"
