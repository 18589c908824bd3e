"""`hotfolder places` as an admin runs it: a subprocess, on the records a real daemon wrote
in its state database; `--forget` refused while that daemon holds its instance lock."""
from __future__ import annotations

import json

from hotfolder.errors import ExitCode
from tests.harness import hotfolder


def recorded(config) -> dict[str, dict]:
    listed = hotfolder("places", "-c", str(config), "--json")
    assert listed.returncode == 0, listed.stderr
    return {place["path"]: place for place in json.loads(listed.stdout)}


def test_places_lists_the_daemon_s_records_and_forgets_one_only_while_it_is_stopped(daemon_factory):
    d = daemon_factory()
    d.start()  # the places are made and recorded before it is ready
    listed = hotfolder("places", "-c", str(d.config))
    assert listed.returncode == ExitCode.OK, listed.stderr
    lines = listed.stdout.splitlines()
    at = lines.index(f"  {d.output}")
    assert lines[at + 1].startswith("      folders[test].output; on "), lines
    assert lines[at + 2] == "      now: there, on that file system", lines
    assert {str(d.inbox), str(d.processing), str(d.archive), str(d.failed)} <= recorded(d.config).keys()

    refused = hotfolder("places", "-c", str(d.config), "--forget", str(d.output))
    assert refused.returncode == ExitCode.ALREADY_RUNNING == 1, refused.stdout + refused.stderr
    assert refused.stdout == ""
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"hotfolder places: hotfolder is running on this config (pid {d.proc.pid}, "), line
    assert f"else `kill -TERM {d.proc.pid}`), run this again, then start it" in line, line
    assert str(d.output) in recorded(d.config), "refused: nothing forgotten"

    assert d.stop() == 0
    forgot = hotfolder("places", "-c", str(d.config), "--forget", str(d.output))
    assert forgot.returncode == ExitCode.OK, forgot.stderr
    assert forgot.stdout.startswith(f"forgot the record of {d.output} (folders[test].output, on "), forgot.stdout
    assert forgot.stdout.rstrip().endswith(", is used and recorded anew"), forgot.stdout
    assert str(d.output) not in recorded(d.config) and str(d.inbox) in recorded(d.config)

    again = hotfolder("places", "-c", str(d.config), "--forget", str(d.output))
    assert again.returncode == ExitCode.FAILED, again.stderr
    assert f"hotfolder places: no place's record is {d.output} (recorded: " in again.stderr, again.stderr

    d.start()  # the next start records the place anew, where it finds it
    assert recorded(d.config)[str(d.output)]["now"] == "there"
    assert d.stop() == 0
