"""`hotfolder rerender` (issue 26, item 6): after a recipe changes, archived originals are
rendered again into the places and under the names the daemon gave their outputs,
replacing them — never a second set beside them (`process` on the archive wrote
`output/b5_web.jpg` next to the daemon's `output/shoot_B/b5_web.jpg`), never over an output
another original owns. And `hotfolder explain`'s question to the index of originals (read
only), beside rerender's own (the generation a name was rendered as).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import time

import pytest
from PIL import Image

from tests import corpus as c
from tests.harness import archived, files_under, hotfolder, wait_for
from tests.integration.test_cli import run_on_a_terminal
from tests.same_photos import jpeg, scene

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 40)


def _solid(color, size=(640, 480)) -> bytes:
    return c.solid_jpeg_bytes(size, color)


def _png(path, color):
    Image.new("RGB", (640, 480), color).save(path, "PNG")
    return path


def _drop(d, rel: str, data: bytes, count: int) -> None:
    """Drop one file (by rename, whole) and wait until `count` originals are archived."""
    staged = c.write(d.root / "staging" / os.path.basename(rel), data)
    (d.inbox / rel).parent.mkdir(parents=True, exist_ok=True)
    staged.rename(d.inbox / rel)
    wait_for(lambda: len(archived(d)) == count, 20, what=f"{rel} archived")


def _colour(path) -> tuple[int, int, int]:
    with Image.open(path) as im:
        return im.convert("RGB").resize((1, 1)).getpixel((0, 0))


def _near(a, b) -> bool:
    return all(abs(x - y) < 40 for x, y in zip(a, b, strict=True))


def _size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def _new_recipe(d) -> None:
    d.config.write_text(d.config.read_text().replace("size: 320x320", "size: 160x160"))


def _tree(root) -> dict[str, tuple[int, int]]:
    return {p: (os.stat(root / p).st_mtime_ns, os.stat(root / p).st_size) for p in files_under(root)}


def test_rerender_replaces_the_outputs_where_the_daemon_put_them(daemon_factory, tmp_path):
    d = daemon_factory().start()
    _drop(d, "shoot_B/b5.jpg", _solid(RED), 1)
    _drop(d, "a.jpg", _solid(BLUE), 2)
    assert d.stop() == 0
    before = files_under(d.output)
    assert before == ["a_thumb.webp", "a_web.jpg", "shoot_B/b5_thumb.webp", "shoot_B/b5_web.jpg"]
    _new_recipe(d)

    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config), str(d.archive / "shoot_B"))
    assert dry.returncode == 0, dry.stderr
    assert "shoot_B/b5.jpg → shoot_B/b5_web.jpg (replaced), shoot_B/b5_thumb.webp (replaced)" in dry.stdout
    assert "2 replaced, 0 new" in dry.stdout and "Nothing was written" in dry.stdout, dry.stdout
    assert _size(d.output / "shoot_B" / "b5_web.jpg") == (320, 240), "the dry run wrote"

    code, screen = run_on_a_terminal([sys.executable, "-m", "hotfolder", "rerender", "--config", str(d.config),
                                      str(d.archive / "shoot_B")], d.root)
    assert code == 0, screen
    assert "[" + "#" * 30 + "] 1/1" in screen, f"no progress bar: {screen!r}"
    assert "rendered 1 of 1 archived original(s) again" in screen
    assert files_under(d.output) == before, "a second set of outputs"
    assert _size(d.output / "shoot_B" / "b5_web.jpg") == (160, 120)
    assert _near(_colour(d.output / "shoot_B" / "b5_web.jpg"), RED)
    assert _size(d.output / "a_web.jpg") == (320, 240), "only what was asked for is rendered"
    assert sorted(archived(d)) == ["a.jpg", "shoot_B/b5.jpg"], "the originals stay in the archive"

    whole = hotfolder("rerender", "--config", str(d.config))  # no path: the folder's whole archive
    assert whole.returncode == 0, whole.stderr
    assert _size(d.output / "a_web.jpg") == (160, 120) and files_under(d.output) == before


def test_a_dry_run_lists_the_outputs_a_changed_recipe_no_longer_makes(daemon_factory):
    """A new user changed `thumb`'s filename: rerender wrote the new name and left the old
    output orphaned, and --dry-run said only "1 replaced, 1 new"."""
    d = daemon_factory().start()
    _drop(d, "a.jpg", _solid(BLUE), 1)
    assert d.stop() == 0
    assert files_under(d.output) == ["a_thumb.webp", "a_web.jpg"]
    text = d.config.read_text()
    d.config.write_text(text.replace("- name: thumb\n", "- name: thumb\n        filename: \"{stem}_sq.{ext}\"\n"))
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "a.jpg → a_web.jpg (replaced), a_sq.webp (new), a_thumb.webp (no longer made: left as it is)" \
        in dry.stdout, dry.stdout
    assert "1 no longer made by today's recipe, left as they are (delete them if unwanted)" in dry.stdout
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert files_under(d.output) == ["a_sq.webp", "a_thumb.webp", "a_web.jpg"]


def test_of_two_versions_of_a_photo_the_last_is_rendered(daemon_factory):
    """A re-export of a.jpg (the same photo, other bytes) replaced its outputs and was
    archived as a_1.jpg: rerendering gives a_web.jpg the second version again, never
    a_1_web.jpg, never the first version."""
    d = daemon_factory().start()
    photo = scene().resize((640, 480))  # a real picture (scikit-image's): its look is stable
    _drop(d, "a.jpg", jpeg(photo, quality=95), 1)
    _drop(d, "a.jpg", jpeg(photo, quality=70), 2)
    assert sorted(archived(d)) == ["a.jpg", "a_1.jpg"]
    assert files_under(d.output) == ["a_thumb.webp", "a_web.jpg"], "a new version replaces its outputs"
    assert d.stop() == 0
    # explain of the first drop says what rerender does with it: nothing (it said "applies: web →
    # a_web.jpg", an output of a_1.jpg's now; found on a studio's re-edit of a real photo)
    first = hotfolder("explain", "--config", str(d.config), str(d.archive / "a.jpg"))
    assert first.returncode == 0, first.stderr
    assert ("problem: an earlier drop of a.jpg: its outputs are a_1.jpg's now (the same photo, dropped again "
            "since); `hotfolder rerender` skips it and renders a_1.jpg") in first.stdout, first.stdout
    assert "→ a_web.jpg" not in first.stdout, first.stdout
    last = hotfolder("explain", "--config", str(d.config), str(d.archive / "a_1.jpg"))
    assert "problem:" not in last.stdout and "applies: web → a_web.jpg" in last.stdout, last.stdout
    second = (d.archive / "a_1.jpg").read_bytes()
    _new_recipe(d)
    dry = hotfolder("rerender", "-n", "--config", str(d.config))
    assert "a_1.jpg (came in as a.jpg) → a_web.jpg (replaced), a_thumb.webp (replaced)" in dry.stdout, dry.stdout
    assert "a.jpg: skipped, an earlier drop of a.jpg (its outputs are a_1.jpg's now)" in dry.stdout, dry.stdout
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0 and "1 earlier drop(s) of a name skipped" in done.stderr, done.stderr
    assert files_under(d.output) == ["a_thumb.webp", "a_web.jpg"]
    assert _size(d.output / "a_web.jpg") == (160, 120)
    assert (d.archive / "a_1.jpg").read_bytes() == second  # the originals stay as they are


def test_two_different_photos_of_a_name_each_keep_their_outputs(daemon_factory):
    """Issue 26.2 with rerender: a different photo dropped under a used name got outputs of
    its own (a_web~2.jpg); rerendering renders each photo into its own outputs (the index
    of originals says which photo each archived file is), never one over the other's."""
    d = daemon_factory().start()
    _drop(d, "a.jpg", _solid(RED), 1)
    _drop(d, "a.jpg", _solid(BLUE), 2)
    assert sorted(archived(d)) == ["a.jpg", "a_1.jpg"]
    assert files_under(d.output) == ["a_thumb.webp", "a_thumb~2.webp", "a_web.jpg", "a_web~2.jpg"]
    assert d.stop() == 0
    # explain of the archived second photo: the name it came in with, the outputs it has (a new
    # user's finding: it said "a_1_web.jpg", an output that is no one's)
    said = hotfolder("explain", "--config", str(d.config), str(d.archive / "a_1.jpg"))
    assert said.returncode == 0, said.stderr
    assert "in its archive/, dropped as a.jpg (archived under another name" in said.stdout, said.stdout
    assert "a_web~2.jpg" in said.stdout and "a_thumb~2.webp" in said.stdout and "a_1_" not in said.stdout, said.stdout
    first = hotfolder("explain", "--config", str(d.config), str(d.archive / "a.jpg"))
    assert "a_web.jpg" in first.stdout and "~2" not in first.stdout, first.stdout
    _new_recipe(d)
    dry = hotfolder("rerender", "-n", "--config", str(d.config))
    assert "a.jpg → a_web.jpg (replaced), a_thumb.webp (replaced)" in dry.stdout, dry.stdout
    assert "a_1.jpg (came in as a.jpg) → a_web~2.jpg (replaced), a_thumb~2.webp (replaced)" in dry.stdout, dry.stdout
    assert "0 earlier drop(s) of a name skipped" in dry.stdout, dry.stdout
    assert "no longer made" not in dry.stdout, dry.stdout  # a_web~2.jpg was both (a review)
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert files_under(d.output) == ["a_thumb.webp", "a_thumb~2.webp", "a_web.jpg", "a_web~2.jpg"]
    assert _size(d.output / "a_web.jpg") == (160, 120) and _near(_colour(d.output / "a_web.jpg"), RED)
    assert _size(d.output / "a_web~2.jpg") == (160, 120) and _near(_colour(d.output / "a_web~2.jpg"), BLUE)


