"""Pillow only: open an image safely, orient it, resize it, watermark it, encode it.

The pipeline knows nothing of processes or folders: `render()` takes one image file
and the renditions asked for, and returns the encoded bytes of each.

Speed: a file is decoded once for all its renditions. A JPEG is decoded at the
smallest DCT scale (1/8, 1/4, 1/2, 1) that still covers the largest rendition, and
each rendition is resampled (LANCZOS) from the smallest already-resized frame that is
still at least as large as it needs.

Metadata policy (`Rendition.metadata`):
  keep       EXIF (Orientation removed once the pixels are upright) + ICC + XMP.
  strip-gps  the same without the GPS IFD; an XMP packet that carries GPS fields
             is dropped whole (editing XMP is out of scope).
  strip-all  no EXIF, no XMP, no comment. The ICC profile is kept: dropping it
             changes the colours, which no user wants.
A JPEG comment is never copied. A CMYK image is converted to sRGB (through its ICC
profile when it has one) and then carries the sRGB profile.

Format `same`: JPEG, PNG, WebP and AVIF sources keep their format; any other source
(TIFF, GIF, BMP) is written as PNG, since those are not output formats.

Errors: a file that cannot be read, decoded or encoded raises `InputError`. Errors that
are not about the input (MemoryError, an OSError with an errno such as ENOENT, EIO or
ENOSPC, a broken watermark file, a bug) propagate unchanged.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import math
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageCms, ImageDraw, ImageFont, PngImagePlugin

from .config import Rendition, Watermark
from .errors import HotfolderError

PIL_FORMATS = {
    "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF",
    "gif": "GIF", "bmp": "BMP", "avif": "AVIF",
}
OUTPUT_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# Source suffixes that format `same` may keep as they are.
SOURCE_SUFFIXES = {
    "jpeg": {"jpg", "jpeg", "jpe", "jfif"}, "png": {"png"}, "webp": {"webp"}, "avif": {"avif"},
}
# Pillow opens a camera JPEG with a multi-picture (MPF) index as MPO: still a JPEG.
JPEG_FORMATS = {"JPEG", "MPO"}
# Formats whose multi-frame files are animations (a multi-page TIFF is not).
ANIMATED_FORMATS = {"GIF", "WEBP", "PNG", "AVIF"}

ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825
TRANSPOSE_FOR = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# TIFF tags that describe the pixel layout of a TIFF source, not the photo: never copied.
TIFF_STRUCTURE_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320,
    322, 323, 324, 325, 338, 339, 340, 341, 530, 531, 532, 700, 33723, 34377, 34675,
}

# Encoder settings chosen by measurement (bench/pipeline_speed.py): fast, no visible loss.
ENCODER_OPTIONS = {
    "jpeg": {"optimize": False, "progressive": False},
    "webp": {"method": 2},
    "avif": {"speed": 9, "max_threads": 1},  # speed 8 is 4x slower for 9% less; one worker per core uses every core
    "png": {"compress_level": 3},
}
# Resample from at most this many times the target size; beyond that, reduce() first.
REDUCING_GAP = 3.0

# What Pillow raises on a bad file. OSError is filtered further by `_is_about_input`.
DECODE_ERRORS = (
    OSError, ValueError, SyntaxError, struct.error, EOFError, ZeroDivisionError,
    IndexError, KeyError, TypeError, zlib.error,
    Image.DecompressionBombError, Image.DecompressionBombWarning,
)

# What an encoder raises on an image it cannot write (a TypeError would be our bug).
ENCODE_ERRORS = (OSError, ValueError)

STEP_WORDS = {
    "open": "opened", "decode": "decoded", "orient": "oriented", "resize": "resized",
    "watermark": "watermarked", "encode": "encoded",
}


class InputError(HotfolderError):
    """The input file is bad: it goes to failed/ with this reason."""

    def __init__(self, step: str, reason: str):
        self.step, self.reason = step, reason
        super().__init__(f"The image could not be {STEP_WORDS.get(step, step)}: {reason}")

    def __reduce__(self):  # crosses process boundaries intact
        return (type(self), (self.step, self.reason))


class WatermarkError(HotfolderError):
    """The configured watermark image cannot be used: a config problem, not the input's."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"watermark image {path} cannot be used: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


