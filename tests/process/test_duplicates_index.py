"""The fingerprints (engine/fingerprint) and the index of originals (state/originals): real
photos, a real SQLite file, real processes claiming at once, crashes at each step."""
from __future__ import annotations

import io
import multiprocessing
import os
import time

from PIL import Image

from hotfolder.engine import fingerprint
from hotfolder.likeness import Kind, Look, alike, distance
from hotfolder.state.originals import DUPLICATE, RENDERED, Entry, Originals, job_key
from tests import index_scenarios
from tests.same_photos import card, jpeg, scene, shot

A, B = "a" * 64, "b" * 64  # content hashes (hex)


def _look(data: bytes, draft: tuple[int, int] | None = None) -> Look:
    im = Image.open(io.BytesIO(data))
    orientation = im.getexif().get(0x0112, 1)
    size = im.size
    if draft:
        im.draft("RGB", draft)
    im.load()
    return fingerprint.look_of(im, orientation, size)


def test_copies_are_alike_and_a_second_shot_is_not():
    for which in ("astronaut", "coffee", "chelsea"):
        looks = {k: _look(v) for k, v in card(which).items()}
        first = looks["first"]
        assert alike(first, looks["resized"], 6), which
        assert alike(first, looks["turned"], 6), which  # the same photo stored turned, with its EXIF tag
        assert (looks["turned"].width, looks["turned"].height) == (first.width, first.height)
        assert distance(first.phash, looks["second"].phash) >= 12, which  # reframed by 15 %
        assert not alike(first, looks["second"], 6)
    assert distance(_look(card("astronaut")["first"]).phash, _look(card("coffee")["first"]).phash) > 12


def test_the_hash_does_not_depend_on_the_decoded_scale():
    """The recipe decides a JPEG's DCT draft; the hash must be the picture's, not the draft's."""
    big = scene("astronaut").resize((2048, 2048), Image.Resampling.LANCZOS)
    data = jpeg(big)
    full = _look(data)
    for scale in ((1024, 1024), (512, 512)):
        assert distance(full.phash, _look(data, draft=scale).phash) <= 2
    assert bin(full.phash).count("1") == 32  # the median threshold: distances are even


def test_grey_copy_of_a_colour_photo_is_not_alike():
    """The second look: a greyscale version of a colourful photo is another picture (czkawka's
    users asked for it), though its pHash is the same."""
    colour = shot(scene("coffee"))
    grey = _look(jpeg(colour.convert("L").convert("RGB")))
    assert distance(_look(jpeg(colour)).phash, grey.phash) <= 4
    assert not alike(_look(jpeg(colour)), grey, 6)


def test_content_hash_is_of_the_bytes_read_once_or_in_chunks(tmp_path, monkeypatch):
    path = tmp_path / "a.jpg"
    path.write_bytes(os.urandom(3_000_000))
    whole = fingerprint.read_original(path)
    assert whole.data == path.read_bytes() and len(whole.content) == 64
    monkeypatch.setattr(fingerprint, "READ_WHOLE", 1_000_000)  # a "large" file: hashed in chunks, not kept
    chunked = fingerprint.read_original(path)
    assert chunked.data is None and chunked.content == whole.content


def _claimer(state_dir, path, job, barrier, out):
    index = Originals(state_dir)
    barrier.wait(10)
    out.put(index.claim(A, job, path, folder="f", scope_all=False, since=0).verdict)


