"""A card dump as a studio copies it in (issue 26, item 9): the photos are rendered, the
videos and lone sidecars are archived untouched, the operating systems' own files are left
alone, and none of it is a failure or a notification.
"""
from __future__ import annotations

import subprocess
import sys

from tests import corpus as c
from tests.harness import archived, ends, failed_originals, files_under, wait_for
from tests.integration.test_duplicates_daemon import CLIENTS  # a delivery per client subfolder

XMP = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
       b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>'
       b'</rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>')
# A QuickTime file's first atom (`ftyp`, brand `qt  `), then media data: what a camera's .MOV starts with.
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00\x00\x10\x08mdat" + bytes(4096)
THUMBS_DB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # an OLE compound file, as Windows writes it
DESKTOP_INI = b"[.ShellClassInfo]\r\nIconResource=C:\\Windows\\System32\\imageres.dll,-3\r\n"


def _card(root) -> dict[str, bytes]:
    """The card's files by their path under the card folder."""
    files = {
        "DCIM/100CANON/IMG_0001.JPG": c.jpeg_bytes((1200, 800)),
        "DCIM/100CANON/IMG_0002.JPG": c.jpeg_bytes((800, 1200), color=(30, 140, 200)),
        "DCIM/100CANON/MVI_0003.MOV": MOV,
        "DCIM/100CANON/MVI_0003.THM": c.jpeg_bytes((160, 120)),  # the video's thumbnail: a JPEG
        "DCIM/100CANON/IMG_0004.xmp": XMP,  # a lone sidecar (its RAW was not copied)
        "DCIM/100CANON/Thumbs.db": THUMBS_DB,
        "desktop.ini": DESKTOP_INI,
        ".DS_Store": b"\x00\x00\x00\x01Bud1" + bytes(64),
        "DCIM/100CANON/._IMG_0001.JPG": b"\x00\x05\x16\x07" + bytes(60),  # AppleDouble
        "System Volume Information/IndexerVolumeGuid": "{a0b1c2d3}".encode("utf-16-le"),
    }
    for rel, data in files.items():
        c.write(root / rel, data)
    return files


def test_a_card_dump_leaves_nothing_in_failed(daemon_factory, tmp_path):
    # sidecar_wait 1 s, not the default 5: the lone sidecar is archived once it has waited
    # it out (below), and the test waited the 5 s every run; what is said holds at any wait.
    d = daemon_factory(folder_extra="sidecar_wait: 1").start()
    card = tmp_path / "card1"
    files = _card(card)
    subprocess.run(["cp", "-r", str(card), str(d.inbox)], check=True)
    photos = ["card1/DCIM/100CANON/IMG_0001.JPG", "card1/DCIM/100CANON/IMG_0002.JPG"]
    passed = ["card1/DCIM/100CANON/MVI_0003.MOV", "card1/DCIM/100CANON/MVI_0003.THM",
              "card1/DCIM/100CANON/IMG_0004.xmp"]
    wait_for(lambda: set(photos + passed) <= set(archived(d)) or failed_originals(d), 30,
             what="the photos and clips to be archived")
    assert failed_originals(d) == [], failed_originals(d)
    for rel in photos:
        c.assert_succeeded(d, rel)
    for rel in passed:  # moved as they are, never rendered
        assert (d.archive / rel).read_bytes() == files[rel.removeprefix("card1/")]
        stem = rel.rsplit(".", 1)[0]
        assert not [o for o in files_under(d.output) if o.startswith(stem + "_")], f"{rel} was rendered"
    left = sorted(files_under(d.inbox))
    assert left == sorted("card1/" + rel for rel in ("DCIM/100CANON/Thumbs.db", "desktop.ini", ".DS_Store",
                                                      "DCIM/100CANON/._IMG_0001.JPG",
                                                      "System Volume Information/IndexerVolumeGuid")), left
    # Nothing failed, nothing was notified as failed, and the count says so.
    st = wait_for(lambda: (lambda s: s if s["processed"] == 2 else None)(d.status_json()), 10,
                  what="the photos counted")
    assert st["failed"] == 0 and st["in_failed"] == 0, st
    assert failed_originals(d) == [] and not d.events("file_failed") and not d.events("file_refused")
    assert sorted(e["file"] for e in d.events("file_passed_through")) == sorted(passed[:2])
    # The lone sidecar waited sidecar_wait for its image, then went to archive/ alone (issue 22).
    assert [e["file"] for e in d.events("sidecar_alone")] == passed[2:]
    c.assert_nothing_left(d)
    assert d.stop() == 0


