"""Config validation: every error names the file, the key path and the reason."""
from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hotfolder.cli import commands
from hotfolder.config import check, describe_changes, load, parse
from hotfolder.config.model import ConfigError
from tests.harness import REPO

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
    assert (r.operation, r.width, r.height, r.quality, r.metadata, r.orient) == \
        ("fit", 1600, 1200, 85, "strip-gps", True)
    assert r.filename == "{stem}_{rendition}.{ext}"
    assert cfg.workers >= 1 and cfg.max_attempts == 3 and cfg.file_timeout == 120


@pytest.mark.parametrize(
    "patch, key, reason",
    [
        ("        quality: 300\n", "folders[shop].renditions[web].quality", "at most 100"),
        ("        qualty: 80\n", "folders[shop].renditions[web].qualty", "unknown key"),
        ("        operation: stretch\n", "folders[shop].renditions[web].operation",
         "not one of: fit, fill, scale, none"),
        ("        format: gif\n", "folders[shop].renditions[web].format", "not one of"),
        ("        quality: high\n", "folders[shop].renditions[web].quality", "whole number"),
        ("        orient: maybe\n", "folders[shop].renditions[web].orient", "true or false"),
        ("        filename: \"{stem}_{size}.{ext}\"\n", "folders[shop].renditions[web].filename",
         "unknown field {size}"),
        ("        filename: \"web.{ext}\"\n", "folders[shop].renditions[web].filename", "{stem}"),
        ("        watermark: {text: hi, position: middle}\n", "folders[shop].renditions[web].watermark.position",
         "not one of"),
        ("        watermark: {text: hi, opacity: 2}\n", "folders[shop].renditions[web].watermark.opacity", "at most 1"),
        ("        watermark: {image: nope.png}\n", "folders[shop].renditions[web].watermark.image", "does not exist"),
        ("        metadata: none\n", "folders[shop].renditions[web].metadata", "keep, strip-gps, strip-all"),
    ],
)
def test_rendition_errors_name_the_key(tmp_path, patch, key, reason):
    base = BASE.replace("        format: jpeg\n", "") if patch.strip().startswith("format:") else BASE  # once each
    err = error_of(tmp_path, base + patch)
    assert err.key == key
    assert reason in err.reason
    assert str(tmp_path / "hotfolder.yaml") in str(err)


@pytest.mark.parametrize("text, key, reason", [
    (BASE + '        manifest: "{stem}.json"\n', "folders[shop].renditions[web].manifest",
     "manifest is the folder's key, not a rendition's (a rendition has no manifest of its own): set it on the "
     "folder, beside `renditions:`"),
    (BASE + "        quiet_period: 2\n", "folders[shop].renditions[web].quiet_period", "the folder's key"),
    (BASE.replace("    renditions:\n", "    quality: auto\n    renditions:\n"), "folders[shop].quality",
     "quality is a rendition's key, not the folder's: set it in the `renditions:` entries it is for"),
])
def test_a_key_of_the_other_section_says_where_it_belongs(tmp_path, text, key, reason):
    err = error_of(tmp_path, text)
    assert err.key == key and reason in err.reason and "did you mean" not in err.reason


def test_a_misspelt_key_of_the_other_section_is_suggested_with_where_it_belongs(tmp_path):
    err = error_of(tmp_path, BASE.replace("    renditions:\n", "    qualty: 80\n    renditions:\n"))
    assert err.key == "folders[shop].qualty"
    assert "did you mean 'quality'? quality is a rendition's key, not the folder's" in err.reason


def test_size_forms(tmp_path):
    for size, expected in [("800", (800, 800)), ("800x600", (800, 600)), ("[800, null]", (800, None))]:
        cfg = load(write(tmp_path, BASE.replace("1600x1200", size)))
        r = cfg.folders[0].renditions[0]
        assert (r.width, r.height) == expected
    err = error_of(tmp_path, BASE.replace("1600x1200", "big"))
    assert err.key.endswith("size") and "WIDTHxHEIGHT" in err.reason


def test_fill_needs_both_sides(tmp_path):
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "operation: fill\n        size: [400, null]"))
    assert err.key == "folders[shop].renditions[web].size" and "both" in err.reason


def test_scale_needs_factor(tmp_path):
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "operation: scale"))
    assert err.key == "folders[shop].renditions[web].scale"
    cfg = load(write(tmp_path, BASE.replace("size: 1600x1200", "operation: scale\n        scale: 0.5")))
    assert cfg.folders[0].renditions[0].scale == 0.5


def test_archive_or_delete(tmp_path):
    err = error_of(tmp_path, BASE.replace("    archive: arch\n", ""))
    assert err.key == "folders[shop].archive" and "on_success: delete" in err.reason
    cfg = load(write(tmp_path, BASE.replace("    archive: arch\n", "    on_success: delete\n")))
    assert cfg.folders[0].archive is None


def test_folder_inside_inbox_refused(tmp_path):
    err = error_of(tmp_path, BASE.replace("output: out", "output: in/out"))
    assert err.key == "folders[shop].output" and "inside the inbox" in err.reason


def test_top_level_errors(tmp_path):
    assert error_of(tmp_path, "workers: 0\n" + BASE).key == "workers"
    assert error_of(tmp_path, "wrokers: 2\n" + BASE).key == "wrokers"
    assert "not one of" in error_of(tmp_path, "accepted_formats: [jpeg, psd]\n" + BASE).reason
    assert error_of(tmp_path, "folders: []\n").key == "folders"
    assert "empty" in error_of(tmp_path, "").reason
    err = error_of(tmp_path, "folders: [\n")
    assert "not valid YAML" in err.reason and (err.line, err.column) == (2, 1)


def test_duplicate_names(tmp_path):
    two = BASE + "      - name: web\n        size: 10\n"
    assert "used twice" in error_of(tmp_path, two).reason


def test_a_problem_of_the_second_of_two_renditions_of_one_name_is_at_its_own_lines(tmp_path):
    """The second `web`'s missing size was placed on the first's `size:` line (a review)."""
    err = error_of(tmp_path, BASE + "      - name: web\n        format: png\n")
    found = [(p.key, p.line) for p in err.problems]
    assert found == [("folders[shop].renditions[1].size", 12), ("folders[shop].renditions[1].name", 12)], found