def test_a_new_filename_keeps_the_plain_name_with_the_photo_that_had_it(daemon_factory):
    """A new user: two different photos of a.jpg (a_web.jpg and a_web~2.jpg), and a new
    `filename`. Which one got the new plain name followed the archive's listing (a file's
    change time: a chmod, a restore), and --dry-run showed both writing it "(new)". The one
    that took its names first (the index of originals says) takes them first again."""
    d = daemon_factory(workers=1).start()
    _drop(d, "a.jpg", _solid(RED), 1)
    _drop(d, "a.jpg", _solid(BLUE), 2)
    assert files_under(d.output) == ["a_thumb.webp", "a_thumb~2.webp", "a_web.jpg", "a_web~2.jpg"]
    assert d.stop() == 0
    os.chmod(d.archive / "a.jpg", 0o640)  # its change time now: listed after a_1.jpg
    d.config.write_text(re.sub(r"( *)size: 320x320", r'\g<0>\n\1filename: "{stem}_big.{ext}"', d.config.read_text()))
    dry = hotfolder("rerender", "-n", "--config", str(d.config))
    assert "a.jpg → a_big.jpg (new), a_thumb.webp (replaced)" in dry.stdout, dry.stdout
    assert "a_1.jpg (came in as a.jpg) → a_big~2.jpg (renamed), a_thumb~2.webp (replaced)" in dry.stdout, dry.stdout
    assert "1 new, 1 new under another name" in dry.stdout, dry.stdout
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert _near(_colour(d.output / "a_big.jpg"), RED) and _near(_colour(d.output / "a_big~2.jpg"), BLUE)


