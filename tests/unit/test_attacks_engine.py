"""Attacks on the image engine (issue 20, the third round), kept as tests with real files
and real decoders: a progressive-JPEG scan bomb, RAW previews larger than the limit,
location that survived strip-gps in XMP, a device-link profile, libheif's security
limit, and a worker's memory at the pixel limit."""
from __future__ import annotations

import contextlib
import io
import os
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.engine.pipeline import InputError
from tests import attack_files as af
from tests import sources
from tests.rendering import R, run, run_one

SMALL = R(operation="fit", width=200, height=200, format="jpeg")


# --- item 13: a progressive JPEG of many scans ------------------------------------------

def test_a_scan_bomb_is_refused_from_its_markers_before_libjpeg_runs_a_scan(tmp_path):
    # 4000x3000 grey and 5,006 scans: 130 KB, and ~4 s of libjpeg's CPU before the fix
    # (the 100 MP, 40,000-scan file took 306 s); refused now in milliseconds.
    src = af.scan_bomb(tmp_path / "bomb.jpg", (4000, 3000), 5000)
    started = time.process_time()
    with pytest.raises(InputError) as refused:
        run(src, SMALL, max_pixels=10**8)
    assert time.process_time() - started < 1.0
    assert refused.value.step == "decode"
    assert "more than 416 scans" in str(refused.value) and "decoding bomb" in str(refused.value)  # at 12 MP


def test_the_scan_limit_falls_with_the_picture_s_size(tmp_path):
    """490 empty scans over 120 MP (a 474 KB file) cost 9-13 s of CPU under a limit of 500
    at any size (a fuzz round): scans × megapixels is bounded, never below 50 scans."""
    from hotfolder.engine import jpegscan

    assert [jpegscan.scan_limit(mp * 1_000_000) for mp in (0, 1, 10, 12, 24, 100, 120)] == [
        500, 500, 500, 416, 208, 50, 50]
    src = af.scan_bomb(tmp_path / "bomb.jpg", (10_000, 10_000), 60)  # 100 MP: 70 scans with its own
    started = time.process_time()
    with pytest.raises(InputError, match="more than 50 scans"):
        run(src, SMALL, max_pixels=2 * 10**8)
    assert time.process_time() - started < 1.0


def test_real_progressive_and_baseline_jpegs_pass_and_are_counted_exactly(tmp_path):
    from hotfolder.engine import jpegscan

    buffer = io.BytesIO()
    sources_photo = Image.effect_noise((640, 480), 40).convert("RGB")
    for options in ({}, {"progressive": True}, {"progressive": True, "restart_marker_blocks": 3},
                    {"restart_marker_rows": 1}):
        buffer = io.BytesIO()
        sources_photo.save(buffer, "JPEG", quality=95, **options)
        data = buffer.getvalue()
        scans = 10 if options.get("progressive") else 1
        assert jpegscan.count_scans(data) == af.scans_by_libjpeg_script(data) == scans
        src = tmp_path / "ok.jpg"
        src.write_bytes(data)
        assert run_one(src, SMALL).size == (200, 150)


def test_the_limit_is_500_scans_and_counting_stops_at_the_first_image(tmp_path):
    from hotfolder.engine import jpegscan

    at_limit = af.scan_bomb(tmp_path / "at.jpg", (64, 64), 490, mode="RGB")  # + the 10 of libjpeg's script
    assert jpegscan.count_scans(at_limit.read_bytes()) == 500
    assert run_one(at_limit, SMALL).size == (64, 64)
    over = af.scan_bomb(tmp_path / "over.jpg", (64, 64), 491, mode="RGB").read_bytes()
    assert jpegscan.count_scans(over) == 501
    # What follows the first image's EOI (an MPO's other images) is never decoded, never counted.
    assert jpegscan.count_scans(at_limit.read_bytes() + over) == 500


def test_a_scan_bomb_as_a_raws_preview_is_not_decoded(tmp_path):
    bomb = af.scan_bomb(tmp_path / "bomb.jpg", (256, 192), 600, mode="RGB").read_bytes()
    dng = af.dng_with_jpeg_preview(tmp_path / "bomb.dng", (256, 192), bomb, (256, 192))
    with pytest.raises(InputError, match="more than 500 scans"):
        run(dng, SMALL, raw="preview")
    assert run_one(dng, SMALL, raw="auto").size == (200, 150)  # developed instead


# --- item 14 (part): a RAW's preview is held to the pixel limit ---------------------------

def test_a_raw_bitmap_preview_over_the_limit_is_refused_before_it_is_copied(tmp_path):
    # The sensor is within the limit; the preview's tags claim 16x its pixels, and
    # LibRaw hands them out zero-filled from a file of a few KB.
    dng = af.dng_with_bitmap_preview(tmp_path / "p.dng", (64, 48), (1024, 768), stored_bytes=3000)
    with pytest.raises(InputError, match=r"1024x768 is 786,432 pixels, more than max_image_pixels \(100,000\)"):
        run(dng, SMALL, raw="preview", max_pixels=100_000)
    assert run_one(dng, SMALL, raw="auto", max_pixels=100_000).size == (64, 48)  # developed instead


def test_a_raw_jpeg_preview_over_the_limit_is_refused_in_our_words(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 768), (90, 160, 220)).save(buffer, "JPEG")
    dng = af.dng_with_jpeg_preview(tmp_path / "p.dng", (64, 48), buffer.getvalue(), (1024, 768))
    with pytest.raises(InputError, match=r"preview.*1024x768 is 786,432 pixels, more than max_image_pixels"):
        run(dng, SMALL, raw="preview", max_pixels=100_000)


# --- item 23 (part): a device-link profile, libheif's security limit ----------------------

@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_a_device_link_profile_is_ignored_like_any_unusable_profile(tmp_path, fmt):
    src = tmp_path / f"link.{'jpg' if fmt == 'jpeg' else 'png'}"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(src, icc_profile=af.device_link_icc())
    out = run_one(src, R(operation="fit", width=32, height=32, format=fmt))
    assert out.info.get("icc_profile") is None  # taken as sRGB, as a broken profile is
    r, g, b = out.convert("RGB").getpixel((16, 12))
    assert r > 180 and g < 60 and b < 60


def test_a_device_link_profile_cannot_be_a_renditions_target(tmp_path):
    from hotfolder.engine.colour import profile_problem

    path = tmp_path / "link.icc"
    path.write_bytes(af.device_link_icc())
    assert "device link" in profile_problem(path)


def test_libheifs_security_limit_is_worded_like_the_other_reasons(tmp_path):
    # The coded image's ispe patched to 70000x70000: the picture's own size (what the
    # pixel limit reads) is unchanged, and libheif refuses at decode with its security limit.
    src = sources.heic(tmp_path / "a.heic", Image.new("RGB", (64, 48), (200, 10, 10)))
    data = src.read_bytes()
    at = data.index(b"ispe") + 8
    src.write_bytes(data[:at] + struct.pack(">II", 70000, 70000) + data[at + 8:])
    with pytest.raises(InputError) as refused:
        run(src, SMALL, max_pixels=10**10)
    message = str(refused.value)
    assert message == ("The image could not be decoded: the HEIF is over a libheif security limit "
                       "(image size 70000x70000 exceeds the maximum image size 1073741824)"), message


# --- item 5: location in XMP under any prefix, and IPTC-IIM ---------------------------------

def _xmp_text(im: Image.Image) -> str:
    data = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
    return data.decode("utf-8") if isinstance(data, bytes) else data


def _location_left(text: str) -> list[str]:
    return [t for t in af.LOCATION_TEXTS if t in text]


