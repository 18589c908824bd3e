"""The workers' messages through a real mailbox: each one whole, typed, and small."""
from __future__ import annotations

import multiprocessing as mp
import pickle
import select

import pytest

from hotfolder.jobs import Result
from hotfolder.workers.mailbox import Mailbox
from hotfolder.workers.messages import Declined, Done, Ready, Starting

PIPE_BUF = select.PIPE_BUF


def test_each_message_arrives_as_it_was_sent():
    box = Mailbox(mp.get_context("spawn"))
    sent = [Ready(0, 1234), Starting(0, 7), Done(0, Result(7, True, outputs=("a_web.jpg",), duration_ms=12.5), True),
            Declined(1, 8)]
    try:
        for message in sent:
            box.put(message)
        assert [box.get(timeout=5) for _ in sent] == sent
    finally:
        box.close()


def test_a_start_fits_in_one_atomic_pipe_write():
    """A worker killed right after Starting must leave it whole in the pipe: the pool then
    knows which file killed it. A write under PIPE_BUF is atomic."""
    framed = 4 + len(pickle.dumps(Starting(255, 2**62), protocol=pickle.HIGHEST_PROTOCOL))
    assert framed < PIPE_BUF


def test_messages_are_frozen():
    with pytest.raises(AttributeError):
        Starting(0, 1).job_id = 2  # type: ignore[misc]  # the point: it cannot be assigned


def test_a_job_travels_with_its_folder_pickled_once_and_read_once(tmp_path):
    """A job's Folder (~2 KB of its ~2.3) is pickled once per Folder and unpickled once per
    distinct pickle: each job then costs the rest only (measured: loads 62 -> 9 µs). Jobs of
    one folder share one object; a reloaded folder is its own."""
    import dataclasses

    from hotfolder import jobs
    from tests.unit.test_spool import make_folder

    folder = make_folder(tmp_path)
    reloaded = dataclasses.replace(folder, quiet_period=3.0)
    sent = [jobs.Job(i, f, tmp_path / f"{i}.jpg", f"{i}.jpg", ("jpeg",), 10**8, attempt=2, sidecar="x.xmp")
            for i, f in enumerate((folder, folder, reloaded))]
    got = [pickle.loads(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)) for job in sent]
    assert got == sent
    assert got[0].folder is got[1].folder and got[2].folder is not got[0].folder
    assert got[2].folder.quiet_period == 3.0
