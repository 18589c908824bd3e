"""The ledger in-process, on real files: claims, ends, retries, give-backs and counts."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.config.model import Config, Folder, Rendition
from hotfolder.jobs import Job, Result, next_attempt, temp_tag
from hotfolder.supervisor.ledger import Ledger
from hotfolder.workers.counters import Counters


def make_folder(tmp_path: Path) -> Folder:
    return Folder(name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
                  processing=tmp_path / "processing", archive=tmp_path / "archive",
                  renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),))


@pytest.fixture
def ledger(tmp_path):
    folder = make_folder(tmp_path)
    config = Config(source=tmp_path / "hotfolder.yaml", folders=(folder,), workers=1, max_attempts=3,
                    state_dir=tmp_path / "state")
    counters = Counters(mp.get_context("spawn"))
    ended: list[str] = []
    led = Ledger(config, counters, lambda f, rel: ended.append(rel))
    led.prepare(folder)
    led.folder, led.counters, led.ended_rels = folder, counters, ended  # for the tests' eyes
    return led


def drop(folder: Folder, name: str) -> Path:
    path = folder.inbox / name
    Image.new("RGB", (40, 30), (200, 10, 10)).save(path, format="JPEG")
    return path


def test_claim_moves_to_processing_and_refuses_a_name_in_flight(ledger):
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    assert job is not None and job.src == f.processing / "a.jpg" and job.src.exists()
    again = drop(f, "a.jpg")
    assert ledger.claim(f, again) is None and again.exists(), "a same-named file waits in the inbox"
    assert ledger.in_flight() == 1


def test_a_symlink_is_refused_into_failed_and_counted(ledger, tmp_path):
    f = ledger.folder
    (tmp_path / "elsewhere.jpg").write_bytes(b"x")
    (f.inbox / "link.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    assert ledger.claim(f, f.inbox / "link.jpg") is None
    assert (f.failed / "link.jpg").is_symlink()
    assert ledger.counters.snapshot() == (0, 1)


def test_settle_ok_archives_and_wakes_a_same_named_file(ledger):
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    ledger.counters.count("processed")  # what the worker did
    assert ledger.settle(job, Result(job.id, True, outputs=("a_web.jpg",))) is None
    assert (f.archive / "a.jpg").exists() and not job.src.exists()
    assert ledger.ended_rels == ["a.jpg"] and ledger.in_flight() == 0
    assert ledger.counters.snapshot() == (1, 0)


def test_a_turn_s_results_are_archived_first_and_said_once_their_folder_is_synced(ledger):
    """Ledger.grouped (spool/syncs.py): the renames, one fsync of each archive folder, then
    each file's end in order; a failure is settled at once, as before."""
    f = ledger.folder
    (f.inbox / "shoot").mkdir()
    jobs = [ledger.claim(f, drop(f, name)) for name in ("a.jpg", "shoot/b.jpg", "c.jpg", "d.jpg")]
    with ledger.grouped():
        for job in jobs[:3]:
            assert ledger.settle(job, Result(job.id, True, outputs=(f"{job.src.stem}_web.jpg",))) is None
        ledger.settle(jobs[3], Result(jobs[3].id, False, error="bad", step="decode"))
        assert all((f.archive / job.rel).exists() and not job.src.exists() for job in jobs[:3])
        assert ledger.ended_rels == ["d.jpg"], "only the failure is said before the sync"
        assert ledger.in_flight() == 0
    assert ledger.ended_rels == ["d.jpg", "a.jpg", "shoot/b.jpg", "c.jpg"]
    assert not (f.processing / "shoot").exists(), "its emptied folder goes once the file is said"
    with ledger.grouped():
        pass  # an empty turn syncs nothing and says nothing
    assert ledger.ended_rels == ["d.jpg", "a.jpg", "shoot/b.jpg", "c.jpg"]


def test_on_success_delete_is_grouped_too(ledger):
    f = ledger.folder = replace(ledger.folder, on_success="delete", archive=None)
    jobs = [ledger.claim(f, drop(f, name)) for name in ("a.jpg", "b.jpg")]
    with ledger.grouped():
        for job in jobs:
            ledger.settle(job, Result(job.id, True, outputs=(f"{job.src.stem}_web.jpg",)))
        assert not any(job.src.exists() for job in jobs) and ledger.ended_rels == []
    assert ledger.ended_rels == ["a.jpg", "b.jpg"]


