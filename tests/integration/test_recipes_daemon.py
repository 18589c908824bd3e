"""A studio's recipe through the real daemon, with camera-like files and sidecars (issue 22):
clients/** to one set, portraits to a square crop, the `portfolio` keyword to a numbered
series, names from the photo, a file no rendition takes archived and counted, a sidecar
alone archived with a note, `{seq}` across a restart and a kill, hostile EXIF values."""
from __future__ import annotations

import html
import json
import os
import shlex
import sqlite3
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image

from hotfolder.recipes import sequence
from tests import sources
from tests.harness import files_under, hotfolder, http_url, wait_for

STUDIO = """
- name: client
  size: {long: 300}
  format: jpeg
  filename: "{subdir}/{taken:%Y/%m}/{camera|slug}_{stem}.{ext}"
  when:
    subfolder: "clients/**"
- name: as_told
  size: 64
  format: jpeg
  filename: "{make}/{model}/{stem}.{ext}"
  when:
    subfolder: "clients/**"
- name: square
  operation: fill
  size: 120x120
  format: jpeg
  when:
    orientation: portrait
    not: {subfolder: "clients/**"}
- name: series
  size: {long: 200}
  format: jpeg
  filename: "portfolio/{seq:04}_{stem|slug}.{ext}"
  metadata: keep
  set_metadata:
    title: "{title|default(Untitled)} #{seq}"
    keywords: [studio-select]
  when:
    keywords: portfolio
"""
FOLDER = "sidecar_wait: 1\n"
DC = "{http://purl.org/dc/elements/1.1/}"
XMP = "{http://ns.adobe.com/xap/1.0/}"


def _stage(tmp_path: Path, rel: str, **kw) -> Path:
    return sources.camera_jpeg(tmp_path / "staging" / rel, **kw)


def _move_in(d, tmp_path: Path, *rels: str) -> None:
    """Move staged files into the inbox, as a finished copy does (sidecars after their images)."""
    for rel in rels:
        (d.inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp_path / "staging" / rel, d.inbox / rel)


def _xmp(path: Path) -> ET.Element:
    with Image.open(path) as im:
        return ET.fromstring(im.info["xmp"])


def test_a_studio_recipe_routes_names_and_numbers_files_by_the_photo(daemon_factory, tmp_path):
    d = daemon_factory(renditions=STUDIO, folder_extra=FOLDER).start()
    _stage(tmp_path, "clients/acme/IMG_0001.jpg", size=(1200, 800))
    _stage(tmp_path, "clients/acme/EVIL_1.jpg", size=(600, 400),  # values from EXIF are data, never a path
           exif=sources.camera_exif(make="../../../etc", model="/etc/passwd"))
    _stage(tmp_path, "IMG_0002.jpg", size=(1200, 800), exif=sources.camera_exif(orientation=6))  # a portrait
    _stage(tmp_path, "Hochzeit Müller #3.jpg", size=(1200, 800),
           xmp=sources.xmp_packet(rating=5, keywords=("portfolio",), title="Erster Tanz"))
    _stage(tmp_path, "IMG_0004.jpg", size=(1200, 800))  # landscape, no keyword, at the top: nothing applies
    dng = sources.dng(tmp_path / "staging" / "IMG_0005.dng", Image.new("RGB", (600, 400), (90, 120, 150)),
                      preview_exif=sources.camera_exif())
    (dng.parent / "IMG_0005.xmp").write_bytes(sources.xmp_packet(rating=4, label="Green", keywords=("portfolio",)))
    (tmp_path / "staging" / "lonely.xmp").write_bytes(sources.xmp_packet(rating=1))
    _move_in(d, tmp_path, "clients/acme/IMG_0001.jpg", "clients/acme/EVIL_1.jpg", "IMG_0002.jpg",
             "Hochzeit Müller #3.jpg", "IMG_0004.jpg", "IMG_0005.dng", "IMG_0005.xmp", "lonely.xmp")
    wait_for(lambda: len(files_under(d.archive)) == 8, 60, what="every file and sidecar archived")
    wait_for(lambda: d.event("sidecar_alone"), 10, what="the lonely sidecar's note")
    status = d.status_json()
    assert d.stop() == 0

    outputs = sorted(d.outputs())
    numbered = ["portfolio/0001_hochzeit-muller-3.jpg", "portfolio/0002_img-0005.jpg"]
    if "portfolio/0001_img-0005.jpg" in outputs:  # the two portfolio files may be rendered in either order
        numbered = ["portfolio/0001_img-0005.jpg", "portfolio/0002_hochzeit-muller-3.jpg"]
    assert outputs == [
        "IMG_0002_square.jpg",
        "clients/acme/2024/05/canon-eos-r5_IMG_0001.jpg",
        "clients/acme/2024/05/etc-etc-passwd_EVIL_1.jpg",  # `../../../etc` + `/etc/passwd`, slugged
        "clients/acme/Canon/Canon EOS R5/IMG_0001.jpg",
        "clients/acme/_._.._.._etc/_etc_passwd/EVIL_1.jpg",  # as told: every `/` of a value is `_`, no `..`
        *numbered,
    ], outputs
    assert sorted(p.name for p in d.root.iterdir()) == ["daemon.log", "hotfolder.yaml", "var"]
    assert sorted(p.name for p in d.var.iterdir()) == ["archive", "failed", "inbox", "output", "processing", "state"]
    parts = {part for p in d.output.rglob("*") for part in p.relative_to(d.output).parts}
    assert not any(part in (".", "..") or part.startswith(".") for part in parts)
    with Image.open(d.output / "IMG_0002_square.jpg") as square:
        assert square.size == (120, 120)
    with Image.open(d.output / "clients/acme/2024/05/canon-eos-r5_IMG_0001.jpg") as client:
        assert client.size == (300, 200)
    assert sorted(files_under(d.archive)) == [
        "Hochzeit Müller #3.jpg", "IMG_0002.jpg", "IMG_0004.jpg", "IMG_0005.dng", "IMG_0005.xmp",
        "clients/acme/EVIL_1.jpg", "clients/acme/IMG_0001.jpg", "lonely.xmp"]
    assert files_under(d.failed) == [] and files_under(d.inbox) == [] and files_under(d.processing) == []

    # The sidecar fed the condition, the number and the output's XMP; set_metadata added to it.
    (series,) = list(d.output.rglob("*_img-0005.jpg"))
    packet = _xmp(series)
    subjects = [li.text for li in packet.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li")
                if li.text in ("portfolio", "studio-select")]
    assert subjects == ["portfolio", "studio-select"]
    assert [e.text for e in packet.iter(f"{XMP}Rating")] == ["4"] and [e.text for e in packet.iter(f"{XMP}Label")] \
        == ["Green"]
    number = series.name[:4]
    titles = [li.text for t in packet.iter(f"{DC}title") for li in t.iter()]
    assert f"Untitled #{int(number)}" in titles
    (wedding,) = [p for p in d.output.rglob("*_hochzeit-muller-3.jpg")]
    assert any(t == f"Erster Tanz #{int(wedding.name[:4])}" for t in (li.text for li in _xmp(wedding).iter()))

    (unmatched,) = d.events("file_unmatched")
    assert unmatched["file"] == "IMG_0004.jpg" and "client: when.subfolder:" in unmatched["reason"]
    assert "square: when.orientation: it is landscape" in unmatched["reason"]
    assert status["unmatched"] == 1 and status["folders"]["test"]["unmatched"] == 1
    assert "lonely.xmp" in d.event("sidecar_alone")["file"]