@pytest.mark.parametrize("source, fmt", [("jpg", "jpeg"), ("jpg", "png"), ("jpg", "webp"), ("png", "jpeg")])
def test_strip_gps_removes_xmp_location_under_any_prefix_and_keeps_the_rest(tmp_path, source, fmt):
    src = tmp_path / f"located.{source}"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, as the packet's tiff:Orientation says too
    if source == "png":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", af.LOCATED_XMP.decode("utf-8"))
        Image.new("RGB", (80, 60), (90, 120, 150)).save(src, pnginfo=info, exif=exif)
    else:
        Image.new("RGB", (80, 60), (90, 120, 150)).save(src, xmp=af.LOCATED_XMP, exif=exif)
    out = run_one(src, R(operation="fit", width=40, height=40, format=fmt))  # strip-gps: the default
    text = _xmp_text(out)
    assert _location_left(text) == [], text
    assert all(kept in text for kept in af.KEPT_TEXTS), text
    assert 'Orientation="1"' in text  # the pixels were turned upright (EXIF 6 in the XMP)
    kept = _xmp_text(run_one(src, R(operation="fit", width=40, height=40, format=fmt, metadata="keep")))
    assert _location_left(kept) == list(af.LOCATION_TEXTS)


def test_an_xmp_packet_without_location_passes_strip_gps_byte_for_byte(tmp_path):
    packet = af.LOCATED_XMP.replace(b"<ps:Country>France</ps:Country>", b"")
    from hotfolder.engine.metadata import output_xmp

    clean = output_xmp(packet, R(metadata="strip-gps"), 1)
    assert clean is not None and b"France" not in clean
    assert output_xmp(clean, R(metadata="strip-gps"), 1) == clean


@pytest.mark.parametrize("hostile", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:e="http://ns.adobe.com/exif/1.0/" e:GPSLatitude="43,17.7N">&f;</rdf:Description>'
    b'</rdf:RDF></x:xmpmeta>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file:///etc/hostname">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:e="http://ns.adobe.com/exif/1.0/" e:GPSLatitude="43,17.7N">&s;</rdf:Description></rdf:RDF></x:xmpmeta>',
    b'<?xml version="1.0" encoding="shift_jis"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:e="http://ns.adobe.com/exif/1.0/" '
    b'e:GPSLatitude="43,17.7N"/></rdf:RDF></x:xmpmeta>',
    b'<?xml version="1.0" encoding="x-foo"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:e="http://ns.adobe.com/exif/1.0/" '
    b'e:GPSLatitude="43,17.7N"/></rdf:RDF></x:xmpmeta>',
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:e="http://ns.adobe.com/exif/1.0/" e:GPSLatitude="43,17.7N">' + b"<a>" * 9_000
    + b"</a>" * 9_000 + b'</rdf:Description></rdf:RDF></x:xmpmeta>',
], ids=["entity-expansion", "external-entity", "multi-byte-encoding", "unknown-encoding", "nested-9000-deep"])
def test_a_hostile_xmp_packet_is_left_out_by_strip_gps_and_said(tmp_path, hostile):
    """Each was refused as a packet, or (the encodings, the nesting: an attack round's) failed
    the photo, or, 200,000 deep with `metadata: copyright-only`, killed the worker that
    copied it."""
    src = tmp_path / "hostile.jpg"
    Image.new("RGB", (80, 60)).save(src, xmp=hostile)
    started = time.process_time()
    (out,) = run(src, R(operation="fit", width=40, height=40))
    assert time.process_time() - started < 2.0
    assert "xmp" not in Image.open(io.BytesIO(out.data)).info
    assert any("XMP packet cannot be read" in note and "location" in note for note in out.notes), out.notes


def _png_with_xmp(path, packet: str) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet, zip=True)  # a few KB on disk for a packet of 1 MB
    Image.new("RGB", (64, 48)).save(path, pnginfo=info)


@pytest.mark.parametrize("kind", ["locations", "ancestors", "namespaces"])
def test_an_xmp_packet_of_many_parts_costs_time_in_its_size_not_its_square(tmp_path, kind):
    """strip-gps removed each matching element with `element.remove`, which searches and
    shifts the rest: 66,000 location properties among as many others (a 2 KB compressed PNG
    chunk) took 41 s, alternating DocumentAncestors 60 s; 15,000 namespace prefixes took 54 s
    to write back, each registered in a registry the process kept (an attack round)."""
    head = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:e="http://ns.adobe.com/exif/1.0/" '
            'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"')
    if kind == "locations":
        body = ">" + "<e:k/><e:GPSAltitude>1</e:GPSAltitude>" * 66_000
    elif kind == "ancestors":
        body = ">" + "<photoshop:DocumentAncestors/><e:k/>" * 90_000 + "<e:GPSAltitude>1</e:GPSAltitude>"
    else:
        body = " " + " ".join(f'xmlns:a{i}="urn:u{i}"' for i in range(30_000)) + "><e:GPSAltitude>1</e:GPSAltitude>"
        body += "".join(f"<a{i}:v>{i}</a{i}:v>" for i in range(0, 30_000, 3))
    src = tmp_path / "many.png"
    _png_with_xmp(src, head + body + "<dc:title>kept</dc:title></rdf:Description></rdf:RDF></x:xmpmeta>")
    started = time.process_time()
    (out,) = run(src, R(operation="fit", width=40, height=40, format="png"))
    assert time.process_time() - started < 5.0  # 20-60 s before the fix; 0.1-0.5 s after
    xmp = Image.open(io.BytesIO(out.data)).info.get("xmp") or b""
    xmp = xmp.encode() if isinstance(xmp, str) else xmp
    assert b"GPSAltitude" not in xmp and b"DocumentAncestors" not in xmp and b"kept" in xmp, xmp[:300]


def test_a_namespace_a_packet_declares_is_not_kept_for_the_next_file():
    """Each source's prefixes were registered in ElementTree's registry, the process's, and
    kept there: a worker carried every file's before (an attack round)."""
    import xml.etree.ElementTree as ET

    from hotfolder.engine.xmp import Packet

    before = dict(ET._namespace_map)
    packet = Packet.parse(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
                          b'22-rdf-syntax-ns#"><rdf:Description xmlns:zz="urn:only-this-file" zz:v="1"/></rdf:RDF>'
                          b'</x:xmpmeta>')
    assert b'xmlns:zz="urn:only-this-file"' in packet.tobytes()
    assert ET._namespace_map == before


def _exif_of_rationals(count: int) -> bytes:
    """EXIF whose IFD0, Exif and GPS IFDs each hold a tag of `count` rationals, all three at one
    blob (little-endian TIFF)."""
    import struct

    def entry(tag: int, kind: int, n: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, kind, n, value)

    exif_at = 8 + 2 + 3 * 12 + 4
    gps_at = exif_at + 2 + 12 + 4
    data_at = gps_at + 2 + 12 + 4
    head = (b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 3) + entry(0x011A, 5, count, data_at)
            + entry(0x8769, 4, 1, exif_at) + entry(0x8825, 4, 1, gps_at) + bytes(4)
            + struct.pack("<H", 1) + entry(0x9286, 5, count, data_at) + bytes(4)
            + struct.pack("<H", 1) + entry(0x0002, 5, count, data_at) + bytes(4))
    assert len(head) == data_at
    return b"Exif\0\0" + head + struct.pack("<II", 3, 7) * count


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_an_exif_of_millions_of_fractions_is_left_out_at_once_and_said(tmp_path, fmt):
    """PNG's eXIf and WebP's EXIF have no size cap (a JPEG's has 64 KB): three IFDs pointing at
    one blob of 2,000,000 rationals held a worker to its timeout three attempts running, each
    rendition writing them back through Fraction arithmetic (an attack round)."""
    for count, said in ((400_000, " bytes, more than any camera writes"),  # 3.2 MB: not even parsed
                        (100_000, "values, more than any camera writes")):  # 800 KB: parsed, counted, left out
        src = tmp_path / f"fractions{count}.{fmt.lower()}"
        Image.new("RGB", (64, 48), (120, 130, 140)).save(src, fmt, exif=_exif_of_rationals(count))
        started = time.process_time()
        (out,) = run(src, R(operation="fit", width=40, height=40, format="png"))
        assert time.process_time() - started < 4.0  # 6-25 s before the fix
        assert any("EXIF cannot be read" in note and said in note for note in out.notes), out.notes
        assert not Image.open(io.BytesIO(out.data)).getexif()