def test_one_claim_among_processes(tmp_path):
    """Four processes claim the same bytes at once: exactly one renders them."""
    Originals(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    files = []
    for i in range(4):
        files.append(tmp_path / f"p{i}.jpg")
        files[-1].write_bytes(b"x")
    procs = [ctx.Process(target=_claimer, args=(tmp_path, files[i], i + 1, barrier, out)) for i in range(4)]
    for p in procs:
        p.start()
    verdicts = sorted(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert verdicts == ["busy", "busy", "busy", "new"]


def _entry(content, job, name, state=RENDERED, look=None, **kw) -> Entry:
    return Entry(content, job, state, "f", name, 10, look=look, **kw)


def test_duplicate_after_record_and_lookalikes(tmp_path):
    index = Originals(tmp_path)
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    look = Look(0xF0F0_0000_FFFF_1234, 4000, 3000, (10, -20))
    assert index.claim(A, 1, src, folder="f", scope_all=False, since=0).verdict == "new"
    record = index.record(_entry(A, 1, "a.jpg", look=look, outputs=("a_web.jpg",)))
    got = index.claim(A, 2, src, folder="f", scope_all=False, since=0)
    assert got.verdict == "duplicate" and got.match.record == record and got.match.kind == Kind.EXACT
    assert got.match.outputs == ("a_web.jpg",) and got.match.archived == "a.jpg"
    assert index.claim(A, 3, src, folder="g", scope_all=False, since=0).verdict == "new"  # another folder
    index.release(A, 3)
    assert index.claim(A, 3, src, folder="g", scope_all=True, since=0).verdict == "duplicate"  # scope: all
    assert index.claim(A, 4, src, folder="f", scope_all=False, since=time.time() + 1).verdict == "new"  # window
    near = index.lookalikes(Look(look.phash ^ 0b11, 4000, 3000), 6, folder="f", scope_all=False, since=0)
    assert [(r, bits) for r, bits, _ in near] == [(record, 2)]
    assert index.lookalikes(Look(look.phash ^ 0xFF, 4000, 3000), 6, folder="f", scope_all=False, since=0) == []


def test_a_file_dated_past_2262_is_claimed_and_known_as_its_claimant(tmp_path):
    """Its mtime in ns is past SQLite's 64-bit INTEGER: the claim raised OverflowError and
    the file failed, with the default duplicate detection (an attack round; ext4 keeps
    times to 2446)."""
    src = tmp_path / "future.jpg"
    src.write_bytes(b"x")
    future = 10_500_000_000 * 10**9  # 2302
    os.utime(src, ns=(future, future))
    assert os.stat(src).st_mtime_ns == future
    index = Originals(tmp_path)
    assert index.claim(A, 1, src, folder="f", scope_all=False, since=0).verdict == "new"
    assert index.claim(A, 2, src, folder="f", scope_all=False, since=0).verdict == "busy"  # its claimant, alive


def test_the_same_bytes_count_in_their_own_subfolder_only_when_the_scope_is_the_subfolder(tmp_path):
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    index_scenarios.subfolder_scope(Originals(tmp_path), src)


def test_ten_clients_each_find_their_own_look_alike_and_are_known_in_their_own_subfolder(tmp_path):
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    index_scenarios.ten_clients(Originals(tmp_path), src)


def test_the_mirror_sees_rows_recorded_out_of_claim_order_and_forgets(tmp_path):
    index, other = Originals(tmp_path), Originals(tmp_path)
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    index.claim(A, 1, src, folder="f", scope_all=False, since=0)
    other.claim(B, 2, src, folder="f", scope_all=False, since=0)
    assert index.lookalikes(Look(1, 1, 1), 0, folder="f", scope_all=False, since=0) == []  # loaded, empty
    other.record(_entry(B, 2, "b.jpg", look=Look(2, 1, 1)))
    assert [r[1] for r in index.lookalikes(Look(2, 1, 1), 0, folder="f", scope_all=False, since=0)] == [0]
    index.record(_entry(A, 1, "a.jpg", look=Look(1, 1, 1)))
    assert len(other.lookalikes(Look(1, 1, 1), 0, folder="f", scope_all=False, since=0)) == 1
    assert other.forget_before("f", time.time() + 1) == 2  # past the window
    assert index.lookalikes(Look(1, 1, 1), 0, folder="f", scope_all=False, since=0) == []


def test_a_crash_before_the_record_leaves_nothing_seen(tmp_path):
    """Killed between the claim and the record: the next start drops the claim; the file,
    still in processing/, is rendered again, and so may be another copy of its bytes."""
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    Originals(tmp_path).claim(A, 1, src, folder="f", scope_all=False, since=0)
    again = Originals(tmp_path)  # the next start
    assert again.recover() == 1
    assert again.claim(A, 1, src, folder="f", scope_all=False, since=0).verdict == "new"


def test_a_crash_between_record_and_archive_renders_again(tmp_path):
    """Recorded, then killed before the original left processing/: at the next start the
    same file claims its bytes again and is rendered, not called a duplicate of itself."""
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    st = src.stat()
    job = job_key("f", "a.jpg", st.st_ino, st.st_mtime_ns)
    index = Originals(tmp_path)
    index.claim(A, job, src, folder="f", scope_all=False, since=0)
    index.record(_entry(A, job, "a.jpg"))
    again = Originals(tmp_path)
    again.recover()
    assert again.claim(A, job, src, folder="f", scope_all=False, since=0).verdict == "new"
    assert again.count() == 0
    assert again.claim(A, job + 1, src, folder="f", scope_all=False, since=0).verdict == "busy"


def test_a_claim_whose_file_left_processing_is_taken_over(tmp_path):
    """Its worker died and the file went to failed/: its bytes are not busy for ever."""
    src, copy = tmp_path / "a.jpg", tmp_path / "b.jpg"
    src.write_bytes(b"x")
    copy.write_bytes(b"x")
    index = Originals(tmp_path)
    index.claim(A, 1, src, folder="f", scope_all=False, since=0)
    assert index.claim(A, 2, copy, folder="f", scope_all=False, since=0).verdict == "busy"
    src.unlink()
    assert index.claim(A, 2, copy, folder="f", scope_all=False, since=0).verdict == "new"


def test_skipped_rows_are_not_doubled_by_a_second_attempt(tmp_path):
    index = Originals(tmp_path)
    first = index.record(_entry(A, 1, "a.jpg"))
    index.record(_entry(A, 2, "b.jpg", state=DUPLICATE, other=first, bits=0))
    index.record(_entry(A, 2, "b.jpg", state=DUPLICATE, other=first, bits=0))  # killed before the move, again
    assert index.count() == 2


def test_names_remember_their_photos(tmp_path):
    index = Originals(tmp_path)
    assert index.named("f", "IMG_7777.jpg") == [] and index.next_generation("f", "IMG_7777.jpg") == 0
    index.record(_entry(A, 1, "IMG_7777.jpg", look=Look(5, 4, 3)))
    index.record(_entry(B, 2, "IMG_7777.jpg", look=Look(9, 4, 3), generation=1))
    named = index.named("f", "IMG_7777.jpg")
    assert [(n.look.phash, n.generation) for n in named] == [(9, 1), (5, 0)]
    assert index.next_generation("f", "IMG_7777.jpg") == 2


def test_what_a_rendering_wrote_and_who_wrote_the_same_bytes_since(tmp_path):
    """The outputs' hashes (workers/provenance.py): what proves an output of no owner record an
    original's own, unless another original rendered since wrote those very bytes."""
    index = Originals(tmp_path)
    web, thumb, other = b"w" * 16, b"t" * 16, b"o" * 16
    first = index.record(_entry(A, 1, "a.jpg", outputs=("a_web.jpg", "a_thumb.webp"), output_hashes=web + thumb))
    index.record(_entry(B, 2, "a.jpg", outputs=("a_web~2.jpg",), output_hashes=other, generation=1))
    index.record(_entry("c" * 64, 3, "old.jpg", outputs=("old_web.jpg",)))  # rendered before hashes were kept
    written = index.written("f", "a.jpg", 0)
    assert [(w.record, w.outputs, w.hashes) for w in written] == [(first, ("a_web.jpg", "a_thumb.webp"), (web, thumb))]
    assert index.written("f", "old.jpg", 0) == []
    assert not index.written_since(first, web, "f", "a.jpg", 0)
    index.record(_entry(A, 4, "a.jpg", outputs=("a_web.jpg",), output_hashes=web))  # its own again: no matter
    assert not index.written_since(first, web, "f", "a.jpg", 0)
    index.record(_entry("d" * 64, 5, "a.png", outputs=("a_web.jpg",), output_hashes=web))  # another, same bytes
    assert index.written_since(first, web, "f", "a.jpg", 0) and not index.written_since(first, thumb, "f", "a.jpg", 0)


def test_bytes_a_rerender_wrote_under_an_earlier_row_make_a_later_row_s_output_unprovable(tmp_path):
    """`hotfolder rerender` updates an original's row in place: its id stays that of its first
    drop. a.png (row 1) and a.jpg (row 2, the same pixels) both render to a_web.jpg: a.jpg's
    output there deleted, its record pruned, a rerender of a.png took a_web.jpg and wrote those very
    bytes there under row 1. Row 2's hash then matched a.png's file, and "rendered since row 2"
    never saw row 1: a new version of a.jpg, after state_dir/names went, replaced a.png's output."""
    from hotfolder.state.originals import rerendered

    index = Originals(tmp_path)
    web, other = b"w" * 16, b"o" * 16
    index.record(_entry(B, 1, "a.png", outputs=("a_web.jpg",), output_hashes=other))
    a_jpg = index.record(_entry(A, 2, "a.jpg", outputs=("a_web.jpg",), output_hashes=web))
    assert not index.written_since(a_jpg, web, "f", "a.jpg", 0)
    assert rerendered(tmp_path, "f", [(B, "a.png", ("a_web.jpg",), web, ("web",), None)]) == 1
    assert index.written_since(a_jpg, web, "f", "a.jpg", 0)


def test_a_look_alike_being_rendered_by_another_process_is_waited_for(tmp_path):
    """The wedding audit: a card's RAW and its camera JPEG (other bytes, the same picture) taken
    by two workers at once were both rendered under `similar: skip`: neither was recorded when
    the other looked. The one whose look was noted second waits while the first is rendered
    (its claim alive), never the other way round; a look-alike of another folder, or one whose
    file left processing/, holds nothing up."""
    raw, jpg, other = tmp_path / "IMG_1.DNG", tmp_path / "IMG_1.JPG", tmp_path / "x.jpg"
    for path in (raw, jpg, other):
        path.write_bytes(path.name.encode())
    first, second = Originals(tmp_path), Originals(tmp_path)  # two workers' connections
    look = Look(0xF0F0_0000_FFFF_1234, 4000, 3000, (10, -20))
    near = Look(look.phash ^ 0b11, 4000, 3000, (10, -20))
    assert first.claim(A, 1, raw, folder="f", scope_all=False, since=0).verdict == "new"
    assert second.claim(B, 2, jpg, folder="f", scope_all=False, since=0).verdict == "new"
    assert not first.rendering_alike(A, 1, look, 6, folder="f", scope_all=False)  # noted first: goes on
    assert second.rendering_alike(B, 2, near, 6, folder="f", scope_all=False)  # waits for the first
    assert not first.rendering_alike(A, 1, look, 6, folder="f", scope_all=False)  # never for the later one
    assert not second.rendering_alike(B, 2, near, 6, folder="g", scope_all=False)  # another folder's copies
    first.record(_entry(A, 1, "IMG_1.DNG", look=look, outputs=("IMG_1_web.jpg",)))
    assert not second.rendering_alike(B, 2, near, 6, folder="f", scope_all=False)  # recorded: found as its look-alike
    assert [r for r, _, _ in second.lookalikes(near, 6, folder="f", scope_all=False, since=0)]
    third = Originals(tmp_path)
    assert third.claim("d" * 64, 4, other, folder="f", scope_all=False, since=0).verdict == "new"
    assert third.rendering_alike("d" * 64, 4, look, 6, folder="f", scope_all=False)  # the JPEG's, noted before
    jpg.unlink()  # its worker died, and the file went to failed/
    assert not third.rendering_alike("d" * 64, 4, look, 6, folder="f", scope_all=False)


def test_a_look_noted_after_the_clock_stepped_back_still_comes_after(tmp_path):
    """The order of the looks is the order they were noted in, whatever the wall clock did
    between them: the first of a RAW+JPEG pair noted its look, then the clock stepped back an
    hour (NTP, a VM resumed); the second, stamped by the clock, came "before" it, and neither
    waited for the other (both delivered under `similar: skip`)."""
    import sqlite3
    import struct
    import time

    from hotfolder.state.originals import _LOOK

    raw, jpg = tmp_path / "IMG_1.DNG", tmp_path / "IMG_1.JPG"
    for path in (raw, jpg):
        path.write_bytes(path.name.encode())
    first, second = Originals(tmp_path), Originals(tmp_path)
    look = Look(0xF0F0_0000_FFFF_1234, 4000, 3000, (10, -20))
    near = Look(look.phash ^ 0b11, 4000, 3000, (10, -20))
    assert first.claim(A, 1, raw, folder="f", scope_all=False, since=0).verdict == "new"
    assert second.claim(B, 2, jpg, folder="f", scope_all=False, since=0).verdict == "new"
    assert not first.rendering_alike(A, 1, look, 6, folder="f", scope_all=False)
    with sqlite3.connect(tmp_path / "hotfolder.db") as conn:  # noted an hour "later" than the clock says now
        (packed,) = conn.execute("SELECT look FROM originals_claims WHERE job = 1").fetchone()
        ahead = struct.pack("<d", time.time() + 3600) + packed[8:]
        conn.execute("UPDATE originals_claims SET look = ? WHERE job = 1", (ahead,))
    assert struct.calcsize(_LOOK) > 8
    assert second.rendering_alike(B, 2, near, 6, folder="f", scope_all=False)  # noted second: waits
    assert not first.rendering_alike(A, 1, look, 6, folder="f", scope_all=False)  # and never the other way round


def test_the_commands_read_an_index_of_the_release_before_as_it_is(tmp_path):
    """Today's commands beside an index the daemon of the release before wrote (a package
    upgraded, the service not yet restarted: nothing brought it up to date): `hotfolder
    duplicates` said "no duplicate or look-alike found" of one that lists them, `explain`
    found no earlier copy of the same bytes, and rerender's note of the outputs it wrote
    failed ("the index of originals still lists the earlier outputs"), all asking for columns
    the index did not have yet (renditions). They read and write it as it is; nothing is added
    to it (the daemon of the release before, still running, writes claims without the look)."""
    import sqlite3

    from hotfolder.state.originals import found_in, rerendered, same_bytes

    index = Originals(tmp_path)
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    look = Look(0xF0F0_0000_FFFF_1234, 4000, 3000, (10, -20))
    first = index.record(_entry(A, 1, "a.jpg", look=look, outputs=("a_web.jpg",)))
    index.record(_entry(B, 2, "b.jpg", state=DUPLICATE, other=first))
    index.close()
    with sqlite3.connect(tmp_path / "hotfolder.db") as conn:  # as the release before left it (version 2)
        conn.execute("ALTER TABLE originals DROP COLUMN renditions")
        conn.execute("ALTER TABLE originals DROP COLUMN seq")
        conn.execute("ALTER TABLE originals_claims DROP COLUMN look")
        conn.execute("UPDATE schema SET version = 2 WHERE part = 'originals'")
    conn.close()
    (found,) = found_in(tmp_path, 10)
    assert found.name == "b.jpg" and found.match is not None and found.match.name == "a.jpg"
    assert found.match.renditions is None  # not known
    match = same_bytes(tmp_path, A, "f", scope_all=False, since=0)
    assert match is not None and match.record == first
    assert rerendered(tmp_path, "f", [(A, "a.jpg", ("a_web2.jpg",), b"", ("web",), 7)]) == 1
    (found,) = found_in(tmp_path, 10)
    assert found.match is not None and found.match.outputs == ("a_web2.jpg",)
    with sqlite3.connect(tmp_path / "hotfolder.db") as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(originals)")}
        assert "renditions" not in columns and conn.execute("SELECT version FROM schema WHERE part = "
                                                            "'originals'").fetchone() == (2,)
    conn.close()