@dataclasses.dataclass(frozen=True)
class Output:
    rendition: Rendition
    data: bytes
    ext: str
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one rendition is cut from the (oriented) frame of `size`."""

    rendition: Rendition
    frame: tuple[float, float]  # the whole frame resampled to this size covers the output
    crop: tuple[float, float, float, float] | None  # region of the frame, in fractions
    size: tuple[int, int]  # the output size


@dataclasses.dataclass(frozen=True)
class Metadata:
    format: str  # config name of the source format: jpeg, png, ...
    orientation: int
    exif: bytes  # raw EXIF ("Exif\0\0" + TIFF), b"" if none
    icc: bytes | None
    xmp: bytes | None


def configure(max_image_pixels: int) -> None:
    """Set Pillow's decompression-bomb limit; call once per process."""
    Image.MAX_IMAGE_PIXELS = max_image_pixels


# --- naming -------------------------------------------------------------------

def output_name(rendition: Rendition, src_name: str, ext: str, folder: str = "") -> str:
    """The output file name: the rendition's template filled in."""
    return rendition.filename.format(
        stem=Path(src_name).stem, name=src_name, ext=ext, rendition=rendition.name, folder=folder,
    )


def output_format(rendition: Rendition, source_format: str) -> str:
    """The config name of the format written: `same` maps non-web sources to PNG."""
    if rendition.format != "same":
        return rendition.format
    return source_format if source_format in OUTPUT_EXT else "png"


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
) -> list[Output]:
    """Decode `src` once and return one Output per rendition, in the order given."""
    src = Path(src)
    if Image.MAX_IMAGE_PIXELS != max_image_pixels:
        configure(max_image_pixels)
    with open_image(src, accepted_formats, max_image_pixels, animation) as im:
        stored = im.size
        if im.format in JPEG_FORMATS:  # its EXIF precedes the pixels: orientation is known before decoding
            _draft(im, renditions)
        _load(im)
        meta = read_metadata(im)
        base, icc = normalise_mode(im, meta.icc)
    plans = plans_for(renditions, stored, meta.orientation)
    meta = dataclasses.replace(meta, icc=icc)
    frames = _Frames(base, meta.orientation)
    outputs: dict[int, Output] = {}
    for p in sorted(plans, key=lambda p: p.frame[0] * p.frame[1], reverse=True):
        image = frames.resample(p)
        outputs[id(p.rendition)] = finish(image, p.rendition, meta, src.name, shared=frames.holds(image))
    return [outputs[id(r)] for r in renditions]


def finish(image: Image.Image, rendition: Rendition, meta: Metadata, src_name: str, *, shared: bool) -> Output:
    """Convert for the output format, watermark, encode."""
    fmt = output_format(rendition, meta.format)
    converted = convert_for(image, fmt, rendition.background)
    if rendition.watermark is not None:
        if converted is image and shared:
            converted = converted.copy()  # never draw on a frame other renditions reuse
        converted = apply_watermark(converted, rendition.watermark)
    data = encode(converted, fmt, rendition, meta)
    ext = output_ext(rendition, meta.format, src_name)
    return Output(rendition=rendition, data=data, ext=ext, width=converted.width, height=converted.height)


# --- open and decode ------------------------------------------------------------

def open_image(src: Path, accepted_formats: Sequence[str], max_image_pixels: int, animation: str) -> Image.Image:
    """Open the header only, refusing formats not accepted, bombs and (if asked) animations."""
    formats = [PIL_FORMATS[f] for f in accepted_formats]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(src, formats=formats)
    except Image.UnidentifiedImageError:
        raise InputError("open", _unaccepted_reason(src, accepted_formats)) from None
    except DECODE_ERRORS as exc:
        _reraise_unless_input(exc)
        raise InputError("open", _describe(exc)) from None
    try:
        _check_pixels(im, max_image_pixels)
        _check_animation(im, animation)
    except BaseException:
        im.close()
        raise
    return im


def _unaccepted_reason(src: Path, accepted_formats: Sequence[str]) -> str:
    """Say which format the file is if it is one we know but this config refuses."""
    accepted = ", ".join(accepted_formats)
    others = [PIL_FORMATS[f] for f in PIL_FORMATS if f not in accepted_formats]
    if others:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(src, formats=others) as probe:
                    return f"format {probe.format.lower()} is not accepted (accepted: {accepted})"
        except DECODE_ERRORS as exc:
            _reraise_unless_input(exc)
    if src.stat().st_size == 0:
        return "the file is empty"
    return f"not an image in an accepted format (accepted: {accepted})"


def _check_pixels(im: Image.Image, max_image_pixels: int) -> None:
    width, height = im.size
    if width * height > max_image_pixels:
        raise InputError(
            "open",
            f"{width}x{height} is {width * height:,} pixels, more than max_image_pixels ({max_image_pixels:,})",
        )