def test_a_subfolder_of_processing_goes_with_its_last_file(ledger):
    """A new user's test: processing/2027/jan stayed, empty, until the next start."""
    f = ledger.folder
    (f.inbox / "2027" / "jan").mkdir(parents=True)
    first, second = (ledger.claim(f, drop(f, f"2027/jan/{n}.jpg")) for n in ("k", "l"))
    assert first is not None and second is not None
    ledger.settle(first, Result(first.id, True, outputs=("k_web.jpg",)))
    assert (f.processing / "2027" / "jan" / "l.jpg").exists()  # the other file's folder stays
    ledger.settle(second, Result(second.id, False, error="bad", step="decode"))
    assert (f.archive / "2027/jan/k.jpg").exists() and (f.failed / "2027/jan/l.jpg").exists()
    assert list(f.processing.iterdir()) == [] and f.processing.is_dir()
    # in a cluster a node moves the original; the head, told of the end, prunes its folders
    (f.inbox / "2027" / "feb").mkdir(parents=True)
    third = ledger.claim(f, drop(f, "2027/feb/m.jpg"))
    assert third is not None
    third.src.rename(f.archive / "m.jpg")  # what the node did
    ledger.ended(f.name, third.rel)
    assert list(f.processing.iterdir()) == []


def test_output_folder_problem_gives_back_pauses_and_is_not_counted(ledger):
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    ledger.settle(job, Result(job.id, False, error="no space left", step="write", retry_later=True))
    assert (f.inbox / "a.jpg").exists() and ledger.gate.paused(ledger.gate.pause_until - 0.01)
    assert ledger.gate.message.startswith("claiming paused")
    assert ledger.counters.snapshot() == (0, 0)


def test_a_killed_worker_is_retried_then_failed_after_max_attempts(ledger):
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    for attempt in (2, 3):
        job = ledger.lost(job, "worker died by signal 9", charged=True)
        assert job.attempt == attempt
    assert ledger.lost(job, "worker died by signal 9", charged=True) is None
    record = (f.failed / "a.jpg.error.json").read_text()
    assert "worker died by signal 9 on attempt 3" in record
    assert ledger.counters.snapshot() == (0, 1), "one file failed, counted once"


def test_a_job_we_stopped_keeps_its_attempt_and_loses_its_temp_outputs(ledger):
    """Finding: a rebuild left the killed jobs' hidden temp outputs until the next restart."""
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    f.output.mkdir(parents=True, exist_ok=True)
    from hotfolder.spool import atomic
    temp = atomic.temp_output_path(f.output / "a_web.jpg", temp_tag(job))
    temp.write_bytes(b"half a jpeg")
    other = f.output / "b_web.jpg"
    other.write_bytes(b"someone else's")
    again = ledger.lost(job, "queue stalled", charged=False)
    assert again == job
    assert not temp.exists() and other.exists()


def test_a_stop_gives_every_claim_back(ledger):
    f = ledger.folder
    jobs = [ledger.claim(f, drop(f, f"{n}.jpg")) for n in "abc"]
    assert ledger.lost(jobs[0], "the pool is stopping", charged=False, stopping=True) is None
    ledger.give_back_all()
    assert sorted(os.listdir(f.inbox)) == ["a.jpg", "b.jpg", "c.jpg"] and not os.listdir(f.processing)


def test_a_transient_failure_is_retried_then_failed_with_its_reason(ledger):
    """Finding: a MemoryError, or EIO/ESTALE reading the input from a share, failed the
    file on its first attempt instead of retrying it."""
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    reason = "out of memory while rendering (MemoryError)"
    for attempt in (2, 3):
        job = ledger.settle(job, Result(job.id, False, error=reason, step="render", transient=True))
        assert job is not None and job.attempt == attempt and job.src.exists()
    assert ledger.settle(job, Result(job.id, False, error=reason, step="render", transient=True)) is None
    assert f"{reason} on attempt 3" in (f.failed / "a.jpg.error.json").read_text()
    assert ledger.counters.snapshot() == (0, 1)


def test_a_file_counted_as_processed_then_failed_by_the_ledger_moves_between_counts(ledger):
    f = ledger.folder
    job = replace(ledger.claim(f, drop(f, "a.jpg")), counted="processed")
    ledger.tracked[job.id].job = job
    ledger.counters.count("processed")  # a worker counted it, then died
    ledger.lost(job, "worker died by signal 9", charged=True)  # attempt 2
    job = replace(job, attempt=3)
    ledger.tracked[job.id].job = job
    ledger.lost(job, "worker died by signal 9", charged=True)
    assert ledger.counters.snapshot() == (0, 1)


def test_next_attempt_policy():
    job = Job(1, None, Path("x"), "x", (), 1)
    assert next_attempt(job, "why", charged=False, max_attempts=1) is job
    assert next_attempt(job, "why", charged=True, max_attempts=2).attempt == 2
    verdict = next_attempt(job, "died", charged=True, max_attempts=1)
    assert isinstance(verdict, Result) and verdict.error == "died on attempt 1" and verdict.step == "worker"


