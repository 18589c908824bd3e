"""Output names a studio's Windows and macOS clients can open: the output folder shared over
SMB (Samba), or copied to an exFAT or NTFS disk. A photo's texts in a name lose what Windows
forbids; and two originals whose outputs' names differ only in case never share one file on a
file system that does not tell case apart (exFAT, here through FUSE)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests import sources
from tests.harness import ends, files_under, mounts, wait_for

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


@pytest.fixture
def exfat(tmp_path):
    """A folder on exFAT (FUSE): blind to case, and refusing what Windows forbids in a name."""
    where = tmp_path / "exfat"
    device = mounts.mount_exfat(tmp_path / "exfat.img", where, size="512M")
    probe = where / "Probe"
    probe.write_bytes(b"")
    assert (where / "PROBE").exists(), "the exFAT mount tells case apart"
    probe.unlink()
    yield where
    mounts.umount_exfat(where, device)


BY_STEM = """
- name: web
  size: 1200x1200
  format: tiff
"""
PAIRS = 24


def test_originals_whose_outputs_differ_only_in_case_keep_each_its_output_on_exfat(daemon_factory, tmp_path, exfat):
    """IMG_0001.JPG and img_0001.jpg dropped together, their outputs in a folder on exFAT (as a
    studio's output shared from a Windows server, or on a NAS that exports case-insensitively):
    the second output replaced the first now and then, when the two were written at once (20
    originals, 19 outputs, every file said done). Each has its own now."""
    d = daemon_factory(renditions=BY_STEM, workers=2)
    d.config.write_text(d.config.read_text().replace("output: var/output", f"output: {exfat / 'out'}"))
    d.output = exfat / "out"
    d.start()
    stage = tmp_path / "stage"
    photos = []  # each of its own shape, so each output tells whose it is
    for i in range(PAIRS):
        for name in (f"IMG_{i:04}.JPG", f"img_{i:04}.jpg"):
            photos.append(sources.camera_jpeg(stage / name, size=(1200, 500 + 20 * len(photos)), seed=len(photos)))
    for p in photos:  # all at once: the two workers' writes overlap now and then, as a day's work does
        os.rename(p, d.inbox / p.name)
    wait_for(lambda: ends(d) == len(photos), 180, what="the photos rendered")
    # and their lines: a file_done is written after its original lies in archive/ (once a flake, under load)
    wait_for(lambda: len(d.events("file_done")) == len(photos), 20, what="every file_done line")
    outputs = d.outputs()
    assert len(outputs) == len(photos), (sorted(outputs), sorted(os.listdir(d.output)))
    shapes = set()
    for o in outputs:
        with Image.open(d.output / o) as im:
            shapes.add(im.size)
    assert len(shapes) == len(photos), sorted(outputs)
    # each kept name said as another original's, not as an output whose writer nobody knows
    assert [e for e in d.events("outputs_kept") if "no record says" in e["reason"]] == []
    renamed = [e for e in d.events("file_done") if e.get("kept")]
    # one of each pair, whichever took the name second
    assert sorted(e["file"].lower() for e in renamed) == [f"img_{i:04}.jpg" for i in range(PAIRS)], renamed
    assert d.stop() == 0


def test_a_photo_s_texts_name_outputs_exfat_takes(daemon_factory, tmp_path, exfat):
    """`Portrait: Anna?` as a folder on exFAT failed the file ("No such file or directory")."""
    d = daemon_factory(renditions=BY_TITLE)
    d.config.write_text(d.config.read_text().replace("output: var/output", f"output: {exfat / 'out'}"))
    d.output = exfat / "out"
    d.start()
    stage = tmp_path / "stage"
    photos = [_photo(stage, stem, title, kw, i) for i, (stem, title, kw, _) in enumerate(PORTABLE)]
    for p in photos:
        os.rename(p, d.inbox / p.name)
    wait_for(lambda: ends(d) == len(photos), 60, what="the photos rendered")
    assert files_under(d.failed) == []
    assert sorted(d.outputs()) == sorted(expected for *_, expected in PORTABLE)
    assert d.stop() == 0


def test_rerender_says_which_earlier_names_windows_cannot_open_it_leaves(daemon_factory, tmp_path):
    """An archive rendered before names were made portable: `rerender` writes the portable name
    and leaves the earlier output; --dry-run and the run both say so (an admin must not find a
    second set unexplained)."""
    from hotfolder.config import load
    from hotfolder.engine.fingerprint import file_hash
    from hotfolder.state import originals

    d = daemon_factory(renditions="""
- name: web
  size: 160x160
  format: jpeg
  filename: "{title}_{stem}.{ext}"
""").start()
    p = _photo(tmp_path / "stage", "p0", "Portrait: Anna?", (), 0)
    os.rename(p, d.inbox / p.name)
    wait_for(lambda: ends(d) == 1, 60, what="p0 rendered")
    assert d.stop() == 0
    # as the release before named it, and its index recorded it
    (d.output / "Portrait_ Anna__p0.jpg").rename(d.output / "Portrait: Anna?_p0.jpg")
    folder = load(d.config).folders[0]
    content = file_hash(d.archive / "p0.jpg")
    assert originals.rerendered(folder.index_dir, folder.name,
                                [(content, "p0.jpg", ("Portrait: Anna?_p0.jpg",), b"", ("web",), None)]) == 1
    dry = subprocess.run([sys.executable, "-m", "hotfolder", "rerender", "--dry-run", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert ("p0.jpg → Portrait_ Anna__p0.jpg (new), Portrait: Anna?_p0.jpg (no longer made, a name Windows and "
            "macOS clients cannot open") in dry.stdout, dry.stdout
    run = subprocess.run([sys.executable, "-m", "hotfolder", "rerender", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "1 earlier output(s) no longer made, under names Windows and macOS clients cannot open" in run.stderr, \
        run.stderr
    assert sorted(d.outputs()) == ["Portrait: Anna?_p0.jpg", "Portrait_ Anna__p0.jpg"]


def test_a_template_whose_own_text_clients_cannot_open_is_warned_of_at_start_and_kept(daemon_factory, tmp_path):
    """The config's own text is not made portable (every output of a recipe would change name):
    the daemon says so in its log at start, as check-config does, and renders as written."""
    d = daemon_factory(renditions="""
- name: web
  size: 160x160
  format: jpeg
  filename: "{stem}_{taken:%H:%M}.{ext}"
""").start()
    warned = wait_for(lambda: d.event("config_warning"), 20, what="the warning at start")
    assert f"{d.config}:" in warned["problem"] and "folders[" in warned["problem"], warned
    assert "].renditions[web].filename: {taken:%H:%M} writes ':' into every name" in warned["problem"], warned
    photo = sources.camera_jpeg(tmp_path / "a.jpg", size=(240, 160), seed=1)
    os.rename(photo, d.inbox / photo.name)
    wait_for(lambda: ends(d) == 1, 60, what="the photo rendered")
    assert [":" in name for name in d.outputs()] == [True], d.outputs()
    assert d.stop() == 0
