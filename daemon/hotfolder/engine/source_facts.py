"""What a manifest says of an original, from what its decoder read: its size upright,
when it was taken (EXIF, else XMP or IPTC: engine/taken) and with what camera (EXIF),
and what a CMS prints beside it: its title,
headline, caption and keywords (XMP, else IPTC-IIM; a sidecar's first, as the templates
read them; the caption with its paragraphs) and its creator, credit and copyright
(engine/bylines). Read by engine/facts' own rules, so the
manifest says what `{taken}` and `{camera}` say (a review: a second reader here took
IFD0's DateTime, kept February 31st and Nikon's make twice). The EXIF is the file's: data
to show, never trusted to be well formed (a damaged or odd value is left out, never raised).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from hotfolder.engine import bylines, captions, facts, taken
from hotfolder.engine.geometry import oriented_size
from hotfolder.engine.metadata import Metadata
from hotfolder.recipes.facts import Photo, XmpFields
from hotfolder.shown import UNSHOWN

MAX_TEXT = 64  # characters of a camera's name kept


@dataclass(frozen=True)
class SourceFacts:
    width: int  # upright, as the renditions were planned on
    height: int
    taken: str | None  # ISO 8601: "2024-06-01T12:00:00" (+ the offset when the EXIF gives one)
    camera: str | None  # "Canon EOS R5": the make, then the model (the make once)
    described: XmpFields = XmpFields()  # title, headline, caption (description), keywords
    credits: bylines.Bylines = bylines.Bylines()


def of(size: tuple[int, int], meta: Metadata, sidecar: XmpFields | None = None, texts: bool = False) -> SourceFacts:
    """`texts`: the captions and credits too (a manifest's), else left empty."""
    width, height = oriented_size(size, meta.orientation)
    described, credits = XmpFields(), bylines.Bylines()
    if texts:
        notes: list[str] = []  # (said already where the outputs' metadata is made)
        own, credits = bylines.read(meta.xmp, meta.iim, meta.exif, notes)
        described = captions.merged(sidecar or XmpFields(), own)
        described, credits = _shown(described), bylines.Bylines(
            *(_printable(v, captions.MAX_TEXT) for v in (credits.creator, credits.credit, credits.copyright)))
    exif = taken.loaded(meta.exif)
    found = facts.camera_facts(exif, meta.xmp, meta.iim)  # the date taken may be the XMP's or IPTC's
    when = found["taken"]
    camera = Photo(make=found["make"], model=found["model"]).camera
    return SourceFacts(width, height, when.isoformat() if when is not None else None, _printable(camera),
                       described, credits)


def _printable(text: str | None, most: int = MAX_TEXT) -> str | None:
    """The text without what a terminal acts on or hides (shown.UNSHOWN), its spaces single,
    bounded: a name to show."""
    if text is None:
        return None
    return " ".join(UNSHOWN.sub(" ", text).split())[:most] or None


def _shown(fields: XmpFields) -> XmpFields:
    """The captions and keywords as `_printable` gives them: a NUL in a wire photo's credit was
    `\\u0000` in the JSON, which PostgreSQL's jsonb refuses (the importer failed on the file),
    a bidi override turned the printed byline around."""
    keywords = tuple(k for k in (_printable(k, captions.MAX_TEXT) for k in fields.keywords) if k)
    most = captions.MAX_TEXT
    return replace(fields, keywords=keywords, title=_printable(fields.title, most),
                   description=_paragraphs(fields.description, most), headline=_printable(fields.headline, most))


def _paragraphs(text: str | None, most: int) -> str | None:
    """A caption as `_printable` gives each of its lines, its line breaks kept as \n (see
    workers/manifest.py: a CMS gets the paragraphs the outputs carry)."""
    if text is None:
        return None
    return "\n".join(" ".join(UNSHOWN.sub(" ", line).split()) for line in text.split("\n")).strip("\n")[:most] or None
