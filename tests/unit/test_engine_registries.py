"""The engine's registries: the format table (engine/formats) against what its decoders
and encoders really do, the config's choices taken from it, and the rendition's steps
(engine/steps) light to import and run in their order."""
from __future__ import annotations

import mimetypes
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pyvips
from PIL import Image, TiffImagePlugin

from hotfolder.config import load
from hotfolder.config.choices import DEFAULT_FORMATS, FORMATS, INPUT_FORMATS
from hotfolder.config.model import ConfigError, Rendition
from hotfolder.engine import decode, encode, formats, iptc
from hotfolder.engine.colour import convert_for
from hotfolder.engine.encoders import Embedded, Encoding
from hotfolder.engine.raster import Raster
from hotfolder.engine.resample import Frame
from tests import sources

MAKE = 0x010F
NONE = Rendition(name="r", operation="none")
XMP = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
       b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>round-trip</dc:format>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
IIM = b"\x1c\x02\x78" + struct.pack(">H", 10) + b"round-trip"  # 2:120, the caption


def exif() -> bytes:
    tags = Image.Exif()
    tags[MAKE] = "Round Trip"
    return tags.tobytes()


def picture(size=(64, 48)) -> Image.Image:
    """Colour ramps, and an alpha that goes from opaque to half transparent."""
    x = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :].repeat(size[1], 0)
    y = np.linspace(0, 255, size[1], dtype=np.uint8)[:, None].repeat(size[0], 1)
    alpha = (255 - x // 2).astype(np.uint8)
    return Image.fromarray(np.dstack([x, y, 255 - x, alpha]), "RGBA")


def decoded(path: Path):
    return decode.decode(path, [NONE], accepted_formats=formats.INPUTS, max_image_pixels=10**8,
                         animation="first-frame")


def test_the_config_takes_its_format_choices_from_the_table():
    """In the table's order (the order the config's messages list them)."""
    assert FORMATS == tuple(f.name for f in formats.TABLE if f.encoder is not None) + ("same",)
    assert INPUT_FORMATS == tuple(f.name for f in formats.TABLE if f.decoder is not None)
    assert DEFAULT_FORMATS == tuple(f.name for f in formats.TABLE if f.default)
    assert set(DEFAULT_FORMATS) <= set(INPUT_FORMATS)


def test_every_entry_names_functions_that_exist_and_the_engine_loaded_them():
    for fmt in formats.TABLE:
        assert fmt.decoder is not None or fmt.encoder is not None, fmt.name
        if fmt.decoder is not None:
            assert decode.DECODERS[fmt.name] is fmt.decoder.resolve()
        if fmt.encoder is not None:
            assert encode.ENCODERS[fmt.name] is fmt.encoder.resolve()
        assert fmt.mime == (mimetypes.guess_type(f"x.{fmt.ext}")[0] or fmt.mime), fmt.name  # where Python knows it
        assert formats.written(formats.SAME, fmt.name).encoder is not None  # `same` writes an output format
    with pytest.raises(ModuleNotFoundError):
        formats.Ref("hotfolder.engine.decoders.nothing:decode").resolve()


def config(tmp_path: Path, rendition_format: str, accepted: str) -> Path:
    path = tmp_path / "hotfolder.yaml"
    path.write_text(textwrap.dedent(f"""\
        accepted_formats: {accepted}
        folders:
          - name: shop
            inbox: in
            output: out
            archive: arch
            failed: bad
            renditions:
              - name: web
                size: 800x600
                format: {rendition_format}
        """))
    return path


def test_a_format_not_in_the_table_cannot_be_configured(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(config(tmp_path, "qoi", "[jpeg, qoi]"))
    lines = info.value.lines()
    assert any(":11:" in line and "format: 'qoi' is not one of: " + ", ".join(FORMATS) in line for line in lines), lines
    assert any(":1:" in line and "'qoi' is not one of: " + ", ".join(formats.INPUTS) in line for line in lines), lines
    # An output-only format is not an input format.
    with pytest.raises(ConfigError, match="'jxl' is not one of"):
        load(config(tmp_path, "jpeg", "[jpeg, jxl]"))
    # An input-only format is not an output format either.
    with pytest.raises(ConfigError, match="'gif' is not one of"):
        load(config(tmp_path, "gif", "[jpeg]"))


@pytest.mark.parametrize("name", formats.OUTPUTS)
def test_every_output_format_round_trips_through_its_encoder_and_decoder(tmp_path, name):
    """What the entry says of the format is what its encoder writes and its decoder reads
    back: alpha, EXIF, XMP, ICC, IPTC-IIM; and libvips knows it by the entry's name."""
    fmt = formats.get(name)
    icc = sources.adobe_rgb_icc()
    image = convert_for(picture(), fmt, (255, 255, 255))
    carried = Embedded(exif=exif(), xmp=XMP, icc=icc, iim=iptc.output_segment(iptc.Iim(IIM, False), False, None, []))
    data = encode.ENCODERS[name](Raster.of(image.copy()), Encoding(90 if fmt.quality else None, carried))
    path = tmp_path / f"out.{fmt.ext}"
    path.write_bytes(data)

    if fmt.decoder is not None:
        got = decoded(path)
        assert got.meta.format == name and got.size == image.size
        frame = got.frame.pil() if isinstance(got.frame, Frame) else got.frame  # packed pixels (JPEG) or Pillow's
        meta = got.meta
    else:  # an output-only format: read back by its own library (JPEG XL: imagecodecs, its container's boxes)
        frame, meta = output_only[name](data)
    assert isinstance(frame, Image.Image) and frame.mode == image.mode
    assert ("A" in frame.mode) == fmt.alpha
    difference = np.abs(np.asarray(frame, dtype=int) - np.asarray(image, dtype=int)).mean()
    assert difference < (3 if fmt.quality else 0.01), difference
    assert bool(meta.exif) == fmt.exif
    if fmt.exif:
        tags = Image.Exif()
        tags.load(meta.exif)
        assert tags[MAKE] == "Round Trip"
    assert (meta.xmp is not None and b"round-trip" in meta.xmp) == fmt.xmp
    assert (meta.icc == icc) == fmt.icc
    assert (meta.iim is not None and b"round-trip" in meta.iim.data) == fmt.iptc
    if fmt.vips is not None:
        assert pyvips.Image.new_from_buffer(data, "").get("vips-loader") == f"{fmt.vips}load_buffer"
    else:  # this libvips has no loader for it: the entry must not name one
        with pytest.raises(pyvips.Error):
            pyvips.Image.new_from_buffer(data, "")


def jxl_boxes(data: bytes) -> dict[bytes, bytes]:
    """The boxes of a JPEG XL container (ISO/IEC 18181-2), by type."""
    assert data.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"), data[:16]
    boxes, i = {}, 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        boxes[kind] = data[i + 8:i + size]
        i += size
    return boxes


def read_jxl(data: bytes):
    import imagecodecs

    boxes = jxl_boxes(data)
    assert imagecodecs.jpegxl_decode(boxes[b"jxlc"]).shape == imagecodecs.jpegxl_decode(data).shape
    exif_box = boxes.get(b"Exif", b"")
    assert exif_box[:4] == b"\0\0\0\0"  # the offset to the TIFF header
    meta = SimpleNamespace(exif=exif_box[4:], xmp=boxes.get(b"xml "), icc=None, iim=None)
    return Image.fromarray(imagecodecs.jpegxl_decode(data)), meta


output_only = {"jxl": read_jxl}


def tiff(path: Path) -> Path:
    """A TIFF's EXIF tags are its own IFD's; XMP is tag 700."""
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[MAKE], info[700] = "Round Trip", XMP
    picture().save(path, "TIFF", icc_profile=sources.adobe_rgb_icc(), tiffinfo=info)
    return path


def gif(path: Path) -> Path:
    """One colour of the palette transparent (the picture's most opaque corner)."""
    image = picture()
    image.putalpha(image.getchannel("A").point(lambda a: 0 if a > 250 else 255))
    image.save(path, "GIF")
    return path


def bmp(path: Path) -> Path:
    """A 32-bit BMP with an alpha mask (BITMAPV4HEADER, BI_BITFIELDS), as Photoshop writes
    one with transparency (Pillow writes none: its own 32-bit BMPs drop the alpha)."""
    image = picture()
    pixels = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes("raw", "BGRA")
    header = struct.pack("<IiiHHIIiiII", 108, image.width, image.height, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    header += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"BGRs" + bytes(48)
    path.write_bytes(b"BM" + struct.pack("<IHHI", 14 + len(header) + len(pixels), 0, 0, 14 + len(header))
                     + header + pixels)
    return path


def heic(path: Path) -> Path:
    import pillow_heif

    heif = pillow_heif.from_pillow(picture())
    heif.save(path, quality=-1, chroma=444, exif=exif(), icc_profile=sources.adobe_rgb_icc(), xmp=XMP)
    return path


def raw(path: Path) -> Path:
    """Developed (the preview is a quarter of the size asked for): sRGB, and says so; the
    EXIF comes from the preview."""
    return sources.dng(path, picture((96, 64)).convert("RGB"), preview_scale=4, preview_exif=exif())


INPUT_ONLY = {"tiff": tiff, "gif": gif, "bmp": bmp, "heic": heic, "raw": raw}


@pytest.mark.parametrize("name", [n for n in formats.INPUTS if n not in formats.OUTPUTS])
def test_every_input_only_format_decodes_through_its_decoder_as_its_entry_says(tmp_path, name):
    fmt = formats.get(name)
    path = INPUT_ONLY[name](tmp_path / f"in.{fmt.ext}")
    got = decoded(path)
    assert got.meta.format == name
    frame = got.frame
    mode = frame.mode if frame is not None else ""
    assert ("A" in mode) == fmt.alpha, mode
    assert bool(got.meta.exif) == fmt.exif
    assert (got.meta.xmp is not None and b"round-trip" in got.meta.xmp) == fmt.xmp
    assert (got.meta.icc is not None) == fmt.icc
    if fmt.vips is not None:
        assert pyvips.Image.new_from_file(str(path)).get("vips-loader") == f"{fmt.vips}load"


def test_same_keeps_an_output_formats_own_extension_and_maps_the_others():
    assert formats.output_ext("same", "jpeg", "a.JPEG") == "jpeg"
    assert formats.output_ext("same", "jpeg", "a.jfif") == "jfif"
    assert formats.output_ext("jpeg", "jpeg", "a.jpeg") == "jpg"
    assert formats.output_ext("same", "heic", "a.heic") == "jpg"
    assert formats.output_ext("same", "tiff", "a.tif") == "png"
    assert formats.output_ext("same", "png", ".png") == "png"  # a hidden file's name, no extension
    assert formats.opened_by_own_decoder("IMG_0001.CR3") is formats.get("raw")
    assert formats.opened_by_own_decoder("photo.heic") is None  # Pillow opens it (pi-heif's plugin)


def test_the_steps_import_no_imaging_library():
    """A step module is what the config will read its keys from: importing every one
    loads neither Pillow, libvips, pi-heif nor LibRaw (they come when a step runs)."""
    code = ("import sys, hotfolder.engine.steps, hotfolder.config.model; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PIL', 'pyvips', 'pi_heif', 'rawpy', 'numpy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr

