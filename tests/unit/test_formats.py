"""HEIC (pi-heif) and camera RAW (rawpy/LibRaw) sources, on files the tests make
(tests/sources.py): upright exactly once, at the right size, in sRGB, GPS stripped;
broken ones refused with the decoder's reason."""
from __future__ import annotations

import io
import os
import struct
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hotfolder.engine import colour, matrixicc, pipeline
from hotfolder.engine.colour import srgb_icc
from hotfolder.engine.pipeline import InputError
from tests import sources
from tests.imaging import BLUE, GREY, RED, camera_exif, marked, photo, stored_as
from tests.rendering import ALL_FORMATS, R, near, run, run_one

MAKE, SOFTWARE, GPS = 0x010F, 0x0131, pipeline.GPS_IFD_TAG


def upright_marks(im: Image.Image, tol=40) -> bool:
    """marked(): red top-left, blue top-right, grey below."""
    im = im.convert("RGB")
    w, h = im.size
    return (near(im.getpixel((2, 2)), RED, tol) and near(im.getpixel((w - 3, 2)), BLUE, tol)
            and near(im.getpixel((w // 2, h - 3)), GREY, tol))


# --- HEIC ----------------------------------------------------------------------------

def test_an_iphone_heic_is_turned_once_converted_to_srgb_and_stripped_of_gps(tmp_path):
    # An iPhone writes the turn twice: as the HEIF's irot transform and as EXIF 6.
    src = sources.heic(tmp_path / "IMG_0001.HEIC", stored_as(marked((240, 160)), 6),
                       exif=camera_exif(orientation=6), icc=sources.display_p3_icc())
    (out,) = run(src, R(operation="fit", width=120, height=120))
    im = Image.open(io.BytesIO(out.data))
    assert out.ext == "jpg" and im.format == "JPEG"  # format `same` writes JPEG for HEIC
    assert im.size == (120, 80) and upright_marks(im)
    assert im.info["icc_profile"] == srgb_icc()
    exif = im.getexif()
    assert exif[MAKE] == "Camera Maker" and GPS not in exif and pipeline.ORIENTATION_TAG not in exif
    kept = run_one(src, R(operation="fit", width=120, height=120, metadata="keep", color_profile="keep"))
    assert kept.getexif().get_ifd(GPS)[1] == "N" and kept.info["icc_profile"] == sources.display_p3_icc()


def test_a_heic_exif_orientation_without_a_transform_is_not_applied(tmp_path):
    # HEIF's own transforms orient it; an EXIF tag alone is informational (MIAF), as
    # libheif and libvips show such a file. It is not carried either: no viewer turns it.
    stored = stored_as(marked((240, 160)), 6)
    src = sources.heic(tmp_path / "tagged.heic", stored, exif=camera_exif(), exif_orientation_only=6)
    im = run_one(src, R(operation="fit", width=120, height=120, format="png"))
    assert im.size == (80, 120)
    assert near(im.getpixel((2, 2)), stored.resize((80, 120)).getpixel((2, 2)), 40)
    assert pipeline.ORIENTATION_TAG not in im.getexif() and im.getexif()[MAKE] == "Camera Maker"


def test_orient_false_cannot_undo_what_libheif_applied(tmp_path):
    src = sources.heic(tmp_path / "o6.heic", stored_as(marked((240, 160)), 6), exif=camera_exif(orientation=6))
    im = run_one(src, R(operation="fit", width=120, height=120, format="png", orient=False, metadata="keep"))
    assert im.size == (120, 80) and upright_marks(im)
    assert im.getexif().get(pipeline.ORIENTATION_TAG, 1) == 1  # never a tag that would turn it again


def test_a_10_bit_p3_heic_is_converted_from_its_16_bits(tmp_path):
    ramp = np.linspace(0, 65535, 1024).round().astype(np.uint16)
    pixels = np.zeros((16, 1024, 3), np.uint16)
    pixels[..., 0] = ramp
    src = sources.heic(tmp_path / "deep.heic", pixels, icc=sources.display_p3_icc())
    with Image.open(src) as check:
        assert check.info["bit_depth"] == 10
    out = run_one(src, R(operation="none", format="png"))
    red = np.asarray(out)[8, :, 0].astype(int)
    assert out.info["icc_profile"] == srgb_icc()
    assert red[0] <= 1 and red[-1] >= 254 and np.all(np.diff(red) >= -1)
    assert len(set(red.tolist())) >= 245  # 10 bits converted, not 8 (which loses ~10 % of levels)


def test_a_10_bit_heic_in_bt2020_by_code_is_converted_from_its_16_bits(tmp_path):
    """A 10-bit HEIC whose colour is BT.2020's by code (an SDR curve) goes through the 16-bit
    path with the BT.2020 profile: the same colour as the 8-bit conversion, to 2 levels."""
    from PIL import ImageCms

    nclx = {"color_primaries": 9, "transfer_characteristics": 14, "matrix_coefficients": 9, "full_range_flag": 1}
    pixels = np.zeros((32, 48, 3), np.uint16)
    pixels[...] = np.array([40, 200, 60], np.uint16) * 257
    src = sources.phone_heic(tmp_path / "deep2020.heic", pixels, tile=None, nclx=nclx, quality=100, chroma=444)
    with Image.open(src) as check:
        assert check.info["bit_depth"] == 10
    out = run_one(src, R(operation="none", format="png"))
    assert out.info["icc_profile"] == srgb_icc()
    stated = ImageCms.ImageCmsProfile(io.BytesIO(matrixicc.bt2020()))
    want = ImageCms.profileToProfile(Image.new("RGB", (1, 1), (40, 200, 60)), stated,
                                     ImageCms.createProfile("sRGB")).getpixel((0, 0))
    got = out.convert("RGB").getpixel((24, 16))
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 3, (got, want)


@pytest.mark.parametrize("decoder", ["ffmpeg", "libheif"])
def test_a_10_bit_heic_in_pq_is_tone_mapped_to_sdr(tmp_path, monkeypatch, decoder):
    """Canon's HDR-PQ .hif (BT.2020, PQ, 10 bits) was taken as sRGB: its reference white came
    out at 148, dim and flat. Tone-mapped (engine/hdr): 18 % of the reference white (203 nits)
    is sRGB's 18 % grey, the reference white stays under the 1000-nit highlight, rolled off."""
    from hotfolder.engine import hdr
    from hotfolder.engine.decoders import hevc

    if decoder == "libheif":
        monkeypatch.setattr(hevc, "available", lambda: False)
    elif not hevc.available():
        pytest.skip("PyAV (the heic-ffmpeg extra) is not installed")

    def signal(light: float) -> int:  # PQ's inverse EOTF, as a 10-bit code at 16 bits
        y = (light / hdr.PEAK) ** hdr.M1
        return round(((hdr.C1 + hdr.C2 * y) / (1 + hdr.C3 * y)) ** hdr.M2 * 1023) << 6

    pixels = np.zeros((32, 96, 3), np.uint16)
    for i, light in enumerate((0.18 * hdr.REFERENCE_WHITE, hdr.REFERENCE_WHITE, 1000.0)):
        pixels[:, i * 32:(i + 1) * 32] = signal(light)
    nclx = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9, "full_range_flag": 1}
    src = sources.phone_heic(tmp_path / "pq.heic", pixels, tile=None, nclx=nclx, quality=100, chroma=444)
    (out,) = run(src, R(operation="none", format="png"))
    grey, white, highlight = (Image.open(io.BytesIO(out.data)).convert("RGB").getpixel((16 + 32 * i, 16))
                              for i in range(3))
    assert all(abs(v - 118) <= 2 for v in grey), grey  # sRGB's encoding of 0.18
    assert all(236 <= v <= 248 for v in white) and highlight == (255, 255, 255), (white, highlight)
    assert out.notes == (hdr.NOTE,)


def test_a_10_bit_monochrome_heic_is_rendered_grey_from_its_16_bits(tmp_path):
    """pillow-heif's own test file of this kind failed: its one band was read as three
    ("unable to make image from memory")."""
    import pillow_heif

    ramp = (np.linspace(0, 1023, 1024).round().astype("<u2") << 6).reshape(1, 1024).repeat(16, axis=0)
    src = tmp_path / "grey10.heic"
    pillow_heif.from_bytes("I;16", (1024, 16), ramp.tobytes()).save(src, quality=-1)
    with Image.open(src) as check:
        assert check.info["bit_depth"] == 10
    out = run_one(src, R(operation="none", format="png"))
    grey = np.asarray(out)[8].astype(int)
    assert out.mode == "L" and out.size == (1024, 16)
    assert grey[0] <= 1 and grey[-1] >= 254 and np.all(np.diff(grey) >= -1)
    assert np.abs(grey - ramp[8] / 257).max() <= 2


def test_only_the_primary_image_of_a_heic_is_rendered(tmp_path):
    import pillow_heif

    src = tmp_path / "two.heic"
    heif = pillow_heif.from_pillow(Image.new("RGB", (64, 48), RED))
    heif.add_from_pillow(Image.new("RGB", (96, 64), BLUE))
    heif.save(src, quality=-1, chroma=444, primary_index=1)
    for animation in ("first-frame", "fail"):  # several images are not an animation
        im = run_one(src, R(operation="none", format="png"), animation=animation)
        assert im.size == (96, 64) and near(im.getpixel((10, 10)), BLUE, 10)


def test_a_truncated_heic_fails_with_libheifs_reason(tmp_path):
    src = sources.heic(tmp_path / "cut.heic", photo((256, 192)))
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert err.value.step in ("open", "decode") and err.value.reason


def test_a_heic_cut_inside_its_boxes_is_said_to_be_one_libheif_cannot_read(tmp_path):
    """Cut inside its boxes, Pillow cannot even identify it: the reason was "not an image in
    an accepted format (accepted: …, heic, …)", as if HEIC were refused. Its ftyp says
    HEIC, so libheif says why."""
    from hotfolder.workers import truncation

    src = sources.heic(tmp_path / "cut.heic", photo((256, 192)))
    data = src.read_bytes()
    src.write_bytes(data[:200])  # inside its meta box: Pillow cannot identify it
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert err.value.step == "open" and "not an image" not in err.value.reason
    assert err.value.reason.startswith("a HEIC (HEIF) file that libheif cannot read: Invalid input")
    src.write_bytes(data[:len(data) // 2])  # inside its pixels: opened, and libheif says so at decode
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert truncation.cut_short(err.value.reason, src)
    avif = tmp_path / "not.heic"  # an AVIF lists mif1 too: never taken for a HEIC
    avif.write_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64))
    with pytest.raises(InputError) as err:
        run(avif, R())
    assert "HEIC" not in err.value.reason
    assert err.value.reason.startswith("an AVIF file that cannot be opened: it is damaged, cut short"), err.value


def test_a_damaged_avif_is_a_decode_failure_in_its_words_never_an_error_of_ours(tmp_path):
    """libavif's RuntimeError ("Decoding of color planes failed") escaped as a bug of ours:
    step `render`, a traceback in the log (a fuzz round). Truncated, it was "not an image"."""
    src = tmp_path / "a.avif"
    marked().save(src, "AVIF", quality=60)
    data = bytearray(src.read_bytes())
    mdat = data.index(b"mdat") + 4
    for at in range(mdat + 40, len(data) - 8, 7):
        data[at] ^= 0xFF  # the AV1 payload scrambled, the boxes intact
    src.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert err.value.step in ("open", "decode"), err.value
    src.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert "AVIF" in err.value.reason or err.value.step == "decode", err.value


def test_heic_not_accepted_is_named(tmp_path):
    src = sources.heic(tmp_path / "a.heic", marked())
    with pytest.raises(InputError, match=r"format heic is not accepted \(accepted: jpeg, png\)"):
        run(src, R(), accepted=("jpeg", "png"))


# --- the pixel limit ---------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "tiff", "gif", "bmp", "avif", "heic", "dng"])
def test_the_pixel_limit_speaks_for_itself_in_every_format(tmp_path, fmt):
    # 60x40 = 2,400 pixels against 1,000: Pillow's own check (an error beyond 2x) would
    # speak first; ours names the key to change.
    src = tmp_path / f"big.{fmt}"
    if fmt == "heic":
        sources.heic(src, marked((60, 40)))
    elif fmt == "dng":
        sources.dng(src, marked((60, 40)))
    else:
        marked((60, 40)).save(src, format=fmt.upper())
    with pytest.raises(InputError) as err:
        run(src, R(), max_pixels=1000, accepted=ALL_FORMATS)
    assert err.value.step == "open"
    # what to change, not only what is wrong (the shop's audit)
    assert err.value.reason == ("60x40 is 2,400 pixels, more than max_image_pixels (1,000): raise it to take "
                                "such files (a worker needs up to 17 bytes a pixel of it), or drop a smaller export")


# --- RAW -----------------------------------------------------------------------------

def dng_of_marks(path: Path, **kw) -> Path:
    """A DNG whose sensor saw marked() on its side (the camera held upright: flip 6)."""
    kw.setdefault("orientation", 6)
    return sources.dng(path, stored_as(marked((480, 320)), kw["orientation"]), **kw)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("mode", ["develop", "preview"])
def test_a_dng_is_upright_in_srgb_at_the_size_asked(tmp_path, orientation, mode):
    src = dng_of_marks(tmp_path / "IMG_0002.dng", orientation=orientation, preview_scale=1)
    (out,) = run(src, R(operation="fit", width=240, height=240), raw=mode)
    im = Image.open(io.BytesIO(out.data))
    assert out.ext == "jpg" and im.format == "JPEG" and im.size == (240, 160)
    assert upright_marks(im, tol=45)
    assert pipeline.ORIENTATION_TAG not in im.getexif()
    assert im.info.get("icc_profile") == (srgb_icc() if mode == "develop" else None)


def test_a_develop_of_a_photo_matches_it(tmp_path):
    pytest.importorskip("skimage")
    from skimage.metrics import structural_similarity

    picture = photo((640, 480))
    src = sources.dng(tmp_path / "photo.dng", picture)
    for size in (640, 200):  # full, then half size (every rendition needs at most half)
        out = run_one(src, R(operation="fit", width=size, height=size, format="png"), raw="develop")
        ref = picture.resize(out.size, Image.Resampling.LANCZOS)
        score = structural_similarity(np.asarray(out.convert("L")), np.asarray(ref.convert("L")), data_range=255)
        assert score >= 0.8, (size, score)


def test_preview_mode_uses_the_embedded_jpeg_turned_once_by_the_raws_flip(tmp_path):
    # LibRaw hands the preview out with an EXIF made of the RAW's tags, Orientation (6)
    # and GPS included: turned once, GPS stripped, the RAW's make carried.
    src = dng_of_marks(tmp_path / "p.dng", gps=True)
    (out,) = run(src, R(operation="fit", width=400, height=400), raw="preview")
    im = Image.open(io.BytesIO(out.data))
    assert im.size == (120, 80)  # the preview (1/4 of the sensor), not enlarged
    assert upright_marks(im)
    exif = im.getexif()
    assert exif[MAKE] == "Hotfolder" and GPS not in exif and pipeline.ORIENTATION_TAG not in exif
    assert SOFTWARE not in exif  # LibRaw's "dcraw v9.26", not the camera's
    kept = run_one(src, R(operation="fit", width=400, height=400, metadata="keep"), raw="develop")
    assert kept.getexif().get_ifd(GPS)[2] == (48.0, 51.0, 24.0) and upright_marks(kept, tol=45)


def test_a_preview_s_exif_made_by_libraw_keeps_when_the_photo_was_taken(tmp_path):
    # LibRaw writes the RAW's shot time into the EXIF it makes as IFD0's DateTime (dcraw's
    # habit): the outputs said nothing of when the photo was taken (no DateTimeOriginal),
    # so a gallery sorted a wedding's RAWs by their export, not by the ceremony.
    src = sources.dng(tmp_path / "p.dng", photo((240, 160)), exif={0x9003: (2, "2026:06:13 14:02:10")})
    for mode in ("preview", "develop"):
        out = run_one(src, R(operation="fit", width=100, height=100, metadata="keep"), raw=mode)
        assert out.getexif().get_ifd(0x8769).get(0x9003) == "2026:06:13 14:02:10", mode


def test_a_raw_with_no_date_gives_its_outputs_none_not_libraw_s_epoch(tmp_path):
    # LibRaw's EXIF of a RAW that says no date has DateTime 1970:01:01 00:00:00 (timestamp 0):
    # given as DateTimeOriginal (6702a37), the outputs said they were taken in 1970.
    src = sources.dng(tmp_path / "p.dng", photo((240, 160)))
    for mode in ("preview", "develop"):
        out = run_one(src, R(operation="fit", width=100, height=100, metadata="keep"), raw=mode)
        exif = out.getexif()
        assert 0x9003 not in exif.get_ifd(0x8769) and not str(exif.get(0x0132, "")).startswith("1970"), mode


def test_a_preview_with_an_exif_orientation_of_its_own_is_turned_by_the_flip_only(tmp_path):
    # A camera's preview that starts with its own EXIF (here Orientation 3) keeps it: the
    # flip (6) still decides, once.
    exif = camera_exif(orientation=3)
    src = dng_of_marks(tmp_path / "p.dng", preview_exif=exif)
    _jpeg_starts_with_exif(src)
    im = run_one(src, R(operation="fit", width=400, height=400), raw="preview")
    assert im.size == (120, 80) and upright_marks(im)
    assert im.getexif()[MAKE] == "Camera Maker" and GPS not in im.getexif()


def _jpeg_starts_with_exif(src: Path) -> None:
    """Move the preview's APP1 (EXIF) before Pillow's APP0 (JFIF), as a camera writes it,
    so LibRaw hands the preview out as it is."""
    data = bytearray(src.read_bytes())
    soi = data.index(b"\xff\xd8\xff\xe0")
    app0_len = int.from_bytes(data[soi + 4:soi + 6], "big")
    app0 = data[soi + 2:soi + 4 + app0_len]
    app1_at = soi + 4 + app0_len
    assert data[app1_at:app1_at + 2] == b"\xff\xe1"
    app1 = data[app1_at:app1_at + 2 + int.from_bytes(data[app1_at + 2:app1_at + 4], "big")]
    data[soi + 2:app1_at + len(app1)] = app1 + app0
    src.write_bytes(bytes(data))


def test_a_preview_stored_already_turned_is_not_turned_again(tmp_path):
    src = dng_of_marks(tmp_path / "p.dng", preview_stored_upright=True)
    im = run_one(src, R(operation="fit", width=400, height=400), raw="preview")
    assert im.size == (120, 80) and upright_marks(im)


def test_auto_takes_the_preview_when_it_covers_the_largest_rendition(tmp_path):
    # The preview shows another picture (all blue), so the output tells which was used.
    src = sources.dng(tmp_path / "a.dng", marked((480, 320)), preview_scale=2,
                      preview_image=Image.new("RGB", (480, 320), BLUE))
    small = R(name="s", operation="fit", width=200, height=200)
    large = R(name="l", operation="fit", width=400, height=400)
    covered = [Image.open(io.BytesIO(o.data)) for o in run(src, small)]
    assert near(covered[0].getpixel((100, 60)), BLUE, 30)  # 240x160 preview covers 200
    developed = [Image.open(io.BytesIO(o.data)) for o in run(src, small, large)]
    assert all(upright_marks(im, tol=45) for im in developed)  # 240 px does not cover 400: developed
    assert developed[1].size == (400, 267)


def test_a_raw_without_a_preview_fails_in_preview_mode_and_develops_in_auto(tmp_path):
    src = dng_of_marks(tmp_path / "bare.dng", preview_scale=None)
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=100, height=100), raw="preview")
    assert err.value.step == "decode"
    assert "no usable embedded preview" in err.value.reason and "raw: to develop or auto" in err.value.reason
    assert upright_marks(run_one(src, R(operation="fit", width=120, height=120), raw="auto"), tol=45)


def test_a_truncated_raw_fails_at_decode_with_libraws_reason(tmp_path):
    src = dng_of_marks(tmp_path / "cut.dng")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=400, height=400), raw="develop")
    assert err.value.step == "decode"
    assert err.value.reason == "the RAW data could not be read (LibRaw: Input/output error: Unexpected end of file)"


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty (0 bytes): nothing was written into it; copy or export it in again"),
    (b"\0" + os.urandom(4095),  # the NUL: no other format's signature, ever
     "not a camera RAW that LibRaw can read (LibRaw: Unsupported file format or not RAW file)"),
    (b"\xff\xd8\xff\xe0 a JPEG's start", "not a camera RAW that LibRaw can read (LibRaw: Input/output error); "
                                       "it is a JPEG (.jpg) file: give it that extension"),  # a fuzz round's F9
    (b"\x89PNG\r\n\x1a\n" + bytes(600), "not a camera RAW that LibRaw can read (LibRaw: Unsupported file format or "
                                         "not RAW file); it is a PNG (.png) file: give it that extension"),
], ids=["empty", "random", "short", "png"])
def test_bytes_that_are_not_a_raw_are_refused_by_libraw(tmp_path, content, reason):
    src = tmp_path / "fake.cr2"
    src.write_bytes(content)
    with pytest.raises(InputError) as err:
        run(src, R())
    assert err.value.step == "open" and err.value.reason == reason


