"""Where outputs go (workers/naming.py): the template after the file's subfolder unless it
names `{subdir}`; a name that comes out empty fails the file; templated names keep the
clash rules (spool/owners.py)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import time

import pytest

from hotfolder.config.model import Rendition
from hotfolder.recipes.facts import Facts
from hotfolder.spool import owners
from hotfolder.workers.choice import subdir_of
from hotfolder.workers.naming import EmptyName, planned_rel
from tests.unit.test_spool import make_folder

VALUES = {"taken": dt.datetime(2024, 5, 1, 9, 0), "camera": "Canon EOS R5", "lens": None, "seq": 7}


def _put(marker, owner: str, present: bool) -> None:
    """A marker written as a reserve writes it: under the lock, in its bucket by descriptor."""
    with owners._locked(marker.parent.parent) as buckets:
        owners._write(buckets, marker, owner, present=present)


def rel_of(filename: str, rel: str, values=VALUES) -> str:
    facts = Facts(rel.rsplit("/", 1)[-1], subdir_of(rel), "studio")
    return planned_rel(Rendition(name="web", filename=filename), "jpg", (100, 80), rel, "studio",
                       {**facts.values(), **values})


@pytest.mark.parametrize("filename, rel, out", [
    ("{stem}_{rendition}.{ext}", "clients/acme/a.png", "clients/acme/a_web.jpg"),  # as before
    ("{taken:%Y/%m}/{stem}.{ext}", "clients/acme/a.png", "clients/acme/2024/05/a.jpg"),
    ("{subdir}/{taken:%Y}/{stem}.{ext}", "clients/acme/a.png", "clients/acme/2024/a.jpg"),  # where it says, once
    ("{taken:%Y}/{subdir}/{stem}.{ext}", "clients/acme/a.png", "2024/clients/acme/a.jpg"),
    ("{subdir}/{stem}.{ext}", "a.png", "a.jpg"),  # at the inbox's top: no empty folder
    ("{stem}_{width}x{height}.{ext}", "a.png", "a_100x80.jpg"),
    ("{seq:03}_{stem}.{ext}", "a.png", "007_a.jpg"),
    # A folder per photo, a file per rendition: the name's own fields make the last part
    # (each failed the file as "no file name" until the check saw them; a review).
    ("{stem}/{rendition}.{ext}", "IMG_0001.jpg", "IMG_0001/web.jpg"),
    ("{taken:%Y}/{stem}/{rendition}.{ext}", "a.png", "2024/a/web.jpg"),
    ("shoot/{folder}.{ext}", "a.png", "shoot/studio.jpg"),
    ("by-type/{source_ext}/{stem}.{ext}", "a.png", "by-type/png/a.jpg"),
])
def test_where_an_output_goes(filename, rel, out):
    assert rel_of(filename, rel) == out


@pytest.mark.parametrize("filename, rel, out", [
    ("orig/{name}", "a.png", "orig/a.jpg"),  # wrote JPEG bytes into orig/a.png (a review)
    ("orig/{name}", "a.JPG", "orig/a.JPG"),  # the original's own spelling of the output's format
    ("src/{stem}.{source_ext}", "t.tif", "src/t.jpg"),
    ("src/{stem}.{source_ext}", "r.cr3", "src/r.jpg"),
    ("{stem}.{title}", "a.png", "a.Sunset v1.2.jpg"),  # not a format's extension: the output's is added
])
def test_a_name_from_the_original_ends_in_the_extension_of_what_the_output_holds(filename, rel, out):
    assert rel_of(filename, rel, {**VALUES, "title": "Sunset v1.2"}) == out


def test_a_name_the_photo_leaves_empty_fails_the_file_and_says_what_to_add():
    with pytest.raises(EmptyName, match=r"add \|default\(text\)"):
        rel_of("{stem}/{lens}.{ext}", "a.png")
    assert rel_of("{stem}/{lens|default(no-lens)}.{ext}", "a.png") == "a/no-lens.jpg"


def test_a_caption_too_long_for_a_name_is_named_with_the_cut_that_fits():
    # A picture desk's audit: `{description}_{stem}.{ext}` of a wire photo's 600-byte caption
    # failed saying to shorten the input's name (`a.jpg`: 5 bytes) or to cut `{camera:.40}`,
    # a field the template has not. The field that made the name long is named, with a cut.
    from hotfolder.spool.fsnames import NameTooLong

    caption = "Bürgermeister Müller eröffnet die Straße in Köln. " * 12
    with pytest.raises(NameTooLong) as raised:
        rel_of("{description}_{stem}.{ext}", "a.jpg", {**VALUES, "description": caption})
    said = str(raised.value)
    assert "its {description} gives 660 of them" in said and "`{description:.60}`" in said, said
    assert "input's name" not in said and "{camera" not in said, said
    assert len(rel_of("{description:.60}_{stem}.{ext}", "a.jpg", {**VALUES, "description": caption})) < 255


def test_templated_names_keep_the_clash_rules(tmp_path):
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    first = folder.output / rel_of("{taken:%Y}/{stem}.{ext}", "a.jpg")
    second = folder.output / rel_of("{taken:%Y}/{stem}.{ext}", "a.png")
    assert first == second == folder.output / "2024" / "a.jpg"
    assert owners.reserve(folder, "a.jpg", [first]) == [first]
    first.parent.mkdir()
    first.write_bytes(b"a.jpg's")
    assert owners.reserve(folder, "a.png", [second]) == [folder.output / "2024" / "a~png.jpg"]  # never replaced
    assert owners.why_not_taken(folder, "a.png", first) == "another" and not owners.why_not_taken(folder, "a.jpg",
                                                                                                    first)


def test_a_case_twin_of_the_owner_s_extension_gets_a_number_and_keeps_a_tag_it_holds(tmp_path):
    """IMG_1.jpg beside IMG_1.JPG's output: `~jpg` would tell nothing, so `~2`; an original
    that holds `~jpg` already (written before this rule) keeps writing there, not a second set."""
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    out = folder.output / "IMG_1_web.jpg"
    assert owners.reserve(folder, "IMG_1.JPG", [out]) == [out]
    out.write_bytes(b"IMG_1.JPG's")
    assert owners.reserve(folder, "IMG_1.jpg", [out]) == [folder.output / "IMG_1_web~2.jpg"]
    assert owners.reserve(folder, "IMG_1.Jpg", [out]) == [folder.output / "IMG_1_web~3.jpg"]
    assert owners.reserve(folder, "IMG_1.png", [out]) == [folder.output / "IMG_1_web~png.jpg"]
    tagged = folder.output / "IMG_1_web~jpeg.jpg"  # IMG_1.jpeg holds its tag from before
    _put(owners._marker(folder.names_dir, tagged), owners.owner_id(folder, "IMG_1.jpeg"), present=False)
    tagged.write_bytes(b"IMG_1.jpeg's")
    _put(owners._marker(folder.names_dir, out), owners.owner_id(folder, "IMG_1.JPEG"), present=True)
    assert owners.reserve(folder, "IMG_1.jpeg", [out]) == [tagged]


def test_a_name_being_written_by_process_is_not_taken_by_another_original(tmp_path):
    """`hotfolder process` of a.jpg and a.png at once: a.jpg had reserved a_thumb.webp and
    was writing it; a.png took the marker for stale (no output yet, its owner not in
    processing/), and both thumbnails were written to one name (CI saw 3 outputs of 4)."""
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    out = folder.output / "a_thumb.webp"
    batch = tmp_path / "batch"
    assert owners.reserve(folder, "a.jpg", [out], source=batch / "a.jpg") == [out]
    assert owners.reserve(folder, "a.png", [out], source=batch / "a.png") == [folder.output / "a_thumb~png.webp"]
    # Once no write of it can be under way, a name whose output is gone is free again.
    then = time.time() - owners.RESERVED_FOR - 60
    os.utime(owners._marker(folder.names_dir, out), (then, then), follow_symlinks=False)
    assert owners.reserve(folder, "a.jpg", [out], source=batch / "later" / "a.jpg") == [out]


def test_a_names_record_is_one_link_naming_its_owner_made_or_handed_over_whole(tmp_path):
    """A new name's marker is one symlink (its bucket made with the first); a name handed to
    another original (on_name_clash: replace) is relinked through a rename: either way the
    marker names one owner, and no temp link is left in the records."""
    names = tmp_path / "names"
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=names)
    out = folder.output / "a_web.jpg"
    assert owners.reserve(folder, "a.jpg", [out]) == [out]
    marker = owners._marker(names, out)
    assert marker.is_symlink() and owners._read(marker) == owners.owner_id(folder, "a.jpg")
    out.write_bytes(b"a.jpg's")
    taker = dataclasses.replace(folder, on_name_clash="replace")
    assert owners.reserve(taker, "a.png", [out]) == [out]
    assert owners._read(marker) == owners.owner_id(folder, "a.png")
    shutil.rmtree(names)  # the records removed while running: made again at the next reserve
    assert owners.reserve(folder, "b.jpg", [folder.output / "b_web.jpg"]) == [folder.output / "b_web.jpg"]
    left = [p.name for p in names.rglob("*") if p.name.startswith(".") and p.name != ".lock"]
    assert left == [] and owners._read(owners._marker(names, folder.output / "b_web.jpg"))


def test_an_original_s_markers_share_one_inode_and_one_handed_over_leaves_the_others(tmp_path):
    """An original's second and later markers are hard links to its first (a symlink): no inode
    each, which cost up to 0.7 ms of CPU on an ext4 stepping over deleted inodes (measured).
    Each still names its owner; a name handed to another original is relinked by itself."""
    names = tmp_path / "names"
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=names)
    outs = [folder.output / f"a_{r}.jpg" for r in ("web", "thumb", "print")]
    assert owners.reserve(folder, "a.jpg", outs) == outs
    markers = [owners._marker(names, o) for o in outs]
    folds = [owners._fold_marker(names, o) for o in outs]  # the names whatever their case: the same inode
    assert len({m.lstat().st_ino for m in markers + folds}) == 1 and markers[0].lstat().st_nlink == 6
    assert all(m.is_symlink() and owners._read(m) == owners.owner_id(folder, "a.jpg") for m in markers)
    outs[0].write_bytes(b"a.jpg's")
    taker = dataclasses.replace(folder, on_name_clash="replace")
    assert owners.reserve(taker, "a.png", [outs[0]]) == [outs[0]]
    assert owners._read(markers[0]) == owners.owner_id(folder, "a.png")
    assert [owners._read(m) for m in markers[1:]] == [owners.owner_id(folder, "a.jpg")] * 2


def _render_one(tmp_path, filename: str, model: str):
    """A camera JPEG of `model` rendered by a folder whose one rendition is named `filename`."""
    import textwrap

    from PIL import Image

    from hotfolder import jobs
    from hotfolder.config import parse
    from hotfolder.spool import moves
    from hotfolder.workers import render
    from tests.imaging import photo

    cfg = parse(textwrap.dedent(f"""\
        folders:
          - inbox: in
            output: out
            archive: archive
            failed: failed
            renditions:
              - {{name: bycam, size: 64, format: jpeg, filename: "{filename}"}}
        """), "<test>", tmp_path)
    folder = cfg.folders[0]
    for place in folder.all_dirs():
        place.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", model
    photo((120, 80)).save(folder.inbox / "a.jpg", exif=exif.tobytes())
    claimed = moves.claim(folder, folder.inbox / "a.jpg")
    return folder, render.process_one(jobs.Job(1, folder, claimed.path, claimed.rel, cfg.accepted_formats,
                                                cfg.max_image_pixels))


def test_a_name_the_photo_makes_too_long_names_the_rendition_and_how_to_cut_a_field(tmp_path):
    folder, result = _render_one(tmp_path, "{stem}_{model}.{ext}", "M" * 300)
    assert not result.ok and result.step == "write"
    assert result.error.startswith("the output name of rendition bycam a_MMM"), result.error
    assert "its {model} gives 300 of them" in result.error and "`{model:.60}`" in result.error
    assert not any(folder.output.rglob("*.jpg"))


def test_an_output_path_longer_than_path_max_fails_naming_the_rendition_and_writes_nothing(tmp_path):
    """Each part within 255 bytes, 17 folders of a 250-byte model: the whole path passed
    4,095 bytes and was written by descriptor, where no program can open it by name (a review)."""
    folder, result = _render_one(tmp_path, "{model}/" * 17 + "{stem}.{ext}", "M" * 250)
    assert not result.ok and result.step == "write"
    assert result.error.startswith("the output path of rendition bycam ("), result.error
    assert "PATH_MAX" in result.error and "`{model:.40}`" in result.error
    assert not any(p.is_file() for p in folder.output.rglob("*"))
    folder, result = _render_one(tmp_path / "short", "{model}/" * 2 + "{stem}.{ext}", "M" * 250)
    assert result.ok, result.error


def test_an_output_proved_its_own_but_rewritten_in_place_since_with_its_times_put_back_is_kept(tmp_path):
    """provenance.proven hashes an output of no record and notes it (owners.Identity); reserve_told
    replaces it only if it is still that file. A rewrite in place of the same size whose mtime was
    put back (`touch -r`, a tool keeping times) left dev, inode, size and mtime as they were: the
    user's new bytes were replaced as this original's. The change time, which no one can set,
    tells it."""
    from hotfolder.workers import provenance

    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    folder.output.mkdir(parents=True, exist_ok=True)
    out = folder.output / "a_web.jpg"
    out.write_bytes(b"what a.jpg wrote")
    digest = provenance.output_hash(b"what a.jpg wrote")

    class Index:
        def written(self, *_):
            from hotfolder.state.originals import Written
            return [Written(1, ("a_web.jpg",), (digest,))]

        def written_since(self, *_):
            return False

    seen = provenance.proven(folder, "a.jpg", 0, [out], Index())
    assert out in seen
    st = os.stat(out)
    time.sleep(0.01)
    with open(out, "r+b") as f:  # the user's own bytes, same size, in the same inode
        f.write(b"the user's bytes")
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    taken, _ = owners.reserve_told(folder, "a.jpg", [out], proven=seen)
    assert taken[0].path != out and taken[0].kept == "unknown"
    assert out.read_bytes() == b"the user's bytes"


# --- names that differ only in case: one name on an SMB share, exFAT, NTFS, APFS -----------

def test_outputs_whose_names_differ_only_in_case_never_share_a_name(tmp_path):
    """IMG_0001.JPG and img_0001.jpg rendered at once into an exFAT output: the second write
    replaced the first (20 originals, 19 outputs, every one said done). The second now moves
    over as for any other original's name, written or not yet."""
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    first, second = folder.output / "IMG_0001_web.jpg", folder.output / "img_0001_web.jpg"
    assert owners.reserve(folder, "IMG_0001.JPG", [first]) == [first]  # reserved, not written yet
    assert owners.reserve(folder, "img_0001.jpg", [second]) == [folder.output / "img_0001_web~jpg.jpg"]
    first.write_bytes(b"IMG_0001.JPG's")
    (folder.output / "img_0001_web~jpg.jpg").write_bytes(b"img_0001.jpg's")
    assert owners.reserve(folder, "Img_0001.jpg", [folder.output / "Img_0001_WEB.jpg"]) == [
        folder.output / "Img_0001_WEB~2.jpg"]
    # a title's case (`Anna/`, `ANNA/`) as a folder: the folders' case counts too
    anna = folder.output / "Anna" / "a_web.jpg"
    assert owners.reserve(folder, "a.jpg", [anna]) == [anna]
    assert owners.reserve(folder, "b/a.jpg", [folder.output / "ANNA" / "a_web.jpg"]) == [
        folder.output / "ANNA" / "a_web~jpg.jpg"]
    assert owners.why_not_taken(folder, "img_0001.jpg", second) == "case"
    planned = owners.plan(folder, "x/img_0001.jpg", [folder.output / "IMG_0001_Web.jpg"])
    # its ~jpg and ~2 are held in other cases
    assert [(p.path.name, p.how) for p in planned] == [("IMG_0001_Web~3.jpg", "renamed")]
    # a dry run of several: a name an original before it would have written, in another case
    taken = owners.PlannedNames()
    taken[folder.output / "Q_web.jpg"] = owners.owner_id(folder, "Q.jpg")
    planned = owners.plan(folder, "q.jpg", [folder.output / "q_web.jpg"], planned=taken)
    assert [(p.path.name, p.how) for p in planned] == [("q_web~jpg.jpg", "renamed")]
    with pytest.raises(owners.NameClash, match="differs only in case"):
        owners.reserve(dataclasses.replace(folder, on_name_clash="fail"), "y/img_0001.jpg", [second])
    # the message shows where the case differs (a folder's) and what tells the two apart: {source_ext}
    # does not (`jpg` of both IMG_1.JPG and img_1.jpg)
    with pytest.raises(owners.NameClash) as clash:
        owners.reserve(dataclasses.replace(folder, on_name_clash="fail"), "e/a.jpg",
                       [folder.output / "anna" / "a_web.jpg"])
    assert "anna/a_web.jpg differs only in case" in str(clash.value)
    assert "{seq}" in str(clash.value) and "{source_ext}" not in str(clash.value)
    # long after, its record no longer recent: the file in another case, its folder's too, still holds it
    anna.parent.mkdir()
    anna.write_bytes(b"a.jpg's")
    then = time.time() - owners.RESERVED_FOR - 60
    for out in (first, anna):
        os.utime(owners._fold_marker(folder.names_dir, out), (then, then), follow_symlinks=False)
    assert owners.reserve(folder, "c/a.jpg", [folder.output / "aNNa" / "a_WEB.jpg"]) == [
        folder.output / "aNNa" / "a_WEB~2.jpg"]  # ~jpg: b/a.jpg's, in another case
    assert owners.reserve(folder, "d/IMG_0001.JPG", [folder.output / "IMG_0001_WEB.jpg"])[0].name != \
        "IMG_0001_WEB.jpg"


