"""What a file says of itself, read as far as a recipe needs (recipes/facts.Need) and no
further: no pixel is decoded. The header is opened by the same safe open as a render
(engine/opening: the formats accepted, the pixel limit; a RAW by LibRaw, its embedded
preview's EXIF), then only the parts asked for are parsed:

  header   the source format and the upright size (EXIF orientation applied; a HEIC's
           is libheif's own, a RAW's LibRaw's flip)
  exif     Make, Model, LensModel, ISO, when it was taken (DateTimeOriginal + its offset,
           else the XMP's or IPTC's date created, else DateTimeDigitized: engine/taken),
           and the tags `exif:` conditions name
  xmp      rating, label, keywords, title, description, headline: the file's XMP,
           then its IPTC-IIM (engine/captions); artist, credit, copyright the same, then
           EXIF (engine/bylines)
  sidecar  an XMP sidecar's fields, over the file's (read whenever there is one: its
           fields go into the outputs' XMP too)
  mtime    the file's modification time, when the file has no date and `{taken}` is used

Measured (`python -m bench.features`, the example studio recipe's fields on the bench's
12 MP JPEG): see DESIGN.md, "Recipes".
"""
from __future__ import annotations

import datetime as dt
import io
import os
import stat
from pathlib import Path

from PIL import Image

from hotfolder.engine import (
    bylines,
    captions,
    decode,  # noqa: F401 - its decoders' Pillow plugins (pi-heif), which the safe open meets
    formats,
    iptc,
    orient,
    taken,
    tifftags,
)
from hotfolder.engine.decoders import floattiff
from hotfolder.engine.errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.iptc import of_image as iim_of
from hotfolder.engine.opening import open_image, our_pixel_limit, too_many_pixels
from hotfolder.recipes import exif_tags
from hotfolder.recipes.facts import Need, Photo, XmpFields
from hotfolder.sidecars import SIDECAR_LIMIT

MAKE, MODEL, LENS, ISO = 0x010F, 0x0110, 0xA434, 0x8827


def read(src: Path, need: Need, *, accepted_formats: tuple[str, ...] | list[str], max_image_pixels: int,
         sidecar: Path | None = None, notes: list[str] | None = None, data: bytes | None = None,
         name: str | None = None) -> Photo:
    """The facts `need` asks for; InputError when the file cannot be opened as an image
    (the same reason a render would give). `notes` gets what could not be used. `data`: the
    file's bytes when the worker read them already (engine/fingerprint): not read again.
    `name`: the file's name, where `src` is not named so (fingerprint.Original.reading)."""
    notes = [] if notes is None else notes
    read_: list[str] = []
    found: dict = {}
    file_fields = XmpFields()
    if need.reads_file:
        own = formats.opened_by_own_decoder(name or src.name)
        if own is not None:
            if own.name not in accepted_formats:
                raise InputError("open", formats.not_accepted(own.name, accepted_formats))
            exif, size, orientation, xmp, iim = _raw(src, need, max_image_pixels)
            found["format"] = own.name
        elif "tiff" in accepted_formats and _maybe_tiff(data) and (floats := floattiff.layout(src)) is not None:
            exif, size, orientation, xmp, iim = _float_tiff(src, floats, need, max_image_pixels)
            found["format"] = "tiff"
        else:
            with open_image(src, accepted_formats, max_image_pixels, "first-frame", data, name) as im:
                known = formats.of_pil(im.format)
                found["format"] = known.name if known is not None else str(im.format).lower()
                exif, size = _exif(im, notes), im.size
                if found["format"] == "avif" and need.header:
                    size = _avif_size(src, data, size)
                orientation = orient.valid(exif.get(orient.ORIENTATION_TAG, 1)) if exif is not None else 1
                # the XMP and IIM for their fields, and for the date taken where the EXIF has none
                xmp = im.info.get("xmp") if need.xmp or need.exif else None
                iim = iim_of(im) if need.xmp or need.exif else None
        if need.header:
            read_.append("header")
            found["width"], found["height"] = (size[1], size[0]) if orientation in (5, 6, 7, 8) else size
        xmp = xmp.encode("utf-8") if isinstance(xmp, str) else xmp
        if need.read_exif:
            read_.append("exif")
            found.update(camera_facts(exif, xmp, iim) if need.exif else {})
            found["exif"] = _tags(exif, need.exif_tags)
        if need.xmp:
            read_ += ["xmp", "iptc"]
            file_fields, said = bylines.read(xmp, iim, exif, notes)
            found.update(artist=said.creator, credit=said.credit, copyright=said.copyright)
    side = XmpFields()
    if sidecar is not None:
        read_.append("sidecar")
        side = captions.from_xmp(_small(sidecar, notes), notes, f"the XMP sidecar {sidecar.name}")
    if need.xmp or side:
        fields = captions.merged(side, file_fields)
        found.update(rating=fields.rating, label=fields.label, keywords=fields.keywords, title=fields.title,
                     description=fields.description, headline=fields.headline)
    if need.mtime and found.get("taken") is None:
        read_.append("mtime")
        mtime = os.stat(src).st_mtime
        try:
            found["taken"] = dt.datetime.fromtimestamp(mtime).astimezone()
            found["taken_from"] = "mtime"
        except (ValueError, OverflowError, OSError):  # a file dated past year 9999 (tmpfs, XFS): no date known
            notes.append(f"its modification time ({mtime:.0f} s after 1970) is not a date: no date taken")
    written = {key: text for key in WRITTEN if (text := found.get(key)) and text != captions.shown(text)}
    found.update({key: captions.shown(text) for key, text in written.items()})  # one line, for names
    return Photo(**found, sidecar=side if sidecar is not None else None, read=tuple(read_),
                 as_written=tuple(written.items()))


