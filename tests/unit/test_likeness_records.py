"""What a duplicate's record says of the earlier original (likeness.Match.as_json)."""
from __future__ import annotations

import json

from hotfolder.likeness import Kind, Match


def test_a_name_that_is_not_utf8_is_written_as_hex_escapes_never_a_failed_write():
    """Its raw surrogates made the record's UTF-8 write raise, in cluster and local mode alike."""
    match = Match(Kind.EXACT, "photos", "na\udcefve.jpg", "2026/na\udcefve.jpg", ("na\udcefve_web.jpg",), 0.0)
    said = match.as_json()
    assert (said["name"], said["archived"], said["outputs"]) == ("na\\xefve.jpg", "2026/na\\xefve.jpg",
                                                                  ["na\\xefve_web.jpg"])
    json.dumps(said, ensure_ascii=False).encode("utf-8")


def test_the_outputs_gone_are_counted_in_words_that_agree():
    """"1 of its 2 outputs are gone": one is."""
    one = Match(Kind.EXACT, "photos", "a.jpg", "", ("a_web.jpg", "a_sq.webp"), 0.0, gone=("a_sq.webp",))
    both = Match(Kind.EXACT, "photos", "a.jpg", "", ("a_web.jpg", "a_sq.webp"), 0.0, gone=("a_web.jpg", "a_sq.webp"))
    assert one.gone_said(None).startswith("1 of its 2 outputs is gone from the output folder; ")
    assert both.gone_said(None).startswith("2 of its 2 outputs are gone from the output folder; ")


def test_a_copy_under_a_name_of_its_own_is_told_how_to_have_it_rendered_as_that_too(tmp_path):
    """A shop reuses one product photo for a second product (`shoe-blue.jpg` = `shoe-red.jpg`):
    skipped, it was told only what it repeats. Its line says the command that renders it under
    its own name (a copy in archive/ under that name, rerendered), or the folder's setting that
    does, where that name is taken in archive/ or nothing is archived; a copy of the same name
    (case and extension aside: a card copied twice) or a look-alike is told nothing more."""
    import shlex

    archive, inbox, copy = tmp_path / "archive", tmp_path / "inbox", tmp_path / "duplicates/shoes/shoe-blue.jpg"
    (archive / "shoes").mkdir(parents=True)
    config = tmp_path / "hotfolder.yaml"
    red = Match(Kind.EXACT, "photos", "shoes/shoe-red.jpg", "shoes/shoe-red.jpg", ("shoes/shoe-red_web.jpg",), 0.0)
    said = red.own_name_said("shoes/shoe-blue.jpg", copy, "photos", inbox, archive, config)
    target = archive / "shoes/shoe-blue.jpg"
    assert said.startswith("its outputs are shoe-red.jpg's; to have it rendered as shoe-blue.jpg too: `cp "), said
    command = said.split("`")[1]
    assert shlex.split(command) == ["cp", str(copy), str(target), "&&", "hotfolder", "rerender", "--config",
                                    str(config), str(target)], command
    assert said.endswith("` (or: set on_duplicate: process for folder photos and move it back to the inbox)"), said
    # in a subfolder archive/ does not have yet: made first
    assert f"`mkdir -p {archive}/bags && cp " in red.own_name_said("bags/bag.jpg", copy, "photos", inbox, archive)
    # the name is taken in archive/ (another photo of it): never a cp over it, the setting instead
    target.write_bytes(b"another photo")
    taken = red.own_name_said("shoes/shoe-blue.jpg", copy, "photos", inbox, archive, config)
    assert "cp " not in taken and (f"set on_duplicate: process for folder photos in {config}, then "
                                   f"`mkdir -p {inbox}/shoes && mv {copy} {inbox}/shoes/shoe-blue.jpg`") in taken, taken
    assert taken.endswith("(and back to skip after: every copy is rendered meanwhile)"), taken
    assert "cp " not in red.own_name_said("shoes/shoe-blue.jpg", copy, "photos", inbox, None)  # on_success: delete
    for odd in ("shoes/shoe-blue\x1b.jpg", "shoes/shoe-`blue`.jpg"):
        assert " mv " not in red.own_name_said(odd, copy, "photos", inbox, None), ("no command of it", odd)
    # a name is data: quoted so a shell gives it back as it is, never runs it
    odd = red.own_name_said("shoes/$(touch x) it's.jpg", tmp_path / "duplicates/shoes/$(touch x) it's.jpg",
                            "photos", inbox, archive)
    assert shlex.split(odd.split("`")[1])[1:3] == [str(tmp_path / "duplicates/shoes/$(touch x) it's.jpg"),
                                                   str(archive / "shoes/$(touch x) it's.jpg")], odd
    for same in ("shoes/shoe-red.jpg", "card2/SHOE-RED.JPEG", "shoes/Shoe-Red.jpg"):
        assert red.own_name_said(same, copy, "photos", inbox, archive) == "", same
    assert red.own_name_said("shoe-rouge\u0301.jpg", copy, "p", inbox, archive) != ""
    nfd = Match(Kind.EXACT, "photos", "cafe\u0301.jpg", "cafe\u0301.jpg", (), 0.0)
    assert nfd.own_name_said("caf\u00e9.jpg", copy, "photos", inbox, archive) == "", "macOS's NFD: the same name"
    alike = Match(Kind.SIMILAR, "photos", "shoes/shoe-red.jpg", "shoes/shoe-red.jpg", (), 0.0, bits=2)
    assert alike.own_name_said("shoes/shoe-blue.jpg", copy, "photos", inbox, archive) == ""


def test_a_record_s_name_that_leaves_the_archive_is_in_no_printed_command(tmp_path):
    """A cluster's index is Redis's (cluster/originals.record_of takes any text as a name): a
    forged record naming `../../../home/admin/.profile` made `hotfolder duplicates` and the skip's
    line print `cp COPY ARCHIVE/../../../home/admin/.profile && hotfolder rerender …` for the admin
    to run, the copy's bytes the dropper's. A name that is no path inside archive/, or that no
    shell gets back from the line, is told in words, as own_name_said does."""
    archive, copy = tmp_path / "archive", tmp_path / "duplicates/a.jpg"
    archive.mkdir()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("x")
    for name, archived in (("../../../home/admin/.profile", "../../../home/admin/.profile"),
                           ("/home/admin/.profile", ""), ("a\x1b]0;x\x07.jpg", "a\x1b]0;x\x07.jpg"),
                           ("a`b`.jpg", ""), ("../etc/passwd", "../etc/passwd")):
        m = Match(Kind.EXACT, "photos", name, archived, ("a_web.jpg",), 0.0, gone=("a_web.jpg",))
        said = m.gone_said(archive, copy, tmp_path / "hotfolder.yaml")
        assert "cp " not in said and "rerender" not in said, (name, said)
        assert said.startswith("1 of its 1 outputs is gone from the output folder; "), said
    ok = Match(Kind.EXACT, "photos", "a.jpg", "a.jpg", ("a_web.jpg",), 0.0, gone=("a_web.jpg",))
    assert f"`cp {copy} {archive}/a.jpg` puts it back" in ok.gone_said(archive, copy), "a plain name still is"
