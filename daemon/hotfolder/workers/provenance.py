"""Outputs no owner record names (spool/owners.py), and what the log says of the names a
file's outputs took.

An output folder copied to another disk (`cp -a`, `rsync -a`) with the config pointed at
the new path, or `state_dir/names` deleted, leaves outputs whose owner nobody records: the
records are keyed by the output's path. They are never replaced on a guess, so a new
version of their own original was written beside them (`IMG_1_web~jpg.jpg`) while its log
line said its outputs were replaced (an admin's report). `proven` finds which of them are
provably this original's: the index of originals recorded, for this folder, name and photo
(its generation), an output of that relative name whose bytes hash (BLAKE3) as the file
there does now, and no other original wrote those same bytes (before or since: a
rerender updates a row in place). Then the file
holds exactly what this original wrote there, and it is replaced as its own. Anything else
with no record (put there by hand, an earlier version's, a cluster's: its index keeps no
output hashes, an index forgotten past duplicate_window or rebuilt from the archive) is
still kept, and `said` tells so.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from blake3 import blake3

from hotfolder import nameparts
from hotfolder.config.model import Folder
from hotfolder.likeness import Naming
from hotfolder.spool import owners
from hotfolder.spool.fsnames import display
from hotfolder.state.originals import OUTPUT_HASH

CHUNK = 1 << 20


def output_hash(data: bytes | memoryview) -> bytes:
    """What the index keeps of an output's bytes (state/originals.Entry.output_hashes)."""
    return blake3(data).digest(length=OUTPUT_HASH)


def output_hash_of(f: BinaryIO, piece: int = 1 << 20) -> tuple[bytes, int]:
    """output_hash of a file's bytes read from `f` a piece at a time, and how many there were."""
    hasher, size = blake3(), 0
    while chunk := f.read(piece):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.digest(length=OUTPUT_HASH), size


def proven(folder: Folder, rel: str, generation: int, wanted: list[Path], index,
           manifest: Path | None = None) -> dict[Path, owners.Identity]:
    """The outputs among the names `wanted` may take (each one's clash candidates) that have
    no owner record and are provably this original's (see the top), each as it was seen
    (owners.reserve_told checks it is still that file). `manifest`: the manifest's path
    among `wanted` (its hash follows the outputs' in a row). `index`: the index of originals,
    the daemon's or read only (state/originals.RecordedOutputs: rerender, explain); None: nothing
    proves."""
    if index is None or folder.names_dir is None or folder.on_name_clash == "replace":
        return {}
    written = index.written(folder.name, rel, generation)
    if not written:
        return {}
    source_ext = "" if generation else nameparts.suffix(rel).lstrip(".").lower()
    looked = {c for w in wanted for c in owners.candidates(w, source_ext)}
    out: dict[Path, owners.Identity] = {}
    for w in written:
        paths = [folder.output / o for o in w.outputs]
        if manifest is not None and len(w.hashes) == len(paths) + 1:
            paths.append(manifest)
        for path, digest in zip(paths, w.hashes, strict=False):
            if path in out or path not in looked or owners.has_record(folder, path):
                continue  # a record names its owner: the records decide, as always
            seen = _hashed(path)
            if seen is None or seen[0] != digest:
                continue
            if index.written_since(w.record, digest, folder.name, rel, generation):
                continue  # another original wrote those very bytes: whose is it? kept
            out[path] = seen[1]
    return out


