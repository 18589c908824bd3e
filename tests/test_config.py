"""Config validation: every error names the file, the key path and the reason."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from hotfolder import cli
from hotfolder.config import ConfigError, load, parse

REPO = Path(__file__).resolve().parent.parent

BASE = """
folders:
  - name: shop
    inbox: in
    output: out
    archive: arch
    failed: bad
    renditions:
      - name: web
        size: 1600x1200
        format: jpeg
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotfolder.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    return info.value


def test_example_config_is_valid_and_lands_under_var():
    cfg = load(REPO / "config" / "hotfolder.yaml")
    assert cfg.folders, "the example has a folder"
    for folder in cfg.folders:
        for d in folder.all_dirs():
            assert d.is_relative_to(REPO / "var"), d
        assert {r.operation for r in folder.renditions} >= {"fit", "fill"}
    assert cfg.state_dir.is_relative_to(REPO / "var")


def test_defaults_and_relative_paths(tmp_path):
    cfg = load(write(tmp_path, BASE))
    folder = cfg.folders[0]
    assert folder.inbox == tmp_path / "in"
    assert folder.processing == tmp_path / "processing"
    r = folder.renditions[0]
    assert (r.operation, r.width, r.height, r.quality, r.metadata, r.orient) == ("fit", 1600, 1200, 85, "strip-gps", True)
    assert r.filename == "{stem}_{rendition}.{ext}"
    assert cfg.workers >= 1 and cfg.max_attempts == 3 and cfg.file_timeout == 120


@pytest.mark.parametrize(
    "patch, key, reason",
    [
        ("        quality: 300\n", "folders[0].renditions[0].quality", "at most 100"),
        ("        qualty: 80\n", "folders[0].renditions[0].qualty", "unknown key"),
        ("        operation: stretch\n", "folders[0].renditions[0].operation", "not one of: fit, fill, scale, none"),
        ("        format: gif\n", "folders[0].renditions[0].format", "not one of"),
        ("        quality: high\n", "folders[0].renditions[0].quality", "whole number"),
        ("        orient: maybe\n", "folders[0].renditions[0].orient", "true or false"),
        ("        filename: \"{stem}_{size}.{ext}\"\n", "folders[0].renditions[0].filename", "unknown field {size}"),
        ("        filename: \"web.{ext}\"\n", "folders[0].renditions[0].filename", "{stem}"),
        ("        watermark: {text: hi, position: middle}\n", "folders[0].renditions[0].watermark.position", "not one of"),
        ("        watermark: {text: hi, opacity: 2}\n", "folders[0].renditions[0].watermark.opacity", "at most 1"),
        ("        watermark: {image: nope.png}\n", "folders[0].renditions[0].watermark.image", "does not exist"),
        ("        metadata: none\n", "folders[0].renditions[0].metadata", "keep, strip-gps, strip-all"),
    ],
)
def test_rendition_errors_name_the_key(tmp_path, patch, key, reason):
    err = error_of(tmp_path, BASE + patch)
    assert err.key == key
    assert reason in err.reason
    assert str(tmp_path / "hotfolder.yaml") in str(err)


def test_size_forms(tmp_path):
    for size, expected in [("800", (800, 800)), ("800x600", (800, 600)), ("[800, null]", (800, None))]:
        cfg = load(write(tmp_path, BASE.replace("1600x1200", size)))
        r = cfg.folders[0].renditions[0]
        assert (r.width, r.height) == expected
    err = error_of(tmp_path, BASE.replace("1600x1200", "big"))
    assert err.key.endswith("size") and "WIDTHxHEIGHT" in err.reason


def test_fill_needs_both_sides(tmp_path):
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "operation: fill\n        size: [400, null]"))
    assert err.key == "folders[0].renditions[0].size" and "both" in err.reason


