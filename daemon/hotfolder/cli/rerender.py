"""`hotfolder rerender`: render archived originals again with today's recipe, into the places
and under the names the daemon gave their outputs, replacing them — what a studio does after
changing a recipe.

Each archived original is rendered as the daemon rendered it: its path under archive/ is
the path it came in with (or the one the archive kept when it had to rename it: see
spool/archived.py), so its outputs go to the same subfolder of output/ under the same
names, and it owns them (spool/owners.py): its own are replaced; a name another original
owns is not taken (on_name_clash decides, as for a drop). Of several drops of one name
only the last, whose outputs are there, is rendered. The originals stay where they are.
`--dry-run` says all this per file and renders nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePath

from hotfolder.arrival import rules
from hotfolder.cli import batchrun
from hotfolder.config import load
from hotfolder.config.model import Config, Folder
from hotfolder.engine import formats
from hotfolder.errors import ExitCode
from hotfolder.spool import archived, owners
from hotfolder.spool.atomic import is_our_temp
from hotfolder.spool.fsnames import display


def cmd_rerender(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())  # serves no http, sends no notification
    chosen = _chosen(cfg, args)
    if isinstance(chosen, str):
        print(f"hotfolder rerender: {chosen}", file=sys.stderr)
        return ExitCode.USAGE
    code = ExitCode.OK
    for folder, archive, roots in chosen:
        found = list(archived.originals(archive, roots, _skip(folder)))
        current = [a for a in found if a.newer is None]
        earlier = [a for a in found if a.newer is not None]
        if args.dry_run:
            _say_plan(folder, archive, current, earlier)
            continue
        if not current:
            print(f"folder {folder.name}: no archived original to render", file=sys.stderr)
            continue
        bar = batchrun.setup_log(args)  # one bar per folder
        results, elapsed = batchrun.render(args, cfg, folder, [(a.path, a.rel) for a in current], bar)
        ok = sum(1 for o in results if o.result.ok)
        stopped = len(current) - len(results)
        print(f"folder {folder.name}: rendered {ok} of {len(current)} archived original(s) again in {elapsed:.1f} s "
              f"into {folder.output}; {len(results) - ok} failed" + (f", {stopped} not rendered (stopped)"
                                                                     if stopped else "")
              + (f"; {len(earlier)} earlier drop(s) of a name skipped" if earlier else ""), file=sys.stderr)
        if ok < len(current):
            code = ExitCode.FAILED
        if stopped:
            break
    return code


def _chosen(cfg: Config, args: argparse.Namespace) -> list[tuple[Folder, Path, list[Path]]] | str:
    """(folder, its archive/, the paths to render there) each; or what is wrong."""
    folders = [f for f in cfg.folders if not args.folder or f.name == args.folder]
    if not folders:
        return f"no folder named {args.folder!r} in {args.config} (folders: {', '.join(f.name for f in cfg.folders)})"
    archives = [(f, f.archive) for f in folders if f.archive is not None]
    if not args.paths:
        kept = [(f, archive, [archive]) for f, archive in archives]
        return kept or "no folder archives its originals (on_success: delete): there is nothing to render again"
    out: dict[str, tuple[Folder, Path, list[Path]]] = {}
    for given in args.paths:
        path = Path(given).absolute()
        # The folder whose archive holds it most closely (one folder's archive may lie in another's).
        holders = sorted(((f, a) for f, a in archives if path.is_relative_to(a)), key=lambda fa: len(fa[1].parts),
                         reverse=True)
        if not holders:
            where = ", ".join(f"{f.name}: {a}" for f, a in archives)
            return (f"{given} is not in the archive of {'folder ' + args.folder if args.folder else 'any folder'} "
                    f"({where or 'none archives'}); to render other files, use `hotfolder process`")
        if not path.exists():
            return f"{given}: no such file or folder"
        folder, archive = holders[0]
        out.setdefault(folder.name, (folder, archive, []))[2].append(path)
    return list(out.values())


def _skip(folder: Folder):
    """Names left out: hidden and ignored names, what passes through (videos), our temp files."""
    return lambda name: (rules.ignored_name(folder, name) or rules.passes_through(folder, Path(name))
                         or is_our_temp(name, folder.temp_token))


def _say_plan(folder: Folder, archive: Path, current: list[archived.Archived],
              earlier: list[archived.Archived]) -> None:
    """--dry-run: each original, its outputs and what would happen to each; nothing is written."""
    tally: dict[str, int] = {}
    for item in current:
        planned = owners.plan(folder, item.rel, _wanted(folder, item.rel))
        said = []
        for p in planned:
            how = "fails" if p.how.startswith("fails") else p.how
            tally[how] = tally.get(how, 0) + 1
            said.append(f"{display(p.path.relative_to(folder.output).as_posix())} ({p.how})")
        came = "" if item.path == archive / item.rel else f" (came in as {display(item.rel)})"
        print(f"{display(item.path.relative_to(archive).as_posix())}{came} → {', '.join(said)}")
    for item in earlier:
        newer = item.newer.relative_to(archive).as_posix() if item.newer else "?"
        print(f"{display(item.path.relative_to(archive).as_posix())}: skipped, an earlier drop of "
              f"{display(item.rel)} (its outputs are {display(newer)}'s now)")
    parts = [f"{tally.get(k, 0)} {label}" for k, label in (
        ("replaced", "replaced"), ("new", "new"), ("renamed", "new under another name (the name is another "
                                                             "original's)"),
        ("taken over", "taken over from another original (on_name_clash: replace)"),
        ("fails", "would fail (on_name_clash: fail)"))]
    print(f"folder {folder.name}: would render {len(current)} archived original(s) into {folder.output}; outputs: "
          f"{', '.join(parts)}; {len(earlier)} earlier drop(s) of a name skipped. Nothing was written (--dry-run).")


def _wanted(folder: Folder, rel: str) -> list[Path]:
    """The outputs the daemon's templates give `rel` (formats by the file's extension: the
    daemon decides by its content, which a dry run does not read)."""
    name = PurePath(rel).name
    suffix = PurePath(name).suffix.lower().lstrip(".")
    source = next((f.name for f in formats.TABLE if suffix in f.extensions), "")
    out_dir = folder.output / PurePath(rel).parent
    return [out_dir / owners.output_name(r, name, formats.output_ext(r.format, source, name), folder.name)
            for r in folder.renditions]
