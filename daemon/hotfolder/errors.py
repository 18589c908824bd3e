"""The one root of hotfolder's own exceptions, and the exit codes of its commands.

Every error the project raises on purpose derives from `HotfolderError`, so a caller
(the CLI, the service loop) can tell "ours, with a message for the user" from a bug.
Each subclass is one kind of problem, and its message says what to change. Each kind
says how a command ends when it meets it (`exit_code`): `cli.main` catches the root,
prints the message on one line and exits with that code, so no user sees a traceback.
"""
from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """How a command ended (README, "Commands").

    Several kinds share 1: they had it before they had names, and scripts test for it.
    """

    OK = 0
    FAILED = 1  # the command could not do all it was asked: a file failed, a name matched nothing,
    #             a file could not be requeued, a file or folder it needed could not be read or written
    CONFIG_ERROR = 1  # the config is not usable (every problem printed, FILE:LINE:COL)
    NOT_RUNNING = 1  # `status`: no daemon runs on this config
    ALREADY_RUNNING = 1  # `run`: another daemon holds this config's state_dir, or one of its folders
    USAGE = 2  # the command cannot run as asked: its arguments (argparse's own 2), no config found,
    #            no such --folder, nothing to process, a start refused (a shared root of another cluster,
    #            a state database a newer release used, a lock path that is no regular file)
    BOOT_FAILURE = 3  # the workers die before they are ready: a broken install, not a bad file (gunicorn's 3)
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it
    READER_GONE = 141  # stdout's reader closed the pipe (`| head`): 128 + SIGPIPE, as a shell tool's


class HotfolderError(Exception):
    """An error of hotfolder's own, whose message tells the user what to change."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED
