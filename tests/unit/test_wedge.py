"""The wedge detector on plain values: which worker is hung, when the queue is stalled,
when a lock is held by the dead. No process: the pool's own tests (test_pool.py,
test_attacks_pool.py) show the same rules acting on real workers."""
from __future__ import annotations

from dataclasses import dataclass

from hotfolder.workers import wedge
from hotfolder.workers.wedge import BOOT_DEADLINE, WEDGE_AFTER, LockProbe

NOW = 1000.0


@dataclass(frozen=True)
class W:
    """A worker as the detector sees it."""

    ready: bool = True
    busy: bool = False
    since: float = NOW
    spawned: float = NOW - 60
    exited: bool = False
    leaving: bool = False


@dataclass(frozen=True)
class Q:
    queued_at: float = NOW - WEDGE_AFTER - 1
    started: bool = False


def test_only_a_worker_busy_past_the_timeout_is_hung():
    long_busy = W(busy=True, since=NOW - 31)
    short_busy = W(busy=True, since=NOW - 29)
    idle_long = W(busy=False, since=NOW - 300)
    assert wedge.hung([long_busy, short_busy, idle_long], NOW, file_timeout=30) == [long_busy]


def test_a_stall_needs_silence_a_waiting_job_and_a_free_worker():
    silent = NOW - WEDGE_AFTER
    assert wedge.stalled([W()], [Q()], last_heard=silent, now=NOW)
    assert not wedge.stalled([W()], [Q()], last_heard=silent + 0.1, now=NOW), "heard from recently"
    assert not wedge.stalled([W()], [Q(queued_at=NOW - 1)], last_heard=silent, now=NOW), "queued just now"
    assert not wedge.stalled([W()], [Q(started=True)], last_heard=silent, now=NOW), "nothing waits"
    assert not wedge.stalled([W(busy=True)], [Q()], last_heard=silent, now=NOW), "every worker is busy"


def test_at_a_stop_only_free_workers_that_never_took_their_sentinel_after_silence_are_unretired():
    """A drain whose queue's read lock went with a dead worker: the sentinels are not jobs,
    so `stalled` never fired and the stop waited out drain_timeout."""
    free, busy, leaving, dead = W(), W(busy=True), W(leaving=True), W(exited=True)
    silent = NOW - WEDGE_AFTER
    assert wedge.unretired([free, busy, leaving, dead], heard=silent, now=NOW) == [free]
    assert wedge.unretired([free], heard=silent + 0.1, now=NOW) == [], "heard from (or drained) just now"


def test_the_hung_workers_slot_is_not_free():
    """Finding (test_attacks_pool, #18): a killed hung worker's slot looked free and the
    stall check rebuilt the pool, killing the healthy busy worker too. A dead worker is
    the reaper's: never free."""
    assert not wedge.stalled([W(exited=True), W(busy=True)], [Q()], last_heard=NOW - 60, now=NOW)


def test_a_worker_silent_since_its_spawn_counts_as_free_after_the_boot_deadline():
    """It may be stuck in its first message (a mailbox lock held by the dead)."""
    booting = W(ready=False, spawned=NOW - BOOT_DEADLINE + 1)
    stuck = W(ready=False, spawned=NOW - BOOT_DEADLINE - 1)
    assert not wedge.stalled([booting], [Q()], last_heard=NOW - 60, now=NOW)
    assert wedge.stalled([stuck], [Q()], last_heard=NOW - 60, now=NOW)


def test_working_counts_the_live_ready_and_booting_workers():
    workers = [W(), W(busy=True), W(ready=False, spawned=NOW - 1), W(ready=False, spawned=NOW - BOOT_DEADLINE - 1),
               W(exited=True)]
    assert wedge.working(workers, NOW) == 3


def test_a_lock_is_wedged_after_two_misses_in_a_row_not_one():
    probe = LockProbe()
    assert not probe.probed(free=False) and not probe.clear  # one miss: a holder descheduled
    assert not probe.probed(free=True) and probe.clear  # the count starts over
    assert not probe.probed(free=False)
    assert probe.probed(free=False)
