"""What conditions and templates may read of one file (`Facts`), and which of it a
folder's recipe uses (`Need`): what no condition or template names is never read.

    Facts      the file's place (name, subfolder, folder), what it says of itself
               (`Photo`, read by engine/facts.py), and its content hash
    Photo      source format, upright size, camera, lens, ISO, when it was taken,
               rating, label, keywords, title, description, headline, EXIF tags
    XmpFields  what an XMP packet (a sidecar's) says: it feeds `when:`, the templates
               and the outputs' XMP
    Need       what to read: nothing, the header (format, size), EXIF, XMP and IPTC,
               the modification time, the content hash
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

from hotfolder import nameparts
from hotfolder.recipes.filters import Items
from hotfolder.recipes.templates import FIELDS


@dataclass(frozen=True)
class XmpFields:
    """The descriptive fields of an XMP packet (Lightroom's, Capture One's, darktable's)."""

    rating: int | None = None  # xmp:Rating, -1 (rejected) to 5
    label: str | None = None  # xmp:Label
    keywords: tuple[str, ...] = ()  # dc:subject
    title: str | None = None  # dc:title
    description: str | None = None  # dc:description
    headline: str | None = None  # photoshop:Headline

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) not in (None, ()) for f in fields(self))


@dataclass(frozen=True)
class Photo:
    """What a file says of itself: only what the recipe's Need asked for is filled in."""

    format: str | None = None  # the engine's name of the source format (jpeg, heic, raw, …)
    width: int | None = None  # upright: as the picture is shown, EXIF orientation applied
    height: int | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    iso: int | None = None
    taken: dt.datetime | None = None  # aware when the file gave its offset
    taken_from: str = ""  # "exif", "xmp", "iptc" (engine/taken) or "mtime" (the file's modification time)
    clock: str = ""  # the folder's clock_offsets entry `taken` was corrected by ("-1h for NIKON*"), if any
    rating: int | None = None
    label: str | None = None
    keywords: tuple[str, ...] = ()  # XMP dc:subject, IPTC keywords and a sidecar's, once each
    title: str | None = None
    description: str | None = None
    headline: str | None = None
    artist: str | None = None  # the byline, credit line and copyright notice (engine/bylines)
    credit: str | None = None
    copyright: str | None = None
    exif: tuple[tuple[str, str], ...] = ()  # the tags `exif:` conditions name: (name, value as text)
    # The texts above (title, description, headline, artist, credit, copyright) are one line
    # each, as names, `when:` and explain show them; these are the ones the photo writes
    # otherwise (a wire caption's paragraphs), as written: what set_metadata's templates fill
    # the outputs' metadata with (Facts.written_values).
    as_written: tuple[tuple[str, str], ...] = ()
    sidecar: XmpFields | None = None  # an XMP sidecar's own fields (for the outputs' XMP)
    read: tuple[str, ...] = ()  # what was read, in order: header, exif, xmp, iptc, sidecar, mtime

    @property
    def camera(self) -> str | None:
        """Make and model with the make once: Canon + `Canon EOS R5` is `Canon EOS R5`, SONY
        + `ILCE-7M4` is `SONY ILCE-7M4`, NIKON CORPORATION + `NIKON Z 6` is `NIKON Z 6`."""
        make, model = self.make or "", self.model or ""
        brand = make.split()[0] if make.split() else ""
        if not model:
            return make or None
        if not brand or model.lower().startswith(brand.lower()):
            return model
        return f"{make} {model}"

    def exif_tag(self, name: str) -> str | None:
        return dict(self.exif).get(name)

    @property
    def orientation(self) -> str | None:
        """portrait, landscape or square, upright; None when the size was not read."""
        if self.width is None or self.height is None:
            return None
        return "square" if self.width == self.height else "portrait" if self.height > self.width else "landscape"


