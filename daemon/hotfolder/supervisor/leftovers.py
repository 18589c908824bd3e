"""At start: originals a crash left in a processing/ folder the config no longer names
(state/places.py): a reload had changed the folder's `processing:` or removed the folder,
or the config was edited while the daemon was down.

Those of a folder still in the config (by its name) go back to its inbox, where they are
taken as any drop. Those of a folder gone from it stay where they are, and every start
says where and what to do. A processing/ folder another daemon claims from now (its
lock) is left to it; an empty one is forgotten.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from hotfolder.config.model import Config
from hotfolder.spool import moves, nofollow, recovery
from hotfolder.spool.atomic import is_our_temp
from hotfolder.spool.fsnames import display
from hotfolder.spool.shares import Places
from hotfolder.state import places
from hotfolder.supervisor.locks import AlreadyRunning, lock_folder


def gather(config: Config, log, shared: Places | None = None) -> None:
    """Look in every processing/ folder used before and not named now; then remember the
    config's. Said, never raised: the daemon starts whatever this finds. `shared`: which
    file system each place was on (a folder on a share not mounted now is not forgotten)."""
    try:
        for old, name in places.left(config.state_dir, config.folders):
            _gather_one(config, old, name, log, shared)
        places.remember(config.state_dir, config.folders)
    except Exception as exc:  # noqa: BLE001 - a folder or the database: said, the start goes on
        log.warning("processing_check_failed", reason=f"{type(exc).__name__}: {exc}",
                    action="files a crash left in a processing folder the config no longer names are not looked for")


def _gather_one(config: Config, old: Path, name: str, log, shared: Places | None) -> None:
    if not os.path.isdir(old) or _in_use(config, old):
        # gone, or a place of the config now (an archive, an inbox...): its files are not
        # leftovers, and emptied into an inbox they would all be rendered again (a review).
        # One on a share that is not mounted is looked in at a start once it is.
        if shared is None or _in_use(config, old) or shared.judge(old, name, "processing") is None:
            places.forget(config.state_dir, old)
        return
    try:
        lock = lock_folder(old)
    except AlreadyRunning:
        return  # another daemon claims from it now: its files are that daemon's
    try:
        folder = next((f for f in config.folders if f.name == name), None)
        if folder is None:
            _say_left(config, old, name, log)
            return
        at_old = dataclasses.replace(folder, processing=old)
        back, kept = 0, []
        for claimed in list(recovery.claimed_files(at_old)):
            if is_our_temp(claimed.path.name, folder.temp_token):
                continue
            try:
                if moves.unclaim(at_old, claimed) is not None:
                    back += 1
            except moves.NameTaken:
                kept.append(claimed.rel)
        if back:
            log.info("processing_returned", folder=name, processing=str(old), files=back,
                     reason=f"left in {display(str(old))}, a processing folder its config no longer names (a "
                            f"reload changed it, then the daemon stopped without finishing them): back in the inbox")
        if kept:
            log.warning("processing_left", folder=name, processing=str(old), files=len(kept),
                        reason=f"{len(kept)} file(s) a crash left in {display(str(old))} have a newer file of their "
                               f"name in the inbox", action="move them into the inbox under other names")
        elif not _originals(old, folder.temp_token):
            places.forget(config.state_dir, old)
    finally:
        os.close(lock)


def _in_use(config: Config, old: Path) -> bool:
    """`old` is, or lies in, a folder the config uses now."""
    used = [config.state_dir, *(p for f in config.folders for p in f.all_dirs())]
    return any(old == p or old.is_relative_to(p) or p.is_relative_to(old) for p in used)


def _say_left(config: Config, old: Path, name: str, log) -> None:
    token = config.folders[0].temp_token if config.folders else ""
    found = _originals(old, token)
    if not found:
        places.forget(config.state_dir, old)
        return
    log.warning("processing_left", folder=name, processing=str(old), files=len(found),
                reason=f"{len(found)} file(s) a crash left in {display(str(old))}, the processing folder of folder "
                       f"{display(name)}, which the config no longer has, were never rendered",
                action="move them into an inbox to render them (or delete them); said at every start until that "
                       "folder is empty")


def _originals(processing: Path, token: str) -> list[Path]:
    return [p for p in nofollow.walk(processing) if not is_our_temp(p.name, token)]