def _iim_of(data: bytes) -> dict:
    from PIL import IptcImagePlugin

    return IptcImagePlugin.getiptcinfo(Image.open(io.BytesIO(data))) or {}


def test_iptc_iim_keywords_and_caption_survive_strip_gps_and_its_location_does_not(tmp_path):
    src = tmp_path / "agency.jpg"
    Image.new("RGB", (80, 60)).save(src, extra=af.app13(af.IIM))
    (stripped,) = run(src, R(operation="fit", width=40, height=40))
    iim = _iim_of(stripped.data)
    assert iim.get((2, 25)) == [b"harbour", b"boats"] and iim.get((2, 120)) == b"Boats at dawn", iim
    assert iim.get((2, 80)) == b"Ann Smith" and iim.get((2, 116)) == b"(c) Ann Smith"
    assert not af.IIM_LOCATION & set(iim), iim
    (kept,) = run(src, R(operation="fit", width=40, height=40, metadata="keep"))
    assert af.IIM_LOCATION <= set(_iim_of(kept.data))


def test_set_metadata_leaves_no_iim_rights_field_contradicting_it(tmp_path):
    from hotfolder.config.model import SetMetadata

    src = tmp_path / "agency.jpg"
    Image.new("RGB", (80, 60)).save(src, extra=af.app13(af.IIM))
    (out,) = run(src, R(operation="fit", width=40, height=40, set_metadata=SetMetadata(copyright="(c) Studio")))
    iim = _iim_of(out.data)
    assert iim.get((2, 116)) == b"(c) Studio"  # the new notice in place of the old, never beside it
    assert iim.get((2, 80)) == b"Ann Smith" and iim.get((2, 25)) == [b"harbour", b"boats"]
    assert "(c) Studio" in _xmp_text(Image.open(io.BytesIO(out.data)))


# --- item 14: a worker's memory ---------------------------------------------------------

# Renders each file named on the command line in this fresh process (as a worker, after
# warm_up), then prints its peak resident set (VmHWM, in bytes): a forked child's
# ru_maxrss would start at its parent's, the test runner's. Arguments: the watermark
# file or "-", "example" or "full" (a full-size JPEG too), then the files.
RENDER_AND_REPORT = """
import sys
from pathlib import Path
from hotfolder.engine import pipeline
from hotfolder.config.model import Rendition, Watermark
pipeline.warm_up()
mark = Watermark(image=sys.argv[1]) if sys.argv[1] != "-" else None
renditions = [Rendition(name="web", width=1600, height=1600, format="jpeg", watermark=mark),
              Rendition(name="thumb", operation="fill", width=400, height=400, format="webp")]
if sys.argv[2] == "full":
    renditions.append(Rendition(name="full", operation="none", format="jpeg"))
for src in sys.argv[3:]:
    if src.startswith("mark:"):  # replace the watermark file, as an admin would
        import shutil
        shutil.copyfile(src[5:], sys.argv[1])
        continue
    pipeline.render(Path(src), renditions, accepted_formats=("jpeg", "png", "tiff", "heic", "webp"),
                    max_image_pixels=10**8)
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024)
"""