# The photo's texts that may hold line breaks (a wire caption's paragraphs): one line in the
# Photo (names, `when:`, explain), as written beside it for set_metadata (Photo.as_written).
WRITTEN = ("title", "description", "headline", "artist", "credit", "copyright")


def _exif(im: Image.Image, notes: list[str]) -> Image.Exif | None:
    """The EXIF, or None when it cannot be read (said in `notes`: the picture is whole, and
    a render leaves such an EXIF out too, engine/metadata)."""
    try:
        return im.getexif()
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        notes.append(f"the EXIF cannot be read ({describe(exc)}): its fields are empty")
        return None


def _maybe_tiff(data: bytes | None) -> bool:
    """Whether the file may be a TIFF: its first bytes when they are in memory, else maybe
    (the float TIFF check reads its directory: not for every JPEG, a review)."""
    return data is None or tifftags.is_tiff(data)


def _float_tiff(src: Path, floats: tifftags.Layout, need: Need, max_image_pixels: int):
    """A TIFF of floating-point samples (decoders/floattiff: Pillow opens none in colour, so
    its header failed every `when:` and name field that reads one, as "cannot read"): size,
    orientation, EXIF and XMP as its decode reads them."""
    if reason := too_many_pixels(floats.size, max_image_pixels):
        raise InputError("open", reason)
    if reason := floattiff.problem(floats):
        raise InputError("decode", reason)
    meta = floattiff.metadata(src)
    exif = Image.Exif()
    if meta.exif:
        exif.load(meta.exif)
    return exif, floats.size, meta.orientation, meta.xmp if need.xmp or need.exif else None, None


def _raw(src: Path, need: Need, max_image_pixels: int):
    """A RAW's EXIF (its preview's, or the one LibRaw makes from the RAW's tags), size and flip."""
    from hotfolder.engine.decoders.raw import FLIP_TO_ORIENTATION, open_raw

    raw = open_raw(src, max_image_pixels)
    try:
        size = (raw.sizes.width, raw.sizes.height)
        orientation = FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)
        exif = None
        if need.read_exif:
            exif = _preview_exif(raw)
    finally:
        raw.close()
    if exif is None and need.read_exif:
        exif = _own_exif(src)
    return exif, size, orientation, None, None


def _own_exif(src: Path) -> Image.Exif | None:
    """A RAW without a JPEG preview (a bare DNG): its own tags, as its outputs carry them
    (decoders/raw): its camera and date were read for no condition nor name before."""
    from hotfolder.engine import tifftags

    own = tifftags.read(src)
    made = tifftags.raw_photo_exif(own) if own is not None else b""
    if not made:
        return None
    exif = Image.Exif()
    exif.load(made)
    return exif


