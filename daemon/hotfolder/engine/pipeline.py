"""The imaging pipeline: one image file and the renditions asked for in, the encoded
bytes of each out. It knows nothing of processes or folders.

`render()` decodes a file once for all its renditions (a JPEG at the smallest DCT scale
that covers the largest), resamples each from the smallest frame already made that
still covers it (or smart-crops it), turns it upright, sharpens and watermarks it if
asked, and encodes it. The work is shared between two libraries, each where it
measured faster (see DESIGN.md, "The engine"):

  engine/decode     Pillow: open safely, draft, decode (engine/heif: HEIC; engine/raw: LibRaw;
                    engine/jpegscan: a JPEG of too many scans refused before libjpeg runs)
  engine/metadata   Pillow: EXIF, ICC, XMP, IPTC-IIM read, and what each output keeps
                    (engine/location: what strip-gps removes; engine/iptc: IIM)
  engine/colour     modes, CMYK through its profile, 16-bit, alpha flattening (Pillow);
                    each rendition's colour profile (libvips: LittleCMS)
  engine/geometry   pure: sizes, crops, the stored orientation's frame
  engine/resample   libvips: resample and crop (lanczos3), threads per render
  engine/smartcrop  libvips: `crop: attention | entropy` for fill, on the upright frame
  engine/orient     Pillow: turn upright, after resampling
  engine/sharpen    Pillow: the unsharp mask, scaled by the downscale
  engine/watermark  Pillow: the mark, composited onto its box
  engine/rights     set_metadata and copyright-only: EXIF and XMP (engine/xmp)
  engine/encode     Pillow: JPEG, PNG, WebP, AVIF at measured settings; max_bytes

Format `same`: JPEG, PNG, WebP and AVIF sources keep their format; HEIC and camera RAW
sources are written as JPEG (photos, and what every viewer shows); any other source
(TIFF, GIF, BMP) is written as PNG, since those are not output formats.

Errors: a file that cannot be read, decoded or encoded raises `InputError`; a watermark
image or colour profile of the recipe that cannot be used raises a `RecipeError` (the
same for every file). Errors that are not about the input (MemoryError, an OSError with
an errno such as ENOENT, EIO or ENOSPC, a bug) propagate unchanged.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from PIL import Image

from hotfolder.config.model import Rendition, SetMetadata
from hotfolder.engine import colour, memory, resample, rights, sharpen, smartcrop
from hotfolder.engine.colour import convert_for
from hotfolder.engine.decode import PIL_FORMATS, configure, decode, draft
from hotfolder.engine.encode import ENCODER_OPTIONS, encode
from hotfolder.engine.errors import InputError, RecipeError, WatermarkError
from hotfolder.engine.geometry import Plan, as_stored, plan, plans_for
from hotfolder.engine.metadata import GPS_IFD_TAG, Metadata
from hotfolder.engine.orient import ORIENTATION_TAG, TRANSPOSE_FOR, upright
from hotfolder.engine.watermark import apply_watermark

__all__ = [
    "render", "Output", "InputError", "RecipeError", "WatermarkError", "configure", "warm_up", "plan", "Plan",
    "output_format", "output_ext", "ENCODER_OPTIONS", "PIL_FORMATS", "OUTPUT_EXT",
    "ORIENTATION_TAG", "GPS_IFD_TAG", "TRANSPOSE_FOR", "Metadata",
]

OUTPUT_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# Source suffixes that format `same` may keep as they are.
SOURCE_SUFFIXES = {
    "jpeg": {"jpg", "jpeg", "jpe", "jfif"}, "png": {"png"}, "webp": {"webp"}, "avif": {"avif"},
}
# What format `same` writes for sources that are not output formats (else PNG).
SAME_AS = {"heic": "jpeg", "raw": "jpeg"}
_draft = draft  # the tests check the DCT scale chosen


@dataclasses.dataclass(frozen=True)
class Output:
    rendition: Rendition
    data: bytes
    ext: str
    width: int
    height: int
    notes: tuple[str, ...] = ()  # what the user should hear of (a source XMP that could not be edited)


def warm_up() -> None:
    """Ready a worker process before its first file: codecs and libvips loaded, freed
    pixel memory kept for the next file (engine/memory). Not for the forkserver."""
    Image.init()
    memory.keep_freed_memory()
    resample.warm_up()


# --- formats ------------------------------------------------------------------

def output_format(rendition: Rendition, source_format: str) -> str:
    """The config name of the format written: `same` maps non-web sources to PNG."""
    if rendition.format != "same":
        return rendition.format
    return source_format if source_format in OUTPUT_EXT else SAME_AS.get(source_format, "png")


def output_ext(rendition: Rendition, source_format: str, src_name: str) -> str:
    fmt = output_format(rendition, source_format)
    suffix = Path(src_name).suffix.lower().lstrip(".")
    if rendition.format == "same" and suffix in SOURCE_SUFFIXES.get(fmt, ()):
        return suffix
    return OUTPUT_EXT[fmt]


# --- render -------------------------------------------------------------------

def render(
    src: Path,
    renditions: Sequence[Rendition],
    *,
    accepted_formats: Sequence[str],
    max_image_pixels: int,
    animation: str = "first-frame",
    raw: str = "auto",
    threads: int = 1,
    folder: str = "",
) -> list[Output]:
    """Decode `src` once and return one Output per rendition, in the order given.

    `raw`: the folder's `raw:` mode for camera RAWs (engine/raw).
    `threads`: libvips (and libheif) threads for this file; 1 when other files are being
    rendered at the same time (one worker per core already uses every core). `folder`:
    the folder's name, for set_metadata's `{folder}`."""
    src = Path(src)
    if Image.MAX_IMAGE_PIXELS != max_image_pixels:
        configure(max_image_pixels)
    decoded = decode(src, renditions, accepted_formats=accepted_formats, max_image_pixels=max_image_pixels,
                     animation=animation, raw_mode=raw, threads=threads)
    meta = decoded.meta
    frames, profiles = _frames(decoded, renditions, threads)
    outputs: dict[int, Output] = {}
    for p in sorted(plans_for(renditions, decoded.size, meta.orientation),
                    key=lambda p: p.frame[0] * p.frame[1], reverse=True):
        turn = meta.orientation if p.rendition.orient else 1
        key = _frames_key(decoded, p.rendition)
        if p.rendition.operation == "fill" and p.rendition.crop != "center":
            image, shared = smartcrop.smart_fill(frames[key], p, turn), False
        else:
            image, shared = frames[key].resample(as_stored(p, turn))
            if turn != 1:
                image, shared = upright(image, turn), False
        if key is None:  # 8-bit: converted here, on the (smaller) output
            converted, icc = colour.to_target(image, meta.icc, p.rendition.color_profile)
            image, shared = converted, shared and converted is image
        else:  # converted at decode, from 16 bits
            icc = profiles[key]
        out_meta = meta.with_icc(icc)
        credits = rights.credits_for(p.rendition.set_metadata, meta.exif, folder)
        outputs[id(p.rendition)] = finish(image, p.rendition, out_meta, src.name, shared=shared,
                                          downscale=sharpen.downscale_factor(decoded.size, p.frame),
                                          credits=credits)
    return [outputs[id(r)] for r in renditions]


def _frames_key(decoded, rendition: Rendition) -> str | None:
    """A 16-bit source has one frame per target profile (made from its 16 bits); an 8-bit one, one frame."""
    return rendition.color_profile if decoded.deep is not None else None


def _frames(decoded, renditions: Sequence[Rendition], threads: int):
    """The frames renditions are resampled from, by `_frames_key`, and the profile each carries."""
    if decoded.deep is None:
        return {None: resample.Frames(decoded.frame, threads)}, {None: decoded.meta.icc}
    frames, profiles = {}, {}
    for target in dict.fromkeys(r.color_profile for r in renditions):
        base, profiles[target] = colour.deep_to_target(decoded.deep, decoded.meta.icc, target)
        frames[target] = resample.Frames(base, threads)
    return frames, profiles


def finish(image: Image.Image, rendition: Rendition, meta: Metadata, src_name: str, *, shared: bool,
           downscale: float = 1.0, credits: SetMetadata | None = None) -> Output:
    """Convert for the output format, sharpen, watermark, encode."""
    fmt = output_format(rendition, meta.format)
    converted = convert_for(image, fmt, rendition.background)
    if rendition.sharpen is not None:
        converted, shared = sharpen.sharpen(converted, rendition.sharpen, downscale), False
    if rendition.watermark is not None:
        if converted is image and shared:
            converted = converted.copy()  # never draw on a frame other renditions reuse
        converted = apply_watermark(converted, rendition.watermark)
    notes: list[str] = []
    data = encode(converted, fmt, rendition, meta, credits, notes)
    ext = output_ext(rendition, meta.format, src_name)
    return Output(rendition=rendition, data=data, ext=ext, width=converted.width, height=converted.height,
                  notes=tuple(notes))
