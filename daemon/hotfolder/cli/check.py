"""`hotfolder check-config`.
"""
from __future__ import annotations

from hotfolder.config import load


def cmd_check_config(args) -> int:
    cfg = load(args.config)
    names = ", ".join(f"{f.name} ({len(f.renditions)} renditions)" for f in cfg.folders)
    print(f"{args.config}: OK — {len(cfg.folders)} folder(s): {names}; {cfg.workers} workers")
    return 0
