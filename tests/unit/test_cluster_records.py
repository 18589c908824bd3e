"""Cluster job records on the share are data anyone with the share can write (cluster/jobs.py):
a record that is not one reads as no record, never as a TypeError in the head or a node."""
from __future__ import annotations

import json

import pytest

from hotfolder.cluster.jobs import Record, Records

GOOD = {"job": "20260101T000000-0a0a0a0a0a", "folder": "photos", "rel": "a.jpg", "src": "photos/processing/a.jpg",
        "claimed_at": 1.5, "attempts": 1, "nodes": ["w0@h"], "version": "v1", "sidecar": ""}


def written(tmp_path, data) -> Records:
    records = Records(tmp_path)
    records.dir.mkdir(parents=True)
    (records.dir / f"{GOOD['job']}.json").write_text(json.dumps(data))
    return records


def test_a_record_reads_back_and_a_newer_field_is_ignored(tmp_path):
    records = written(tmp_path, {**GOOD, "future_field": 1})
    assert records.read(GOOD["job"]) == Record(**{**GOOD, "nodes": ("w0@h",)})
    assert records.all() == [records.read(GOOD["job"])]


@pytest.mark.parametrize("data", [
    [1, 2], "text", None,
    {**GOOD, "attempts": "5"}, {**GOOD, "attempts": -1}, {**GOOD, "attempts": True}, {**GOOD, "attempts": 1.5},
    {**GOOD, "claimed_at": "yesterday"}, {**GOOD, "rel": ["a"]}, {**GOOD, "src": None}, {**GOOD, "nodes": "w0"},
    {**GOOD, "nodes": [1]}, {k: v for k, v in GOOD.items() if k != "src"},
    # an OverflowError in the head's every turn (a checker's finding): 10**400, -10**400, inf, nan
    {**GOOD, "claimed_at": 10**400}, {**GOOD, "claimed_at": -10**400}, {**GOOD, "claimed_at": float("inf")},
    {**GOOD, "claimed_at": float("nan")}, {**GOOD, "attempts": 10**30},
], ids=lambda d: json.dumps(d)[:40])
def test_what_is_not_a_record_reads_as_none(tmp_path, data):
    records = written(tmp_path, data)
    assert records.read(GOOD["job"]) is None and records.all() == []


def test_orphans_are_adopted_with_their_sidecars_and_a_sidecar_is_never_a_job(tmp_path):
    """What a head finds in processing/ at its start (cluster/reconcile.adopt_orphans): an
    image and its sidecar without a record are one job; a sidecar a record names is left to
    that job; one whose image left waits in the inbox again, as in local mode."""
    from hotfolder.cluster.reconcile import adopt_orphans
    from hotfolder.config.model import Folder, Rendition
    from hotfolder.spool import folders

    root = tmp_path / "shared"
    base = root / "photos"
    folder = Folder(name="photos", inbox=base / "inbox", output=base / "output", failed=base / "failed",
                    processing=base / "processing", archive=base / "archive",
                    renditions=(Rendition(name="web", width=100, height=100),))
    folders.ensure_dirs(folder)
    for name in ("orphan.jpg", "orphan.xmp", "sent.jpg", "sent.xmp", "lonely.xmp"):
        (folder.processing / name).write_bytes(b"x")
    records = Records(root)
    records.dir.mkdir(parents=True)
    sent = Record(GOOD["job"], "photos", "sent.jpg", "photos/processing/sent.jpg", 1.5, sidecar="sent.xmp")
    records.write(sent)
    made = adopt_orphans([folder], records, root)
    assert [(r.rel, r.src, r.sidecar) for r in made] == [("orphan.jpg", "photos/processing/orphan.jpg",
                                                          "orphan.xmp")]
    assert sorted(records.all(), key=lambda r: r.rel) == [made[0], sent]
    assert sorted(p.name for p in folder.processing.iterdir()) == ["orphan.jpg", "orphan.xmp", "sent.jpg", "sent.xmp"]
    assert [p.name for p in folder.inbox.iterdir()] == ["lonely.xmp"]


def test_a_record_nested_past_the_parser_reads_as_none(tmp_path):
    """A job record of 100,000 `[` on the share (anyone with the share can write one): the
    parser's RecursionError went up through the head's recovery and a node's task."""
    records = written(tmp_path, GOOD)
    (records.dir / f"{GOOD['job']}.json").write_text("[" * 100_000)
    assert records.read(GOOD["job"]) is None and records.all() == []


def test_the_records_are_never_written_read_or_removed_through_a_link(tmp_path):
    """Anyone with the share can put a link at `.hotfolder/jobs` (or `.hotfolder`): the head
    wrote each claimed file's record wherever it pointed (a review by attack, reproduced with
    a real head and Redis). Now the link is refused, nothing is written beyond it, and the
    head's start says what to remove."""
    from hotfolder.cluster import jobs
    from hotfolder.spool.nofollow import FolderSwapped

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for linked in (".hotfolder/jobs", ".hotfolder"):
        root = tmp_path / linked.replace("/", "_")
        (root / ".hotfolder").mkdir(parents=True)
        if linked == ".hotfolder":
            (root / ".hotfolder").rmdir()
        (root / linked).symlink_to(elsewhere)
        records = Records(root)
        with pytest.raises(FolderSwapped):
            records.write(Record(**{**GOOD, "nodes": ()}))
        with pytest.raises(FolderSwapped):
            records.read(GOOD["job"])  # never "no record", which a node takes for a job ended
        with pytest.raises(jobs.SharedRootError, match=r"is a symbolic link: .*Remove it \(rm "):
            jobs.mark(root, "cluster-1")
        with pytest.raises(jobs.SharedRootError, match="is a symbolic link"):
            jobs.check_root(root, "cluster-1") if (root / jobs.MARKER).exists() else jobs.mark(root, "cluster-1")
        assert list(elsewhere.iterdir()) == [], linked
    # a link under a record's own name is no record (and is not followed)
    root = tmp_path / "plain"
    root.mkdir()
    records = Records(root)
    records.write(Record(**{**GOOD, "nodes": ()}))
    target = elsewhere / "secret.json"
    target.write_text(json.dumps(GOOD))
    (records.dir / "20260101T000000-0b0b0b0b0b.json").symlink_to(target)
    assert records.read("20260101T000000-0b0b0b0b0b") is None
    assert [r.job for r in records.all()] == [GOOD["job"]]
    records.remove("20260101T000000-0b0b0b0b0b")  # removes the link itself, never its target
    assert target.exists() and not (records.dir / "20260101T000000-0b0b0b0b0b.json").is_symlink()