def test_an_original_keeps_its_own_names_in_any_case_and_those_written_apart_before(tmp_path):
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    anna = folder.output / "Anna_a_web.jpg"
    assert owners.reserve(folder, "a.jpg", [anna]) == [anna]
    anna.write_bytes(b"a.jpg's")
    # its title in capitals now: its own name still (a file system blind to case replaces it in place)
    assert owners.reserve(folder, "a.jpg", [folder.output / "ANNA_a_web.jpg"]) == [folder.output / "ANNA_a_web.jpg"]
    # Two outputs written apart before this rule, each with its own exact record: each keeps its name
    old_a, old_b = folder.output / "K_web.jpg", folder.output / "k_web.jpg"
    for out, rel in ((old_a, "K.jpg"), (old_b, "k.jpg")):
        _put(owners._marker(folder.names_dir, out), owners.owner_id(folder, rel), present=False)
        out.write_bytes(rel.encode())
    assert owners.reserve(folder, "K.jpg", [old_a]) == [old_a]
    assert owners.reserve(folder, "k.jpg", [old_b]) == [old_b]
    assert owners.reserve(folder, "K.jpg", [old_a]) == [old_a]
    # two renditions of one original whose names differ only in case: the second moves over
    outs = [folder.output / "z_Web.jpg", folder.output / "z_web.jpg"]
    assert owners.reserve(folder, "z.jpg", outs) == [outs[0], folder.output / "z_web~jpg.jpg"]