def _hashed(path: Path) -> tuple[bytes, owners.Identity] | None:
    """The hash of the regular file at `path` (never through a link, never a FIFO's open
    blocking) and its Identity; None if it is not one, or changed while it was read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return None
        hasher = blake3()
        while chunk := os.read(fd, CHUNK):
            hasher.update(chunk)
        after = os.fstat(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    if owners.identity(after) != owners.identity(before):
        return None
    return hasher.digest(length=OUTPUT_HASH), owners.identity(before)


# --- what is said ------------------------------------------------------------------------

def _unknown(one: bool) -> str:
    it, its, is_ = ("it", "its", "is") if one else ("them", "their", "are")
    return (f"no record says which original wrote {it} (the output folder was moved or copied, state_dir/names "
            f"deleted, or put there by hand), and nothing proves {its} bytes this photo's (the index of originals "
            f"keeps what each rendering wrote, where there is one), so {'it' if one else 'they'} {is_} never "
            "replaced")


def said(taken: Iterable[owners.Taken], folder: Folder, naming: Naming, renumbered: bool = False
         ) -> tuple[str, dict]:
    """What the log says of the names the outputs took, once they are written there (a reason,
    "" when nothing is worth a word, and the fields): for a new version or a different photo
    (`name_reused`'s reason; `renumbered`: one the index took for the first photo of its name,
    whose names an earlier photo it no longer knows holds: workers/duplicates.renumbered), or
    any file."""
    taken = list(taken)
    kept = [t for t in taken if t.kept in ("unknown", "another", "case", "not_a_file") and not t.replaces]
    proved = [t for t in taken if t.replaces == "proven"]
    fields: dict = {}
    parts: list[str] = []
    if proved:
        shown = _names(folder, (t.path for t in proved))
        fields["proven"] = [_rel(folder, t.path) for t in proved]
        parts.append(f"{shown} had no record of which original wrote {_it(proved)} (the output folder moved or "
                     f"copied, or state_dir/names deleted), but {_its(proved)} bytes are what this photo wrote "
                     f"there, as the index of originals knows it: replaced as its own")
    for why in ("unknown", "another", "case", "not_a_file"):
        these = [t for t in kept if t.kept == why]
        if not these:
            continue
        asked, written = _names(folder, (t.asked for t in these)), _names(folder, (t.path for t in these))
        fields.setdefault("kept", []).extend(_rel(folder, t.asked) for t in these)
        fields.setdefault("written_as", []).extend(_rel(folder, t.path) for t in these)
        one = len(these) == 1
        why_said = (_unknown(one) if why == "unknown" else f"{'it is' if one else 'they are'} another original's"
                    if why == "another" else f"{'it is' if one else 'they are'} another original's in another case "
                    "(Windows and macOS clients, and exFAT and NTFS disks, take names that differ only in case for one)"
                    if why == "case" else f"{'it is a folder' if one else 'they are folders'} "
                    "(or a FIFO, a link: no regular file): "
                    "made for another original's outputs, whose template took a value of that name from its "
                    "photo, or by hand")
        parts.append(f"{asked} {'is' if one else 'are'} kept: {why_said}; written beside as {written}")
    if naming == Naming.DIFFERENT:
        head = (FORGOTTEN if renumbered else "another photo under a name used before: the earlier outputs stay"
                if kept else f"another photo under a name used before: its outputs are written as "
                             f"{_names(folder, (t.path for t in taken))}: no earlier output holds those names now")
        return "; ".join([head, *parts, REPLACE_HINT]), fields
    if naming == Naming.NEW_VERSION:
        head = ("it looks like the earlier photo of this name: its outputs are replaced" if not kept else
                "it looks like the earlier photo of this name, a new version of it, but not all its outputs are "
                "replaced")
        return "; ".join([head, *parts]), fields
    return ("; ".join(parts) if kept or proved else ""), fields


def worth_a_line(taken: Iterable[owners.Taken]) -> bool:
    """Whether a file that is neither a new version nor a different photo (their `name_reused`
    says it all) has `outputs_kept` said of it: only where an output no record names was kept,
    or proved its own. One kept only as another original's is the clash rules' everyday `~`
    (a.png beside a.jpg), never a line of its own (a review: a second line for every different
    photo; `process` warned of a.jpg's output written a moment before)."""
    return any(t.kept in ("unknown", "not_a_file") or t.replaces == "proven" for t in taken)


FORGOTTEN = ("the outputs under this name (and number) are an earlier photo's that the index no longer knows "
             "(forgotten past duplicate_window, its database made again, or the folder renamed): they stay, its own "
             "are numbered on")
REPLACE_HINT = ("where a new photo under an old name is meant to replace it (a re-shot product), set the folder's "
                "on_name_clash: replace")


def _rel(folder: Folder, path: Path) -> str:
    return display(path.relative_to(folder.output).as_posix())


def _names(folder: Folder, paths: Iterable[Path]) -> str:
    return ", ".join(_rel(folder, p) for p in paths)


def _it(items: list) -> str:
    return "it" if len(items) == 1 else "them"


def _its(items: list) -> str:
    return "its" if len(items) == 1 else "their"