def test_a_sidecar_that_comes_after_its_image_was_rendered_is_counted_in_the_status(daemon_factory, tmp_path):
    """A late XMP sidecar (its image rendered without it) was said in the log only, at info:
    `hotfolder status` and its JSON counted nothing (an admin's report). They count it, per
    folder too; a sidecar whose image never came is no such case, and neither is a file."""
    d = daemon_factory(folder_extra=FOLDER).start()
    _stage(tmp_path, "IMG_0007.jpg", size=(600, 400))
    _move_in(d, tmp_path, "IMG_0007.jpg")
    wait_for(lambda: d.event("file_done"), 30, what="the image rendered")
    (tmp_path / "staging" / "IMG_0007.xmp").write_bytes(sources.xmp_packet(rating=5))
    (tmp_path / "staging" / "lonely.xmp").write_bytes(sources.xmp_packet(rating=1))
    _move_in(d, tmp_path, "IMG_0007.xmp", "lonely.xmp")
    wait_for(lambda: len(d.events("sidecar_alone")) == 2, 20, what="both sidecars archived")
    status = wait_for(lambda: (s := d.status_json()).get("sidecars_late") and s, 10, what="the status to count it")
    assert status["sidecars_late"] == 1 and status["folders"]["test"]["sidecars_late"] == 1, status
    assert (status["processed"], status["failed"]) == (1, 0), "a sidecar is not a file"
    late = {e["file"]: e["late"] for e in d.events("sidecar_alone")}
    assert late == {"IMG_0007.xmp": True, "lonely.xmp": False}, late
    text = hotfolder("status", "--config", str(d.config)).stdout
    assert ("  late xmp   1      XMP sidecars that came after their image was rendered (or taken by no rendition) "
            "without them") in text, text
    assert d.stop() == 0


PORTFOLIO = """
- name: portfolio
  size: {long: 200}
  format: jpeg
  when:
    keywords: portfolio
"""


def _event_of(d, name: str, file: str, timeout: float) -> dict:
    """The daemon's `name` line of `file` (its log keeps every run's), waited for."""
    return wait_for(lambda: next((e for e in d.events(name) if e["file"] == file), None), timeout,
                    what=f"{name} of {file}")


def test_a_late_sidecar_of_an_image_no_rendition_took_is_told_so_after_a_restart_and_a_kill(daemon_factory,
                                                                                           tmp_path):
    """The daemon knew such an image in memory only: restarted (a colleague's check), or
    killed, before the sidecar came, it said "no image of it arrived within sidecar_wait …
    raise sidecar_wait". It is noted in state_dir's database: the line is the one a daemon
    that never stopped gives, and its `rerender` renders the image with the sidecar."""
    d = daemon_factory(renditions=PORTFOLIO, folder_extra=FOLDER).start()
    for stem, end in (("late", lambda: d.stop() == 0), ("killed", lambda: d.kill() is None)):
        _stage(tmp_path, f"{stem}.jpg", size=(600, 400))
        _move_in(d, tmp_path, f"{stem}.jpg")
        _event_of(d, "file_unmatched", f"{stem}.jpg", 30)
        assert end()
        d.start()
        (tmp_path / "staging" / f"{stem}.xmp").write_bytes(sources.xmp_packet(keywords=("portfolio",)))
        _move_in(d, tmp_path, f"{stem}.xmp")
        said = _event_of(d, "sidecar_alone", f"{stem}.xmp", 20)
        command = f"hotfolder rerender --config {shlex.quote(str(d.config))} {shlex.quote(str(d.archive))}/{stem}.jpg"
        assert said["late"] is True and said["note"] == (
            f"its image {stem}.jpg arrived before it, and no rendition's `when:` took it without it (archived, "
            f"nothing written); archived beside that image: `{command}` renders the image with its keywords and "
            "rating (copy a sidecar before or with its image)"), said
        status = wait_for(lambda: (s := d.status_json()).get("sidecars_late") and s, 10, what="the status to count it")
        assert status["sidecars_late"] == 1, status
    assert d.stop() == 0
    assert hotfolder(*shlex.split(command)[1:]).returncode == 0  # the advice, as given
    assert d.outputs() == ["killed_portfolio.jpg"]


