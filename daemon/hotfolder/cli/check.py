"""`hotfolder check-config`.
"""
from __future__ import annotations

import argparse

from hotfolder.config import load
from hotfolder.errors import ExitCode


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = load.load(args.config)  # a ConfigError says every problem (cli.commands.main prints them)
    names = ", ".join(f"{f.name} ({len(f.renditions)} renditions)" for f in cfg.folders)
    print(f"{args.config}: OK — {len(cfg.folders)} folder(s): {names}; {cfg.workers} workers")
    return ExitCode.OK
