"""A folder's `clock_offsets` (workers/choice.corrected): a second shooter's camera whose clock
was an hour ahead names its photos by the moment they were taken, as the main camera's are."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from hotfolder import config
from hotfolder.cli.explain import explain
from hotfolder.config.model import ConfigError
from hotfolder.recipes.facts import Photo
from hotfolder.workers.choice import corrected
from tests import sources

pytestmark = pytest.mark.unit

CONFIG = """\
state_dir: var/state
folders:
  - name: wedding
    inbox: var/inbox
    output: var/output
    archive: var/archive
    failed: var/failed
{extra}    renditions:
      - name: web
        size: {{long: 400}}
        filename: "{{taken:%Y%m%d-%H%M%S}}_{{camera|slug}}_{{stem}}.{{ext}}"
"""


def _config(tmp_path, extra: str):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(extra=textwrap.indent(extra, "    ")))
    return path


def test_a_second_shooter_s_camera_an_hour_ahead_is_named_by_the_moment_it_took_the_photo(tmp_path):
    path = _config(tmp_path, 'clock_offsets: {"NIKON Z 6*": "-1h", "Canon*": "+0s"}\n')
    cfg = config.load(path)
    nikon = sources.camera_jpeg(tmp_path / "DSC_0101.JPG", exif=sources.camera_exif(
        make="NIKON CORPORATION", model="NIKON Z 6_2", taken="2026:06:13 15:03:40", offset=None))
    canon = sources.camera_jpeg(tmp_path / "IMG_0001.JPG", exif=sources.camera_exif(taken="2026:06:13 14:03:40",
                                                                                   offset=None))
    said = {p.name: explain(cfg, p) for p in (nikon, canon)}
    web = {name: next(s.output for s in e.renditions if s.rendition == "web") for name, e in said.items()}
    assert web == {"DSC_0101.JPG": "20260613-140340_nikon-z-6-2_DSC_0101.jpg",
                   "IMG_0001.JPG": "20260613-140340_canon-eos-r5_IMG_0001.jpg"}, web
    assert "(the camera's clock corrected: clock_offsets -1h for NIKON Z 6*)" in dict(said["DSC_0101.JPG"].fields)[
        "taken"]


def test_only_a_date_the_camera_wrote_is_corrected_and_the_first_camera_that_matches_decides(tmp_path):
    (folder,) = config.load(_config(tmp_path, 'clock_offsets: {"NIKON*": "-1h", "*": "+1m"}\n')).folders
    assert folder.clock_offsets == (("NIKON*", -3600, "-1h"), ("*", 60, "+1m"))
    taken = dt.datetime(2026, 6, 13, 15, 3, 40)
    nikon = Photo(make="NIKON CORPORATION", model="NIKON Z 6_2", taken=taken, taken_from="exif")
    assert corrected(folder, nikon).taken == taken - dt.timedelta(hours=1)
    assert corrected(folder, Photo(make="Canon", model="Canon EOS R5", taken=taken, taken_from="exif")).taken == \
        taken + dt.timedelta(minutes=1)
    copied = Photo(make="NIKON CORPORATION", model="NIKON Z 6_2", taken=taken, taken_from="mtime")
    assert corrected(folder, copied).taken == taken  # the copy's time: no camera's clock


@pytest.mark.parametrize("written, said", [
    ('{"NIKON*": "1h"}', 'must be a signed time to add to the camera\'s clock, such as "-1h"'),
    ('{"NIKON*": "-1 hour"}', "must be a signed time"),
    ('{"NIKON*": "+40000d"}', "is more than 100 years"),
    ('"-1h"', "must be a mapping of cameras to the time to add to their clocks"),
])
def test_a_clock_offset_not_understood_says_what_to_write(tmp_path, written, said):
    with pytest.raises(ConfigError) as err:
        config.load(_config(tmp_path, f"clock_offsets: {written}\n"))
    assert "clock_offsets" in str(err.value) and said in str(err.value), str(err.value)


def test_a_reload_says_a_changed_clock_offset_as_it_is_written(tmp_path):
    from hotfolder.config import describe_changes

    a = config.load(_config(tmp_path, 'clock_offsets: {"NIKON Z 6_2": "-1h"}\n'))
    b = config.load(_config(tmp_path, 'clock_offsets: {"NIKON Z 6_2": "-59m"}\n'))
    assert describe_changes(a, b) == ["wedding: clock_offsets {NIKON Z 6_2: -1h} → {NIKON Z 6_2: -59m}"]


def test_a_date_a_clock_offset_would_push_past_the_calendar_is_left_as_the_camera_wrote_it(tmp_path):
    """A camera's (or a crafted file's) DateTimeOriginal of 9999-12-31 23:30 under "+2h":
    `hotfolder explain` ended in a traceback (OverflowError: date value out of range), and the
    daemon failed the photo at its choice of renditions. The date is left as written, said."""
    path = _config(tmp_path, 'clock_offsets: {"Canon*": "+2h", "NIKON*": "-1h"}\n')
    cfg = config.load(path)
    late = sources.camera_jpeg(tmp_path / "late.jpg", exif=sources.camera_exif(taken="9999:12:31 23:30:00",
                                                                              offset=None))
    early = sources.camera_jpeg(tmp_path / "early.jpg", exif=sources.camera_exif(
        make="NIKON CORPORATION", model="NIKON Z 6_2", taken="0001:01:01 00:30:00", offset=None))
    for photo, when in ((late, "99991231-233000_"), (early, "0101-003000_")):  # %Y of the year 1: "1" (glibc)
        said = explain(cfg, photo)
        web = next(s.output for s in said.renditions if s.rendition == "web")
        assert when in web, web
        assert any("clock_offsets" in note and "left as the camera wrote it" in note for note in said.notes), said


@pytest.mark.parametrize("offset", ["-" + " " * 300 + "x", "+" + "1" * 5000 + "h"])
def test_a_long_clock_offset_is_refused_at_once(tmp_path, offset):
    """A clock offset of a sign, 300 spaces and a letter (a value pasted wrong) held
    `check-config` (and a reload, in the daemon's main loop) for minutes: the pattern's runs of
    spaces side by side were tried every way (200 spaces: 25 s); 5,000 digits raised
    ValueError out of int(). Both are refused at once, saying what to write."""
    import subprocess
    import sys

    path = _config(tmp_path, f'clock_offsets: {{"NIKON*": "{offset}"}}\n')
    said = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(path)], capture_output=True,
                          text=True, timeout=20, cwd=tmp_path, check=False)
    assert said.returncode == 1, said.stdout + said.stderr
    assert "clock_offsets" in said.stderr and "must be a signed time" in said.stderr, said.stderr