def test_on_no_rendition_fail_keeps_what_explain_says_and_the_page_shows_it(daemon_factory, tmp_path):
    d = daemon_factory(renditions=STUDIO, folder_extra="on_no_rendition: fail\n",
                       extra='http: {listen: "127.0.0.1:0"}').start()
    _stage(tmp_path, "IMG_0009.jpg", size=(900, 600))
    _move_in(d, tmp_path, "IMG_0009.jpg")
    wait_for(lambda: d.settled(1), 30, what="the file to fail")
    url = http_url(d)

    def page() -> str:
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            return response.read().decode()

    # Its row in the Failed table, with its explanation: the file's name alone may be on a page
    # made before it failed (the page is the status of the last second).
    explain = '<details class="explain"><summary>why</summary><pre>'
    shown = wait_for(lambda: (text := page()) and explain in text and text, 20, what="the failure listed, explained")
    why = html.unescape(shown.split(explain, 1)[1].split("</pre>")[0])
    assert why.splitlines()[0] == "IMG_0009.jpg → folder test (in its inbox)"
    assert "  excluded: square (when.orientation: it is landscape (900x600 upright), not portrait)" in why
    assert d.stop() == 0
    record = json.loads((d.failed / "IMG_0009.jpg.error.json").read_text())
    assert record["step"] == "conditions" and record["error"].startswith("no rendition applies")
    lines = record["explain"]
    assert lines[0].startswith("IMG_0009.jpg → folder test") and "  no rendition applies" in lines
    assert any(line.startswith("  excluded: square (when.orientation: it is landscape") for line in lines)


def test_a_file_no_rendition_took_is_said_so_on_the_page_in_api_status_and_in_its_done_webhook(daemon_factory,
                                                                                              tmp_path):
    # A publisher's admin saw it listed as done with no outputs and no word of why (the log
    # alone said `file_unmatched`); a shop's importer got a `done` it could not tell apart.
    from tests.integration.test_notifications import Receiver

    r = Receiver()
    try:
        d = daemon_factory(renditions=STUDIO, folder_extra="on_no_rendition: archive\n",
                           extra=f'http: {{listen: "127.0.0.1:0"}}\nnotify_interval: 1\n'
                                 f'notify:\n  - {{url: "{r.url}/hook", events: [done]}}\n').start()
        _stage(tmp_path, "IMG_0004.jpg", size=(900, 600))  # landscape, at the top, no keyword: nothing applies
        _move_in(d, tmp_path, "IMG_0004.jpg")
        wait_for(lambda: r.events("/hook"), 30, what="the done webhook")
        (done,) = r.events("/hook")
        assert done["event"] == "done" and done["outputs"] == [], done
        assert done["reason"].startswith("no rendition applies, nothing written ("), done
        assert "square: when.orientation: it is landscape" in done["reason"], done
        with urllib.request.urlopen(http_url(d) + "/api/status", timeout=10) as response:
            (listed,) = json.load(response)["done"]
        assert listed["file"] == "IMG_0004.jpg" and listed["reason"] == done["reason"], listed
        with urllib.request.urlopen(http_url(d) + "/", timeout=10) as response:
            assert done["reason"] in html.unescape(response.read().decode())
        assert d.stop() == 0
    finally:
        r.close()


# Full size, as PNG: the small files are quick; the big one takes about a second of
# encoding, the window its kill lands in (the small ones used to be upscaled to 6000 px as
# well: 20 s of the suite's CPU for nothing).
SERIES = """
- name: series
  operation: none
  format: png
  filename: "{seq:04}_{stem}.{ext}"
"""


def _finished(d) -> list[str]:
    """The outputs under their final names (not our hidden temp files of a write under way)."""
    return [p for p in d.outputs() if not Path(p).name.startswith(".")]


def _numbers(d) -> list[int]:
    return sorted(int(p.split("_")[0]) for p in _finished(d))


def test_seq_survives_a_restart_and_a_kill_and_never_repeats(daemon_factory, tmp_path):
    d = daemon_factory(renditions=SERIES, workers=1).start()
    for i in range(2):
        _stage(tmp_path, f"a{i}.jpg", size=(160, 120), seed=i)
        _move_in(d, tmp_path, f"a{i}.jpg")
    wait_for(lambda: len(_finished(d)) == 2, 60, what="two numbered outputs")
    assert d.stop() == 0 and _numbers(d) == [1, 2]

    d.start()  # a restart counts on
    _stage(tmp_path, "b.jpg", size=(160, 120), seed=5)
    _move_in(d, tmp_path, "b.jpg")
    wait_for(lambda: len(_finished(d)) == 3, 60, what="a third numbered output")
    assert _numbers(d) == [1, 2, 3]

    # A kill while a file renders: its number (4) was handed out and is held for it; the
    # file, rendered again at the next start, gets it again, so outputs the first attempt
    # wrote are replaced, not left beside a 0005 (an attack round). No number is given twice.
    _stage(tmp_path, "big.jpg", size=(4000, 3000), seed=9)  # a 12 MP PNG: about a second of encoding
    _move_in(d, tmp_path, "big.jpg")
    state = d.var / "state"
    wait_for(lambda: sequence.peek(state, "test") == 5, 60, interval=0.01, what="the big file's number")
    d.kill()  # the daemon and its workers, SIGKILL
    assert (d.processing / "big.jpg").exists() and len(_finished(d)) == 3, "the kill came after the render"
    d.start()
    wait_for(lambda: len(_finished(d)) == 4, 120, what="the big file rendered again")
    assert d.stop() == 0
    assert _numbers(d) == [1, 2, 3, 4] and sorted(_finished(d))[-1] == "0004_big.png"
    with sqlite3.connect(f"file:{state / 'hotfolder.db'}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT last FROM sequence WHERE folder = 'test'").fetchone() == (4,)


def test_explain_says_why_and_writes_nothing(daemon_factory, tmp_path):
    import subprocess
    import sys

    d = daemon_factory(renditions=STUDIO, folder_extra=FOLDER)  # never started: explain needs no daemon
    src = _stage(tmp_path, "clients/acme/IMG_0011.jpg", size=(1200, 800),
                 xmp=sources.xmp_packet(keywords=("portfolio",)))
    _move_in(d, tmp_path, "clients/acme/IMG_0011.jpg")
    elsewhere = sources.camera_jpeg(tmp_path / "card" / "IMG_0012.jpg", size=(800, 1200))
    before = sorted(p.relative_to(d.root).as_posix() for p in d.root.rglob("*"))
    run = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "--config", str(d.config),
                          str(d.inbox / "clients/acme/IMG_0011.jpg"), str(elsewhere)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert "IMG_0011.jpg → folder test (in its inbox)" in text
    assert "applies: client → clients/acme/2024/05/canon-eos-r5_IMG_0011.jpg" in text
    assert "excluded: square (when.orientation: it is landscape (1200x800 upright), not portrait)" in text
    assert "applies: series → clients/acme/portfolio/0001_img-0011.jpg" in text
    assert "IMG_0012.jpg → folder test (not in one of its folders" in text
    assert "applies: square → IMG_0012_square.jpg" in text
    assert "excluded: series (when.keywords: it has no keywords; none is portfolio)" in text
    as_json = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "--json", "--config", str(d.config),
                              "--subfolder", "clients/x", str(elsewhere)], capture_output=True, text=True, timeout=60)
    (one,) = json.loads(as_json.stdout)
    assert one["fields"]["camera"] == "Canon EOS R5" and one["fields"]["subfolder"] == "clients/x"
    assert [(r["rendition"], r["applies"], r["key"]) for r in one["renditions"]] == [
        ("client", True, ""), ("as_told", True, ""), ("square", False, "not"), ("series", False, "keywords")]
    assert sorted(p.relative_to(d.root).as_posix() for p in d.root.rglob("*")) == before  # nothing written
    assert not src.exists() and (d.inbox / "clients/acme/IMG_0011.jpg").exists()