def test_a_name_whose_other_case_is_gone_is_free_again_and_its_record_pruned(tmp_path):
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    first = folder.output / "IMG_0002_web.jpg"
    assert owners.reserve(folder, "IMG_0002.JPG", [first]) == [first]
    first.write_bytes(b"IMG_0002.JPG's")
    pruned = owners.prune((folder,))
    assert pruned.removed == 0 and owners._read(owners._fold_marker(folder.names_dir, first))  # its output is there
    first.unlink()  # taken away by the studio, long ago
    then = time.time() - owners.RESERVED_FOR - 60
    for m in (owners._marker(folder.names_dir, first), owners._fold_marker(folder.names_dir, first)):
        os.utime(m, (then, then), follow_symlinks=False)
    second = folder.output / "img_0002_web.jpg"
    assert owners.reserve(folder, "img_0002.jpg", [second]) == [second]
    second.write_bytes(b"img_0002.jpg's")
    assert owners.prune((folder,)).removed == 1  # IMG_0002_web.jpg's own record; the folded one is img's now
    assert owners._read(owners._fold_marker(folder.names_dir, first)) == owners.owner_id(folder, "img_0002.jpg")


def test_names_of_bytes_that_are_not_utf8_are_folded_too(tmp_path):
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    a, b = (folder.output / os.fsdecode(n) for n in (b"Caf\xe9_web.jpg", b"CAF\xe9_web.jpg"))
    assert owners.reserve(folder, os.fsdecode(b"Caf\xe9.jpg"), [a]) == [a]
    moved = b.with_name(os.fsdecode(b"CAF\xe9_web~jpg.jpg"))
    assert owners.reserve(folder, os.fsdecode(b"CAF\xe9.jpg"), [b]) == [moved]


