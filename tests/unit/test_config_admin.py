"""An admin's afternoon of writing the YAML by hand (copied from the README, a wiki, an
email, a word processor): what a person obviously meant is taken; what may be meant two
ways is refused with the exact text to write, the file, the line and the key."""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from hotfolder import config
from hotfolder.config import check, load
from hotfolder.config.model import SHARPEN_PRESETS, ConfigError
from tests.harness import REPO
from tests.unit.test_config import BASE, error_of, write


def web(tmp_path: Path, text: str):
    return load(write(tmp_path, text)).folders[0].renditions[0]


def in_rendition(lines: str) -> str:
    """BASE with `lines` added to its rendition's keys (indented as they are)."""
    return BASE.replace("format: jpeg", f"format: jpeg\n        {lines}")


def in_folder(line: str) -> str:
    """BASE with `line` added to its folder's keys."""
    return BASE.replace("    failed: bad\n", f"    failed: bad\n    {line}\n")


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
    text = in_rendition(line)
    assert getattr(web(tmp_path, text), key) == meant


def test_a_watermark_position_written_as_words(tmp_path):
    text = in_rendition("watermark: {text: hi, position: Bottom Right}")
    assert web(tmp_path, text).watermark.position == "bottom-right"


# --- numbers as people write them -------------------------------------------------------

@pytest.mark.parametrize("written, meant", [
    ('"85"', 85), ("85%", 85), ("85 %", 85), ("85.0", 85), ("Auto", "auto"), ("100%", 100),
])
def test_a_quality_written_as_people_write_it(tmp_path, written, meant):
    assert web(tmp_path, in_rendition(f"quality: {written}")).quality == meant


