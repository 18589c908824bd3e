"""A folder renamed keeps its index of originals (state/places.remember → originals.follow_renames),
by its processing/ folder: renames, chains and swaps, with a real SQLite index."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from hotfolder.state import places
from hotfolder.state.originals import RENDERED, Entry, Originals


def folder(name: str, processing: Path) -> SimpleNamespace:
    return SimpleNamespace(name=name, processing=processing)


def rows(state: Path) -> list[tuple[str, bytes]]:
    index = Originals(state)
    try:
        return sorted(index.conn.execute("SELECT f.name, o.name FROM originals o JOIN originals_folders f "
                                         "ON f.id = o.folder").fetchall())
    finally:
        index.close()


def seeded(tmp_path: Path, folders: list[SimpleNamespace]) -> Path:
    """An index with x-photo.jpg rendered in the first folder and y-photo.jpg in the second."""
    state = tmp_path / "state"
    state.mkdir()
    index = Originals(state)
    for n, (f, name) in enumerate(zip(folders, ("x-photo.jpg", "y-photo.jpg"), strict=False)):
        index.record(Entry(f"{n:02x}" * 32, n, RENDERED, f.name, name, 1))
    index.close()
    places.remember(state, folders)
    return state


def test_a_renamed_folder_keeps_its_originals_and_a_cached_id_stays_right(tmp_path):
    x = tmp_path / "x" / "processing"
    state = seeded(tmp_path, [folder("A", x)])
    worker = Originals(state)
    fid = worker.folder_id("A")  # a worker finishing a file of the old config holds this id
    assert places.remember(state, [folder("B", x)]) == [("A", "B")]
    assert rows(state) == [("B", b"x-photo.jpg")]
    assert worker.conn.execute("SELECT name FROM originals_folders WHERE id = ?", (fid,)).fetchone() == ("B",)
    worker.close()


def test_a_chain_of_renames_moves_each_folders_own(tmp_path):
    """A→B and C→A in one edit: one by one, C's rows were merged into A's, and /x lost its own;
    a drop of /x's bytes into /y was skipped as a duplicate there (a review)."""
    x, y = tmp_path / "x" / "processing", tmp_path / "y" / "processing"
    state = seeded(tmp_path, [folder("A", x), folder("C", y)])
    places.remember(state, [folder("B", x), folder("A", y)])
    assert rows(state) == [("A", b"y-photo.jpg"), ("B", b"x-photo.jpg")]
    y.mkdir(parents=True)
    (y / "copy.jpg").write_bytes(b"x")
    index = Originals(state)
    try:
        assert index.claim("00" * 32, 99, y / "copy.jpg", folder="A", scope_all=False, since=0).verdict == "new"
    finally:
        index.close()


def test_a_swap_of_two_names_moves_each_folders_own(tmp_path):
    x, y = tmp_path / "x" / "processing", tmp_path / "y" / "processing"
    state = seeded(tmp_path, [folder("A", x), folder("C", y)])
    places.remember(state, [folder("C", x), folder("A", y)])
    assert rows(state) == [("A", b"y-photo.jpg"), ("C", b"x-photo.jpg")]


def test_a_name_two_configured_processing_folders_had_is_not_followed(tmp_path):
    """/x was A in an old config, /z is A now and was before: whose originals A's are cannot be
    told, so /x renamed B takes none of them."""
    x, z = tmp_path / "x" / "processing", tmp_path / "z" / "processing"
    state = seeded(tmp_path, [folder("A", x)])
    places.remember(state, [folder("A", z)])  # A moved to another disk: /x is an old place of A's
    assert places.remember(state, [folder("B", x), folder("A", z)]) == []
    assert rows(state) == [("A", b"x-photo.jpg")]


def test_the_rows_of_clips_passed_through_follow_renames_and_swaps(tmp_path):
    """The rows of clips (state/passed.py) name their folder: a renamed folder's were found by
    nothing (its card dumped again archived twice, its photos skipped). They follow as the
    originals do, a swap too; a row an old folder of the new name left at that place gives way."""
    from hotfolder.state.passed import Passed

    class Clip:
        def __init__(self, archived: str):
            self.name, self.subdir, self.size, self.archived, self.time = "M.MP4", "", 1, archived, 1.0

    x, y, z = (tmp_path / n / "processing" for n in "xyz")
    state = seeded(tmp_path, [folder("A", x), folder("C", y)])
    clips = Passed(state)
    try:
        clips.listed("A", [Clip("a.MP4")])
        clips.listed("C", [Clip("c.MP4")])
        clips.listed("B", [Clip("a.MP4")])  # an old folder B's, no longer configured
        places.remember(state, [folder("C", x), folder("A", y)])  # a swap
        assert sorted(clips.conn.execute("SELECT folder, archived FROM passed_through")) == [
            ("A", b"c.MP4"), ("B", b"a.MP4"), ("C", b"a.MP4")]
        places.remember(state, [folder("B", x), folder("A", y), folder("Z", z)])  # C renamed B
        assert sorted(clips.conn.execute("SELECT folder, archived FROM passed_through")) == [
            ("A", b"c.MP4"), ("B", b"a.MP4")]
    finally:
        clips.close()
