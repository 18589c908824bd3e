"""Source files the tests make themselves: HEICs (pillow-heif, a test-only dependency:
its wheel carries the GPL x265 encoder, which the daemon never loads), DNGs (a small
TIFF writer of ours: a photo's mosaic and the DNG tags LibRaw needs), and ICC profiles.
"""
from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION = 0x0112


# --- ICC profiles ---------------------------------------------------------------------

def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _text_description(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 8 + b"\0" * 3 + b"\0" * 67


def matrix_profile(name: str, colorants, gamma: float) -> bytes:
    """An ICC v2 display profile: three colorants (XYZ, D50-adapted) and one gamma curve."""
    trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", _text_description(name)), (b"cprt", b"text\0\0\0\0" + b"no copyright, test data\0"),
            (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", _xyz(*colorants[0])), (b"gXYZ", _xyz(*colorants[1])), (b"bXYZ", _xyz(*colorants[2])),
            (b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc)]
    return _profile(b"RGB ", tags)


def _profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    now = time.gmtime(0)
    header = (struct.pack(">I", size) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntr" + space + b"XYZ "
              + struct.pack(">6H", now.tm_year, now.tm_mon, now.tm_mday, 0, 0, 0) + b"acsp" + b"\0" * 24
              + struct.pack(">I", 0) + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"none" + b"\0" * 44)
    assert len(header) == 128
    return header + table + body


def grey_profile(name: str, gamma: float) -> bytes:
    """An ICC v2 Gray display profile: one gamma curve (kTRC), as Photoshop's "Gray Gamma 1.8"."""
    trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    return _profile(b"GRAY", [(b"desc", _text_description(name)),
                              (b"cprt", b"text\0\0\0\0" + b"no copyright, test data\0"),
                              (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"kTRC", trc)])


def adobe_rgb_icc() -> bytes:
    """Adobe RGB (1998): its published D50 colorants and gamma 563/256."""
    return matrix_profile("Adobe RGB (1998) test", [(0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087),
                                                      (0.14919, 0.06322, 0.74457)], 563 / 256)


def display_p3_icc() -> bytes:
    """Display P3 as libvips ships it (Compact ICC Profiles' P3, v4): a profile real files carry."""
    import pyvips

    pixel = pyvips.Image.black(1, 1, bands=3).cast("uchar").copy(interpretation="srgb")
    return pixel.icc_transform("p3", input_profile="srgb").get("icc-profile-data")


# --- HEIC -----------------------------------------------------------------------------

def heic(path: Path, image: Image.Image | np.ndarray, *, exif: bytes | None = None, icc: bytes | None = None,
         exif_orientation_only: int | None = None, quality: int = -1) -> Path:
    """Write a HEIC with pillow-heif: lossless and 4:4:4 by default, so colours survive for
    the comparison (a camera's `quality` 0-100 is lossy 4:2:0, and decodes faster).

    `image` may be a uint16 array (H, W, 3): a 10-bit HEIC. pillow-heif turns an EXIF
    Orientation into the HEIF's irot/imir transform (and keeps the tag), as an iPhone
    writes both; `exif_orientation_only` writes the tag alone, with no transform, as
    editing a HEIC's EXIF (exiftool) leaves it."""
    import pillow_heif

    if isinstance(image, np.ndarray):
        height, width, _ = image.shape
        heif = pillow_heif.from_bytes("RGB;16", (width, height), np.ascontiguousarray(image, "<u2").tobytes())
    else:
        heif = pillow_heif.from_pillow(image)
    if exif_orientation_only is not None:
        tags = Image.Exif()
        if exif:
            tags.load(exif)
        tags[ORIENTATION] = 1
        exif = tags.tobytes()
    options = {"quality": quality, "chroma": 444 if quality == -1 else 420}
    if exif is not None:
        options["exif"] = exif
    if icc is not None:
        options["icc_profile"] = icc
    heif.save(path, **options)
    if exif_orientation_only is not None:
        data = path.read_bytes()
        for order in "<>":  # the entry as written (Pillow's byte order), value 1 → the one asked
            entry = struct.pack(order + "HHIH", ORIENTATION, 3, 1, 1)
            if data.count(entry) == 1:
                path.write_bytes(data.replace(entry, struct.pack(order + "HHIH", ORIENTATION, 3, 1,
                                                                 exif_orientation_only)))
                break
        else:
            raise AssertionError("the EXIF orientation entry is not in the file once")
    return path


def phone_heic(path: Path, image: Image.Image | np.ndarray, *, tile: int | None = 256, exif: bytes | None = None,
               icc: bytes | None = None, xmp: bytes | None = None, nclx: dict | None = None,
               quality: int = 85, chroma: int = 420) -> Path:
    """Write a HEIC as a phone does: lossy 4:2:0, a grid of `tile`-px tiles (None: one coded
    image), BT.601 full range. An EXIF Orientation becomes irot/imir (pillow-heif, as an
    iPhone writes both); a uint16 array is a 10-bit HEIC; `nclx` writes the colour by code."""
    import pillow_heif

    if isinstance(image, np.ndarray):
        height, width, _ = image.shape
        heif = pillow_heif.from_bytes("RGB;16", (width, height), np.ascontiguousarray(image, "<u2").tobytes())
    else:
        heif = pillow_heif.from_pillow(image)
    options: dict = {"quality": quality, "chroma": chroma}
    if tile:
        options["tile_size"] = tile
    for key, value in (("exif", exif), ("icc_profile", icc), ("xmp", xmp)):
        if value is not None:
            options[key] = value
    if nclx is not None:
        heif.info["nclx_profile"] = nclx
        options["save_nclx_profile"] = True
    heif.save(path, **options)
    return path


# --- DNG ------------------------------------------------------------------------------

_TYPES = {1: "B", 3: "H", 4: "I", 5: "II", 10: "ii"}


def _tiff(ifd0: tuple[dict, bytes], children: dict[int, tuple]) -> bytes:
    """A little-endian TIFF: IFD0 and child IFDs it points to by tag (330: SubIFD, 34853:
    GPS, 34665: EXIF), each with one strip of data or none, and children of its own as a
    third item (the EXIF IFD's 40965: Interoperability). Entries are {tag: (type, value or
    values)}; ASCII (type 2) takes a str, UNDEFINED (type 7) bytes."""
    def encode(typ, values):
        if typ == 2:
            data = values.encode() + b"\0"
            return data, len(data)
        if typ == 7:
            return bytes(values), len(values)
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if typ in (5, 10):
            return b"".join(struct.pack("<" + _TYPES[typ], *v) for v in values), len(values)
        return struct.pack(f"<{len(values)}{_TYPES[typ]}", *values), len(values)

    ifds: list[tuple[dict, bytes | None]] = [ifd0]
    links: list[tuple[int, int, int]] = []  # (parent's index, tag, child's index)

    def add(parent: int, kids: dict[int, tuple]) -> None:
        for tag, (entries, data, *grandchildren) in kids.items():
            ifds.append((entries, data))
            links.append((parent, tag, len(ifds) - 1))
            add(len(ifds) - 1, grandchildren[0] if grandchildren else {})

    add(0, children)
    for entries, data in ifds:
        if data is not None:
            entries[273], entries[279] = (4, 0), (4, len(data))
    for parent, tag, _ in links:
        ifds[parent][0][tag] = (4, 0)

    def size(entries):
        blobs = [encode(*v)[0] for v in entries.values()]
        return 2 + 12 * len(entries) + 4 + sum(len(b) + len(b) % 2 for b in blobs if len(b) > 4)

    starts, pos = [], 8
    for entries, _ in ifds:
        starts.append(pos)
        pos += size(entries)
    for entries, data in ifds:
        if data is not None:
            entries[273] = (4, pos)
            pos += len(data) + len(data) % 2
    for parent, tag, child in links:
        ifds[parent][0][tag] = (4, starts[child])
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for start, (entries, _) in zip(starts, ifds, strict=True):
        body, extra = bytearray(struct.pack("<H", len(entries))), bytearray()
        extra_at = start + 2 + 12 * len(entries) + 4
        for tag in sorted(entries):
            data, count = encode(*entries[tag])
            if len(data) <= 4:
                body += struct.pack("<HHI", tag, entries[tag][0], count) + data.ljust(4, b"\0")
            else:
                body += struct.pack("<HHII", tag, entries[tag][0], count, extra_at + len(extra))
                extra += data + b"\0" * (len(data) % 2)
        out += body + struct.pack("<I", 0) + extra
    for _, data in ifds:
        if data is not None:
            out += data + b"\0" * (len(data) % 2)
    return bytes(out)


def _exif_first(jpeg: bytes) -> bytes:
    """The JPEG with its APP1 (EXIF) moved before Pillow's APP0 (JFIF)."""
    data = bytearray(jpeg)
    assert data[:4] == b"\xff\xd8\xff\xe0"
    app1_at = 4 + int.from_bytes(data[4:6], "big")
    assert data[app1_at:app1_at + 2] == b"\xff\xe1"
    app1 = data[app1_at:app1_at + 2 + int.from_bytes(data[app1_at + 2:app1_at + 4], "big")]
    app0 = data[2:app1_at]
    data[2:app1_at + len(app1)] = app1 + app0
    return bytes(data)


def bmp_v5(path: Path, image: Image.Image, *, profile: bytes = b"", kind: bytes = b"MBED",
           profile_at: int | None = None) -> Path:
    """A 24-bit BMP with a BITMAPV5HEADER, as ImageMagick writes one for a source with a
    profile: colour-space type `kind` ('MBED': `profile` after the pixels, at `profile_at`
    from the header's start unless given; 'LINK': `profile` is a file name)."""
    width, height = image.size
    row = (width * 3 + 3) & ~3
    pixels = b"".join(image.convert("RGB").crop((0, y, width, y + 1)).tobytes("raw", "BGR").ljust(row, b"\0")
                      for y in reversed(range(height)))
    at = 124 + len(pixels) if profile_at is None else profile_at
    header = struct.pack("<IiiHHIIiiII", 124, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    header += bytes(16) + kind[::-1] + bytes(36 + 12) + struct.pack("<IIII", 4, at, len(profile), 0)
    assert len(header) == 124
    data = header + pixels + profile
    path.write_bytes(b"BM" + struct.pack("<IHHI", 14 + len(data), 0, 0, 14 + 124) + data)
    return path


def avif_with_clap(path: Path, image: Image.Image, aperture: tuple[int, int, int, int]) -> Path:
    """`image` as an AVIF (Pillow's libavif) whose primary item carries a clean aperture
    (`clap`, as `avifenc --crop` writes it) of `aperture` = (left, top, width, height): the
    property put in ipco and associated first in ipma, the meta box grown around it and
    iloc's offsets into mdat moved by as much."""
    buffer = io.BytesIO()
    image.save(buffer, "AVIF", quality=95)
    data = bytearray(buffer.getvalue())
    left, top, cw, ch = aperture
    w, h = image.size
    # Offsets of the centre, as ISO 14496-12 fractions: (2*left + cw - w) / 2.
    clap_body = struct.pack(">8i", cw, 1, ch, 1, 2 * left + cw - w, 2, 2 * top + ch - h, 2)
    clap = struct.pack(">I4s", 8 + len(clap_body), b"clap") + clap_body

    def find(kind: bytes, start: int, end: int) -> int:
        pos = start
        while pos + 8 <= end:
            size, found = struct.unpack_from(">I4s", data, pos)
            if found == kind:
                return pos
            pos += size
        raise ValueError(kind)

    meta = find(b"meta", 0, len(data))
    meta_end = meta + struct.unpack_from(">I", data, meta)[0]
    iprp = find(b"iprp", meta + 12, meta_end)
    ipco = find(b"ipco", iprp + 8, iprp + struct.unpack_from(">I", data, iprp)[0])
    ipco_end = ipco + struct.unpack_from(">I", data, ipco)[0]
    count, pos = 0, ipco + 8
    while pos < ipco_end:
        count, pos = count + 1, pos + struct.unpack_from(">I", data, pos)[0]
    ipma = find(b"ipma", iprp + 8, iprp + struct.unpack_from(">I", data, iprp)[0])
    version_flags = struct.unpack_from(">I", data, ipma + 8)[0]
    assert version_flags == 0 and struct.unpack_from(">I", data, ipma + 12)[0] == 1  # one item, 1-byte indices
    grown = len(clap) + 1
    for box, extra in ((ipma, 1), (ipco, len(clap)), (iprp, grown), (meta, grown)):  # sizes, before anything moves
        struct.pack_into(">I", data, box, struct.unpack_from(">I", data, box)[0] + extra)
    entry = ipma + 16 + 2  # after the item's 16-bit id: the association count, then its indices
    data[entry] += 1
    data[entry + 1:entry + 1] = bytes([0x80 | (count + 1)])  # essential, the new property, listed first
    data[ipco_end:ipco_end] = clap  # before ipma: inserted last, so ipma's place above held
    iloc = find(b"iloc", meta + 12, meta + struct.unpack_from(">I", data, meta)[0])
    assert data[iloc + 8] == 0  # version 0
    sizes = data[iloc + 12]
    assert (sizes >> 4, sizes & 0xF, data[iloc + 13] >> 4) == (4, 4, 0)  # offset, length 4; no base offset
    items, pos = struct.unpack_from(">H", data, iloc + 14)[0], iloc + 16
    for _ in range(items):
        extents = struct.unpack_from(">H", data, pos + 4)[0]  # after the item id and data_reference_index
        pos += 6
        for _ in range(extents):
            struct.pack_into(">I", data, pos, struct.unpack_from(">I", data, pos)[0] + grown)
            pos += 8
    path.write_bytes(bytes(data))
    return path


def tiff(path: Path, image: Image.Image | np.ndarray, *, exif: dict | None = None, interop: str | None = None,
         icc: bytes | None = None) -> Path:
    """An uncompressed TIFF: 8-bit RGB from a Pillow image, or an array's own samples (H, W)
    or (H, W, bands), little-endian; floats (16, 32, 64 bits) with SampleFormat 3 (IEEE),
    as Photoshop and HDR tools write them. `exif`: entries of its EXIF IFD ({tag: (type,
    value)}), `interop` the InteropIndex there ("R03": a camera set to Adobe RGB); `icc`:
    an embedded profile."""
    pixels = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else image
    height, width = pixels.shape[:2]
    bands = 1 if pixels.ndim == 2 else pixels.shape[2]
    kind = {"f": 3, "i": 2, "u": 1}[pixels.dtype.kind]
    bits = pixels.dtype.itemsize * 8
    ifd0 = {256: (4, width), 257: (4, height), 258: (3, [bits] * bands), 259: (3, 1),
            262: (3, 2 if bands >= 3 else 1), 277: (3, bands), 278: (4, height), 284: (3, 1),
            339: (3, [kind] * bands)}
    if bands in (2, 4):
        ifd0[338] = (3, 2)  # unassociated alpha
    if icc is not None:
        ifd0[34675] = (7, icc)
    children: dict = {}
    if exif is not None or interop is not None:
        nested = {40965: ({1: (2, interop)}, None)} if interop is not None else {}
        children[34665] = (dict(exif or {}), None, nested)
    path.write_bytes(_tiff((ifd0, np.ascontiguousarray(pixels, pixels.dtype.newbyteorder("<")).tobytes()), children))
    return path


# XYZ (D65) → linear sRGB: the DNG's ColorMatrix1 when the "camera" records linear sRGB.
XYZ_TO_SRGB = (3.2404542, -1.5371385, -0.4985314, -0.9692660, 1.8760108, 0.0415560,
               0.0556434, -0.2040259, 1.0572252)
WHITE_LEVEL = 4095  # a 12-bit sensor


def dng(path: Path, photo: Image.Image, *, orientation: int = 1, preview_scale: int | None = 4,
        preview_exif: bytes | None = None, preview_stored_upright: bool = False,
        preview_image: Image.Image | None = None, gps: bool = False, exif: dict | None = None,
        interop: str | None = None, preview_exif_first: bool = False) -> Path:
    """A DNG whose sensor saw `photo` (RGB, as stored): an RGGB mosaic of its linear
    light at 12 bits, with as-shot white balance neutral, and an embedded JPEG preview
    of `photo` 1/preview_scale the size (None: no preview). `orientation` is the DNG's
    Orientation tag (LibRaw's flip). `preview_stored_upright`: the preview is stored
    already turned, as some cameras do. `preview_image`: another picture for the preview,
    so a test can tell which one an output was made from. `gps`: the DNG records where it
    was shot (a GPS IFD: 48°51'24" N). `exif`: the entries of the DNG's own EXIF IFD
    ({tag: (type, value)}: DateTimeOriginal, ColorSpace, ...), `interop` its
    InteropIndex ("R03": a camera set to Adobe RGB). `preview_exif_first`: the preview
    starts with its EXIF, as a camera writes it, so LibRaw hands it out as it is (else
    LibRaw puts an EXIF of its own, from the DNG's tags, before it)."""
    rgb = np.asarray(photo.convert("RGB")).astype(np.float64) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    height, width, _ = rgb.shape
    mosaic = np.empty((height, width), np.float64)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    cfa = np.round(mosaic * WHITE_LEVEL).astype("<u2").tobytes()
    raw = {254: (4, 0), 256: (4, width), 257: (4, height), 258: (3, 16), 259: (3, 1), 262: (3, 32803),
           277: (3, 1), 278: (4, height), 284: (3, 1), 33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]),
           50714: (4, 0), 50717: (4, WHITE_LEVEL)}
    ifd0 = {271: (2, "Hotfolder"), 272: (2, "Test DNG"), 274: (3, orientation),
            50706: (1, [1, 4, 0, 0]), 50707: (1, [1, 1, 0, 0]), 50708: (2, "Hotfolder Test DNG"),
            50721: (10, [(round(v * 10000), 10000) for v in XYZ_TO_SRGB]), 50778: (3, 21),
            50728: (5, [(1, 1)] * 3)}
    children: dict = {}
    if exif is not None or interop is not None:
        nested = {40965: ({1: (2, interop)}, None)} if interop is not None else {}
        children[34665] = (dict(exif or {}), None, nested)
    if gps:
        children[34853] = ({0: (1, [2, 2, 0, 0]), 1: (2, "N"), 2: (5, [(48, 1), (51, 1), (24, 1)]),
                            3: (2, "E"), 4: (5, [(2, 1), (21, 1), (0, 1)])}, None)
    if preview_scale is None:  # the raw itself in IFD0, no preview
        path.write_bytes(_tiff(({**ifd0, **raw}, cfa), children))
        return path
    small = (preview_image or photo).convert("RGB").resize((width // preview_scale, height // preview_scale),
                                                            Image.Resampling.LANCZOS)
    if preview_stored_upright:
        from hotfolder.engine.pipeline import TRANSPOSE_FOR

        small = small.transpose(TRANSPOSE_FOR[orientation]) if orientation in TRANSPOSE_FOR else small
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=92, **({"exif": preview_exif} if preview_exif else {}))
    if preview_exif_first:
        buffer = io.BytesIO(_exif_first(buffer.getvalue()))
    ifd0.update({254: (4, 1), 256: (4, small.width), 257: (4, small.height), 258: (3, [8, 8, 8]), 259: (3, 7),
                 262: (3, 6), 277: (3, 3), 278: (4, small.height)})
    path.write_bytes(_tiff((ifd0, buffer.getvalue()), {330: (raw, cfa), **children}))
    return path


