"""Decode a source once, with the decoder its format's entry names (engine/formats,
engine/decoders): a file Pillow does not open (a camera RAW) by its extension, any
other after the safe open (engine/opening) has read its header and accepted it.

libvips never parses an input file (16-bit PNG and TIFF pixels aside, read after
Pillow checked the header): a hostile file meets one decoder, with the messages users
know. One exception: a TIFF of floating-point samples, which Pillow cannot open in
colour, is read by libvips (decoders/floattiff) after Pillow's TIFF directory reader has
read its layout and its size was held to the pixel limit.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hotfolder.config.model import Rendition
from hotfolder.engine import formats
from hotfolder.engine.decoders import Decoded, Wanted, floattiff, heif
from hotfolder.engine.errors import InputError
from hotfolder.engine.opening import open_image

# Every decoder, imported with the engine (a forkserver that preloads it forks workers
# with them loaded, pi-heif's Pillow plugin registered).
DECODERS: dict[str, Callable[..., Decoded]] = {
    f.name: f.decoder.resolve() for f in formats.TABLE if f.decoder is not None
}


def decode(src: Path, renditions: Sequence[Rendition], *, accepted_formats: Sequence[str],
           max_image_pixels: int, animation: str, raw_mode: str = "auto", threads: int = 1,
           data: bytes | None = None, name: str | None = None) -> Decoded:
    """Open `src` safely and decode it once, as small as every rendition allows. `data`: its
    bytes, read once already (engine/fingerprint): Pillow's decoders, TurboJPEG and the FFmpeg
    HEIC path read them, not the path (LibRaw, pi-heif's 16-bit reader and libvips' 16-bit
    PNG/TIFF reader still open the path: a second read, from the page cache). `name`: the
    file's name, where `src` is not named so (fingerprint.Original.reading)."""
    wanted = Wanted(renditions, max_image_pixels, raw_mode, threads, data)
    own = formats.opened_by_own_decoder(name or src.name)
    if own is not None:
        if own.name not in accepted_formats:
            raise InputError("open", formats.not_accepted(own.name, accepted_formats))
        return DECODERS[own.name](src, None, wanted)
    if "tiff" in accepted_formats and (floats := floattiff.layout(src)) is not None:
        return floattiff.decode(src, floats, wanted)  # Pillow has no float RGB mode: libvips reads it
    heif.use_threads(threads)  # read by pi-heif when it opens a file, whatever its format turns out to be
    with open_image(src, accepted_formats, max_image_pixels, animation, data, name) as header:
        fmt = formats.of_pil(header.format)
        if fmt is None:  # not one of the table's: open_image passed only theirs to Pillow
            raise InputError("open", f"format {header.format} is not one hotfolder reads")
        return DECODERS[fmt.name](src, header, wanted)