def test_explain_shows_a_photo_s_fields_escaped_never_as_terminal_controls(daemon_factory, tmp_path):
    """A camera model of escape sequences retitled the terminal, cleared it and forged a
    `found:` line through `hotfolder explain` (a review); requeue, status and duplicates
    escaped them already (shown.printable)."""
    import subprocess
    import sys

    d = daemon_factory(renditions=STUDIO, folder_extra=FOLDER)
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mEOS\nfound: camera FAKE\u202e"
    src = sources.camera_jpeg(tmp_path / "card" / "esc.jpg", size=(300, 200),
                              exif=sources.camera_exif(make="Canon", model=hostile))
    run = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "--config", str(d.config), str(src)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert not any(c in run.stdout for c in "\x1b\x07\u202e"), run.stdout
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in run.stdout
    assert not any(line.startswith("found: camera FAKE") for line in run.stdout.splitlines()), run.stdout
    odd = src.rename(src.with_name("\u009b2J\u202eesc.jpg"))
    as_json = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "--json", "--config", str(d.config),
                              str(odd)], capture_output=True, text=True, timeout=60)
    assert not any(c in as_json.stdout for c in "\u009b\u202e"), as_json.stdout  # a CSI, a bidi override: escaped
    (one,) = json.loads(as_json.stdout)  # the same JSON once parsed
    assert one["file"].endswith(odd.name) and "\x1b]0;pwned" in one["fields"]["camera"], one


def test_file_done_names_the_renditions_written_not_every_one_of_the_folder(daemon_factory, tmp_path):
    """`done IMG_0002.jpg → client, square, portfolio, print` for a file only `square` took
    (a new user's walkthrough): the line and `file_done` name what `when:` chose."""
    from tests.harness.daemon import RENDITIONS

    d = daemon_factory(renditions=RENDITIONS + "      when: {subfolder: \"thumbs/**\"}\n").start()
    sources.camera_jpeg(tmp_path / "top.jpg", size=(400, 300))
    os.rename(tmp_path / "top.jpg", d.inbox / "top.jpg")
    done = wait_for(lambda: d.event("file_done"), 30, what="the file done")
    assert done["renditions"] == ["web"] and done["outputs"] == ["top_web.jpg"], done
    assert d.stop() == 0


PRINT = """
- name: web
  size: {long: 200}
  format: jpeg
- name: print
  size: {long: 300}
  format: jpeg
  when:
    any:
      - keywords: print
      - rating: 5
"""


def test_a_sidecar_re_exported_for_an_archived_image_takes_the_earlier_ones_place(daemon_factory, tmp_path):
    """An event photographer fixes a keyword in Lightroom days after the shoot and drops the
    re-exported IMG_0002.xmp into the inbox: it was archived as IMG_0002_1.xmp, which no
    image pairs with, told "no image of it arrived within sidecar_wait … raise sidecar_wait",
    and `rerender` kept reading the earlier sidecar: the fix was lost without a word. It now
    takes the earlier one's name beside the image (that one kept, as IMG_0002.earlier.xmp),
    is said late, and the command it gives renders the image with it."""
    d = daemon_factory(renditions=PRINT, folder_extra=FOLDER).start()
    _stage(tmp_path, "2026-06-12 Smith/IMG_0002.jpg", size=(600, 400))
    first = sources.xmp_packet(rating=3, keywords=("first dance",))
    (tmp_path / "staging" / "2026-06-12 Smith" / "IMG_0002.xmp").write_bytes(first)
    _move_in(d, tmp_path, "2026-06-12 Smith/IMG_0002.jpg", "2026-06-12 Smith/IMG_0002.xmp")
    done = _event_of(d, "file_done", "2026-06-12 Smith/IMG_0002.jpg", 30)
    assert done["renditions"] == ["web"], done
    fixed = sources.xmp_packet(rating=3, keywords=("first dance", "print"))
    (tmp_path / "staging" / "2026-06-12 Smith" / "IMG_0002.xmp").write_bytes(fixed)
    staged = tmp_path / "staging" / "2026-06-12 Smith" / "IMG_0002.xmp"
    told = hotfolder("explain", "--config", str(d.config), str(staged), "--subfolder", "2026-06-12 Smith").stdout
    assert ("  problem: an XMP sidecar whose image IMG_0002.jpg lies in archive/, with an earlier sidecar: it would "
            "take that one's place beside it (the earlier kept), and `hotfolder rerender` of the image renders it "
            "with it") in told.splitlines(), told
    _move_in(d, tmp_path, "2026-06-12 Smith/IMG_0002.xmp")
    said = _event_of(d, "sidecar_alone", "2026-06-12 Smith/IMG_0002.xmp", 20)
    archived = d.archive / "2026-06-12 Smith"
    assert (archived / "IMG_0002.xmp").read_bytes() == fixed
    assert (archived / "IMG_0002.earlier.xmp").read_bytes() == first  # nothing lost
    image = shlex.quote(str(archived / "IMG_0002.jpg"))
    command = f"hotfolder rerender --config {shlex.quote(str(d.config))} {image}"
    assert said["late"] is True and said["note"] == (
        "its image IMG_0002.jpg was archived before it arrived, with an earlier sidecar: this one takes that one's "
        "place beside the image (the earlier kept as IMG_0002.earlier.xmp, which nothing reads); "
        f"`{command}` renders the image again with it"), said
    assert d.stop() == 0
    assert hotfolder(*shlex.split(command)[1:]).returncode == 0  # the advice, as given
    assert "2026-06-12 Smith/IMG_0002_print.jpg" in d.outputs()