@dataclass(frozen=True)
class Facts:
    name: str  # the original's name
    subdir: str = ""  # its folder under the inbox, "" at the top
    folder: str = ""  # the folder's name
    photo: Photo = field(default_factory=Photo)
    hash: str | None = None  # BLAKE3-256 of its bytes, hex (engine/fingerprint; when a template uses it)

    @property
    def stem(self) -> str:
        return nameparts.stem(self.name)

    @property
    def source_ext(self) -> str:
        return nameparts.suffix(self.name).lstrip(".").lower()

    def values(self) -> dict[str, object]:
        """The template values of the file (the output's own and `seq` are added by the worker)."""
        p = self.photo
        return {"stem": self.stem, "name": self.name, "source_ext": self.source_ext, "subdir": self.subdir,
                "folder": self.folder, "taken": p.taken, "make": p.make, "model": p.model, "camera": p.camera,
                "lens": p.lens, "iso": p.iso, "rating": p.rating, "label": p.label, "title": p.title,
                "description": p.description, "headline": p.headline, "artist": p.artist, "credit": p.credit,
                "copyright": p.copyright,
                "keywords": Items(p.keywords, ", ") if p.keywords else None, "hash": self.hash}

    def written_values(self, values: Mapping[str, object]) -> dict[str, object]:
        """`values` (the file's template values) with the photo's texts as it writes them, line
        breaks kept: what set_metadata fills the outputs' metadata with (names take `values`)."""
        return {**values, **dict(self.photo.as_written)}


@dataclass(frozen=True)
class Described:
    """What the worker hands the engine for the outputs' metadata: the values set_metadata's
    templates are filled in with, an XMP sidecar's fields (over the file's own, in outputs
    that keep XMP), and the photo's own keywords (XMP, IPTC, a sidecar's) that
    set_metadata's keywords add to."""

    values: Mapping[str, object] = field(default_factory=dict)
    sidecar: XmpFields | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Need:
    """What of a file a recipe reads (the rest is never read)."""

    header: bool = False  # the source format and the upright size
    exif: bool = False  # make, model, lens, ISO, DateTimeOriginal
    exif_tags: frozenset[str] = frozenset()  # further tags, by name (`exif:` conditions)
    xmp: bool = False  # rating, label, keywords, title, description, headline, artist, credit, copyright
    mtime: bool = False  # when EXIF has no date (`{taken}`)
    hash: bool = False  # the content hash (`{hash}`)
    seq: bool = False  # a number of the folder's sequence (`{seq}`)

    def __or__(self, other: Need) -> Need:
        return Need(**{f.name: (getattr(self, f.name) | getattr(other, f.name)) for f in fields(self)})

    @property
    def reads_file(self) -> bool:
        """Whether the file must be opened before it is rendered."""
        return self.header or self.exif or bool(self.exif_tags) or self.xmp

    @property
    def read_exif(self) -> bool:
        return self.exif or bool(self.exif_tags)

    def said(self) -> str:
        """What is read, for people: `header, EXIF (+LensModel), XMP/IPTC, content hash`."""
        parts = [name for name, on in (("header", self.header), ("EXIF", self.exif), ("XMP/IPTC", self.xmp),
                                       ("modification time", self.mtime), ("content hash", self.hash),
                                       ("sequence number", self.seq)) if on]
        if self.exif_tags:
            parts.append("EXIF tags " + ", ".join(sorted(self.exif_tags)))
        return ", ".join(parts) or "its name only (no condition or name field of the recipe opens the file)"


NOTHING = Need()


def need_of_fields(names: Iterable[str]) -> Need:
    """What the template fields `names` read."""
    need = NOTHING
    for name in names:
        reads = FIELDS[name].reads if name in FIELDS else ""
        if reads == "exif":
            need |= Need(exif=True, mtime=name == "taken")
        elif reads == "xmp":
            need |= Need(xmp=True)
        elif reads == "hash":
            need |= Need(hash=True)
        elif reads == "seq":
            need |= Need(seq=True)
    return need