def test_names_another_original_owns_are_never_taken(daemon_factory):
    """IMG_0001.jpg and IMG_0001.png share a name: each rerendered keeps its own outputs. An
    output put there by hand (no owner known) is left as it is."""
    d = daemon_factory().start()
    _drop(d, "IMG_0001.jpg", _solid(RED), 1)
    png = _png(d.root / "IMG_0001.png", BLUE)
    _drop(d, "IMG_0001.png", png.read_bytes(), 2)
    assert d.stop() == 0
    assert files_under(d.output) == ["IMG_0001_thumb.webp", "IMG_0001_thumb~png.webp", "IMG_0001_web.jpg",
                                     "IMG_0001_web~png.jpg"]
    c.write(d.archive / "hand.jpg", _solid(GREEN))  # archived by hand, its output made by hand too
    c.write(d.output / "hand_web.jpg", b"made by hand")
    _new_recipe(d)
    dry = hotfolder("rerender", "-n", "--config", str(d.config))
    assert "IMG_0001.png → IMG_0001_web~png.jpg (replaced), IMG_0001_thumb~png.webp (replaced)" in dry.stdout
    assert "hand.jpg → hand_web~jpg.jpg (renamed), hand_thumb.webp (new)" in dry.stdout, dry.stdout
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    out = d.output
    assert _near(_colour(out / "IMG_0001_web.jpg"), RED) and _near(_colour(out / "IMG_0001_web~png.jpg"), BLUE)
    assert _size(out / "IMG_0001_web.jpg") == (160, 120) and _size(out / "IMG_0001_web~png.jpg") == (160, 120)
    assert (out / "hand_web.jpg").read_bytes() == b"made by hand"
    assert _near(_colour(out / "hand_web~jpg.jpg"), GREEN)


