"""`hotfolder rerender`: render archived originals again with today's recipe, into the places
and under the names the daemon gave their outputs, replacing them — what a studio does after
changing a recipe.

Each archived original is rendered as the daemon rendered it: its path under archive/ is
the path it came in with (or the one the archive kept when it had to rename it: see
spool/archived.py), so its outputs go to the same subfolder of output/ under the same
names, and it owns them (spool/owners.py): its own are replaced; a name another original
owns is not taken (on_name_clash decides, as for a drop). Of several drops of one name
only the last of each photo, whose outputs are there, is rendered: a new version replaced
the earlier one's outputs, a different photo got its own (`~2`; the index of originals
says which photo each was). After the output folder moved (or state_dir/names was deleted),
an output no record names is its own where its bytes prove it, as a new version's are in the
daemon (workers/provenance.py, the index read only); one they do not is kept, the new one
written beside, and the summary counts it. `{seq}` gives the next numbers, as for any
render. The originals stay where they are.
`--dry-run` says all this per file and renders nothing. `--rendition NAME` makes only those
renditions again and leaves every other output as it is, still listed by the index and the
manifest (cli/asked.py checks the names, workers/untouched.py lists what is left).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from hotfolder.arrival import rules
from hotfolder.cli import batchrun, explain
from hotfolder.cli.asked import renditions_asked
from hotfolder.config import load
from hotfolder.config.model import Config, Folder
from hotfolder.errors import ExitCode
from hotfolder.jobs import Had
from hotfolder.recipes import select, templates
from hotfolder.recipes.facts import need_of_fields
from hotfolder.sidecars import is_sidecar
from hotfolder.spool import archived, nofollow, owners
from hotfolder.spool.atomic import is_our_temp
from hotfolder.spool.fsnames import display, printable
from hotfolder.spool.recovery import claimed_files
from hotfolder.state import db


def cmd_rerender(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())  # serves no http, sends no notification
    chosen = _chosen(cfg, args)
    if isinstance(chosen, str):
        print(f"hotfolder rerender: {printable(chosen)}", file=sys.stderr)
        return ExitCode.USAGE
    asked: dict[str, tuple[str, ...]] = {}
    if args.renditions:  # checked before anything is rendered: a typo renders nothing
        checked = renditions_asked(cfg, [f for f, _, _ in chosen], args.renditions, args.folder)
        if isinstance(checked, str):
            print(f"hotfolder rerender: {printable(checked)}", file=sys.stderr)
            return ExitCode.USAGE
        asked = checked
    # A downgrade: refused before the index is read, --dry-run too (its plan came from tables a
    # newer release changed; batchrun refuses it again before a render)
    db.refuse_newer(cfg.state_dir)
    code = ExitCode.OK
    # An output written after this is a newer drop's (the daemon beside us); less a margin, as
    # a file's mtime comes from the kernel's coarse clock, which may lag time_ns (a review).
    started_ns = time.time_ns() - MTIME_LAG_NS
    for folder, archive, roots in chosen:
        if args.renditions and not asked[folder.name]:
            print(f"folder {folder.name}: has none of the renditions asked for ({', '.join(args.renditions)}): "
                  f"passed over", file=sys.stderr)
            continue
        index = _Index(folder, asked.get(folder.name, ()))
        found = list(archived.originals(archive, roots, _skip(folder), index.vouched))
        generations = {a.path: index.generation(a.path, a.rel) or 0 for a in found}
        current, earlier = archived.current(found, generations)
        current = _in_precedence(current, generations, index)
        # A drop of the name the daemon is rendering now (in processing/ as the run starts) is
        # newer than the archived one: its outputs, written maybe just before the run started,
        # are not rendered over (an attack round).
        rendering = {c.rel for c in claimed_files(folder)}
        busy = [a for a in current if a.rel in rendering]
        current = [a for a in current if a.rel not in rendering]
        index.recall(current)
        if args.dry_run:
            _say_plan(cfg, folder, archive, current, earlier, generations, index)
            continue
        if not current:
            print(f"folder {folder.name}: no archived original to render"
                  + (f" ({len(busy)} whose name the daemon is rendering now: left to it)" if busy else ""),
                  file=sys.stderr)
            continue
        results, elapsed = _render_in_rounds(args, cfg, folder, current, generations, started_ns, index)
        index.rendered(results)
        kept = sum(1 for o in results if o.result.ok and o.result.skipped)
        unmatched = sum(1 for o in results if o.result.ok and not o.result.skipped and o.result.unmatched
                        and not o.result.not_asked)
        # --rendition: others apply, not one asked for; _only_said counts them ("not for N")
        passed = sum(1 for o in results if o.result.ok and not o.result.skipped and o.result.not_asked)
        ok = sum(1 for o in results if o.result.ok) - kept - unmatched - passed
        stopped = len(current) - len(results)
        beside = batchrun.kept_beside(results)
        print(f"folder {folder.name}: rendered {ok} of {len(current)} archived original(s) again in {elapsed:.1f} s "
              f"into {folder.output}{_only_said(index, results)}; {len(results) - ok - kept - unmatched - passed} "
              f"failed"
              + (f"; {unmatched} made nothing: no rendition's `when:` takes {'it' if unmatched == 1 else 'them'} "
                 f"now (a rating or a keyword changed?); the outputs {'it' if unmatched == 1 else 'they'} had are "
                 "left as they are (`--dry-run` lists them; delete them if unwanted)" if unmatched else "")
              + (f", {stopped} not rendered (stopped)"
                                                                     if stopped else "")
              + (f"; {len(earlier)} earlier drop(s) of a name skipped" if earlier else "")
              + (f"; {kept + len(busy)} kept as they were: a newer drop of their name was rendered since this run "
                 f"started, or was being rendered as it started" if kept or busy else "")
              + (f"; {beside} output(s) kept, not replaced (another original's, or of no record and not the bytes "
                 f"their original wrote there: each file said above), the new ones written beside" if beside else "")
              + (f"; {index.left_unportable} earlier output(s) no longer made, under names Windows and macOS "
                 f"clients cannot open, left as they are (a photo's text in a name is made one they can now: the "
                 f"new outputs are written under such names; delete the earlier ones if unwanted; --dry-run lists "
                 f"them)" if index.left_unportable else ""),
              file=sys.stderr)
        if ok + kept + unmatched + passed < len(current):
            code = ExitCode.FAILED
        if stopped:
            break
    return code


MTIME_LAG_NS = 100_000_000


def _only_said(index: _Index, results: list) -> str:
    """--rendition: of each rendition asked, how many originals it was made for, and for how
    many not (its `when:` does not take them; a look-alike that made others only)."""
    if not index.asked:
        return ""
    done = [o for o in results if o.result.ok and not o.result.skipped]
    parts = []
    for name in index.asked:
        made = sum(1 for o in done if name in o.result.renditions)
        alike = sum(1 for o in done if name not in o.result.renditions and o.src in index.lookalikes
                    and name not in index.made_as_lookalike.get(o.src, ()))
        part = f"{name}: made for {made}"
        if len(done) - made - alike:
            part += f", not for {len(done) - made - alike} (its when: does not take them)"
        if alike:
            part += f", not for {alike} look-alike(s) of an earlier photo that did not make it"
        parts.append(part)
    return "; " + "; ".join(parts) + "; the other renditions' outputs left as they were"


def _render_in_rounds(args: argparse.Namespace, cfg: Config, folder: Folder, current: list[archived.Archived],
                      generations: dict[Path, int], started_ns: int, index: _Index) -> tuple[list, float]:
    """Render `current` (in precedence) round after round (_rounds); the outcomes and the
    seconds it took. An interrupted round ends the run."""
    results: list = []
    elapsed = 0.0
    for batch in _rounds(cfg, folder, current, index):
        bar = batchrun.setup_log(args)  # one bar per round
        done, seconds = batchrun.render(args, cfg, folder, [(a.path, a.rel) for a in batch], bar, generations,
                                        kept_since_ns=started_ns, prove=True, withouts=index.withouts,
                                        seqs=index.seqs, only=index.asked, hads=index.had)
        results += done
        elapsed += seconds
        if len(done) < len(batch):  # stopped
            break
    return results, elapsed


def _rounds(cfg: Config, folder: Folder, current: list[archived.Archived],
            index: _Index) -> list[list[archived.Archived]]:
    """`current` (in precedence) in rounds, each rendered after the one before it: an original
    that wants an output name an earlier one wants too waits for it, so the names are taken
    first come first, as when they were dropped, not as the workers happen to finish (a new
    user: after a new `filename`, the plain name went to either of two photos). Mostly one."""
    rounds: list[list[archived.Archived]] = []
    after: dict[Path, int] = {}  # an output name: the round after the last one that wants it
    for item, (wanted, _numbered) in zip(current, _names_wanted(cfg, folder, current, index), strict=True):
        n = max((after.get(path, 0) for path in wanted), default=0)
        after.update(dict.fromkeys(wanted, n + 1))
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    return rounds


def _in_precedence(current: list[archived.Archived], generations: dict[Path, int],
                   index: _Index) -> list[archived.Archived]:
    """The originals in the order they first took their output names (the index of originals
    says; one it does not know, forgotten and so older, first, by its change time): where two
    want one name, the first takes it again and the other gets its `~2` or `~jpg` again,
    whatever order the archive lists them in."""
    def taken(a: archived.Archived) -> tuple[bool, int, int]:
        first = index.first_taken(a.rel, generations.get(a.path, 0))
        return first is not None, first or 0, _changed_ns(a.path)
    return sorted(current, key=taken)


def _changed_ns(path: Path) -> int:
    try:
        return os.lstat(path).st_ctime_ns
    except OSError:
        return 0


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
        if ".." in path.parts:  # absolute() keeps them: archive/../../elsewhere was "in the archive"
            return f"{given}: a path with '..' is not taken; give the archived original's path as it is"
        # The folder whose archive holds it most closely (one folder's archive may lie in another's).
        holders = sorted(((f, a) for f, a in archives if path.is_relative_to(a)), key=lambda fa: len(fa[1].parts),
                         reverse=True)
        if not holders:
            where = ", ".join(f"{f.name}: {a}" for f, a in archives)
            if not path.exists():  # a relative path from elsewhere (`archive/acme` beside var/): say so first
                return (f"{given}: no such file or folder here ({path}); the archives are {where or 'none'}: give "
                        f"an archived original's path, absolute or from where you are")
            return (f"{given} is not in the archive of {'folder ' + args.folder if args.folder else 'any folder'} "
                    f"({where or 'none archives'}); to render other files, use `hotfolder process`")
        if not path.exists():
            return f"{given}: no such file or folder"
        try:  # every folder from the archive down a real one: a link there led out of it (an attack round)
            nofollow.lstat(path)
        except nofollow.FolderSwapped:
            return f"{given}: a folder on its way is a symbolic link, which is not followed"
        folder, archive = holders[0]
        out.setdefault(folder.name, (folder, archive, []))[2].append(path)
    return list(out.values())


class _Index:
    """The index of originals, read without writing (the daemon rebuilds an index it finds
    made anew): which photo of its name each archived original was rendered as (issue 26.2:
    a different photo under a used name got outputs of its own, `IMG_7777_web~2.jpg`), by
    its bytes; 0 (the first) where no index says otherwise. Each file is hashed once."""

    def __init__(self, folder: Folder, asked: tuple[str, ...] = ()):
        self.folder = folder
        self.asked = asked  # --rendition: the renditions rendered again (jobs.Job.only); (): all
        self._hashes: dict[Path, str] = {}
        # outputs named before a photo's texts were made portable, left beside their new names (rendered)
        self.left_unportable = 0
        self.withouts: dict[Path, tuple[str, ...]] = {}  # jobs.Job.without, of each original that has one
        self.seqs: dict[Path, int] = {}  # jobs.Job.seq: the number each original took, where the index says
        self.lookalikes: set[Path] = set()  # those a look-alike's row makes some renditions of only
        self.made_as_lookalike: dict[Path, tuple[str, ...]] = {}  # and which
        # --rendition: the outputs each original had (jobs.Job.had) and its manifest's hash (had_manifest)
        self.had: dict[Path, tuple[tuple[Had, ...], bytes]] = {}

    def recall(self, current: list[archived.Archived]) -> None:
        """What each of `current` had when it was rendered: its `{seq}` number, given again
        (a changed proof size made a second numbered set of every output beside the first),
        and the renditions it does not make again: a look-alike that `similar: skip` rendered
        only for those its earlier photos had not made (a rated RAW after its camera JPEG: the
        proof, not the web size again) is rendered again for what it made only (its own row
        says; the earlier photo it names may have made only some of the others)."""
        from hotfolder.config.choices import Similar
        from hotfolder.state import originals

        others = tuple(r.name for r in self.folder.renditions if self.asked and r.name not in self.asked)
        if others:
            self.withouts = dict.fromkeys((a.path for a in current), others)
        if self.folder.index_dir is None:
            return
        for a in current:
            content = self._hash(a.path)
            if self.asked:
                outputs, manifest = originals.had(self.folder.index_dir, content, self.folder.name, a.rel)
                self.had[a.path] = tuple(Had(*each) for each in outputs), manifest
            seq = originals.seq_of(self.folder.index_dir, content, self.folder.name, a.rel)
            if seq is not None:
                self.seqs[a.path] = seq
            if self.folder.similar == Similar.SKIP:
                made = originals.made_as_lookalike(self.folder.index_dir, content, self.folder.name, a.rel)
                if made is not None:
                    self.lookalikes.add(a.path)
                    self.made_as_lookalike[a.path] = made
                    self.withouts[a.path] = tuple(r.name for r in self.folder.renditions
                                                  if r.name not in made or r.name in others)

    def generation(self, path: Path, rel: str) -> int | None:
        """Which photo of the name `rel` the file was rendered as; None: the index has no
        rendering of these bytes under that name (or there is no index)."""
        from hotfolder.state import originals

        return None if self.folder.index_dir is None else originals.generation_of(
            self.folder.index_dir, self._hash(path), self.folder.name, rel)

    def first_taken(self, rel: str, generation: int) -> int | None:
        """When (as an id: an order) the original `rel`, as that photo, first took its output
        names; None: the index does not know (or there is none)."""
        from hotfolder.state import originals

        return None if self.folder.index_dir is None else originals.first_taken(
            self.folder.index_dir, self.folder.name, rel, generation)

    def outputs(self, path: Path, rel: str) -> tuple[str, ...]:
        """The outputs the index recorded for the file rendered under the name `rel`."""
        from hotfolder.state import originals

        return () if self.folder.index_dir is None else originals.outputs_of(
            self.folder.index_dir, self._hash(path), self.folder.name, rel)

    def had_of_asked(self, item: archived.Archived) -> tuple[str, ...]:
        """--rendition: the outputs the original had of the renditions asked for (the others are
        left as they are, not "no longer made"). None of a row that does not say its renditions."""
        return tuple(h.output for h in self.had.get(item.path, ((), b""))[0] if h.rendition in self.asked)

    def rendered(self, outcomes: list) -> None:
        """The outputs each original rendered again now has, noted in the index (where there is
        one): what a copy dropped later and `hotfolder duplicates` are told."""
        import sqlite3

        from hotfolder.state import originals

        if self.folder.index_dir is None:
            return
        rendered = [o for o in outcomes if o.result.ok and not o.result.skipped and not o.result.unmatched]
        done = [(self._hash(o.src), o.rel, *self._listed(o), o.result.seq) for o in rendered]
        if not self.asked:  # a name a photo's text gave that Windows cannot open: named anew, the old one left
            for o, row in zip(rendered, done, strict=True):
                before = originals.outputs_of(self.folder.index_dir, row[0], self.folder.name, o.rel)
                self.left_unportable += sum(1 for rel in before if rel not in row[2] and not templates.is_portable(rel)
                                            and os.path.lexists(self.folder.output / rel))
        try:
            originals.rerendered(self.folder.index_dir, self.folder.name, done)
        except sqlite3.Error as exc:  # the outputs are written: said, not a failure
            said = db.unusable("the index of originals still lists the earlier outputs", exc, self.folder.index_dir)
            print(f"hotfolder rerender: {said}", file=sys.stderr)

    def _listed(self, outcome) -> tuple[tuple[str, ...], bytes, tuple[str, ...]]:
        """The outputs an original rendered again has now, their hashes (then its manifest's) and
        renditions: those written; with --rendition, in the outputs it had (untouched.spliced),
        whose hashes (b"") or renditions (()) are not noted where the index did not know one."""
        from hotfolder.state.originals import OUTPUT_HASH as size
        from hotfolder.workers import untouched

        result = outcome.result
        if not self.asked:
            return result.outputs, result.output_hashes, result.renditions
        had = self.had.get(outcome.src, ((), b""))[0] or result.listed_before
        hashes = [result.output_hashes[i * size:(i + 1) * size] for i in range(len(result.outputs))]
        listed = [item if isinstance(item, Had) else Had(result.renditions[item], result.outputs[item], hashes[item])
                  for item in untouched.spliced(had, list(zip(result.renditions, result.outputs, strict=True)),
                                                self.asked)]
        known = all(h.digest for h in listed) and len(result.output_hashes) >= len(result.outputs) * size
        return (tuple(h.output for h in listed),
                b"".join(h.digest for h in listed) + result.output_hashes[len(result.outputs) * size:] if known
                else b"",
                tuple(h.rendition for h in listed) if all(h.rendition for h in listed) else ())

    def _hash(self, path: Path) -> str:
        from hotfolder.engine.fingerprint import file_hash

        if path not in self._hashes:
            self._hashes[path] = file_hash(path)
        return self._hashes[path]

    def vouched(self, path: Path, rel: str) -> bool:
        """A name the archive kept on a file is taken when the index rendered these bytes under it."""
        return self.generation(path, rel) is not None


def _skip(folder: Folder):
    """Names left out: hidden and ignored names, what passes through (videos), XMP sidecars
    (read with their images), our temp files."""
    return lambda name: (rules.ignored_name(folder, name) or rules.passes_through(folder, Path(name))
                         or is_sidecar(name) or is_our_temp(name, folder.temp_token))


def _say_plan(cfg: Config, folder: Folder, archive: Path, current: list[archived.Archived],
              earlier: list[archived.Archived], generations: dict[Path, int], index: _Index) -> None:
    """--dry-run: each original, its outputs and what would happen to each; nothing is written."""
    from hotfolder.state import originals

    with originals.recorded_outputs(folder.index_dir) as recorded:
        _say_plan_with(cfg, folder, archive, current, earlier, generations, index, recorded)


def _say_plan_with(cfg: Config, folder: Folder, archive: Path, current: list[archived.Archived],
                   earlier: list[archived.Archived], generations: dict[Path, int], index: _Index,
                   recorded) -> None:
    """_say_plan, outputs of no owner record proved by `recorded` (state/originals.RecordedOutputs,
    or None) as the run would prove them."""
    from hotfolder.workers import provenance

    tally: dict[str, int] = {}
    taken = owners.PlannedNames()  # the names the originals before this one will have written, and whose
    for item, (wanted, numbered) in zip(current, _names_wanted(cfg, folder, current, index), strict=True):
        generation = generations.get(item.path, 0)
        at = owners.manifest_rel(folder, item.rel) if wanted else None  # reserved last, as the run does
        manifest = folder.output / at if at is not None else None
        if manifest is not None:
            wanted = [*wanted, manifest]
        proven = provenance.proven(folder, item.rel, generation, wanted, recorded, manifest=manifest)
        planned = owners.plan(folder, item.rel, wanted, generation, planned=taken, proven=proven)
        if not any(p.how.startswith("fails") for p in planned):
            taken.update(dict.fromkeys((p.path for p in planned), owners.owner_id(folder, item.rel, generation)))
        said = []
        for p in planned:
            how = "fails" if p.how.startswith("fails") else p.how
            tally[how] = tally.get(how, 0) + 1
            said.append(f"{display(p.path.relative_to(folder.output).as_posix())} ({p.how})")
        # A name of {seq} is made anew by every render: an earlier one is not made again, though the recipe
        # still makes its rendition ("no longer made by today's recipe" sent an admin looking for a change).
        # Told apart by the name: that of a rendition of {seq} the original takes, but for its numbers.
        anew = [_renumbered(p.relative_to(folder.output).as_posix()) for p in numbered]
        for rel in _no_longer_made(folder, index.had_of_asked(item) if index.asked
                                   else index.outputs(item.path, item.rel), planned):
            kind = ("anew" if any(name.fullmatch(rel) for name in anew)
                    else "left" if templates.is_portable(rel) else "portable")
            tally[kind] = tally.get(kind, 0) + 1
            said.append(f"{display(rel)} ({LEFT[kind][0]})")
        came = "" if item.path == archive / item.rel else f" (came in as {display(item.rel)})"
        if not said and index.asked:  # the `when:` of none asked for takes it
            tally["none"] = tally.get("none", 0) + 1
            said.append(f"nothing: the when: of {', '.join(index.asked)} does not take it; its outputs are left "
                        f"as they are")
        print(printable(f"{display(item.path.relative_to(archive).as_posix())}{came} → {', '.join(said)}"))
    for item in earlier:
        newer = item.newer.relative_to(archive).as_posix() if item.newer else "?"
        print(printable(f"{display(item.path.relative_to(archive).as_posix())}: skipped, an earlier drop of "
                        f"{display(item.rel)} (its outputs are {display(newer)}'s now)"))
    parts = [f"{tally.get(k, 0)} {label}" for k, label in (
        ("replaced", "replaced"), ("new", "new"), ("renamed", "new under another name (the name is another "
                                                             "original's)"),
        ("taken over", "taken over from another original (on_name_clash: replace)"),
        ("fails", "would fail (on_name_clash: fail)"))]
    parts += [f"{tally[kind]} {LEFT[kind][1]}, left as they are (delete them if unwanted)"
              for kind in ("left", "anew", "portable") if tally.get(kind)]
    only = (f" (only {', '.join(index.asked)}: the other renditions' outputs are left as they are"
            + (f"; {tally['none']} original(s) no rendition asked for applies to" if tally.get("none") else "")
            + ")") if index.asked else ""
    print(f"folder {folder.name}: would render {len(current)} archived original(s){only} into {folder.output}; "
          f"outputs: {', '.join(parts)}; {len(earlier)} earlier drop(s) of a name skipped. Nothing was written "
          f"(--dry-run).")


# An earlier output the plan does not make: (said of one, said in the summary)
LEFT = {"left": ("no longer made: left as it is", "no longer made by today's recipe"),
        "anew": ("not made again under this name: {seq} numbers each render anew; left as it is",
                 "not made again under their names ({seq} numbers each render anew)"),
        # named before a photo's texts were made names Windows and macOS clients open (templates.portable)
        "portable": ("no longer made, a name Windows and macOS clients cannot open (a photo's text in a name is "
                     "made one they can now); left as it is",
                     "no longer made under names Windows and macOS clients cannot open (a photo's text in a name "
                     "is made one they can now)")}


def _renumbered(rel: str) -> re.Pattern[str]:
    """The names `rel` has with other numbers: an earlier output of the same {seq} rendition."""
    return re.compile(r"\d+".join(re.escape(part) for part in re.split(r"\d+", rel)))


def _no_longer_made(folder: Folder, recorded: tuple[str, ...], planned: list[owners.Planned]) -> list[str]:
    """Of the outputs the index recorded for an original, those its plan (the names it would
    write, `~2` and `~jpg` included) does not make, still in the output folder: a `filename`
    changed (`thumbs/K_0001.webp` stayed when `{stem}_sq.{ext}` replaced it, and --dry-run
    did not say so: a new user)."""
    made = {p.path.relative_to(folder.output).as_posix() for p in planned}
    return [rel for rel in recorded if rel not in made and os.path.lexists(folder.output / rel)]


def _names_wanted(cfg: Config, folder: Folder, current: list[archived.Archived],
                  index: _Index) -> list[tuple[list[Path], list[Path]]]:
    """The outputs each original's templates give it (before clashes), in order: each that
    takes a `{seq}` the number it had (_Index.recall), else its own next number; and of them,
    those named by a `{seq}` anew."""
    out = []
    numbered = 0  # originals before this one that take a {seq}
    seq_named = {r.name for r in folder.renditions if templates.parsed(r.filename).uses("seq")}
    for item in current:
        had = index.seqs.get(item.path)
        wanted, takes_seq, by = _wanted(cfg, folder, item, numbered, index.withouts.get(item.path, ()), had)
        numbered += takes_seq and had is None
        out.append((wanted, [path for path, rendition in zip(wanted, by, strict=True)
                             if rendition in seq_named and had is None]))
    return out


def _wanted(cfg: Config, folder: Folder, item: archived.Archived,
            seq_after: int = 0, without: tuple[str, ...] = (),
            seq: int | None = None) -> tuple[list[Path], bool, list[str]]:
    """The outputs the daemon's templates give the original (its conditions and the fields
    they name read from it, as `hotfolder explain` reads them: the header, not the pixels),
    whether they take a `{seq}` (`seq_after` originals before it took one), and the rendition
    of each output; `without`, `seq`: renditions it does not make again, the number it had
    (_Index.recall)."""
    said = explain.explain_as(cfg, folder, item.path, item.rel, "in its archive/", seq_after, seq=seq,
                              without=without)
    applies = {s.rendition for s in said.renditions if s.applies}
    takes_seq = need_of_fields(select.template_fields([r for r in folder.renditions if r.name in applies])).seq
    named = [(s.output, s.rendition) for s in said.renditions
             if s.applies and s.output and not s.output.startswith("(")]  # "(no name: …)": none
    return [folder.output / out for out, _ in named], takes_seq, [rendition for _, rendition in named]
