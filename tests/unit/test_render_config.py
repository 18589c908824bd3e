"""The rendition keys of issue 13 and the watermark's size_of: values, and every mistake
named with the file, the line and the key path."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from hotfolder.config import describe_changes, load
from hotfolder.config.model import SHARPEN_PRESETS, ConfigError, SetMetadata, Sharpen
from tests.harness import REPO
from tests.unit.test_config import BASE

HEAD = BASE  # one folder, shop, with one rendition, web


def config_with(tmp_path: Path, keys: str, head: str = HEAD) -> Path:
    path = tmp_path / "hotfolder.yaml"
    keys = textwrap.dedent(keys)
    if head == HEAD and any(line.startswith("format:") for line in keys.splitlines()):
        head = HEAD.replace("        format: jpeg\n", "")  # the rendition's own: a key is written once
    path.write_text(textwrap.dedent(head) + textwrap.indent(keys, " " * 8))
    return path


def web(tmp_path: Path, keys: str):
    return load(config_with(tmp_path, keys)).folders[0].renditions[0]


def problems(tmp_path: Path, keys: str, head: str = HEAD) -> list[str]:
    path = config_with(tmp_path, keys, head)
    with pytest.raises(ConfigError) as info:
        load(path)
    lines = info.value.lines()
    assert all(line.startswith(f"{path}:") for line in lines), lines
    return lines


def test_the_defaults_change_nothing(tmp_path):
    r = web(tmp_path, "")
    assert (r.sharpen, r.crop, r.set_metadata, r.max_bytes, r.progressive) == (None, "center", None, None, False)


@pytest.mark.parametrize("written, sharpen", [
    ("none", None), ("off", None), ("low", SHARPEN_PRESETS["low"]), ("standard", SHARPEN_PRESETS["standard"]),
    ("high", SHARPEN_PRESETS["high"]),
    ("{radius: 1.0, amount: 1.5, threshold: 0}", Sharpen(1.0, 1.5, 0)),
    ("{amount: 0.4}", Sharpen(SHARPEN_PRESETS["standard"].radius, 0.4, SHARPEN_PRESETS["standard"].threshold)),
])
def test_sharpen_forms(tmp_path, written, sharpen):
    assert web(tmp_path, f"sharpen: {written}\n").sharpen == sharpen


@pytest.mark.parametrize("written, size", [
    ("500000", 500_000), ("500KB", 500_000), ("500 kB", 500_000), ("1.5MB", 1_500_000), ("512KiB", 524_288),
    ("2 MiB", 2_097_152), ("1000B", 1000),
])
def test_max_bytes_units(tmp_path, written, size):
    assert web(tmp_path, f"max_bytes: {written}\n").max_bytes == size


def test_set_metadata_and_progressive(tmp_path):
    r = web(tmp_path, """\
        progressive: true
        set_metadata:
          artist: Ann Smith
          copyright: "© {year} Ann Smith, {folder}"
          credit: 2026
        """)
    assert r.progressive is True
    assert r.set_metadata == SetMetadata(artist="Ann Smith", copyright="© {year} Ann Smith, {folder}", credit="2026")


def test_a_watermark_by_the_longer_side_with_a_minimum_width(tmp_path):
    wm = web(tmp_path, "watermark: {text: x, size_of: longer, min_size: 200}\n").watermark
    assert (wm.size_of, wm.min_size) == ("longer", 200)
    assert web(tmp_path, "watermark: {text: x}\n").watermark.min_size == 120
    (line,) = problems(tmp_path, "watermark: {text: x, min_size: -5}\n")
    assert "watermark.min_size: must be at least 0, not -5" in line


def test_smart_crop_on_fill(tmp_path):
    head = HEAD.replace("size: 1600x1200\n        format: jpeg", "operation: fill\n        size: 400x400")
    assert load(config_with(tmp_path, "crop: attention\n", head)).folders[0].renditions[0].crop == "attention"


def test_every_mistake_is_named_with_its_line_and_key_path(tmp_path):
    lines = problems(tmp_path, "", HEAD + """\
        sharpen: {radius: 9, amont: 1}
        crop: attention
        max_bytes: 5 GB
        progressive: 1
        set_metadata: {artist: "", copyright: "© {yaer}", credit: [a]}
      - name: png
        format: png
        size: 100
        sharpen: true
        max_bytes: 20KB
        progressive: true
        set_metadata: {}
        watermark: {text: x, size_of: diagonal}
      - name: same
        size: 100
        max_bytes: 10