def test_a_name_a_file_brings_in_its_attributes_is_not_taken(daemon_factory):
    """The archive keeps the path a renamed re-drop came in with as the file's attribute
    `user.hotfolder.file_as`; a file can bring one of its own (`cp -a`, `rsync -X`). evil.jpg,
    claiming to have come in as victim.jpg, was rendered over victim.jpg's outputs by
    rerender (an attack round's finding). The index of originals never rendered those bytes
    under that name: the claim is not taken, and evil.jpg keeps to its own outputs."""
    d = daemon_factory().start()
    _drop(d, "victim.jpg", _solid(RED), 1)
    staged = c.write(d.root / "staging" / "evil.jpg", _solid(BLUE))
    try:
        os.setxattr(staged, "user.hotfolder.file_as", b"victim.jpg".hex().encode())
    except OSError as exc:
        pytest.skip(f"no user extended attributes here: {exc}")
    staged.rename(d.inbox / "evil.jpg")
    wait_for(lambda: len(archived(d)) == 2, 20, what="evil.jpg archived")
    assert d.stop() == 0
    assert files_under(d.output) == ["evil_thumb.webp", "evil_web.jpg", "victim_thumb.webp", "victim_web.jpg"]
    _new_recipe(d)
    dry = hotfolder("rerender", "-n", "--config", str(d.config))
    assert "evil.jpg → evil_web.jpg (replaced)" in dry.stdout and "came in as" not in dry.stdout, dry.stdout
    said = hotfolder("explain", "--config", str(d.config), str(d.archive / "evil.jpg"))
    assert "evil_web.jpg" in said.stdout and "victim" not in said.stdout, said.stdout
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert "rendered 2 of 2" in done.stderr, done.stderr
    assert _size(d.output / "victim_web.jpg") == (160, 120) and _near(_colour(d.output / "victim_web.jpg"), RED)
    assert _size(d.output / "evil_web.jpg") == (160, 120) and _near(_colour(d.output / "evil_web.jpg"), BLUE)


def test_what_is_not_an_archived_original_is_refused_or_left_out(daemon_factory, tmp_path):
    d = daemon_factory().start()
    c.write(d.inbox / "clip" / "MVI_0003.MOV", b"\x00\x00\x00\x14ftypqt  " + bytes(600))  # passes through
    _drop(d, "clip/IMG_0002.jpg", _solid(GREEN), 2)
    assert d.stop() == 0
    outside = c.write(tmp_path / "elsewhere.jpg", _solid(RED))
    refused = hotfolder("rerender", "--config", str(d.config), str(outside))
    assert refused.returncode == 2 and "is not in the archive of any folder" in refused.stderr, refused.stderr
    assert "hotfolder process" in refused.stderr
    # A path that is nowhere (`archive/acme` typed from beside var/) is said to be nowhere, not
    # "not in the archive" (a new user)
    nowhere = hotfolder("rerender", "--config", str(d.config), "archive/acme")
    assert nowhere.returncode == 2 and "archive/acme: no such file or folder here" in nowhere.stderr, nowhere.stderr
    # `archive/../../elsewhere.jpg` was "in the archive", and a link to a folder outside it
    # led rerender to publish a file from there (an attack round)
    escaping = str(d.archive / ".." / ".." / ".." / outside.name)  # that is `outside`
    refused = hotfolder("rerender", "-n", "--config", str(d.config), escaping)
    assert refused.returncode == 2 and "a path with '..' is not taken" in refused.stderr, refused.stderr
    (tmp_path / "secret").mkdir()
    c.write(tmp_path / "secret" / "x.jpg", _solid(RED))
    os.symlink(tmp_path / "secret", d.archive / "linked")
    refused = hotfolder("rerender", "--config", str(d.config), str(d.archive / "linked" / "x.jpg"))
    assert refused.returncode == 2 and "symbolic link, which is not followed" in refused.stderr, refused.stderr
    assert not (d.output / "linked").exists()
    (d.archive / "linked").unlink()
    before = _tree(d.output)
    dry = hotfolder("rerender", "-n", "--config", str(d.config), str(d.archive / "clip"))
    assert "MVI_0003" not in dry.stdout and "clip/IMG_0002.jpg →" in dry.stdout, dry.stdout
    assert _tree(d.output) == before, "the dry run wrote"