@pytest.mark.parametrize("name", ["empty.jpg", "empty.png", "empty"])
def test_an_empty_file_says_to_copy_it_again(tmp_path, name):
    src = tmp_path / name
    src.write_bytes(b"")
    with pytest.raises(InputError) as err:
        run(src, R())
    assert err.value.step == "open"
    assert err.value.reason == "the file is empty (0 bytes): nothing was written into it; copy or export it in again"


def test_raw_not_accepted_is_named(tmp_path):
    src = dng_of_marks(tmp_path / "a.nef")
    with pytest.raises(InputError, match=r"format raw is not accepted \(accepted: jpeg, heic\)"):
        run(src, R(), accepted=("jpeg", "heic"))


def test_a_raw_and_a_jpeg_of_one_stem_keep_their_own_outputs(tmp_path):
    from hotfolder import jobs
    from hotfolder.config import parse
    from hotfolder.workers import render

    folder_yaml = textwrap.dedent("""
        folders:
          - inbox: in
            output: out
            archive: archive
            failed: failed
            renditions: [{name: web, size: 200, format: jpeg}]
    """)
    cfg = parse(folder_yaml, "<test>", tmp_path)
    folder = cfg.folders[0]
    folder.processing.mkdir(parents=True)
    sources.dng(folder.processing / "IMG_0001.CR3", Image.new("RGB", (320, 240), BLUE))
    Image.new("RGB", (320, 240), RED).save(folder.processing / "IMG_0001.JPG")
    results = [render.process_one(jobs.Job(i, folder, folder.processing / name, name, cfg.accepted_formats,
                                             cfg.max_image_pixels))
               for i, name in enumerate(["IMG_0001.JPG", "IMG_0001.CR3"])]
    assert [r.outputs for r in results] == [("IMG_0001_web.jpg",), ("IMG_0001_web~cr3.jpg",)], results
    with Image.open(folder.output / "IMG_0001_web~cr3.jpg") as im:
        assert near(im.convert("RGB").getpixel((100, 75)), BLUE, 40)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_webp_is_decoded_by_libwebp_with_pillows_pixels_and_its_metadata(tmp_path, mode):
    """engine/decoders/webp: imagecodecs' libwebp, twice as fast as Pillow's reader; the same
    pixels (the full-size output, PNG, compared with Pillow's decode), EXIF and ICC."""
    from hotfolder.engine.decode import decode
    from hotfolder.engine.opening import our_pixel_limit
    from hotfolder.engine.resample import Frame

    im = photo((300, 200)).convert(mode)
    if mode == "RGBA":
        im.putalpha(Image.linear_gradient("L").resize(im.size))
    src = tmp_path / "a.webp"
    im.save(src, "WEBP", quality=90, exif=camera_exif(orientation=6), icc_profile=srgb_icc())
    decoded = decode(src, (R(operation="none", format="png"),), accepted_formats=("webp",),
                     max_image_pixels=10**8, animation="first-frame")
    assert isinstance(decoded.frame, Frame) and decoded.meta.orientation == 6 and decoded.meta.icc == srgb_icc()
    with our_pixel_limit(), Image.open(src) as pil:  # whatever limit an earlier test left
        pil.load()
        assert decoded.frame.mode == pil.mode and np.array_equal(np.asarray(decoded.frame.pil()), np.asarray(pil))
    out = run_one(src, R(operation="none", format="png", metadata="keep"))
    assert out.size == (200, 300)  # turned upright by its EXIF, as before