def peak_rss(mark: str, *files: str, recipe: str = "example") -> int:
    """Bytes: the peak resident set of a fresh process rendering as RENDER_AND_REPORT."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", RENDER_AND_REPORT, mark, recipe, *files], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.fixture(scope="module")
def small_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("small") / "small.jpg"
    Image.new("RGB", (64, 48), (90, 120, 150)).save(path)
    return path


def test_a_16_bit_png_is_converted_in_strips_without_its_16_bits_in_memory(tmp_path, small_jpeg):
    import pyvips

    # 30 MP, 16-bit RGBA, flat: 0.3 MB on disk, 240 MB as 16 bits, 120 MB as the 8-bit
    # frame kept. Before: the 16 bits, a copy, the 8 bits twice and a packed copy, ~21
    # bytes a pixel (2 GB at 100 MP). Now ~8: the 8-bit frame, libvips' buffers while it
    # resamples, and the freed heap a worker keeps (engine/memory).
    width, height = 6000, 5000
    src = tmp_path / "deep.png"
    flat = pyvips.Image.black(width, height, bands=3).cast("ushort") + [30000, 20000, 10000]
    flat.cast("ushort").bandjoin(65535).copy(interpretation="rgb16").pngsave(str(src), bitdepth=16)
    baseline = peak_rss("-", str(small_jpeg))
    grown = peak_rss("-", str(src)) - baseline
    assert grown < 10 * width * height, f"{grown / 2**20:.0f} MiB over a worker's baseline"


def test_a_10_bit_heic_is_read_in_libheifs_buffer_while_that_buffer_lives(tmp_path, small_jpeg):
    import numpy as np

    # 2900x2200 at 16 bits is 38 MB: above the 32 MiB past which malloc maps a block of
    # its own, and unmaps it when freed. pi-heif's buffer is freed with its HeifFile (its
    # memoryview has no owner): read after that, it is a segfault, not stale pixels.
    width, height = 2900, 2200
    ramp = np.linspace(0, 1023, width).astype(np.uint16)
    pixels = np.broadcast_to(ramp[None, :, None], (height, width, 3)) * np.array([64, 48, 32], np.uint16)
    src = sources.heic(tmp_path / "deep.heic", pixels, quality=90)
    twice = peak_rss("-", str(src), str(src))  # a second file: a buffer freed, another made
    # Against a JPEG whose renditions are as large (a 1600 px web JPEG encoded: jpegli's own
    # working memory is the output's, not the source's), decoded at its DCT scale.
    like = tmp_path / "like.jpg"
    Image.new("RGB", (1700, 1290), (90, 120, 150)).save(like)
    grown = twice - peak_rss("-", str(like))
    # libheif's own peak while it decodes (HEVC frames, YCbCr planes, 16-bit RGB: ~12
    # bytes a pixel), then its RGB (6) and the 8-bit frame (3): measured 14.9 a pixel
    # here; 22.7 when the 16 bits were copied out, then packed twice.
    assert grown < 20 * width * height, f"{grown / 2**20:.0f} MiB over a worker's baseline"


def test_a_watermark_file_is_held_to_the_pixel_limit(tmp_path, small_jpeg):
    from hotfolder.config.model import Watermark
    from hotfolder.engine.pipeline import WatermarkError

    logo = tmp_path / "logo.png"
    Image.new("RGBA", (300, 300), (255, 255, 255, 128)).save(logo)  # 90,000 pixels: 1.8x the limit below
    with pytest.raises(WatermarkError, match="too many pixels"):
        run(small_jpeg, R(width=32, height=32, watermark=Watermark(image=str(logo))), max_pixels=50_000)


def test_a_watermark_file_replaced_again_and_again_is_not_kept_each_time(tmp_path, small_jpeg):
    # 4000x4000 RGBA watermarks, 64 MB each decoded, six versions of one file: before,
    # each (name, mtime) was a new cache entry, and all six stayed (384 MB and more).
    versions = []
    for i in range(6):
        versions.append(tmp_path / f"logo{i}.png")
        Image.new("RGBA", (4000, 4000), (40 * i, 255 - 40 * i, 128, 200)).save(versions[-1], compress_level=1)
    logo = tmp_path / "logo.png"
    logo.write_bytes(versions[0].read_bytes())
    once = peak_rss(str(logo), str(small_jpeg))
    args = [a for v in versions for a in (f"mark:{v}", str(small_jpeg))]
    six = peak_rss(str(logo), *args)
    assert six - once < 160 * 2**20, f"{(six - once) / 2**20:.0f} MiB more for six versions than for one"


@pytest.mark.parametrize("fmt, width, height", [("webp", 6000, 4500), ("png-16-bit-rgba", 4000, 3000),
                                                 ("jpeg", 4000, 3000)])
def test_a_worker_stays_within_its_documented_peak_at_full_size(tmp_path, fmt, width, height):
    # engine/memory.worker_peak (and the unit's MemoryMax, sized from it), for the
    # formats that cost most per pixel, with a full-size output: 12-27 MP here
    # (bench/memory measures 120 MP: the same bytes a pixel, less fixed cost: the WebP is
    # larger, its margin is the thinnest). Before: a 16-bit PNG took 21 a pixel.
    import pyvips

    from hotfolder.engine.memory import worker_peak

    picture = (pyvips.Image.gaussnoise(width, height, sigma=40, mean=128).cast("uchar")
               .bandjoin([pyvips.Image.black(width, height) + 90, pyvips.Image.black(width, height) + 160])
               .cast("uchar").copy(interpretation="srgb"))
    src = tmp_path / f"big.{fmt.split('-')[0]}"
    if fmt == "webp":
        picture.webpsave(str(src), Q=80, effort=0)
    elif fmt == "jpeg":
        picture.jpegsave(str(src), Q=90)
    else:
        (picture.cast("ushort") * 257).cast("ushort").bandjoin(65535).copy(interpretation="rgb16").pngsave(
            str(src), bitdepth=16, compression=1)
    peak = peak_rss("-", str(src), recipe="full")
    assert peak <= worker_peak(width * height), f"{peak / 2**20:.0f} MiB > {worker_peak(width * height) / 2**20:.0f}"


def _segment(code: int, body: bytes) -> bytes:
    return bytes([0xFF, code]) + (len(body) + 2).to_bytes(2, "big") + body


def _frame(sof: int, components: int) -> bytes:
    return _segment(sof, bytes([8, 0, 16, 0, 16, components]) + bytes(3 * components))


def _scan(components: int) -> bytes:
    return _segment(0xDA, bytes([components]) + bytes(2 * components) + bytes([0, 63, 0])) + b"\x12\x34\xff\x00\x56"


def test_a_sequential_jpegs_count_ends_at_its_one_interleaved_scan_and_libjpeg_decodes_no_later_one(tmp_path):
    """Its entropy data is never walked (1.3 ms of a 12 MP render): libjpeg refuses a second
    scan of such a file at once, so scans appended to it are no bomb, only a failure."""
    from hotfolder.engine import jpegscan

    buffer = io.BytesIO()
    Image.effect_noise((640, 480), 40).convert("RGB").save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    sos, eoi = data.index(b"\xff\xda"), data.rindex(b"\xff\xd9")
    header = data[sos:sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")]
    appended = data[:eoi] + (header + bytes(10)) * 2000 + data[eoi:]
    assert jpegscan.count_scans(appended) == 1
    src = tmp_path / "appended.jpg"
    src.write_bytes(appended)
    started = time.process_time()
    with pytest.raises(InputError) as refused:
        run(src, SMALL, max_pixels=10**8)
    assert time.process_time() - started < 1.0 and refused.value.step == "decode"
    # Where later scans are read, every one is counted: non-interleaved sequential scans, a
    # progressive frame, and a sequential frame followed by a progressive one.
    soi, end = b"\xff\xd8", b"\xff\xd9"
    assert jpegscan.count_scans(soi + _frame(0xC0, 3) + _scan(1) * 3 + end) == 3
    assert jpegscan.count_scans(soi + _frame(0xC2, 3) + _scan(3) * 7 + end) == 7
    assert jpegscan.count_scans(soi + _frame(0xC0, 3) + _frame(0xC2, 3) + _scan(3) * 5 + end) == 5
    assert jpegscan.count_scans(soi + _frame(0xC1, 1) + _scan(1) * 4 + end) == 1


def test_a_long_run_of_fill_bytes_costs_time_in_its_length_not_its_square(tmp_path):
    """A run of 0xFF in a scan's data followed by 0x00 (no marker) was searched from each of
    its bytes to its end: 160 KB of it took 131 s, and a 1 MB one held a worker until its
    timeout, three attempts in a row, with the default config (an attack round)."""
    from hotfolder.engine import jpegscan

    buffer = io.BytesIO()
    Image.effect_noise((320, 240), 40).convert("RGB").save(buffer, "JPEG", quality=90, progressive=True)
    data = buffer.getvalue()
    sos = data.index(b"\xff\xda")
    cut = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big") + 50
    hostile = data[:cut] + b"\xff" * 1_000_000 + b"\x00" + data[cut:]
    started = time.process_time()
    assert jpegscan.count_scans(hostile) == jpegscan.count_scans(data) > 1
    assert jpegscan.end_of_image(hostile) == jpegscan.end_of_image(data) + 1_000_001
    assert jpegscan.header_junk(hostile) == jpegscan.header_junk(data) == []
    assert time.process_time() - started < 1.0  # hours before the fix
    src = tmp_path / "run.jpg"
    src.write_bytes(hostile)
    started = time.process_time()
    with contextlib.suppress(InputError):  # libjpeg reads the run as fill bytes, then garbage: either way, soon
        run(src, SMALL, max_pixels=10**8)
    assert time.process_time() - started < 5.0


def test_a_jpeg_of_a_million_empty_segments_is_refused_from_its_markers(tmp_path):
    """Linear, but each walk of the header is Python's, and several walk it: 1,000,000 empty
    APP5 segments in 4 MB took 4 s of a worker (an attack round). A camera's have a few dozen."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 30)).save(buffer, "JPEG")
    data = buffer.getvalue()
    src = tmp_path / "segments.jpg"
    src.write_bytes(data[:2] + b"\xff\xe5\x00\x02" * 1_000_000 + data[2:])
    started = time.process_time()
    with pytest.raises(InputError) as refused:
        run(src, SMALL, max_pixels=10**8)
    assert time.process_time() - started < 3.0
    assert "more than 5,000 segments before its picture" in refused.value.reason
    many = tmp_path / "many.jpg"  # a profile in 255 APP2 pieces and the like: taken
    many.write_bytes(data[:2] + b"\xff\xe5\x00\x02" * 300 + data[2:])
    (out,) = run(many, SMALL, max_pixels=10**8)
    assert Image.open(io.BytesIO(out.data)).size == (64, 64)


def test_a_marker_right_after_a_segment_ending_in_0xff_is_read_there():
    """libjpeg reads the next marker where a segment's length ends, whatever its last byte
    was: the search that starts a run only at its first 0xFF must not pass over it."""
    from hotfolder.engine import jpegscan

    soi, end = b"\xff\xd8", b"\xff\xd9"
    comment = _segment(0xFE, b"note\xff")  # its body ends in 0xFF
    data = soi + comment + _frame(0xC2, 3) + _scan(3) * 4 + end
    assert jpegscan.count_scans(data) == 4
    assert jpegscan.end_of_image(data) == len(data) - 2
    assert jpegscan.header_junk(data) == []


def test_only_a_sequential_huffman_frame_whose_first_scan_holds_every_component_is_whole_in_it():
    """What decoders/jpeg's end-marker retry asks before it closes a file with EOI: a
    non-interleaved file cut after its first (luminance) scan rendered grey, and a cut-short
    arithmetic-coded one (libjpeg reads the marker as more zeros, without a warning)
    rendered garbage from the cut down, before this was asked (a review of that retry)."""
    from hotfolder.engine import jpegscan

    soi = b"\xff\xd8"
    assert jpegscan.whole_in_first_scan(soi + _frame(0xC0, 3) + _scan(3))
    assert jpegscan.whole_in_first_scan(soi + _frame(0xC1, 1) + _scan(1))
    assert not jpegscan.whole_in_first_scan(soi + _frame(0xC0, 3) + _scan(1))  # non-interleaved
    assert not jpegscan.whole_in_first_scan(soi + _frame(0xC9, 3) + _scan(3))  # arithmetic-coded
    assert not jpegscan.whole_in_first_scan(soi + _frame(0xC2, 3) + _scan(3))  # progressive
    assert not jpegscan.whole_in_first_scan(soi + _frame(0xC0, 3))  # no scan at all
    buffer = io.BytesIO()
    Image.effect_noise((64, 48), 40).convert("RGB").save(buffer, "JPEG", quality=90)
    assert jpegscan.whole_in_first_scan(buffer.getvalue())


