"""A daemon's multiprocessing temp folder (pymp-*, where its forkserver's socket lies): a
clean stop removes it; a SIGKILL cannot (multiprocessing removes it at exit). /tmp held ~300
of them, left by the daemons the tests kill (the crash tests; daemon_factory's kill of a
daemon a test left running): the harness now starts its processes with TMPDIR in a folder of
the test run's own (conftest's children_tmpdir), removed at the run's end.
"""
from __future__ import annotations

from pathlib import Path


def _pymp(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("pymp-")}


def test_a_daemon_stopped_cleanly_leaves_no_temp_folder(daemon_factory, children_tmpdir):
    before = _pymp(children_tmpdir)  # an earlier test's killed daemon may have left one
    d = daemon_factory().start()
    assert len(_pymp(children_tmpdir) - before) == 1, "its forkserver's, made before `ready`"
    assert d.stop() == 0
    assert _pymp(children_tmpdir) == before


def test_a_daemon_killed_leaves_its_temp_folder_in_the_run_s_own_not_in_tmp(daemon_factory, children_tmpdir):
    before = _pymp(children_tmpdir)
    d = daemon_factory().start()
    made = _pymp(children_tmpdir) - before
    assert len(made) == 1, made  # before the change: in /tmp, with every other process's
    d.kill()
    assert _pymp(children_tmpdir) - before == made  # left, as after any SIGKILL: removed with the folder