def test_a_copy_dropped_again_with_a_fixed_sidecar_puts_the_sidecar_beside_its_original(daemon_factory, tmp_path):
    """The photographer fixes a keyword in Lightroom and drops the photo again with its
    re-exported sidecar: the copy was skipped as a duplicate (its bytes are the archived
    original's) and the sidecar went to duplicates/ with it, unread, the line saying nothing
    of it: the fix was lost. The copy still goes to duplicates/, but its sidecar, which is
    news for the original, takes the place of the original's beside it (the earlier kept),
    and the line gives the rerender command that renders the photo with it. A copy whose
    sidecar is the original's (the same card copied twice) goes with it, as before."""
    d = daemon_factory(renditions=PRINT, folder_extra=FOLDER, on_duplicate=None).start()
    first = sources.xmp_packet(rating=3, keywords=("first dance",))
    july = sources.xmp_packet(rating=4, extra="<xmp:MetadataDate>2026-07-01T09:00:00+02:00</xmp:MetadataDate>")
    for stem in ("IMG_0007", "IMG_0008", "IMG_0009", "IMG_0010"):
        _stage(tmp_path, f"ev/{stem}.jpg", size=(600, 400), seed=int(stem[-1]))
        (tmp_path / "staging" / "ev" / f"{stem}.xmp").write_bytes(july if stem == "IMG_0009" else first)
        (tmp_path / "staging" / "again").mkdir(exist_ok=True)
        for name in (f"{stem}.jpg", f"{stem}.xmp"):
            (tmp_path / "staging" / "again" / name).write_bytes((tmp_path / "staging" / "ev" / name).read_bytes())
        _move_in(d, tmp_path, f"ev/{stem}.jpg", f"ev/{stem}.xmp")
        _event_of(d, "file_done", f"ev/{stem}.jpg", 30)
    # Lightroom writes xmp:MetadataDate at each save
    fixed = sources.xmp_packet(rating=5, keywords=("first dance",),
                               extra="<xmp:MetadataDate>2026-07-02T10:00:00+02:00</xmp:MetadataDate>")
    (tmp_path / "staging" / "again" / "IMG_0007.xmp").write_bytes(fixed)
    undated = sources.xmp_packet(rating=5)  # the same card or folder copied again, or a fix: nothing tells
    (tmp_path / "staging" / "again" / "IMG_0010.xmp").write_bytes(undated)
    june = sources.xmp_packet(rating=5, extra="<xmp:MetadataDate>2026-06-14T10:00:00+02:00</xmp:MetadataDate>")
    (tmp_path / "staging" / "again" / "IMG_0009.xmp").write_bytes(june)  # an old export: it does not undo July's
    _move_in(d, tmp_path, "again/IMG_0007.jpg", "again/IMG_0007.xmp", "again/IMG_0008.jpg", "again/IMG_0008.xmp",
             "again/IMG_0009.jpg", "again/IMG_0009.xmp", "again/IMG_0010.jpg", "again/IMG_0010.xmp")
    skipped = _event_of(d, "file_skipped", "again/IMG_0007.jpg", 30)
    same = _event_of(d, "file_skipped", "again/IMG_0008.jpg", 30)
    old = _event_of(d, "file_skipped", "again/IMG_0009.jpg", 30)
    assert "sidecar" not in old and (d.root / "var" / "duplicates" / "again" / "IMG_0009.xmp").read_bytes() == june
    assert (d.archive / "ev" / "IMG_0009.xmp").read_bytes() == july
    stale = _event_of(d, "file_skipped", "again/IMG_0010.jpg", 30)
    assert stale.get("sidecar") == (
        "its sidecar IMG_0010.xmp is not the one IMG_0010.jpg was archived with, and says nothing of when it was saved "
        "(xmp:MetadataDate): it went to duplicates/ with the copy; if it is the newer one, copy it alone to "
        f"{d.inbox / 'ev' / 'IMG_0010.xmp'}: it then takes that one's place beside the image"), stale
    assert (d.root / "var" / "duplicates" / "again" / "IMG_0010.xmp").read_bytes() == undated
    assert (d.archive / "ev" / "IMG_0010.xmp").read_bytes() == first
    archived = d.archive / "ev"
    assert (archived / "IMG_0007.xmp").read_bytes() == fixed
    assert (archived / "IMG_0007.earlier.xmp").read_bytes() == first  # nothing lost
    assert (d.root / "var" / "duplicates" / "again" / "IMG_0007.jpg").exists()
    assert not (d.root / "var" / "duplicates" / "again" / "IMG_0007.xmp").exists()
    command = f"hotfolder rerender --config {shlex.quote(str(d.config))} {shlex.quote(str(archived / 'IMG_0007.jpg'))}"
    assert skipped.get("sidecar") == (
        "its sidecar IMG_0007.xmp is not the one IMG_0007.jpg was archived with: it takes that one's place beside "
        f"it in archive/ (the earlier kept as IMG_0007.earlier.xmp, which nothing reads); `{command}` renders the "
        "photo with it"), skipped
    assert "sidecar" not in same and (d.root / "var" / "duplicates" / "again" / "IMG_0008.xmp").read_bytes() == first
    assert (archived / "IMG_0008.xmp").read_bytes() == first and not (archived / "IMG_0008.earlier.xmp").exists()
    assert d.stop() == 0
    assert hotfolder(*shlex.split(command)[1:]).returncode == 0  # the advice, as given
    assert "ev/IMG_0007_print.jpg" in d.outputs() and "ev/IMG_0008_print.jpg" not in d.outputs()
    assert "ev/IMG_0009_print.jpg" not in d.outputs()


