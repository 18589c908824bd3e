"""Command line: run, check-config, status, process, requeue, worker.

`main(argv)` (cli/commands.py) returns the exit code, so tests call it directly; each
command lives in its own module.
"""
import signal

# A SIGHUP (reload) that arrives before `run` has its handler would end the process
# (the default action): hold it back from the first moment, before any import of
# ours; the service lets it through once it can take it as a reload, main() at once
# for every other command.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})

from hotfolder.cli.commands import main  # noqa: E402 - after the block, on purpose

__all__ = ["main"]