def test_an_animated_or_damaged_webp_is_read_by_pillow_as_before(tmp_path):
    anim = tmp_path / "anim.webp"
    Image.new("RGB", (64, 48), RED).save(anim, "WEBP", save_all=True,
                                         append_images=[Image.new("RGB", (64, 48), BLUE)], duration=100)
    im = run_one(anim, R(operation="none", format="png"), animation="first-frame")
    assert im.size == (64, 48) and near(im.getpixel((10, 10)), RED, 12)
    cut = tmp_path / "cut.webp"
    photo((300, 200)).save(cut, "WEBP", quality=90)
    cut.write_bytes(cut.read_bytes()[:-200])
    with pytest.raises(InputError) as err:
        run(cut, R())
    assert err.value.reason


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_an_8_bit_png_is_decoded_by_libspng_with_pillows_pixels_and_its_metadata(tmp_path, mode):
    from hotfolder.engine.decode import decode
    from hotfolder.engine.opening import our_pixel_limit
    from hotfolder.engine.resample import Frame

    pipeline.configure(10**8)  # Pillow's global limit, whatever an earlier test left
    im = photo((300, 200)).convert(mode)
    src = tmp_path / "a.png"
    im.save(src, "PNG", exif=camera_exif(orientation=6), icc_profile=srgb_icc() if mode != "L" else None)
    decoded = decode(src, (R(operation="none", format="png"),), accepted_formats=("png",),
                     max_image_pixels=10**8, animation="first-frame")
    assert isinstance(decoded.frame, Frame) and decoded.meta.orientation == 6
    assert decoded.meta.icc == (srgb_icc() if mode != "L" else None)
    with our_pixel_limit(), Image.open(src) as pil:
        pil.load()
        assert decoded.frame.mode == mode and np.array_equal(np.asarray(decoded.frame.pil()), np.asarray(pil))