def _preview_exif(raw) -> Image.Exif | None:
    import rawpy

    from hotfolder.engine.decoders.raw import libraw_made

    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG or not isinstance(thumb.data, bytes):
        return None
    try:
        with our_pixel_limit(), Image.open(io.BytesIO(thumb.data), formats=["JPEG"]) as jpeg:
            return libraw_made(jpeg.getexif())  # dated as the outputs are (decoders/raw)
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        return None


TEXT_VALUES = 64  # of an EXIF tag's values read as text (LensSpecification has 4, a GPS position 3)


def _text(value) -> str | None:
    """An EXIF value as text: strings without their padding, rationals as photographers
    write them (1/250, 2.8), numbers plain, sequences joined by spaces."""
    if value is None:
        return None
    if isinstance(value, bytes):  # UNDEFINED (UserComment, Windows' UTF-16 XP tags): its NULs dropped, as before
        return value.decode("ascii", "replace").replace("\0", "").strip() or None
    if isinstance(value, str):  # ASCII: Copyright holds "photographer\0editor": parts at a NUL, a space between
        return " ".join(p.strip() for p in _utf8(value).split("\0") if p.strip()) or None
    if isinstance(value, tuple):  # its first TEXT_VALUES: a tag of 2,000,000 rationals is no photo's
        parts = [_text(v) for v in value[:TEXT_VALUES]]
        return " ".join(p for p in parts if p) or None
    numerator, denominator = getattr(value, "numerator", None), getattr(value, "denominator", None)
    if numerator is not None and denominator:
        if 0 < numerator < denominator and denominator % numerator == 0:
            return f"1/{denominator // numerator}"
        return f"{numerator / denominator:g}"
    return str(value)


def _utf8(text: str) -> str:
    """An ASCII tag's text as its writer meant it: Pillow reads the bytes as Latin-1, and
    cameras and tools that write UTF-8 there (`Café`) came out as `CafÃ©` in names and
    messages (an attack round). Bytes that are not UTF-8 stay as Pillow read them."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


_tag = taken.tag  # IFD0, else the EXIF IFD


def camera_facts(exif: Image.Exif | None, xmp: bytes | None = None, iim: iptc.Iim | None = None) -> dict:
    """Make, model, lens, ISO and when the photo was taken (engine/taken: DateTimeOriginal,
    else the XMP's or IPTC's date created, ...; aware when an offset is given): what the
    templates and the manifest (engine/source_facts) say."""
    iso = _first_iso(_tag(exif, ISO))
    when, said_by = taken.of(exif, xmp, iim)
    return {"make": _text(_tag(exif, MAKE)), "model": _text(_tag(exif, MODEL)), "lens": _text(_tag(exif, LENS)),
            "iso": iso if isinstance(iso, int) and iso > 0 else None, "taken": when, "taken_from": said_by}


def _first_iso(value):
    """ISOSpeedRatings may hold more than one value (ISO 12232's; cameras write `400 0`): the
    first is the ISO, for `{iso}` and for `exif:` conditions alike (a review: `ISO: "400"`
    did not match a `400 0`)."""
    return value[0] if isinstance(value, tuple) and value else value


def _tags(exif: Image.Exif | None, names: frozenset[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for name in sorted(names):
        number = exif_tags.TAGS[name]
        value = _text(_first_iso(_tag(exif, number)) if number == ISO else _tag(exif, number))
        if value is not None:
            out.append((name, value))
    return tuple(out)


def _avif_size(src: Path, data: bytes | None, size: tuple[int, int]) -> tuple[int, int]:
    """An AVIF's size after its crop (clean aperture), as rendered (decoders/avif): Pillow's
    is the coded size, and `when:` judged the uncropped picture (a review)."""
    from hotfolder.engine.decoders import avif, heifmeta

    try:
        box = avif.aperture(src, data, size)
    except heifmeta.Unsupported:
        return size
    return size if box is None else (box[2] - box[0], box[3] - box[1])


def _small(path: Path, notes: list[str]) -> bytes | None:
    """A sidecar's bytes, never through a link, at most SIDECAR_LIMIT."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        notes.append(f"the XMP sidecar {path.name} cannot be read: {exc.strerror or exc}")
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            notes.append(f"the XMP sidecar {path.name} is not a regular file; not read")
            return None
        data = f.read(SIDECAR_LIMIT + 1)
    if len(data) > SIDECAR_LIMIT:
        notes.append(f"the XMP sidecar {path.name} is larger than {SIDECAR_LIMIT >> 20} MiB; not read")
        return None
    return data
