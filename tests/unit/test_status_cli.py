"""`hotfolder status` for people: what the snapshot holds is data, printed so that it can
neither forge a line nor act on the terminal."""
from __future__ import annotations

import json
import os
import time

from hotfolder.cli import commands
from hotfolder.supervisor.instance import lock_instance

HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\nfake line: broker ok"


def test_names_from_the_snapshot_and_from_redis_cannot_forge_a_line_or_move_the_cursor(tmp_path, capsys):
    out = _status_of(tmp_path, capsys, in_flight=1,
                     current=[{"pid": 7, "file": f"IMG_{HOSTILE}.jpg", "seconds": 1.0}],
                     cluster={"cluster_id": "c", "shared_root": "/srv", "broker": "ok", "queue_length": 0,
                              "per_node": {f"node-{HOSTILE}": 1}, "nodes": {"photos": {f"n-{HOSTILE}": "ok"}},
                              "versions": {"photos": f"v-{HOSTILE}"}},
                     message=f"reload refused: {HOSTILE}")
    assert "\x1b" not in out and "\x07" not in out, out
    assert not any(line.startswith("fake line") for line in out.splitlines()), out
    assert out.count("\\x1b]0;pwned") == 5, out  # each one shown, escaped


def _status_of(tmp_path, capsys, **fields) -> str:
    """`hotfolder status` of a running daemon (this process holds its lock) whose snapshot
    holds `fields` besides a running daemon's counts."""
    config = tmp_path / "hotfolder.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    (tmp_path / "state").mkdir(exist_ok=True)
    now = time.time()
    snap = {"state": "running", "pid": os.getpid(), "started": now - 5, "updated": now, "processed": 1, "failed": 0,
            "queued": 0, "waiting": 0, "in_flight": 0, "workers": 2, "workers_alive": 2, **fields}
    (tmp_path / "state" / "status.json").write_text(json.dumps(snap))
    lock = lock_instance(tmp_path / "state")  # this process is the running daemon
    try:
        assert commands.main(["status", "--config", str(config)]) == 0
    finally:
        os.close(lock.fd)
    return capsys.readouterr().out


def test_the_status_says_the_daemon_s_build_and_when_an_upgrade_waits_for_a_restart(tmp_path, capsys):
    from hotfolder import build

    out = _status_of(tmp_path, capsys, build=build.identity())
    assert f"\n  build      {build.identity()}\n" in out, out
    out = _status_of(tmp_path, capsys, build="0.1.0+000000000000")  # the daemon started before an upgrade
    assert (f"\n  build      0.1.0+000000000000 (this hotfolder is {build.identity()}: restart the daemon to run "
            "the code installed now)\n") in out, out