def test_a_png_libspng_is_not_given_is_read_by_pillow_with_all_it_carries(tmp_path):
    """A palette, grey with alpha, a tRNS colour, 16 bits, an animation, EXIF after the
    pixels: Pillow's decode (what libspng would not give the same, or Pillow reads only
    while decoding)."""
    from hotfolder.engine.decode import decode
    from hotfolder.engine.decoders.png import _metadata_after_pixels
    from hotfolder.engine.resample import Frame

    def decoded(path):
        return decode(path, (R(operation="none", format="png"),), accepted_formats=("png",),
                      max_image_pixels=10**8, animation="first-frame")

    pipeline.configure(10**8)  # Pillow's global limit, whatever an earlier test left
    base = photo((64, 48))
    made = {"p.png": (base.convert("P"), {}), "la.png": (base.convert("LA"), {}),
            "trns.png": (base, {"transparency": (255, 255, 255)}),
            "apng.png": (base, {"save_all": True, "append_images": [base.rotate(90)]})}
    for name, (im, options) in made.items():
        im.save(tmp_path / name, "PNG", **options)
        assert not isinstance(decoded(tmp_path / name).frame, Frame), name
    late = tmp_path / "late.png"
    base.save(late, "PNG")
    data = late.read_bytes()
    exif = camera_exif(orientation=6)
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    late.write_bytes(data[:-12] + chunk + data[-12:])  # just before IEND
    assert _metadata_after_pixels(late.read_bytes()) and not _metadata_after_pixels(data)
    assert decoded(late).meta.orientation == 6


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_an_exif_of_garbage_is_left_out_and_said_and_the_picture_rendered(tmp_path, fmt):
    """A PNG's eXIf or a WebP's EXIF of garbage failed the whole picture ("the EXIF data is
    corrupt: not a TIFF file"), where a JPEG's was passed over (a fuzz round): now it is
    rendered without that EXIF, and the log says so."""
    import random

    garbage = b"\xbe\x88" + bytes(random.Random(7).randrange(256) for _ in range(300))  # no TIFF header
    src = tmp_path / f"garbage.{fmt}"
    Image.new("RGB", (96, 64), (30, 140, 90)).save(src, exif=garbage)
    (out,) = run(src, R(operation="fit", width=48, height=48, format="jpeg", metadata="keep"))
    assert Image.open(io.BytesIO(out.data)).size == (48, 32)
    assert any("EXIF cannot be read" in note and "not a TIFF file" in note for note in out.notes), out.notes


def test_a_tiff_cut_short_before_its_directory_is_said_truncated_not_unreadable(tmp_path):
    """libtiff (libvips, Photoshop) writes the directory last: a copy cut short lost it, and
    the reason named a sample layout hotfolder cannot read, so it failed at once instead of
    waiting for its writer (a fuzz round)."""
    import pyvips

    from hotfolder.workers import truncation

    src = tmp_path / "cut.tif"
    noise = pyvips.Image.gaussnoise(300, 200, sigma=60)
    noise.bandjoin([noise, noise]).cast("uchar").tiffsave(str(src), compression="deflate")
    data = src.read_bytes()
    assert int.from_bytes(data[4:8], "little" if data[:2] == b"II" else "big") > len(data) // 2  # written last
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert err.value.reason.startswith("the TIFF is truncated: its directory"), err.value
    assert truncation.cut_short(err.value.reason, src)


def zero_strip_offsets(src: Path) -> None:
    """Every StripOffsets value of a little-endian TIFF's IFD0 set to 0, as a writer that
    never filled them in leaves them."""
    data = bytearray(src.read_bytes())
    assert data[:4] == b"II*\0"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        tag, kind, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)
        if tag == 273:
            width = 4 if kind == 4 else 2
            at = ifd + 2 + 12 * k + 8 if count * width <= 4 else value
            data[at:at + count * width] = bytes(count * width)
    src.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["8-bit", "8-bit LZW", "16-bit", "float"])
def test_a_tiff_whose_strips_start_in_its_header_fails_as_damaged_not_rendered_as_noise(tmp_path, kind):
    """StripOffsets 0 (a writer that never recorded where the pixels are): Pillow read the
    header and the directory as pixels and the renditions were noise, written as done."""
    src = tmp_path / "zeroed.tif"
    picture = np.random.default_rng(3).integers(0, 255, (48, 64, 3), np.uint8)
    if kind.startswith("8-bit"):
        Image.fromarray(picture).save(src, compression="tiff_lzw" if "LZW" in kind else None)
    else:
        sources.tiff(src, picture.astype(np.uint16) * 257 if kind == "16-bit" else picture.astype(np.float32) / 255)
    run(src, R(operation="fit", width=32, height=32))  # whole, it renders
    zero_strip_offsets(src)
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=32, height=32))
    assert err.value.step == "open", err.value
    assert err.value.reason.startswith("the TIFF is damaged: its strip 0 says its pixels start at byte 0, inside "
                                       "the file's 8-byte header"), err.value