def test_the_hook_hears_of_ends_and_of_claiming_paused_then_resumed(ledger):
    heard = []
    ledger.on_notice = heard.append
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    ledger.settle(job, Result(job.id, False, error="no space left on the output file system", step="write",
                              retry_later=True))
    assert [(n.event, n.file, n.reason) for n in heard] == [
        ("paused", "a.jpg", "no space left on the output file system")]
    job = ledger.claim(f, f.inbox / "a.jpg")
    ledger.counters.count("processed", folder=f)
    ledger.settle(job, Result(job.id, True, outputs=("a_web.jpg",), duration_ms=12.5))
    assert [n.event for n in heard] == ["paused", "done", "recovered"]
    assert heard[1].outputs == ("a_web.jpg",) and heard[1].duration_ms == 12.5
    assert "claiming resumed" in heard[2].reason
    job = ledger.claim(f, drop(f, "b.jpg"))
    ledger.settle(job, Result(job.id, False, error="broken", step="decode"), counted_by_worker=False)
    assert (heard[-1].event, heard[-1].file, heard[-1].reason, heard[-1].step, heard[-1].attempts) == (
        "failed", "b.jpg", "broken", "decode", 1)
    assert ledger.counters.snapshot() == (1, 1)


def test_a_sidecar_that_comes_while_its_image_is_rendered_waits_for_its_end(ledger):
    """It was archived alone as "no image of it arrived within sidecar_wait", not counted
    late, while its image was in processing/ (an admin's report). It stays in the inbox,
    is offered again when the image ends, and is then archived beside it as a late one."""
    f = ledger.folder
    (f.inbox / "shoot").mkdir()
    job = ledger.claim(f, drop(f, "shoot/IMG_1.JPG"))
    sidecar = f.inbox / "shoot" / "IMG_1.xmp"
    sidecar.write_bytes(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    other = f.inbox / "IMG_1.xmp"  # the same stem in another folder: not its image
    other.write_bytes(sidecar.read_bytes())
    assert ledger.claim(f, sidecar) is None and sidecar.exists(), "it waits in the inbox"
    assert ledger.claim(f, other) is None and not other.exists(), "alone: archived"
    ledger.counters.count("processed")
    ledger.settle(job, Result(job.id, True, outputs=("shoot/IMG_1_web.jpg",)))
    assert ledger.ended_rels == ["shoot/IMG_1.JPG", "shoot/IMG_1.xmp"], "offered again at the image's end"
    assert ledger.claim(f, sidecar) is None
    assert (f.archive / "shoot" / "IMG_1.xmp").exists() and ledger.sidecars.late == {"t": 1}


def test_a_held_file_kept_in_processing_for_a_newer_drop_waits_for_its_subfolder_s_try(ledger, monkeypatch):
    """A file held for its output subfolder (supervisor/subfolders.py) whose name a newer
    drop took in the inbox stays in processing/ (kept in line): it must wait for the
    subfolder's next try as the inbox's files do, not be submitted again at the next turn
    (it was: rendered and refused again and again, as fast as a worker could)."""
    f = ledger.folder
    job = ledger.claim(f, drop(f, "a.jpg"))
    drop(f, "a.jpg")  # a newer version of it, waiting in the inbox
    ledger.settle(job, Result(job.id, False, error="denied", step="write", retry_later=True, held_in="acme"))
    assert job.src.exists(), "kept in processing/: the inbox holds a newer file of its name"
    assert ledger.waiting(4) == [], "not submitted again before its subfolder's try"
    until = ledger.gate.subfolders.holds[(f.name, "acme")].until
    monkeypatch.setattr(time, "monotonic", lambda: until)
    assert [j.id for j in ledger.waiting(4)] == [job.id], "then submitted again"


def test_a_file_failed_cut_short_that_grows_as_it_lands_in_failed_is_requeued(ledger):
    """A writer that held the file open goes on once the failure shows (its record in failed/):
    the failed file was watched from what the ledger saw after the move and the record, so
    bytes added in that moment made the grown file its 'as failed' state, never requeued
    (the suite under load: test_an_upload_that_completes_inside_failed_is_requeued_by_itself).
    It is watched from what it was before it moved."""
    f = ledger.folder
    job = ledger.claim(f, drop(f, "up.jpg"))
    cut = Result(job.id, False, error="cut short", step="decode", cut_short=True)
    ledger.settle(job, cut, counted_by_worker=False)
    assert (f.inbox / "up.jpg").exists(), "given back to grow"
    job = ledger.claim(f, f.inbox / "up.jpg")  # it did not grow: this failure is final

    def writer_goes_on(notice):  # called as the failure is told, once the file is in failed/
        if notice.event == "failed":
            with open(f.failed / "up.jpg", "ab") as grown:
                grown.write(b"the rest")

    ledger.on_notice = writer_goes_on
    ledger.settle(job, replace(cut, job_id=job.id), counted_by_worker=False)
    assert (f.failed / "up.jpg").exists() and not (f.inbox / "up.jpg").exists()
    ledger.look_after(time.monotonic())
    assert (f.inbox / "up.jpg").exists(), "grown in failed/: requeued"
    assert (f.inbox / "up.jpg").read_bytes().endswith(b"the rest")