def test_a_key_written_twice_in_a_mapping_is_a_problem_at_its_last_line(tmp_path):
    """YAML keeps the last value without a word: `quality: 70` then `quality: 90` read as
    90, and check-config said OK (a new user's test)."""
    err = error_of(tmp_path, "workers: 2\nworkers: 3\n" + BASE + "        quality: 70\n        quality: 90\n")
    found = [(p.key, p.line, p.reason) for p in err.problems]
    assert found == [
        ("workers", 2, "written more than once in this mapping (also on line 1): only the last would count; keep one"),
        ("folders[shop].renditions[web].quality", 15,
         "written more than once in this mapping (also on line 14): only the last would count; keep one"),
    ], found
    # A merge key (<<) is not a repetition: the mapping's own key overrides the merged one, as YAML says.
    merged = BASE.replace("      - name: web\n", "      - &web\n        name: web\n") + \
        "      - <<: *web\n        name: big\n        size: 4000x4000\n"
    assert [r.name for r in load(write(tmp_path, merged)).folders[0].renditions] == ["web", "big"]
    # ...even when a mapping anchored deeper is merged from above, which flattens it before
    # its own turn (a review found `orientation` reported there as written twice).
    deep = BASE + ("        when: {any: [&portrait {orientation: portrait},\n"
                   "                     &tall {<<: *portrait, orientation: square}]}\n"
                   "      - name: thumb\n        size: 50\n        when: {<<: *tall}\n")
    assert [r.name for r in load(write(tmp_path, deep)).folders[0].renditions] == ["web", "thumb"]
    # A mapping read as a value (size: {long}, when.exif, a cluster's path_map) is checked too.
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "size: {long: 100, long: 4000}"))
    assert (err.key, err.line, err.column) == ("folders[shop].renditions[web].size.long", 10, 27), err


def test_common_yaml_slips_are_told_what_to_change(tmp_path):
    """A new user's mistakes, each told in PyYAML's words or a wrong guess before: a key
    indented short, a `- ` left out between two renditions (five "written more than once"),
    a required key left empty ("unknown key (did you mean 'output'?)"), a condition beside
    the rendition's keys ("did you mean 'orient'?"), an unquoted `*Canon` (no key named)."""
    short = error_of(tmp_path, BASE.replace("        format: jpeg", "      format: jpeg"))
    assert "look at the indentation of line 11" in short.reason and "two spaces in from its `- `" in short.reason
    two = error_of(tmp_path, BASE + "        name: thumb\n        size: 200x200\n")
    assert [(p.key, p.line) for p in two.problems] == [("folders[shop].renditions[thumb].name", 12)], two.problems
    assert "is a `- ` missing before `name:` on line 12, to start another item?" in two.reason
    empty = error_of(tmp_path, BASE.replace("output: out", "output:"))
    assert (empty.key, empty.reason) == ("folders[shop].output", "is empty, but output is required"), empty
    beside = error_of(tmp_path, BASE + "        orientation: portrait\n")
    assert beside.reason == "not a key here: orientation is a condition: put it under the rendition's `when:`"
    colon = error_of(tmp_path, BASE + "        watermark:\n          text: Photo: Example Studio\n")
    assert colon.reason.endswith("a value holding ': ' must be quoted, e.g. text: \"…: …\""), colon.reason
    alias = error_of(tmp_path, BASE + "        when: {camera: *Canon}\n")
    assert "quote it (e.g. camera: '*…')" in alias.reason and "Canon" not in alias.reason


def test_a_file_that_cannot_be_read_as_a_config_says_so_and_where(tmp_path):
    """A review's findings, each a traceback (and on a reload, a stopped daemon): a file saved
    in Latin-1, aliases that expand a billion times (`str()` of the list took 4 GB), values
    nested thousands deep."""
    (tmp_path / "hotfolder.yaml").write_bytes(BASE.encode() + "# \u00a9 Studio\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "hotfolder.yaml")
    lines = BASE.count("\n")
    assert (info.value.line, info.value.column) == (lines + 1, 3), info.value
    assert "not UTF-8 text (byte 0xa9" in info.value.reason and "save it as UTF-8" in info.value.reason
    laughs = "x_a: &a [" + ", ".join(["lol"] * 9) + "]\n" + "".join(
        f"x_{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    started = time.process_time()
    err = error_of(tmp_path, laughs + "accepted_formats: *i\n" + BASE)
    assert "expand to more than 100,000 values" in err.reason and time.process_time() - started < 5, err
    err = error_of(tmp_path, "x: &loop [*loop]\n" + BASE)
    assert "expand to more than" in err.reason, err
    assert "nest thousands deep" in error_of(tmp_path, "workers: " + "[" * 5000 + "]" * 5000 + "\n" + BASE).reason


def test_merge_keys_through_lists_of_aliases_are_refused_within_seconds(tmp_path):
    """YAML's merge keys copy a mapping's keys into each mapping merging it: PyYAML 6.0.4
    compares every copy with every other (a 289 KB config of one mapping of 20,000 keys
    merged through a list of 20,000 aliases took 111 s of the daemon's loop on a reload),
    and PyYAML before it (Debian's 6.0, which `PyYAML>=6` allows) copies them once per path
    (500 bytes of `<<: [*a, *a, …]` nine deep never ended). An attack round: refused in
    seconds, in a process of its own (its deadline), whatever PyYAML is installed."""
    wide = "x_a: &a {" + ", ".join(f"k{i}: 1" for i in range(20_000)) + "}\nx_b: {<<: [" + \
        ", ".join(["*a"] * 20_000) + "]}\n"
    deep = "x_0: &l0 {" + ", ".join(f"k{i}: {i}" for i in range(9)) + "}\n" + "".join(
        f"x_{n}: &l{n} {{<<: [" + ", ".join([f"*l{n - 1}"] * 9) + "]}\n" for n in range(1, 10))
    for bomb, says in ((wide, "its merge keys (<<) copy more than 100,000 keys (counted up to the one on line 2)"),
                       (deep, "x_0: unknown key")):
        config = write(tmp_path, bomb + BASE)
        checked = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(config)],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 1 and says in checked.stderr, checked.stderr[-2000:]
    # What a merge means is kept: the first mapping listed wins, the node's own key over all,
    # a mapping reached by two paths is merged once.
    from hotfolder.config import problems
    assert problems.load_marked("a: &a {k: 1, x: 1}\nb: &b {k: 2, y: 2}\nw: &w {<<: *a}\n"
                                "c: {<<: [*a, *b, *w, *a], z: 3}\nd: {<<: [*b, *a], k: 9}\n") == {
        "a": {"k": 1, "x": 1}, "b": {"k": 2, "y": 2}, "w": {"k": 1, "x": 1},
        "c": {"k": 1, "x": 1, "y": 2, "z": 3}, "d": {"k": 9, "x": 1, "y": 2}}


def test_an_environment_variable_in_a_path_is_refused_not_made_a_folder(tmp_path):
    """`output: $HOME/out` was taken as a folder named `$HOME` beside the config (a review's
    finding): only secrets take `${VAR}`; a path says what to write instead."""
    err = error_of(tmp_path, BASE.replace("output: out", "output: $HOME/out"))
    assert err.key == "folders[shop].output" and "write '~/out'" in err.reason, err
    err = error_of(tmp_path, BASE.replace("archive: arch", "archive: /srv/${STUDIO}/archive"))
    assert err.key == "folders[shop].archive" and "${STUDIO} is not taken from the environment" in err.reason, err
    assert load(write(tmp_path, BASE.replace("output: out", "output: price$/out"))).folders[0].output.name == "out"


def test_a_size_with_no_side_and_a_name_whose_extension_is_another_format_s_are_refused(tmp_path):
    """A review's findings: `size: 0x0` was told "is required" though a size was written, and
    `filename: "{stem}.webp"` with `format: jpeg` wrote JPEG bytes into .webp files."""
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "size: 0x0"))
    assert err.key == "folders[shop].renditions[web].size" and "leaves both sides free" in err.reason, err
    err = error_of(tmp_path, BASE + '        filename: "{stem}.webp"\n')
    assert err.key == "folders[shop].renditions[web].filename", err
    assert "ends in .webp, but this rendition writes jpeg: end it in .{ext} (.jpg)" in err.reason, err
    err = error_of(tmp_path, BASE + '        filename: "{stem}_{rendition}"\n')
    assert "gives the outputs no extension: end it in .{ext} (.jpg)" in err.reason, err
    err = error_of(tmp_path, BASE + '        filename: "{width:>100}{height:>100}{stem:>100}.{ext}"\n')
    assert "makes names of 301 bytes or more" in err.reason, err  # each field alone is under 255
    err = error_of(tmp_path, "accepted_formats: [" + "x" * 5000 + "]\n" + BASE)
    assert len(err.reason) < 400 and "(5002 characters)" in err.reason, err  # an alias of 1 MB was quoted whole
    for fine in ('"{stem}.JPG"', '"{stem}_{rendition}.{ext}"', '"{taken:%Y}/{stem}.jpeg"', '"{name}"'):
        assert load(write(tmp_path, BASE + f"        filename: {fine}\n")).folders[0].renditions[0].filename