def test_explain_names_the_manifest_a_raw_and_jpeg_pair_s_second_one_got(daemon_factory, tmp_path):
    """A camera's RAW+JPEG pair (here a JPEG and a PNG of one stem) under `manifest:
    "{stem}.json"`: the second one's manifest is written as `IMG_0002~png.json` (the first
    owns `IMG_0002.json`), but `hotfolder explain` of it in archive/ said `manifest →
    IMG_0002.json`, the other one's, which a page builder then read for it; and of a third
    one dropped under that stem it said nothing of the clash."""
    d = daemon_factory(folder_extra=FOLDER + 'manifest: "{stem}.json"\n', on_duplicate=None).start()
    _stage(tmp_path, "ev/IMG_0002.jpg", size=(600, 400))
    with Image.open(tmp_path / "staging" / "ev" / "IMG_0002.jpg") as im:
        im.save(tmp_path / "staging" / "ev" / "IMG_0002.png")
        im.rotate(90, expand=True).save(tmp_path / "staging" / "IMG_0002.tif")
    _move_in(d, tmp_path, "ev/IMG_0002.jpg")
    _event_of(d, "file_done", "ev/IMG_0002.jpg", 30)
    _move_in(d, tmp_path, "ev/IMG_0002.png")
    _event_of(d, "file_done", "ev/IMG_0002.png", 30)
    manifests = sorted(p for p in d.outputs() if p.endswith(".json"))
    assert manifests == ["ev/IMG_0002.json", "ev/IMG_0002~png.json"], manifests
    said = hotfolder("explain", "--config", str(d.config), str(d.archive / "ev" / "IMG_0002.png"),
                     str(d.archive / "ev" / "IMG_0002.jpg"), str(tmp_path / "staging" / "IMG_0002.tif"),
                     "--subfolder", "ev").stdout
    assert "  note: manifest → ev/IMG_0002~png.json (each output's url in it is from there)" in said, said
    assert "  note: manifest → ev/IMG_0002.json (each output's url in it is from there)" in said, said
    assert ("  note: manifest → ev/IMG_0002.json, another original's: this one's would get a ~suffix (each output's "
            "url in it is from there)") in said, said
    assert d.stop() == 0


def test_explain_says_a_card_s_video_is_passed_through_and_its_index_files_left_alone(daemon_factory, tmp_path):
    """An assistant asks what the daemon does with a card's videos and clutter before the
    dump: `hotfolder explain MVI_0009.MP4` said "the daemon would fail it at step open", and
    the same of Thumbs.db, of a camera's `.THM` and of anything in `.Trashes/`; the daemon
    archives the first untouched and leaves the others alone, never a failure."""
    d = daemon_factory()
    card = tmp_path / "card" / "DCIM" / "100CANON"
    card.mkdir(parents=True)
    for name in ("MVI_0009.MP4", "MVI_0009.THM", "Thumbs.db", "M0100.CTG"):
        (card / name).write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))
    (tmp_path / "card" / ".Trashes").mkdir()
    (tmp_path / "card" / ".Trashes" / "IMG_9999.JPG").write_bytes(b"junk")
    said = hotfolder("explain", "--config", str(d.config), *(str(card / n) for n in ("MVI_0009.MP4", "MVI_0009.THM",
                     "Thumbs.db", "M0100.CTG")), "--subfolder", "ev/DCIM/100CANON").stdout
    assert "would fail" not in said, said
    passed = ("  problem: passed through: moved to archive/ as it is, never rendered nor failed (the folder's "
              "pass_through: matches its name)")
    left = ("  problem: left alone in the inbox, never taken nor failed (the folder's ignore:, or a hidden or temp "
            "name, matches its name or a folder's on its way)")
    problems = [line for line in said.splitlines() if line.startswith("  problem:")]
    assert problems == [passed, passed, left, left], said
    said = hotfolder("explain", "--config", str(d.config), str(tmp_path / "card" / ".Trashes" / "IMG_9999.JPG"),
                     "--subfolder", "ev/.Trashes").stdout
    assert left in said.splitlines(), said


def test_a_rerender_says_of_an_original_that_makes_nothing_now_that_its_outputs_are_left(daemon_factory, tmp_path):
    """The photographer took the five stars off a photo in Lightroom and rerendered it: no
    rendition takes it now, so nothing was written and its print stays in output/ (as the
    README says), but rerender said only "rendered 1 of 1 archived original(s) again": not a
    word that nothing was made, nor that the print is still there."""
    d = daemon_factory(renditions=PRINT.replace("- name: web\n  size: {long: 200}\n  format: jpeg\n", ""),
                       folder_extra=FOLDER).start()
    _stage(tmp_path, "ev/IMG_0002.jpg", size=(600, 400))
    (tmp_path / "staging" / "ev" / "IMG_0002.xmp").write_bytes(sources.xmp_packet(rating=5))
    _move_in(d, tmp_path, "ev/IMG_0002.jpg", "ev/IMG_0002.xmp")
    _event_of(d, "file_done", "ev/IMG_0002.jpg", 30)
    assert d.stop() == 0
    (d.archive / "ev" / "IMG_0002.xmp").write_bytes(sources.xmp_packet(rating=2))
    ran = hotfolder("rerender", "--config", str(d.config), str(d.archive / "ev" / "IMG_0002.jpg"))
    assert ran.returncode == 0, ran.stderr
    assert "nothing made of ev/IMG_0002.jpg: no rendition applies (print: when.any" in ran.stderr, ran.stderr
    assert ("rendered 0 of 1 archived original(s) again" in ran.stderr and "1 made nothing: no rendition's `when:` "
            "takes it now (a rating or a keyword changed?); the outputs it had are left as they are (`--dry-run` "
            "lists them; delete them if unwanted)") in ran.stderr, ran.stderr
    assert d.outputs() == ["ev/IMG_0002_print.jpg"]