@pytest.mark.parametrize("written, said", [
    ("85.5", "must be a whole number from 1 to 100, or auto, not the number 85.5 (did you mean 85 or 86?)"),
    ("0.85", "must be a whole number from 1 to 100, or auto, not the number 0.85 (did you mean 85?)"),
    ("high", "must be a whole number from 1 to 100, or auto, not the text 'high'"),
    ("0", "must be at least 1, not 0"),
    ("101%", "must be at most 100, not 101"),
])
def test_a_quality_that_may_be_meant_two_ways_says_what_to_write(tmp_path, written, said):
    err = error_of(tmp_path, in_rendition(f"quality: {written}"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].quality"], err.lines()
    assert err.reason == said, err.reason


@pytest.mark.parametrize("written, box", [
    ('"1600"', (1600, 1600)), ("1600x1200px", (1600, 1200)), ("1600px x 1200px", (1600, 1200)),
    ("1600*1200", (1600, 1200)), ("1600, 1200", (1600, 1200)), ("{width: 1600, height: 1200}", (1600, 1200)),
    ("{width: 1600}", (1600, None)), ("{height: 1200}", (None, 1200)),
])
def test_a_size_written_as_people_write_it(tmp_path, written, box):
    r = web(tmp_path, BASE.replace("size: 1600x1200", f"size: {written}"))
    assert (r.width, r.height) == box


def test_a_long_side_with_its_unit(tmp_path):
    assert web(tmp_path, BASE.replace("size: 1600x1200", "size: {long: 2048px}")).long == 2048


@pytest.mark.parametrize("written, said", [
    ("1600px", "(a width only: [1600, null]; 1600 alone is a 1600x1600 box)"),
    ("1,600", "(write 1600 for a 1600x1600 box, or 1x600 for a width and a height)"),
    ("600,600", "(write 600600 for a 600600x600600 box, or 600x600 for a width and a height)"),
])
def test_a_size_that_may_be_meant_two_ways_says_what_to_write(tmp_path, written, said):
    err = error_of(tmp_path, BASE.replace("size: 1600x1200", f"size: {written}"))
    assert err.reason.endswith(said), err.reason


@pytest.mark.parametrize("written, size", [
    ("500 KB", 500_000), ("500kb", 500_000), ("500 kilobytes", 500_000), ("500KBytes", 500_000),
    ("2 megabytes", 2_000_000), ("1500 bytes", 1500), ('"500000"', 500_000), ("512 KiB", 524_288),
])
def test_max_bytes_written_as_people_write_it(tmp_path, written, size):
    assert web(tmp_path, in_rendition(f"max_bytes: {written}")).max_bytes == size


@pytest.mark.parametrize("written, said", [
    ("500k", "'500k': write 500KB (500,000 bytes) or 500KiB (512,000 bytes)"),
    ("2M", "'2M': write 2MB (2,000,000 bytes) or 2MiB (2,097,152 bytes)"),
    ("1,5MB", "'1,5MB': write the decimal with a point, 1.5MB"),
])
def test_max_bytes_that_may_be_meant_two_ways_says_what_to_write(tmp_path, written, said):
    err = error_of(tmp_path, in_rendition(f"max_bytes: {written}"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].max_bytes"], err.lines()
    assert err.reason == said, err.reason


@pytest.mark.parametrize("written, seconds", [
    ("2s", 2.0), ("2 s", 2.0), ("2 sec", 2.0), ("2 seconds", 2.0), ("500ms", 0.5), ("1.5s", 1.5), ("2S", 2.0),
    ("1m", 60.0), ("1 min", 60.0), ("1m30s", 90.0), ('"2"', 2.0), ("2", 2.0),
])
def test_seconds_written_with_their_unit(tmp_path, written, seconds):
    text = in_folder(f"quiet_period: {written}")
    assert load(write(tmp_path, text)).folders[0].quiet_period == seconds
    cfg = load(write(tmp_path, f"drain_timeout: {written}\nfile_timeout: {written}\n" + textwrap.dedent(BASE)))
    assert cfg.drain_timeout == cfg.file_timeout == seconds


def test_a_time_in_an_unknown_unit_says_what_to_write(tmp_path):
    err = error_of(tmp_path, "file_timeout: 2 fortnights\n" + textwrap.dedent(BASE))
    assert err.reason == ("must be a number (or a time such as 2s, 500ms, 1.5 min), not the text '2 fortnights'"), \
        err.reason


@pytest.mark.parametrize("written, seconds", [
    ("30 days", 30 * 86400), ("30d", 30 * 86400), ("12 weeks", 12 * 7 * 86400), ("36 hours", 36 * 3600),
    ("86400", 86400),
])
def test_a_duplicate_window_written_as_people_write_it(tmp_path, written, seconds):
    text = in_folder(f"duplicate_window: {written}")
    assert load(write(tmp_path, text)).folders[0].duplicate_window == seconds


@pytest.mark.parametrize("written, said", [
    ("1y", "'1y' is not a length of time; write e.g. 365d, 12w, 36h, 90m or 30s (a year is not one length: "
           "write days, e.g. 365d)"),
    ("6 months", "'6 months' is not a length of time; write e.g. 365d, 12w, 36h, 90m or 30s (a month is not one "
                 "length: write days, e.g. 180d)"),
])
def test_a_duplicate_window_that_may_be_meant_two_ways_says_what_to_write(tmp_path, written, said):
    err = error_of(tmp_path, in_folder(f"duplicate_window: {written}"))
    assert [p.key for p in err.problems] == ["folders[shop].duplicate_window"], err.lines()
    assert err.reason == said, err.reason


def test_a_bare_duplicate_window_under_a_day_is_taken_as_seconds_and_warned_of(tmp_path):
    """A bare 30 is 30 seconds (the index forgets every original at once: days meant?). Warned,
    not refused: a config of an older release that meant seconds (3600) still starts."""
    text = in_folder("duplicate_window: 30")
    checked = check(write(tmp_path, text))
    assert [(w.key, w.reason) for w in checked.warnings] == [(
        "folders[shop].duplicate_window",
        "30 has no unit, so it is 30 seconds: write 30d for 30 days, or 30s to keep seconds without this warning")]
    assert load(write(tmp_path, text)).folders[0].duplicate_window == 30
    assert check(write(tmp_path, text.replace("duplicate_window: 30", "duplicate_window: 30s"))).warnings == ()


@pytest.mark.parametrize("line, key, meant", [
    ('workers: "2"', "workers", 2), ("max_image_pixels: 120,000,000", "max_image_pixels", 120_000_000),
    ("max_image_pixels: 1e8", "max_image_pixels", 100_000_000),
])
def test_whole_numbers_quoted_or_with_thousands_commas(tmp_path, line, key, meant):
    assert getattr(load(write(tmp_path, f"{line}\n" + textwrap.dedent(BASE))), key) == meant


def test_workers_auto_in_any_case_and_a_word_says_what_to_write(tmp_path):
    assert load(write(tmp_path, "workers: Auto\n" + textwrap.dedent(BASE))).workers == (os.cpu_count() or 1)
    err = error_of(tmp_path, "workers: all\n" + textwrap.dedent(BASE))
    assert err.reason == "must be a whole number or auto (one per CPU core), not the text 'all'", err.reason


@pytest.mark.parametrize("written, meant", [("60%", 0.6), ("0.6", 0.6), ('"0.6"', 0.6)])
def test_a_watermark_fraction_as_a_percentage(tmp_path, written, meant):
    text = in_rendition(f"watermark: {{text: hi, opacity: {written}}}")
    assert web(tmp_path, text).watermark.opacity == meant


def test_a_watermark_fraction_written_as_a_percentage_number_says_what_to_write(tmp_path):
    err = error_of(tmp_path, in_rendition("watermark: {text: hi, opacity: 60}"))
    assert err.reason == 'must be at most 1, not 60: a fraction; write 0.6 or "60%" for 60 %', err.reason


# --- what a paste from a word processor or a web page leaves -----------------------------

@pytest.mark.parametrize("old, new, key, said", [
    # each was accepted without a word: outputs named “IMG_1_web.jpg”, a mark in quotes, a subfolder matching none
    ("format: jpeg", 'format: jpeg\n        filename: “{stem}_{rendition}.{ext}”',
     "folders[shop].renditions[web].filename",
     """'“{stem}_{rendition}.{ext}”' is in typographic quotes (“), as a word processor writes them, which YAML takes """
     """as part of the text: write straight quotes, "{stem}_{rendition}.{ext}", or, if the curly quotes belong in """
     """the text, '“{stem}_{rendition}.{ext}”'"""),
    ("format: jpeg", "format: jpeg\n        when: {subfolder: [‘clients/*’]}",
     "folders[shop].renditions[web].when.subfolder[0]", 'write straight quotes, "clients/*"'),
    ("format: jpeg", "format: “jpeg”", "folders[shop].renditions[web].format", 'write straight quotes, "jpeg"'),
])
def test_typographic_quotes_are_refused_with_the_straight_ones_to_write(tmp_path, old, new, key, said):
    err = error_of(tmp_path, BASE.replace(old, new))
    assert [p.key for p in err.problems] == [key], err.lines()  # one problem: not also "not one of" for “jpeg”
    assert said in err.reason, err.reason
    assert err.problems[0].line is not None


def test_a_free_text_in_typographic_quotes_is_written_as_it_is_and_warned_of(tmp_path):
    """A watermark's or a caption's curly quotes may be meant (`„Studio Müller“`): refused, a
    config that held them before would no longer start after an upgrade."""
    text = in_rendition("watermark:\n          text: “© Studio”")
    checked = check(write(tmp_path, text))
    assert [w.key for w in checked.warnings] == ["folders[shop].renditions[web].watermark.text"], checked.warnings
    assert 'write straight quotes, "© Studio"' in checked.warnings[0].reason, checked.warnings[0].reason
    assert web(tmp_path, text).watermark.text == "“© Studio”"


def test_curly_quotes_inside_straight_ones_are_the_text(tmp_path):
    text = in_rendition("watermark: {text: '“Studio”'}")
    assert web(tmp_path, text).watermark.text == "“Studio”"


def test_a_secret_in_typographic_quotes_is_not_quoted(tmp_path):
    secret = "Zq8xT4mP2vL9wK3n"
    err = error_of(tmp_path, f"http:\n  token: “{secret}”\n" + textwrap.dedent(BASE))
    assert secret not in str(err) and [p.key for p in err.problems] == ["http.token"], err.lines()
    assert "typographic quotes" in err.reason, err.reason


@pytest.mark.parametrize("written, key", [
    ("http: {listen: '127.0.0.1:9464', token: “{secret}”}", "http.token"),
    ("notify:\n  - {url: 'https://hooks.example/x', secret: “{secret}”}", "notify[0].secret"),
    ("notify: [{url: 'https://hooks.example/x', secret: {secret}\u00a0}]", "notify[0].secret"),
    # a key a word processor capitalised is read as the key it names (in_lower_case): a secret's too
    ("http:\n  listen: 127.0.0.1:9464\n  Token: “{secret}”", "http.token"),
    ("http:\n  listen: 127.0.0.1:9464\n  TOKEN: {secret}\u00a0", "http.token"),
    ("notify:\n  - URL: “https://hooks.example/{secret}”", "notify[0].url"),
])
def test_a_secret_in_a_mapping_written_on_one_line_is_not_quoted_either(tmp_path, written, key):
    # the key was read from the line's start: `http: {listen: …, token: “…”}` was `http`'s, no
    # secret's, and the token was quoted whole in check-config's output and a refused reload's log line
    secret = "Zq8xT4mP2vL9wK3n"
    err = error_of(tmp_path, written.replace("{secret}", secret) + "\n" + textwrap.dedent(BASE))
    assert secret not in str(err) and [p.key for p in err.problems] == [key], err.lines()


@pytest.mark.parametrize("old, new, key, said", [
    ("    inbox: in\n", "    inbox: in\u00a0\n", "folders[shop].inbox",
     "'in\\xa0' ends with a non-breaking space (U+00A0), pasted from a web page or a word processor: delete it"),
    ("format: jpeg", "format: jpeg\u200b", "folders[shop].renditions[web].format", "ends with a zero-width space"),
])
def test_an_odd_space_at_a_values_edge_is_named(tmp_path, old, new, key, said):
    err = error_of(tmp_path, BASE.replace(old, new))
    assert [p.key for p in err.problems] == [key], err.lines()
    assert said in err.reason, err.reason


@pytest.mark.parametrize("old, new, where", [
    ("    output: out\n", "\u00a0   output: out\n", "line 5, column 1 holds a non-breaking space (U+00A0)"),
    ("    output: out\n", "    output:\u00a0out\n", "line 5, column 12 holds a non-breaking space (U+00A0)"),
])
def test_a_yaml_error_from_a_non_breaking_space_says_where_it_is(tmp_path, old, new, where):
    err = error_of(tmp_path, BASE.replace(old, new))
    assert "not valid YAML" in err.reason and where in err.reason, err.reason
    assert "retype it as a plain space" in err.reason, err.reason


@pytest.mark.parametrize("encoded", [
    "\ufeff" + textwrap.dedent(BASE),  # Notepad's UTF-8 BOM
    textwrap.dedent(BASE).replace("\n", "\r\n"),  # Windows line ends
    textwrap.dedent(BASE).replace("\n", "\r"),  # old Mac line ends
])
def test_a_bom_and_windows_line_ends_are_read(tmp_path, encoded):
    path = tmp_path / "hotfolder.yaml"
    path.write_bytes(encoded.encode("utf-8"))
    assert load(path).folders[0].renditions[0].name == "web"


def test_typographic_quotes_on_a_lists_second_item_name_it(tmp_path):
    err = error_of(tmp_path, in_rendition("when: {subfolder: [a, “b”]}"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].when.subfolder[1]"], err.lines()


# --- paths as an admin copies them ----------------------------------------------------------

@pytest.mark.parametrize("written, said", [
    # each was taken as a relative path: a folder of that odd name was made beside the config, and OK said
    ("C:\\Photos\\inbox", "'C:\\Photos\\inbox' is a Windows path: name the folder as this machine sees it, with /"),
    ("\\\\nas\\photos", "'\\\\nas\\photos' is a Windows path"),
    ("photos\\inbox", "'photos\\inbox' holds a backslash: folders are separated by / here (write 'photos/inbox')"),
    ("smb://nas/photos", "'smb://nas/photos' is a URL (smb://), not a folder: mount the share on this machine and "
                         "name the folder it is mounted on"),
    ("~nosuchuser42/inbox", "'~nosuchuser42/inbox': there is no user 'nosuchuser42' on this machine for "
                            "~nosuchuser42 to be the home of; write the folder out in full"),
])
def test_a_path_that_is_no_folder_here_says_what_to_write(tmp_path, written, said):
    err = error_of(tmp_path, BASE.replace("    inbox: in\n", f"    inbox: '{written}'\n"))
    assert [p.key for p in err.problems] == ["folders[shop].inbox"], err.lines()
    assert said in err.reason, err.reason
    assert not list(tmp_path.glob("*in*")), "no folder of the odd name is made"


def test_a_leading_tilde_is_the_home_and_a_relative_path_the_config_files_folder(tmp_path):
    cfg = load(write(tmp_path, BASE.replace("    inbox: in\n", "    inbox: ~/hf-admin-test/in\n")))
    assert cfg.folders[0].inbox == Path.home() / "hf-admin-test" / "in"
    assert cfg.folders[0].output == tmp_path / "out"


def test_an_inbox_inside_another_folders_output_is_said_as_a_chain(tmp_path):
    # Allowed (a chain: the second folder renders what the first writes), but check-config said
    # only OK, where an admin had put it there by mistake.
    text = BASE + """\
  - name: other
    inbox: out/drop
    processing: other/processing
    output: other/out
    archive: other/arch
    failed: other/bad
    renditions:
      - name: small
        size: 100
"""
    warnings = check(write(tmp_path, text)).warnings
    assert [w.key for w in warnings] == ["folders[other].inbox"], warnings
    assert warnings[0].line == 13, warnings
    assert (f"{tmp_path}/out/drop lies inside folders[shop].output ({tmp_path}/out): folder 'other' renders what "
            "folder 'shop' writes to its output (a chain") in warnings[0].reason, warnings[0].reason
    assert "if that is not meant, give inbox a folder of its own" in warnings[0].reason


def test_a_problem_with_a_relative_path_says_relative_to_what(tmp_path):
    text = in_rendition("watermark: {image: logo.png}")
    err = error_of(tmp_path, text)
    assert err.reason == (f"file {tmp_path}/logo.png does not exist ('logo.png' is relative to the config file's "
                          f"folder, {tmp_path})"), err.reason


def test_check_config_says_where_each_folder_is(tmp_path, capsys):
    from hotfolder.cli import commands

    path = write(tmp_path, BASE)
    assert commands.main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"  relative paths are relative to the config file's folder, {tmp_path}\n" in out, out
    assert f"  shop: inbox {tmp_path}/in, output {tmp_path}/out\n" in out, out


def _denied(path: Path) -> subprocess.CompletedProcess:
    """check-config as root without the capabilities that let root read and enter anything: the
    kernel's own refusals, as the daemon's user meets them, of a file and folder that are
    another user's (65534's). Root, because the checkout and the interpreter's own library may
    lie where no other user may read (a CI's clone in a private folder, /root's Python)."""
    drop = "-dac_override,-dac_read_search"
    return subprocess.run(["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", sys.executable, "-m",
                           "hotfolder", "check-config", "--config", str(path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO / "daemon")}, cwd="/")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="reads the file as another user")
def test_a_config_the_daemons_user_may_not_read_says_who_and_what_to_change():
    # was "cannot read the config file: Permission denied": which user, and what to change?
    other = pwd.getpwuid(65534).pw_name, grp.getgrgid(65534).gr_name
    with tempfile.TemporaryDirectory(dir="/tmp") as name:
        folder = Path(name)
        folder.chmod(0o755)
        path = write(folder, BASE)
        os.chown(path, 65534, 65534)
        path.chmod(0o600)
        said = _denied(path)
        assert said.returncode == 1 and "Traceback" not in said.stderr, said
        assert (f"cannot read the config file: Permission denied to user root (uid 0), which may not read it "
                f"(owner {other[0]}, group {other[1]}, mode 0600): let its group read it, e.g. chgrp root {path}; "
                f"chmod g+r {path}") in said.stderr, said.stderr
        os.chown(folder, 65534, 65534)
        folder.chmod(0o700)
        path.chmod(0o644)
        said = _denied(path)
        assert (f"Permission denied to user root (uid 0), which may not enter {folder}: let it (chmod o+x {folder}, "
                f"or g+x for its group)") in said.stderr, said.stderr


# --- a key at the wrong level, a list item without its `- `, what is not YAML ----------------

@pytest.mark.parametrize("old, new, key, said", [
    ("folders:", "quiet_period: 2\nfolders:", "quiet_period",
     "not a key here: quiet_period is a folder's key, not a top-level one: set it on the folder it is for, in "
     "`folders:`, beside its `inbox:`"),
    ("folders:", "format: jpeg\nfolders:", "format",
     "not a key here: format is a rendition's key, not a top-level one: set it in the `renditions:` entries it is "
     "for"),
    ("    failed: bad\n", "    failed: bad\n    workers: 2\n", "folders[shop].workers",
     "not a key here: workers is a top-level key, not the folder's: write it at the start of a line, outside "
     "`folders:`"),
    ("format: jpeg", "format: jpeg\n        opacity: 0.5", "folders[shop].renditions[web].opacity",
     "not a key here: opacity is a watermark's key: put it under the rendition's `watermark:`"),
    ("format: jpeg", "format: jpeg\n        when: {orientation: portrait, size: 100}",
     "folders[shop].renditions[web].when.size",
     "not a key here: size is a rendition's key, not a condition: put it beside `when:`, not under it"),
])
def test_a_key_at_the_wrong_level_says_where_it_goes(tmp_path, old, new, key, said):
    err = error_of(tmp_path, BASE.replace(old, new, 1))
    assert [p.key for p in err.problems] == [key], err.lines()
    assert err.reason == said, err.reason


def test_a_list_whose_first_item_lost_its_dash_says_to_write_it(tmp_path):
    text = BASE.replace("      - name: web\n        size: 1600x1200\n        format: jpeg\n",
                        "        name: web\n        size: 1600x1200\n")
    err = error_of(tmp_path, text)
    assert [p.key for p in err.problems] == ["folders[shop].renditions"], err.lines()
    assert err.reason == ("must be a list of renditions, each item starting with `- `, not a mapping: write "
                          "`- name: …` for its first key (the item's other keys line up under `name`)"), err.reason


@pytest.mark.parametrize("written, meant", [('"yes"', True), ('"TRUE"', True), ("'no'", False), ("Yes", True)])
def test_a_yes_or_no_in_quotes_is_taken(tmp_path, written, meant):
    assert web(tmp_path, in_rendition(f"upscale: {written}")).upscale is meant


@pytest.mark.parametrize("text, said", [
    ("```yaml\n" + textwrap.dedent(BASE) + "```\n",
     "; line 1 is a Markdown fence (```), copied with the config from a page: delete the fence lines"),
    (textwrap.dedent(BASE).replace("  - name: shop", "  * name: shop"),
     "; line 3 starts a list item with *: YAML's items start with `- `"),
    (textwrap.dedent(BASE).replace("    output: out", "    output:out"),
     "; line 5 has no space after its key's colon: write `output: out`"),
    (textwrap.dedent(BASE).replace("    output: out", "    output = out"),
     "; line 5 is written `key = value`: YAML writes `output: out`"),
])
def test_what_is_written_as_something_else_than_yaml_says_what(tmp_path, text, said):
    err = error_of(tmp_path, text)
    assert err.reason.startswith("not valid YAML") and said in err.reason, err.reason
    assert "alias" not in err.reason, err.reason  # `* name` was "a value that starts with * is … an alias"


def test_a_list_of_choices_written_with_commas_is_taken(tmp_path):
    # `accepted_formats: jpeg, png` was "'jpeg, png' is not one of: …": no choice holds a comma
    cfg = load(write(tmp_path, "accepted_formats: jpeg, PNG, tif\n" + textwrap.dedent(BASE)))
    assert cfg.accepted_formats == ("jpeg", "png", "tiff")


def test_file_name_patterns_written_with_commas_say_to_write_a_list(tmp_path):
    # taken as one pattern, `Thumbs.db, desktop.ini`, which matches no file
    err = error_of(tmp_path, in_folder("ignore: Thumbs.db, desktop.ini"))
    assert [p.key for p in err.problems] == ["folders[shop].ignore"], err.lines()
    assert err.reason == ("'Thumbs.db, desktop.ini' is one pattern; for several, write a list: [Thumbs.db, "
                          "desktop.ini] (a name that holds ', ' itself: ['Thumbs.db, desktop.ini'])"), err.reason
    cfg = load(write(tmp_path, in_folder("ignore: ['a, b.txt']")))
    assert cfg.folders[0].ignore == ("a, b.txt",)


def test_a_text_cut_short_by_a_hash_is_warned_of(tmp_path):
    # `text: © Studio #1 in town` marked every photo `© Studio`, and check-config said OK
    text = in_rendition("watermark:\n          text: © Studio #1 in town  ")
    checked = check(write(tmp_path, text))
    assert checked.config.folders[0].renditions[0].watermark.text == "© Studio"
    assert [(w.key, w.line) for w in checked.warnings] == [("folders[shop].renditions[web].watermark.text", 13)]
    assert checked.warnings[0].reason == ("the text is '© Studio': YAML reads '#1 in town' as a comment; if it belongs "
                                          "to the text, quote it: text: \"© Studio #1 in town\""), checked.warnings
    quoted = BASE.replace("format: jpeg", "format: jpeg  # a comment\n        quality: 80  # another")
    assert check(write(tmp_path, quoted)).warnings == ()  # a comment after any other value is one


@pytest.mark.parametrize("line", ["  token:{secret}", "  token = {secret}", "  Token={secret}"])
def test_a_yaml_error_s_hint_to_write_a_secret_otherwise_does_not_quote_it(tmp_path, line):
    # `token:…` without its space (or INI's `token = …`) was said back: "write `token: <the token>`"
    secret = "Zq8xT4mP2vL9wK3n"
    err = error_of(tmp_path, "http:\n  listen: 127.0.0.1:9464\n" + line.replace("{secret}", secret)
                   + "\n  max_connections: 5\n" + textwrap.dedent(BASE))
    assert secret not in str(err) and "line 3" in err.reason, err.reason


def test_a_free_text_under_a_capitalised_key_is_one_too(tmp_path):
    # `Text:` is read as `text:` (in_lower_case): its comment and its curly quotes were not looked
    # at as a free text's (no warning of the cut; the quotes refused, not written as meant)
    cut = in_rendition("Watermark:\n          Text: © Studio #1 in town")
    assert [w.key for w in check(write(tmp_path, cut)).warnings] == ["folders[shop].renditions[web].watermark.text"]
    curly = in_rendition("watermark:\n          Text: “© Studio”")
    assert web(tmp_path, curly).watermark.text == "“© Studio”"


def test_a_config_path_of_a_close_name_says_the_file_that_is_there(tmp_path):
    write(tmp_path, BASE).rename(tmp_path / "hotfolder.yml")
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "hotfolder.yaml")
    assert info.value.reason == ("cannot read the config file: No such file or directory (did you mean "
                                 f"{tmp_path}/hotfolder.yml?)"), info.value.reason


def test_one_notification_url_written_bare_says_to_write_an_item(tmp_path):
    err = error_of(tmp_path, "notify: https://hooks.example/x\n" + textwrap.dedent(BASE))
    assert [p.key for p in err.problems] == ["notify"], err.lines()
    assert err.reason.endswith(": write it as an item, `  - url: …` on the next line"), err.reason


SECOND = """\
  - name: other
    inbox: {inbox}
    output: other/out
    archive: other/arch
    failed: other/bad
    renditions:
      - name: small
        size: 100
"""


def test_two_folders_sharing_an_inbox_is_one_problem(tmp_path):
    # was told first of their shared processing/ (its default beside the inbox), which neither config names
    err = error_of(tmp_path, BASE + SECOND.format(inbox="in"))
    assert [p.key for p in err.problems] == ["folders[other].inbox"], err.lines()
    assert err.reason.startswith(f"{tmp_path}/in is folders[shop].inbox: both folders would take the same files"), \
        err.reason


def test_a_default_processing_folder_in_the_way_says_it_is_a_default_and_what_to_add(tmp_path):
    err = error_of(tmp_path, BASE + SECOND.format(inbox="out/drop"))
    assert [p.key for p in err.problems] == ["folders[other].processing"], err.lines()
    assert err.reason.endswith(f"; processing is not set, so it is {tmp_path}/out/processing, its default beside the "
                               "inbox: add `processing:` to folder other, a folder of its own outside the others "
                               f"(e.g. {tmp_path}/other-processing)"), err.reason


def test_keys_a_word_processor_capitalised_are_read(tmp_path):
    # `Format: jpeg` was "unknown key (did you mean 'format'?)", once for every line of a pasted config
    text = "\n".join(line.replace(line.strip(), line.strip()[0].upper() + line.strip()[1:])
                     if line.strip() and not line.strip().startswith("-") else line
                     for line in ("State_dir: var/state\n" + textwrap.dedent(BASE)).splitlines())
    assert "Folders:" in text and "Format: jpeg" in text and "    Inbox: in" in text
    cfg = load(write(tmp_path, text))
    assert cfg.folders[0].inbox == tmp_path / "in" and cfg.folders[0].renditions[0].format == "jpeg"
    assert config.state_dir_of(tmp_path / "hotfolder.yaml") == tmp_path / "var" / "state"  # `hotfolder status`
    err = error_of(tmp_path, in_rendition("Format: png"))
    assert [p.key for p in err.problems] == ["folders[shop].renditions[web].Format"], err.lines()  # both: no guess


@pytest.mark.parametrize("line, key, meant", [
    ("sharpen: Standard", "sharpen", "standard"), ("color_profile: sRGB", "color_profile", "srgb"),
    ("operation: pad\n        background: White", "background", (255, 255, 255)),
    ("operation: pad\n        background: '#FFF'", "background", (255, 255, 255)),
])
def test_named_values_in_any_case(tmp_path, line, key, meant):
    got = getattr(web(tmp_path, in_rendition(line)), key)
    assert (got if key != "sharpen" else got == SHARPEN_PRESETS["standard"] and "standard") == meant


def test_a_long_dash_for_a_list_item_is_named(tmp_path):
    err = error_of(tmp_path, BASE.replace("      - name: web", "      – name: web"))
    assert "; line 9 starts a list item with –: YAML's items start with `- `" in err.reason, err.reason


def test_a_path_with_a_space_at_its_end_says_it_is_another_folder(tmp_path):
    # `inbox: "in "` watched a folder `in ` beside `in`, and check-config said OK
    err = error_of(tmp_path, BASE.replace("    inbox: in\n", '    inbox: "in "\n'))
    assert [p.key for p in err.problems] == ["folders[shop].inbox"], err.lines()
    assert err.reason == ("'in ' ends with a space, which makes it another folder than 'in' (a space no listing "
                          "shows): write 'in'"), err.reason


@pytest.mark.parametrize("written, pixels", [("120MP", 120_000_000), ("50 megapixels", 50_000_000),
                                             ("25.5 MP", 25_500_000)])
def test_max_image_pixels_in_megapixels(tmp_path, written, pixels):
    # `120MP`, as cameras are sold, was "must be a whole number, not the text '120MP'"
    assert load(write(tmp_path, f"max_image_pixels: {written}\n" + textwrap.dedent(BASE))).max_image_pixels == pixels


def test_a_whole_number_in_another_unit_is_still_refused(tmp_path):
    err = error_of(tmp_path, "queue_size: 2MP\n" + textwrap.dedent(BASE))
    assert err.reason == "must be a whole number, not the text '2MP'", err.reason


def test_a_key_capitalised_two_ways_is_refused_not_one_taken(tmp_path):
    # `Inbox: in` and `INBOX: elsewhere` (no `inbox:`) were both read as inbox, the last silently
    # counting: a line added lower down (by whoever may edit the file) overrode the folder an admin
    # read above it, and check-config said OK. A key written twice in YAML is refused; so is this.
    err = error_of(tmp_path, BASE.replace("    inbox: in\n", "    Inbox: in\n    INBOX: elsewhere\n"))
    assert [p.key for p in err.problems] == ["folders[shop].inbox"], err.lines()
    assert err.reason == ("written more than once in this mapping (also on line 4): only the last would count; "
                          "keep one"), err.reason
    err = error_of(tmp_path, "Workers: 1\nWORKERS: 2\n" + textwrap.dedent(BASE))
    assert [p.key for p in err.problems] == ["workers"], err.lines()


@pytest.mark.parametrize("where, line, key", [
    ("top", "file_timeout: .nan", "file_timeout"), ("top", "drain_timeout: .NaN", "drain_timeout"),
    ("folder", "quiet_period: .nan", "folders[shop].quiet_period"),
    ("folder", "duplicate_window: .nan", "folders[shop].duplicate_window"),
    ("folder", "duplicate_window: .inf", "folders[shop].duplicate_window"),
    ("folder", "duplicate_window: 1e300", "folders[shop].duplicate_window"),
    ("folder", "duplicate_window: 999999999w", "folders[shop].duplicate_window"),
    ("rendition", "watermark: {text: x, opacity: .nan}", "folders[shop].renditions[web].watermark.opacity"),
])
def test_a_time_or_number_no_clock_can_hold_is_refused(tmp_path, where, line, key):
    # YAML's `.nan` passed every range (nan < lo and nan > hi are both false): `file_timeout: .nan`
    # never killed a hung worker, `duplicate_window: .nan` forgot nothing; an endless (`.inf`) or
    # astronomic window became Redis's expiry in cluster mode (int(inf) raised at every clip)
    text = {"top": line + "\n" + textwrap.dedent(BASE),
            "folder": in_folder(line),
            "rendition": in_rendition(line)}[where]
    err = error_of(tmp_path, text)
    assert [p.key for p in err.problems] == [key], err.lines()


@pytest.mark.parametrize("line", ["duplicate_window: '{long}'", "ignore: '{long}, Thumbs.db'"])
def test_a_long_value_is_not_said_back_whole(tmp_path, line):
    # the message quoted the value whole (and the list again): a 100 KB value was a 270 KB line
    # in check-config's output and in the journal at each reload refused
    err = error_of(tmp_path, BASE.replace("    failed: bad\n", "    failed: bad\n    "
                                          + line.replace("{long}", "a" * 100_000) + "\n"))
    assert len(err.reason) < 400, err.reason[:300]