""")
    key = "folders[shop].renditions"
    want = [
        (12, f"{key}[web].sharpen.radius: must be at most 5.0, not 9"),
        (12, f"{key}[web].sharpen.amont: unknown key (did you mean 'amount'?"),
        (13, f"{key}[web].crop: only applies to operation fill (operation fit crops nothing): remove it, or use "
            "operation: fill"),
        (14, f"{key}[web].max_bytes: unknown unit 'GB' in '5 GB'; use B, KB, MB, KiB or MiB"),
        (15, f"{key}[web].progressive: must be true or false, not the number 1"),
        (16, f"{key}[web].set_metadata.artist: must be a non-empty text, not the text ''"),
        (16, f"{key}[web].set_metadata.copyright: unknown field {{yaer}}; use {{year}}"),
        (16, f"{key}[web].set_metadata.credit: must be a non-empty text, not a list"),
        (20, f"{key}[png].sharpen: must be one of: none, low, standard, high, or a mapping"),
        (21, f"{key}[png].max_bytes: needs format jpeg, webp, avif or jxl: PNG has no quality to lower"),
        (22, f"{key}[png].progressive: only applies to JPEG outputs, not format png: remove it, or use format: jpeg"),
        (23, f"{key}[png].set_metadata: needs at least one of: artist, copyright, credit, usage_terms"),
        (24, f"{key}[png].watermark.size_of: 'diagonal' is not one of: shorter, width, height, longer"),
        (27, f"{key}[same].max_bytes: is 10 bytes; at least 1000 (1KB)"),
    ]
    assert len(lines) == len(want), "\n".join(lines)
    for line, (number, text) in zip(lines, want, strict=False):
        assert f":{number}:" in line and text in line, (line, number, text)


def test_max_bytes_with_format_same_says_why(tmp_path):
    (line,) = problems(tmp_path, "format: same\nmax_bytes: 500KB\n", HEAD.replace("        format: jpeg\n", ""))
    assert "format same writes PNG for PNG, TIFF, GIF and BMP sources" in line


def test_a_reload_says_what_changed_in_the_new_keys(tmp_path):
    old = load(config_with(tmp_path, "sharpen: low\n"))
    new = load(config_with(tmp_path, "sharpen: high\nmax_bytes: 500KB\nset_metadata: {artist: Ann}\n"))
    changes = describe_changes(old, new)
    assert "shop: web: sharpen low → high" in changes  # the preset, as written
    assert "shop: web: max_bytes none → 500000" in changes
    assert "shop: web: set_metadata added" in changes


def test_the_example_config_shows_every_new_key_and_is_valid_with_them_on(tmp_path):
    example = (REPO / "config" / "hotfolder.yaml").read_text()
    keys = ("sharpen", "progressive", "max_bytes", "set_metadata", "artist", "copyright", "credit",
            "usage_terms", "size_of", "min_size", "crop", "metadata")
    lines = []
    for line in example.splitlines():
        m = re.fullmatch(r"(\s+)# (\s*)(\w+): (.*)", line)
        lines.append(f"{m.group(1)}{m.group(2)}{m.group(3)}: {m.group(4)}" if m and m.group(3) in keys else line)
    on = tmp_path / "config" / "hotfolder.yaml"
    on.parent.mkdir()
    on.write_text("\n".join(lines) + "\n")
    web, thumb = load(on).folders[0].renditions
    assert web.sharpen == SHARPEN_PRESETS["standard"] and web.progressive and web.max_bytes == 500_000
    assert web.set_metadata.copyright == "© {year} Example Studio" and web.watermark.size_of == "shorter"
    assert web.watermark.min_size == 120
    assert thumb.crop == "attention" and thumb.metadata == "copyright-only"


def test_quality_auto_and_its_target(tmp_path):
    r = web(tmp_path, "quality: auto\nquality_target: 85\n")
    assert (r.quality, r.quality_target) == ("auto", 85.0)
    assert web(tmp_path, "quality: Auto\n").quality_target == 80.0  # the default target
    assert web(tmp_path, "quality: 70\n").quality == 70
    # what a person means without a doubt is taken (an admin's afternoon): it was refused
    assert web(tmp_path, 'quality: "85"\n').quality == web(tmp_path, "quality: 85e0\n").quality == 85
    # a score out of 100, written as `quality: 85%` is: taken as the score (it was "not the text '80%'")
    assert web(tmp_path, "quality: auto\nquality_target: 80%\n").quality_target == 80.0
    assert web(tmp_path, "quality: auto\nquality_target: 82.5 %\n").quality_target == 82.5


@pytest.mark.parametrize("keys, said", [
    ("quality: best\n", "quality: must be a whole number from 1 to 100, or auto, not the text 'best'"),
    ("quality: 85.5\n", "quality: must be a whole number from 1 to 100, or auto, not the number 85.5 (did you "
                         "mean 85 or 86?)"),
    ("quality: 0\n", "quality: must be at least 1, not 0"),
    ("quality: 85\nquality_target: 85\n",
     "quality_target: only applies with quality: auto (quality is 85): remove it, or set quality: auto"),
    ("quality: auto\nquality_target: 99\n", "quality_target: must be at most 95"),
    ("quality: auto\nquality_target: 99%\n", "quality_target: must be at most 95"),
    ("quality: auto\nquality_target: 0.8\n", "quality_target: must be at least 50, not 0.8 (a score out of 100: "
                                              "did you mean 80?)"),
    ("format: png\nquality: auto\n",
     "quality: auto needs format jpeg, webp, avif or jxl: PNG has no quality to search"),
    ("format: jxl\ncolor_profile: keep\n", "color_profile: format jxl cannot carry a colour profile"),
    ("format: jxl\nprogressive: true\n",
     "progressive: only applies to JPEG outputs, not format jxl: remove it, or use format: jpeg"),
])
def test_what_a_format_cannot_do_is_named_from_its_entry(tmp_path, keys, said):
    (line,) = problems(tmp_path, keys)
    assert said in line, line


@pytest.mark.parametrize("keys, said", [  # the rendition's size: 1600x1200 is HEAD's
    ("scale: 0.5\n", "scale: only applies to operation scale, not fit: remove it, or use operation: scale"),
    ("operation: scale\nscale: 0.5\n",
     "size: does not apply to operation scale (scale sets the size): remove it"),
    ("operation: none\n", "size: does not apply to operation none (the picture keeps its size): remove it, or "
                          "use operation: fit"),
])
def test_a_key_the_operation_ignores_says_to_remove_it(tmp_path, keys, said):
    (line,) = problems(tmp_path, keys)
    assert said in line, line


def test_a_format_that_takes_a_quality_takes_auto_and_max_bytes(tmp_path):
    for fmt in ("jpeg", "webp", "avif", "jxl", "same"):
        r = web(tmp_path, f"format: {fmt}\nquality: auto\n" + ("max_bytes: 500KB\n" if fmt != "same" else ""))
        assert r.quality == "auto"


def test_a_news_desk_s_words_for_set_metadata_and_name_fields_are_told_the_key_they_mean(tmp_path):
    # A picture desk's audit: `byline:` was told no key to use instead, `creator:` was told
    # `credit` (the agency, not the photographer), `{caption}` in a name no field, and
    # set_metadata holding only such keys was said to need "at least one" besides.
    lines = problems(tmp_path, """\
        filename: "{caption}_{stem}.{ext}"
        set_metadata: {byline: "Łukasz Żółć/dpa", creator: x, caption: "{caption}", copyright_notice: "© dpa"}
        """)
    said = "\n".join(lines)
    assert "set_metadata.byline: unknown key: the byline (IPTC By-line, XMP dc:creator) is `artist`" in said, said
    assert "set_metadata.creator: unknown key: the byline (IPTC By-line, XMP dc:creator) is `artist`" in said, said
    assert "set_metadata.caption: unknown key: the caption (IPTC Caption, XMP dc:description) is `description`" \
        in said, said
    assert "set_metadata.copyright_notice: unknown key (did you mean 'copyright'?" in said, said
    assert "filename: unknown field {caption}; use {description}" in said, said
    assert "needs at least one of" not in said, said
