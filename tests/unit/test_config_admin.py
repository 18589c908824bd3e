"""An admin's afternoon of writing the YAML by hand (copied from the README, a wiki, an
email, a word processor): what a person obviously meant is taken; what may be meant two
ways is refused with the exact text to write, the file, the line and the key."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hotfolder.config import load
from hotfolder.config.model import ConfigError

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
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    return info.value


def web(tmp_path: Path, text: str):
    return load(write(tmp_path, text)).folders[0].renditions[0]


# --- formats: in any case, and by their extensions (the brief's first example) ----------

@pytest.mark.parametrize("written, meant", [
    ("JPEG", "jpeg"), ("Jpeg", "jpeg"), ("WEBP", "webp"), ("jpg", "jpeg"), ("JPG", "jpeg"), (".jpg", "jpeg"),
    ('".JPG"', "jpeg"), ("image/jpeg", "jpeg"), ("tif", "tiff"), ("TIFF", "tiff"), ("JXL", "jxl"),
    ("jpeg-xl", "jxl"), ("Same", "same"), ("AVIF", "avif"), ("Png", "png"),
])
def test_a_format_is_taken_in_any_case_and_by_its_extension(tmp_path, written, meant):
    # `format: JPEG` was refused with "did you mean 'jpeg'?", `jpg` too: a real product takes them.
    assert web(tmp_path, BASE.replace("format: jpeg", f"format: {written}")).format == meant


@pytest.mark.parametrize("written, said", [
    ("heic", "'heic' is not one of: jpeg, png, webp, tiff, avif, jxl, same; heic is a format hotfolder reads "
             "but does not write"),
    ("GIF", "'GIF' is not one of: jpeg, png, webp, tiff, avif, jxl, same; gif is a format hotfolder reads but "
            "does not write"),
    ("jpeg2000", "'jpeg2000' is not one of: jpeg, png, webp, tiff, avif, jxl, same (did you mean 'jpeg'?)"),
])
def test_a_format_not_written_is_still_refused_saying_why(tmp_path, written, said):
    err = error_of(tmp_path, BASE.replace("format: jpeg", f"format: {written}"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].format"], err.lines()
    assert err.reason == said, err.reason
    assert err.problems[0].line == 11 and "hotfolder.yaml" in err.lines()[0], err.lines()


def test_formats_of_sources_are_taken_by_their_extensions_too(tmp_path):
    cfg = load(write(tmp_path, "accepted_formats: [JPG, .tif, HEIF, CR3, PNG]\n" + textwrap.dedent(BASE)
                     .replace("format: jpeg", "format: jpeg\n        when: {format: [JPG, NEF]}")))
    assert cfg.accepted_formats == ("jpeg", "tiff", "heic", "raw", "png")
    assert cfg.folders[0].renditions[0].when.written == {"format": ["jpeg", "raw"]}
    err = error_of(tmp_path, "accepted_formats: [jpeg, jxl]\n" + textwrap.dedent(BASE))
    assert err.reason.endswith("; jxl is a format hotfolder writes but does not read"), err.reason


@pytest.mark.parametrize("line, key, meant", [
    ("operation: FILL", "operation", "fill"),
    ("metadata: Strip_GPS", "metadata", "strip-gps"),
    ("operation: fill\n        crop: Attention", "crop", "attention"),
])
def test_other_choices_in_any_case_and_with_words_spaced_otherwise(tmp_path, line, key, meant):
    text = BASE.replace("format: jpeg", f"format: jpeg\n        {line}")
    assert getattr(web(tmp_path, text), key) == meant


def test_a_watermark_position_written_as_words(tmp_path):
    text = BASE.replace("format: jpeg", "format: jpeg\n        watermark: {text: hi, position: Bottom Right}")
    assert web(tmp_path, text).watermark.position == "bottom-right"