def test_rerender_reads_the_index_without_making_it(daemon_factory):
    """A daemon finding its index made anew while archive/ holds originals rebuilds it from
    there; `rerender` before that start must not make it (it once did, and the daemon then
    took the empty index for a kept one)."""
    d = daemon_factory().start()
    _drop(d, "a.jpg", _solid(RED), 1)
    assert d.stop() == 0
    db = d.root / "var" / "state" / "hotfolder.db"
    for part in ("", "-wal", "-shm"):
        (db.parent / (db.name + part)).unlink(missing_ok=True)
    _new_recipe(d)
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert not db.exists(), "rerender made the index"
    assert _size(d.output / "a_web.jpg") == (160, 120)


def test_a_dry_run_shows_each_original_its_own_next_seq(daemon_factory):
    """Each original rendered again takes the next number: the dry run showed the same one
    for all (a review). Under on_duplicate: skip (the default), which the harness leaves
    out: the dry run took each archived original for a copy of itself and listed no output
    (a review of explain's question to the index)."""
    d = daemon_factory(folder_extra="on_duplicate: skip").start()
    _drop(d, "a.jpg", _solid(RED), 1)
    _drop(d, "b.jpg", _solid(BLUE), 2)
    assert d.stop() == 0
    d.config.write_text(re.sub(r"( *)size: 320x320", r'\g<0>\n\1filename: "{seq:04}_{stem}.{ext}"',
                               d.config.read_text()))
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    numbers = sorted(line.split("→ ", 1)[1][:4] for line in dry.stdout.splitlines() if "→" in line)
    assert numbers == ["0001", "0002"], dry.stdout


def _a_seq_rendition_rendered(daemon_factory, *, numbers_kept: bool = False):
    """A daemon whose `web` is named by `{seq}`, stopped after rendering a.jpg. Unless
    `numbers_kept`, its index forgets the number a.jpg took, as one written before the index
    kept them: rerender numbers its outputs anew."""
    import sqlite3

    d = daemon_factory(folder_extra="on_duplicate: skip")
    d.config.write_text(re.sub(r"( *)size: 320x320", r'\g<0>\n\1filename: "{seq:04}_{stem}.{ext}"',
                               d.config.read_text()))
    d.start()
    _drop(d, "a.jpg", _solid(RED), 1)
    assert d.stop() == 0
    if not numbers_kept:
        with sqlite3.connect(d.var / "state" / "hotfolder.db") as conn:
            assert conn.execute("UPDATE originals SET seq = NULL").rowcount == 1
        conn.close()
    return d


def test_rerender_gives_each_original_the_seq_number_it_took(daemon_factory):
    """The wedding audit: after the proof size changed, `hotfolder rerender` numbered every
    output of a `{seq}` name anew (0001_a.jpg stayed, 0002_a.jpg came beside it: a second
    set of the whole gallery); it gives each original the number it took, replacing its own."""
    d = _a_seq_rendition_rendered(daemon_factory, numbers_kept=True)
    (first,) = [p for p in d.outputs() if p.startswith("0001_a")]
    d.config.write_text(d.config.read_text().replace("size: 320x320", "size: 200x200"))
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert f"{first} (replaced)" in dry.stdout and "anew" not in dry.stdout, dry.stdout
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    assert sorted(d.outputs()) == sorted(["0001_a.jpg", "a_thumb.webp"]), d.outputs()
    assert max(_size(d.output / "0001_a.jpg")) == 200
    explained = hotfolder("explain", "--config", str(d.config), str(d.archive / "a.jpg"))
    assert "web → 0001_a.jpg" in explained.stdout and "the number it took" in explained.stdout, explained.stdout


def test_a_dry_run_says_seq_numbers_anew_rather_than_that_the_recipe_no_longer_makes_an_output(daemon_factory):
    """An unchanged rendition named by `{seq}` takes the next number where the index does not
    say which it took: its earlier output was said to be "no longer made by today's recipe",
    which it still makes (a publisher's audit)."""
    d = _a_seq_rendition_rendered(daemon_factory)
    (first,) = [p for p in d.outputs() if p.startswith("0001_a")]
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert f"{first} (not made again under this name: {{seq}} numbers each render anew; left as it is)" \
        in dry.stdout, dry.stdout
    assert "no longer made" not in dry.stdout, dry.stdout
    assert ("1 not made again under their names ({seq} numbers each render anew), left as they are (delete them "
            "if unwanted)") in dry.stdout, dry.stdout