def _check_animation(im: Image.Image, animation: str) -> None:
    if animation != "fail" or im.format not in ANIMATED_FORMATS:
        return
    try:
        animated = getattr(im, "is_animated", False)
    except DECODE_ERRORS as exc:
        _reraise_unless_input(exc)
        raise InputError("open", _describe(exc)) from None
    if animated:
        raise InputError("open", "the image is animated, and this folder is set to `animation: fail`")


def _load(im: Image.Image) -> None:
    """Decode the pixels; a truncated or corrupt file fails here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except DECODE_ERRORS as exc:
        _reraise_unless_input(exc)
        raise InputError("decode", _describe(exc)) from None


def _reraise_unless_input(exc: BaseException) -> None:
    """An OSError with an errno (ENOENT, EIO, ENOSPC, ...) is about the system, not the file."""
    if isinstance(exc, OSError) and exc.errno is not None:
        raise exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too many pixels: {text}"
    return text or type(exc).__name__


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
    except DECODE_ERRORS as exc:
        _reraise_unless_input(exc)
        raise InputError("orient", f"the EXIF data is corrupt: {_describe(exc)}") from None
    return value if value in TRANSPOSE_FOR else 1


def _oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation >= 5 else size


def plans_for(renditions: Sequence[Rendition], stored: tuple[int, int], orientation: int) -> list[Plan]:
    return [plan(r, _oriented_size(stored, orientation if r.orient else 1)) for r in renditions]


def _stored_need(p: Plan, orientation: int) -> tuple[float, float]:
    """The frame size `p` needs, measured as the file stores the pixels (maybe sideways)."""
    w, h = p.frame
    return (h, w) if p.rendition.orient and orientation >= 5 else (w, h)


def _draft(im: Image.Image, renditions: Sequence[Rendition]) -> None:
    """Ask libjpeg for the smallest DCT scale (1/8..1) still covering every rendition."""
    orientation = _orientation(im)
    needs = [_stored_need(p, orientation) for p in plans_for(renditions, im.size, orientation)]
    if not needs:
        return
    need_w = max(math.ceil(w) for w, _ in needs)
    need_h = max(math.ceil(h) for _, h in needs)
    if need_w * 2 <= im.width and need_h * 2 <= im.height:
        im.draft(im.mode, (need_w, need_h))


def read_metadata(im: Image.Image) -> Metadata:
    """EXIF, ICC and XMP of the decoded image (after load: PNG may keep eXIf after the pixels)."""
    icc = im.info.get("icc_profile") or None
    xmp = im.info.get("xmp") or None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    try:
        exif = im.getexif()
        if im.format == "TIFF":
            for tag in TIFF_STRUCTURE_TAGS & set(exif):
                del exif[tag]
        orientation = exif.get(ORIENTATION_TAG, 1)
        raw = exif.tobytes() if len(exif) else b""
    except DECODE_ERRORS as exc:
        _reraise_unless_input(exc)
        raise InputError("orient", f"the EXIF data is corrupt: {_describe(exc)}") from None
    return Metadata(
        format=_config_format(im.format),
        orientation=orientation if orientation in TRANSPOSE_FOR else 1,
        exif=raw, icc=icc, xmp=xmp,
    )


def _config_format(pil_format: str | None) -> str:
    if pil_format in JPEG_FORMATS:
        return "jpeg"
    for name, pil in PIL_FORMATS.items():
        if pil == pil_format:
            return name
    return "png"


# --- modes ------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def normalise_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Bring any decoded mode to L, LA, RGB or RGBA (what resize and the encoders handle well).

    Returns the image and the ICC profile that now describes it.
    """
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert(mode + "A"), icc  # tRNS: a colour that means transparent
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im, icc
    if mode in ("P", "PA"):
        return im.convert("RGBA" if im.has_transparency_data else "RGB"), icc
    if mode == "1":
        return im.convert("L"), icc
    if mode.startswith("I") or mode == "F":
        return _to_8bit(im), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    has_alpha = "A" in im.getbands() or "a" in im.getbands()
    return im.convert("RGBA" if has_alpha else "RGB"), None  # other colour spaces: the profile no longer fits


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to L, scaled (a plain convert() clips everything above 255 to white)."""
    if im.mode.startswith("I;16") and im.mode != "I;16":
        im = im.convert("I")
    if im.mode == "I;16":
        top = 65535
    else:
        low, high = im.getextrema()
        top = 1.0 if im.mode == "F" and high <= 1.0 else (255 if high <= 255 else 65535 if high <= 65535 else high)
    if top != 255:
        im = im.point(lambda v: v * (255 / top))
    return im.convert("L")


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(im, source, _srgb(), outputMode="RGB")
            return rgb, _srgb().tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain formula
    return im.convert("RGB"), None


def convert_for(im: Image.Image, fmt: str, background: tuple[int, int, int]) -> Image.Image:
    """The mode the encoder of `fmt` needs; alpha is flattened onto `background` for JPEG."""
    if fmt == "jpeg" and im.mode in ("LA", "RGBA"):
        flat = Image.new("RGB", im.size, background)
        flat.paste(im, (0, 0), im)
        return flat
    if fmt in ("webp", "avif") and im.mode in ("L", "LA"):
        return im.convert("RGB" if im.mode == "L" else "RGBA")
    return im


# --- geometry ---------------------------------------------------------------------

def plan(rendition: Rendition, size: tuple[int, int]) -> Plan:
    """Output size and crop of `rendition` for an (upright) frame of `size`."""
    w, h = size
    op = rendition.operation
    if op == "fill":
        return _plan_fill(rendition, w, h)
    if op == "fit":
        scales = [b / s for b, s in ((rendition.width, w), (rendition.height, h)) if b]
        scale = min(scales)
        if not rendition.upscale:
            scale = min(scale, 1.0)
    elif op == "scale":
        scale = rendition.scale  # explicit: `upscale` only guards fit and fill
    else:
        scale = 1.0
    out = (max(1, round(w * scale)), max(1, round(h * scale)))
    if op == "fit":  # the limiting side lands exactly on the box
        out = (min(out[0], rendition.width or out[0]), min(out[1], rendition.height or out[1]))
    return Plan(rendition, (w * scale, h * scale), None, out)


def _plan_fill(rendition: Rendition, w: int, h: int) -> Plan:
    box_w, box_h = rendition.width, rendition.height
    if w * box_h > h * box_w:  # wider than the box: crop the sides
        crop_w, crop_h = h * box_w / box_h, float(h)
    else:
        crop_w, crop_h = float(w), w * box_h / box_w
    scale = box_w / crop_w
    if scale > 1 and not rendition.upscale:
        # Too small to fill the box: the largest centred crop of the box's shape, not enlarged.
        scale = 1.0
        out = (max(1, round(crop_w)), max(1, round(crop_h)))
    else:
        out = (box_w, box_h)
    fx, fy = crop_w / w, crop_h / h
    crop = ((1 - fx) / 2, (1 - fy) / 2, (1 + fx) / 2, (1 + fy) / 2)
    return Plan(rendition, (w * scale, h * scale), crop, out)


class _Frames:
    """The decoded frame, upright or as stored, and every full-frame resize made from it.

    A smaller rendition is resampled from the smallest frame still at least its size.
    """

    def __init__(self, base: Image.Image, orientation: int):
        self.base, self.orientation = base, orientation
        self.ladders: dict[bool, list[Image.Image]] = {False: [base]}
        if orientation == 1:
            self.ladders[True] = self.ladders[False]

    def holds(self, image: Image.Image) -> bool:
        return any(image is f for ladder in self.ladders.values() for f in ladder)

    def ladder(self, upright: bool) -> list[Image.Image]:
        if upright not in self.ladders:
            self.ladders[upright] = [self.base.transpose(TRANSPOSE_FOR[self.orientation])]
        return self.ladders[upright]

    def resample(self, p: Plan) -> Image.Image:
        ladder = self.ladder(p.rendition.orient)
        source = self._smallest_covering(ladder, p.frame)
        box = None
        if p.crop is not None:
            x0, y0, x1, y1 = p.crop
            box = (x0 * source.width, y0 * source.height, x1 * source.width, y1 * source.height)
        elif source.size == p.size:
            return source
        image = source.resize(p.size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
        if p.crop is None:
            ladder.append(image)
        return image

    @staticmethod
    def _smallest_covering(ladder: list[Image.Image], frame: tuple[float, float]) -> Image.Image:
        covering = [f for f in ladder if f.width >= frame[0] - 0.5 and f.height >= frame[1] - 0.5]
        if not covering:
            return ladder[0]  # upscaling: start from the decoded frame
        return min(covering, key=lambda f: f.width * f.height)


# --- watermark ----------------------------------------------------------------------

def apply_watermark(im: Image.Image, wm: Watermark) -> Image.Image:
    """Composite the watermark onto `im` (in place unless its mode needs converting) and return it."""
    mark = _watermark_image(wm, max(1, round(im.width * wm.size)))
    x, y = _watermark_position(im.size, mark.size, wm)
    if im.mode in ("RGBA", "LA"):
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        rgba.alpha_composite(mark, (x, y))
        return rgba
    im.paste(mark.convert(im.mode), (x, y), mark)
    return im


def _watermark_position(size: tuple[int, int], mark: tuple[int, int], wm: Watermark) -> tuple[int, int]:
    (w, h), (mw, mh) = size, mark
    margin = round(wm.margin * min(w, h))
    pos = wm.position
    x = margin if pos.endswith("left") else w - mw - margin if pos.endswith("right") else (w - mw) // 2
    y = margin if pos.startswith("top") else h - mh - margin if pos.startswith("bottom") else (h - mh) // 2
    return max(0, x), max(0, y)  # a mark wider than the image starts at the edge


def _watermark_image(wm: Watermark, width: int) -> Image.Image:
    if wm.text is not None:
        return _text_mark(wm.text, width, wm.opacity)
    path = Path(wm.image)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise WatermarkError(path, exc.strerror or str(exc)) from None
    return _image_mark(path, mtime, width, wm.opacity)


@functools.lru_cache(maxsize=64)
def _text_mark(text: str, width: int, opacity: float) -> Image.Image:
    """White text with a dark outline (readable on any photo), `width` pixels wide."""
    probe = ImageFont.load_default(size=100)
    length = max(1.0, probe.getlength(text))
    font = ImageFont.load_default(size=max(4, round(100 * width / length)))
    stroke = max(1, round(font.size / 16))
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    mark = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)), (0, 0, 0, 0))
    ImageDraw.Draw(mark).text(
        (-left, -top), text, font=font, fill=(255, 255, 255, 255),
        stroke_width=stroke, stroke_fill=(0, 0, 0, 255),
    )
    return _fade(mark, opacity)


@functools.lru_cache(maxsize=64)
def _image_mark(path: Path, mtime_ns: int, width: int, opacity: float) -> Image.Image:
    source = _load_mark(path, mtime_ns)
    height = max(1, round(source.height * width / source.width))
    return _fade(source.resize((width, height), Image.Resampling.LANCZOS), opacity)


@functools.lru_cache(maxsize=8)
def _load_mark(path: Path, mtime_ns: int) -> Image.Image:
    """The watermark file, decoded once per process (a new mtime reloads it)."""
    try:
        with Image.open(path) as im:
            return im.convert("RGBA")
    except DECODE_ERRORS as exc:
        raise WatermarkError(path, _describe(exc)) from None


def _fade(mark: Image.Image, opacity: float) -> Image.Image:
    if opacity < 1.0:
        mark.putalpha(mark.getchannel("A").point(lambda a: round(a * opacity)))
    return mark


# --- encode --------------------------------------------------------------------------

def encode(im: Image.Image, fmt: str, rendition: Rendition, meta: Metadata) -> bytes:
    options = dict(ENCODER_OPTIONS[fmt])
    if fmt != "png":
        options["quality"] = rendition.quality
    options.update(_metadata_options(fmt, rendition, meta))
    im.info = {}  # Pillow falls back to info (comment, transparency, ...): only what we pass is written
    buffer = io.BytesIO()
    try:
        im.save(buffer, format=PIL_FORMATS[fmt], **options)
    except ENCODE_ERRORS as exc:  # e.g. WebP refuses sides over 16383 pixels
        _reraise_unless_input(exc)
        raise InputError("encode", f"{fmt} output: {_describe(exc)}") from None
    return buffer.getvalue()


def _metadata_options(fmt: str, rendition: Rendition, meta: Metadata) -> dict:
    options: dict = {"icc_profile": meta.icc}
    if rendition.metadata == "strip-all":
        return options
    exif = output_exif(meta.exif, rendition)
    if exif:
        options["exif"] = exif
    xmp = output_xmp(meta.xmp, rendition, meta.orientation)
    if xmp:
        if fmt == "png":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
            options["pnginfo"] = info
        else:
            options["xmp"] = xmp
    return options


def output_exif(raw: bytes, rendition: Rendition) -> bytes:
    if not raw or rendition.metadata == "strip-all":
        return b""
    exif = Image.Exif()
    exif.load(raw)
    if rendition.orient:
        exif.pop(ORIENTATION_TAG, None)
    if rendition.metadata == "strip-gps":
        exif.pop(GPS_IFD_TAG, None)
    return exif.tobytes() if len(exif) else b""


XMP_ORIENTATION = re.compile(rb'(tiff:Orientation="|<tiff:Orientation>)\d')


def output_xmp(xmp: bytes | None, rendition: Rendition, orientation: int) -> bytes | None:
    if not xmp or rendition.metadata == "strip-all":
        return None
    if rendition.metadata == "strip-gps" and b"exif:GPS" in xmp:
        return None
    if rendition.orient and orientation != 1:
        xmp = XMP_ORIENTATION.sub(rb"\g<1>1", xmp)
    return xmp