def _photoshop_tiff(path: Path, layers: bytes, xmp: bytes | None = None) -> Path:
    """A TIFF as Photoshop saves one with layers: its ImageSourceData (37724) in IFD0."""
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[37724] = layers
    info.tagtype[37724] = 7  # UNDEFINED
    info[0x013B] = "Artist Name"
    Image.new("RGB", (120, 90), (40, 90, 160)).save(path, tiffinfo=info, **({"xmp": xmp} if xmp else {}))
    return path


@pytest.mark.parametrize("size", [50_000, 200_000])
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_photoshop_s_layers_never_reach_an_output_and_never_fail_it(tmp_path, size, fmt):
    """ImageSourceData was copied into every output's EXIF (hidden, unretouched layers
    published), and past 64 KB it failed the file: "EXIF data is too long" (a fuzz round)."""
    src = _photoshop_tiff(tmp_path / "layers.tif", b"Adobe Photoshop Document Data Block\0" + bytes(size))
    (out,) = run(src, R(operation="fit", width=60, height=60, format=fmt, metadata="keep"))
    assert b"Photoshop Document Data" not in out.data and len(out.data) < 20_000
    assert Image.open(io.BytesIO(out.data)).getexif().get(0x013B) == "Artist Name", "the rest of the EXIF is kept"


def test_photoshop_s_document_ancestors_are_dropped_and_an_xmp_too_big_for_a_jpeg_is_left_out_and_said(tmp_path):
    ancestors = "".join(f"<rdf:li>xmp.did:{i:032x}</rdf:li>" for i in range(5_000))  # ~190 KB, as Photoshop keeps
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Ann</rdf:li></rdf:Seq>'
           f'</dc:creator><photoshop:DocumentAncestors><rdf:Bag>{ancestors}</rdf:Bag>'
           f'</photoshop:DocumentAncestors></rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    src = tmp_path / "ancestors.png"
    Image.new("RGB", (120, 90)).save(src, pnginfo=info)
    for fmt in ("jpeg", "png", "webp"):
        (out,) = run(src, R(operation="fit", width=60, height=60, format=fmt, metadata="keep"))
        kept = _xmp_text(Image.open(io.BytesIO(out.data)))
        assert "Ann" in kept and "DocumentAncestors" not in kept and len(out.data) < 20_000, (fmt, len(out.data))
    from hotfolder.engine.metadata import _fitting_a_jpeg

    notes: list[str] = []
    assert _fitting_a_jpeg(b"Exif\0\0" + bytes(70_000), b"<x/>" * 20_000, notes) == (b"", None)
    assert len(notes) == 2 and all("bytes, more than the" in note and "a JPEG's segment holds" in note
                                   for note in notes), notes
    assert "70,006 bytes" in notes[0], notes  # its size, not a rounded-down "64 KB" (a checker's finding)


def _png(width: int, height: int, rows: int) -> bytes:
    """An RGB PNG whose IHDR says `height` rows and whose one IDAT, a clean zlib stream, holds `rows`."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes((x * 7 + y * 3) % 256 for x in range(width * 3)) for y in range(rows))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_damaged_picture_data_fails_with_its_reason_never_renders_grey_or_black(tmp_path):
    """libjpeg-turbo's and libspng's word that the picture is damaged was dropped, and Pillow's
    decode of the rest (grey, scrambled, black) rendered and archived (a fuzz round)."""
    from hotfolder.workers import truncation
    from tests.imaging import camera_photo

    src = tmp_path / "zeroed.jpg"
    camera_photo((640, 480)).save(src, quality=90)
    data = bytearray(src.read_bytes())
    start = len(data) * 30 // 100
    data[start:start + len(data) // 20] = bytes(len(data) // 20)  # a block zeroed, as a bad sector or copy does
    src.write_bytes(bytes(data))
    with pytest.raises(InputError) as said:
        run(src, R(operation="fit", width=64, height=64))
    assert "its image data is damaged" in said.value.reason and "copy the file again" in said.value.reason
    assert not truncation.cut_short(said.value.reason, src), "damaged, not cut short: it fails at once"
    short = tmp_path / "short.png"
    short.write_bytes(_png(64, 48, 20))
    with pytest.raises(InputError, match="fewer rows than its header says"):
        run(short, R(operation="fit", width=32, height=32))
    whole = tmp_path / "whole.png"
    whole.write_bytes(_png(64, 48, 48))
    assert run_one(whole, R(operation="fit", width=32, height=32)).size == (32, 24)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def _png_with_idat(data: bytes, raw: bytes) -> bytes:
    """`data`'s chunks with its pixel stream replaced by `raw`, compressed whole (one IDAT)."""
    kept = [(k, body) for k, body in _png_chunks(data) if k != b"IDAT"]
    at = next(i for i, (k, _) in enumerate(kept) if k == b"IEND")
    kept.insert(at, (b"IDAT", zlib.compress(raw)))
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + k + body + struct.pack(">I", zlib.crc32(k + body)) for k, body in kept)


@pytest.mark.parametrize("kind", ["palette", "palette-adam7", "grey-alpha", "grey-16-trns", "grey-1", "rgb-trns",
                                  "rgb-16"])