def test_requeue_says_of_a_failed_file_that_a_later_copy_of_its_name_was_rendered(daemon_factory, tmp_path):
    """A card's damaged IMG_7003.JPG failed ("copy the file again from where it came from");
    the assistant copied it again, and the good copy was rendered, but `hotfolder requeue`
    went on listing the damaged one as any failure, and `requeue --all` would send it round
    again. The listing now says a later copy of that name was rendered, and where it is."""
    from tests import corpus

    d = daemon_factory(on_duplicate=None).start()
    corpus.bit_flipped_jpeg(tmp_path / "staging" / "ev" / "IMG_7003.JPG")
    _move_in(d, tmp_path, "ev/IMG_7003.JPG")
    wait_for(lambda: (d.failed / "ev" / "IMG_7003.JPG.error.json").exists(), 30, what="the damaged copy to fail")
    corpus.bit_flipped_jpeg(tmp_path / "staging" / "other" / "IMG_7004.JPG")
    _move_in(d, tmp_path, "other/IMG_7004.JPG")
    wait_for(lambda: (d.failed / "other" / "IMG_7004.JPG.error.json").exists(), 30, what="another to fail")
    _stage(tmp_path, "ev/IMG_7003.JPG", size=(600, 400))
    _move_in(d, tmp_path, "ev/IMG_7003.JPG")
    _event_of(d, "file_done", "ev/IMG_7003.JPG", 30)
    # where it was archived is noted in the index just after its line (supervisor/duplicates._note)
    listed = wait_for(lambda: "(archived as" in (text := hotfolder("requeue", "--config", str(d.config)).stdout)
                      and text, 10, what="the listing to say where the later copy is")
    (line,) = [s for s in listed.splitlines() if s.startswith("  ev/IMG_7003.JPG")]
    assert line.endswith("; a later file of that name, ev/IMG_7003.JPG, was rendered since (archived as "
                         "ev/IMG_7003.JPG): if it is this photo copied again, delete this one and its .error.json "
                         "rather than requeue it"), listed
    (other,) = [s for s in listed.splitlines() if "other/IMG_7004.JPG" in s]
    assert "a later file" not in other, listed
    assert d.stop() == 0


def test_the_same_sidecar_dropped_again_alone_puts_nothing_aside_and_says_nothing_changes(daemon_factory, tmp_path):
    """A sidecar dropped alone again, byte for byte the one its archived image lies with (the
    export folder or the card copied in again, Lightroom's "save metadata" with nothing
    changed): it took that one's place each time, the same bytes kept once more as
    IMG_0003.earlier.xmp, .earlier_1.xmp, ... (one a drop, without bound), each said late
    with a rerender command that changes nothing. It is now archived under a free name, as a
    sidecar alone, the one beside the image untouched, and the line says it is the same."""
    d = daemon_factory(renditions=PRINT, folder_extra=FOLDER).start()
    _stage(tmp_path, "ev/IMG_0003.jpg", size=(600, 400))
    first = sources.xmp_packet(rating=3, keywords=("first dance",),
                               extra="<xmp:MetadataDate>2026-07-01T09:00:00+02:00</xmp:MetadataDate>")
    (tmp_path / "staging" / "ev" / "IMG_0003.xmp").write_bytes(first)
    _move_in(d, tmp_path, "ev/IMG_0003.jpg", "ev/IMG_0003.xmp")
    _event_of(d, "file_done", "ev/IMG_0003.jpg", 30)
    for n in range(3):
        (tmp_path / "staging" / "ev" / "IMG_0003.xmp").write_bytes(first)
        _move_in(d, tmp_path, "ev/IMG_0003.xmp")
        wait_for(lambda n=n: len([e for e in d.events("sidecar_alone") if e["file"] == "ev/IMG_0003.xmp"]) > n, 20,
                 what=f"sidecar_alone {n + 1}")
    archived = d.archive / "ev"
    said = [e for e in d.events("sidecar_alone") if e["file"] == "ev/IMG_0003.xmp"]
    assert d.stop() == 0
    assert (archived / "IMG_0003.xmp").read_bytes() == first
    assert not [p.name for p in archived.iterdir() if ".earlier" in p.name]
    assert sorted(p.name for p in archived.iterdir() if p.name.startswith("IMG_0003_")) == [
        "IMG_0003_1.xmp", "IMG_0003_2.xmp", "IMG_0003_3.xmp"]  # nothing lost
    assert [e["late"] for e in said] == [False] * 3, said
    assert said[0]["note"] == (
        "its image IMG_0003.jpg lies archived with this very sidecar (the same bytes): nothing changes, the image "
        "needs no rerender; this one archived as IMG_0003_1.xmp, which nothing reads: delete it"), said


def test_explain_of_a_sidecar_whose_archived_image_keeps_its_own_says_so_as_the_daemon_does(daemon_factory, tmp_path):
    """A sidecar dropped alone for an image archived with one that stays beside it (this one
    the same bytes, saved before it, or no XMP): the daemon archives it under a free name,
    which nothing reads, and says why; explain said "an XMP sidecar with no image beside it:
    archived alone after sidecar_wait", as if no image lay there, and a photographer whose
    re-export carried an older xmp:MetadataDate was not told the fix would not be read."""
    d = daemon_factory(renditions=PRINT, folder_extra=FOLDER).start()
    july = sources.xmp_packet(rating=3, extra="<xmp:MetadataDate>2026-07-01T09:00:00+02:00</xmp:MetadataDate>")
    june = sources.xmp_packet(rating=5, extra="<xmp:MetadataDate>2026-06-01T09:00:00+02:00</xmp:MetadataDate>")
    _stage(tmp_path, "ev/IMG_0004.jpg", size=(600, 400))
    staged = tmp_path / "staging" / "ev" / "IMG_0004.xmp"
    staged.write_bytes(july)
    _move_in(d, tmp_path, "ev/IMG_0004.jpg", "ev/IMG_0004.xmp")
    _event_of(d, "file_done", "ev/IMG_0004.jpg", 30)
    told = {}
    for what, data in (("same", july), ("older", june), ("junk", b"not xml")):
        staged.write_bytes(data)
        told[what] = hotfolder("explain", "--config", str(d.config), str(staged), "--subfolder", "ev").stdout
    assert d.stop() == 0
    assert ("  problem: an XMP sidecar whose image IMG_0004.jpg lies in archive/ with a sidecar of this name, which is "
            "byte for byte this one: nothing would change; this one would be archived under a free name, which "
            "nothing reads") in told["same"].splitlines(), told
    for what in ("older", "junk"):
        assert ("  problem: an XMP sidecar whose image IMG_0004.jpg lies in archive/ with a sidecar of this name, "
                "which stays: this one says it was saved before it (xmp:MetadataDate), or is no XMP; this one would "
                "be archived under a free name, which nothing reads") in told[what].splitlines(), told


