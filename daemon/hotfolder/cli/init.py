"""`hotfolder init DIR`: a config of one's own to edit, and its folders.

Writes `DIR/config/hotfolder.yaml` (config/starter.py: the repository's example under its
own header) and makes the folders it names under `DIR/var/`, so that from DIR every command
finds the config without `--config`, as in a checkout. An existing config is never
replaced: init says so and changes nothing.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from hotfolder.config import load, starter
from hotfolder.errors import ExitCode
from hotfolder.spool.folders import ensure_dirs


def cmd_init(args: argparse.Namespace) -> int:
    root = Path(os.path.abspath(args.dir.expanduser()))
    config = root / "config" / "hotfolder.yaml"
    if os.path.lexists(config):
        print(f"hotfolder init: {config} exists already: edit it (hotfolder check-config checks it), or move it "
              f"away to start afresh; nothing was changed", file=sys.stderr)
        return ExitCode.FAILED
    config.parent.mkdir(parents=True, exist_ok=True)
    with open(config, "x", encoding="utf-8") as f:  # never over a file made meanwhile
        f.write(starter.for_init())
    cfg = load(config, serving=frozenset())  # as every command will read it
    for folder in cfg.folders:
        ensure_dirs(folder)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    first = cfg.folders[0]
    here = "" if root == Path.cwd() else f"cd {shlex.quote(str(args.dir))} && "
    print(f"wrote {config}, and its folders under {root / 'var'}:\n"
          f"  drop photos into   {first.inbox}\n"
          f"  renditions go to   {first.output} (the originals to {first.archive})\n"
          f"next: edit the config (its renditions, watermark text, folders), then\n"
          f"  {here}hotfolder check-config && hotfolder run")
    return ExitCode.OK