def test_a_png_decoded_by_pillow_whose_pixel_data_is_short_fails_never_renders_black(tmp_path, kind):
    """A whole zlib stream of fewer rows than the header: Pillow filled the rest with palette
    entry 0 or black, without an error, and half a picture was rendered (a fuzz round of
    PNG modes libspng is not given; libspng's own check covered RGB, RGBA and grey)."""
    import numpy as np
    import pyvips

    from hotfolder.engine import pngrows

    src = tmp_path / f"{kind}.png"
    ramp = np.add.outer(np.arange(48) * 3, np.arange(64) * 2).astype(np.uint8)
    if kind.startswith("palette"):
        image = pyvips.Image.new_from_array(np.dstack([ramp, ramp[::-1], ramp // 2]))
        image.copy(interpretation="srgb").pngsave(str(src), palette=True, interlace=kind.endswith("adam7"))
    elif kind == "grey-alpha":
        Image.fromarray(np.dstack([ramp, 255 - ramp]), "LA").save(src)
    elif kind == "grey-16-trns":
        Image.fromarray(ramp.astype(np.uint16) * 257).save(src, transparency=3 * 257)
    elif kind == "grey-1":
        Image.fromarray(ramp > 90).save(src)
    elif kind == "rgb-trns":
        Image.fromarray(np.dstack([ramp, ramp, 255 - ramp])).save(src, transparency=(0, 0, 255))
    else:
        pyvips.Image.new_from_array(np.dstack([ramp, ramp, ramp]).astype(np.uint16) * 257).copy(
            interpretation="rgb16").pngsave(str(src))
    data = src.read_bytes()
    raw = zlib.decompress(b"".join(body for k, body in _png_chunks(data) if k == b"IDAT"))
    width, height, depth, colour_type, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    assert pngrows.expected_length(width, height, depth, colour_type, interlace == 1) == len(raw)
    assert not pngrows.short_rows(data)
    assert run_one(src, R(operation="fit", width=32, height=32)).size == (32, 24)  # whole, it renders
    src.write_bytes(_png_with_idat(data, raw[:len(raw) // 2]))
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=32, height=32))
    assert "fewer rows than its header says" in err.value.reason, err.value


def _scan_cut_in_half(data: bytes) -> bytes:
    """`data`'s coded picture cut in half, closed with an end marker (a copy that lost its middle)."""
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    return data[:start + (len(data) - start) // 2] + b"\xff\xd9"


def test_stray_bytes_in_a_jpeg_s_header_no_longer_hide_the_damage_after_them(tmp_path):
    """TurboJPEG stops at its first warning: two stray bytes after APP0 ("extraneous bytes
    before marker") sent the file to Pillow, which drops every warning, and a scan cut in
    half rendered half grey (a fuzz round). The stray bytes are left out, as libjpeg skips
    them, and the file decoded again: whole, it renders as without them."""
    from tests.imaging import camera_photo

    buffer = io.BytesIO()
    camera_photo((320, 240)).save(buffer, "JPEG", quality=90)
    clean = buffer.getvalue()
    app0_end = 4 + int.from_bytes(clean[4:6], "big")
    stray = clean[:app0_end] + b"\0\0" + clean[app0_end:]
    whole, cut = tmp_path / "stray.jpg", tmp_path / "stray-cut.jpg"
    whole.write_bytes(stray)
    cut.write_bytes(_scan_cut_in_half(stray))
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(clean)
    rendition = R(operation="fit", width=320, height=320, format="png")
    assert run_one(whole, rendition).tobytes() == run_one(plain, rendition).tobytes()
    with pytest.raises(InputError) as err:
        run(cut, rendition)
    assert "its image data is damaged (its coded picture ends before its last row)" in err.value.reason, err.value


def test_a_jpeg_whose_coded_picture_runs_past_its_frame_fails_as_damaged(tmp_path):
    """A frame height made smaller (a damaged header): libjpeg decodes the rows it says and
    skips the rest as "N extraneous bytes before marker 0xd9"; only the top was rendered."""
    from tests.imaging import camera_photo

    src = tmp_path / "short-frame.jpg"
    camera_photo((320, 240)).save(src, quality=90)
    data = bytearray(src.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 7] = (150).to_bytes(2, "big")  # 240 rows said 150
    src.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert "bytes of coded picture past what its header describes" in err.value.reason, err.value


def test_a_damaged_cmyk_jpeg_fails_like_an_rgb_one(tmp_path):
    """CMYK and YCCK files are decoded by Pillow (through their profile), which drops every
    warning: a scan cut in half rendered half scrambled. TurboJPEG reads it through first."""
    import numpy as np

    cmyk = Image.fromarray(np.random.default_rng(5).integers(0, 255, (96, 128, 4), np.uint8), "CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, "JPEG", quality=90)
    whole, cut = tmp_path / "cmyk.jpg", tmp_path / "cmyk-cut.jpg"
    whole.write_bytes(buffer.getvalue())
    cut.write_bytes(_scan_cut_in_half(buffer.getvalue()))
    assert run_one(whole, R(operation="fit", width=64, height=64)).size == (64, 48)
    with pytest.raises(InputError) as err:
        run(cut, R(operation="fit", width=64, height=64))
    assert "its image data is damaged" in err.value.reason, err.value


@pytest.mark.parametrize("padding", [b"\0\0", bytes(1100), b"\x55" * 5000], ids=["2", "1100-zeros", "5000-same"])
def test_a_few_extraneous_bytes_before_the_end_marker_still_render(tmp_path, padding):
    """Real cameras' files have them (libjpeg-turbo warns); the picture is whole. A run of
    one byte value is an encoder's padding however long (a review: over 1 KB of zeros was
    refused as a damaged header, which only varied bytes mean)."""
    from tests.imaging import camera_photo

    src, plain = tmp_path / "padded.jpg", tmp_path / "plain.jpg"
    camera_photo((640, 480)).save(plain, quality=90)
    data = plain.read_bytes()
    src.write_bytes(data[:-2] + padding + data[-2:])
    rendition = R(operation="fit", width=64, height=64, format="png")
    assert run_one(src, rendition).tobytes() == run_one(plain, rendition).tobytes()


def _quantiser_entry_zeroed(data: bytes, table: int, entry: int) -> bytes:
    """`data` with entry `entry` (0: DC) of 8-bit quantisation table `table` set to 0."""
    out, pos = bytearray(data), 2
    while out[pos + 1] != 0xDA:
        length = int.from_bytes(out[pos + 2:pos + 4], "big")
        if out[pos + 1] == 0xDB:
            at, end = pos + 4, pos + 2 + length
            while at < end:
                if out[at] & 0x0F == table:
                    out[at + 1 + entry] = 0
                at += 65
        pos += 2 + length
    return bytes(out)


@pytest.mark.parametrize("grey", [False, True], ids=["colour", "grey"])
def test_a_jpeg_whose_quantisation_table_has_no_mean_fails_as_damaged(tmp_path, grey):
    """A DC quantiser of 0 (T.81 allows 1-255; libjpeg warns nothing) wiped every block's
    mean and the picture rendered flat grey or washed out (a fuzz round); a 0 elsewhere in
    a table drops one frequency and still renders."""
    from tests.imaging import camera_photo

    photo = camera_photo((320, 240))
    plain = tmp_path / "plain.jpg"
    (photo.convert("L") if grey else photo).save(plain, quality=90)
    flat, dropped = tmp_path / "flat.jpg", tmp_path / "dropped.jpg"
    flat.write_bytes(_quantiser_entry_zeroed(plain.read_bytes(), 0, 0))
    dropped.write_bytes(_quantiser_entry_zeroed(plain.read_bytes(), 0, 63))
    with pytest.raises(InputError) as err:
        run(flat, SMALL)
    assert err.value.step == "decode"
    assert err.value.reason.startswith("the JPEG is damaged: its quantisation table 0 is 0 where it scales each "
                                       "block's mean"), err.value
    assert run_one(dropped, SMALL).size == (200, 150)
    assert run_one(plain, SMALL).size == (200, 150)


def test_a_png_whose_xmp_is_megabytes_long_renders_and_a_text_bomb_says_what_it_is(tmp_path):
    """Pillow refuses a PNG whose text chunk inflates past 1 MB, and the file failed whole
    ("Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK"): Photoshop's
    DocumentAncestors make XMPs of MBs. Up to 4 MB it renders (the ancestors dropped);
    past that, the reason says what the chunk is."""
    from PIL import PngImagePlugin

    ancestors = "".join(f"<rdf:li>xmp.did:{i:032x}</rdf:li>" for i in range(60_000))  # ~3.4 MB
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Ann</rdf:li></rdf:Seq>'
           f'</dc:creator><photoshop:DocumentAncestors><rdf:Bag>{ancestors}</rdf:Bag>'
           f'</photoshop:DocumentAncestors></rdf:Description></rdf:RDF></x:xmpmeta>')
    assert len(xmp) > 3_000_000
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp, zip=True)
    src = tmp_path / "ancestors.png"
    Image.new("RGB", (120, 90)).save(src, pnginfo=info)
    (out,) = run(src, R(operation="fit", width=60, height=60, format="png", metadata="keep"))
    kept = _xmp_text(Image.open(io.BytesIO(out.data)))
    assert "Ann" in kept and "DocumentAncestors" not in kept and len(out.data) < 20_000

    bomb = PngImagePlugin.PngInfo()
    bomb.add_itxt("Comment", "x" * 5 * 2**20, zip=True)  # 5 MB of text in a chunk of ~5 KB
    src = tmp_path / "text-bomb.png"
    Image.new("RGB", (120, 90)).save(src, pnginfo=bomb)
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=60, height=60, format="png"))
    assert err.value.reason.startswith("a chunk of the PNG (its XMP, a comment or its colour profile) is longer "
                                       "than 4 MB decompressed (Decompressed data too large"), err.value
    assert err.value.reason.endswith("; save it again with less metadata"), err.value


# --- a link swapped into processing/ between the read and the decode ----------------------

def _deep_png(path: Path, rgb: tuple[int, int, int]) -> Path:
    """A 16-bit RGB PNG of one colour: libvips reads its pixels, by path (decoders/pillow)."""
    import numpy as np

    a = np.zeros((64, 96, 3), dtype=">u2")
    a[...] = [c * 257 for c in rgb]
    raw = b"".join(b"\0" + row.tobytes() for row in a)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 96, 64, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def _float_tiff(path: Path, rgb: tuple[int, int, int]) -> Path:
    import numpy as np

    return sources.tiff(path, np.full((64, 96, 3), [c / 255 for c in rgb], np.float32))


def _dng(path: Path, rgb: tuple[int, int, int]) -> Path:
    return sources.dng(path, Image.new("RGB", (96, 64), rgb), preview_scale=None)


ALL = ("jpeg", "png", "tiff", "raw")


def _folder(tmp_path: Path):
    """A folder whose recipe reads the file's header (`when: orientation`)."""
    from hotfolder import config

    text = ("folders:\n  - name: f\n    inbox: in\n    output: out\n    archive: arc\n    failed: bad\n"
            "    renditions:\n"
            "      - {name: r, size: 200, when: {orientation: landscape}}\n")
    return config.parse(text, str(tmp_path / "c.yaml"), tmp_path).folders[0]


@pytest.mark.parametrize("make, suffix", [(_deep_png, ".png"), (_float_tiff, ".tif"), (_dng, ".dng")],
                         ids=["16-bit PNG", "float TIFF", "DNG"])
def test_the_decoders_read_the_file_read_never_a_link_swapped_in_for_it(tmp_path, make, suffix):
    """The worker reads an original once by descriptor (never through a link) and hashes it,
    but libvips' 16-bit reader, LibRaw and libheif open a path: a link renamed over the file
    in processing/ meanwhile was followed, and a file from elsewhere rendered into output/ (an
    attack round). They read the very file read, through its descriptor, now."""
    from hotfolder.engine import fingerprint, pipeline
    from hotfolder.workers.choice import choose

    (tmp_path / "processing").mkdir()
    src = make(tmp_path / "processing" / f"a{suffix}", (220, 20, 20))
    secret = make(tmp_path / f"secret{suffix}", (20, 220, 20))
    original = fingerprint.read_original(src, keep=True)
    try:
        os.symlink(secret, tmp_path / "processing" / ".link")
        os.rename(tmp_path / "processing" / ".link", src)  # the name is a link now
        choice = choose(_folder(tmp_path), src, src.name, accepted_formats=ALL, max_image_pixels=10**8,
                        original=original)
        assert choice.facts.photo.width == 96, choice.facts
        opened = pipeline.open_source(original.reading, [SMALL], accepted_formats=ALL, max_image_pixels=10**8,
                                      data=original.data, name=src.name)
        (out,) = pipeline.render_with_facts(opened, [SMALL]).outputs
    finally:
        original.close()
    pixel = Image.open(io.BytesIO(out.data)).convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert pixel[0] > 150 and pixel[1] < 100, f"the link's file was rendered: {pixel}"


def test_a_reason_never_shows_the_descriptor_a_file_is_read_by():
    from hotfolder.engine.errors import describe

    assert describe(OSError('VipsForeignLoad: "/proc/self/fd/12" is not a known file format')) == \
        'VipsForeignLoad: "the file" is not a known file format'


# --- a fourth round: colour profiles, a RAW's own EXIF, strips, chunks, boxes -------------

def _with_private_tag(icc: bytes, size: int, seed: int = 0) -> bytes:
    """`icc` (a real profile) with a private tag of `size` bytes appended: still a valid
    profile LittleCMS reads, as large as asked."""
    count = struct.unpack_from(">I", icc, 128)[0]
    table = icc[132:132 + 12 * count]
    body = icc[132 + 12 * count:]
    shift = 12  # the new entry moves every tag's data along
    entries = b""
    for i in range(count):
        signature, offset, length = struct.unpack_from(">4sII", table, 12 * i)
        entries += struct.pack(">4sII", signature, offset + shift, length)
    start = 132 + 12 * (count + 1) + len(body)
    start += -start % 4
    private = bytes((seed + i) % 251 for i in range(256)) * (size // 256)
    data = icc[:128] + struct.pack(">I", count + 1) + entries + struct.pack(">4sII", b"zzzz", start, len(private))
    data += body + b"\0" * (start - 132 - 12 * (count + 1) - len(body)) + private
    return struct.pack(">I", len(data)) + data[4:]


def test_a_profile_larger_than_any_devices_is_left_out_unread_and_said(tmp_path):
    """A 300 MB profile in a TIFF cost 3.6 s and a worker's 1.2 GB, kept after (an attack round)."""
    from hotfolder.engine import colour

    icc = _with_private_tag(sources.adobe_rgb_icc(), colour.MAX_PROFILE_BYTES + 4096)
    assert colour.usable_profile(_with_private_tag(sources.adobe_rgb_icc(), 4096))  # the shape is a real profile
    src = tmp_path / "big-profile.tif"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(src, icc_profile=icc)
    (out,) = run(src, R(operation="fit", width=40, height=40, format="png", color_profile="keep"))
    said = "colour profile is 4,198,924 bytes, more than any device's"
    assert any(said in note for note in out.notes), out.notes
    assert "icc_profile" not in Image.open(io.BytesIO(out.data)).info


def test_profiles_past_a_few_hundred_kb_are_not_kept_by_a_worker_after_their_file(tmp_path):
    """Each profile was kept (its bytes, and LittleCMS's copy) by two caches of 32: a worker grew
    by ~120 MB a file of 60 MB profiles, to gigabytes (an attack round)."""
    import gc
    import tracemalloc

    from hotfolder.engine import colour

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seed in range(6):  # each file's profile, gone with its file
            icc = _with_private_tag(sources.adobe_rgb_icc(), 1 << 20, seed)
            assert colour.conversion(icc, "srgb")[0] == icc  # read, and found not sRGB
            del icc
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1 << 20, f"{kept:,} bytes kept after 6 profiles of 1 MB"


def test_a_raws_own_exif_of_many_fractions_is_left_out_unread_and_said(tmp_path):
    """A RAW's own EXIF skipped the bounds a Pillow-opened source's has: a 16 MB DNG of
    2,000,000 fractions held a worker 71 s at 900 MB (an attack round)."""
    src = sources.dng(tmp_path / "fractions.dng", Image.new("RGB", (64, 48), (120, 130, 140)), preview_scale=None,
                      exif={0x9003: (2, "2024:05:01 14:03:22"), 0xA432: (5, [(1, 3)] * 300_000)})
    started = time.process_time()
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="keep"))
    assert time.process_time() - started < 2.0  # ~8 s before
    assert any("EXIF directory holds 300,000 values" in note for note in out.notes), out.notes
    assert not Image.open(io.BytesIO(out.data)).getexif().get_ifd(0x8769)


def _tiff_of_strips(path: Path, strips: int, big: bool = False) -> Path:
    """A grey TIFF (`big`: a BigTIFF: 8-byte offsets and counts, 20-byte entries), 8 pixels
    wide, of `strips` one-row strips, every one at the same 8 bytes."""
    entries = [(256, 4, 1, 8), (257, 4, 1, strips), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, strips, None), (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, strips, None)]
    head, count, entry, end, table_at = ((b"II+\0" + struct.pack("<HHQ", 8, 0, 16), "<Q", "<HHQQ", bytes(8), 16) if big
                                         else (b"II*\0" + struct.pack("<I", 8), "<H", "<HHII", bytes(4), 8))
    offsets_at = table_at + struct.calcsize(count) + struct.calcsize(entry) * len(entries) + len(end)
    counts_at = offsets_at + 4 * strips
    table = struct.pack(count, len(entries))
    for tag, kind, n, value in entries:
        table += struct.pack(entry, tag, kind, n, {273: offsets_at, 279: counts_at}.get(tag, value))
    path.write_bytes(head + table + end + struct.pack("<I", counts_at + 4 * strips) * strips
                     + struct.pack("<I", 8) * strips + bytes(range(0, 256, 32)))
    return path


