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
