"""The consumer process: take jobs from the queue until the None sentinel.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.queues import Queue

from hotfolder.engine import pipeline
from hotfolder.runtime import log
from hotfolder.workers.counters import Counters, LockStuck, SharedInt
from hotfolder.workers.forks import GROUP_SIGNALS
from hotfolder.workers.mailbox import Mailbox
from hotfolder.workers.messages import Declined, Done, Leaving, Ready, Starting
from hotfolder.workers.reindex import reindex_one
from hotfolder.workers.render import process_one


def _exit_when_orphaned(main_pid: int) -> None:
    """Workers leave by themselves when the main process dies (even by SIGKILL).

    Our parent is the forkserver, which exits when the main process is gone; we
    are then re-parented. Checking the main pid as well covers both orders.
    """
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent or not _exists(main_pid):
            os._exit(3)


def _exists(pid: int) -> bool:
    """Alive, and not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def consume(slot: int, tasks: Queue, results: Mailbox, counters: Counters, mark: SharedInt, stopping: SharedInt,
            parent: int, log_format: str, log_level: str = "info") -> None:
    """The worker process: Queue.get() until the None sentinel.

    `mark` is this worker's own shared Value, set with each count (see counters);
    `stopping` is a shared flag the pool raises when it drains: a job taken after it
    is declined, not started, so a stop never begins new work."""
    # The pool decides when we stop: a signal to the process group must not cut a render in
    # half. Ignored, then no longer blocked (as the forkserver handed them down).
    for sig in GROUP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, GROUP_SIGNALS)
    log.setup(log_format, log_level, role="worker", slot=slot)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    pipeline.warm_up()  # codecs and libvips loaded before the first file, not during it
    results.put(Ready(slot, os.getpid()))
    while True:
        job = tasks.get()
        if job is None:
            results.put(Leaving(slot))  # the sentinel is ours: the pool counts us retired however we end
            break
        if stopping.value:
            results.put(Declined(slot, job.id))
            continue
        results.put(Starting(slot, job.id))
        result = reindex_one(job) if job.reindex else process_one(job)
        counted = True
        if result.counted:  # counted when it really ends (a skipped duplicate is the ledger's to count)
            try:
                counters.count(result.verdict, job.counted, mark, job.id if result.ok else -job.id, folder=job.folder)
            except LockStuck:
                counted = False  # the pool counts it once it has rebuilt the counters
                log.get().error("counter_lock_stuck", reason="a worker died holding the counter lock")
        results.put(Done(slot, result, counted))