def test_outputs_written_before_the_case_rule_hold_their_names_in_any_case_after_the_start_s_prune(tmp_path):
    """An upgrade: the release before wrote each output's own marker only. With no marker of the
    name in any case, `img_0001.jpg` (another photo) wrote img_0001_web.jpg beside the
    IMG_0001_web.jpg written before (ext4: two files an SMB share's clients take for one; a run of
    7f7a684's daemon, then this one's). The start's prune makes the missing markers."""
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    old = {"IMG_0001.jpg": folder.output / "IMG_0001_web.jpg", "a.jpg": folder.output / "Anna" / "a_web.jpg",
           "K.jpg": folder.output / "K_web.jpg", "k.jpg": folder.output / "k_web.jpg"}  # two apart before
    for rel, out in old.items():  # as the release before wrote them: one marker each
        _put(owners._marker(folder.names_dir, out), owners.owner_id(folder, rel), present=False)
        out.parent.mkdir(exist_ok=True)
        out.write_bytes(rel.encode())
    then = time.time() - owners.RESERVED_FOR - 60
    for m in folder.names_dir.rglob("*"):
        os.utime(m, (then, then), follow_symlinks=False)
    pruned = owners.prune((folder,))
    assert pruned.removed == 0
    assert owners.reserve(folder, "img_0001.jpg", [folder.output / "img_0001_web.jpg"]) == [
        folder.output / "img_0001_web~jpg.jpg"]
    assert owners.reserve(folder, "b/a.jpg", [folder.output / "ANNA" / "a_web.jpg"]) == [
        folder.output / "ANNA" / "a_web~jpg.jpg"]
    # each original written before keeps its own name, in its case
    for rel, out in old.items():
        assert owners.reserve(folder, rel, [out]) == [out]
    assert owners.prune((folder,)).removed == 0  # the markers made are of live outputs


