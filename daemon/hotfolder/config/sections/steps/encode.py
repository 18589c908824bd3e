"""The output file (engine/encode.py): format, quality, quality_target, max_bytes,
progressive, compression, background. What a format can do (a quality, progressive, a colour profile)
is its entry's in engine/formats, read through config/choices: a new format needs no edit
here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hotfolder.config.choices import (
    COMPRESSION_FORMATS,
    COMPRESSIONS,
    FORMATS,
    PROFILE_FORMATS,
    PROGRESSIVE_FORMATS,
    QUALITY_FORMATS,
)
from hotfolder.config.keys import Key, Step
from hotfolder.config.model import AUTO_QUALITY, Rendition
from hotfolder.config.reader import Reader, kind, recorded
from hotfolder.config.values import Bool, ByteSize, Choice, Colour, Float, Kind, check_range, number_in, suggestion
from hotfolder.engine import formats

# A format by another of its names, taken as it: an extension (`jpg`, `.tif`), its MIME type,
# JPEG XL's spelled out. In any case (values.chosen): the admin copying `format: JPEG` from a
# wiki means JPEG without a doubt.
FORMAT_NAMES = {
    **{form: f.name for f in formats.TABLE for ext in f.extensions for form in (ext, f".{ext}")},
    **{f.mime: f.name for f in formats.TABLE},
    "jpeg-xl": "jxl", "jpegxl": "jxl",
}
# What may be meant by a word that is no format: said back as "did you mean", never taken.
FORMAT_ALIASES = {"original": "same", "keep": "same"}


def format_unlike(name: str) -> str:
    """Why a known format is not a choice where it was written (`format: heic`, `accepted_formats: [jxl]`)."""
    fmt = formats.BY_NAME[name]
    if fmt.encoder is None:
        return f"; {name} is a format hotfolder reads but does not write"
    return f"; {name} is a format hotfolder writes but does not read" if fmt.decoder is None else ""


DEFAULT_TARGET = Rendition.__dataclass_fields__["quality_target"].default


def _names(formats: tuple[str, ...]) -> str:
    """`jpeg, webp, avif or jxl`"""
    return ", ".join(formats[:-1]) + f" or {formats[-1]}" if len(formats) > 1 else formats[0]


@dataclass(frozen=True)
class Quality(Kind):
    """A whole number 1-100, or `auto`."""

    def read(self, r: Reader, name: str, default: Any) -> int | str:
        value = r.raw(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() == AUTO_QUALITY:
            return AUTO_QUALITY
        if isinstance(value, str) and (percent := re.fullmatch(r"\s*(\d{1,3})\s*%\s*", value)):
            value = int(percent[1])  # `85%`: a quality is a percentage, as editors show it
        value = number_in(value)  # `"85"`, `85.0`
        if isinstance(value, bool) or not isinstance(value, int):
            said = f"must be a whole number from 1 to 100, or auto, not {kind(value)}"
            r.fail(name, said + (f" (did you mean {meant}?)" if (meant := _meant(value)) else ""))
        check_range(r, name, value, 1, 100)
        return value


def _meant(value: object) -> str | None:
    """What a quality written otherwise was meant as: `'auto'` for a typo of it, 85 for 0.85."""
    if isinstance(value, float) and 0 < value < 1:  # 0.85: a quality of 0–1, as canvas.toDataURL takes it
        return f"{round(value * 100)}"
    if isinstance(value, float) and 1 <= value <= 100:  # 85.5: a whole number only
        return f"{int(value)} or {int(value) + 1}" if value < 100 else None
    if not isinstance(value, str):
        return None
    return repr(AUTO_QUALITY) if suggestion(value, [AUTO_QUALITY]) else None


KEYS = (
    Key("format", Choice(FORMATS, aliases=FORMAT_ALIASES, taken=FORMAT_NAMES, unlike=format_unlike,
                        one="a rendition writes one format; for several (WebP and AVIF beside a JPEG), write a "
                            "rendition for each, the same but for `format` and `name`"), "same",
        "`jpeg`, `png`, `webp`, `avif`, `tiff` (lossless: see `compression`), `jxl` (JPEG XL), or `same` (HEIC and "
        "RAW sources become JPEG; TIFF, GIF and BMP sources become PNG, as they did before TIFF was written: ask "
        "`format: tiff` for a TIFF). Every output has 8 bits a channel, a 16-bit source's too (converted from its "
        "16 bits: see Colour): its full depth is the original's, kept in `archive/`. "
        "One a rendition: WebP and AVIF beside a JPEG fallback are three renditions, "
        "the same but for `format` and `name` (the manifest lists them by `name`). In any case, or by an "
        "extension or MIME type: `JPEG`, `jpg`, `.JPG`, `image/jpeg` are `jpeg`, `tif` is `tiff`"),
    Key("quality", Quality(), 85,
        "1–100 (`85%` too), for JPEG, WebP, AVIF and JPEG XL; or `auto`: per photo, the lowest quality whose "
        "SSIMULACRA2 score reaches `quality_target`: the same look for every photo, at ~2× the encode time. "
        "Fewer bytes than q85 where q85 looks better than the target (AVIF 0.6×, JPEG XL 0.8×); JPEG (jpegli) and WebP "
        "at q85 score about 80 and 77 already, so `auto` makes them about as large, or larger for detailed "
        "photos (see \"Quality: auto\")"),
    Key("quality_target", Float(lo=50, hi=95, percent=True), DEFAULT_TARGET,
        "with `quality: auto`: the SSIMULACRA2 score to reach, 50–95 (`80%` too), on its authors' scale: 90 visually "
        "lossless, 85 excellent, 80 very high (the default: no difference seen side by side at 1:1), 70 high "
        "(artefacts seen up close, not annoying), 50 medium (see \"Quality: auto\")"),
    Key("max_bytes", ByteSize(), None,
        "the output never exceeds this size: `500KB`, `1.5MB`, `512KiB`, `500 kilobytes`, or a number of "
        "bytes (KB = 1000 bytes, KiB = 1024). "
        "The quality is the highest, at most `quality` (or the one `quality: auto` found), whose "
        "file fits (a bisection: one encode when the file fits at `quality`, at most 7 more for 85); if even "
        "quality 30 is larger, the file goes to `failed/` naming the rendition, the limit and the smallest size "
        f"reached. Needs `format` {_names(QUALITY_FORMATS)}. JPEG written by libjpeg-turbo: the search uses "
        "optimised Huffman tables (1–11 % smaller at the same quality, the more the lower it is); a file that "
        "fits at `quality` is written exactly as without `max_bytes`"),
    Key("progressive", Bool(), False,
        "progressive JPEG (loads blurry-then-sharp; usually a few per cent smaller, slower to encode; written by "
        "libjpeg-turbo, not jpegli)"),
    Key("compression", Choice(COMPRESSIONS), COMPRESSIONS[0],
        "TIFF only, lossless all three: `deflate` (zlib, with the horizontal predictor: read by Photoshop, "
        "Lightroom, Capture One, libtiff, every RIP of this century), `lzw` (the same predictor: for older RIPs and "
        "prepress tools that read no deflate; 9–13 % larger, 0.6–0.7× the time), or `none` (uncompressed, "
        "3 bytes a pixel, 4 with alpha; the fastest). Measured at 1600 and 4000 px: see \"TIFF outputs\""),
    Key("background", Colour(), (255, 255, 255), "what transparency is flattened onto for JPEG, and the colour "
                                                 "`operation: pad` fills the rest of the box with (and puts a "
                                                 "transparent picture on, in every format)"),
)


def check(r: Reader, values: dict[str, Any]) -> None:
    """Keys that only apply to some formats (not said against a format that was not written)."""
    if r.ok("quality", "quality_target") and values["quality"] != AUTO_QUALITY and r.has("quality_target"):
        with recorded():
            r.fail("quality_target", f"only applies with quality: auto (quality is {values['quality']}): remove it, "
                                    "or set quality: auto")
    if not r.ok("format"):
        return
    fmt = values["format"]
    with recorded():
        if values["quality"] == AUTO_QUALITY and fmt not in (*QUALITY_FORMATS, "same"):
            r.fail("quality", f"auto needs format {_names(QUALITY_FORMATS)}: {fmt.upper()} has no quality to search")
    with recorded():
        if values["max_bytes"] is not None and fmt not in QUALITY_FORMATS:
            why = (f"{fmt.upper()} has no quality to lower" if fmt != "same" else
                   "format same writes PNG for PNG, TIFF, GIF and BMP sources, and PNG has no quality to lower")
            r.fail("max_bytes", f"needs format {_names(QUALITY_FORMATS)}: {why}")
    if r.has("quality") and values["quality"] != AUTO_QUALITY and fmt not in (*QUALITY_FORMATS, "same"):
        r.warn("quality", f"has no effect: {fmt.upper()} is lossless and has no quality; remove it, or choose a "
                          "format that has one")
    with recorded():
        if values["progressive"] and fmt not in (*PROGRESSIVE_FORMATS, "same"):
            r.fail("progressive", f"only applies to {_names(PROGRESSIVE_FORMATS).upper()} outputs, not format {fmt}: "
                                  "remove it, or use format: jpeg")
    with recorded():
        if r.has("compression") and r.ok("compression") and fmt not in COMPRESSION_FORMATS:
            why = (" (format same writes PNG for a TIFF source)" if fmt == "same" else "")
            r.fail("compression", f"only applies to {_names(COMPRESSION_FORMATS).upper()} outputs, not format "
                                  f"{fmt}{why}: remove it, or use format: {COMPRESSION_FORMATS[0]}")
    with recorded():
        profile = values.get("color_profile", "srgb")
        if r.ok("color_profile") and profile != "srgb" and fmt not in (*PROFILE_FORMATS, "same"):
            r.fail("color_profile", f"format {fmt} cannot carry a colour profile (its encoder writes sRGB only): "
                                    "use srgb, or a format that does")


STEP = Step("encode", KEYS, check)
