"""Hostile and unusual files the engine's attack tests make themselves (issue 20): a
progressive-JPEG scan bomb, DNGs whose previews lie about their size, a device-link ICC
profile, XMP packets and IPTC-IIM blocks that carry location."""
from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from tests import sources

# --- JPEG scans -----------------------------------------------------------------------

# An AC Huffman table (class 1, id 1) with one code, "0", for symbol 0xE0: an EOB run of
# 2^14 + 14 more bits. A scan of no entropy bytes reads zero bits: runs of 16,384 empty
# blocks, so libjpeg passes over every block of the picture for a 10-byte scan.
EOB_RUN_TABLE = b"\xff\xc4" + struct.pack(">H", 2 + 1 + 16 + 1) + b"\x11" + bytes([1] + [0] * 15) + b"\xe0"
# Component 1, tables 0/1, spectral 1..63, Ah = Al = 0: an AC first scan of the luma.
EMPTY_AC_SCAN = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x01\x01\x3f\x00"


def scan_bomb(path: Path, size: tuple[int, int], scans: int, mode: str = "L") -> Path:
    """A valid progressive JPEG of `size` whose own scans are followed by `scans` more AC
    scans that change nothing: libjpeg decodes it (same pixels) at a cost of scans × blocks."""
    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, "JPEG", progressive=True, quality=80)
    data = buffer.getvalue()
    assert data.endswith(b"\xff\xd9")
    path.write_bytes(data[:-2] + EOB_RUN_TABLE + EMPTY_AC_SCAN * scans + b"\xff\xd9")
    return path


def scans_by_libjpeg_script(data: bytes) -> int:
    """SOS markers of a file Pillow wrote without restart markers, counted the naive way (a
    marker code after 0xFF that is not a stuffed 0x00): a check of the engine's walk."""
    return len(re.findall(rb"\xff\xda", data))


# --- DNG previews ---------------------------------------------------------------------

def _sensor(size: tuple[int, int]) -> tuple[dict, dict, bytes]:
    width, height = size
    mosaic = np.full((height, width), 1500, "<u2").tobytes()
    raw = {254: (4, 0), 256: (4, width), 257: (4, height), 258: (3, 16), 259: (3, 1), 262: (3, 32803),
           277: (3, 1), 278: (4, height), 284: (3, 1), 33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]),
           50714: (4, 0), 50717: (4, sources.WHITE_LEVEL)}
    ifd0 = {271: (2, "Hotfolder"), 272: (2, "Test DNG"), 274: (3, 1),
            50706: (1, [1, 4, 0, 0]), 50707: (1, [1, 1, 0, 0]), 50708: (2, "Hotfolder Test DNG"),
            50721: (10, [(round(v * 10000), 10000) for v in sources.XYZ_TO_SRGB]), 50778: (3, 21),
            50728: (5, [(1, 1)] * 3)}
    return ifd0, raw, mosaic


