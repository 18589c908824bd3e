"""The image formats hotfolder reads and writes: one entry each, the one place a format
is described (imgproxy's `imagetype/defs.go`, sharp's `lib/is.js`).

Standard library only: the config takes its choices from here (`format:`,
`accepted_formats:`) without loading an imaging library. An entry names its decoder
and encoder by module and function (`Ref`); the engine imports them when it loads
(engine/decode, engine/encode), never the config.

What reads the fields:
  name           the config's word for it; the key of the decoders and encoders
  extensions     an output is written with the first; format `same` keeps a source's
                 own extension when it is one of them; a format Pillow does not open
                 (`pil` None: camera RAW) is known by them
  pil, pil_also  Pillow's names: what the safe open accepts (`formats=`) and the
                 encoders save as; `pil_also` other names Pillow gives such a file
  vips           libvips' name (its `<vips>load`/`<vips>save` operations); None where
                 this libvips has no loader for it
  quality        the encoder takes a quality (max_bytes lowers it; `quality: auto` searches it)
  progressive    the encoder can write a progressive file (`progressive: true`)
  compressions   the lossless compressions its encoder offers (`compression:`), the
                 first the default; () for a format without the key
  alpha, grey    an output keeps transparency (else flattened onto `background`),
                 writes grey frames as grey (else as RGB): engine/colour.convert_for
  animation      a file of several frames is an animation (`animation: fail`)
  exif, xmp, icc, iptc   what a source gives and an output carries (engine/metadata)
  dcf            a source without a profile is in the colour space its EXIF names by
                 DCF's tags (engine/dcf: a camera's Adobe RGB)
  same           what format `same` writes for such a source (None: this format)
  default        in `accepted_formats` when the config does not say

Adding a format is one entry here plus its decoder (engine/decoders) or encoder
(engine/encoders); DESIGN.md, "The engine", shows it for JPEG XL.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotfolder import nameparts

SAME = "same"  # `format: same`: the source's own format where it is an output format (see `written`)


@dataclass(frozen=True)
class Ref:
    """A function named by its module and name, imported when first resolved."""

    target: str  # "hotfolder.engine.decoders.jpeg:decode"

    def resolve(self) -> Callable[..., Any]:
        return _resolve(self.target)


@functools.cache
def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    found = getattr(importlib.import_module(module), name)
    if not callable(found):
        raise TypeError(f"{target} is not a function")
    return found


def decoder(name: str) -> Ref:
    return Ref(f"hotfolder.engine.decoders.{name}")


def encoder(name: str) -> Ref:
    return Ref(f"hotfolder.engine.encoders.{name}")


@dataclass(frozen=True)
class Format:
    """One image format (the module's doc says what reads each field)."""

    name: str
    extensions: tuple[str, ...]
    mime: str
    pil: str | None
    vips: str | None
    quality: bool
    alpha: bool
    grey: bool
    animation: bool
    exif: bool
    xmp: bool
    icc: bool
    iptc: bool = False
    dcf: bool = False
    decoder: Ref | None = None
    encoder: Ref | None = None
    same: str | None = None
    default: bool = False
    pil_also: tuple[str, ...] = ()
    progressive: bool = False
    compressions: tuple[str, ...] = ()

    @property
    def ext(self) -> str:
        """The extension an output in this format is written with."""
        return self.extensions[0]


# In the order the config lists them in its messages.
TABLE: tuple[Format, ...] = (
    Format("jpeg", ("jpg", "jpeg", "jpe", "jfif"), "image/jpeg", pil="JPEG", vips="jpeg",
           quality=True, alpha=False, grey=True, animation=False, exif=True, xmp=True, icc=True, iptc=True,
           dcf=True, decoder=decoder("jpeg:decode"), encoder=encoder("jpeg:encode"), default=True,
           pil_also=("MPO",), progressive=True),  # MPO: a camera JPEG with a multi-picture (MPF) index
    Format("png", ("png",), "image/png", pil="PNG", vips="png",
           quality=False, alpha=True, grey=True, animation=True, exif=True, xmp=True, icc=True,
           decoder=decoder("png:decode"), encoder=encoder("pillow:png"), default=True),
    Format("webp", ("webp",), "image/webp", pil="WEBP", vips="webp",
           quality=True, alpha=True, grey=False, animation=True, exif=True, xmp=True, icc=True,
           decoder=decoder("webp:decode"), encoder=encoder("pillow:webp"), default=True),
    Format("tiff", ("tif", "tiff"), "image/tiff", pil="TIFF", vips="tiff",
           quality=False, alpha=True, grey=True, animation=False, exif=True, xmp=True, icc=True, iptc=True,
           dcf=True, decoder=decoder("pillow:decode_deep"), encoder=encoder("tiff:encode"),
           same="png",  # `same` stays PNG: a TIFF source's outputs were named .png before TIFF was written
           default=True, compressions=("deflate", "lzw", "none")),  # engine/encoders/tiff.COMPRESSIONS
    Format("gif", ("gif",), "image/gif", pil="GIF", vips="gif",
           quality=False, alpha=True, grey=True, animation=True, exif=False, xmp=False, icc=False,
           decoder=decoder("pillow:decode"), same="png"),
    Format("bmp", ("bmp",), "image/bmp", pil="BMP", vips=None,
           quality=False, alpha=True, grey=True, animation=False, exif=False, xmp=False, icc=False,
           decoder=decoder("bmp:decode"), same="png"),
    Format("avif", ("avif",), "image/avif", pil="AVIF", vips="heif",
           quality=True, alpha=True, grey=False, animation=True, exif=True, xmp=True, icc=True,
           decoder=decoder("avif:decode"), encoder=encoder("pillow:avif")),
    Format("jxl", ("jxl",), "image/jxl", pil=None, vips=None,  # written through imagecodecs (libjxl)
           quality=True, alpha=True, grey=True, animation=False, exif=True, xmp=True, icc=False,
           encoder=encoder("jxl:encode")),
    Format("heic", ("heic", "heif", "hif"), "image/heic", pil="HEIF", vips="heif",  # through pi-heif's plugin
           quality=True, alpha=True, grey=True, animation=False, exif=True, xmp=True, icc=True,
           decoder=decoder("heif:decode"), same="jpeg", default=True),
    Format("raw", ("dng", "cr2", "cr3", "nef", "nrw", "arw", "raf", "orf", "rw2", "pef", "srw"),
           "image/x-dcraw", pil=None, vips=None,  # LibRaw reads it; known by its extension
           quality=False, alpha=False, grey=False, animation=False, exif=True, xmp=False, icc=True,
           dcf=True, decoder=decoder("raw:decode"), same="jpeg", default=True),
)

BY_NAME = {f.name: f for f in TABLE}
INPUTS = tuple(f.name for f in TABLE if f.decoder is not None)
OUTPUTS = tuple(f.name for f in TABLE if f.encoder is not None)
DEFAULT_INPUTS = tuple(f.name for f in TABLE if f.default and f.decoder is not None)


def not_accepted(name: str, accepted) -> str:
    """Why a file of format `name` is refused, and the key that would take it (a new user's
    GIF: the reason named no key)."""
    said = f"format {name} is not accepted (accepted: {', '.join(accepted)})"
    return said + (f"; add {name} to `accepted_formats` to take such files" if name in INPUTS else "")


# Pillow's name for a file (im.format) -> its format.
_BY_PIL = {pil: f for f in TABLE if f.pil is not None for pil in (f.pil, *f.pil_also)}
# Formats Pillow does not open, by extension: their decoders open the file themselves.
_OWN_OPENER = {ext: f for f in TABLE if f.pil is None and f.decoder is not None for ext in f.extensions}


# Every extension of a known format -> that format.
BY_EXTENSION = {ext: f for f in TABLE for ext in f.extensions}


def get(name: str) -> Format:
    return BY_NAME[name]


def of_pil(pil_name: str | None) -> Format | None:
    """The format of a file Pillow opened as `pil_name` (im.format)."""
    return _BY_PIL.get(pil_name or "")


def opened_by_own_decoder(file_name: str) -> Format | None:
    """The format of a file that Pillow does not open (a camera RAW), by its extension."""
    return _OWN_OPENER.get(_suffix(file_name))


def written(config_format: str, source_format: str) -> Format:
    """The format an output is written in: `format: same` keeps an output format's
    sources as they are and writes the others in their entry's `same` (else PNG)."""
    if config_format != SAME:
        return BY_NAME[config_format]
    source = BY_NAME.get(source_format)
    if source is None:
        return BY_NAME["png"]
    return BY_NAME[source.same or source.name]


def output_ext(config_format: str, source_format: str, src_name: str) -> str:
    """The extension of an output: the format's own, or with `format: same` the source's
    own spelling of it (`.jpeg` stays `.jpeg`)."""
    fmt = written(config_format, source_format)
    suffix = _suffix(src_name)
    if config_format == SAME and suffix in fmt.extensions:
        return suffix
    return fmt.ext


def _suffix(file_name: str) -> str:
    """`a.JPG` -> `jpg`; "" for a name without one (`.jpg` is a hidden file's name, as pathlib reads it)."""
    return nameparts.suffix(file_name).lower().lstrip(".")