def test_the_patterns_are_a_folders_own(daemon_factory, tmp_path):
    """`pass_through: []` renders the clip's JPEG thumbnail and fails the video, as before;
    `ignore` takes the studio's own patterns, case aside."""
    d = daemon_factory(folder_extra="""
        ignore: ["*.PDF", notes]
        pass_through: []
    """).start()
    c.write(d.inbox / "brief.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    c.write(d.inbox / "notes" / "a.jpg", c.jpeg_bytes())
    c.write(d.inbox / "MVI_0003.THM", c.jpeg_bytes((160, 120)))
    c.write(d.inbox / "MVI_0003.MOV", MOV)
    wait_for(lambda: ends(d) >= 2, 20, what="the thumbnail and the clip to reach an end")
    assert archived(d) == ["MVI_0003.THM"] and failed_originals(d) == ["MVI_0003.MOV"]
    assert sorted(files_under(d.inbox)) == ["brief.pdf", "notes/a.jpg"]
    assert d.stop() == 0


def test_a_pattern_is_a_name_not_a_path(tmp_path):
    config = tmp_path / "hotfolder.yaml"
    config.write_text("folders:\n  - inbox: in\n    output: out\n    failed: failed\n    archive: archive\n"
                      "    pass_through: ['clips/*.mov']\n    ignore: [3]\n"
                      "    renditions: [{name: web, size: 64}]\n")
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(config)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert f"{config}:6:5: folders[" in proc.stderr and "pass_through: 'clips/*.mov': a pattern matches a file or " \
        "folder name, not a path; write '*.mov'" in proc.stderr, proc.stderr
    assert "ignore: each item must be a file name pattern such as '*.mov', not the number 3" in proc.stderr, \
        proc.stderr


def test_an_unquoted_pattern_says_to_quote_it(tmp_path):
    """`pass_through: [*.mov]` is a YAML alias, not a pattern: the message says so."""
    config = tmp_path / "hotfolder.yaml"
    config.write_text("folders:\n  - inbox: in\n    output: out\n    failed: failed\n    archive: archive\n"
                      "    pass_through: [*.mov]\n    renditions: [{name: web, size: 64}]\n")
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(config)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert f"{config}:6:21: not valid YAML" in proc.stderr and "quote it, e.g. '*.mov'" in proc.stderr, proc.stderr


AAE = (b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.1"><dict><key>adjustmentFormatIdentifier</key>'
       b'<string>com.apple.photo</string></dict></plist>\n')
SRT = b"1\n00:00:00,000 --> 00:00:00,033\nF/2.8, SS 100, ISO 100, EV 0\n"


def test_a_phone_s_and_a_drone_s_companion_files_are_passed_through_and_another_kind_says_what_to_change(
        daemon_factory, tmp_path):
    """A wedding's phone photos (an iPhone's IMG_4101.AAE, its edit record, beside the HEIC)
    and a drone's card (DJI_0001.SRT, its flight log as subtitles, and DJI_0001.LRF, its
    low-resolution proxy, as GoPro's .LRV): each landed in failed/ at every import, "not an
    image in an accepted format", which said nothing of what to change. They are passed
    through to archive/ by default now; a file of another kind (a shot list, .txt) still
    fails, and its reason says how to let such files through."""
    d = daemon_factory().start()
    files = {"phone/IMG_4101.AAE": AAE, "drone/DJI_0001.SRT": SRT, "drone/DJI_0001.LRF": MOV,
             "drone/DJI_0001.MP4": MOV}
    for rel, data in files.items():
        c.write(d.inbox / rel, data)
    c.write(d.inbox / "shotlist.txt", b"first dance 21:00\n")
    wait_for(lambda: ends(d) >= 5, 30, what="every file to reach an end")
    assert sorted(archived(d)) == sorted(files), archived(d)
    assert failed_originals(d) == ["shotlist.txt"]
    # The main process's line: written after the file lies in failed/, so waited for (once a flake)
    failure = wait_for(lambda: next((e for e in d.events("file_failed") if e.get("role") != "worker"), None), 10,
                       what="the main process's file_failed line")
    assert failure["reason"].endswith(
        "not an image in an accepted format (accepted: jpeg, png, webp, tiff, heic, raw); if such files come with "
        "your photos, add '*.txt' to the folder's pass_through: (archived as they are) or ignore: (left in the "
        "inbox)"), failure
    assert d.stop() == 0


# What cinema, 360° and desktop cameras write beside photos, each starting as its kind does.
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x10\x08mdat" + bytes(4096)
CLIPS = {
    "cinema/A001C002.CRM": b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(4096),  # Canon Cinema RAW Light
    "cinema/A001_C003.braw": MOV,  # Blackmagic RAW: QuickTime
    "cinema/A001_C004_0101AB_001.R3D": b"\x00\x00\x02\x00RED2" + bytes(4096),  # RED
    "x4/VID_20261207_101500_00_001.insv": MP4,  # Insta360's 360° video: MP4
    "web/clip.webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + bytes(4096),  # Matroska's EBML
    "old/MOV001.MPG": b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01" + bytes(4096),  # an MPEG program stream
    "old/MOV002.mpeg": b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01" + bytes(4096),
    "old/clip.wmv": bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + bytes(4096),  # ASF's header object
}


def test_cinema_and_360_clips_are_passed_through_and_a_360_photo_is_rendered(daemon_factory, tmp_path):
    """Canon's Cinema RAW Light (.CRM), Blackmagic RAW (.braw), RED (.R3D), Insta360's video
    (.insv), WebM, MPEG (.mpg, .mpeg) and WMV failed at every card import, "not an image in an
    accepted format". They pass through by default now. Insta360's photo (.insp) is a JPEG
    (with the camera's data after its end): Pillow opens it, so it is rendered as a photo."""
    d = daemon_factory().start()
    for rel, data in CLIPS.items():
        c.write(d.inbox / rel, data)
    photo = tmp_path / "IMG_20261207_101500_00_002.insp"  # the camera's trailer ends in its magic
    c.write(photo, c.jpeg_bytes((800, 400)) + bytes(64) + b"8db42d694ccc418790edff439fe026bf")
    photo.rename(d.inbox / "x4" / photo.name)
    wait_for(lambda: ends(d) >= len(CLIPS) + 1, 30, what="every file to reach an end")
    assert failed_originals(d) == [], failed_originals(d)
    assert sorted(archived(d)) == sorted([*CLIPS, "x4/IMG_20261207_101500_00_002.insp"]), archived(d)
    # each line is written after its clip's move: waited for, as the files were
    wait_for(lambda: sorted(e["file"] for e in d.events("file_passed_through")) == sorted(CLIPS), 10,
             what="a file_passed_through line for each clip")
    assert [o for o in files_under(d.output) if "IMG_20261207_101500_00_002" in o], files_under(d.output)
    assert d.stop() == 0


def test_a_clip_dumped_again_says_it_lies_beside_one_of_its_size(daemon_factory, tmp_path):
    """The same card dumped again into the event's folder: its photos are skipped as
    duplicates, but each video was archived a second time (MVI_0003_1.MOV beside MVI_0003.MOV),
    said as any clip ("archived … as it is"): a wedding's gigabytes of video copied again
    without a word. What passes through is still not compared (that would read every clip),
    but the line says when it was archived under another name beside a file of its size."""
    d = daemon_factory().start()
    c.write(d.inbox / "ev" / "MVI_0003.MOV", MOV)
    wait_for(lambda: "ev/MVI_0003.MOV" in archived(d), 20, what="the clip archived")
    c.write(d.inbox / "ev" / "MVI_0003.MOV", MOV)
    c.write(d.inbox / "ev" / "MVI_0004.MOV", MOV + b"longer")
    wait_for(lambda: len(d.events("file_passed_through")) == 3, 20, what="both clips archived")
    again = [e for e in d.events("file_passed_through") if e["archived"].endswith("MVI_0003_1.MOV")]
    assert len(again) == 1 and again[0]["note"] == (
        "archived as MVI_0003_1.MOV beside MVI_0003.MOV, of the same size (the same card dumped again?): compare "
        "them, and delete one if they are the same"), d.events("file_passed_through")
    assert [e.get("note") for e in d.events("file_passed_through") if e["file"] == "ev/MVI_0004.MOV"] == [None]
    assert d.stop() == 0


def test_process_of_a_card_leaves_its_videos_and_clutter_out_and_says_so(daemon_factory, tmp_path):
    """`hotfolder process ~/card` (a photographer's first try, before any daemon): every video,
    its .THM, Thumbs.db and desktop.ini failed ("not an image in an accepted format"), and the
    run exited 1, though the daemon passes such files through or leaves them alone. They are
    left out of a folder given, as rerender leaves them out of the archive, and said."""
    from tests.harness import hotfolder

    d = daemon_factory()
    card = tmp_path / "card1"
    _card(card)
    out = tmp_path / "proofs"
    ran = hotfolder("process", "--config", str(d.config), "--output", str(out), str(card))
    assert ran.returncode == 0, ran.stderr
    assert "failed" not in ran.stderr.split("processed", 1)[0], ran.stderr
    assert ("left out 5 file(s) the folder passes through to archive/ or leaves alone in its inbox (pass_through:, "
            "ignore:): DCIM/100CANON/MVI_0003.MOV, DCIM/100CANON/MVI_0003.THM, DCIM/100CANON/Thumbs.db, "
            "System Volume Information/IndexerVolumeGuid, desktop.ini") in ran.stderr, ran.stderr
    assert "processed 2 of 2 file(s)" in ran.stderr, ran.stderr


def test_a_card_dumped_again_does_not_archive_its_clips_again(daemon_factory, tmp_path):
    """The same clip dumped again (on_duplicate: skip, the default) is a duplicate as a photo
    copy is: in duplicates/ with its record, counted, archive/ holding one copy; another clip
    of its name and size (a camera's numbers come round) is archived beside it, as before,
    with the line's note; whatever the bytes, a clip is never rendered nor failed."""
    import json
    import os

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(3 << 20)  # a few MB: several of the comparison's reads
    c.write(d.inbox / "ev" / "MVI_0009.MP4", clip)
    wait_for(lambda: "ev/MVI_0009.MP4" in archived(d), 20, what="the clip archived")
    c.write(d.inbox / "ev" / "MVI_0009.MP4", clip)
    duplicates = d.var / "duplicates"
    wait_for(lambda: (duplicates / "ev/MVI_0009.MP4.duplicate.json").exists(), 20, what="the copy skipped")
    assert archived(d) == ["ev/MVI_0009.MP4"] and files_under(d.inbox) == []
    assert (duplicates / "ev/MVI_0009.MP4").read_bytes() == clip
    record = json.loads((duplicates / "ev/MVI_0009.MP4.duplicate.json").read_text())
    assert record["kind"] == "exact" and record["matched"]["archived"] == "ev/MVI_0009.MP4", record
    # The line comes after the move: under load the test read the log between the two
    skipped = wait_for(lambda: d.events("file_skipped"), 10, what="the copy's file_skipped line")
    assert [(e["file"], e["kind"], e["matched_archived"]) for e in skipped] == [
        ("ev/MVI_0009.MP4", "exact", "ev/MVI_0009.MP4")], skipped
    wait_for(lambda: d.status_json()["folders"]["test"]["duplicates"].get("exact") == 1, 10,
             what="the copy counted as an exact duplicate")
    from tests.harness import hotfolder

    # it said "(`hotfolder duplicates` lists them)", and that lists photos only
    said = hotfolder("status", "--config", str(d.config)).stdout
    assert ("duplicates 1      the same bytes as an earlier original (1 of them videos or other files passed "
            "through, each in duplicates/ beside its NAME.duplicate.json), 0 look-alikes (`hotfolder duplicates` "
            "lists the photos)") in said, said
    listed = hotfolder("duplicates", "--config", str(d.config)).stdout  # it said "no duplicate ... found"
    assert listed == ("no photo found to repeat or resemble an earlier original (within each folder's "
                      "duplicate_window); videos and other files passed through that were skipped are not listed: "
                      "each lies in its folder's duplicates folder beside its NAME.duplicate.json\n"), listed

    other = clip[:-1] + bytes([clip[-1] ^ 1])  # the same name and size, another clip
    c.write(d.inbox / "ev" / "MVI_0009.MP4", other)
    # its line, not the file: the file is in archive/ a moment before its line is in the log
    wait_for(lambda: any(e["archived"].endswith("MVI_0009_1.MP4") for e in d.events("file_passed_through")), 20,
             what="the other clip archived")
    assert (d.archive / "ev/MVI_0009_1.MP4").read_bytes() == other
    again = wait_for(lambda: [e for e in d.events("file_passed_through") if e["archived"].endswith("MVI_0009_1.MP4")],
                     10, what="the other clip's file_passed_through line")
    # compared already: "compare them, and delete one if they are the same" sent an admin to do it again
    assert len(again) == 1 and again[0]["note"] == (
        "archived as MVI_0009_1.MP4 beside MVI_0009.MP4, of the same size: compared byte for byte, their bytes "
        "differ (another clip under that name, or one changed since): both kept, nothing to do"), d.events(
        "file_passed_through")
    assert len(d.events("file_skipped")) == 1 and failed_originals(d) == []
    assert d.stop() == 0


def test_a_clip_left_in_the_inbox_by_a_stop_is_compared_at_the_next_start(daemon_factory, tmp_path):
    """What a stop or a crash in the middle of a comparison leaves: the copy in the inbox, its
    first in archive/. The next start takes it from the inbox and compares it as any: a
    duplicate, not a second copy (nothing was moved before the comparison ended)."""
    import os

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "MVI_0042.MOV", clip)
    wait_for(lambda: "MVI_0042.MOV" in archived(d), 20, what="the clip archived")
    assert d.stop() == 0
    c.write(d.inbox / "MVI_0042.MOV", clip)  # as a stop mid-compare leaves it
    d.start()
    wait_for(lambda: (d.var / "duplicates" / "MVI_0042.MOV.duplicate.json").exists(), 20,
             what="the copy compared and skipped after the start")
    assert archived(d) == ["MVI_0042.MOV"] and files_under(d.inbox) == []
    assert [e["file"] for e in d.events("file_comparing")] == ["MVI_0042.MOV"]
    assert d.stop() == 0


