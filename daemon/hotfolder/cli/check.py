"""`hotfolder check-config`.
"""
from __future__ import annotations

import argparse
import sys

from hotfolder import config
from hotfolder.errors import ExitCode


def cmd_check_config(args: argparse.Namespace) -> int:
    # Every problem is a ConfigError (cli.commands.main prints them); warnings (a ${VAR}
    # unset in this shell) go to stderr, and the config is still usable.
    checked = config.check(args.config)
    for warning in checked.warnings:
        print(f"hotfolder: warning: {warning}", file=sys.stderr)
    cfg = checked.config
    names = ", ".join(f"{f.name} ({len(f.renditions)} renditions)" for f in cfg.folders)
    print(f"{args.config}: OK — {len(cfg.folders)} folder(s): {names}; {cfg.workers} workers")
    return ExitCode.OK