def test_a_tiff_cut_into_more_strips_than_any_writer_makes_is_refused_before_pillow_opens_it(tmp_path):
    """4,000,000 one-row strips at one run of 8 bytes (16 MB) held a worker 22 s at 1.6 GB:
    Pillow makes an entry of each (an attack round). 20,000 (a scanner's A3 page) pass."""
    from hotfolder.engine import tifftags

    src = _tiff_of_strips(tmp_path / "strips.tif", 400_000)
    started = time.process_time()
    with pytest.raises(InputError, match=r"cut into 400,000 strips, more than any scanner or camera writes") as refused:
        run(src, SMALL)
    assert time.process_time() - started < 0.5  # ~3 s before
    assert refused.value.step == "open"
    assert tifftags.MAX_PIECES == 100_000
    assert run_one(_tiff_of_strips(tmp_path / "scan.tif", 20_000), SMALL).size == (1, 200)


def test_a_bigtiff_is_held_to_the_same_number_of_strips(tmp_path):
    """Pillow opens a BigTIFF too: 4,000,000 strips took 26.9 s and 1.6 GB past a bound that read
    classic TIFFs only (a review)."""
    started = time.process_time()
    with pytest.raises(InputError, match=r"cut into 400,000 strips"):
        run(_tiff_of_strips(tmp_path / "strips.tif", 400_000, big=True), SMALL)
    assert time.process_time() - started < 0.5


