"""`hotfolder explain FILE… [--json]`: for each file (in an inbox, processing/, failed/, duplicates/,
archive/, or anywhere), which folder takes it, what its recipe reads of it, which
renditions apply and where their outputs would go, and which entry of its `when:`
excluded each other one; and whether the daemon would skip (or fail) it as a copy of an
original rendered before (the index of originals; a look-alike needs the pixels: not
foreseen). It writes nothing: the state database is read read-only, no number of `{seq}`
is handed out (the next one is shown), no folder is made.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from hotfolder.config import load
from hotfolder.config.model import Cluster, Config, Folder
from hotfolder.errors import ExitCode
from hotfolder.recipes import select, sequence
from hotfolder.recipes.explain import Explanation, shown_fields, verdicts
from hotfolder.recipes.facts import Facts, Need, need_of_fields
from hotfolder.shown import json_text, printable
from hotfolder.sidecars import find_image, find_sidecar, is_sidecar
from hotfolder.spool import archived, records
from hotfolder.spool.fsnames import display, name_from_hex, relative_name

PLACES = {"inbox": "in its inbox", "processing": "in its processing/, being rendered",
          "failed": "in its failed/, as it was dropped", "archive": "in its archive/, as it was dropped",
          # a skipped copy, by its subfolder there (it was read as dropped at the inbox's top: a new user)
          "duplicates": "in its duplicates/, as it was dropped"}


def cmd_explain(args: argparse.Namespace) -> int:
    cfg = load(args.config, serving=frozenset())
    if args.folder and not any(f.name == args.folder for f in cfg.folders):
        print(f"hotfolder: no folder named {args.folder!r} in {args.config} "
              f"(folders: {', '.join(f.name for f in cfg.folders)})", file=sys.stderr)
        return ExitCode.USAGE
    missing = 0
    said: list[Explanation] = []
    for given in args.files:
        path = Path(given).absolute()
        linked = _link_on_the_way(cfg, path)
        if linked is not None:  # never read through it: the daemon takes no file so
            how = "a symbolic link" if linked == path else f"reached through the symbolic link {printable(str(linked))}"
            print(f"hotfolder: {printable(given)}: {how}, in a folder of the daemon, which never follows one (it takes "
                  "no file through it): nothing is read or said of it; give the file's own path", file=sys.stderr)
            missing += 1
            continue
        if not path.is_file():
            what = ("not a file (a folder, a FIFO, a device, or a link to nothing); give an image file"
                    if os.path.lexists(path) else "no such file")
            print(f"hotfolder: {printable(given)}: {what}", file=sys.stderr)
            missing += 1
            continue
        said.append(explain(cfg, path, args.folder, args.subfolder or ""))
    if args.json:
        print(json_text([e.as_json() for e in said], indent=1, default=str))
    else:
        for explanation in said:  # each line escaped: a photo's fields may hold a terminal's controls
            print("\n".join(printable(line) for line in explanation.lines()))
    return ExitCode.FAILED if missing else ExitCode.OK


def _link_on_the_way(cfg: Config, path: Path) -> Path | None:
    """The symbolic link `path` is, or is reached through, below the folder of the config it
    lies in (inbox, failed/, …), if any. The daemon follows none there; explain did, as root
    reading and describing a file only root may read to whoever made the link (an attack
    round). Looked at before the reads, by path: a link swapped in after the look is still
    followed by the reads that open by path (DESIGN)."""
    for f in cfg.folders:
        for kind in PLACES:
            root = getattr(f, kind, None)
            if root is None or not path.is_relative_to(root):
                continue
            at = root
            for part in path.relative_to(root).parts:
                at = at / part
                if at.is_symlink():
                    return at
    return None


def locate(cfg: Config, path: Path, folder_name: str | None, subfolder: str) -> tuple[Folder, str, str]:
    """(the folder that takes the file, its path under the inbox, how it gets there)."""
    found = [(len(root.parts), f, kind, root) for f in cfg.folders for kind in PLACES
             if (root := getattr(f, kind)) is not None and path.is_relative_to(root)]
    if found and not folder_name:
        _, folder, kind, root = max(found, key=lambda item: item[0])
        rel = path.relative_to(root).as_posix()
        if kind in ("failed", "duplicates"):  # the name it came in with, if its record says (as data: a path
            record = (records.read_failure(folder, path) if kind == "failed"  # inside the inbox)
                      else records.read_record(path.with_name(path.name + records.DUPLICATE_RECORD)))
            came = relative_name(name_from_hex((record or {}).get("file_as")))
            if came and came != rel:
                return folder, came, f"in its {kind}/, dropped as {display(came)}"
        return folder, rel, PLACES[kind]
    folder = next((f for f in cfg.folders if f.name == folder_name), cfg.folders[0])
    rel = (PurePosixPath(subfolder.strip("/")) / path.name).as_posix()
    where = f"not in one of its folders: as if dropped in its inbox{'/' + subfolder.strip('/') if subfolder else ''}"
    return folder, rel, where + ("" if folder_name else "; --folder for another")


def explain(cfg: Config, path: Path, folder_name: str | None = None, subfolder: str = "") -> Explanation:
    folder, rel, place = locate(cfg, path, folder_name, subfolder)
    if place == PLACES["archive"]:  # its own bytes are in the index: no copy of anything
        came, generation = as_archived(folder, path, rel)
        if came != rel:
            place = f"in its archive/, dropped as {display(came)} (archived under another name: that one was taken)"
        seq, without = _had(folder, path, came)
        said = explain_as(cfg, folder, path, came, place, generation=generation, seq=seq, without=without)
        newer = _newer_drop(folder, path, came, generation)
        if newer is None or said.problem:
            return said
        return replace(said, problem=(
            f"an earlier drop of {display(came)}: its outputs are {display(newer)}'s now (the same photo, dropped "
            f"again since); `hotfolder rerender` skips it and renders {display(newer)}"),
            renditions=tuple(replace(s, output="") for s in said.renditions))  # those names are the newer one's
    said = explain_as(cfg, folder, path, rel, place, dropped=place != PLACES["processing"])
    if said.problem or not place.startswith("in its duplicates/"):
        return said
    lookalike = _skipped_lookalike(path)
    return said if lookalike is None else replace(said, problem=lookalike)


def _skipped_lookalike(path: Path) -> str | None:
    """Of a file in duplicates/ that `similar: skip` put there, why, as its record says (an
    exact copy is found by its bytes, said already; a look-alike needs the pixels, which
    explain does not decode, and was explained as a first drop). The record is data: its
    names are shown, never followed."""
    record = records.read_record(path.with_name(path.name + records.DUPLICATE_RECORD)) or {}
    matched = record.get("matched")
    if record.get("kind") != "similar" or not isinstance(matched, dict):
        return None
    bits, name, folder, at = (matched.get(k) for k in ("bits", "name", "folder", "archived"))
    if not isinstance(name, str) or not isinstance(folder, str):
        return None
    apart = f" ({bits} bits apart)" if isinstance(bits, int) else ""
    where = f", archived as {display(at)}" if isinstance(at, str) else ""
    return (f"skipped as a look-alike{apart} of {display(folder)}/{display(name)}{where} (similar: skip, its record "
            f"{display(path.name + records.DUPLICATE_RECORD)} says); dropped again, it is judged by its pixels anew")


def _newer_drop(folder: Folder, path: Path, came: str, generation: int) -> str | None:
    """The archived later drop of the same photo under `came` whose outputs replaced this
    one's (its path under archive/), as rerender finds it (spool/archived.current): rerender
    skips this one. None when this is the last. Its siblings are looked at, where the archive
    puts a later drop of a name (`a_1.jpg` beside `a.jpg`)."""
    index_dir, archive = folder.index_dir, folder.archive
    if index_dir is None or archive is None:
        return None
    from hotfolder.engine.fingerprint import file_hash
    from hotfolder.spool import nofollow
    from hotfolder.state import originals

    def generation_of(p: Path, rel: str) -> int | None:
        return originals.generation_of(index_dir, file_hash(p), folder.name, rel)

    try:
        siblings = list(nofollow.walk(path.parent, prune=lambda sub: sub != path.parent))
    except OSError:
        return None
    names = PurePosixPath(came)
    near = [p for p in siblings if p.name.startswith(names.stem) and p.suffix.lower() == names.suffix.lower()]
    found = [a for a in archived.originals(archive, near, lambda name: False,
                                            lambda p, rel: generation_of(p, rel) is not None) if a.rel == came]
    if len(found) < 2:
        return None
    generations = {a.path: (generation if a.path == path else generation_of(a.path, a.rel) or 0) for a in found}
    _, earlier = archived.current(found, generations)
    newer = next((a.newer for a in earlier if a.path == path), None)
    return newer.relative_to(archive).as_posix() if newer is not None else None


def _without(selection: select.Selection, without: tuple[str, ...]) -> select.Selection:
    """`selection` less the renditions a look-alike did not make (similar: skip), said so."""
    if not without:
        return selection
    from hotfolder.recipes.conditions import Outcome

    why = ("not made by this look-alike: similar: skip rendered it only for what the earlier photos it looks "
           "like had not made, and rerender makes that again")
    outcomes = tuple((r, Outcome(False, "", why) if o.holds and r.name in without else o)
                     for r, o in selection.outcomes)
    return select.Selection(tuple(r for r, o in outcomes if o.holds), outcomes)


def _had(folder: Folder, path: Path, rel: str) -> tuple[int | None, tuple[str, ...]]:
    """What an archived original had when rendered, which rerender gives it again: its `{seq}`
    number, and, of a look-alike that `similar: skip` rendered for what its earlier photos had
    not made, the renditions it did not make (cli/rerender._Index.recall)."""
    if folder.index_dir is None:
        return None, ()
    from hotfolder.config.choices import Similar
    from hotfolder.engine.fingerprint import file_hash
    from hotfolder.state import originals

    content = file_hash(path)
    made = (originals.made_as_lookalike(folder.index_dir, content, folder.name, rel)
            if folder.similar == Similar.SKIP else None)
    without = () if made is None else tuple(r.name for r in folder.renditions if r.name not in made)
    return originals.seq_of(folder.index_dir, content, folder.name, rel), without


def as_archived(folder: Folder, path: Path, rel: str) -> tuple[str, int]:
    """An archived original as the daemon rendered it, as `hotfolder rerender` takes it
    (spool/archived.py): the path it came in with, where the archive kept one and the index
    of originals rendered these bytes under it (a file may bring a forged one), and which
    photo of that name it was (its outputs `~2` when it was the second: issue 26.2)."""
    if folder.index_dir is None:
        return rel, 0
    from hotfolder.engine.fingerprint import file_hash
    from hotfolder.state import originals

    content = file_hash(path)
    came = archived.came_as(path)
    if came is not None and came != rel and originals.generation_of(folder.index_dir, content, folder.name,
                                                                    came) is not None:
        rel = came
    return rel, originals.generation_of(folder.index_dir, content, folder.name, rel) or 0


def explain_as(cfg: Config, folder: Folder, path: Path, rel: str, place: str, seq_after: int = 0,
               dropped: bool = False, generation: int | None = None, seq: int | None = None,
               without: tuple[str, ...] = ()) -> Explanation:
    """What `folder` would do with the file at `path` dropped as `rel` under its inbox;
    `seq_after`: how many files before it take a `{seq}` (a dry run's plan of several);
    `dropped`: it would be a new drop, so the index of originals is asked whether its bytes
    were rendered before (an archived original's are its own: rerender passes False);
    `generation`: an archived original's photo of its name (as_archived): its outputs are
    named as the daemon named them, not as a new drop's would be; `seq`: the `{seq}` number it
    took then (the index says), which rerender gives it again; `without`: renditions its earlier
    look-alike made, which it does not make (rerender's plan passes them too)."""
    shown = display(str(path))
    said = _not_taken(folder, rel, path if dropped else None, cfg.folders, cfg.cluster)
    if said is not None:  # never a failure
        return Explanation(shown, folder.name, place, "nothing", problem=said)
    if is_sidecar(path.name):
        from hotfolder.arrival import rules

        image = find_image(path.parent, path.name)
        if image is not None and rules.passes_through(folder, path.parent / image):  # a video's, as side_files says
            return Explanation(shown, folder.name, place, "nothing", problem=(
                f"an XMP sidecar of a file passed through as it is (pass_through:), {display(image)}: archived beside "
                f"it after sidecar_wait ({folder.sidecar_wait:g} s), read by nothing here, never a failure"))
        why = (f"an XMP sidecar: it goes with its image {display(image)}, whose renditions read it" if image else
               _re_exported(folder, rel, path) or
               f"an XMP sidecar with no image beside it: archived alone after sidecar_wait "
               f"({folder.sidecar_wait:g} s), never a failure")
        return Explanation(shown, folder.name, place, "nothing", problem=why)
    from hotfolder.engine.errors import InputError  # the engine (Pillow, LibRaw) only for a file to read
    from hotfolder.engine.fingerprint import file_hash
    from hotfolder.workers import choice

    need = select.folder_need(folder)
    side = find_sidecar(path.parent, path.name)
    notes: list[str] = [f"XMP sidecar {display(side)} read with it"] if side else []
    try:
        facts = choice.read_facts(folder, path, rel, accepted_formats=cfg.accepted_formats,
                                  max_image_pixels=cfg.max_image_pixels,
                                  sidecar=path.parent / side if side else None, notes=notes, extra=Need(header=True))
    except InputError as exc:
        facts = Facts(PurePosixPath(rel).name, choice.subdir_of(rel), folder.name)
        selection = select.select(folder.renditions, facts)
        return Explanation(shown, folder.name, place, need.said(), shown_fields(facts), verdicts(selection),
                           f"it cannot be read ({exc}); the daemon would fail it at step {exc.step}", tuple(notes))
    selection = _without(select.select(folder.renditions, facts), without)
    used = need_of_fields(select.template_fields(selection.chosen))
    had = seq
    if had is not None:
        seq = had if used.seq else None
    else:
        seq = sequence.peek(folder.state_dir, folder.name) if used.seq and folder.state_dir is not None else None
        seq = seq + seq_after if seq is not None else None
    content = file_hash(path) if used.hash or (folder.index_dir is not None and dropped) else None
    if used.hash:
        facts = Facts(facts.name, facts.subdir, facts.folder, facts.photo, content)
    if content is not None and dropped and (said := _duplicate_scope(folder, rel)):
        notes.append(said)
    if content is not None and dropped and (repeated := _repeated(folder, content, rel)):
        return Explanation(shown, folder.name, place, need.said(), shown_fields(facts, seq), verdicts(selection),
                           repeated, tuple(notes))
    values = {**facts.values(), "seq": seq}
    from hotfolder.state import originals

    with originals.recorded_outputs(folder.index_dir) as recorded:  # what proves an output of no record its own
        outputs = {r.name: _output(folder, r, facts, rel, values, notes, generation, recorded)
                   for r in selection.chosen}
    from hotfolder.spool import owners

    if selection.chosen and (at := owners.manifest_rel(folder, rel)) is not None:  # the file a page reads
        notes.append(f"manifest → {_manifest_said(folder, rel, at, generation)} (each output's url in it is from "
                     "there)")
    if used.seq and had is not None:
        notes.append(f"{{seq}} is {seq}, the number it took when it was rendered (rerender gives it again)")
    elif used.seq:
        notes.append(f"{{seq}} is {seq if seq is not None else 'unknown'} if this file is the folder's next; "
                     "handed out only when it is rendered")
    read = need.said() + ("" if need.header else " (and the header, for the outputs' names here)")
    return Explanation(shown, folder.name, place, read, shown_fields(facts, seq), verdicts(selection, outputs),
                       notes=tuple(notes))


def _re_exported(folder: Folder, rel: str, path: Path) -> str | None:
    """Of a sidecar dropped alone for an image archived with one (a Lightroom re-export): that
    it takes that one's place, as the daemon does (supervisor/side_files.supersedes), where it
    was said "archived alone"; or that the one beside the image stays, as the daemon keeps it
    (the same bytes, an older save, no XMP), where it was said "archived alone after
    sidecar_wait" as if nothing lay there. None otherwise."""
    if relative_name(rel) is None or folder.archive is None:  # a path under the inbox, no `..`
        return None
    from hotfolder.supervisor import side_files

    found = side_files.verdict(folder, rel, path, folder.state_dir)
    if found is None:
        return None
    what, image = found
    if what == side_files.SUPERSEDES:
        return (f"an XMP sidecar whose image {display(image)} lies in archive/, with an earlier sidecar: it would "
                "take that one's place beside it (the earlier kept), and `hotfolder rerender` of the image renders it "
                "with it")
    why = ("is byte for byte this one: nothing would change" if what == side_files.SAME else
           "stays: this one says it was saved before it (xmp:MetadataDate), or is no XMP")
    return (f"an XMP sidecar whose image {display(image)} lies in archive/ with a sidecar of this name, which {why}; "
            "this one would be archived under a free name, which nothing reads")


def _not_taken(folder: Folder, rel: str, dropped: Path | None = None, folders: Iterable[Folder] = (),
               cluster: Cluster | None = None) -> str | None:
    """What the inbox never renders, as arrival/rules decides it (a card's videos and their
    companions, its index files, Thumbs.db, .Trashes/): explain said "the daemon would fail it
    at step open" of them. None for a file it takes. `dropped`: the file, when it would be a
    new drop (a clip dumped again is compared with the archived one of its name)."""
    from hotfolder.arrival import rules

    if any(rules.ignored_name(folder, part) for part in PurePosixPath(rel).parts):
        return ("left alone in the inbox, never taken nor failed (the folder's ignore:, or a hidden or temp name, "
                "matches its name or a folder's on its way)")
    if rules.passes_through(folder, folder.inbox / rel):
        passed = ("passed through: moved to archive/ as it is, never rendered nor failed (the folder's pass_through: "
                  "matches its name)")
        return passed + (_passed_again(folder, rel, dropped, folders, cluster) if dropped is not None else "")
    return None


def _passed_again(folder: Folder, rel: str, path: Path, folders: Iterable[Folder] = (),
                  cluster: Cluster | None = None) -> str:
    """Of a file passed through, what the daemon finds in archive/ under its name, as
    supervisor/passed_again does (under on_duplicate: skip, a file of its name and size there,
    or else one its rows know archived from another subfolder, is compared in full): "" when
    nothing is said. The rows (state_dir's, or a cluster's in Redis) are read, never written
    (a row of a gone file stays)."""
    from hotfolder.config.choices import OnDuplicate
    from hotfolder.spool import nofollow
    from hotfolder.spool.same_bytes import Verdict, compare
    from hotfolder.state import passed
    from hotfolder.supervisor.clip_rows import all_there, scope_of
    from hotfolder.supervisor.passed_again import MAX_TWINS

    if folder.archive is None or relative_name(rel) is None:  # a path under the inbox, no `..`
        return ""
    try:
        size = nofollow.lstat(path).st_size
    except OSError:
        return ""
    own = folder.archive / rel
    try:
        at_its_path = nofollow.lstat(own).st_size == size
    except OSError:
        at_its_path = False
    rows: list[passed.Row] = []  # each one compared in turn, under on_duplicate: skip
    scope = scope_of(folder, folder.inbox / rel)
    if folder.on_duplicate == OnDuplicate.SKIP and folder.index_dir is not None:
        rows = passed.found(folder.index_dir, path.name, size, **scope)
    elif folder.on_duplicate == OnDuplicate.SKIP and cluster is not None and cluster.enabled:
        from hotfolder.cluster.passed import SharedPassed  # redis: cluster mode only

        shared = SharedPassed.of(cluster)
        try:
            rows = shared.find(path.name, size, **scope)
        except passed.Unreachable as exc:
            return (f"; the records of clips archived, in the cluster's Redis, cannot be read ({display(str(exc))}): "
                    "the head keeps it in the inbox until Redis answers")
        finally:
            shared.close()
    twins = ([own] if at_its_path else []) + [
        twin for _, twin in all_there(rows, folder, folders, size, lambda row: None) if twin != own]
    if not twins:
        return ""

    def shown(twin: Path) -> str:
        return display(str(twin)) + (", archived from another subfolder," if twin.parent != own.parent else "")

    beside = "beside it, under a free name" if at_its_path else "as any"
    if folder.on_duplicate != OnDuplicate.SKIP:
        return (f"; {shown(twins[0])} has its name and size: archived beside it, not compared (on_duplicate: "
                f"{folder.on_duplicate})")
    twins = twins[:MAX_TWINS]
    for twin in twins:
        found = compare(twin, path)
        if found.verdict == Verdict.SAME:
            return (f"; but {shown(twin)} holds its very bytes (the same card dumped again?): it would go to "
                    f"{display(str(folder.duplicates))} with its .duplicate.json, not archived again")
        if found.verdict != Verdict.DIFFERENT:
            return (f"; {shown(twin)} has its name and size, and could not be compared ({display(found.why)}): "
                    f"archived {beside}")
    others = f" (as {len(twins) - 1} more archived of its name and size)" if len(twins) > 1 else ""
    return f"; {shown(twins[0])} has its name and size but other bytes{others}: archived {beside}"


def _manifest_said(folder: Folder, rel: str, at: str, generation: int | None) -> str:
    """The manifest's name as the owners of names give it, as an output's is (_output): a
    RAW+JPEG pair's second one writes `IMG_0002~cr3.json` (the first owns `IMG_0002.json`),
    and explain named the other one's. Manifests are proved by no bytes (the index keeps
    the outputs' hashes only)."""
    from hotfolder.spool import owners

    path = folder.output / at
    if generation is not None:  # an archived original: the name it has (or would take) as that photo
        planned = owners.plan(folder, rel, [path], generation)[0]
        return display(planned.path.relative_to(folder.output).as_posix())
    why = owners.why_not_taken(folder, rel, path)
    if not why:
        return display(at)
    return display(at) + (", another original's: this one would fail (on_name_clash: fail)" if why == "fail" else
                          ", another original's: this one's would get a ~suffix" if why == "another" else
                          ", there with no record of its writer: this one's would get a ~suffix" if why == "unknown"
                          else ", no regular file: this one's would get a ~suffix")


def _duplicate_scope(folder: Folder, rel: str) -> str | None:
    """Where copies of it count as duplicates, when that is one subfolder only: with
    `duplicate_scope: auto` a rendition's `subfolder:` that names its subfolder makes it a
    delivery of its own, which a new user did not foresee (a `when: subfolder: "shoes/**"`
    for one rendition made every folder under shoes/ render its copies again)."""
    from hotfolder.config.choices import DuplicateScope, OnDuplicate
    from hotfolder.workers.duplicates import subfolder_scope

    if folder.index_dir is None or folder.on_duplicate == OnDuplicate.PROCESS:
        return None
    scope = subfolder_scope(folder, rel)
    if scope is None:
        return None
    why = ("duplicate_scope: subfolder" if folder.duplicate_scope == DuplicateScope.SUBFOLDER else
           "duplicate_scope: auto, and a rendition's `when: subfolder:` names it: a delivery of its own")
    where = f"within {display(scope)}/" if scope else "among the files dropped at the inbox's top"
    return (f"copies of it count as duplicates only {where} ({why}; "
            "`duplicate_scope: folder` compares across the whole folder)")


def _repeated(folder: Folder, content: str, rel: str) -> str:
    """What the daemon would do with these bytes, rendered before (the index of originals,
    read only): "" when they are new to it, or rendered again (on_duplicate: process). A
    look-alike needs the pixels: not foreseen."""
    import time

    from hotfolder.config.choices import OnDuplicate
    from hotfolder.state import originals
    from hotfolder.workers.duplicates import subfolder_scope

    if folder.index_dir is None or folder.on_duplicate == OnDuplicate.PROCESS:
        return ""
    match = originals.same_bytes(folder.index_dir, content, folder.name, scope_all=folder.duplicate_scope == "all",
                                 since=time.time() - folder.duplicate_window, subdir=subfolder_scope(folder, rel))
    if match is None:
        return ""
    if folder.on_duplicate == OnDuplicate.FAIL:
        return f"it has {match.said()}: it would fail (on_duplicate: fail), nothing rendered"
    return (f"it has {match.said()}: it would be skipped (on_duplicate: skip), moved to "
            f"{display(str(folder.duplicates))}, nothing rendered")


def _output(folder: Folder, rendition, facts: Facts, rel: str, values: dict, notes: list[str],
            generation: int | None = None, recorded=None) -> str:
    """The output's name (an archived original's as it has or would take it), with a note where
    the daemon would not give it that name. `recorded`: the index's outputs, read only
    (state/originals.RecordedOutputs), which prove one of no owner record its own as they
    would in the daemon (workers/provenance.py)."""
    from hotfolder.engine import formats
    from hotfolder.engine.geometry import plan
    from hotfolder.spool import owners
    from hotfolder.workers import naming, provenance

    photo = facts.photo
    ext = formats.output_ext(rendition.format, photo.format or "jpeg", facts.name)
    size = None
    if photo.width and photo.height:
        p = plan(rendition, (photo.width, photo.height))
        size = p.canvas or p.size
    try:
        out = naming.planned_rel(rendition, ext, size, rel, folder.name, values)
    except (naming.EmptyName, ValueError) as exc:
        return f"(no name: {exc})"
    path = folder.output / out
    proven = provenance.proven(folder, rel, generation or 0, [path], recorded)
    if generation is not None:  # an archived original: the name it has (or would take) as that photo
        planned = owners.plan(folder, rel, [path], generation, proven=proven)[0]
        if planned.how.startswith("fails"):
            notes.append(f"{out}: it {planned.how}")
        return planned.path.relative_to(folder.output).as_posix()
    why = owners.why_not_taken(folder, rel, path, proven)
    if why:
        whose = ("is another original's" if why == "another" else
                 "differs only in case from another original's output (one name to Windows and macOS clients, "
                 "and on exFAT and NTFS)" if why == "case" else
                 "is there, and no record says which original wrote it, nor do its bytes prove it this photo's"
                 if why == "unknown" else
                 "is a folder (or a FIFO, a link: no regular file) standing at that name" if why == "not_a_file"
                 else "is another original's, or there with no record of its writer, or a folder")
        notes.append(f"{out} {whose}: this one would get "
                     + ("failed (on_name_clash: fail)" if why == "fail" else "a ~suffix"))
    elif path in proven:
        notes.append(f"{out} has no record of which original wrote it, but its bytes are what this photo wrote "
                     "there (the index of originals): a new version of it replaces it as its own; a different "
                     "photo under this name would get ~2")
    return out