def test_explain_says_a_clip_dumped_again_would_go_to_duplicates(daemon_factory, tmp_path):
    """`hotfolder explain` of a card's clip, before it is dumped again, says what the daemon
    does (it said "moved to archive/ as it is" of a clip whose bytes already lie there): the
    very bytes go to duplicates/, another clip of that name and size is archived beside it,
    and under on_duplicate: process nothing is compared."""
    from tests.harness import hotfolder

    d = daemon_factory(on_duplicate=None)
    clip = b"\x00\x00\x00\x18ftypmp42" + bytes(4096)
    (d.archive / "ev").mkdir(parents=True)
    (d.archive / "ev" / "MVI_0009.MP4").write_bytes(clip)
    card = tmp_path / "card"
    card.mkdir()
    (card / "MVI_0009.MP4").write_bytes(clip)
    (card / "MVI_0010.MP4").write_bytes(clip)  # no file of its name archived

    def said(*names: str) -> list[str]:
        out = hotfolder("explain", "--config", str(d.config), *(str(card / n) for n in names),
                        "--subfolder", "ev").stdout
        return [line for line in out.splitlines() if line.startswith("  problem:")]

    passed = ("  problem: passed through: moved to archive/ as it is, never rendered nor failed (the folder's "
              "pass_through: matches its name)")
    archived_one = d.archive / "ev" / "MVI_0009.MP4"
    assert said("MVI_0009.MP4", "MVI_0010.MP4") == [
        f"{passed}; but {archived_one} holds its very bytes (the same card dumped again?): it would go to "
        f"{d.var / 'duplicates'} with its .duplicate.json, not archived again", passed]
    (card / "MVI_0009.MP4").write_bytes(clip[:-1] + b"\x01")
    assert said("MVI_0009.MP4") == [
        f"{passed}; {archived_one} has its name and size but other bytes: archived beside it, under a free name"]
    d.write_config(on_duplicate="process")
    assert said("MVI_0009.MP4") == [
        f"{passed}; {archived_one} has its name and size: archived beside it, not compared (on_duplicate: process)"]


