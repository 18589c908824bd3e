"""Before a file is rendered: what of it its folder's recipe needs (read once, no pixel
decoded), which renditions apply, and the values its templates are filled in with.

    need       the folder's conditions' and templates' (recipes/select.folder_need): what
               no condition or template uses is never read; nothing at all for a folder
               with neither (and no sidecar)
    facts      engine/facts.read: the header, EXIF, XMP/IPTC, an XMP sidecar
    selection  recipes/select: the renditions whose `when:` holds
    values     the facts, `{hash}` (only when a chosen rendition uses it) and `{seq}` (a
               number handed out only when a chosen rendition uses it, once per file)
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from hotfolder import nameparts
from hotfolder.config.model import Folder
from hotfolder.engine import facts as reading
from hotfolder.engine.fingerprint import Original, file_hash
from hotfolder.recipes import select
from hotfolder.recipes.conditions import glob_matches
from hotfolder.recipes.facts import NOTHING, Described, Facts, Need, Photo, need_of_fields
from hotfolder.recipes.select import Selection
from hotfolder.recipes.sequence import Numbers


@dataclass(frozen=True)
class Choice:
    facts: Facts
    selection: Selection
    values: dict[str, object]  # the file's template values (the output's own are added per output)
    seq: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def described(self) -> Described:
        return Described(self.facts.written_values(self.values), self.facts.photo.sidecar, self.facts.photo.keywords)


def subdir_of(rel: str) -> str:
    return nameparts.parent(rel)


def read_facts(folder: Folder, src: Path, rel: str, *, accepted_formats, max_image_pixels: int,
               sidecar: Path | None = None, notes: list[str] | None = None, extra: Need = NOTHING,
               data: bytes | None = None, name: str | None = None) -> Facts:
    """What the folder's recipe needs of the file, and `extra` (InputError when it cannot be
    opened). `name`: the file's, where `src` is the descriptor it was read by."""
    need = select.folder_need(folder) | extra
    photo = Photo()
    if need.reads_file or need.mtime or sidecar is not None:
        photo = reading.read(src, need, accepted_formats=accepted_formats, max_image_pixels=max_image_pixels,
                             sidecar=sidecar, notes=notes, data=data, name=name)
    return Facts(nameparts.name(rel), subdir_of(rel), folder.name, corrected(folder, photo, notes))


def corrected(folder: Folder, photo: Photo, notes: list[str] | None = None) -> Photo:
    """`photo` dated by its camera's clock corrected (the folder's clock_offsets, the first
    whose camera glob matches): a second shooter's camera an hour ahead named its photos an
    hour after the main camera's of the same moment (the wedding audit). Only a date the
    camera wrote (EXIF), never a file's modification time. A date the offset would move past
    the calendar (year 9999, or 1) is left as written, and `notes` says so: the photo failed
    ("OverflowError: date value out of range"), and explain ended in a traceback."""
    if not folder.clock_offsets or photo.taken is None or photo.taken_from != "exif":
        return photo
    said = [t for t in (photo.camera, " ".join(x for x in (photo.make, photo.model) if x)) if t]
    for glob, seconds, written in folder.clock_offsets:
        if any(glob_matches(glob, t) for t in said):
            try:
                taken = photo.taken + dt.timedelta(seconds=seconds)
            except OverflowError:
                if notes is not None:
                    notes.append(f"clock_offsets {written} for {glob} would move its date "
                                 f"({photo.taken.isoformat(' ')}) past the years 1-9999 a date can have: "
                                 "left as the camera wrote it")
                return photo
            return replace(photo, taken=taken, clock=f"{written} for {glob}")
    return photo


def choose(folder: Folder, src: Path, rel: str, *, accepted_formats, max_image_pixels: int,
           sidecar: Path | None = None, numbers: Numbers | None = None, original: Original | None = None,
           holder: int | None = None, seq: int | None = None, without: tuple[str, ...] = ()) -> Choice:
    """The renditions whose `when:` holds for the file, and its template values. `original`:
    its bytes and content hash when the worker read them already (engine/fingerprint); else
    the file is read here as far as the recipe needs. `holder`: the file a `{seq}` is held
    for (recipes/sequence.py). `seq`: the number it had (rerender), given again, not a new one.
    `without`: renditions not made (jobs.Job.without): their names take no `{seq}` (a rerender
    of `thumb` alone drew a number for `web`'s name, and noted it as the original's)."""
    notes: list[str] = []
    facts = read_facts(folder, original.reading if original else src, rel, accepted_formats=accepted_formats,
                       max_image_pixels=max_image_pixels, sidecar=sidecar, notes=notes,
                       data=original.data if original else None, name=src.name)
    selection = select.select(folder.renditions, facts)
    used = need_of_fields(select.template_fields([r for r in selection.chosen if r.name not in without]))
    if used.hash:
        content = original.content if original else file_hash(src)
        facts = Facts(facts.name, facts.subdir, facts.folder, facts.photo, content)
    given, seq = seq, None
    if used.seq and selection.chosen and given is not None:
        seq = given
    elif used.seq and selection.chosen:
        if numbers is None:
            raise RuntimeError(f"folder {folder.name}: {{seq}} is used, and no sequence is given to count it in")
        seq = numbers.next_number(folder.name, holder)
    return Choice(facts, selection, {**facts.values(), "seq": seq}, seq, tuple(notes))