def test_a_prune_holds_a_few_bytes_an_output_not_its_names(tmp_path):
    """The main process prunes at every start and as the outputs grow: what it holds meanwhile
    must not be the outputs' names (a dict of the keys as text held ~840 bytes an output:
    108 MiB more at 100,000 outputs; bench/names_prune.py)."""
    import tracemalloc

    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    n = 2000
    for i in range(n):  # one flat folder, as a studio's output often is
        out = folder.output / f"IMG_{i:07d}_web.jpg"
        for marker in (owners._marker(folder.names_dir, out), owners._fold_marker(folder.names_dir, out)):
            marker.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(owners.owner_id(folder, f"IMG_{i:07d}.jpg"), marker)
        os.close(os.open(out, os.O_CREAT | os.O_WRONLY, 0o644))
    gone = folder.output / "gone_web.jpg"
    _put(owners._marker(folder.names_dir, gone), owners.owner_id(folder, "gone.jpg"), present=False)
    then = time.time() - owners.RESERVED_FOR - 60
    os.utime(owners._marker(folder.names_dir, gone), (then, then), follow_symlinks=False)
    tracemalloc.start()
    try:
        pruned = owners.prune((folder,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (pruned.kept, pruned.removed) == (2 * n, 1)
    assert peak / n < 200, f"{peak / n:.0f} bytes an output"  # 713 before, 97 now


def test_a_prune_never_removes_a_live_marker_whose_first_64_bits_another_shares(tmp_path):
    """The prune holds 64 bits of each marker's name (_Keys): two names sharing them, made here
    by hand (sha-256's odds are ~n²/2**64), are one to it. Whatever it decides of the pair, a
    marker of an output there stays: one original's output never becomes a free name that
    another's replaces."""
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    out = folder.output / "IMG_0001_web.jpg"
    os.close(os.open(out, os.O_CREAT | os.O_WRONLY, 0o644))
    live = owners._marker(folder.names_dir, out)
    _put(live, owners.owner_id(folder, "IMG_0001.jpg"), present=False)
    twin = live.parent / (live.name[:16] + ("0" if live.name[16] != "0" else "1") + live.name[17:])
    _put(twin, owners.owner_id(folder, "other.jpg"), present=False)  # a stale marker of no output
    then = time.time() - owners.RESERVED_FOR - 60
    for marker in (live, twin, owners._fold_marker(folder.names_dir, out)):
        if os.path.lexists(marker):
            os.utime(marker, (then, then), follow_symlinks=False)
    owners.prune((folder,))
    assert os.path.lexists(live) and os.path.lexists(twin)  # the stale one kept with it: harmless
    assert owners.reserve(folder, "IMG_0002.jpg", [out]) != [out]  # the name is still IMG_0001's
    out.unlink()
    for marker in folder.names_dir.glob("*/*"):
        os.utime(marker, (then, then), follow_symlinks=False)
    owners.prune((folder,))
    assert not os.path.lexists(live) and not os.path.lexists(twin)  # both go once the output has


@pytest.mark.parametrize("name", ["-" + "f" * 63, "+" + "f" * 63, "0x" + "f" * 62, "f_f" + "0" * 61])
def test_a_stray_file_in_names_dir_with_a_marker_s_length_is_no_marker(tmp_path, name):
    """A 64-character name that is no hex digest (a file put in state_dir/names by hand, an
    editor's backup) was read by int(…, 16) as a number: `-fff…` as a negative one, which the
    prune's array of unsigned keys refused (OverflowError): every start of the daemon failed."""
    folder = dataclasses.replace(make_folder(tmp_path), names_dir=tmp_path / "names")
    out = folder.output / "IMG_0001_web.jpg"
    os.close(os.open(out, os.O_CREAT | os.O_WRONLY, 0o644))
    _put(owners._marker(folder.names_dir, out), owners.owner_id(folder, "IMG_0001.jpg"), present=False)
    stray = folder.names_dir / "ff" / name
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("")
    then = time.time() - owners.RESERVED_FOR - 60
    os.utime(stray, (then, then))
    pruned = owners.prune((folder,))
    assert os.path.lexists(owners._marker(folder.names_dir, out))
    assert pruned.removed == 1 and not stray.exists()  # as any other stale file there
