"""JSON that nests deeper than Python's parser recurses is data too (an attack round): json
raises RecursionError, no ValueError, for 200 KB of `[`. A failure record so made in failed/
(by anyone who may write there: the studio's group, an SMB share of it) stopped the daemon
(`giving_up`: its walk of failed/ raised at every turn) and `hotfolder requeue` printed a
traceback; a status.json so made (in state_dir) did the same to `hotfolder status`, and
one of 3 GB (a sparse file) made it read all of it: 6 GB of memory, 20 s. Each test here
failed before its fix."""
from __future__ import annotations

import json
import shutil

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