def test_a_tiff_whose_strip_starts_past_its_end_is_said_truncated(tmp_path):
    src = sources.tiff(tmp_path / "moved.tif", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(src.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        if struct.unpack_from("<H", data, ifd + 2 + 12 * k)[0] == 273:
            struct.pack_into("<I", data, ifd + 2 + 12 * k + 8, len(data) + 100)
    src.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=4, height=4))
    assert err.value.reason == f"the TIFF is truncated: its strip 0 starts at byte {len(data) + 100}, past the " \
                               f"file's end at {len(data)}"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_16_bit_tiff_is_turned_upright_as_its_8_bit_twin(tmp_path, orientation):
    """Pillow gives a TIFF of orientation 5-8 its upright size; the 16-bit one's pixels,
    read by libvips as stored, were turned into that frame, squashed (a fuzz round)."""
    import tifffile

    deep = np.random.default_rng(orientation).integers(0, 65536, (30, 50, 3)).astype(np.uint16)
    twins = {}
    for bits, pixels in ((16, deep), (8, (deep >> 8).astype(np.uint8))):
        src = tmp_path / f"turned{bits}.tif"
        tifffile.imwrite(src, pixels, photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
        twins[bits] = np.asarray(run_one(src, R(operation="none", format="png")).convert("RGB")).astype(int)
    assert twins[16].shape == twins[8].shape == ((30, 50, 3) if orientation < 5 else (50, 30, 3))
    assert np.abs(twins[16] - twins[8]).max() <= 1


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_an_uncompressed_sideways_tiff_read_from_its_path_is_turned_not_scrambled(tmp_path, orientation, mode):
    """Pillow 13 maps a one-strip uncompressed TIFF with the upright size it reports for
    orientations 5-8: grey, RGBA, CMYK came out scrambled when read from the path (files
    past READ_WHOLE; a fuzz round). An RGB file of the same picture is the reference."""
    import tifffile

    y, x = np.mgrid[0:64, 0:96]
    grey = ((x * 3 + y * 7) % 256).astype(np.uint8)
    stored = np.rot90(grey, 1).copy() if orientation >= 5 else grey
    pixels = stored if mode == "L" else np.dstack([stored] * 3 + [np.full_like(stored, 255)])
    src, twin = tmp_path / "sideways.tif", tmp_path / "twin.tif"
    tifffile.imwrite(src, pixels, photometric="minisblack" if mode == "L" else "rgb",
                     extratags=[(274, "H", 1, orientation, True)])
    tifffile.imwrite(twin, np.dstack([stored] * 3), photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
    out = np.asarray(run_one(src, R(operation="none", format="png")).convert("L")).astype(int)
    expected = np.asarray(run_one(twin, R(operation="none", format="png")).convert("L")).astype(int)
    assert out.shape == expected.shape and np.abs(out - expected).max() <= 1


@pytest.mark.parametrize("bits", [8, 16])
def test_a_grey_tiff_whose_white_is_zero_is_not_inverted(tmp_path, bits):
    """PhotometricInterpretation 0 (WhiteIsZero: some scanners' grey and film scans): stored
    0 is white. Pillow reads the 8-bit one so; the 16-bit one came out as its negative."""
    import tifffile

    x = np.mgrid[0:40, 0:256][1]
    shown = (x * 257 if bits == 16 else x).astype(np.uint16 if bits == 16 else np.uint8)  # black to white
    src = tmp_path / f"white{bits}.tif"
    tifffile.imwrite(src, (2 ** bits - 1) - shown, photometric="miniswhite")
    out = np.asarray(run_one(src, R(operation="none", format="png")).convert("L")).astype(int)
    assert np.abs(out - x).max() <= 1


@pytest.mark.parametrize("fmt", ["tiff", "png"])
def test_16_bit_grey_is_rounded_to_8_bits_as_16_bit_rgb_is(tmp_path, fmt):
    """65535 → 255 rounded, as a 16-bit RGB file's frame is (colour.deep_to_target): grey
    was cut off instead, every 16-bit grey scan half a level darker, its darkest tones
    (up to 1/255 of white) black."""
    import tifffile

    stored = np.tile(np.arange(0, 65536, 37, dtype=np.uint16), (4, 1))
    src = tmp_path / f"grey16.{fmt}"
    if fmt == "tiff":
        tifffile.imwrite(src, stored, photometric="minisblack")
    else:
        Image.fromarray(stored).save(src)
    out = np.asarray(run_one(src, R(operation="none", format="png"))).astype(int)
    assert out.shape == stored.shape
    assert np.array_equal(out, np.rint(stored / 257).astype(int))


def test_a_big_endian_grey_tiff_whose_white_is_zero_is_refused_saying_what_to_save_it_as(tmp_path):
    """Pillow has no mode for a 16-bit WhiteIsZero grey in Motorola byte order (a Mac
    scanner's): refused, it was told to "save it as 8- or 16-bit RGB …, or as grey", which
    it is. The message names what differs: black at zero, or the Intel byte order."""
    import tifffile

    src = tmp_path / "negative.tif"
    tifffile.imwrite(src, np.full((20, 30), 1000, np.uint16), photometric="miniswhite", byteorder=">")
    with pytest.raises(InputError) as err:
        run(src, R(operation="none", format="png"))
    said = str(err.value)
    assert "white at 0" in said and "or as grey" not in said
    assert "black at 0" in said and "byte order" in said


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_16_bit_tiff_of_separate_planes_renders_its_colours(tmp_path, compression):
    """Stored raw, Pillow names each plane's tile by one letter ("R") and reads it as 8 bits:
    garbage colours (a fuzz round; Photoshop's Pixel Order: Per Channel writes these). In
    tiles, libvips cannot read them: refused in words."""
    import tifffile

    y, x = np.mgrid[0:64, 0:96]
    rgb = np.dstack([(x * 2) % 256, (y * 4) % 256, np.full_like(x, 60)]).astype(np.uint8)
    planes = (rgb.astype(np.uint16) * 257).transpose(2, 0, 1)
    src = tmp_path / "planes.tif"
    tifffile.imwrite(src, planes, photometric="rgb", planarconfig="separate", compression=compression)
    out = np.asarray(run_one(src, R(operation="none", format="png"))).astype(int)
    assert out.shape == (64, 96, 3) and np.abs(out - rgb).max() <= 1
    tiled = tmp_path / "tiled.tif"
    tifffile.imwrite(tiled, planes, photometric="rgb", planarconfig="separate", tile=(16, 16))
    with pytest.raises(InputError, match="colour planes are stored apart, uncompressed, in tiles"):
        run(tiled, R(operation="none", format="png"))
    packed = tmp_path / "tiled-zip.tif"  # libvips cannot read separate planes in tiles; libtiff can (8 bits)
    tifffile.imwrite(packed, planes, photometric="rgb", planarconfig="separate", tile=(16, 16), compression="zlib")
    assert np.abs(np.asarray(run_one(packed, R(operation="none", format="png"))).astype(int) - rgb).max() <= 1


@pytest.mark.parametrize("compression, tile, orientation", [
    (None, None, 1), ("zlib", None, 1), ("packbits", (16, 16), 1), (None, (16, 16), 1), ("zlib", None, 6),
])
def test_a_grey_tiff_with_transparency_in_separate_planes_renders_as_its_interleaved_twin(
        tmp_path, compression, tile, orientation):
    """Pillow has no reader of these: stored raw it failed ("unknown raw mode"), compressed its
    transparency came out garbage in silence (a review: up to 190 levels off); libtiff reads them."""
    import tifffile

    y, x = np.mgrid[0:64, 0:96]
    grey, alpha = ((x * 3 + y * 7) % 256).astype(np.uint8), ((x * 2) % 256).astype(np.uint8)
    src, twin = tmp_path / "planes.tif", tmp_path / "twin.tif"
    tags = [(274, "H", 1, orientation, True)]
    tifffile.imwrite(src, np.stack([grey, alpha]), photometric="minisblack", planarconfig="separate",
                     extrasamples=[2], compression=compression, tile=tile, extratags=tags)
    tifffile.imwrite(twin, np.dstack([grey, alpha]), photometric="minisblack", extrasamples=[2], extratags=tags)
    out = run_one(src, R(operation="none", format="png"))
    expected = run_one(twin, R(operation="none", format="png"))
    upright = (96, 64) if orientation == 1 else (64, 96)
    assert out.mode == expected.mode == "LA" and out.size == expected.size == upright
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    if orientation == 1:
        assert np.array_equal(np.asarray(out), np.dstack([grey, alpha]))


@pytest.mark.parametrize("photometric, bands, bits, advice", [
    ("minisblack", 2, 16, "save it with 8-bit samples, or without its transparency (16-bit grey reads)"),
    ("separated", 5, 8, "save it without its transparency and extra channels, or as RGB with transparency"),
])
def test_a_tiff_of_samples_pillow_has_no_mode_for_is_refused_saying_what_to_save_it_as(
        tmp_path, photometric, bands, bits, advice):
    """The reason named the samples and stopped ("… which hotfolder cannot read"): a user
    was not told what to save instead (a review)."""
    import tifffile

    y, x = np.mgrid[0:64, 0:96]
    samples = np.dstack([((x + y * k) % 256) for k in range(bands)]).astype(np.uint8 if bits == 8 else np.uint16)
    src = tmp_path / "samples.tif"
    tifffile.imwrite(src, samples, photometric=photometric, extrasamples=[2] + [0] * (bands - (5 if bands > 4 else 2)))
    with pytest.raises(InputError) as err:
        run(src, R(operation="none", format="png"))
    assert err.value.reason.endswith(f"which hotfolder cannot read: {advice}"), err.value


@pytest.mark.parametrize("kind, pixels", [
    ("1 × 32-bit unsigned integer samples (grey)", lambda g: g.astype(np.uint32) * 16843009),  # read as signed: black
    ("1 × 16-bit signed integer samples (grey)", lambda g: g.astype(np.int16) * 128),  # rendered at half brightness
    ("1 × 8-bit signed integer samples (grey)", lambda g: g.astype(np.int8)),
])
def test_a_grey_tiff_of_samples_pillow_reads_wrong_is_refused_naming_them(tmp_path, kind, pixels):
    """A fuzz round: Pillow opens these, and the upper half of a 32-bit range came out black,
    a signed 16-bit picture at half its brightness; the README says such TIFFs are refused."""
    import tifffile

    y, x = np.mgrid[0:64, 0:96]
    src = tmp_path / "samples.tif"
    tifffile.imwrite(src, pixels(((x * 3 + y * 7) % 256).astype(np.uint8)))
    with pytest.raises(InputError) as err:
        run(src, R(operation="none", format="png"))
    assert err.value.reason == (f"a TIFF of {kind}, which hotfolder cannot read: save it with 8- or 16-bit unsigned "
                                "integer samples, or 16- or 32-bit float ones"), err.value


def test_an_avif_s_crop_is_applied(tmp_path):
    """Pillow's AVIF plugin drops the clean aperture (clap): an `avifenc --crop` file came out
    whole, at the coded size (a fuzz round). libheif, which the README's HEICs go through,
    crops; so does libvips: the reference here."""
    import pyvips

    y, x = np.mgrid[0:64, 0:96]
    rgb = np.dstack([(x * 2) % 256, (y * 4) % 256, np.full_like(x, 60)]).astype(np.uint8)
    src = sources.avif_with_clap(tmp_path / "cropped.avif", Image.fromarray(rgb), (10, 8, 60, 40))
    reference = pyvips.Image.new_from_file(str(src))
    assert (reference.width, reference.height) == (60, 40)  # the file is one libheif crops
    out = np.asarray(run_one(src, R(operation="none", format="png"))).astype(int)
    assert out.shape == (40, 60, 3)
    assert np.abs(out - rgb[8:48, 10:70]).mean() < 2  # the aperture's pixels, not the frame's corner
    from hotfolder.engine import facts
    from hotfolder.recipes.facts import Need

    seen = facts.read(src, Need(header=True), accepted_formats=("avif",), max_image_pixels=10**8)
    assert (seen.width, seen.height) == (60, 40)  # what `when:` judges is what is rendered (a review)


def _with_icc_segments(jpeg: bytes, icc: bytes, keep: tuple[int, ...]) -> bytes:
    """`jpeg` with `icc` in three APP2 ICC_PROFILE segments (numbered 1-3 of 3), only those in `keep`."""
    third = -(-len(icc) // 3)
    pieces = [icc[i * third:(i + 1) * third] for i in range(3)]
    segments = b"".join(b"\xff\xe2" + struct.pack(">H", 2 + 14 + len(pieces[n - 1])) + b"ICC_PROFILE\0"
                        + bytes([n, 3]) + pieces[n - 1] for n in keep)
    return jpeg[:2] + segments + jpeg[2:]


@pytest.mark.parametrize("keep, broken", [((1, 2, 3), None), ((3, 1, 2), None), ((1, 3), "is incomplete"),
                                          ((1, 2, 2, 3), "is incomplete"), ("garbage", "cannot be read")])
def test_a_colour_profile_that_cannot_be_read_is_said_not_dropped_in_silence(tmp_path, keep, broken):
    """An Adobe RGB photo whose profile lost a segment was taken as sRGB without a word (off
    by up to 142 levels: a fuzz round); a whole one, in any order, converts as before."""
    from hotfolder.engine import matrixicc

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(buffer, "JPEG", quality=95)
    src = tmp_path / "profiled.jpg"
    if keep == "garbage":
        Image.new("RGB", (64, 48), (30, 160, 60)).save(src, quality=95, icc_profile=bytes(range(256)) * 2)
    else:
        src.write_bytes(_with_icc_segments(buffer.getvalue(), matrixicc.adobe_rgb(), keep))
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(buffer.getvalue())
    as_srgb = run_one(plain, R(operation="none", format="png")).getpixel((32, 24))
    out = run_one(src, R(operation="none", format="png")).getpixel((32, 24))
    (rendered,) = run(src, R(operation="none", format="png"))
    if broken is None:  # converted from Adobe RGB: a green far from the same bytes taken as sRGB
        assert rendered.notes == () and max(abs(a - b) for a, b in zip(out, as_srgb, strict=True)) > 20
    else:
        assert out == as_srgb
        assert len(rendered.notes) == 1 and f"colour profile {broken}" in rendered.notes[0].replace(
            " (512 bytes)", ""), rendered.notes
        assert "taken as sRGB" in rendered.notes[0]


def test_a_png_colour_profile_that_does_not_decompress_is_said_not_dropped_in_silence(tmp_path):
    """Pillow drops an iCCP chunk whose zlib stream is damaged without a word (a fuzz
    round): the picture was taken as sRGB in silence."""
    import zlib

    from hotfolder.engine import matrixicc

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(buffer, "PNG", icc_profile=matrixicc.adobe_rgb())
    data = bytearray(buffer.getvalue())
    at = data.index(b"iCCP")
    length = struct.unpack_from(">I", data, at - 4)[0]
    body = data[at + 4:at + 4 + length]
    start = body.index(b"\0") + 2  # the profile's name, its NUL and the compression method
    body[start + 2:start + 40] = bytes(38)  # past the zlib header: a stream that does not inflate
    data[at + 4:at + 4 + length] = body
    struct.pack_into(">I", data, at + 4 + length, zlib.crc32(b"iCCP" + body))
    src = tmp_path / "profiled.png"
    src.write_bytes(bytes(data))
    with Image.open(src) as im:
        assert "icc_profile" in im.info and im.info["icc_profile"] is None  # Pillow read past it
    (rendered,) = run(src, R(operation="none", format="png"))
    assert len(rendered.notes) == 1, rendered.notes
    assert rendered.notes[0].startswith("the source's colour profile (its PNG iCCP chunk) cannot be decompressed: "
                                        "the picture is taken as sRGB"), rendered.notes
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 48), (30, 160, 60)).save(plain)
    assert run(plain, R(operation="none", format="png"))[0].notes == ()


@pytest.mark.parametrize("case", ["embedded", "linked", "outside"])
def test_a_bmp_s_own_colour_profile_is_used_or_its_absence_said(tmp_path, case):
    """Pillow does not read a BITMAPV5HEADER's profile: an Adobe RGB photo saved as BMP by
    ImageMagick was taken as sRGB in silence. A linked profile names a file on someone
    else's machine: never opened, and said; so is an embedded one placed past the end."""
    from hotfolder.engine import matrixicc

    photo = Image.new("RGB", (64, 48), (30, 160, 60))
    png = tmp_path / "profiled.png"
    photo.save(png, icc_profile=matrixicc.adobe_rgb())
    plain = tmp_path / "plain.bmp"
    photo.save(plain)
    src = tmp_path / "profiled.bmp"
    if case == "embedded":
        sources.bmp_v5(src, photo, profile=matrixicc.adobe_rgb())
    elif case == "linked":
        sources.bmp_v5(src, photo, profile=b"/etc/passwd\0", kind=b"LINK")
    else:
        sources.bmp_v5(src, photo, profile=matrixicc.adobe_rgb(), profile_at=10**6)
    rendition = R(operation="none", format="png")
    (rendered,) = run(src, rendition)
    out = run_one(src, rendition).getpixel((32, 24))
    if case == "embedded":
        assert rendered.notes == () and out == run_one(png, rendition).getpixel((32, 24))
        assert out != run_one(plain, rendition).getpixel((32, 24))
        return
    assert out == run_one(plain, rendition).getpixel((32, 24)) == (30, 160, 60)
    assert len(rendered.notes) == 1 and "the picture is taken as sRGB" in rendered.notes[0], rendered.notes
    said = {"linked": "the BMP names a colour profile file instead of embedding one (a name is not followed)",
            "outside": "the BMP's embedded colour profile cannot be read (its header places"}[case]
    assert rendered.notes[0].startswith(said), rendered.notes


def _argb1555_bmp(path, rgba: np.ndarray, *, top_down: bool = False, cut: int = 0) -> None:
    """A 16-bit bit-field BMP with an alpha mask (A1R5G5B5 in a V5 header), as GIMP and
    ImageMagick write one."""
    height, width = rgba.shape[:2]
    r, g, b = (rgba[..., i].astype(np.uint16) >> 3 for i in range(3))
    words = ((rgba[..., 3] >= 128).astype(np.uint16) << 15) | (r << 10) | (g << 5) | b
    stride = (width * 2 + 3) & ~3
    rows = words if top_down else words[::-1]
    pixels = b"".join(row.astype("<u2").tobytes().ljust(stride, b"\0") for row in rows)
    header = struct.pack("<IiiHHIIiiII", 124, width, -height if top_down else height, 1, 16, 3, len(pixels),
                         2835, 2835, 0, 0)
    header += struct.pack("<IIII", 0x7C00, 0x03E0, 0x001F, 0x8000) + b"BGRs" + bytes(124 - 60)
    data = header + pixels
    path.write_bytes((b"BM" + struct.pack("<IHHI", 14 + len(data), 0, 0, 14 + 124) + data)[:len(data) + 14 - cut])


@pytest.mark.parametrize("top_down", [False, True], ids=["bottom-up", "top-down"])
def test_a_16_bit_bmp_keeps_its_alpha_mask(tmp_path, top_down):
    """Pillow reads A1R5G5B5's colour masks and drops the alpha one: the transparent half
    showed the red it hid (a fuzz round)."""
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[:, :32] = (200, 16, 16, 0)  # transparent, hiding red
    rgba[:, 32:] = (24, 160, 56, 255)
    rgba[:8, 32:] = (248, 248, 248, 255)  # a band at the top: the rows' order
    src = tmp_path / "argb.bmp"
    _argb1555_bmp(src, rgba, top_down=top_down)
    out = np.asarray(run_one(src, R(operation="none", format="png")))
    assert out.shape == (48, 64, 4)
    assert (out[:, :32, 3] == 0).all() and (out[:, 32:, 3] == 255).all()
    assert np.abs(out[20, 40, :3].astype(int) - (24, 160, 56)).max() <= 8  # 5 bits a channel
    assert (out[:8, 32:, :3] >= 245).all() and (out[8:, 32:, 0] < 40).all()
    unset = tmp_path / "no-alpha-set.bmp"  # a mask and no alpha bit: opaque, as browsers show it
    _argb1555_bmp(unset, np.dstack([rgba[..., :3], np.zeros((48, 64), np.uint8)]))
    assert run_one(unset, R(operation="none", format="png")).mode == "RGB"
    four = tmp_path / "argb4444.bmp"  # Pillow refuses these masks: said in words a user can act on
    data = bytearray(src.read_bytes())
    struct.pack_into("<IIII", data, 14 + 40, 0x0F00, 0x00F0, 0x000F, 0xF000)
    four.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"a BMP whose colour bit fields hotfolder cannot read .*save it as a 24- or "
                                         r"32-bit BMP, or as a PNG"):
        run(four, R(operation="none", format="png"))
    cut = tmp_path / "cut.bmp"
    _argb1555_bmp(cut, rgba, cut=500)
    with pytest.raises(InputError, match="the BMP is truncated: its 64x48 16-bit pixels need"):
        run(cut, R(operation="none", format="png"))


