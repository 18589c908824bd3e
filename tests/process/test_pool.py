"""The local pool in-process: real worker processes, real queue, pipe and locks.

These drive `LocalPool` directly (no daemon subprocess, no watcher, no ledger), so a
test can reach the pool's shared objects — a lock held by a process that then dies,
half a message in the mailbox — the way a SIGKILL at the worst moment leaves them.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.backend import Finished, Lost, Started
from hotfolder.config.model import Folder, Rendition
from hotfolder.jobs import Job
from hotfolder.workers import mailbox as mailbox_mod
from hotfolder.workers.messages import Leaving
from hotfolder.workers.pool import LocalPool
from hotfolder.workers.slots import Slot

FORMATS = ("jpeg", "png", "webp", "tiff")


WEB = Rendition(name="web", width=64, height=64, format="jpeg")
FULL = Rendition(name="full", operation="none", format="png")  # a full decode and a slow encode


def make_folder(tmp_path: Path, rendition: Rendition = WEB) -> Folder:
    folder = Folder(name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
                    processing=tmp_path / "processing", archive=tmp_path / "archive", renditions=(rendition,))
    for d in folder.all_dirs():
        d.mkdir(parents=True, exist_ok=True)
    return folder


def make_jobs(folder: Folder, n: int, start: int = 1, size=(400, 300)) -> list[Job]:
    jobs = []
    for i in range(start, start + n):
        src = folder.processing / f"f{i:03d}.jpg"
        Image.new("RGB", size, (i % 256, 80, 160)).save(src, quality=80)
        jobs.append(Job(i, folder, src, src.name, FORMATS, 100_000_000))
    return jobs


def run_until(pool: LocalPool, done, timeout: float, what: str) -> list:
    """Poll the pool (as the service's loop does) until done(events) or the deadline."""
    events: list = []
    deadline = time.monotonic() + timeout
    while not done(events):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; events: {events}")
        for event in pool.poll(0.05):
            events.append(event)
            if isinstance(event, Lost) and not event.charged:
                pool.submit(event.job)  # what the ledger does with a job we stopped
    return events


def finished(events) -> set[int]:
    return {e.job.id for e in events if isinstance(e, Finished)}


@pytest.fixture
def pool():
    made: list[LocalPool] = []

    def make(workers: int = 2, **kwargs) -> LocalPool:
        p = LocalPool(workers, kwargs.pop("queue_bound", 8), kwargs.pop("file_timeout", 60), log_level="error")
        p.start()
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop_now()


def wait_ready(pool: LocalPool, n: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for s in pool.slots.values() if s.ready) < n:
        assert time.monotonic() < deadline, "workers did not become ready"
        pool.poll(0.05)


def test_a_burst_through_the_pool_is_counted_once_per_file(pool, tmp_path):
    p = pool(2)
    folder = make_folder(tmp_path)
    jobs = make_jobs(folder, 12)
    events: list = []
    todo = list(jobs)
    deadline = time.monotonic() + 60
    while len(finished(events)) < len(jobs):
        assert time.monotonic() < deadline, events
        while todo and p.room() > 0:
            p.submit(todo.pop(0))
        events += p.poll(0.05)
    assert all(e.result.ok for e in events if isinstance(e, Finished))
    assert {e.job.id for e in events if isinstance(e, Started)} == {j.id for j in jobs}
    assert p.counters.snapshot() == (12, 0)
    assert p.idle() and p.alive() == 2


def test_a_file_alone_gets_every_core_and_a_busy_pool_a_core_per_worker(pool, tmp_path):
    cores = len(os.sched_getaffinity(0))
    p = pool(cores)
    first, second, later = make_jobs(make_folder(tmp_path), 3)
    p.submit(first)
    p.submit(second)  # the first is still in the pool
    events = run_until(p, lambda ev: len(finished(ev)) == 2, 30, "two files")
    p.submit(later)  # the pool is empty again
    events += run_until(p, lambda ev: later.id in finished(ev), 30, "the later file")
    done = {e.job.id: e for e in events if isinstance(e, Finished)}
    assert all(e.result.ok for e in done.values())
    assert {i: e.job.threads for i, e in done.items()} == {first.id: cores, second.id: 1, later.id: cores}


def test_room_is_the_queue_bound_minus_unstarted_jobs(pool, tmp_path):
    p = pool(1, queue_bound=3)
    folder = make_folder(tmp_path)
    for job in make_jobs(folder, 3):
        p.submit(job)
    assert p.room() == 0
    run_until(p, lambda ev: len(finished(ev)) == 3, 30, "three files")
    assert p.room() == 3


def test_shrinking_then_losing_a_worker_keeps_the_target(pool, tmp_path):
    """Finding: `workers - retiring` where `+ retiring` was meant. 2 -> 1, then one
    worker killed at once: exactly one must remain, never none."""
    p = pool(2)
    folder = make_folder(tmp_path)
    wait_ready(p, 2)
    p.resize(1)
    p.poll(0)  # the retirement sentinel goes into the queue
    assert p.retiring == 1
    victim = next(iter(p.slots.values())).process
    os.kill(victim.pid, signal.SIGKILL)
    jobs = make_jobs(folder, 6)
    for job in jobs:
        p.submit(job)
    events = run_until(p, lambda ev: len(finished(ev)) == 6, 60, "every file with one worker")
    assert len(finished(events)) == 6
    deadline = time.monotonic() + 20
    while not (p.alive() == 1 and p.retiring == 0):
        assert time.monotonic() < deadline, f"alive {p.alive()}, retiring {p.retiring}"
        p.poll(0.05)


def _take_the_sentinel_and_linger(tasks, results, slot: int) -> None:
    """A worker that takes the retirement sentinel, says Leaving, and is slow to exit."""
    assert tasks.get() is None
    results.put(Leaving(slot))
    time.sleep(60)


def test_a_worker_killed_while_it_retires_is_not_replaced(pool, tmp_path):
    """Finding (a full run, 1 of 1157 under load): 2 -> 1, and the worker that took the
    retirement sentinel was SIGKILLed while exiting. Counted as died, it left `retiring`
    waiting for a sentinel no longer in the queue: its replacement made 2 workers for a
    target of 1, for good. Here the pool's one worker is busy with a slow file when a
    second slot, a process that lingers after its Leaving, joins: the pool retires one
    worker, only the lingering one can take the sentinel, and it is killed after."""
    p = pool(1)
    wait_ready(p, 1)
    (busy,) = make_jobs(make_folder(tmp_path, FULL), 1, size=(6000, 4000))  # seconds of PNG encoding
    p.submit(busy)
    run_until(p, lambda ev: any(isinstance(e, Started) for e in ev), 20, "the slow file to start")
    lingering = p.ctx.Process(target=_take_the_sentinel_and_linger, args=(p.tasks, p.results, 1))
    lingering.start()
    p.slots[1] = Slot(1, lingering, p.ctx.Value("q", 0, lock=False), ready=True)
    p.poll(0)  # 2 slots for a target of 1: a sentinel goes into the queue, for the idle one
    assert p.retiring == 1
    deadline = time.monotonic() + 20
    while not p.slots[1].leaving:
        assert time.monotonic() < deadline, "the sentinel was not taken"
        p.poll(0.05)
    assert p.results.lock_free(5)  # its put has let go of the mailbox (a kill inside it is a rebuild's case)
    os.kill(lingering.pid, signal.SIGKILL)  # killed after taking it, before exiting
    lingering.join(10)
    assert lingering.exitcode == -signal.SIGKILL
    events = run_until(p, lambda ev: busy.id in finished(ev), 60, "the slow file")
    for _ in range(20):  # long enough for a replacement to be spawned, had it been
        events += p.poll(0.05)
    assert p.retiring == 0 and sorted(p.slots) == [0] and p.alive() == 1
    assert not [e for e in events if isinstance(e, Lost)]  # no rebuild handed the slow file back


def test_growing_the_pool_spawns_workers(pool):
    p = pool(1)
    p.resize(3)
    p.poll(0)
    wait_ready(p, 3)
    assert p.alive() == 3


def _die_holding(lock) -> None:
    lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_mailbox_lock_held_by_a_dead_worker_is_noticed_with_one_worker(pool, tmp_path):
    """Finding: with workers: 1, a worker killed holding the mailbox's write lock is
    respawned and blocks in its first put; nothing noticed, and the watchdog was pinged."""
    p = pool(1)
    folder = make_folder(tmp_path)
    wait_ready(p, 1)
    wedged = p.results
    holder = p.ctx.Process(target=_die_holding, args=(p.results._lock,))
    holder.start()
    holder.join(10)
    assert holder.exitcode == -signal.SIGKILL
    os.kill(next(iter(p.slots.values())).process.pid, signal.SIGKILL)  # its replacement blocks in "ready"
    for job in make_jobs(folder, 2):
        p.submit(job)
    events = run_until(p, lambda ev: len(finished(ev)) == 2, 30, "the files after the mailbox was rebuilt")
    assert p.results is not wedged, "the files ended without a new mailbox"
    lost = [e for e in events if isinstance(e, Lost)]
    assert lost and not any(e.charged for e in lost), f"the rebuild hands the files back uncharged: {lost}"
    assert p.healthy()


def test_counter_lock_held_by_a_dead_process_is_rebuilt_and_counts_kept(pool, tmp_path):
    p = pool(2)
    folder = make_folder(tmp_path)
    for job in make_jobs(folder, 2):
        p.submit(job)
    run_until(p, lambda ev: len(finished(ev)) == 2, 30, "two files")
    holder = p.ctx.Process(target=_die_holding, args=(p.counters.processed.lock,))
    holder.start()
    holder.join(10)
    for job in make_jobs(folder, 3, start=10):
        p.submit(job)
    run_until(p, lambda ev: len(finished(ev)) == 3, 60, "three more files after the rebuild")
    deadline = time.monotonic() + 10
    while p.counters.snapshot() != (5, 0):  # a count a stuck lock refused is applied after the rebuild
        assert time.monotonic() < deadline, p.counters.snapshot()
        p.poll(0.05)


def test_counts_per_folder_survive_a_rebuild_and_sum_to_the_totals(pool, tmp_path):
    """Each folder's slot in the shared counts, kept by a rebuild of the counters (a lock
    held by a dead process), including a count the stuck lock refused meanwhile."""
    from dataclasses import replace

    p = pool(2)
    studio = make_folder(tmp_path / "studio")
    shop = replace(make_folder(tmp_path / "shop"), name="shop", slot=1)
    jobs = make_jobs(studio, 3) + make_jobs(shop, 2, start=10)
    for job in jobs:
        p.submit(job)
    run_until(p, lambda ev: len(finished(ev)) == 5, 60, "five files")
    assert p.snapshot().by_slot[:2] == ((3, 0), (2, 0))
    holder = p.ctx.Process(target=_die_holding, args=(p.counters.failed.lock,))
    holder.start()
    holder.join(10)
    p.count("failed", folder=shop)  # the service's own verdict, refused by the stuck lock: applied after
    for job in make_jobs(shop, 1, start=20):
        p.submit(job)
    run_until(p, lambda ev: len(finished(ev)) == 1, 60, "a file after the rebuild")
    deadline = time.monotonic() + 10
    while p.snapshot().by_slot[:2] != ((3, 0), (3, 1)):
        assert time.monotonic() < deadline, p.snapshot().by_slot[:2]
        p.poll(0.05)
    status = p.snapshot()
    assert (status.processed, status.failed) == (6, 1) and not any(p or f for p, f in status.by_slot[2:])


def _write_half_a_message(box: mailbox_mod.Mailbox) -> None:
    """A worker killed between two pieces of a message larger than PIPE_BUF."""
    data = b"x" * 100_000
    frame = mailbox_mod.HEADER.pack(len(data)) + data
    box._lock.acquire()
    os.write(box._writer.fileno(), frame[:5000])
    os.kill(os.getpid(), signal.SIGKILL)


def test_half_a_message_raises_instead_of_hanging(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    box = mailbox_mod.Mailbox(ctx)
    writer = ctx.Process(target=_write_half_a_message, args=(box,))
    writer.start()
    writer.join(10)
    t0 = time.monotonic()
    with pytest.raises(mailbox_mod.Broken, match="incomplete"):
        box.get(timeout=5)
    assert time.monotonic() - t0 < mailbox_mod.COMPLETE_WITHIN + 3
    box.close()


def test_a_large_message_arrives_whole(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    box = mailbox_mod.Mailbox(ctx)
    message = ("done", 0, "é" * 20_000)  # 40 KB: several pipe writes, less than the pipe holds
    box.put(message)
    assert box.get(timeout=5) == message
    box.close()


def test_half_a_message_in_the_pool_rebuilds_it(pool, tmp_path):
    p = pool(2)
    folder = make_folder(tmp_path)
    wait_ready(p, 2)
    writer = p.ctx.Process(target=_write_half_a_message, args=(p.results,))
    writer.start()
    writer.join(10)
    for job in make_jobs(folder, 4):
        p.submit(job)
    events = run_until(p, lambda ev: len(finished(ev)) == 4, 60, "the files after the broken pipe")
    assert len(finished(events)) == 4


def test_a_killed_worker_loses_its_job_charged(pool, tmp_path):
    p = pool(1)
    folder = make_folder(tmp_path, FULL)
    (job,) = make_jobs(folder, 1, size=(6000, 4000))
    p.submit(job)
    started = run_until(p, lambda ev: any(isinstance(e, Started) for e in ev), 30, "the start")
    os.kill(started[-1].pid, signal.SIGKILL)
    events = run_until(p, lambda ev: any(isinstance(e, Lost) for e in ev), 30, "the loss")
    lost = [e for e in events if isinstance(e, Lost)][0]
    assert lost.charged and lost.why == "worker died by signal 9" and lost.job.id == job.id


def test_a_hung_worker_is_killed_after_the_file_timeout(pool, tmp_path):
    p = pool(1, file_timeout=0.05)
    folder = make_folder(tmp_path, FULL)
    (job,) = make_jobs(folder, 1, size=(6000, 4000))
    p.submit(job)
    events = run_until(p, lambda ev: any(isinstance(e, Lost) for e in ev), 30, "the timeout")
    lost = [e for e in events if isinstance(e, Lost)][0]
    assert lost.charged and lost.why == "worker timed out after 0.05 s"


def test_a_counted_file_is_not_counted_again_by_its_next_attempt(pool, tmp_path):
    """A worker killed after counting a file, before it could say so: the next attempt
    carries `counted` (read from the worker's mark) and does not count it again."""
    p = pool(1)
    folder = make_folder(tmp_path)
    (job,) = make_jobs(folder, 1)
    p.submit(job)
    run_until(p, lambda ev: len(finished(ev)) == 1, 30, "the first render")
    assert p.counters.snapshot() == (1, 0)
    from dataclasses import replace
    p.submit(replace(job, id=2, counted="processed"))
    run_until(p, lambda ev: len(finished(ev)) == 1, 30, "the second attempt")
    assert p.counters.snapshot() == (1, 0)


def test_drain_declines_jobs_not_started(pool, tmp_path):
    """Finding: the drain's sentinels queued behind files not yet started, so a drain
    started new work. Now a job taken after the drain began is declined."""
    p = pool(1, queue_bound=6)
    folder = make_folder(tmp_path, FULL)
    jobs = make_jobs(folder, 1, size=(6000, 4000)) + make_jobs(folder, 4, start=2)
    for job in jobs:
        p.submit(job)
    run_until(p, lambda ev: any(isinstance(e, Started) for e in ev), 30, "the first file to start")
    p.drain()
    events: list = []
    deadline = time.monotonic() + 60
    while not p.idle():
        assert time.monotonic() < deadline, events
        events += p.poll(0.05)
    assert finished(events) == {1}
    declined = {e.job.id for e in events if isinstance(e, Lost)}
    assert declined == {2, 3, 4, 5} and not any(e.charged for e in events if isinstance(e, Lost))
    assert not any(isinstance(e, Started) for e in events), "a drain started new work"
