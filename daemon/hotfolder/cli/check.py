"""`hotfolder check-config`.
"""
from __future__ import annotations

import sys

from hotfolder import config


def cmd_check_config(args) -> int:
    # Warnings (a ${VAR} unset in this shell) go to stderr; the config is still usable.
    checked = config.check(args.config)
    for warning in checked.warnings:
        print(f"hotfolder: warning: {warning}", file=sys.stderr)
    cfg = checked.config
    names = ", ".join(f"{f.name} ({len(f.renditions)} renditions)" for f in cfg.folders)
    print(f"{args.config}: OK — {len(cfg.folders)} folder(s): {names}; {cfg.workers} workers")
    return 0