def _headers() -> dict[str, bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, "PNG")
    png = buffer.getvalue()
    buffer = io.BytesIO()
    Image.new("P", (40, 30)).save(buffer, "GIF")
    gif = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (30, 40, 3), np.uint8)).quantize(256).save(buffer, "GIF")
    gif_palette = buffer.getvalue()
    assert gif_palette[10] & 0x87 == 0x87  # a global colour table of 256 colours (768 bytes) follows
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, "JPEG")
    jpeg = bytearray(buffer.getvalue())
    jpeg[jpeg.index(b"\xff\xc0") + 4] = 12  # the frame's sample precision
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # IHDR's checksum
    tables = bytes(jpeg[:jpeg.index(b"\xff\xc0")]) + b"\xff\xd9"  # SOI, APP0, DQT, then the end: no frame
    return {"png": png[:12], "gif": gif[:10], "jpeg": jpeg[:3], "png-crc": bytes(bad_crc), "jpeg-12": bytes(jpeg),
            "png-ihdr": png[:36], "gif-palette": gif_palette[:400], "jpeg-tables": tables}


@pytest.mark.parametrize("kind, said, cut", [
    ("png", "the PNG is truncated: it ends inside its header (12 bytes)", True),
    ("gif", "the GIF is truncated: it ends inside its header (10 bytes)", True),
    ("jpeg", "the JPEG is truncated: it ends inside its header (3 bytes)", True),
    ("png-crc", "the PNG's header cannot be read: the file is damaged; copy it again from where it came from", False),
    ("jpeg-12", "a 12-bit JPEG, which hotfolder cannot read (only 8-bit JPEGs): save it as an 8-bit JPEG, or as a "
                "16-bit TIFF to keep its depth", False),
    # A review's finds: cut just after IHDR, or inside a GIF's colour table, is cut short; a
    # JPEG of tables only, ended by its end marker, is whole and damaged (not waited for).
    ("png-ihdr", "the PNG is truncated: it ends inside its header (36 bytes)", True),
    ("gif-palette", "the GIF is truncated: it ends inside its header (400 bytes)", True),
    ("jpeg-tables", "the JPEG's header cannot be read: the file is damaged; copy it again from where it came from",
     False),
])
def test_a_file_of_an_accepted_format_whose_header_cannot_be_read_says_so(tmp_path, kind, said, cut):
    """Each was "not an image in an accepted format (accepted: jpeg, png, …)", naming its own
    format as accepted (a fuzz round); one cut inside its header is waited for as cut short."""
    from hotfolder.workers import truncation

    src = tmp_path / f"head.{kind.split('-')[0].replace('jpeg', 'jpg')}"
    src.write_bytes(_headers()[kind])
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=32, height=32), accepted=("jpeg", "png", "gif", "tiff"))
    assert err.value.reason == said
    assert truncation.cut_short(err.value.reason, src) == cut


