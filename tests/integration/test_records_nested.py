"""JSON that nests deeper than Python's parser recurses is data too (an attack round): json
raises RecursionError, no ValueError, for 200 KB of `[`. A failure record so made in failed/
(by anyone who may write there: the studio's group, an SMB share of it) stopped the daemon
(`giving_up`: its walk of failed/ raised at every turn) and `hotfolder requeue` printed a
traceback; a status.json so made (in state_dir) did the same to `hotfolder status`, and
one of 3 GB (a sparse file) made it read all of it: 6 GB of memory, 20 s. Each test here
failed before its fix."""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys

from hotfolder.errors import ExitCode
from tests.harness import hotfolder, http_url, wait_for
from tests.http_clients import ask

NESTED = "[" * 200_000


def test_a_nested_failure_record_is_read_as_none_and_the_daemon_goes_on(daemon_factory, tmp_path):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    d.failed.mkdir(parents=True, exist_ok=True)
    shutil.copy(__file__, tmp_path / "nested.jpg")
    (tmp_path / "nested.jpg.error.json").write_text(NESTED)
    shutil.move(tmp_path / "nested.jpg.error.json", d.failed / "nested.jpg.error.json")
    shutil.move(tmp_path / "nested.jpg", d.failed / "nested.jpg")

    def listed() -> bool:
        d.check_alive()
        return "nested.jpg" in [f["file"] for f in json.loads(ask(url, "/api/status")[2])["failed"]]

    wait_for(listed, 30, what="the page to list the file of a nested record")
    listing = hotfolder("requeue", "--config", str(d.config))
    assert listing.returncode == ExitCode.OK and "nested.jpg" in listing.stdout, (listing.stdout, listing.stderr)
    assert "Traceback" not in listing.stderr, listing.stderr
    assert d.stop() == 0
    assert not d.events("giving_up")


def _status(config, limit_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limited() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(config)], capture_output=True,
                          text=True, timeout=60, preexec_fn=limited)


def test_status_reads_a_nested_snapshot_as_none(daemon_factory):
    d = daemon_factory()
    state = d.var / "state"
    state.mkdir(parents=True)
    (state / "status.json").write_text(NESTED)
    run = _status(d.config)
    assert run.returncode == ExitCode.NOT_RUNNING and "Traceback" not in run.stderr, run.stderr[-500:]
    assert "no status file" not in run.stdout and f"{state / 'status.json'} is no snapshot" in run.stdout, run.stdout


def test_status_reads_no_more_of_a_snapshot_than_a_snapshot_holds(daemon_factory):
    d = daemon_factory()
    state = d.var / "state"
    state.mkdir(parents=True)
    with open(state / "status.json", "wb") as f:
        f.truncate(3 << 30)  # sparse: 3 GB of zeros, read whole before
    run = _status(d.config, limit_bytes=1 << 30)
    assert run.returncode == ExitCode.NOT_RUNNING and "Traceback" not in run.stderr, run.stderr[-500:]
    assert "no status file" not in run.stdout and "is no snapshot" in run.stdout, run.stdout
