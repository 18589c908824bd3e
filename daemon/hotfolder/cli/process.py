"""`hotfolder process`.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
from pathlib import Path

from hotfolder.cli import batchrun
from hotfolder.config import load
from hotfolder.config.model import Folder
from hotfolder.errors import ExitCode
from hotfolder.runtime import log
from hotfolder.sidecars import is_sidecar
from hotfolder.spool.fsnames import printable, walk_files


def cmd_process(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())  # serves no http, sends no notification
    folder = cfg.folders[0]
    if args.folder:
        matches = [f for f in cfg.folders if f.name == args.folder]
        if not matches:
            print(f"hotfolder: no folder named {args.folder!r} in {args.config} "
                  f"(folders: {', '.join(f.name for f in cfg.folders)})", file=sys.stderr)
            return ExitCode.USAGE
        folder = matches[0]
    if args.output:
        if (watched := _watched(cfg, args.output.resolve())) is not None:
            print(f"hotfolder: --output {printable(str(args.output))} is inside {watched}, which holds "
                  "originals (an inbox's or processing's are taken by a running daemon as new ones; archive/ and "
                  "failed/ are where originals are kept, which rerender, requeue and an index rebuild read); "
                  "choose a folder outside the config's inboxes, processing, archive and failed folders",
                  file=sys.stderr)
            return ExitCode.USAGE
        folder = dataclasses.replace(folder, output=args.output.resolve(),
                                     names_dir=_names_for(folder.names_dir, args.output.resolve()))
    bar = batchrun.setup_log(args)
    files, missing, left = _expand(args.paths, folder)
    if left:  # a card's videos and clutter failed, one by one, and the run with them (a photographer's first try)
        shown = ", ".join(printable(r) for r in left[:SHOWN_LEFT]) + (", …" if len(left) > SHOWN_LEFT else "")
        print(f"hotfolder: left out {len(left)} file(s) the folder passes through to archive/ or leaves alone in its "
              f"inbox (pass_through:, ignore:): {shown}", file=sys.stderr)
    for path in missing:
        if os.path.lexists(path):  # there, but no file nor folder: a FIFO, a device, a dangling link
            log.get("batch").warning("file_failed", file=str(path), reason="it is not a file (a FIFO, a socket, a "
                                     "device, or a link to nothing): only files and folders are processed",
                                     outcome="failed")
        else:
            log.get("batch").warning("file_not_found", file=str(path), outcome="failed")
    if not files:
        bar.close()
        # A folder of only hidden, temp or sidecar names said "nothing to process", no more (a new user)
        why = "" if missing else (": no file in the folder(s) given (hidden and temp names are left out, and XMP "
                                  "sidecars, read with their images); give image files, or folders that hold them")
        print(f"hotfolder: nothing to process{why}", file=sys.stderr)
        return ExitCode.FAILED if missing else ExitCode.USAGE  # a path that does not exist is 1, as documented
    _say_if_archived(cfg, [p for p in args.paths if p.exists()])
    results, elapsed = batchrun.render(args, cfg, folder, files, bar, outside=True)
    ok = sum(1 for o in results if o.result.ok)
    bad = len(results) - ok
    unmatched = sum(1 for o in results if o.result.ok and o.result.unmatched)
    beside = batchrun.kept_beside(results)
    summary = [f"{bad} failed"] + ([f"{len(missing)} not found"] if missing else []) + (
        [f"{len(files) - len(results)} not processed (stopped)"] if len(results) < len(files) else []) + (
        [f"{unmatched} unmatched (nothing made: no rendition's `when:` took {'it' if unmatched == 1 else 'them'})"]
        if unmatched else []) + ([f"{beside} output(s) kept as they were, this run's written beside them "
                                  f"({KEPT_WHY})"] if beside else [])
    print(f"processed {ok} of {len(files) + len(missing)} file(s) in {elapsed:.1f} s "
          f"({ok / elapsed:.1f}/s) into {printable(str(folder.output))}; {', '.join(summary)}", file=sys.stderr)
    # An unmatched file is no failure (exit 0), as in the daemon: the folder's `when:`s chose
    # to make nothing of it; `on_no_rendition: fail` makes it one, counted failed (exit 1).
    return ExitCode.OK if ok == len(files) + len(missing) else ExitCode.FAILED


# Why `process` never proves an output of no record its own, as the daemon does by the index of
# originals (workers/provenance.py): it keeps no record of what it writes (a row in the index
# would make a later drop of those bytes a skipped duplicate), and the index's rows are the drops',
# whose outputs a processed file must never take (jobs.Job.outside).
KEPT_WHY = ("each file said above: a file owns only the outputs it wrote as itself, and `process` keeps no record "
            "of their bytes, so one no record names (the output folder moved, state_dir/names deleted) is never "
            "proved its own: delete such old ones if unwanted")


def _names_for(names_dir: Path | None, output: Path) -> Path | None:
    """Who owns which name in an --output folder: records of their own, beside the daemon's
    (`state_dir/names-output/<digest of the folder>`). Kept in the daemon's, they were pruned
    at its next start (their outputs are not in its output folder), and a second `process`
    into the same folder then wrote `~jpg` copies beside the first outputs (a new user's
    finding). Never pruned: they grow only with the names written there."""
    if names_dir is None:
        return None
    digest = hashlib.sha256(os.fsencode(output)).hexdigest()[:16]
    return names_dir.parent / "names-output" / digest


def _say_if_archived(cfg, paths: list[Path]) -> None:
    """Archived originals given to `process` get outputs named from where they are given
    (`output/b5_web.jpg`), not where the daemon put theirs (`output/shoot_B/b5_web.jpg`):
    rerender is the command for them."""
    for path in paths:
        where = path.resolve()
        folder = next((f for f in cfg.folders if f.archive and where.is_relative_to(f.archive)), None)
        if folder is not None:
            shown = printable(str(path))
            print(f"hotfolder: {shown} is in the archive of folder {folder.name!r}: `hotfolder rerender {shown}` "
                  f"renders archived originals again into the places and names the daemon gave them, replacing "
                  f"their outputs; `process` writes new ones named from here", file=sys.stderr)
            return


def _watched(cfg, output: Path) -> str | None:
    """Which folder of the config `output` is in, if it is one the daemon reads from or
    keeps originals in (check-config refuses such a layout for a folder's own output)."""
    for f in cfg.folders:
        for kind in ("inbox", "processing", "archive", "failed"):
            place = getattr(f, kind, None)
            if place is not None and output.is_relative_to(place.resolve()):
                return f"folder {f.name!r}'s {kind} ({printable(str(place))})"
    return None


SHOWN_LEFT = 10  # names of files left out said, at most


def _expand(paths: list[Path], folder: Folder) -> tuple[list[tuple[Path, str]], list[Path], list[str]]:
    """(file, path kept in the output) for each input; a folder keeps its subfolders. And the
    paths of what the folder's inbox would never render, left out (arrival/rules: its
    `pass_through:` and `ignore:`, as rerender leaves them out of the archive)."""
    from hotfolder.arrival import rules

    files: dict[str, Path] = {}
    missing = []
    left: list[str] = []
    for p in paths:
        if p.is_dir():
            root = p.resolve()  # named by the user: followed, as the files in it are (not our folders)
            found = [(f.resolve(), f.relative_to(root).as_posix()) for f in sorted(walk_files(root))]
        elif p.is_file():
            found = [(p.resolve(), p.name)]
        else:
            missing.append(p)
            continue
        for path, rel in found:
            if is_sidecar(path.name):
                continue  # an XMP sidecar is read with its image (workers/batch.py), never rendered
            if (any(rules.ignored_name(folder, part) for part in Path(rel).parts)
                    or rules.passes_through(folder, folder.inbox / rel)):
                left.append(rel)
                continue
            if rel in files and files[rel] != path:
                print(f"hotfolder: skipping {printable(str(path))}: {printable(str(files[rel]))} has the same name "
                      f"and would get the same outputs; process it separately (--output)", file=sys.stderr)
                continue
            files[rel] = path
    return [(path, rel) for rel, path in files.items()], missing, left
