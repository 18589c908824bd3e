"""`hotfolder check-config`.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from hotfolder import config
from hotfolder.errors import ExitCode
from hotfolder.shown import printable
from hotfolder.spool import shares


def cmd_check_config(args: argparse.Namespace) -> int:
    # Every problem is a ConfigError (cli.commands.main prints them); warnings (a ${VAR}
    # unset in this shell) go to stderr, and the config is still usable.
    checked = config.check(args.config)
    for warning in checked.warnings:
        print(f"hotfolder: warning: {warning}", file=sys.stderr)
    cfg = checked.config
    for key, gone, others in _unmounted(cfg):
        also = f" (so are its {_listed(others)} folders)" if others else ""
        print(f"hotfolder: warning: {key}: {gone.said(also)}. The daemon starts all the same, and serves this "
              f"folder once it is there", file=sys.stderr)
    names = ", ".join(f"{f.name} ({len(f.renditions)} renditions)" for f in cfg.folders)
    c = cfg.cluster
    each = f"{c.concurrency} render process(es) a node" if c.concurrency else "a render process per core a node"
    by = (f"cluster {c.cluster_id}: its nodes render (`hotfolder worker`, {each}), not `workers`" if c.enabled
          else f"{cfg.workers} workers")
    print(f"{args.config}: OK — {len(cfg.folders)} folder(s): {names}; {by}")
    # Where each folder is, as resolved: a relative path is the config file's folder's, which an
    # admin who ran this from elsewhere did not expect (an admin's afternoon)
    print(f"  relative paths are relative to the config file's folder, {printable(str(cfg.source.parent))}")
    for f in cfg.folders:
        print(f"  {printable(f.name)}: inbox {printable(str(f.inbox))}, output {printable(str(f.output))}")
    return ExitCode.OK


def _unmounted(cfg: config.Config) -> Iterator[tuple[str, shares.Gone, list[str]]]:
    """Per folder with places on a share that is not mounted now (by the records the daemon
    keeps in state_dir, read only): the first one's key path, why, and the others' keys. The
    daemon would wait for them, not make them."""
    for folder in cfg.folders:
        found = [gone for key in shares.KEYS if (path := getattr(folder, key)) is not None
                 and (gone := shares.gone_by_record(path, cfg.state_dir, folder.name, key)) is not None]
        if found:
            yield f"folders[{folder.name}].{found[0].key}", found[0], [g.key for g in found[1:]]
    root = cfg.cluster.shared_root
    if cfg.cluster.enabled and root is not None:
        gone = shares.gone_by_record(root, cfg.state_dir, "", "cluster.shared_root")
        if gone is not None:
            yield "cluster.shared_root", gone, []


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
