"""The example config and what `hotfolder init` writes are one text under two headers
(issue 26, item 17): the example in the repository is exactly config/starter.py's."""
from __future__ import annotations

import yaml

from hotfolder import config
from hotfolder.config import starter
from tests.harness import REPO


def test_the_repositorys_example_is_the_starter():
    assert (REPO / "config" / "hotfolder.yaml").read_text(encoding="utf-8") == starter.example(), (
        "config/hotfolder.yaml differs from config/starter.py: edit starter.py, then write the example with "
        "PYTHONPATH=daemon python -c 'from hotfolder.config import starter; "
        "open(\"config/hotfolder.yaml\", \"w\").write(starter.example())'")


def test_what_init_writes_reads_as_the_example(tmp_path):
    (tmp_path / "config").mkdir()
    mine = tmp_path / "config" / "hotfolder.yaml"
    mine.write_text(starter.for_init(), encoding="utf-8")
    assert yaml.safe_load(starter.for_init()) == yaml.safe_load(starter.example())
    cfg = config.load(mine)
    assert cfg.state_dir == tmp_path / "var" / "state"
    assert [f.inbox for f in cfg.folders] == [tmp_path / "var" / "photos" / "inbox"]


def test_the_commented_ignore_and_pass_through_lists_are_the_defaults_whole(tmp_path):
    """A list replaces the default: the starter showed a part of each, and a new user who
    uncommented one dropped `*.lrv`, `*.wav`, `*.ctg`, `~$*`… without knowing (those files
    then failed). Uncommented as written, they read as the defaults."""
    from hotfolder.config.model import DEFAULT_IGNORE, DEFAULT_PASS_THROUGH

    lines, taking = [], False
    for line in starter.for_init().splitlines():
        if line.startswith(("    # ignore:", "    # pass_through:")):
            taking = True
        elif not line.startswith("    #     "):
            taking = False
        lines.append(line.replace("    # ", "    ", 1) if taking else line)
    (tmp_path / "config").mkdir()
    mine = tmp_path / "config" / "hotfolder.yaml"
    mine.write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = config.load(mine).folders[0]
    assert (folder.ignore, folder.pass_through) == (DEFAULT_IGNORE, DEFAULT_PASS_THROUGH)


def test_the_starter_shows_keep_subfolders_and_uncommented_it_reads_without_a_warning(tmp_path):
    """A shop admin found the drop folders shared with uploaders gone a minute after they
    emptied: the starter never showed `keep_subfolders`."""
    text = starter.for_init()
    assert "    # keep_subfolders: [" in text and "removed a minute later" in text
    (tmp_path / "config").mkdir()
    mine = tmp_path / "config" / "hotfolder.yaml"
    mine.write_text(text.replace("    # keep_subfolders:", "    keep_subfolders:"), encoding="utf-8")
    checked = config.check(mine)
    assert checked.config.folders[0].keep_subfolders == ("clients/*",) and not checked.warnings


def test_the_starter_shows_clock_offsets_and_uncommented_it_reads(tmp_path):
    """The wedding audit: a second shooter's camera an hour ahead, and nothing in the config a
    new user edits said a camera's clock could be corrected."""
    text = starter.for_init()
    assert '    # clock_offsets: {"NIKON Z 6_2": "-1h"}\n' in text
    path = tmp_path / "config" / "hotfolder.yaml"
    path.parent.mkdir()
    path.write_text(text.replace('    # clock_offsets:', '    clock_offsets:'))
    assert config.load(path).folders[0].clock_offsets == (("NIKON Z 6_2", -3600, "-1h"),)