def test_a_big_endian_bigtiff_is_named_as_what_hotfolder_cannot_read(tmp_path):
    import tifffile

    src = tmp_path / "be.tif"
    tifffile.imwrite(src, np.zeros((8, 8, 3), np.uint8), bigtiff=True, byteorder=">", photometric="rgb")
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=4, height=4), accepted=("jpeg", "tiff"))
    assert err.value.reason == ("a big-endian BigTIFF, which hotfolder cannot read: save it as a classic TIFF or a "
                                "little-endian BigTIFF")


@pytest.mark.parametrize("bits", [16, 1])
def test_a_grey_png_s_transparent_value_stays_transparent_at_16_and_1_bits(tmp_path, bits):
    """tRNS names the grey value that is transparent: Pillow opens these as I;16 and 1, and
    the key was dropped with the mode (the keyed grey showed where the background should)."""
    if bits == 16:
        grey = np.full((48, 64), 30000, np.uint16)
        grey[10:20, 10:20] = key = 4242
    else:
        grey = np.ones((48, 64), bool)
        grey[10:20, 10:20], key = False, 0
    src = tmp_path / f"keyed{bits}.png"
    Image.fromarray(grey).save(src, transparency=key)
    out = np.asarray(run_one(src, R(operation="none", format="png")))
    assert out.shape == (48, 64, 2)  # LA
    assert (out[10:20, 10:20, 1] == 0).all() and (out[30:, :, 1] == 255).all()


@pytest.mark.parametrize("primaries, transfer, profile", [
    (12, 13, colour.p3_icc),  # Display P3's (a fuzz round: rendered unconverted)
    (9, 14, matrixicc.bt2020),  # BT.2020's, with its SDR curve (was rendered as sRGB, and said)
    (9, 18, matrixicc.bt2020),  # BT.2020 HLG: its SDR-compatible picture, converted
])
def test_an_avif_whose_colour_is_stated_by_code_is_converted_to_srgb(tmp_path, primaries, transfer, profile):
    """An AVIF states its colour by code (nclx) more often than by a profile; Pillow's plugin
    does not say it. Converted through the profile the code stands for."""
    from PIL import ImageCms

    picture = Image.new("RGB", (48, 32), (40, 200, 60))
    buffer = io.BytesIO()
    picture.save(buffer, "AVIF", quality=100)
    data = bytearray(buffer.getvalue())
    at = data.index(b"colrnclx") + 8
    assert data[at:at + 2] == b"\x00\x01"  # libavif's BT.709 / sRGB primaries
    srgb_coded = tmp_path / "srgb.avif"
    srgb_coded.write_bytes(bytes(data))
    data[at:at + 4] = primaries.to_bytes(2, "big") + transfer.to_bytes(2, "big")
    coded = tmp_path / "coded.avif"
    coded.write_bytes(bytes(data))
    as_is = run_one(srgb_coded, R(operation="none", format="png")).convert("RGB").getpixel((24, 16))
    converted = run_one(coded, R(operation="none", format="png")).convert("RGB").getpixel((24, 16))
    stated = ImageCms.ImageCmsProfile(io.BytesIO(profile()))
    want = ImageCms.profileToProfile(Image.new("RGB", (1, 1), as_is), stated, ImageCms.createProfile("sRGB")).getpixel(
        (0, 0))
    assert max(abs(a - b) for a, b in zip(converted, want, strict=True)) <= 2
    assert max(abs(a - b) for a, b in zip(converted, as_is, strict=True)) > 20


def test_the_bt2020_profile_is_icc_v2_throughout():
    """A v2 profile of v2 types only: its curve was a parametricCurveType, which v2 readers
    need not know (a review). As Adobe RGB's, the same bytes every time."""
    data = matrixicc.bt2020()
    assert data[8] == 2 and data[36:40] == b"acsp" and b"para" not in data and b"curv" in data
    assert data == matrixicc.bt2020.__wrapped__()