def test_explain_foresees_a_copy_the_daemon_would_skip_and_writes_nothing(daemon_factory, tmp_path):
    """`explain` asks the index of originals (read only): a copy of an original rendered before
    was explained as a first drop, though the daemon would skip it (a review)."""
    d = daemon_factory(folder_extra="on_duplicate: skip").start()
    _drop(d, "a.jpg", _solid(RED), 1)
    assert d.stop() == 0
    copy, other = tmp_path / "card" / "copy.jpg", tmp_path / "card" / "other.jpg"
    c.write(copy, _solid(RED))
    c.write(other, _solid(BLUE))
    db = d.var / "state" / "hotfolder.db"
    before = (db.stat().st_mtime_ns, db.read_bytes())
    said = hotfolder("explain", "--config", str(d.config), str(copy), str(other), str(d.archive / "a.jpg"))
    assert said.returncode == 0, said.stderr
    first, rest = said.stdout.split(str(other))
    second, third = rest.split(str(d.archive / "a.jpg"))
    assert ("problem: it has the same bytes as test/a.jpg, archived as a.jpg: it would be skipped (on_duplicate: "
            f"skip), moved to {d.var / 'duplicates'}, nothing rendered") in first, said.stdout
    assert "problem" not in second and "applies: web → other_web.jpg" in second, said.stdout
    assert "problem" not in third, said.stdout  # the archived original itself is no copy of itself
    # Read only: SQLite may make the WAL's -shm and an empty -wal beside a database it reads, no more.
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before
    assert not (wal := db.with_name("hotfolder.db-wal")).exists() or wal.stat().st_size == 0


def test_an_output_written_after_rerender_started_is_kept(daemon_factory):
    """Run beside the daemon, rerender rendered the archived old version of u7.jpg over the
    outputs the daemon had just made of a new version dropped meanwhile (an attack round).
    An output written after the run started is a newer drop's: kept, and said. (The daemon's
    write is stood in for by the output's modification time, set past the run's start.)"""
    d = daemon_factory().start()
    _drop(d, "u7.jpg", _solid(RED), 1)
    _drop(d, "v.jpg", _solid(BLUE), 2)
    assert d.stop() == 0
    _new_recipe(d)
    newer = (d.output / "u7_web.jpg").read_bytes()
    later = time.time() + 3600
    os.utime(d.output / "u7_web.jpg", (later, later))
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert "rendered 1 of 2" in done.stderr and "1 kept as they were: a newer drop" in done.stderr, done.stderr
    assert "; 0 failed" in done.stderr, done.stderr  # a kept file was counted as failed (an attack round)
    assert (d.output / "u7_web.jpg").read_bytes() == newer
    assert _size(d.output / "v_web.jpg") == (160, 120)


def test_a_name_being_rendered_as_rerender_starts_is_left_to_the_daemon(daemon_factory):
    """A newer drop of u7.jpg was in processing/ as the run started: its outputs, written just
    before, were older than the run, and rerender put the archived old version over them (an
    attack round). A name in processing/ is the daemon's now: not rendered, said."""
    d = daemon_factory().start()
    _drop(d, "u7.jpg", _solid(RED), 1)
    assert d.stop() == 0
    _new_recipe(d)
    c.write(d.processing / "u7.jpg", _solid(BLUE))  # the daemon's, being rendered (stopped here: it stays)
    before = (d.output / "u7_web.jpg").read_bytes()
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0 and "1 whose name the daemon is rendering now: left to it" in done.stderr, done.stderr
    assert (d.output / "u7_web.jpg").read_bytes() == before


