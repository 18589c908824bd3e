"""Command line: run, check-config, status, process, requeue, worker.

`main(argv)` (cli/commands.py) returns the exit code, so tests call it directly; each
command lives in its own module.
"""
import os
import signal

# One BLAS thread a process: a worker is one of as many as there are cores, and numpy's
# OpenBLAS (engine/ssimulacra2's products) would start one of its own per core in each,
# spinning after every call. Set before numpy loads: the forkserver, the workers and
# Celery's inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# A SIGHUP (reload) that arrives before `run` has its handler would end the process
# (the default action): hold it back from the first moment, before any import of
# ours; the service lets it through once it can take it as a reload, main() at once
# for every other command.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})


def main(argv: list[str] | None = None) -> int:
    """The console script's entry: cli/commands.main, imported here. A Ctrl-C while its
    modules load (~0.3 s: yaml, structlog, the config's model) ends as one in a command
    does, exit 130 without a traceback; imported at this module's import, it raised
    KeyboardInterrupt through the console script's `from hotfolder.cli import main`."""
    try:
        from hotfolder.cli.commands import main as command
    except KeyboardInterrupt:
        return 130  # errors.ExitCode.INTERRUPTED, whose module may not be loaded yet
    return command(argv)


__all__ = ["main"]