def _passed_rows(d) -> list[tuple[str, str]]:
    """The daemon's rows of clips passed through (state/passed.py): (folder, archived)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{d.var / 'state' / 'hotfolder.db'}?mode=ro", uri=True)
    try:
        return sorted((f, a.decode()) for f, a in conn.execute("SELECT folder, archived FROM passed_through"))
    except sqlite3.OperationalError as exc:  # made at the first clip archived
        assert "no such table" in str(exc), exc
        return []
    finally:
        conn.close()


def test_a_card_dumped_again_into_another_subfolder_does_not_archive_its_clips_again(daemon_factory, tmp_path):
    """Each dump of a card copied into a folder of its own (`card1/DCIM/100CANON/`, then
    `backup/DCIM/100CANON/`): the photos were duplicates wherever they came, the clips were
    archived again (gigabytes). Now a clip of a name (case aside: a FAT card) and size archived
    anywhere in the folder is compared with that one: its very bytes go to duplicates/; another
    clip of that name and size elsewhere is archived as before."""
    import json
    import os

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(3 << 20)
    first = "card1/DCIM/100CANON/MVI_0009.MP4"
    c.write(d.inbox / first, clip)
    wait_for(lambda: first in archived(d), 20, what="the clip archived")
    again = "backup/DCIM/100CANON/mvi_0009.mp4"  # the same card, read by another reader: its names lower-cased
    c.write(d.inbox / again, clip)
    duplicates = d.var / "duplicates"
    wait_for(lambda: (duplicates / (again + ".duplicate.json")).exists(), 20, what="the copy skipped")
    assert archived(d) == [first] and files_under(d.inbox) == []
    assert (duplicates / again).read_bytes() == clip
    record = json.loads((duplicates / (again + ".duplicate.json")).read_text())
    assert record["kind"] == "exact" and record["matched"]["archived"] == first, record
    assert [(e["file"], e["archived"]) for e in d.events("file_comparing")] == [(again, str(d.archive / first))]
    wait_for(lambda: d.status_json()["folders"]["test"]["duplicates"].get("exact") == 1, 10,
             what="the copy counted as an exact duplicate")

    other = clip[:-1] + bytes([clip[-1] ^ 1])  # the same name and size, another clip (a camera's numbers came round)
    c.write(d.inbox / "card3/MVI_0009.MP4", other)
    wait_for(lambda: "card3/MVI_0009.MP4" in archived(d), 20, what="the other clip archived")
    assert (d.archive / "card3/MVI_0009.MP4").read_bytes() == other
    assert len(d.events("file_skipped")) == 1 and failed_originals(d) == []
    assert d.stop() == 0
    assert _passed_rows(d) == [("test", "card1/DCIM/100CANON/MVI_0009.MP4"), ("test", "card3/MVI_0009.MP4")]


def test_under_duplicate_scope_subfolder_a_clip_is_not_compared_across_subfolders(daemon_factory, tmp_path):
    import os

    d = daemon_factory(on_duplicate=None, folder_extra="duplicate_scope: subfolder").start()
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "card1/MVI_0009.MP4", clip)
    wait_for(lambda: "card1/MVI_0009.MP4" in archived(d), 20, what="the clip archived")
    c.write(d.inbox / "card2/MVI_0009.MP4", clip)
    wait_for(lambda: "card2/MVI_0009.MP4" in archived(d), 20, what="the second copy archived")
    assert not d.events("file_comparing") and not d.events("file_skipped")
    assert d.stop() == 0


def test_a_clip_whose_archived_twin_was_deleted_is_archived_and_its_row_dropped(daemon_factory, tmp_path):
    """The user deleted the archived clip: the row that named it is no twin (the new copy is
    archived as any), and it is forgotten."""
    import os

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "card1/MVI_0009.MP4", clip)
    wait_for(lambda: _passed_rows(d) == [("test", "card1/MVI_0009.MP4")], 20, what="the clip archived and noted")
    (d.archive / "card1/MVI_0009.MP4").unlink()
    c.write(d.inbox / "card2/MVI_0009.MP4", clip)
    wait_for(lambda: "card2/MVI_0009.MP4" in archived(d), 20, what="the copy archived")
    assert not d.events("file_comparing") and not d.events("file_skipped")
    assert d.stop() == 0
    assert _passed_rows(d) == [("test", "card2/MVI_0009.MP4")]


def test_explain_says_a_clip_dumped_into_another_subfolder_would_go_to_duplicates(daemon_factory, tmp_path):
    """`hotfolder explain` of a clip whose name and size the daemon archived from another
    subfolder says what the daemon would do with it (from its rows, read-only)."""
    import os

    from tests.harness import hotfolder

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(1 << 16)
    c.write(d.inbox / "card1/MVI_0009.MP4", clip)
    wait_for(lambda: _passed_rows(d) == [("test", "card1/MVI_0009.MP4")], 20, what="the clip archived and noted")
    assert d.stop() == 0
    card = tmp_path / "card"
    c.write(card / "mvi_0009.mp4", clip)

    def said() -> list[str]:
        out = hotfolder("explain", "--config", str(d.config), str(card / "mvi_0009.mp4"), "--subfolder",
                        "backup").stdout
        return [line for line in out.splitlines() if line.startswith("  problem:")]

    first = d.archive / "card1/MVI_0009.MP4"
    passed = ("  problem: passed through: moved to archive/ as it is, never rendered nor failed (the folder's "
              "pass_through: matches its name)")
    assert said() == [f"{passed}; but {first}, archived from another subfolder, holds its very bytes (the same card "
                      f"dumped again?): it would go to {d.var / 'duplicates'} with its .duplicate.json, not archived "
                      "again"]
    c.write(card / "mvi_0009.mp4", clip[:-1] + bytes([clip[-1] ^ 1]))
    assert said() == [f"{passed}; {first}, archived from another subfolder, has its name and size but other bytes: "
                      "archived as any"]
    assert _passed_rows(d) == [("test", "card1/MVI_0009.MP4")]  # read, never written


def test_under_duplicate_scope_auto_a_client_s_subfolder_is_a_delivery_of_its_own_for_clips_too(daemon_factory):
    """`duplicate_scope: auto` (the default) as photos resolve it: a subfolder a rendition's
    `subfolder:` names (clients/bob) compares only with its own clips; a card's folder no
    condition names (card2/) with any subfolder's."""
    import json
    import os

    d = daemon_factory(renditions=CLIENTS, on_duplicate=None).start()
    clip = os.urandom(1 << 16)
    c.write(d.inbox / "MVI_0001.MP4", clip)
    wait_for(lambda: _passed_rows(d) == [("test", "MVI_0001.MP4")], 20, what="the clip archived and noted")
    c.write(d.inbox / "clients/bob/MVI_0001.MP4", clip)
    wait_for(lambda: "clients/bob/MVI_0001.MP4" in archived(d), 20, what="bob's copy archived: a delivery")
    assert not d.events("file_comparing")
    c.write(d.inbox / "card2/MVI_0001.MP4", clip)
    duplicates = d.var / "duplicates"
    wait_for(lambda: (duplicates / "card2/MVI_0001.MP4.duplicate.json").exists(), 20, what="card2's copy skipped")
    record = json.loads((duplicates / "card2/MVI_0001.MP4.duplicate.json").read_text())
    assert record["matched"]["archived"] in ("MVI_0001.MP4", "clients/bob/MVI_0001.MP4"), record
    assert sorted(archived(d)) == ["MVI_0001.MP4", "clients/bob/MVI_0001.MP4"]
    assert d.stop() == 0


