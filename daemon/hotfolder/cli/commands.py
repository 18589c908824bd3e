"""The parser, the table of commands, and main(argv) -> exit code (tests call it directly).

main() is where every error of ours ends: a HotfolderError (each kind with its exit code,
errors.ExitCode) or an OSError (a file or folder the command needed) is said in one
line on stderr, never as a traceback; a bug still shows its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from hotfolder.config import locate as configfile
from hotfolder.config.model import ConfigError
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.runtime.formats import AUTO, LogFormat
from hotfolder.spool.fsnames import display, printable, relative_name

EPILOG = "Config reference: README.md, section 'Config reference'."


CONFIG_HELP = (f"the YAML config file (default: ${configfile.ENV}, else "
               + ", else ".join(str(p) for p in configfile.PLACES) + ")")


LEVELS = ("debug", "info", "warning", "error")


LEVEL_HELP = ("how much to log: info (the default: one line per file in the console format; JSON has "
              "every event, each rendition written too), debug (more events; the console format also shows "
              "each rendition written and each line's details), warning (problems only), error")


def _inbox_subfolder(text: str) -> str:
    """A subfolder of an inbox as given on the command line: inside it, never `..` or absolute."""
    rel = text.strip("/") if not text.startswith("/") else None
    if rel is None or (rel and relative_name(rel) is None):
        raise argparse.ArgumentTypeError(f"{printable(text)!r} is not a path inside the inbox (e.g. clients/acme: "
                                         "no .., no leading /)")
    return rel


COUNT_MAX = 1_000_000_000  # a count given on the command line: SQLite's LIMIT took 10**20 as a traceback


def _at_least_one(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= COUNT_MAX:
        raise argparse.ArgumentTypeError(f"{printable(text)!r} is not a whole number from 1 to {COUNT_MAX:,}")
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotfolder",
        description="Watch hot folders and turn every image dropped there into the renditions a YAML config asks for.",
        epilog=EPILOG,
    )
    p.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_arg(sp: argparse.ArgumentParser, positional: bool = False) -> None:
        sp.add_argument("--config", "-c", metavar="FILE", type=Path, help=CONFIG_HELP)
        if positional:  # `check-config FILE` as well as --config FILE
            sp.add_argument("config_pos", metavar="FILE", type=Path, nargs="?", help="the same as --config FILE")

    run = sub.add_parser("run", help="watch the folders and render files as they arrive (foreground)",
                         description="Watch the configured folders in the foreground until SIGTERM or Ctrl-C.")
    config_arg(run)
    run.add_argument("--log-format", choices=[*LogFormat, AUTO], default=AUTO,
                     help="auto (default): console on a terminal, json otherwise (the journal, a pipe, a file); "
                          "json: one JSON object per line on stderr; console: for people")
    run.add_argument("--log-level", choices=LEVELS, default="info", help=LEVEL_HELP)

    check = sub.add_parser("check-config", help="validate a config file; exit 0 if usable, 1 if not",
                           description="Validate a config file. Prints what to change and exits 1 if it is not usable.")
    config_arg(check, positional=True)

    status = sub.add_parser("status", help="show what the running daemon is doing; exit 1 if it is not running",
                            description="Read the status snapshot the running daemon keeps current.")
    config_arg(status)
    status.add_argument("--json", action="store_true", help="print the raw snapshot as JSON")

    process = sub.add_parser("process", help="render the given files once, through the same pool, and exit",
                             description="Render files once with a folder's renditions; the originals stay where "
                                         "they are.")
    config_arg(process)
    process.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders of them")
    process.add_argument("--folder", help="which configured folder's renditions and output to use (default: the first)")
    process.add_argument("--output", "-o", type=Path, metavar="DIR",
                         help="write the outputs here instead of the folder's output")
    process.add_argument("--log-format", choices=list(LogFormat), default=LogFormat.CONSOLE,
                         help="console: for people (default); json: one JSON object per line")
    process.add_argument("--log-level", choices=LEVELS, default="warning",
                         help="warning: the files that failed (default); info: every file; "
                              "debug: everything, without the progress bar")

    rerender = sub.add_parser("rerender", help="render archived originals again with today's recipe, replacing "
                                               "their outputs",
                              description="Render archived originals again with today's renditions, into the "
                                          "places and under the names the daemon gave their outputs, replacing "
                                          "them (an output name another original owns is not taken: "
                                          "on_name_clash). The originals stay in archive/. With --rendition, "
                                          "only those renditions are made again: every other output is left as "
                                          "it is and still listed in the index of originals and the manifest.")
    config_arg(rerender)
    rerender.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                          help="archived originals, or folders of them, in a folder's archive/ (default: every "
                               "folder's whole archive)")
    rerender.add_argument("--folder", help="only this configured folder")
    rerender.add_argument("--rendition", action="append", dest="renditions", metavar="NAME",
                          help="only this rendition (repeat for more): the other outputs of each original are "
                               "left as they are, byte for byte and mtime, and still listed in the index and "
                               "the manifest; an original its `when:` does not take gets none, said")
    rerender.add_argument("--dry-run", "-n", action="store_true",
                          help="say what would be rendered and what would happen to each output; write nothing")
    rerender.add_argument("--log-format", choices=list(LogFormat), default=LogFormat.CONSOLE,
                          help="console: for people (default); json: one JSON object per line")
    rerender.add_argument("--log-level", choices=LEVELS, default="warning",
                          help="warning: the files that failed (default); info: every file; "
                               "debug: everything, without the progress bar")

    requeue = sub.add_parser("requeue", help="list failed files, or move them back to the inbox to try again",
                             description="Without arguments: list the failed files and why they failed. With "
                                         "NAME (a file in failed/, by name or path), a glob ('*.jpg', quoted) "
                                         "or --all: move them back to their inbox (their .error.json goes).")
    config_arg(requeue)
    which = requeue.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every failed file of every folder")
    which.add_argument("names", nargs="*", default=[], metavar="NAME",
                       help="failed files: names as listed, paths, or globs")
    init = sub.add_parser("init", help="write a config to edit, and its folders, into DIR",
                          description="Write DIR/config/hotfolder.yaml (the example config, yours to edit) and "
                                      "make the folders it names under DIR/var/; from DIR, every command finds "
                                      "the config without --config. An existing config is never replaced.")
    init.add_argument("dir", type=Path, metavar="DIR", help="the folder to set up (made if missing)")
    explain = sub.add_parser("explain", help="say which renditions a file gets and why, where their outputs go; "
                                             "writes nothing",
                             description="For each file (in an inbox, failed/, archive/, or anywhere): which folder "
                                         "takes it, what its recipe reads of it, which renditions apply and where "
                                         "their outputs go, and which condition excluded each other one. Writes "
                                         "nothing.")
    config_arg(explain)
    explain.add_argument("files", nargs="+", metavar="FILE", help="image files")
    explain.add_argument("--json", action="store_true", help="one JSON list, an object per file")
    explain.add_argument("--folder", help="the folder to explain a file outside every folder for (default: the first)")
    explain.add_argument("--subfolder", metavar="PATH", type=_inbox_subfolder,
                         help="as if dropped in this subfolder of the inbox (clients/acme)")
    dupes = sub.add_parser("duplicates", help="list the files found to repeat or resemble earlier originals",
                           description="What the index of originals found: duplicates skipped (in each folder's "
                                       "duplicates folder) or failed, look-alikes flagged or skipped, and the "
                                       "earlier original each matched. Photos only: videos and other files passed "
                                       "through that were skipped lie in the duplicates folder beside their "
                                       "NAME.duplicate.json.")
    config_arg(dupes)
    dupes.add_argument("--json", action="store_true", help="print them as JSON")
    dupes.add_argument("--limit", type=_at_least_one, default=1000, metavar="N",
                       help="the N most recent (default 1000)")
    places = sub.add_parser("places", help="list the folders' places the daemon recorded (the file system each was "
                                           "on), or forget their records",
                            description="Without --forget: each place of the folders (inbox, output, ...) the "
                                        "daemon recorded, the file system it was on when last seen, and where it "
                                        "stands now (there, or waiting for its share). --forget PATH..., with the "
                                        "daemon stopped: forget those places' records, so that the next start takes "
                                        "the path as it finds it (to keep on the local disk a path whose share is "
                                        "gone for good). Writes nothing but state_dir's database.")
    config_arg(places)
    place = places.add_mutually_exclusive_group()
    place.add_argument("--json", action="store_true", help="print them as JSON")
    place.add_argument("--forget", nargs="+", metavar="PATH",
                       help="the places' paths, as listed (or their own bytes); none is forgotten when one has no "
                            "record")
    index = sub.add_parser("index", help="the index of originals: `index rebuild` makes it again from the archives",
                           description="rebuild: read, hash and look at every archived original again (after a "
                                       "restore, or to index originals archived before duplicates were known).")
    config_arg(index)
    index.add_argument("action", choices=["rebuild"], help="rebuild the index from the archives")
    worker = sub.add_parser("worker", help="cluster mode: render jobs from the cluster's queue on this machine",
                            description="Serve a hotfolder cluster (cluster.enabled in the config): check the "
                                        "shared root, then render jobs with Celery's worker until SIGTERM.")
    config_arg(worker)
    worker.add_argument("--concurrency", "-j", type=int, metavar="N",
                        help="render processes (default: cluster.concurrency, else one per core)")
    worker.add_argument("--name", "-n", metavar="NAME", help="node name, %%h = host name (default hotfolder@%%h)")
    worker.add_argument("--log-format", choices=list(LogFormat), default=LogFormat.JSON)
    worker.add_argument("--log-level", choices=LEVELS, default="info", help=LEVEL_HELP)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; its exit code (errors.ExitCode). argparse exits 2 by itself on a
    bad command line, 0 after --help or --version."""
    args = _parser().parse_args(argv)
    if args.command != "run":
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    try:
        if args.command != "init":  # init makes the config the others look for
            _find_config(args)
        return int(_command(args.command)(args))
    except ConfigError as exc:
        _say_config_error(exc)
        return exc.exit_code
    except HotfolderError as exc:  # no config found, already running, workers that cannot start, ...
        _say_error(f"hotfolder {args.command}: {exc}")
        return exc.exit_code
    except BrokenPipeError:  # `hotfolder duplicates | head`: the reader has all it wanted
        return _reader_gone()
    except OSError as exc:  # a file or folder the command needed: its name and the system's word
        _say_error(f"hotfolder {args.command}: {_os_problem(exc)}")
        return ExitCode.FAILED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