def test_a_float_tiffs_tag_of_millions_of_values_is_left_out_unread_and_said(tmp_path):
    """IFD0's own tags: the bound first read the tag it left out (`Exif.pop` unpacks the value):
    2,000,000 fractions took 11 s, and nothing said so (a review)."""
    n = 300_000
    entries = [(256, 4, 1, 8), (257, 4, 1, 1), (258, 3, 1, 32), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, None), (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, 1, 32), (339, 3, 1, 3),
               (50000, 5, n, None)]
    data_at = 8 + 2 + 12 * len(entries) + 4
    table = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        table += struct.pack("<HHII", tag, kind, count, {273: data_at + 8 * n, 50000: data_at}.get(tag, value))
    src = tmp_path / "float.tif"
    src.write_bytes(b"II*\0" + struct.pack("<I", 8) + table + bytes(4) + struct.pack("<II", 1, 3) * n
                    + struct.pack("<8f", *[i / 8 for i in range(8)]))
    started = time.process_time()
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="keep"))
    assert time.process_time() - started < 0.5  # ~1.6 s before
    assert any("tag 50000 holds 300,000 values" in note for note in out.notes), out.notes


def _png_of_chunks(path: Path, chunks: int, kind: bytes = b"tEXt") -> Path:
    def chunk(name: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + name + body + struct.pack(">I", zlib.crc32(name + body))

    pixels = zlib.compress(b"\0" + bytes(range(8)))
    body = chunk(kind, b"k\0v") * chunks if kind != b"IDAT" else chunk(b"IDAT", b"") * chunks
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 1, 8, 0, 0, 0, 0)) + body
                     + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def test_a_png_of_more_chunks_than_any_program_writes_is_refused_before_pillow_reads_them(tmp_path):
    """3,000,000 empty text chunks (62 MB) held a worker 16 s at 826 MB, 2,000,000 empty
    pixel-data chunks 4 s: Pillow reads each in Python (an attack round)."""
    for name, chunks, kind, said in (("text.png", 20_000, b"tEXt", "more than 10,000 chunks besides its pixels"),
                                     ("idat.png", 600_000, b"IDAT", "cut into more than 500,000 chunks")):
        with pytest.raises(InputError, match=said):
            run(_png_of_chunks(tmp_path / name, chunks, kind), SMALL)
    assert run_one(_png_of_chunks(tmp_path / "notes.png", 5_000), SMALL).size == (8, 1)


def test_a_heif_whose_meta_box_is_not_among_its_first_boxes_is_left_to_libheif(tmp_path):
    """10,000,000 empty boxes before the meta box (80 MB) cost 9 s of reads (an attack round):
    past 16 boxes the FFmpeg path's walk stops (`Unsupported`: libheif decodes the file)."""
    from hotfolder.engine.decoders import heifmeta

    plain = sources.heic(tmp_path / "plain.heic", Image.new("RGB", (64, 48), (30, 160, 90))).read_bytes()
    ftyp = struct.unpack_from(">I", plain)[0]
    for boxes, found in ((14, True), (20, False)):
        padded = tmp_path / f"padded{boxes}.heic"
        padded.write_bytes(plain[:ftyp] + struct.pack(">I4s", 8, b"free") * boxes + plain[ftyp:])
        fd = os.open(padded, os.O_RDONLY)
        try:
            if found:
                assert heifmeta.read_layout(fd).width == 64
            else:
                with pytest.raises(heifmeta.Unsupported, match="no meta box among the first 16 boxes"):
                    heifmeta.read_layout(fd)
        finally:
            os.close(fd)


# --- index rebuild's pass-over (workers/reindex.not_an_original) ---------------------------

def test_whether_an_archived_entry_could_be_an_image_is_never_read_through_a_link_or_a_fifo(tmp_path):
    """`index rebuild` lstat()s an archived entry, then asks could_be_image of the one whose
    read failed, by its name: swapped meanwhile (archive/ is writable by whoever may drop and
    fetch), a FIFO held the rebuild for ever on its open, and a link was followed to any file
    of the machine. Neither is read now: no image (a FIFO's open returns at once)."""
    import subprocess
    import sys

    from hotfolder.engine import unopened

    fifo = tmp_path / "swapped"
    os.mkfifo(fifo)
    probe = ("from pathlib import Path; from hotfolder.engine import unopened; "
             f"print(unopened.could_be_image(Path({str(fifo)!r})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr
    real = tmp_path / "photo.dat"
    Image.new("RGB", (8, 8)).save(real, "PNG")
    assert unopened.could_be_image(real)  # its first bytes: an image
    link = tmp_path / "link.dat"
    link.symlink_to(real)
    assert not unopened.could_be_image(link)


def test_a_damaged_original_without_an_image_s_name_is_still_one_by_its_first_bytes(tmp_path):
    """An original is taken by its content (a scanner's `scan0001`, no extension) and archived
    under its name: damaged since, `index rebuild` must say it unreadable (exit 1), not pass it
    over as "not an image" (exit 0, the damage unsaid). Its first bytes said so for JPEG, PNG,
    GIF and TIFF only: a WebP, BMP, JPEG XL, Fujifilm RAF or Canon CR3 head was none."""
    from hotfolder.engine import unopened
    from hotfolder.engine.encoders.jxl import SIGNATURE as JXL_CONTAINER

    webp, bmp = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(webp, "WEBP")
    Image.new("RGB", (64, 64), (200, 10, 10)).save(bmp, "BMP")
    heads = {"webp": webp.getvalue()[:16], "bmp": bmp.getvalue()[:40], "jxl": b"\xff\x0a\xfa\x1f" + bytes(28),
             "jxl-box": JXL_CONTAINER + bytes(20), "raf": b"FUJIFILMCCD-RAW 0201FF383501" + bytes(20),
             "cr3": b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(10)}
    for name, head in heads.items():
        damaged = tmp_path / f"scan-{name}"
        damaged.write_bytes(head)
        assert unopened.could_be_image(damaged), name
    for text in (b"the studio's archive: ask Anna\n", b"BMW service notes, 2024\n" + bytes(40)):
        readme = tmp_path / "README"
        readme.write_bytes(text)
        assert not unopened.could_be_image(readme), text