@pytest.mark.parametrize("primaries, transfer, said", [
    (9, 16, "primaries BT.2020, transfer PQ (HDR)"),  # Canon's HDR-PQ .hif writes these
    (9, 8, "primaries BT.2020, transfer linear"),
    (11, 13, "primaries DCI-P3"),
    (1, 13, None), (12, 13, None), (1, 1, None),  # sRGB, Display P3 (converted), BT.709's curve
    (9, 13, None), (9, 14, None),  # BT.2020 with an SDR curve (converted)
])
def test_a_colour_code_hotfolder_does_not_convert_is_said(tmp_path, primaries, transfer, said):
    """BT.2020 and HDR (PQ, HLG) colour codes were rendered as if sRGB in silence: a PQ
    photo's white came out at 148 (a fuzz round). Not converted yet; said in the log."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (40, 200, 60)).save(buffer, "AVIF", quality=90)
    data = bytearray(buffer.getvalue())
    at = data.index(b"colrnclx") + 8
    data[at:at + 4] = primaries.to_bytes(2, "big") + transfer.to_bytes(2, "big")
    src = tmp_path / "coded.avif"
    src.write_bytes(bytes(data))
    (out,) = run(src, R(operation="none", format="png"))
    if said is None:
        assert out.notes == (), out.notes
    else:
        assert len(out.notes) == 1 and out.notes[0].startswith(
            f"the source's colour is stated by code ({said}), which hotfolder does not convert"), out.notes


@pytest.mark.parametrize("primaries", [1, 9])
def test_an_hlg_source_is_rendered_as_its_sdr_picture_and_said(tmp_path, primaries):
    """HLG (HDR) is made to be shown as SDR (ITU-R BT.2100): rendered so, and the log says
    its highlights look flatter than on an HDR screen."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (40, 200, 60)).save(buffer, "AVIF", quality=90)
    data = bytearray(buffer.getvalue())
    at = data.index(b"colrnclx") + 8
    data[at:at + 4] = primaries.to_bytes(2, "big") + (18).to_bytes(2, "big")
    src = tmp_path / "hlg.avif"
    src.write_bytes(bytes(data))
    (out,) = run(src, R(operation="none", format="png"))
    said = "the source is HDR (transfer HLG): it is rendered as the SDR picture HLG is made to be compatible with"
    assert len(out.notes) == 1 and out.notes[0].startswith(said), out.notes


def test_an_8_bit_heic_in_bt2020_pq_by_code_is_said_not_converted(tmp_path):
    """PQ is tone-mapped from 16 bits (10-bit HEICs: every camera's); an 8-bit one is said."""
    src = sources.phone_heic(tmp_path / "hdr.heic", Image.new("RGB", (128, 96), (200, 30, 30)), tile=None,
                             nclx={"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9,
                                   "full_range_flag": 1})
    (out,) = run(src, R(operation="none", format="png"))
    assert len(out.notes) == 1 and "(primaries BT.2020, transfer PQ (HDR))" in out.notes[0], out.notes


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def test_a_one_frame_animated_webp_leaves_its_canvas_transparent_not_black(tmp_path):
    """One frame of 30x20 at (20, 10) on a 90x60 canvas: libwebp's still decoder painted the
    rest of the canvas black (Pillow's animation decoder, used for two frames or more,
    leaves it transparent: flattened to white in a JPEG)."""
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 30, 30)).save(buffer, "WEBP", lossless=True)
    frame = buffer.getvalue()[12:]  # its VP8L chunk
    anmf = (20 // 2).to_bytes(3, "little") + (10 // 2).to_bytes(3, "little") + (29).to_bytes(3, "little") \
        + (19).to_bytes(3, "little") + (100).to_bytes(3, "little") + b"\0" + frame
    chunks = (_riff_chunk(b"VP8X", bytes([0x12, 0, 0, 0]) + (89).to_bytes(3, "little") + (59).to_bytes(3, "little"))
              + _riff_chunk(b"ANIM", bytes(4) + bytes(2)) + _riff_chunk(b"ANMF", anmf))
    src = tmp_path / "one-frame.webp"
    src.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks)
    out = run_one(src, R(operation="none", format="jpeg")).convert("RGB")
    assert out.size == (90, 60)
    assert min(out.getpixel((2, 2))) >= 250  # the canvas, flattened onto white
    assert near(out.getpixel((35, 20)), (200, 30, 30), 6)  # the frame, where it was put


def set_tiff_values(src: Path, tag: str, value: int) -> None:
    """Every value of IFD0's `tag` (a tifffile name) set to `value`, classic or BigTIFF."""
    import tifffile

    with tifffile.TiffFile(src) as tiff:
        found = tiff.pages[0].tags[tag]
        at, count, width = found.valueoffset, found.count, {3: 2, 4: 4, 16: 8}[found.dtype]
        order = "little" if tiff.byteorder == "<" else "big"
    data = bytearray(src.read_bytes())
    data[at:at + count * width] = value.to_bytes(width, order) * count
    src.write_bytes(bytes(data))


def test_a_bigtiff_whose_strip_starts_inside_its_16_byte_header_fails_as_damaged(tmp_path):
    import tifffile

    src = tmp_path / "big.tif"
    tifffile.imwrite(src, np.zeros((8, 8, 3), np.uint8), bigtiff=True, photometric="rgb")
    run(src, R(operation="fit", width=4, height=4))
    set_tiff_values(src, "StripOffsets", 8)
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=4, height=4))
    assert err.value.reason.startswith("the TIFF is damaged: its strip 0 says its pixels start at byte 8, inside "
                                       "the file's 16-byte header"), err.value


def test_a_sparse_tiff_says_its_pixels_are_not_stored_not_that_it_is_damaged(tmp_path):
    """GDAL leaves an empty tile out: offset 0, 0 bytes (a review's finding: "damaged" misled)."""
    src = sources.tiff(tmp_path / "sparse.tif", np.zeros((8, 8, 3), np.uint8))
    set_tiff_values(src, "StripOffsets", 0)
    set_tiff_values(src, "StripByteCounts", 0)
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=4, height=4))
    assert err.value.reason.startswith("the TIFF's strip 0 has no pixels (offset 0, 0 bytes: a sparse file"), \
        err.value


@pytest.mark.parametrize("said, meaning, again", [
    # libtiff's -2 is any failure: a WebP-compressed TIFF libvips wrote is not damaged (a checker's finding)
    ("decoder error -2", "its picture data cannot be decoded: damaged, cut short, or compressed", False),
    ("broken data stream when reading image file", "the picture data is damaged", True),
    ("could not create decoder object", "libwebp cannot read it", False),  # cut short, often: truncation says
])
def test_a_codec_s_bare_words_are_said_with_what_they_mean(said, meaning, again):
    from hotfolder.engine.errors import describe

    text = describe(OSError(said))
    assert text.startswith(meaning) and f"({said})" in text and ("copy the file again" in text) == again


def test_a_damaged_webp_says_what_is_wrong_in_words_a_user_can_act_on(tmp_path):
    src = tmp_path / "damaged.webp"
    marked().save(src, "WEBP", quality=80)
    data = bytearray(src.read_bytes())
    data[30:60] = bytes(30)  # its VP8 frame header zeroed; the RIFF length still matches the file
    src.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=64, height=64))
    assert "damaged" in err.value.reason or "cannot read" in err.value.reason, err.value


@pytest.mark.parametrize("writer", ["libvips", "tifffile"])
def test_a_bigtiff_renders_with_its_exif(tmp_path, writer):
    """Every BigTIFF failed at step render: Pillow wrote its EXIF back with a BigTIFF head it
    cannot read ("unpack requires a buffer of 8 bytes"; a checker's finding)."""
    src = tmp_path / "big.tif"
    pixels = np.asarray(photo((300, 200)).convert("RGB"))
    if writer == "libvips":
        import pyvips

        pyvips.Image.new_from_array(pixels).copy(interpretation="srgb").tiffsave(str(src), bigtiff=True)
    else:
        tifffile = pytest.importorskip("tifffile")
        tifffile.imwrite(src, pixels, bigtiff=True, photometric="rgb")
    assert src.read_bytes()[2:4] in (b"+\0", b"\0+"), "a BigTIFF"
    out = run_one(src, R(operation="fit", width=60, height=60, format="jpeg", metadata="keep"))
    assert out.size == (60, 40)