def _reader_gone() -> ExitCode:
    """End quietly, as a shell tool killed by SIGPIPE does (its exit code): what is left in
    stdout's buffer goes nowhere, not into a second BrokenPipeError at the interpreter's exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return ExitCode.READER_GONE


def _say_config_error(exc: ConfigError) -> None:
    if len(exc.problems) == 1:
        _say_error(f"hotfolder: config error: {exc}")
    else:  # one per line, each with its FILE:LINE:COLUMN, as compilers do
        _say_error(f"hotfolder: config error: {exc.source}: {len(exc.problems)} problems:")
        for line in exc.lines():
            _say_error(f"  {line}")


def _say_error(text: str) -> None:
    """A line on stderr; in the journal (a service's start refused: its config, its lock, ...)
    at priority err, as the log's own errors, so `journalctl -u hotfolder -p err` shows why
    it did not start and not only systemd's "Failed to start"."""
    from hotfolder.runtime.systemd import under_journal

    prefix = "<3>" if under_journal() else ""
    for line in text.splitlines() or [""]:
        print(f"{prefix}{line}", file=sys.stderr)


def _os_problem(exc: OSError) -> str:
    """`PATH: what the system said` (and the second path of a rename), on one line."""
    said = exc.strerror or str(exc)
    paths = [display(os.fsdecode(p)) for p in (exc.filename, exc.filename2) if isinstance(p, (str, bytes))]
    return ": ".join([" -> ".join(paths), said] if paths else [said]).replace("\n", " ")


def _find_config(args: argparse.Namespace) -> None:
    """--config, or the first of the usual places; said on stderr when not given."""
    found = configfile.find(getattr(args, "config_pos", None) or args.config)
    if found.origin:
        print(found.said(), file=sys.stderr)
    args.config = found.path


# Each command's module is imported when it runs: `hotfolder status`, which scripts and
# monitors call often, paid ~0.17 s for imports of every command (explain's recipes,
# structlog, the package's metadata for --version) before.
COMMANDS: dict[str, str] = {
    "run": "run:cmd_run",
    "check-config": "check:cmd_check_config",
    "status": "status:cmd_status",
    "process": "process:cmd_process",
    "requeue": "requeue:cmd_requeue",
    "explain": "explain:cmd_explain",
    "worker": "run:cmd_worker",
    "init": "init:cmd_init",
    "rerender": "rerender:cmd_rerender",
    "duplicates": "duplicates:cmd_duplicates",
    "index": "duplicates:cmd_index",
    "places": "places:cmd_places",
}


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    module, _, function = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(f"hotfolder.cli.{module}"), function)


class _Version(argparse.Action):
    """--version, the package's metadata read only when asked (importlib.metadata: ~25 ms):
    the release and the digest of the code (build.py), and the git commit of a checkout."""

    def __call__(self, parser, namespace, values, option_string=None):
        from hotfolder import build

        commit = build.commit()
        # on stdout, as argparse's own action: $(hotfolder --version)
        sys.stdout.write(f"hotfolder {build.identity()}{f' (git {commit})' if commit else ''}\n")
        parser.exit()
