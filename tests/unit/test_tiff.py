"""`format: tiff` (engine/encoders/tiff): lossless 8-bit TIFF outputs, RGB, RGBA with
unassociated alpha, grey kept grey, each compression read back by Pillow, tifffile and
libvips; the metadata as tags (EXIF IFDs, XMP 700, IPTC-IIM 33723, ICC 34675, dpi), and
no location under strip-gps; the `compression` key and what TIFF refuses."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import pyvips
import tifffile
from PIL import Image

from hotfolder.config import load
from hotfolder.config.model import ConfigError
from hotfolder.engine import iptc
from hotfolder.engine.encoders import Embedded, Encoding, tiff
from hotfolder.engine.raster import Raster
from tests import sources
from tests.imaging import marked, photo
from tests.rendering import R, render_one, run_one
from tests.unit.test_render_config import HEAD, config_with, problems

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
MAKE, COPYRIGHT = 0x010F, 0x8298
XMP_WITH_PLACE = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'photoshop:City="Hometown" exif:GPSLatitude="48,51.4N" photoshop:Credit="Agency"/></rdf:RDF></x:xmpmeta>'
    b'<?xpacket end="w"?>')
IIM_WITH_PLACE = iptc.serialise([(2, 80, b"Ann Byline"), (2, 90, b"Hometown"), (2, 101, b"Freedonia")])


def frame(mode: str, size=(203, 157)) -> Image.Image:
    """Every pixel different enough that a wrong predictor or byte order shows."""
    rng = np.random.default_rng(7)
    bands = len(mode)
    smooth = np.linspace(0, 255, size[0] * size[1] * bands).reshape(size[1], size[0], bands)
    data = (smooth + rng.integers(0, 40, smooth.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(data[:, :, 0] if bands == 1 else data, mode)


@pytest.mark.parametrize("compression", tiff.COMPRESSIONS)
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_each_mode_and_compression_reads_back_exactly_in_pillow_tifffile_and_libvips(tmp_path, mode, compression):
    im = frame(mode)
    data = tiff.encode(Raster.of(im), Encoding(None, compression=compression))
    want = np.asarray(im)
    with Image.open(io.BytesIO(data)) as back:
        assert back.mode == mode and np.array_equal(np.asarray(back), want)
        assert back.info["compression"] == {"deflate": "tiff_adobe_deflate", "lzw": "tiff_lzw", "none": "raw"}[
            compression]
    path = tmp_path / "out.tif"
    path.write_bytes(data)
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        assert np.array_equal(page.asarray(), want)
        assert page.bitspersample == 8 and page.photometric == (2 if mode.startswith("RGB") else 1)
        if "A" in mode:  # unassociated: what Photoshop reads as transparency, not premultiplied
            assert tuple(page.extrasamples) == (tifffile.EXTRASAMPLE.UNASSALPHA,)
    vips = pyvips.Image.new_from_file(str(path))
    assert vips.bands == len(mode) and vips.format == "uchar"
    got = np.ndarray(buffer=vips.write_to_memory(), dtype=np.uint8, shape=(vips.height, vips.width, vips.bands))
    assert np.array_equal(got.reshape(want.shape), want)


def test_deflate_is_the_default_and_not_larger_than_lzw_on_a_photo():
    """On flat synthetic frames LZW can win; on photos deflate is smaller (bench/tiff.py: 9-13 %)."""
    im = photo((640, 480))
    sizes = {c: len(tiff.encode(Raster.of(im), Encoding(None, compression=c))) for c in tiff.COMPRESSIONS}
    assert tiff.encode(Raster.of(im), Encoding(None)) == tiff.encode(Raster.of(im), Encoding(None,
                                                                                          compression="deflate"))
    assert sizes["deflate"] <= sizes["lzw"] < sizes["none"] * 0.6, sizes


def test_the_metadata_is_written_as_the_tiff_s_own_tags_and_the_exif_cannot_change_its_layout(tmp_path):
    exif = Image.Exif()
    exif[MAKE], exif[COPYRIGHT] = "Camera Maker", "(c) Ann"
    exif[256], exif[259], exif[273], exif[700] = 1, 6, 12345, b"<stale/>"  # layout tags and an old XMP in EXIF
    exif.get_ifd(EXIF_IFD)[0x9003] = "2021:07:04 12:00:00"
    exif.get_ifd(GPS_IFD)[1] = "N"
    icc = sources.adobe_rgb_icc()
    segment = iptc.output_segment(iptc.Iim(IIM_WITH_PLACE, False), False, None, [])
    carried = Embedded(exif=exif.tobytes(), xmp=XMP_WITH_PLACE, icc=icc, iim=segment, dpi=(300.0, 300.0))
    im = frame("RGB")
    data = tiff.encode(Raster.of(im), Encoding(None, carried))
    with Image.open(io.BytesIO(data)) as back:
        back.load()
        tags = back.getexif()
        assert back.size == im.size and np.array_equal(np.asarray(back), np.asarray(im))
        assert tags[MAKE] == "Camera Maker" and tags[COPYRIGHT] == "(c) Ann"
        assert tags.get_ifd(EXIF_IFD)[0x9003] == "2021:07:04 12:00:00" and tags.get_ifd(GPS_IFD)[1] == "N"
        assert back.info["dpi"] == (300.0, 300.0) and back.info["icc_profile"] == icc
        assert back.tag_v2[700] == XMP_WITH_PLACE  # the output's packet, not the EXIF's stale copy
        assert iptc.of_image(back) == iptc.Iim(IIM_WITH_PLACE, False)
    path = tmp_path / "out.tif"
    path.write_bytes(data)
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        assert page.tags["Make"].value == "Camera Maker" and page.tags["InterColorProfile"].value == icc
        assert bytes(page.tags["IPTCNAA"].value).startswith(IIM_WITH_PLACE)
        assert tf.pages[0].tags["ExifTag"].value["DateTimeOriginal"] == "2021:07:04 12:00:00"
    vips = pyvips.Image.new_from_file(str(path))
    assert vips.get("icc-profile-data") == icc and vips.get("xmp-data") == XMP_WITH_PLACE
    assert vips.get("iptc-data").startswith(IIM_WITH_PLACE) and round(vips.xres * 25.4) == 300


def source_with_places(path: Path) -> Path:
    """A JPEG with EXIF (GPS), XMP (city, coordinates) and IPTC-IIM (city, country) in APP13."""
    exif = Image.Exif()
    exif[MAKE], exif[COPYRIGHT] = "Camera Maker", "(c) Ann"
    exif[0x011A], exif[0x011B], exif[0x0128] = 240.0, 240.0, 2
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    segment = iptc.output_segment(iptc.Iim(IIM_WITH_PLACE, False), False, None, [])
    marked((400, 300)).save(path, quality=92, exif=exif, xmp=XMP_WITH_PLACE, icc_profile=sources.adobe_rgb_icc(),
                            extra=segment)
    return path


def test_strip_gps_leaves_no_location_in_any_tag_of_a_tiff(tmp_path):
    src = source_with_places(tmp_path / "p.jpg")
    rendition = R(operation="fit", width=200, height=200, format="tiff")  # metadata: strip-gps, the default
    out = render_one(src, rendition)
    assert (out.ext, out.format) == ("tif", "tiff")
    data = out.data
    for place in (b"Hometown", b"Freedonia", b"GPSLatitude", b"48,51"):
        assert place not in data, place
    with Image.open(io.BytesIO(data)) as back:
        tags = back.getexif()
        assert GPS_IFD not in tags and tags[MAKE] == "Camera Maker"
        assert back.info["dpi"] == (240.0, 240.0) and back.info["icc_profile"]
        assert b"Agency" in back.tag_v2[700]  # the rest of the packet kept
        assert iptc.datasets(iptc.of_image(back).data) == [(2, 80, b"Ann Byline")]
    kept = render_one(src, R(operation="fit", width=200, height=200, format="tiff", metadata="keep")).data
    with Image.open(io.BytesIO(kept)) as back:
        assert back.getexif().get_ifd(GPS_IFD)[1] == "N" and b"Hometown" in back.tag_v2[700]
        assert (2, 90, b"Hometown") in iptc.datasets(iptc.of_image(back).data)


def test_copyright_only_and_strip_all_in_a_tiff(tmp_path):
    src = source_with_places(tmp_path / "p.jpg")
    rights = run_one(src, R(operation="fit", width=200, height=200, format="tiff", metadata="copyright-only"))
    assert MAKE not in rights.getexif() and GPS_IFD not in rights.getexif()
    assert rights.getexif()[COPYRIGHT] == "(c) Ann"
    assert iptc.datasets(iptc.of_image(rights).data) == [(2, 80, b"Ann Byline")]
    bare = run_one(src, R(operation="fit", width=200, height=200, format="tiff", metadata="strip-all"))
    assert {MAKE, COPYRIGHT, GPS_IFD, 700, 33723}.isdisjoint(bare.getexif()) and bare.info["icc_profile"]


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA"])
def test_grey_stays_grey_and_alpha_is_kept_through_the_pipeline(tmp_path, mode):
    src = tmp_path / "p.png"
    frame(mode, (300, 200)).save(src)
    out = run_one(src, R(operation="fit", width=150, height=150, format="tiff"))
    assert out.mode == mode and out.size == (150, 100)


def test_format_same_of_a_tiff_still_writes_png(tmp_path):
    src = tmp_path / "scan.tif"
    marked((300, 200)).save(src)
    assert render_one(src, R(operation="fit", width=100, height=100)).format == "png"


def test_the_compression_key_is_read_for_tiff(tmp_path):
    path = config_with(tmp_path, "format: tiff\ncompression: lzw\n")
    rendition = load(path).folders[0].renditions[0]
    assert (rendition.format, rendition.compression) == ("tiff", "lzw")
    assert load(config_with(tmp_path, "format: tiff\n")).folders[0].renditions[0].compression == "deflate"


@pytest.mark.parametrize("keys, said", [
    ("compression: lzw\n",  # HEAD's format: jpeg
     "folders[shop].renditions[web].compression: only applies to TIFF outputs, not format jpeg: remove it, or use "
     "format: tiff"),
    ("format: same\ncompression: none\n", "compression: only applies to TIFF outputs, not format same (format same "
                                          "writes PNG for a TIFF source): remove it, or use format: tiff"),
    ("format: tiff\ncompression: zip\n", "compression: 'zip' is not one of: deflate, lzw, none"),
    ("format: tiff\nquality: auto\n", "quality: auto needs format jpeg, webp, avif or jxl: TIFF has no quality"),
    ("format: tiff\nmax_bytes: 5MB\n", "max_bytes: needs format jpeg, webp, avif or jxl: TIFF has no quality to "
                                       "lower"),
])
def test_what_tiff_does_not_take_is_refused_naming_the_key_and_the_file(tmp_path, keys, said):
    (line,) = problems(tmp_path, keys)  # each line starts with the config file's path (problems checks it)
    assert said in line, line


def test_a_quality_on_tiff_is_warned_of_as_on_png(tmp_path):
    from hotfolder.config import check

    said = [str(w) for w in check(config_with(tmp_path, "format: tiff\nquality: 90\n")).warnings]
    assert any("quality: has no effect: TIFF is lossless" in w for w in said), said
    with pytest.raises(ConfigError):
        load(config_with(tmp_path, "format: tiff\nquality: auto\n", HEAD))


def test_set_metadata_is_written_into_the_tiff_s_exif_xmp_and_iim(tmp_path):
    from hotfolder.config.model import SetMetadata

    src = source_with_places(tmp_path / "p.jpg")
    credits = SetMetadata(artist="Zoë Studio", copyright="© 2024 Zoë Studio")
    out = run_one(src, R(operation="fit", width=200, height=200, format="tiff", set_metadata=credits))
    assert out.getexif()[0x013B] and "2024" in out.getexif()[COPYRIGHT]
    assert "Zoë Studio".encode() in out.tag_v2[700]
    sets = iptc.datasets(iptc.of_image(out).data)
    assert (2, 80, "Zoë Studio".encode()) in sets and (2, 116, "© 2024 Zoë Studio".encode()) in sets
    assert (2, 80, b"Ann Byline") not in sets and (2, 90, b"Hometown") not in sets  # replaced; strip-gps


def test_a_16_bit_source_comes_out_an_8_bit_tiff(tmp_path):
    src = tmp_path / "scan.png"
    _save_16(src, np.linspace(0, 65535, 300 * 200 * 3).reshape(200, 300, 3).astype(np.uint16))
    out = render_one(src, R(operation="fit", width=150, height=150, format="tiff"))
    with tifffile.TiffFile(io.BytesIO(out.data)) as tf:
        assert tf.pages[0].dtype == np.uint8 and tf.pages[0].shape == (100, 150, 3)


def _save_16(path: Path, deep: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow writes none): through libvips."""
    image = pyvips.Image.new_from_memory(deep.tobytes(), deep.shape[1], deep.shape[0], 3, "ushort")
    image.copy(interpretation="rgb16").pngsave(str(path))