@pytest.mark.parametrize("value, written", [(">= 4", '">= 4"'), ("> 3", '"> 3"'), ("| 4", '"| 4"')])
def test_a_rating_that_starts_with_a_block_scalar_s_sign_is_told_to_be_quoted(tmp_path, value, written):
    """`rating: >= 4` unquoted gave PyYAML's "expected chomping or indentation indicators, but
    found '='" and nothing more (a shop admin's report): `>` and `|` begin YAML's blocks of text."""
    err = error_of(tmp_path, BASE + f"        when:\n          rating: {value}\n")
    assert (err.line, "not valid YAML") == (13, err.reason[:14]), err
    assert f"a value that starts with > or | begins a YAML block of text: quote it, e.g. rating: {written}" \
        in err.reason, err.reason


@pytest.mark.parametrize("after", [
    "        when:\n          subfolder: \"books/**\"\n      - {name: b, size: 20}\n",  # a quote two lines on
    "        format: jpeg\n",  # none: the rest of the file is the value's
])
def test_a_quote_left_open_is_said_on_its_own_line(tmp_path, after):
    """A `filename:` missing its closing quote was reported two lines later, as "look at the
    indentation of line 50" (a shop admin's report): the error points at the open quote."""
    text = BASE.replace("        format: jpeg\n", "") + '        filename: "{stem}_{rendition}.{ext}\n' + after
    err = error_of(tmp_path, text)
    assert (err.line, err.column) == (11, 19), err
    assert "the quote opened on line 11 is not closed on its line" in err.reason, err.reason
    assert "end the value with the same quote on line 11" in err.reason and "indentation" not in err.reason


def test_a_watermark_position_said_as_people_say_it_is_offered_the_right_one(tmp_path):
    """`lower-right` was offered `top-right` (the nearest spelling; a review's finding)."""
    mark = BASE + "        watermark: {text: x, position: lower-right}\n"
    err = error_of(tmp_path, mark)
    assert err.key == "folders[shop].renditions[web].watermark.position", err
    assert "did you mean 'bottom-right'?" in err.reason, err


def test_an_unquoted_template_is_said_to_need_quotes(tmp_path):
    """`filename: {stem}_{rendition}.{ext}` is YAML's mapping and a scalar after it: the
    parser's words name neither the key nor the quotes (a review)."""
    err = error_of(tmp_path, BASE + "        filename: {stem}_{rendition}.{ext}\n")
    assert "not valid YAML" in err.reason and 'quote the template, e.g. filename: "{stem}' in err.reason, err
    err = error_of(tmp_path, BASE.replace("    renditions:", "    manifest: {stem} {rendition}.json\n    renditions:"))
    assert 'quote the template, e.g. manifest: "{stem}' in err.reason, err  # a space after it, another key
    err = error_of(tmp_path, BASE + "        filename: {name}\n")  # valid YAML: a mapping of one key
    assert err.key == "folders[shop].renditions[web].filename" and 'quote the template, e.g. "{name}"' in err.reason
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "size: [1600, 1200]]"))  # not a template
    assert "not valid YAML" in err.reason and "quote the template" not in err.reason, err


@pytest.mark.parametrize("fmt, quality, warned", [("png", "50", True), ("png", "auto", False), ("jpeg", "50", False),
                                                   ("same", "50", False), ("png", None, False)])
def test_a_quality_a_lossless_format_ignores_is_warned_of(tmp_path, fmt, quality, warned):
    """`format: png` with `quality: 50` was taken in silence, the quality ignored (a review);
    `auto` with PNG is an error of its own."""
    text = BASE.replace("format: jpeg", f"format: {fmt}") + (f"        quality: {quality}\n" if quality else "")
    if quality == "auto":
        assert error_of(tmp_path, text).key.endswith(".quality")
        return
    said = [str(w) for w in check(write(tmp_path, text)).warnings]
    assert any("has no effect: PNG is lossless" in w for w in said) is warned, said


def test_safe_load_only(tmp_path):
    err = error_of(tmp_path, "!!python/object/apply:os.system ['echo hi']\n")
    assert "not valid YAML" in err.reason


