"""The forkserver that forks the workers: what it preloads, how it starts, and the workers'
entry point. Light on purpose: the main process imports this module, never the engine.

Never fork the main process: it runs watchdog threads. A forkserver is a clean,
single-threaded process started once; it forks workers with the engine already
imported, so a dead worker is replaced in tens of milliseconds. `hotfolder run` starts
it first thing (cli/run.py), so its imports (~0.25 s) run while the main process loads
the service and recovers its folders, not after.
"""
from __future__ import annotations

import signal
import sys
from multiprocessing import forkserver, resource_tracker

PRELOAD = ["hotfolder.workers.worker", "hotfolder.engine.pipeline", "PIL.Image", "PIL.JpegImagePlugin",
           "rawpy"]  # LibRaw and numpy: ~80 ms to import, once here rather than in each worker (engine/decoders/raw)

# The main process's signals (stop, reload), which may come to the whole process group at
# once: Ctrl-C, a terminal's hangup, `kill -TERM -PGID`, timeout(1), supervisord's
# stopasgroup, a systemd unit with the default KillMode=control-group. The pool acts on them;
# its forkserver and workers never do.
GROUP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})

# The resource tracker (the process multiprocessing starts to unlink named semaphores a
# crash leaves behind) sometimes ends with "There appear to be 1 leaked semaphore
# objects", then "'/mp-…': No such file or directory": the semaphore was unlinked, only
# its unregister never reached the tracker's books (1 in 70 runs of `hotfolder process`
# under load; the cause is in CPython, not found). The tracker takes its warning filters
# from this process's -W options when it starts, so they are set before it does: people
# and journals see our lines, not the interpreter's bookkeeping. Its cleanup still runs.
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def start() -> None:
    """Start the resource tracker and the forkserver (again, if one died), with the main
    process's signals blocked: the mask is inherited through fork and exec, so a SIGTERM or
    SIGHUP sent to the whole process group never reaches them (its default action ended the
    forkserver, and its orphaned workers left with it: a group SIGTERM then made an idle
    daemon's stop wait out drain_timeout). CPython starts its resource tracker the same
    way. A signal the main process gets meanwhile waits, pending, for the mask to be
    restored: none is lost. Cheap when both run."""
    if TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNINGS)
    forkserver.set_forkserver_preload(PRELOAD)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)
    try:
        # The tracker's own start unblocks SIGINT and SIGTERM when it is done (the forkserver's
        # would start it so, in between): it goes first, then the mask is set again.
        resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def consume(*args) -> None:
    """A worker's entry point (the Process target, pickled by name): the worker's module,
    preloaded in the forkserver, is imported here, so the main process never imports it."""
    from hotfolder.workers.worker import consume as run

    run(*args)
