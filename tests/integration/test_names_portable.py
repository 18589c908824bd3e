"""Output names a studio's Windows and macOS clients can open: the output folder shared over
SMB (Samba), or copied to an exFAT or NTFS disk. A photo's texts in a name lose what Windows
forbids; and two originals whose outputs' names differ only in case never share one file on a
file system that does not tell case apart (exFAT, here through FUSE)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import sources
from tests.harness import ends, files_under, wait_for

BY_TITLE = """
- name: web
  size: 160x160
  format: jpeg
  filename: "{title|default(untitled)}/{stem}_{keywords|default(none)}.{ext}"
"""
# (stem, title, keywords) -> the output the daemon writes and `explain` shows
PORTABLE = [
    ("a", "Portrait: Anna?", ('5" x 7"',), 'Portrait_ Anna_/a_5_ x 7_.jpg'),
    ("b", "CON", ("A|B*",), "CON_/b_A_B_.jpg"),
    ("c", "Hochzeit Müller.", ("nul.txt",), "Hochzeit Müller/c_nul.txt.jpg"),
    ("d", "back\\slash &lt;x&gt; ", (), "back_slash _x_/d_none.jpg"),
]


def _photo(where: Path, stem: str, title: str, keywords: tuple[str, ...], seed: int) -> Path:
    return sources.camera_jpeg(where / f"{stem}.jpg", size=(240, 160), seed=seed,
                               xmp=sources.xmp_packet(title=title, keywords=keywords))


def test_a_photo_s_texts_make_names_windows_opens_in_the_daemon_and_in_explain(daemon_factory, tmp_path):
    d = daemon_factory(renditions=BY_TITLE)
    stage = tmp_path / "stage"
    photos = [_photo(stage, stem, title, kw, i) for i, (stem, title, kw, _) in enumerate(PORTABLE)]
    run = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "--config", str(d.config),
                          *map(str, photos)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for *_, expected in PORTABLE:
        assert f"applies: web → {expected}" in run.stdout, run.stdout
    d.start()
    for p in photos:
        os.rename(p, d.inbox / p.name)
    wait_for(lambda: ends(d) == len(photos), 60, what="the photos rendered")
    assert sorted(d.outputs()) == sorted(expected for *_, expected in PORTABLE), files_under(d.failed)
    assert d.stop() == 0
