"""Scenarios both indexes of originals must answer alike (state/originals.Originals, a
SQLite file; cluster/originals.SharedOriginals, a real redis-server): each test module runs
them against its own."""
from __future__ import annotations

from hotfolder.likeness import Look
from hotfolder.state.originals import RENDERED, Entry

CONTENT = "c" * 64


def subfolder_scope(index, path) -> None:
    """duplicate_scope `subfolder`: the same bytes count only in the subfolder they were
    rendered in ("" the inbox's top); the folder's scope still finds them anywhere in it."""
    look = Look(0x0F0F_1234_FFFF_0000, 3000, 2000, (6, -3))
    assert index.claim(CONTENT, 1, path, folder="f", scope_all=False, since=0, subdir="clients/alice").verdict == "new"
    record = index.record(Entry(CONTENT, 1, RENDERED, "f", "clients/alice/a.jpg", 10, look=look,
                                outputs=("clients/alice/a_web.jpg",), subdir="clients/alice"))
    for job, subdir in enumerate(("clients/bob", "clients", "", "clients/alice/2024", "clients/alicia"), start=2):
        got = index.claim(CONTENT, job, path, folder="f", scope_all=False, since=0, subdir=subdir)
        assert got.verdict == "new", subdir  # another subfolder: another delivery
        index.release(CONTENT, job)
    got = index.claim(CONTENT, 9, path, folder="f", scope_all=False, since=0, subdir="clients/alice")
    assert got.verdict == "duplicate" and got.match.record == record
    assert index.claim(CONTENT, 10, path, folder="f", scope_all=False, since=0).verdict == "duplicate"  # folder
    near = Look(look.phash ^ 0b11, 3000, 2000, (6, -3))
    assert [r for r, _, _ in index.lookalikes(near, 6, folder="f", scope_all=False, since=0,
                                              subdir="clients/alice")] == [record]
    assert index.lookalikes(near, 6, folder="f", scope_all=False, since=0, subdir="clients/bob") == []
    assert [r for r, _, _ in index.lookalikes(near, 6, folder="f", scope_all=False, since=0)] == [record]
    # At the top: a name with no "/" at all.
    assert index.claim(CONTENT, 11, path, folder="f", scope_all=False, since=0, subdir="").verdict == "new"
    top = index.record(Entry(CONTENT, 11, RENDERED, "f", "a.jpg", 10, look=look, outputs=("a_web.jpg",), subdir=""))
    got = index.claim(CONTENT, 12, path, folder="f", scope_all=False, since=0, subdir="")
    assert got.verdict == "duplicate" and got.match.record == top


def ten_clients(index, path) -> None:
    """The same photo delivered to ten clients: a look-alike lookup in each subfolder finds
    that subfolder's row, though the eight closest in the folder are others' (a review: the
    cut to the closest eight came before the subfolder's filter, and c8, c9 found nothing);
    a rebuild's `known` is asked per subfolder too."""
    look = Look(0x1234_5678_9ABC_DEF0, 3000, 2000, (2, 2))
    records = {}
    for i in range(10):
        content = f"{i:x}" * 64
        assert index.claim(content, 100 + i, path, folder="f", scope_all=False, since=0,
                           subdir=f"clients/c{i}").verdict == "new"
        records[i] = index.record(Entry(content, 100 + i, RENDERED, "f", f"clients/c{i}/a.jpg", 10, look=look,
                                        subdir=f"clients/c{i}"))
    near = Look(look.phash ^ 1, 3000, 2000, (2, 2))
    for i in range(10):
        found = index.lookalikes(near, 6, folder="f", scope_all=False, since=0, subdir=f"clients/c{i}")
        assert [r for r, _, _ in found] == [records[i]], i
    assert len(index.lookalikes(near, 6, folder="f", scope_all=False, since=0)) == 8  # the closest eight
    assert index.known("0" * 64, "f") and index.known("0" * 64, "f", "clients/c0")
    assert not index.known("0" * 64, "f", "clients/c1") and not index.known("0" * 64, "g")