@pytest.mark.parametrize("compression", tiff.COMPRESSIONS)
def test_a_large_frame_in_many_strips_past_64_kb_reads_back_exactly(tmp_path, compression):
    im = photo((1200, 900))  # 3.2 MB: 14 strips of STRIP_BYTES, their offsets past 65535
    data = tiff.encode(Raster.of(im), Encoding(None, compression=compression))
    path = tmp_path / "big.tif"
    path.write_bytes(data)
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        assert len(page.dataoffsets) == -(-900 // (tiff.STRIP_BYTES // 3600)) and max(page.dataoffsets) > 65535
        assert np.array_equal(page.asarray(), np.asarray(im))
    with Image.open(path) as back:
        assert np.array_equal(np.asarray(back), np.asarray(im))
    vips = pyvips.Image.new_from_file(str(path))
    got = np.ndarray(buffer=vips.write_to_memory(), dtype=np.uint8, shape=(900, 1200, 3))
    assert np.array_equal(got, np.asarray(im))


def test_a_tiff_scan_s_location_is_left_out_of_its_tiff_under_strip_gps(tmp_path):
    """A TIFF source (a scan, a Photoshop export): its GPS IFD, its XMP (tag 700) and its
    IPTC-IIM (tag 33723) each name the place; the TIFF made of it names none."""
    exif = Image.Exif()
    exif[MAKE] = "Scanner Maker"
    exif.get_ifd(GPS_IFD)[1] = "N"
    segment = iptc.output_segment(iptc.Iim(IIM_WITH_PLACE, False), False, None, [])
    src = tmp_path / "scan.tif"  # by the encoder: a TIFF Pillow saved with this EXIF read back without its GPS
    src.write_bytes(tiff.encode(Raster.of(marked((400, 300))),
                                Encoding(None, Embedded(exif=exif.tobytes(), xmp=XMP_WITH_PLACE, iim=segment))))
    with Image.open(src) as check:
        assert check.getexif().get_ifd(GPS_IFD)[1] == "N" and iptc.of_image(check) is not None
    data = render_one(src, R(operation="fit", width=200, height=200, format="tiff")).data
    for place in (b"Hometown", b"Freedonia", b"GPSLatitude", b"48,51"):
        assert place not in data, place
    with Image.open(io.BytesIO(data)) as back:
        assert GPS_IFD not in back.getexif() and back.getexif()[MAKE] == "Scanner Maker"
        assert b"Agency" in back.tag_v2[700] and iptc.datasets(iptc.of_image(back).data) == [(2, 80, b"Ann Byline")]


def _ifds(data: bytes) -> dict[int, list[int]]:
    """Every IFD a reader walks from IFD0 through the Exif, GPS and Interop pointers (and SubIFDs):
    its offset and its tags, read with struct; a pointer met twice stops there (a loop)."""
    import struct

    order = "<" if data[:2] == b"II" else ">"
    found: dict[int, list[int]] = {}
    todo = [struct.unpack_from(order + "L", data, 4)[0]]
    while todo:
        at = todo.pop()
        if at in found or at + 2 > len(data):
            found.setdefault(at, [-1])  # a loop or out of the file
            continue
        count = struct.unpack_from(order + "H", data, at)[0]
        tags = []
        for i in range(count):
            tag, typ, n, value = struct.unpack_from(order + "HHLL", data, at + 2 + 12 * i)
            tags.append(tag)
            if tag in (0x8769, 0x8825, 0xA005, 330):
                todo.append(value if typ == 4 else value & 0xFFFF if order == "<" else value >> 16)
        found[at] = tags
    return found


def test_a_source_exif_without_an_exif_ifd_makes_no_empty_directory(tmp_path):
    """A scanner's EXIF (Make, no Exif IFD): the output's EXIF is made to state its size
    there, which left an Exif IFD of no entries, which libtiff refuses to read
    ("zero tag directories not supported", tiffinfo's error on every such TIFF)."""
    exif = Image.Exif()
    exif[MAKE] = "Scanner Maker"
    src = tmp_path / "scan.png"
    marked((200, 150)).save(src, exif=exif.tobytes())
    for metadata in ("strip-gps", "keep"):
        data = render_one(src, R(operation="fit", width=100, height=100, format="tiff", metadata=metadata)).data
        ifds = _ifds(data)
        assert all(tags for tags in ifds.values()), ifds
        with Image.open(io.BytesIO(data)) as back:
            assert back.getexif()[MAKE] == "Scanner Maker"


def test_a_source_exif_ifd_pointing_back_at_ifd0_writes_no_loop_nor_stale_pointer():
    """A crafted EXIF whose Exif IFD pointer points at IFD0 itself: Pillow reads IFD0's tags
    as the Exif IFD, pointers included, and they came out as stale offsets into the TIFF
    (exiftool -validate ran forever on it). No sub-IFD holds a pointer of its own but Interop,
    and none points anywhere but at an IFD this file holds."""
    import struct

    entries = [(MAKE, 2, 2, b"M\0\0\0"), (EXIF_IFD, 4, 1, struct.pack("<L", 8)), (GPS_IFD, 4, 1, struct.pack("<L", 50)),
               (330, 4, 1, struct.pack("<L", 8))]
    raw = b"II*\0" + struct.pack("<LH", 8, len(entries))
    raw += b"".join(struct.pack("<HHL", t, typ, n) + v for t, typ, n, v in entries) + struct.pack("<L", 0)
    data = tiff.encode(Raster.of(frame("RGB", (20, 10))), Encoding(None, Embedded(exif=b"Exif\0\0" + raw)))
    ifds = _ifds(data)
    assert all(tags and tags != [-1] for tags in ifds.values()), ifds
    assert 330 not in ifds[8]
    for at, tags in ifds.items():
        if at != 8:
            assert {EXIF_IFD, GPS_IFD, 330}.isdisjoint(tags), ifds
    with Image.open(io.BytesIO(data)) as back:
        assert back.getexif()[MAKE] == "M" and np.array_equal(np.asarray(back), np.asarray(frame("RGB", (20, 10))))


@pytest.mark.parametrize("fmt", ["tiff", "jpeg"])
def test_a_source_iim_past_64_kb_is_left_out_with_a_note_not_a_failure(tmp_path, fmt):
    """A TIFF scan whose IPTC-IIM (tag 33723) holds 1,200 keywords, 77 KB: every output of it
    failed ("'H' format requires 0 <= number <= 65535", the APP13 length packed before its
    size was checked). The IIM is left out as the check meant, and the note says so."""
    from PIL import TiffImagePlugin

    sets = [(2, 80, b"Ann Byline"), *[(2, 25, b"k%04d" % i + b"x" * 55) for i in range(1200)]]
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[33723] = iptc.serialise(sets)
    info.tagtype[33723] = 7
    info[MAKE] = "Scanner Maker"
    src = tmp_path / "scan.tif"
    marked((300, 200)).save(src, tiffinfo=info)
    out = render_one(src, R(operation="fit", width=100, height=100, format=fmt, metadata="keep"))
    assert any("IPTC-IIM" in note and "left out" in note for note in out.notes), out.notes
    with Image.open(io.BytesIO(out.data)) as back:
        assert back.size == (100, 67) and iptc.of_image(back) is None
