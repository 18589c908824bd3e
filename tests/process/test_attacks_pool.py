"""The third attack round on the pool (issue 20), in-process with real workers: one hung
worker rebuilt the whole pool (finding 18). (The reloads, the watermark and a full
state_dir, on real daemons: tests/integration/test_attacks_pool.py.)"""
from __future__ import annotations

import os
import signal
import time

from hotfolder.backend import Finished, Lost, Started
from hotfolder.workers.pool import LocalPool
from hotfolder.workers.wedge import WEDGE_AFTER
from tests.harness import resume
from tests.process.test_pool import FULL, make_folder, make_jobs, pool  # noqa: F401 - `pool` is a fixture


def _poll_until(p: LocalPool, events: list, done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}; events: {events}"
        for event in p.poll(0.05):
            events.append(event)
            if isinstance(event, Lost) and not event.charged:
                p.submit(event.job)  # what the ledger does with a job the pool stopped


def test_a_hung_worker_is_replaced_alone_and_the_busy_one_keeps_its_file(pool, tmp_path):  # noqa: F811
    """Finding: after file_timeout killed one worker, the stall check saw its slot free
    and a job waiting, and rebuilt the pool: the healthy busy worker was killed too and
    its file started again uncharged (a 60 s file ran 3 x 60 s before an attempt counted).
    Now only the hung worker is replaced; the other file ends on its one attempt."""
    timeout = WEDGE_AFTER + 4.0
    p = pool(2, file_timeout=timeout)
    folder = make_folder(tmp_path, FULL)
    (hung,) = make_jobs(folder, 1, size=(6000, 4000))  # seconds of work: stopped mid-render
    (busy,) = make_jobs(folder, 1, start=2, size=(2000, 1500))  # ~0.3 s of work left when resumed
    (waiting,) = make_jobs(folder, 1, start=3)
    events: list = []

    def started(job) -> int | None:
        return next((e.pid for e in events if isinstance(e, Started) and e.job.id == job.id), None)

    def stop_rendering(job) -> int:
        """SIGSTOP the worker of `job` once it let go of the mailbox's lock (its "start" is
        written; a render holds no lock): busy and silent, as a long render is."""
        _poll_until(p, events, lambda: started(job), 30, f"{job.rel} to start")
        assert p.results.lock_free(timeout=5)
        os.kill(started(job), signal.SIGSTOP)
        return started(job)

    p.submit(hung)
    stop_rendering(hung)  # it never ends: file_timeout must kill it
    # The busy file starts WEDGE_AFTER + 1 s before the hung one times out: nothing is heard
    # from then on, and its own timeout is still 3 s away when the hung one's expires.
    deadline = time.monotonic() + timeout - WEDGE_AFTER - 1.0
    while time.monotonic() < deadline:
        events += p.poll(0.05)
    p.submit(busy)
    busy_pid = stop_rendering(busy)
    p.submit(waiting)  # no worker is free: it waits in the queue for more than WEDGE_AFTER
    try:
        _poll_until(p, events, lambda: any(isinstance(e, Lost) for e in events), timeout + 10,
                    "the hung worker to be killed")
    finally:
        resume(busy_pid)
    _poll_until(p, events, lambda: {busy.id, waiting.id} <= {e.job.id for e in events if isinstance(e, Finished)},
                60, "the busy and the waiting file to finish")

    lost = [e for e in events if isinstance(e, Lost)]
    assert [(e.job.id, e.charged) for e in lost] == [(hung.id, True)], \
        f"only the hung file is lost: {[(e.job.rel, e.why) for e in lost]}"
    assert "timed out" in lost[0].why
    starts = [e.job.id for e in events if isinstance(e, Started)]
    assert starts.count(busy.id) == 1, f"the busy file was started again: {starts}"
    done = {e.job.id: e for e in events if isinstance(e, Finished)}
    assert done[busy.id].result.ok and done[busy.id].result.pid == busy_pid, "the busy worker did not keep its file"
    assert done[waiting.id].result.ok
    assert p.alive() == 2 and p.counters.snapshot() == (2, 0)
