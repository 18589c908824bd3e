"""The output file (engine/encode.py): format, quality, max_bytes, progressive, background."""
from __future__ import annotations

from typing import Any

from hotfolder.config.keys import Key, Step
from hotfolder.config.model import FORMATS
from hotfolder.config.reader import Reader, recorded
from hotfolder.config.values import Bool, ByteSize, Choice, Colour, Int

# What people write for a format: said back as "did you mean", never taken silently.
FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heif": "heic", "hif": "heic", "original": "same",
                  "keep": "same"}

KEYS = (
    Key("format", Choice(FORMATS, aliases=FORMAT_ALIASES), "same",
        "`jpeg`, `png`, `webp`, `avif`, or `same` (HEIC and RAW sources become JPEG; TIFF, GIF and BMP sources "
        "become PNG)"),
    Key("quality", Int(lo=1, hi=100), 85, "1–100, for JPEG, WebP and AVIF"),
    Key("max_bytes", ByteSize(), None,
        "the output never exceeds this size: `500KB`, `1.5MB`, `512KiB`, or a number of bytes (KB = 1000 bytes, "
        "KiB = 1024). The quality is the highest, at most `quality`, whose file fits (a bisection: one encode "
        "when the file fits at `quality`, at most 7 more for 85); if even quality 30 is larger, the file goes "
        "to `failed/` naming the rendition, the limit and the smallest size reached. Needs `format` jpeg, webp "
        "or avif. JPEG: the search uses optimised Huffman tables (1–11 % smaller at the same quality, the more "
        "the lower it is); a file that fits at `quality` is written exactly as without `max_bytes`"),
    Key("progressive", Bool(), False,
        "progressive JPEG (loads blurry-then-sharp; usually a few per cent smaller, slower to encode)"),
    Key("background", Colour(), (255, 255, 255), "what transparency is flattened onto for JPEG, and the colour "
                                                 "`operation: pad` fills the rest of the box with"),
)


def check(r: Reader, values: dict[str, Any]) -> None:
    """Keys that only apply to some formats (not said against a format that was not written)."""
    if not r.ok("format"):
        return
    fmt = values["format"]
    with recorded():
        if values["max_bytes"] is not None and fmt not in ("jpeg", "webp", "avif"):
            why = ("PNG has no quality to lower" if fmt == "png" else
                   "format same writes PNG for PNG, TIFF, GIF and BMP sources, and PNG has no quality to lower")
            r.fail("max_bytes", f"needs format jpeg, webp or avif: {why}")
    with recorded():
        if values["progressive"] and fmt not in ("jpeg", "same"):
            r.fail("progressive", f"only applies to JPEG outputs, not format {fmt}")


STEP = Step("encode", KEYS, check)