def test_a_clip_being_compared_is_shown_by_status_the_page_and_metrics(daemon_factory, tmp_path):
    """While a clip dumped again is compared (seconds to a minute for 4 GB on a share) it lies
    in the inbox, neither queued nor in flight: an admin saw "queued 0, in flight 0" and
    wondered why it was not archived. `hotfolder status`, the page and /metrics count it. The
    comparison is held deterministically: the archived clip's open waits for the test
    (fanotify, tests/harness/held.py)."""
    import os
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from tests.harness import hotfolder, http_url
    from tests.harness.held import HeldOpen

    def gauge() -> dict[str, float]:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
            text = response.read().decode("utf-8")
        return {s.labels["folder"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "hotfolder_clips_comparing"}

    def page() -> str:
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            return response.read().decode("utf-8")

    d = daemon_factory(on_duplicate=None, extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "ev" / "MVI_0009.MP4", clip)
    wait_for(lambda: d.events("file_passed_through"), 20, what="the clip archived")
    with HeldOpen(d.archive / "ev" / "MVI_0009.MP4") as held:
        c.write(d.inbox / "ev" / "MVI_0009.MP4", clip)
        held.wait_open(20)  # the comparison opens the archived clip: held there
        snap = wait_for(lambda: (s := d.status_json())["folders"]["test"].get("comparing") == 1 and s, 10,
                        what="the status to count the clip being compared")
        assert snap["in_flight"] == 0 and (d.inbox / "ev" / "MVI_0009.MP4").exists(), snap
        shown = hotfolder("status", "--config", str(d.config)).stdout
        assert ("  comparing  1      clip in the inbox compared byte for byte with the archived one of its name "
                "(then moved to duplicates/ or archived)") in shown.splitlines(), shown
        assert wait_for(lambda: gauge() == {"test": 1}, 10, what="the gauge at 1"), gauge()
        body = wait_for(lambda: 'id="count-comparing"' in (p := page()) and p, 10, what="the page to count it")
        assert '<div id="count-comparing"><b>1</b>clips being compared</div>' in body, body
    wait_for(lambda: d.events("file_skipped"), 20, what="the copy skipped once its comparison ended")
    wait_for(lambda: d.status_json()["folders"]["test"]["comparing"] == 0, 10, what="the count back to 0")
    assert "comparing" not in hotfolder("status", "--config", str(d.config)).stdout
    wait_for(lambda: gauge() == {"test": 0}, 10, what="the gauge back to 0")
    wait_for(lambda: 'id="count-comparing"' not in page(), 10, what="the page to stop counting it")
    assert d.stop() == 0


def test_a_clip_s_sidecar_dumped_again_goes_with_the_clip_to_duplicates(daemon_factory, tmp_path):
    """A video's XMP (`MVI_0009.xmp`, Lightroom's or Bridge's) of a card dumped again, into the
    same folder or another: the clip went to duplicates/, and the sidecar, the very bytes archived
    beside its twin, was archived a second time (`MVI_0009_1.xmp`), or alone in a new folder of
    archive/ with "no image of it arrived within sidecar_wait: raise sidecar_wait" (a new user's
    week, item 1). It now goes with the clip, as a photo copy's sidecar does; one that differs
    from the archived one is archived beside it as before (nothing is lost)."""
    import os

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(3 << 20)
    c.write(d.inbox / "ev/MVI_0009.MP4", clip)
    c.write(d.inbox / "ev/MVI_0009.xmp", XMP)
    wait_for(lambda: len(d.events("sidecar_alone")) == 1, 20, what="the first sidecar archived")
    assert archived(d) == ["ev/MVI_0009.MP4", "ev/MVI_0009.xmp"]
    duplicates = d.var / "duplicates"
    for where in ("ev", "backup/ev"):  # the same folder again, then another one
        c.write(d.inbox / where / "MVI_0009.MP4", clip)
        c.write(d.inbox / where / "MVI_0009.xmp", XMP)
        wait_for(lambda: files_under(d.inbox) == [], 20, what=f"the card dumped again into {where} taken")
        assert (duplicates / where / "MVI_0009.xmp").read_bytes() == XMP, files_under(duplicates)
    assert archived(d) == ["ev/MVI_0009.MP4", "ev/MVI_0009.xmp"]
    assert len(d.events("sidecar_alone")) == 1, d.events("sidecar_alone")
    skipped = wait_for(lambda: [e for e in d.events("file_skipped") if e.get("sidecar_with_it")], 10,
                       what="the copies' file_skipped lines")
    assert [e["sidecar_with_it"] for e in skipped] == ["MVI_0009.xmp", "MVI_0009.xmp"], skipped

    c.write(d.inbox / "ev/MVI_0009.MP4", clip)  # a sidecar edited since: archived beside the first
    edited = XMP.replace(b'xmp:Rating="4"', b'xmp:Rating="5"')
    c.write(d.inbox / "ev/MVI_0009.xmp", edited)
    wait_for(lambda: len(d.events("sidecar_alone")) == 2, 20, what="the edited sidecar archived")
    assert (d.archive / "ev/MVI_0009_1.xmp").read_bytes() == edited
    assert failed_originals(d) == [] and d.stop() == 0
    assert [e for e in d.events() if e["level"] not in ("info", "debug")] == []


def test_explain_of_a_clip_s_sidecar_says_it_is_archived_beside_the_clip_unread(daemon_factory, tmp_path):
    """`hotfolder explain` of a video's XMP on a card said "it goes with its image
    MVI_0009.LRV, whose renditions read it": a proxy passed through has no renditions, and
    the daemon archives that sidecar beside the clip, read by nothing (its sidecar_alone line
    says so). Now explain says what the daemon does, naming the clip, not its proxy; a photo's
    sidecar is told as before."""
    from tests.harness import hotfolder

    d = daemon_factory()
    card = tmp_path / "card"
    for name, data in (("MVI_0009.MP4", MOV), ("MVI_0009.LRV", MOV), ("MVI_0009.xmp", XMP),
                       ("IMG_0001.JPG", c.jpeg_bytes((64, 48))), ("IMG_0001.xmp", XMP)):
        c.write(card / name, data)
    out = hotfolder("explain", "--config", str(d.config), str(card / "MVI_0009.xmp"), str(card / "IMG_0001.xmp"),
                    "--subfolder", "ev").stdout
    assert [line for line in out.splitlines() if line.startswith("  problem:")] == [
        "  problem: an XMP sidecar of a file passed through as it is (pass_through:), MVI_0009.MP4: archived "
        "beside it after sidecar_wait (5 s), "
        "read by nothing here, never a failure",
        "  problem: an XMP sidecar: it goes with its image IMG_0001.JPG, whose renditions read it"], out


def test_a_clip_is_compared_with_each_archived_clip_of_its_name_and_size(daemon_factory, tmp_path):
    """Two clips of one name and size archived (MVI_0011.MP4, and MVI_0011_1.MP4: its last byte
    changed, dumped again): a copy of either was compared with one of them only (the row written
    last, or the file at its own path), and a copy of the other archived a second time (a new
    user's week: `again/…/MVI_0011.MP4` beside the card's first dump, and `MVI_0011_2.MP4`). Each
    archived clip of its name and size is now compared in turn: the very bytes of any of them
    are a duplicate."""
    import json
    import os

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(3 << 20)
    other = clip[:-1] + bytes([clip[-1] ^ 1])
    c.write(d.inbox / "ev/MVI_0011.MP4", clip)
    wait_for(lambda: "ev/MVI_0011.MP4" in archived(d), 20, what="the clip archived")
    c.write(d.inbox / "ev/MVI_0011.MP4", other)
    wait_for(lambda: len(d.events("file_passed_through")) == 2, 20, what="the other clip archived")
    assert archived(d) == ["ev/MVI_0011.MP4", "ev/MVI_0011_1.MP4"]
    from tests.harness import hotfolder

    c.write(tmp_path / "card/first/MVI_0011.MP4", clip)
    c.write(tmp_path / "card/second/MVI_0011.MP4", other)
    for which, subfolder, twin in (("first", "again", "ev/MVI_0011.MP4, archived from another subfolder,"),
                                   ("second", "ev", "ev/MVI_0011_1.MP4")):  # explain says what the daemon does
        out = hotfolder("explain", "--config", str(d.config), str(tmp_path / "card" / which / "MVI_0011.MP4"),
                        "--subfolder", subfolder).stdout
        assert f"but {d.archive}/{twin} holds its very bytes" in out, out
    duplicates = d.var / "duplicates"
    c.write(d.inbox / "again/MVI_0011.MP4", clip)  # the first, in another subfolder: the row written last is _1's
    wait_for(lambda: files_under(d.inbox) == [], 20, what="the copy in again/ taken")
    c.write(d.inbox / "ev/MVI_0011.MP4", other)  # the second, at the path of the first
    wait_for(lambda: files_under(d.inbox) == [], 20, what="the copy in ev/ taken")
    assert archived(d) == ["ev/MVI_0011.MP4", "ev/MVI_0011_1.MP4"], archived(d)
    assert sorted(p.relative_to(duplicates).as_posix() for p in duplicates.rglob("*.MP4")) == [
        "again/MVI_0011.MP4", "ev/MVI_0011.MP4"]
    # A copy leaves the inbox a moment before its record takes its name (spool/moves.py renames
    # the record after the move): read at once, ev/'s was not there yet (FileNotFoundError)
    records = [duplicates / f"{sub}/MVI_0011.MP4.duplicate.json" for sub in ("again", "ev")]
    wait_for(lambda: all(r.exists() for r in records), 10, what="both copies' .duplicate.json")
    assert json.loads((duplicates / "again/MVI_0011.MP4.duplicate.json").read_text())["matched"]["archived"] == (
        "ev/MVI_0011.MP4")
    assert json.loads((duplicates / "ev/MVI_0011.MP4.duplicate.json").read_text())["matched"]["archived"] == (
        "ev/MVI_0011_1.MP4")
    assert failed_originals(d) == [] and d.stop() == 0