# --- camera-like files and XMP sidecars --------------------------------------------------

EXIF_IFD, MAKE, MODEL, LENS_MODEL, ISO = 0x8769, 0x010F, 0x0110, 0xA434, 0x8827
DATE_ORIGINAL, OFFSET_ORIGINAL, F_NUMBER, EXPOSURE = 0x9003, 0x9011, 0x829D, 0x829A


def camera_exif(make: str | None = "Canon", model: str | None = "Canon EOS R5", lens: str | None = "RF50mm F1.2 L USM",
                taken: str | None = "2024:05:01 14:03:22", offset: str | None = "+02:00", iso: int | None = 400,
                orientation: int = 1) -> bytes:
    """EXIF as a camera writes it: Make, Model, Orientation in IFD0; LensModel, ISO,
    DateTimeOriginal with OffsetTimeOriginal, FNumber, ExposureTime in the Exif IFD."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    if make:
        exif[MAKE] = make
    if model:
        exif[MODEL] = model
    exif[ORIENTATION] = orientation
    sub = exif.get_ifd(EXIF_IFD)
    if lens:
        sub[LENS_MODEL] = lens
    if taken:
        sub[DATE_ORIGINAL] = taken
    if offset:
        sub[OFFSET_ORIGINAL] = offset
    if iso:
        sub[ISO] = iso
    sub[F_NUMBER], sub[EXPOSURE] = IFDRational(12, 10), IFDRational(1, 250)
    return exif.tobytes()


def xmp_packet(rating: int | None = None, label: str | None = None, keywords: tuple[str, ...] = (),
               title: str | None = None, description: str | None = None, extra: str = "") -> bytes:
    """An XMP packet as Lightroom writes one (into a file, or as a sidecar)."""
    attrs = (f' xmp:Rating="{rating}"' if rating is not None else "") + (f' xmp:Label="{label}"' if label else "")
    body = ""
    if keywords:
        body += "<dc:subject><rdf:Bag>" + "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords) + "</rdf:Bag></dc:subject>"
    for name, value in (("title", title), ("description", description)):
        if value:
            body += f'<dc:{name}><rdf:Alt><rdf:li xml:lang="x-default">{value}</rdf:li></rdf:Alt></dc:{name}>'
    text = (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"'
            f' crs:Exposure2012="+0.35"{attrs}>{body}{extra}</rdf:Description></rdf:RDF></x:xmpmeta>\n'
            f'<?xpacket end="w"?>')
    return text.encode("utf-8")


def camera_jpeg(path: Path, size=(1200, 800), *, exif: bytes | None = None, xmp: bytes | None = None,
                seed: int = 0, quality: int = 90) -> Path:
    """A JPEG as a camera (and Lightroom, for `xmp`) leaves it: a photo-like picture of
    `size` as stored, EXIF (camera_exif() by default), an XMP packet if given."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.linspace(0, 255, w, dtype=np.float64)[None, :, None] * np.ones((h, 1, 3))
    noise = rng.normal(0, 12, (h, w, 3))
    pixels = np.clip(base * (0.5 + 0.5 * rng.random(3)) + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": quality, "exif": camera_exif() if exif is None else exif}
    if xmp is not None:
        options["xmp"] = xmp
    Image.fromarray(pixels, "RGB").save(path, "JPEG", **options)
    return path
