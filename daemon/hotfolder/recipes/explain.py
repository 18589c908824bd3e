"""What is said of one file: which folder takes it, what was read of it, which renditions
apply (and where their outputs go), and for each other one the entry of its `when:` that
excluded it. `hotfolder explain` prints it; a failed file's record keeps its lines, which
the status page shows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from hotfolder.recipes.facts import Facts
from hotfolder.recipes.select import Selection

MAX_LINE = 600  # characters: a line of a failure record (a keyword list can be long)


@dataclass(frozen=True)
class Said:
    """One rendition's verdict."""

    rendition: str
    applies: bool
    key: str = ""  # the `when:` entry that excluded it ("": not a `when:`, a look-alike did not make it)
    why: str = ""
    output: str = ""  # its output, relative to the output folder ("" when not known)


@dataclass(frozen=True)
class Explanation:
    file: str
    folder: str  # the folder that takes it
    place: str  # how it reaches that folder: "in its inbox", "as if dropped in its inbox", …
    read: str  # what was read of it (Need.said())
    fields: tuple[tuple[str, str], ...] = ()  # what was found, as text
    renditions: tuple[Said, ...] = ()
    problem: str = ""  # why it could not be read (or rendered)
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = [f"{self.file} → folder {self.folder} ({self.place})", f"  its recipe reads: {self.read}"]
        if self.fields:
            out.append("  found: " + " · ".join(f"{k} {v}" for k, v in self.fields))
        if self.problem:
            out.append(f"  problem: {self.problem}")
        for said in self.renditions:
            if said.applies:
                out.append(f"  applies: {said.rendition}" + (f" → {said.output}" if said.output else ""))
            else:
                out.append(f"  excluded: {said.rendition} ({f'when.{said.key}: ' if said.key else ''}{said.why})")
        if self.renditions and not any(s.applies for s in self.renditions):
            out.append("  no rendition applies")
        out += [f"  note: {note}" for note in self.notes]
        return [line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…" for line in out]

    def as_json(self) -> dict:
        data = asdict(self)
        data["fields"] = dict(self.fields)
        return data


def verdicts(selection: Selection, outputs: dict[str, str] | None = None) -> tuple[Said, ...]:
    outputs = outputs or {}
    return tuple(Said(r.name, o.holds, "" if o.holds else o.key, "" if o.holds else o.why,
                      outputs.get(r.name, "")) for r, o in selection.outcomes)


def shown_fields(facts: Facts, seq: int | None = None) -> tuple[tuple[str, str], ...]:
    """The facts that were read, as text, in a fixed order."""
    p = facts.photo
    out: list[tuple[str, str]] = []
    if facts.subdir:
        out.append(("subfolder", facts.subdir))
    if p.format:
        out.append(("format", p.format))
    if p.width is not None:
        out.append(("size", f"{p.width}x{p.height} {p.orientation} (upright)"))
    for name in ("camera", "lens"):
        value = getattr(p, name)
        if value:
            out.append((name, value))
    if p.iso is not None:
        out.append(("ISO", str(p.iso)))
    if p.taken is not None:
        said_by = {"mtime": " (file's modification time)", "xmp": " (its XMP's date created)",
                   "iptc": " (its IPTC date created)"}.get(p.taken_from, "")
        out.append(("taken", _when(p.taken) + said_by
                    + (f" (the camera's clock corrected: clock_offsets {p.clock})" if p.clock else "")))
    out += [(f"EXIF {name}", value) for name, value in p.exif]
    if p.rating is not None:
        out.append(("rating", str(p.rating)))
    for name in ("label", "title", "description", "headline", "artist", "credit", "copyright"):
        value = getattr(p, name)
        if value:
            out.append((name, value))
    if p.keywords:
        out.append(("keywords", ", ".join(p.keywords)))
    if facts.hash:
        out.append(("hash", facts.hash[:16] + "…"))
    if seq is not None:
        out.append(("seq", str(seq)))
    return tuple(out)


def _when(taken: dt.datetime) -> str:
    return taken.isoformat(sep=" ", timespec="seconds")