def test_a_copy_s_sidecar_never_goes_beside_another_photo_now_archived_under_its_original_s_name(daemon_factory,
                                                                                                  tmp_path):
    """The index remembers where an original was archived; the archive is the admin's to clean
    (a month's shoots moved to cold storage), and a camera's numbers come round again: another
    photo, IMG_0011.jpg of the next event in the same subfolder, now lies under that name with
    its own sidecar. A copy of the first photo dropped again with a re-exported sidecar is
    skipped as a duplicate, and its sidecar took the place of the other photo's (its rating
    and keywords now the other photo's at its next rerender, the photographer told to run it).
    Its sidecar now goes with the copy to duplicates/, the other photo's untouched."""
    d = daemon_factory(renditions=PRINT, folder_extra=FOLDER, on_duplicate=None).start()
    first = sources.xmp_packet(rating=1, extra="<xmp:MetadataDate>2026-07-01T09:00:00+02:00</xmp:MetadataDate>")
    _stage(tmp_path, "ev/IMG_0011.jpg", size=(600, 400), seed=1)
    (tmp_path / "staging" / "ev" / "IMG_0011.xmp").write_bytes(first)
    copy = (tmp_path / "staging" / "ev" / "IMG_0011.jpg").read_bytes()
    _move_in(d, tmp_path, "ev/IMG_0011.jpg", "ev/IMG_0011.xmp")
    _event_of(d, "file_done", "ev/IMG_0011.jpg", 30)
    for name in ("IMG_0011.jpg", "IMG_0011.xmp"):  # the admin's clean-up
        os.rename(d.archive / "ev" / name, tmp_path / name)
    other = sources.xmp_packet(rating=2, keywords=("someone else",))
    (tmp_path / "staging" / "next").mkdir()
    sources.camera_jpeg(tmp_path / "staging" / "next" / "IMG_0011.jpg", size=(600, 400), seed=2)
    (tmp_path / "staging" / "next" / "IMG_0011.xmp").write_bytes(other)
    (d.inbox / "ev").mkdir(exist_ok=True)
    for name in ("IMG_0011.jpg", "IMG_0011.xmp"):
        os.rename(tmp_path / "staging" / "next" / name, d.inbox / "ev" / name)
    wait_for(lambda: len([e for e in d.events("file_done") if e["file"] == "ev/IMG_0011.jpg"]) == 2, 30,
             what="the other photo done")
    assert (d.archive / "ev" / "IMG_0011.xmp").read_bytes() == other
    fixed = sources.xmp_packet(rating=5, extra="<xmp:MetadataDate>2026-07-02T09:00:00+02:00</xmp:MetadataDate>")
    skipped = _copy_dropped_again(d, tmp_path, "IMG_0011", copy, fixed)
    _sidecar_stayed(d, "IMG_0011", other, fixed, skipped)
    assert "sidecar" not in skipped, skipped


def test_a_jpeg_copy_s_sidecar_never_replaces_the_sidecar_its_raw_lies_with(daemon_factory, tmp_path):
    """A RAW+JPEG pair archived, its `IMG_0012.xmp` the RAW's (Lightroom writes sidecars for
    RAWs): the JPEG lies with none of its own. Its copy dropped again with last month's
    IMG_0012.xmp (an old export, its xmp:MetadataDate before the RAW's): the copy is skipped,
    and its sidecar took the RAW's sidecar's place, never compared with it (the JPEG had none
    to compare with): the RAW's fix undone, its next rerender told to read the old one. It now
    goes with the copy to duplicates/, the RAW's untouched."""
    d = daemon_factory(renditions=PRINT, folder_extra=FOLDER, on_duplicate=None).start()
    july = sources.xmp_packet(rating=5, extra="<xmp:MetadataDate>2026-07-01T09:00:00+02:00</xmp:MetadataDate>")
    june = sources.xmp_packet(rating=1, extra="<xmp:MetadataDate>2026-06-01T09:00:00+02:00</xmp:MetadataDate>")
    _stage(tmp_path, "ev/IMG_0012.jpg", size=(600, 400), seed=3)
    sources.dng(tmp_path / "staging" / "ev" / "IMG_0012.dng", Image.new("RGB", (600, 400), (90, 120, 150)))
    (tmp_path / "staging" / "ev" / "IMG_0012.xmp").write_bytes(july)
    jpeg = (tmp_path / "staging" / "ev" / "IMG_0012.jpg").read_bytes()
    _move_in(d, tmp_path, "ev/IMG_0012.dng", "ev/IMG_0012.jpg", "ev/IMG_0012.xmp")
    for name in ("ev/IMG_0012.dng", "ev/IMG_0012.jpg"):
        _event_of(d, "file_done", name, 60)
    assert (d.archive / "ev" / "IMG_0012.xmp").read_bytes() == july
    skipped = _copy_dropped_again(d, tmp_path, "IMG_0012", jpeg, june)
    _sidecar_stayed(d, "IMG_0012", july, june, skipped)


def _copy_dropped_again(d, tmp_path, stem: str, jpeg: bytes, sidecar: bytes) -> dict:
    """`again/STEM.jpg`, a copy of an archived JPEG, dropped with `sidecar`: its file_skipped
    line, once the daemon has stopped."""
    (tmp_path / "staging" / "again").mkdir()
    (tmp_path / "staging" / "again" / f"{stem}.jpg").write_bytes(jpeg)
    (tmp_path / "staging" / "again" / f"{stem}.xmp").write_bytes(sidecar)
    _move_in(d, tmp_path, f"again/{stem}.jpg", f"again/{stem}.xmp")
    skipped = _event_of(d, "file_skipped", f"again/{stem}.jpg", 30)
    assert d.stop() == 0
    return skipped


def _sidecar_stayed(d, stem: str, kept: bytes, dropped: bytes, skipped: dict) -> None:
    """The sidecar beside the archived `ev/STEM` is still `kept` (none put aside), and the
    copy's (`dropped`) went with it to duplicates/."""
    assert (d.archive / "ev" / f"{stem}.xmp").read_bytes() == kept, skipped
    assert not (d.archive / "ev" / f"{stem}.earlier.xmp").exists()
    assert (d.root / "var" / "duplicates" / "again" / f"{stem}.xmp").read_bytes() == dropped