def dng_with_bitmap_preview(path: Path, sensor: tuple[int, int], preview: tuple[int, int],
                            stored_bytes: int | None = None) -> Path:
    """A DNG whose IFD0 is an uncompressed RGB preview of `preview` pixels. `stored_bytes`:
    only that many bytes of it in the file (LibRaw hands out the whole bitmap anyway,
    zero-filled)."""
    ifd0, raw, mosaic = _sensor(sensor)
    width, height = preview
    ifd0.update({254: (4, 1), 256: (4, width), 257: (4, height), 258: (3, [8, 8, 8]), 259: (3, 1),
                 262: (3, 2), 277: (3, 3), 278: (4, height), 284: (3, 1)})
    pixels = bytes([90, 160, 220]) * (width * height if stored_bytes is None else stored_bytes // 3)
    path.write_bytes(sources._tiff((ifd0, pixels), {330: (raw, mosaic)}))
    return path


def dng_with_jpeg_preview(path: Path, sensor: tuple[int, int], jpeg: bytes, size: tuple[int, int]) -> Path:
    """A DNG whose IFD0 is the JPEG preview `jpeg` of `size` (as cameras embed one)."""
    ifd0, raw, mosaic = _sensor(sensor)
    width, height = size
    ifd0.update({254: (4, 1), 256: (4, width), 257: (4, height), 258: (3, [8, 8, 8]), 259: (3, 7),
                 262: (3, 6), 277: (3, 3), 278: (4, height)})
    path.write_bytes(sources._tiff((ifd0, jpeg), {330: (raw, mosaic)}))
    return path


# --- ICC ------------------------------------------------------------------------------

def device_link_icc() -> bytes:
    """An ICC v2 device link (class 'link'), RGB to RGB: an identity lut16 as its A2B0, as
    a proofing workflow may leave embedded in an image. LittleCMS opens it, and refuses to
    build a transform from it to sRGB ("cannot build transform")."""
    lut = b"mft2\0\0\0\0" + bytes([3, 3, 2, 0])
    lut += b"".join(struct.pack(">i", 65536 if i in (0, 4, 8) else 0) for i in range(9))
    lut += struct.pack(">HH", 2, 2) + struct.pack(">2H", 0, 65535) * 3
    lut += b"".join(struct.pack(">3H", r * 65535, g * 65535, b * 65535)
                    for r in (0, 1) for g in (0, 1) for b in (0, 1))
    lut += struct.pack(">2H", 0, 65535) * 3
    tags = [(b"desc", sources._text_description("device link test")), (b"cprt", b"text\0\0\0\0test\0"),
            (b"A2B0", lut)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (struct.pack(">I", offset + len(body)) + b"none" + bytes([2, 0x10, 0, 0]) + b"linkRGB RGB "
              + struct.pack(">6H", 1970, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24
              + struct.pack(">I3i", 0, 63190, 65536, 54061) + b"none" + b"\0" * 44)
    assert len(header) == 128
    return header + table + body


# --- location in XMP and IPTC-IIM -------------------------------------------------------

# Location under every prefix but `exif:`, as attributes and as elements, nested in
# structs, in a default namespace; beside a caption, a creator, keywords and a drone's
# height above its take-off point, which must stay. The coordinates and place names are
# each written once, so a test can look for their text anywhere in an output.
LOCATED_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:e="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:ps="http://ns.adobe.com/photoshop/1.0/" xmlns:iptcCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
    xmlns:ext="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:exifEX="http://cipa.jp/exif/1.0/"
    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" xmlns:Camera="http://pix4d.com/camera/1.0/"
    xmlns:xmpDM="http://ns.adobe.com/xmp/1.0/DynamicMedia/" xmlns:t="http://ns.adobe.com/tiff/1.0/"
    e:GPSLatitude="43,17.7N" e:GPSLongitude="5,22.1E" iptcCore:Location="Vieux-Port"
    iptcCore:CountryCode="FRA" ps:City="Marseille" drone-dji:GpsLatitude="+43.2951"
    drone-dji:GpsLongtitude="+5.3683" drone-dji:AbsoluteAltitude="+151.2" drone-dji:RelativeAltitude="+120.5"
    exifEX:GPSHPositioningError="3/1" Camera:GPSXYAccuracy="1.5" t:Orientation="6">
   <dc:description><rdf:Alt>
    <rdf:li xml:lang="x-default">Boats in the harbour at dawn</rdf:li></rdf:Alt></dc:description>
   <dc:creator><rdf:Seq><rdf:li>Ann Smith</rdf:li></rdf:Seq></dc:creator>
   <dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>boats</rdf:li></rdf:Bag></dc:subject>
   <ps:State>Provence-Alpes-Cote-d-Azur</ps:State>
   <ps:Country>France</ps:Country>
   <xmpDM:shotLocation>Quai du Port</xmpDM:shotLocation>
   <GPSAltitude xmlns="http://ns.adobe.com/exif/1.0/">12/1</GPSAltitude>
   <ext:LocationShown><rdf:Bag><rdf:li rdf:parseType="Resource">
     <ext:Sublocation>Fort Saint-Jean</ext:Sublocation>
     <e:GPSLatitude>43,17.8N</e:GPSLatitude>
   </rdf:li></rdf:Bag></ext:LocationShown>
   <ext:LocationCreated rdf:parseType="Resource"><ext:WorldRegion>Europe</ext:WorldRegion></ext:LocationCreated>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode("utf-8")
LOCATION_TEXTS = ("43,17", "5,22", "Vieux-Port", "FRA", "Marseille", "+43.29", "+5.36", "151.2", "3/1",
                  "1.5", "Provence", "France", "Quai du Port", "12/1", "Fort Saint-Jean", "Europe")
KEPT_TEXTS = ("Boats in the harbour at dawn", "Ann Smith", "harbour", "boats", "+120.5")


def iim_dataset(record: int, number: int, value: bytes) -> bytes:
    return bytes([0x1C, record, number]) + struct.pack(">H", len(value)) + value


# UTF-8 (1:90), keywords, a caption, a by-line and a copyright notice, and location.
IIM = b"".join([
    iim_dataset(1, 90, b"\x1b%G"), iim_dataset(2, 0, b"\x00\x04"),
    iim_dataset(2, 25, b"harbour"), iim_dataset(2, 25, b"boats"), iim_dataset(2, 120, b"Boats at dawn"),
    iim_dataset(2, 80, b"Ann Smith"), iim_dataset(2, 116, b"(c) Ann Smith"),
    iim_dataset(2, 90, b"Marseille"), iim_dataset(2, 92, b"Vieux-Port"), iim_dataset(2, 95, b"PACA"),
    iim_dataset(2, 100, b"FRA"), iim_dataset(2, 101, b"France"),
])
IIM_LOCATION = {(2, 90), (2, 92), (2, 95), (2, 100), (2, 101)}


def app13(iim: bytes, digest: bool = True) -> bytes:
    """A Photoshop APP13 segment holding `iim` (and its MD5 digest), as Photoshop writes it."""
    import hashlib

    def resource(code: int, data: bytes) -> bytes:
        return b"8BIM" + struct.pack(">HHI", code, 0, len(data)) + data + b"\0" * (len(data) % 2)

    body = b"Photoshop 3.0\0" + resource(0x0404, iim) + (resource(0x0425, hashlib.md5(iim).digest()) if digest else b"")
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body