def test_check_config_cli(tmp_path, capsys):
    good = write(tmp_path, BASE)
    assert commands.main(["check-config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, BASE + "        quality: 0\n")
    assert commands.main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "folders[shop].renditions[web].quality: must be at least 1" in err and str(bad) in err
    assert commands.main(["check-config", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_an_empty_value_reads_as_absent_and_is_warned_of_with_its_line_and_default(tmp_path, capsys):
    # `quality:` with nothing after it is YAML's null: the key reads as not written. Said,
    # since the value meant may have slipped onto a line YAML reads otherwise (a review's finding).
    path = write(tmp_path, "workers:\nhttp:\n" + BASE.replace("        format: jpeg\n",
                                                              "        format: jpeg\n        quality:\n"))
    checked = check(path)
    assert checked.config.folders[0].renditions[0].quality == 85 and checked.config.http is None
    said = [str(w) for w in checked.warnings]
    assert said == [
        f"{path}:1:1: workers: is empty, so it reads as not written (the default: auto); give it a value, "
        "or remove the key",
        f"{path}:2:1: http: is empty, so it reads as not written (the default: off); give it a value, "
        "or remove the key",
        f"{path}:14:9: folders[shop].renditions[web].quality: is empty, so it reads as not written (the default: 85); "
        "give it a value, or remove the key"], said
    assert commands.main(["check-config", str(path)]) == 0
    assert "hotfolder: warning: " + said[2] in capsys.readouterr().err
    assert not check(write(tmp_path, BASE)).warnings


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
    assert err.key == "folders[shop].inbx" and "did you mean 'inbox'" in err.reason


def test_output_group_must_exist(tmp_path):
    err = error_of(tmp_path, BASE.replace("    failed: bad\n",
                                          "    failed: bad\n    output_group: no-such-group-xyz\n"))
    assert err.key == "folders[shop].output_group" and "no group" in err.reason
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
    assert err.key == "folders[shop].archive" and "another file system" in err.reason
    err = error_of(tmp_path, BASE + "    processing: /dev/shm/hotfolder-test-processing\n")
    assert err.key == "folders[shop].processing"


MANY = """\
wrokers: 2
folders:
  - name: photos
    inbox: in
    output: out
    archive: arch
    failed: bad
    renditions:
      - name: web
        size: 1600x1200
        quality: 300
      - name: thumb
        operation: fill
        size: [400, null]
        qualty: 80
      - name: web
        size: 10
  - inbox: in2
    output: out2
    failed: bad2
    processing: proc2
    renditions: [{name: small, size: big}]
"""


def test_every_problem_at_once_with_its_line_column_and_names(tmp_path):
    err = error_of(tmp_path, MANY)
    found = [(p.key, p.line, p.column) for p in err.problems]
    assert found == [
        ("wrokers", 1, 1),
        ("folders[photos].renditions[web].quality", 11, 9),
        ("folders[photos].renditions[thumb].size", 14, 9),  # a check across keys (fill needs both)
        ("folders[photos].renditions[thumb].qualty", 15, 9),
        ("folders[photos].renditions[2].name", 16, 9),  # used twice: at the second one, by its index
        ("folders[1].archive", 18, 5),  # no name: by index; a missing key: at its mapping
        ("folders[1].renditions[small].size", 22, 32),
    ], found
    assert "did you mean 'quality'" in err.problems[3].reason
    # the first problem, for callers that show one
    assert (err.source, err.key, err.line) == (str(tmp_path / "hotfolder.yaml"), "wrokers", 1)
    assert f"{tmp_path / 'hotfolder.yaml'}:11:9: folders[photos].renditions[web].quality: must be at most 100" \
        in str(err)


def test_a_missing_required_key_still_lets_the_rest_be_checked(tmp_path):
    err = error_of(tmp_path, BASE.replace("    inbox: in\n", "") + "        quality: 0\n")
    assert [p.key for p in err.problems] == ["folders[shop].inbox", "folders[shop].renditions[web].quality"]


def test_checks_across_folders_name_the_folder_and_its_line(tmp_path):
    two = BASE + BASE.replace("folders:\n", "").replace("in\n", "in2\n").replace("out\n", "out2\n") \
        .replace("bad\n", "bad2\n").replace("    renditions:", "    processing: proc2\n    renditions:")
    err = error_of(tmp_path, two)
    second = [i + 1 for i, line in enumerate(two.splitlines()) if line == "  - name: shop"][1]
    # The second `shop` is told by its index (as a rendition's name given twice): its own lines.
    assert [(p.key, p.line, p.column) for p in err.problems] == [("folders[1].name", second, 5)]
    assert "is the name of folder number 1 in the list too; give each folder a name of its own" in err.reason


def test_marks_change_nothing_of_safe_load():
    import yaml

    from hotfolder.config import problems

    example = (REPO / "config" / "hotfolder.yaml").read_text()
    merged = "base: &b {quality: 80, format: jpeg}\nweb: {<<: *b, quality: 90}\nlist: [1, two, {a: b}]\n"
    for text in (example, merged):
        assert problems.load_marked(text) == yaml.safe_load(text)
    assert problems.load_marked(merged)["web"] == {"quality": 90, "format": "jpeg"}
    with pytest.raises(yaml.YAMLError):
        problems.load_marked("!!python/object/apply:os.system ['echo hi']\n")


def test_check_config_prints_each_problem_on_its_own_line(tmp_path, capsys):
    bad = write(tmp_path, MANY)
    assert commands.main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"hotfolder: config error: {bad}: 7 problems:"
    assert err[2] == f"  {bad}:11:9: folders[photos].renditions[web].quality: must be at most 100, not 300"
    assert len(err) == 8


def test_describe_changes_says_what_a_reload_changes(tmp_path):
    old = load(write(tmp_path, "workers: 2\n" + BASE + "        watermark: {text: hi}\n"))
    assert describe_changes(old, old) == []
    new_text = ("workers: 1\nmax_attempts: 5\n" + BASE.replace("1600x1200", "1200x800")
                + "        quality: 70\n        watermark: {text: hi, opacity: 0.7}\n"
                + "      - {name: tiny, size: 32}\n"
                + "  - {name: two, inbox: in2, output: out2, archive: arch2, failed: bad2, processing: proc2,\n"
                + "     renditions: [{name: x, size: 10}]}\n")
    new = load(write(tmp_path, new_text))
    assert describe_changes(old, new) == [
        "workers 2 → 1", "max_attempts 3 → 5", "folder two added", "shop: rendition tiny added",
        "shop: web: size 1600x1200 → 1200x800", "shop: web: quality 85 → 70",
        "shop: web: watermark.opacity 0.5 → 0.7"]
    assert describe_changes(new, old)[:3] == ["workers 1 → 2", "max_attempts 5 → 3", "folder two removed"]
    # A duration's whole seconds without ".0" (a new user read "duplicate_window 31536000.0 → 129600.0")
    windowed = BASE.replace("    renditions:", "    duplicate_window: 36h\n    renditions:")
    hours = load(write(tmp_path, "workers: 2\n" + windowed + "        watermark: {text: hi}\n"))
    assert describe_changes(old, hours) == ["shop: duplicate_window 31536000 → 129600"]


def test_a_reload_says_a_change_in_the_yaml_s_own_words(tmp_path):
    """A changed `when:` was said as Python reprs ("when.entries [Subfolder(globs=('books/**',)),
    Bound(which='min_width', pixels=1500)] → …"), a folder's place in the shared counts as
    "products: slot 0 → 1", `sharpen: high` as its radius and amount, `output_mode: "0640"`
    as 420 → 416 (a shop admin's report): each is said as the YAML writes it."""
    import dataclasses

    cover = ("      - {name: cover, size: {long: 2400}, sharpen: standard,\n"
             "         when: {subfolder: 'books/**', min_width: 1500, exif: {LensModel: '*50mm*'}}}\n")
    old = load(write(tmp_path, BASE + cover))
    changed = (BASE.replace("    renditions:", "    output_mode: '0640'\n    renditions:")
               + cover.replace("'books/**'", "[books, '*']").replace("min_width: 1500", "rating: '>= 4'")
               .replace("{long: 2400}", "1200x0").replace("standard", "high").replace("*50mm*", "*85mm*"))
    new = load(write(tmp_path, changed))
    new = dataclasses.replace(new, folders=(dataclasses.replace(new.folders[0], slot=1),))
    assert describe_changes(old, new) == [
        "shop: output_mode 0644 → 0640", "shop: cover: size {long: 2400} → 1200x0",
        "shop: cover: sharpen standard → high", 'shop: cover: when.subfolder books/** → [books, "*"]',
        "shop: cover: when.min_width removed (was 1500)", 'shop: cover: when.exif.LensModel "*50mm*" → "*85mm*"',
        'shop: cover: when.rating added: ">= 4"']
    unconditional = load(write(tmp_path, BASE + cover.replace(",\n         when: {subfolder: 'books/**', "
                                                                 "min_width: 1500, exif: {LensModel: '*50mm*'}}", "")))
    assert describe_changes(unconditional, old) == [
        'shop: cover: when added: {subfolder: books/**, min_width: 1500, exif: {LensModel: "*50mm*"}}']
    # `http.listen` is one key: it was said "http.port 9464 → 9465" (an admin's report)
    heard = load(write(tmp_path, "http:\n  listen: 127.0.0.1:9464\n" + BASE))
    moved = load(write(tmp_path, "http:\n  listen: 127.0.0.1:9465\n" + BASE))
    assert describe_changes(heard, moved) == ["http.listen 127.0.0.1:9464 → 127.0.0.1:9465"]


def test_a_reload_says_yes_no_and_the_default_queue_as_the_yaml_writes_them(tmp_path):
    """The README: the log says what changed "with the config's keys and values as written".
    A README audit's reload said `reload_on_change False → True` (Python's words, not YAML's)
    and `queue_size 0 → 7` for a key left out (its default is 2 × workers, not 0)."""
    old = load(write(tmp_path, BASE))
    new = load(write(tmp_path, "reload_on_change: true\nqueue_size: 7\n"
                     + BASE.replace("format: jpeg", "format: jpeg\n        upscale: true")))
    assert describe_changes(old, new) == [
        "queue_size 2 × workers → 7", "reload_on_change false → true", "shop: web: upscale false → true"]
    assert describe_changes(new, old) == [
        "queue_size 7 → 2 × workers", "reload_on_change true → false", "shop: web: upscale true → false"]


def test_a_folder_renamed_in_a_reload_is_said_to_forget_its_originals(tmp_path):
    """A new user renamed `studio` to `nord`: copies of earlier photos were rendered again and
    `{seq}` began anew, and the reload said only "folder nord added; folder studio removed"."""
    old = load(write(tmp_path, BASE))
    # The same processing/ (the owner of its outputs): the index follows the name (state/places.py),
    # and a folder's slot in the counts is no news ("nord: slot 0 → 1": a new user)
    new = load(write(tmp_path, BASE.replace("name: shop", "name: nord")))
    assert describe_changes(old, dataclasses.replace(new, folders=(dataclasses.replace(new.folders[0], slot=1),))) \
        == ["folder shop renamed nord (the same inbox)"]
    elsewhere = load(write(tmp_path, BASE.replace("name: shop", "name: nord").replace(
        "    renditions:", "    processing: proc9\n    renditions:")))
    assert describe_changes(old, elsewhere)[0] == (
        "folder shop renamed nord (the same inbox): a folder's name is what the index of originals (with another "
        "processing folder) knows it by, so nord knows none of shop's originals (copies of them are rendered "
        "again); name it shop again to keep them")
    moved = load(write(tmp_path, BASE.replace("name: shop", "name: nord").replace("inbox: in", "inbox: in9")))
    assert describe_changes(old, moved) == ["folder nord added", "folder shop removed"]
    # With duplicate_scope: all the copies are still found; {seq} is said where a name uses it, and
    # what else changed in the renamed folder is said too (a review)
    numbered = BASE.replace("        format: jpeg\n", "        format: jpeg\n        filename: '{seq}.{ext}'\n")
    old = load(write(tmp_path, numbered))
    new = load(write(tmp_path, numbered.replace("name: shop", "name: nord").replace(
        "    renditions:", "    duplicate_scope: all\n    renditions:").replace("1600x1200", "800x600")))
    assert describe_changes(old, new) == [
        "folder shop renamed nord (the same inbox): a folder's name is what {seq} knows it by, so nord counts "
        "{seq} anew; name it shop again to keep them",
        "nord: duplicate_scope auto → all", "nord: web: size 1600x1200 → 800x600"]


def test_two_renditions_giving_the_same_names_are_warned_of(tmp_path):
    """`canon` named `{stem}_portrait.{ext}` beside a `portrait` rendition's default: check-config
    said OK, and a Canon portrait's output came out as `IMG_7002_portrait~jpg.jpg` (a new user)."""
    text = BASE.replace("        format: jpeg\n", "        format: jpeg\n"
                        "      - {name: web2, size: 10, format: jpeg, filename: '{stem}_web.{ext}'}\n"
                        "      - {name: web3, size: 10, format: webp, filename: '{stem}_web.{ext}'}\n"
                        # not the same names (a review): by the output's width, by the name's case
                        "      - {name: w1, size: 800, format: jpeg, filename: '{stem}_{width}w.{ext}'}\n"
                        "      - {name: w2, size: 1600, format: jpeg, filename: '{stem}_{width}w.{ext}'}\n"
                        "      - {name: up1, size: 10, format: jpeg, filename: '{stem}_{rendition|upper}.{ext}'}\n"
                        "      - {name: up2, size: 10, format: jpeg, filename: '{stem}_{rendition|upper}.{ext}'}\n"
                        # the same names under conditions: said with the caveat
                        "      - {name: p, size: 10, format: jpeg, filename: '{stem}.{ext}',\n"
                        "         when: {orientation: portrait}}\n"
                        "      - {name: l, size: 10, format: jpeg, filename: '{stem}.{ext}',\n"
                        "         when: {orientation: landscape}}\n",
                        1)
    said = [str(w) for w in check(write(tmp_path, text)).warnings]
    assert len(said) == 2, said  # not web3: its own extension
    assert "folders[shop].renditions[web2].filename: gives the names rendition web gives ('{stem}_web.jpg')" in said[0]
    assert "renditions[l].filename: gives the names rendition p gives ('{stem}.jpg'): where both apply to a photo " \
           "(unless their `when:` never both hold)" in said[1]


def test_a_template_s_own_text_clients_cannot_open_is_warned_of_by_file_and_key(tmp_path):
    """`{taken:%H:%M}` put a `:` into every output's name, in silence: an exFAT disk refused each
    write and an SMB share showed `PY99N1~T.JPG` (the photo's texts are made portable, the
    config's own text is kept: warned of, never refused)."""
    text = BASE.replace("    renditions:", '    manifest: "{stem}?.json"\n    renditions:').replace(
        "        format: jpeg\n", "        format: jpeg\n        filename: '{stem}_{taken:%H:%M}.{ext}'\n"
        "      - {name: sub, size: 10, format: jpeg, filename: 'con/{stem}.{ext}'}\n"
        "      - {name: fine, size: 10, format: jpeg, filename: '{taken:%Y-%m-%d}/{stem}_{rendition}.{ext}'}\n")
    path = write(tmp_path, text)
    checked = check(path)
    assert checked.config.folders[0].renditions[0].filename == "{stem}_{taken:%H:%M}.{ext}"  # kept as written
    said = [str(w) for w in checked.warnings]
    assert len(said) == 3, said
    assert said[0].startswith(f"{path}:8:5: folders[shop].manifest: the template's text puts '?' into every name"), said
    assert said[1].startswith(f"{path}:13:9: folders[shop].renditions[web].filename: {{taken:%H:%M}} writes ':' "
                              "into every name (as '14:03')"), said
    assert "write '{stem}_{taken:%H-%M}.{ext}' instead" in said[1], said
    assert "folders[shop].renditions[sub].filename: 'con' is the name of a Windows device" in said[2], said
    assert not check(write(tmp_path, BASE)).warnings  # the default filename, no manifest
    named = BASE.replace("name: shop", 'name: "Shop: EU"') + "        filename: '{folder}/{stem}.{ext}'\n"
    said = [str(w) for w in check(write(tmp_path, named)).warnings]
    assert len(said) == 1 and "folders[Shop: EU].renditions[web].filename: {folder} writes ':' into every name " \
        "(as 'Shop: EU')" in said[0] and "write '{folder|slug}/{stem}.{ext}' instead" in said[0], said


def test_check_config_warns_of_a_name_clients_cannot_open_and_exits_0(tmp_path):
    path = write(tmp_path, BASE + "        filename: 'Export./{stem}_{taken:%T}.{ext}'\n")
    run = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert (f"hotfolder: warning: {path}:12:9: folders[shop].renditions[web].filename: {{taken:%T}} writes ':' into "
            "every name (as '14:03:05'); 'Export.' ends in a dot: a name Windows and macOS clients cannot open") \
        in run.stderr, run.stderr
    assert "write 'Export/{stem}_{taken:%H-%M-%S}.{ext}' instead" in run.stderr and "OK" in run.stdout, run


def test_problems_in_http_and_notify_are_reported_with_the_rest(tmp_path):
    text = BASE.replace("folders:\n", 'http: {listen: "1.2.3.4:99999", token: short}\n'
                                      'notify:\n  - {url: "not a url"}\n'
                                      '  - {url: "https://h.example", events: [nope]}\n'
                                      "folders:\n") + "        quality: 0\n"
    keys = [p.key for p in error_of(tmp_path, text).problems]
    assert keys[:2] == ["http.listen", "http.token"], keys
    assert "notify[0].url" in keys and "notify[1].events" in keys
    assert keys[-1] == "folders[shop].renditions[web].quality"


# --- formats and colour (issue 12) ----------------------------------------------------

def test_heic_and_raw_are_accepted_by_default_and_raw_develops_when_it_must(tmp_path):
    cfg = load(write(tmp_path, BASE))
    assert cfg.accepted_formats == ("jpeg", "png", "webp", "tiff", "heic", "raw")
    assert cfg.folders[0].raw == "auto" and cfg.folders[0].renditions[0].color_profile == "srgb"
    example = load(REPO / "config" / "hotfolder.yaml")
    assert {"heic", "raw"} <= set(example.accepted_formats)
    err = error_of(tmp_path, BASE.replace("    failed: bad\n", "    failed: bad\n    raw: develope\n"))
    assert err.key == "folders[shop].raw" and "'develope' is not one of: auto, preview, develop" in err.reason


def with_profile(value: str) -> str:
    return BASE.replace("        format: jpeg\n", f"        format: jpeg\n        color_profile: {value}\n")


def test_a_color_profile_path_is_checked_at_load(tmp_path):
    from tests.sources import adobe_rgb_icc

    (tmp_path / "printer.icc").write_bytes(adobe_rgb_icc())
    cfg = load(write(tmp_path, with_profile("printer.icc")))  # relative to the config's folder
    assert cfg.folders[0].renditions[0].color_profile == str(tmp_path / "printer.icc")
    assert load(write(tmp_path, with_profile("keep"))).folders[0].renditions[0].color_profile == "keep"

    err = error_of(tmp_path, with_profile("missing.icc"))
    assert err.key == "folders[shop].renditions[web].color_profile"
    assert "'missing.icc' is not srgb, keep, or a usable ICC profile: cannot read" in err.reason
    (tmp_path / "notes.icc").write_text("not a profile")
    assert "is not an ICC profile LittleCMS can read" in error_of(tmp_path, with_profile("notes.icc")).reason


def test_a_profile_that_is_not_rgb_cannot_be_a_target(tmp_path):
    from PIL import ImageCms

    # LittleCMS's own Lab profile: a real ICC profile, but the outputs are RGB.
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    (tmp_path / "lab.icc").write_bytes(lab.tobytes())
    err = error_of(tmp_path, with_profile("lab.icc"))
    assert err.key == "folders[shop].renditions[web].color_profile"
    assert "is a Lab profile; JPEG, PNG, WebP and AVIF outputs need an RGB one" in err.reason, err.reason


# --- did you mean, and one problem for one mistake (issue 26.13) ----------------------

@pytest.mark.parametrize("old, new, key, meant", [
    ("format: jpeg", "format: jpgg", "folders[shop].renditions[web].format",
     "'jpgg' is not one of: jpeg, png, webp, tiff, avif, jxl, same (did you mean 'jpeg'?)"),
    ("format: jpeg", "format: jpeg\n        watermark: {text: hi, position: bottom rigth}",
     "folders[shop].renditions[web].watermark.position", "(did you mean 'bottom-right'?)"),
    ("format: jpeg", "format: jpeg\n        watermark: {text: hi, position: Top_Lef}",
     "folders[shop].renditions[web].watermark.position", "(did you mean 'top-left'?)"),
    ("format: jpeg", "format: jpeg\n        metadata: strip_gsp", "folders[shop].renditions[web].metadata",
     "(did you mean 'strip-gps'?)"),
    ("    failed: bad\n", "    failed: bad\n    on_name_clash: sufix\n", "folders[shop].on_name_clash",
     "(did you mean 'suffix'?)"),
    ("folders:", "accepted_formats: [jpeg, tiif]\nfolders:", "accepted_formats", "(did you mean 'tiff'?)"),
    ("format: jpeg", "format: jpeg\n        sharpen: hihg", "folders[shop].renditions[web].sharpen",
     "(did you mean 'high'?)"),
])
def test_a_wrong_choice_says_what_was_meant(tmp_path, old, new, key, meant):
    err = error_of(tmp_path, BASE.replace(old, new))
    assert [p.key for p in err.problems] == [key], err.lines()
    assert meant in err.reason, err.reason


def test_a_list_where_one_choice_goes_says_to_choose_one(tmp_path):
    # A shop's audit: `format: [webp, avif, jpeg]` (WebP and AVIF beside a JPEG fallback) was
    # "must be a non-empty text, not a list", which says neither the choices nor what to do.
    err = error_of(tmp_path, BASE.replace("format: jpeg", "format: [webp, avif, jpeg]"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].format"], err.lines()
    assert ("must be one of: jpeg, png, webp, tiff, avif, jxl, same, not a list: a rendition writes one format; for "
            "several (WebP and AVIF beside a JPEG), write a rendition for each, the same but for `format` and "
            "`name`") in err.reason, err.reason
    err = error_of(tmp_path, BASE.replace("format: jpeg", "format: jpeg\n        operation: [fit, fill]"))
    assert err.reason == "must be one of: fit, fill, scale, none, pad, not a list: choose one", err.reason


def test_a_rendition_name_used_twice_says_to_name_each(tmp_path):
    # The shop's audit: a WebP copied from its JPEG rendition kept its name: "'product' is used
    # twice in this folder", and no word of what to do
    text = BASE.replace(
        "      - name: web\n", "      - {name: web, size: 400, format: webp}\n      - name: web\n", 1)
    err = error_of(tmp_path, text)
    assert err.reason == ("'web' is used twice in this folder (also renditions[0]): give each rendition a name "
                          "of its own, e.g. 'web-jpeg'"), err.reason


@pytest.mark.parametrize("value, said", [
    ("2000px", "must be a whole number, not the text '2000px' (did you mean 2000?)"),
    ("2000 px", "must be a whole number, not the text '2000 px' (did you mean 2000?)"),
    ("wide", "must be a whole number, not the text 'wide'"),
    # `"2000"` and `"2,000"` are taken as 2000 (test_config_admin.py)
])
def test_a_size_in_pixels_written_with_its_unit_says_the_number(tmp_path, value, said):
    text = BASE.replace("format: jpeg", f"format: jpeg\n        when: {{min_width: {value}}}")
    err = error_of(tmp_path, text)
    assert err.reason == said, err.reason


@pytest.mark.parametrize("value, said", [
    # The shop's audit: a pad on white, written as CSS writes it (`#fff`, `white`, `Black` are taken now:
    # test_config_admin.py)
    ("ivory", "must be a colour like '#ffffff', not 'ivory'"),
    # what to write, and JPEG XL keeps transparency too (it was left out)
    ("transparent", "must be a colour like '#ffffff', not 'transparent': JPEG's flattening and a pad's box are "
                    "opaque; leave background out (white) or give the colour they take: PNG, WebP, AVIF and JPEG XL "
                    "keep a picture's own transparency without it, but for pad"),
    ("'#12345'", "must be a colour like '#ffffff', not '#12345'"),
    # a long value is not repeated whole (left alone at a stop: a pasted paragraph came back entire)
    ("'#" + "ab" * 300 + "'", "must be a colour like '#ffffff', not '#" + "ab" * 29 + "a'… (601 characters)"),
])
def test_a_background_written_as_css_writes_it_says_what_was_meant(tmp_path, value, said):
    err = error_of(tmp_path, BASE.replace("format: jpeg", f"format: jpeg\n        background: {value}"))
    assert err.reason == said, err.reason


@pytest.mark.parametrize("value, said", [
    # The shop's audit: a typo of auto, or a percentage, was only "not the text 'auot'"
    ("auot", "must be a whole number from 1 to 100, or auto, not the text 'auot' (did you mean 'auto'?)"),
    ("Auto ", None),
    ('"80 %"', None),  # taken as 80: test_config_admin.py
    ("high", "must be a whole number from 1 to 100, or auto, not the text 'high'"),
])
def test_a_quality_that_is_neither_says_what_was_meant(tmp_path, value, said):
    text = BASE.replace("format: jpeg", f"format: jpeg\n        quality: {value}")
    if said is None:
        assert load(write(tmp_path, text)).folders[0].renditions[0].quality in ("auto", 80)
        return
    err = error_of(tmp_path, text)
    assert err.reason == said, err.reason


@pytest.mark.parametrize("filename, said", [
    # A shop's audit: a name from the photo's keywords was said to make "every input" write one file
    ('"sku/{keywords|pick(SKU-*)}.{ext}"', "'sku/{keywords|pick(SKU-*)}.{ext}' must contain {stem}, {name}, {seq} or "
     "{hash}: two photos of one {keywords} (or of none) would write the same file; e.g. "
     "'sku/{keywords|pick(SKU-*)}_{stem}.{ext}'"),
    ('"{camera|slug}-{taken:%Y}.{ext}"', "two photos of one {camera}, {taken} (or of none) would write the same file; "
     "e.g. '{camera|slug}-{taken:%Y}_{stem}.{ext}'"),
    ('"web.{ext}"', "'web.{ext}' must contain {stem}, {name}, {seq} or {hash}, or every input would write the same "
     "file; e.g. 'web_{stem}.{ext}'"),
])
def test_a_filename_that_cannot_tell_photos_apart_says_which_and_how(tmp_path, filename, said):
    err = error_of(tmp_path, BASE.replace("format: jpeg", f"format: jpeg\n        filename: {filename}"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].filename"], err.lines()
    assert said in err.reason, err.reason


@pytest.mark.parametrize("old, new, key, meant", [
    # `crop` is not an operation: said once, not also "crop only applies to fill" nor "size is required for fit"
    ("size: 1600x1200", "operation: crop\n        crop: attention", "folders[shop].renditions[web].operation",
     "did you mean 'fill'?"),
    # a wrong format is not also "max_bytes needs format jpeg, webp or avif"
    ("format: jpeg", "format: gif\n        max_bytes: 500KB", "folders[shop].renditions[web].format",
     "'gif' is not one of"),
])
def test_one_mistake_is_one_problem(tmp_path, old, new, key, meant):
    err = error_of(tmp_path, BASE.replace(old, new))
    assert [p.key for p in err.problems] == [key], err.lines()
    assert meant in err.reason, err.reason


def test_machine_problems_come_with_the_rest_each_at_its_line(tmp_path):
    """preflight.py runs after the sections, on what could be built: its problems are
    reported with the parse's, at their keys' lines, an unnamed folder by its index."""
    (tmp_path / "blocked").write_text("a file where a folder should be")
    text = (BASE.replace("        format: jpeg\n", "        format: jpeg\n        quality: 300\n"
                                                    "        watermark: {image: missing.png}\n")
            + "  - inbox: in2\n    output: blocked/out\n    failed: bad2\n    processing: proc2\n"
            + "    archive: arch2\n    output_group: no-such-group-xyz\n"
            + "    renditions: [{name: small, size: 10}]\n")
    path = write(tmp_path, text)
    err = error_of(tmp_path, text)
    lines = path.read_text().splitlines()

    def at(text: str) -> int:
        return next(i + 1 for i, line in enumerate(lines) if line.strip().startswith(text))

    assert [(p.key, p.line) for p in err.problems] == [
        ("folders[shop].renditions[web].quality", at("quality: 300")),
        ("folders[shop].renditions[web].watermark.image", at("watermark:")),
        ("folders[1].output", at("output: blocked/out")),
        ("folders[1].output_group", at("output_group:")),
    ], err.lines()
    assert "is a file, not a folder" in err.problems[2].reason or "cannot be made" in err.problems[2].reason


def test_a_config_path_that_is_no_regular_file_is_refused_without_opening_it(tmp_path):
    """Opening some files does something (a FIFO's writer waiting for a reader is let go,
    /dev/watchdog is armed): a config path that is none of a config is refused from its
    stat, never opened (a review's note)."""
    import threading

    from hotfolder.config import parsing

    fifo = tmp_path / "hotfolder.yaml"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:  # blocks in open() until someone opens the FIFO for reading
        fd = os.open(fifo, os.O_WRONLY)
        opened.set()
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    task = Path(f"/proc/self/task/{thread.native_id}")
    openat = {"x86_64": "257", "aarch64": "56"}.get(os.uname().machine)  # its number, if wchan says nothing
    deadline = time.monotonic() + 10
    # The writer waits in open(): a reader would free it (the kernel's wait_for_partner)
    while (task / "wchan").read_text() != "wait_for_partner" and (task / "syscall").read_text().split()[0] != openat:
        assert time.monotonic() < deadline, "the writer never came to wait in open()"
        time.sleep(0.01)
    try:
        with pytest.raises(parsing.NotAConfigFile, match="a FIFO, socket or device, not a regular file"):
            parsing.read_file(fifo)
        assert not opened.wait(1.0), "the FIFO was opened: its waiting writer was let go"
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer go, whatever happened
        thread.join(10)
        os.close(reader)
    assert not thread.is_alive()


@pytest.mark.parametrize(("size", "meant"), [
    ("480w", "(a width only, as a srcset's 480w: [480, null]; 480 alone is a 480x480 box)"),
    ("480px", "(a width only: [480, null]; 480 alone is a 480x480 box)"),
    ("480x", "(a width only: [480, null])"),
    ("x480", "(a height only: [null, 480])"),
])
def test_a_width_written_as_a_web_page_writes_it_is_told_how_to_write_a_width(tmp_path, size, meant):
    """A web developer's srcset widths: `size: 480w` was refused with every form a size takes,
    none of them saying that a width alone is `[480, null]` (and `480` alone a square box)."""
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", f"size: {size}"))
    assert err.key == "folders[shop].renditions[web].size" and err.reason.endswith(meant), err


def test_a_reload_that_adds_or_changes_renditions_says_how_the_archived_originals_get_them(tmp_path):
    """A web publisher changed a quality, reloaded, and dropped the same photos again: each was
    skipped as a duplicate, and nothing had said that the originals rendered before keep their
    outputs. The reload says it, with the rerender command that makes them (renditions added or
    changed only; none for a folder that keeps no archive)."""
    from hotfolder.config.changes import rerender_hint

    old = load(write(tmp_path, BASE))
    assert rerender_hint(old, old) == ""
    config = shlex.quote(str(tmp_path / "hotfolder.yaml"))
    new = load(write(tmp_path, BASE + "        quality: 70\n      - {name: tiny, size: 32}\n"))
    assert rerender_hint(old, new) == (
        "the originals archived before keep their outputs, and a copy of one dropped again is a duplicate, "
        f"skipped: `hotfolder rerender --config {config} --rendition web --rendition tiny` makes them again")
    with_tiny = load(write(tmp_path, BASE + "      - {name: tiny, size: 32}\n"))
    assert rerender_hint(with_tiny, old) == "", "a rendition removed: nothing to make"
    deleting = load(write(tmp_path, BASE.replace("    archive: arch\n", "    on_success: delete\n")
                          + "        quality: 70\n"))
    assert rerender_hint(load(write(tmp_path, BASE.replace("    archive: arch\n", "    on_success: delete\n"))),
                         deleting) == ""


@pytest.mark.parametrize("size", ["9" * 5000 + "w", "x" + "9" * 5000, "9" * 5000 + "x10", "10x" + "9" * 5000])
def test_a_size_of_thousands_of_digits_is_a_config_error_not_a_traceback(tmp_path, size):
    """Python refuses int() of more than 4,300 digits: `size: "999…9w"` (a paste gone wrong)
    was a ValueError's traceback out of check-config and the daemon's start, not a line that
    names the key (the `480w` hint's int(), and `WxH`'s)."""
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", f'size: "{size}"'))
    assert err.key == "folders[shop].renditions[web].size" and "characters)" in err.reason, err


def test_a_number_of_thousands_of_digits_unquoted_is_a_yaml_error_at_its_line(tmp_path):
    """PyYAML's int() of an unquoted number of more than 4,300 digits raised ValueError out of
    the parse: a traceback from check-config, the start and a reload, naming no line."""
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", "size: " + "9" * 5000))
    assert err.line == 10 and "a number of 5000 digits" in err.reason and "9" * 50 not in str(err), err
