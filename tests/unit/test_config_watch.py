"""`reload_on_change` (supervisor/reload.ConfigWatch): a change is reported once the file
has stayed unchanged for a quiet period, never half-written (a review: a config written
in place in two parts was reloaded after the first, a valid half, and ran so)."""
from __future__ import annotations

import os

from hotfolder.supervisor.reload import ConfigWatch


def test_a_file_written_in_parts_is_reported_once_it_has_stayed_quiet(tmp_path):
    config = tmp_path / "hotfolder.yaml"
    config.write_text("workers: 1\n")
    watch = ConfigWatch(config, quiet=2.0)
    assert not watch.changed(now=100.0)  # as it was
    with open(config, "a") as f:
        f.write("folders:\n")  # the first part
    assert not watch.changed(now=101.0)  # changed: not yet quiet
    assert not watch.changed(now=102.5)
    with open(config, "a") as f:
        f.write("  - inbox: in\n")  # the rest, 2.5 s later (same mtime second perhaps: the size differs)
    assert not watch.changed(now=103.0)  # changed again: the quiet period starts again
    assert not watch.changed(now=104.9)
    assert watch.changed(now=105.0)  # quiet for 2 s: reported once
    assert not watch.changed(now=110.0)


def test_a_save_by_rename_with_the_same_size_and_time_is_a_change(tmp_path):
    config = tmp_path / "hotfolder.yaml"
    config.write_text("workers: 1\n")
    watch = ConfigWatch(config, quiet=0.0)
    stat = config.stat()
    saved = tmp_path / ".hotfolder.yaml.tmp"
    saved.write_text("workers: 2\n")
    os.utime(saved, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(saved, config)  # an editor's save: another inode, same size and mtime
    assert not watch.changed(now=1.0) and watch.changed(now=1.0)