def test_scale_needs_factor(tmp_path):
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "operation: scale"))
    assert err.key == "folders[0].renditions[0].scale"
    cfg = load(write(tmp_path, BASE.replace("size: 1600x1200", "operation: scale\n        scale: 0.5")))
    assert cfg.folders[0].renditions[0].scale == 0.5


def test_archive_or_delete(tmp_path):
    err = error_of(tmp_path, BASE.replace("    archive: arch\n", ""))
    assert err.key == "folders[0].archive" and "on_success: delete" in err.reason
    cfg = load(write(tmp_path, BASE.replace("    archive: arch\n", "    on_success: delete\n")))
    assert cfg.folders[0].archive is None


def test_folder_inside_inbox_refused(tmp_path):
    err = error_of(tmp_path, BASE.replace("output: out", "output: in/out"))
    assert err.key == "folders[0].output" and "inside the inbox" in err.reason


def test_top_level_errors(tmp_path):
    assert error_of(tmp_path, "workers: 0\n" + BASE).key == "workers"
    assert error_of(tmp_path, "wrokers: 2\n" + BASE).key == "wrokers"
    assert "not one of" in error_of(tmp_path, "accepted_formats: [jpeg, psd]\n" + BASE).reason
    assert error_of(tmp_path, "folders: []\n").key == "folders"
    assert "empty" in error_of(tmp_path, "").reason
    assert "not valid YAML: line" in error_of(tmp_path, "folders: [\n").reason


def test_duplicate_names(tmp_path):
    two = BASE + "      - name: web\n        size: 10\n"
    assert "used twice" in error_of(tmp_path, two).reason


def test_safe_load_only(tmp_path):
    err = error_of(tmp_path, "!!python/object/apply:os.system ['echo hi']\n")
    assert "not valid YAML" in err.reason


def test_check_config_cli(tmp_path, capsys):
    good = write(tmp_path, BASE)
    assert cli.main(["check-config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, BASE + "        quality: 0\n")
    assert cli.main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "folders[0].renditions[0].quality: must be at least 1" in err and str(bad) in err
    assert cli.main(["check-config", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_parse_without_file_uses_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = parse(textwrap.dedent(BASE))
    assert cfg.folders[0].inbox == tmp_path / "in"


def test_misspelt_keys_get_a_suggestion(tmp_path):
    err = error_of(tmp_path, BASE.replace("folders:", "folder:"))
    assert err.key == "folder" and "did you mean 'folders'" in err.reason
    err = error_of(tmp_path, BASE + "        qualty: 80\n")
    assert "did you mean 'quality'" in err.reason
    err = error_of(tmp_path, BASE.replace("    inbox: in\n", "    inbx: in\n"))
    assert err.key == "folders[0].inbx" and "did you mean 'inbox'" in err.reason


def test_output_group_must_exist(tmp_path):
    err = error_of(tmp_path, BASE.replace("    failed: bad\n", "    failed: bad\n    output_group: no-such-group-xyz\n"))
    assert err.key == "folders[0].output_group" and "no group" in err.reason
    cfg = load(write(tmp_path, BASE.replace("    failed: bad\n", "    failed: bad\n    output_group: 0\n")))
    assert cfg.folders[0].output_group == "0"


@pytest.mark.parametrize("written, mode", [("0644", 0o644), ("644", 0o644), ("'0640'", 0o640), ("755", 0o755)])
def test_output_mode_as_people_write_it(tmp_path, written, mode):
    cfg = load(write(tmp_path, BASE.replace("    failed: bad\n", f"    failed: bad\n    output_mode: {written}\n")))
    assert cfg.folders[0].output_mode == mode


def test_originals_must_stay_on_the_inbox_file_system(tmp_path):
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a file system other than the temp folder")
    err = error_of(tmp_path, BASE.replace("archive: arch", f"archive: {other}/hotfolder-test-archive"))
    assert err.key == "folders[0].archive" and "another file system" in err.reason
    err = error_of(tmp_path, BASE + "    processing: /dev/shm/hotfolder-test-processing\n")
    assert err.key == "folders[0].processing"