def test_rerender_replaces_its_own_outputs_after_the_output_folder_moved(daemon_factory):
    """The output folder copied to another disk (`cp -a`, the config pointed there) leaves
    outputs no name record names. The daemon replaces those a new version proves its own by
    their bytes (workers/provenance.py); rerender wrote a second set beside them
    (`a_web~jpg.jpg`, `a~jpg.json`), and its dry run said "renamed". It proves them as the
    daemon does; an output edited since (not the bytes a.jpg wrote) is still kept."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    _drop(d, "a.jpg", _solid(RED), 1)
    _drop(d, "b.jpg", _solid(BLUE), 2)
    assert d.stop() == 0
    d.move_output()
    (d.output / "b_thumb.webp").write_bytes((d.output / "b_thumb.webp").read_bytes() + b"\0")  # edited since
    _new_recipe(d)
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config), str(d.archive / "a.jpg"))
    assert dry.returncode == 0, dry.stderr
    # The manifest too: the run replaces it (proved by its bytes), and the dry run said nothing of it
    assert "a.jpg → a_web.jpg (replaced), a_thumb.webp (replaced), a.json (replaced)\n" in dry.stdout, dry.stdout
    done = hotfolder("rerender", "--config", str(d.config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert files_under(d.output) == ["a.json", "a_thumb.webp", "a_web.jpg", "b.json", "b_thumb.webp",
                                     "b_thumb~jpg.webp", "b_web.jpg"], "a second set of outputs"
    assert _size(d.output / "a_web.jpg") == (160, 120) and _size(d.output / "b_web.jpg") == (160, 120)
    assert "1 output(s) kept" in done.stderr and "b_thumb.webp" in done.stderr, done.stderr


def test_a_dry_run_and_explain_write_nothing_in_state_dir_after_its_name_records_were_deleted(daemon_factory):
    """state_dir/names deleted (the case the proof by bytes is for): `rerender --dry-run`
    took the names lock as a run does, which made names/ and its .lock again (as root, a
    folder of root's the daemon's user could not write its records in). Nothing is made;
    the database's -wal and -shm are SQLite's own, made with its owner."""
    d = daemon_factory().start()
    _drop(d, "a.jpg", _solid(RED), 1)
    assert d.stop() == 0
    state = d.var / "state"
    shutil.rmtree(state / "names")
    before = sorted(p.relative_to(state).as_posix() for p in state.rglob("*") if "hotfolder.db-" not in p.name)
    _new_recipe(d)
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "a.jpg → a_web.jpg (replaced), a_thumb.webp (replaced)" in dry.stdout, dry.stdout
    explained = hotfolder("explain", "--config", str(d.config), str(d.archive / "a.jpg"))
    assert explained.returncode == 0, explained.stderr
    after = sorted(p.relative_to(state).as_posix() for p in state.rglob("*") if "hotfolder.db-" not in p.name)
    assert after == before, "a dry run made files in state_dir"


def test_a_dry_run_tells_an_output_numbered_anew_from_one_the_recipe_no_longer_makes(daemon_factory):
    """With one rendition named by `{seq}`, every output left was said to be numbered anew,
    also that of another rendition whose `filename` changed, which today's recipe no longer
    makes (the earlier wording's case): each is said for what it is."""
    d = _a_seq_rendition_rendered(daemon_factory)
    assert {"0001_a.jpg", "a_thumb.webp"} <= set(d.outputs()), d.outputs()
    d.config.write_text(re.sub(r"( *)size: 64x64", r'\g<0>\n\1filename: "{stem}_small.{ext}"',
                               d.config.read_text()))
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "0001_a.jpg (not made again under this name: {seq} numbers each render anew; left as it is)" \
        in dry.stdout, dry.stdout
    assert "a_thumb.webp (no longer made: left as it is)" in dry.stdout, dry.stdout
    assert "1 not made again under their names ({seq} numbers each render anew), left as they are" in dry.stdout
    assert "1 no longer made by today's recipe, left as they are" in dry.stdout, dry.stdout


def test_an_original_numbered_anew_by_rerender_keeps_that_number_at_the_next(daemon_factory):
    """An original the index had no `{seq}` number for (rendered before this version) takes the
    next number at a rerender, a second set beside the first, as said; the index did not keep
    that number, so each rerender after made one more set (0002_a.jpg, then 0003_a.jpg beside
    it, the whole gallery again each time). The number it took is kept: the next replaces it."""
    d = _a_seq_rendition_rendered(daemon_factory)
    d.config.write_text(d.config.read_text().replace("size: 320x320", "size: 200x200"))
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    assert sorted(d.outputs()) == sorted(["0001_a.jpg", "0002_a.jpg", "a_thumb.webp"]), d.outputs()
    d.config.write_text(d.config.read_text().replace("size: 200x200", "size: 180x180"))
    dry = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "0002_a.jpg (replaced)" in dry.stdout and "render anew" not in dry.stdout, dry.stdout
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    assert sorted(d.outputs()) == sorted(["0001_a.jpg", "0002_a.jpg", "a_thumb.webp"]), d.outputs()
    assert max(_size(d.output / "0002_a.jpg")) == 180
