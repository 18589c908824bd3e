"""Issue 26, what a studio trips over in its first week, in the engine: in-camera Adobe RGB
(no profile, only EXIF's DCF tags), a DNG without a preview keeping its EXIF, float TIFFs,
a readable watermark on a panorama, and outputs whose EXIF describes them (density, size).
Real files the tests make (tests/sources.py), rendered by the real pipeline."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from hotfolder.config.model import SetMetadata, Watermark
from hotfolder.engine.colour import srgb_icc
from tests import sources
from tests.imaging import photo
from tests.rendering import R, run, run_one

EXIF_IFD, INTEROP_IFD, GPS_IFD = 0x8769, 0xA005, 0x8825
COLOR_SPACE, INTEROP_INDEX = 0xA001, 0x0001
MAKE, MODEL, DATETIME_ORIGINAL, MAKER_NOTE = 0x010F, 0x0110, 0x9003, 0x927C
X_RES, Y_RES, RES_UNIT, PIXEL_W, PIXEL_H = 0x011A, 0x011B, 0x0128, 0xA002, 0xA003
SRGB, ADOBE_RGB, UNCALIBRATED = 1, 2, 0xFFFF

# Saturated patches, inside sRGB once converted: a conversion that did not happen is far off.
PATCHES = [(200, 60, 30), (60, 170, 80), (40, 70, 190), (220, 200, 60), (170, 60, 170), (128, 128, 128)]
SIDE = 32


def patch_image() -> Image.Image:
    im = Image.new("RGB", (SIDE * len(PATCHES), SIDE))
    for i, colour in enumerate(PATCHES):
        im.paste(colour, (i * SIDE, 0, (i + 1) * SIDE, SIDE))
    return im


def centres(im: Image.Image) -> list[tuple[int, ...]]:
    return [im.convert("RGB").getpixel((i * SIDE + SIDE // 2, SIDE // 2)) for i in range(len(PATCHES))]


def worst(a, b) -> int:
    return max(abs(x - y) for p, q in zip(a, b, strict=True) for x, y in zip(p, q, strict=True))


def as_srgb(im: Image.Image, icc: bytes) -> list[tuple[int, ...]]:
    """What LittleCMS makes of `im` in profile `icc`, through Pillow's ImageCms (not the engine)."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return centres(ImageCms.profileToProfile(im.convert("RGB"), source, ImageCms.createProfile("sRGB")))


def camera_exif(space: int | None, index: str | None = None, **tags) -> bytes:
    """A camera JPEG's EXIF: Make, and ColorSpace / InteropIndex as DCF writes them."""
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    photo_ifd = exif.get_ifd(EXIF_IFD)
    if space is not None:
        photo_ifd[COLOR_SPACE] = space
    if index is not None:
        photo_ifd[INTEROP_IFD] = {INTEROP_INDEX: index, 2: b"0100"}
    for tag, value in tags.items():
        exif[int(tag, 16)] = value
    return exif.tobytes()


def camera_jpeg(path: Path, exif: bytes, icc: bytes | None = None) -> Path:
    patch_image().save(path, "JPEG", quality=100, subsampling=0, exif=exif,
                       **({"icc_profile": icc} if icc else {}))
    return path


def tags(im: Image.Image) -> tuple[int | None, str | None]:
    exif = im.getexif()
    return exif.get_ifd(EXIF_IFD).get(COLOR_SPACE), exif.get_ifd(INTEROP_IFD).get(INTEROP_INDEX)


# --- 26.3: in-camera Adobe RGB ----------------------------------------------------------

def test_an_in_camera_adobe_rgb_jpeg_comes_out_as_the_same_file_tagged_would(tmp_path):
    # Canon, Nikon and Sony set to Adobe RGB embed no profile: ColorSpace Uncalibrated and R03.
    src = camera_jpeg(tmp_path / "IMG_0001.JPG", camera_exif(UNCALIBRATED, "R03"))
    tagged = camera_jpeg(tmp_path / "tagged.jpg", camera_exif(UNCALIBRATED, "R03"), icc=sources.adobe_rgb_icc())
    with Image.open(src) as stored:
        expected, as_stored = as_srgb(stored, sources.adobe_rgb_icc()), centres(stored)
    out = run_one(src, R(operation="none", format="png"))
    assert out.info.get("icc_profile") == srgb_icc()
    assert worst(centres(out), expected) <= 2, (centres(out), expected)
    assert worst(centres(out), centres(run_one(tagged, R(operation="none", format="png")))) <= 1
    assert worst(as_stored, expected) > 15  # left as it was (the bug) would be caught


def test_an_srgb_output_no_longer_says_adobe_rgb(tmp_path):
    src = camera_jpeg(tmp_path / "IMG_0001.JPG", camera_exif(UNCALIBRATED, "R03"))
    out = run_one(src, R(operation="none", format="jpeg", metadata="keep"))
    assert tags(out) == (SRGB, None)
    assert out.getexif().get_ifd(INTEROP_IFD).get(2) == b"0100"  # the rest of the IFD stays


@pytest.mark.parametrize("space, index, adobe", [
    (ADOBE_RGB, None, True),  # not in the standard, written by some cameras and converters
    (UNCALIBRATED, "R98", False),
    (UNCALIBRATED, None, False),  # Uncalibrated alone names nothing
    (SRGB, "R03", False),  # contradictory: ColorSpace wins, as darktable reads it
    (None, None, False),
])
def test_only_the_tags_that_name_adobe_rgb_convert(tmp_path, space, index, adobe):
    src = camera_jpeg(tmp_path / "c.jpg", camera_exif(space, index))
    with Image.open(src) as stored:
        expected = as_srgb(stored, sources.adobe_rgb_icc()) if adobe else centres(stored)
    out = run_one(src, R(operation="none", format="png"))
    assert worst(centres(out), expected) <= 2, (centres(out), expected)


def test_an_embedded_profile_wins_over_the_tags(tmp_path):
    p3 = sources.display_p3_icc()
    src = camera_jpeg(tmp_path / "p3.jpg", camera_exif(UNCALIBRATED, "R03"), icc=p3)
    with Image.open(src) as stored:
        expected = as_srgb(stored, p3)
    assert worst(centres(run_one(src, R(operation="none", format="png"))), expected) <= 2


def test_keep_writes_the_profile_the_tags_stand_for(tmp_path):
    src = camera_jpeg(tmp_path / "IMG_0001.JPG", camera_exif(UNCALIBRATED, "R03"))
    out = run_one(src, R(operation="none", format="png", color_profile="keep", metadata="keep"))
    with Image.open(src) as stored:
        assert centres(out) == centres(stored)  # pixels untouched
    from hotfolder.engine import matrixicc

    assert out.info.get("icc_profile") == matrixicc.adobe_rgb()  # and said: a viewer ignoring EXIF still gets it right
    assert tags(out) == (UNCALIBRATED, "R03")


def test_the_adobe_rgb_profile_is_adobes_encoding():
    """Built from the published primaries, it converts as Adobe's numbers do (within a
    level), is a v2 display profile, and is not sRGB."""
    from hotfolder.engine import matrixicc

    ours = ImageCms.ImageCmsProfile(io.BytesIO(matrixicc.adobe_rgb()))
    assert ours.profile.version == 2.1 and ours.profile.device_class == "mntr"
    assert "Adobe RGB (1998)" in ours.profile.profile_description
    grid = Image.frombytes("RGB", (512, 1), bytes(v for r in range(0, 256, 36) for g in range(0, 256, 36)
                                                   for b in range(0, 256, 36) for v in (r, g, b)))
    reference = ImageCms.ImageCmsProfile(io.BytesIO(sources.adobe_rgb_icc()))
    srgb = ImageCms.createProfile("sRGB")
    a, b = (ImageCms.profileToProfile(grid, p, srgb).tobytes() for p in (ours, reference))
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1
    assert max(abs(x - y) for x, y in zip(a, grid.tobytes(), strict=True)) > 20
    assert matrixicc.adobe_rgb() == matrixicc.adobe_rgb.__wrapped__()  # the same bytes every time


def test_a_camera_tiff_with_an_interoperability_ifd_renders(tmp_path):
    # Pillow reads a TIFF's EXIF sub-IFDs from the file, which decoding closes: every
    # camera TIFF (its EXIF has an Interoperability IFD) failed as "the EXIF data is corrupt".
    src = sources.tiff(tmp_path / "scan.tif", patch_image(), exif={COLOR_SPACE: (3, SRGB)}, interop="R98")
    out = run_one(src, R(operation="none", format="jpeg", metadata="keep"))
    assert tags(out) == (SRGB, "R98")


def test_a_tiff_whose_tags_say_adobe_rgb_is_converted(tmp_path):
    src = sources.tiff(tmp_path / "camera.tif", patch_image(), exif={COLOR_SPACE: (3, UNCALIBRATED)}, interop="R03")
    out = run_one(src, R(operation="none", format="png"))
    assert worst(centres(out), as_srgb(patch_image(), sources.adobe_rgb_icc())) <= 2
    assert out.info["icc_profile"] == srgb_icc()


def test_a_heic_with_the_same_tags_is_not_taken_for_adobe_rgb(tmp_path):
    # A HEIC says its colour in its own box (a profile, or an nclx code): DCF's tags are not its.
    src = sources.heic(tmp_path / "IMG_0001.HEIC", patch_image(), exif=camera_exif(UNCALIBRATED, "R03"))
    out = run_one(src, R(operation="none", format="png"))
    assert worst(centres(out), PATCHES) <= 3 and "icc_profile" not in out.info


def test_a_raw_preview_in_adobe_rgb_is_converted(tmp_path):
    src = sources.dng(tmp_path / "IMG_0001.dng", patch_image().resize((SIDE * 6 * 4, SIDE * 4), Image.NEAREST),
                      preview_exif=camera_exif(UNCALIBRATED, "R03"), preview_exif_first=True)
    out = run_one(src, R(operation="none", format="png"), raw="preview")
    with Image.open(io.BytesIO(_preview_jpeg(src))) as preview:
        expected = as_srgb(preview, sources.adobe_rgb_icc())
    assert worst(centres(out), expected) <= 3, (centres(out), expected)


def test_a_raw_whose_own_tags_say_adobe_rgb_has_its_preview_converted(tmp_path):
    # A NEF's or CR2's preview carries no EXIF of its own; the RAW's EXIF IFD says the colour space.
    src = sources.dng(tmp_path / "DSC_0001.dng", patch_image().resize((SIDE * 6 * 4, SIDE * 4), Image.NEAREST),
                      exif={COLOR_SPACE: (3, UNCALIBRATED)}, interop="R03")
    out = run_one(src, R(operation="none", format="png"), raw="preview")
    with Image.open(io.BytesIO(_preview_jpeg(src))) as preview:
        expected = as_srgb(preview, sources.adobe_rgb_icc())
    assert worst(centres(out), expected) <= 3, (centres(out), expected)


def test_a_develop_is_srgb_and_its_exif_says_so(tmp_path):
    src = sources.dng(tmp_path / "DSC_0001.dng", photo((240, 160)), preview_scale=None,
                      exif={COLOR_SPACE: (3, UNCALIBRATED)}, interop="R03")
    out = run_one(src, R(operation="none", format="jpeg", metadata="keep"), raw="develop")
    assert out.info["icc_profile"] == srgb_icc() and tags(out) == (SRGB, None)


def _preview_jpeg(dng: Path) -> bytes:
    import rawpy

    with rawpy.imread(str(dng)) as raw:
        return raw.extract_thumb().data


# --- 26.5: a DNG without a preview keeps its EXIF ------------------------------------------

def test_a_dng_without_a_preview_keeps_its_exif(tmp_path):
    src = sources.dng(tmp_path / "bare.dng", photo((240, 160)), preview_scale=None, gps=True,
                      exif={DATETIME_ORIGINAL: (2, "2024:05:06 07:08:09"), 0x829A: (5, [(1, 250)]),
                            0x8827: (3, 400)})
    out = run_one(src, R(operation="fit", width=120, height=120, format="jpeg",
                         set_metadata=SetMetadata(copyright="© {year} Studio")))
    exif = out.getexif()
    assert exif[MAKE] == "Hotfolder" and exif[MODEL] == "Test DNG"
    photo_ifd = exif.get_ifd(EXIF_IFD)
    assert photo_ifd[DATETIME_ORIGINAL] == "2024:05:06 07:08:09" and photo_ifd[0x8827] == 400
    assert float(photo_ifd[0x829A]) == pytest.approx(1 / 250)
    assert exif[0x8298] == "(c) 2024 Studio"  # {year}: when it was taken, read from the DNG
    assert GPS_IFD not in exif  # strip-gps, the default
    kept = run_one(src, R(operation="fit", width=120, height=120, format="jpeg", metadata="keep"))
    assert kept.getexif().get_ifd(GPS_IFD)[1] == "N"


def test_a_raws_maker_note_is_not_carried(tmp_path):
    # Tens of KB, with offsets into the RAW: past a JPEG's 64 KB EXIF segment it would fail the file.
    src = sources.dng(tmp_path / "nikon.dng", photo((240, 160)), preview_scale=None,
                      exif={DATETIME_ORIGINAL: (2, "2024:05:06 07:08:09"), MAKER_NOTE: (7, b"Nikon\0" + bytes(70_000))})
    exif = run_one(src, R(operation="fit", width=120, height=120, format="jpeg", metadata="keep")).getexif()
    assert exif[MAKE] == "Hotfolder" and MAKER_NOTE not in exif.get_ifd(EXIF_IFD)
    assert exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] == "2024:05:06 07:08:09"


def test_a_raws_tags_that_cannot_be_read_give_what_can_be(tmp_path):
    # LibRaw refuses a DNG whose EXIF IFD points past its end; our reader, used for other
    # RAWs too, gives IFD0's tags and no error.
    src = sources.dng(tmp_path / "odd.dng", photo((240, 160)), preview_scale=None,
                      exif={DATETIME_ORIGINAL: (2, "2024:05:06 07:08:09")})
    data = bytearray(src.read_bytes())
    at = data.index(bytes.fromhex("6987040001000000"))  # the EXIF IFD's pointer, sent past the file's end
    data[at + 8:at + 12] = (len(data) + 10_000).to_bytes(4, "little")
    src.write_bytes(bytes(data))
    from hotfolder.engine import tifftags

    exif = Image.Exif()
    exif.load(tifftags.raw_photo_exif(tifftags.read(src)))
    assert exif[MAKE] == "Hotfolder" and DATETIME_ORIGINAL not in exif.get_ifd(EXIF_IFD)
    not_tiff = tmp_path / "x.cr3"
    not_tiff.write_bytes(b"\0\0\0\x18ftypcrx " + bytes(100))
    assert tifftags.read(not_tiff) is None


# --- 26.17: an output's EXIF describes the output ------------------------------------------

def _jfif(im: Image.Image) -> tuple[tuple[int, int], int]:
    return im.info["jfif_density"], im.info["jfif_unit"]


@pytest.mark.parametrize("exif_tags, jfif, exif_says", [
    ({}, ((72, 72), 1), (72.0, 72.0, 2)),  # none: 72 dpi, written into both
    ({"011a": 300.0, "011b": 300.0, "0128": 2}, ((300, 300), 1), (300.0, 300.0, 2)),
    ({"011a": 118.11, "011b": 118.11, "0128": 3}, ((300, 300), 1), (118.11, 118.11, 3)),  # per cm
    ({"011a": 0.0, "011b": 0.0}, ((72, 72), 1), (72.0, 72.0, 2)),  # unusable: as none
], ids=["none", "300dpi", "per-cm", "zero"])
def test_jfif_and_exif_state_the_same_density(tmp_path, exif_tags, jfif, exif_says):
    src = camera_jpeg(tmp_path / "d.jpg", camera_exif(SRGB, **exif_tags))
    out = run_one(src, R(operation="fit", width=96, height=96, format="jpeg", metadata="keep"))
    assert _jfif(out) == jfif
    exif = out.getexif()
    assert (round(float(exif[X_RES]), 2), round(float(exif[Y_RES]), 2), exif[RES_UNIT]) == exif_says
    png = run_one(src, R(operation="fit", width=96, height=96, format="png"))
    assert png.info["dpi"] == pytest.approx(tuple(float(v) for v in jfif[0]), abs=0.1)


def test_an_output_without_exif_states_72_dpi(tmp_path):
    src = tmp_path / "plain.jpg"
    patch_image().save(src, quality=95)
    assert _jfif(run_one(src, R(operation="none", format="jpeg", metadata="strip-all"))) == ((72, 72), 1)


@pytest.mark.parametrize("fmt, dpi", [("JPEG", (240, 240)), ("PNG", (300, 300)), ("JPEG", (400, 200))],
                         ids=["jfif", "png-phys", "jfif-unequal"])
def test_a_density_stated_outside_exif_is_kept(tmp_path, fmt, dpi):
    """A scanner's JPEG states its density in JFIF only, a PNG in pHYs only: a print lab's
    240 or 300 dpi file came out saying 72 dpi (printed 3-4x too large), EXIF being read alone."""
    src = tmp_path / f"scan.{fmt.lower()}"
    patch_image().save(src, fmt, dpi=dpi)
    assert not Image.open(src).getexif()  # no EXIF: the density is JFIF's or pHYs' alone
    out = run_one(src, R(operation="fit", width=96, height=96, format="jpeg", metadata="keep"))
    assert _jfif(out) == (dpi, 1)
    png = run_one(src, R(operation="fit", width=96, height=96, format="png", metadata="strip-all"))
    assert png.info["dpi"] == pytest.approx(dpi, abs=0.1)


@pytest.mark.parametrize("orientation, size", [(1, (96, 16)), (6, (16, 96))])
def test_exif_image_width_and_height_are_the_outputs(tmp_path, orientation, size):
    exif = Image.Exif()
    exif.load(camera_exif(SRGB))
    exif[0x0112] = orientation
    exif.get_ifd(EXIF_IFD).update({PIXEL_W: 192, PIXEL_H: 32})
    src = tmp_path / "sized.jpg"
    patch_image().save(src, quality=95, exif=exif.tobytes())
    out = run_one(src, R(operation="fit", width=96, height=96, format="jpeg", metadata="keep"))
    assert out.size == size
    photo_ifd = out.getexif().get_ifd(EXIF_IFD)
    assert (photo_ifd[PIXEL_W], photo_ifd[PIXEL_H]) == size


def test_a_source_without_pixel_dimensions_gets_none(tmp_path):
    src = camera_jpeg(tmp_path / "c.jpg", camera_exif(SRGB))
    out = run_one(src, R(operation="fit", width=96, height=96, format="jpeg", metadata="keep"))
    assert PIXEL_W not in out.getexif().get_ifd(EXIF_IFD)


def test_outputs_of_one_source_each_state_their_own_size(tmp_path):
    exif = Image.Exif()
    exif.load(camera_exif(SRGB))
    exif.get_ifd(EXIF_IFD).update({PIXEL_W: 192, PIXEL_H: 32})
    src = tmp_path / "two.jpg"
    patch_image().save(src, quality=95, exif=exif.tobytes())
    big, small = run(src, R(name="big", operation="none", format="jpeg", metadata="keep"),
                     R(name="small", operation="fit", width=48, height=48, format="webp", metadata="keep"))
    for out, size in ((big, (192, 32)), (small, (48, 8))):
        photo_ifd = Image.open(io.BytesIO(out.data)).getexif().get_ifd(EXIF_IFD)
        assert (photo_ifd[PIXEL_W], photo_ifd[PIXEL_H]) == size


# --- 26.15: a panorama's watermark stays readable -------------------------------------------

EXAMPLE_MARK = Watermark(text="© Example Studio", position="bottom-right", opacity=0.6, size=0.33, margin=0.02)


def _mark_box(src: Path, wm: Watermark, size: tuple[int, int]) -> tuple[int, int, int, int]:
    from PIL import ImageChops

    plain, marked = (run_one(src, R(operation="fit", width=size[0], height=size[1], format="png", watermark=w))
                     for w in (None, wm))
    return ImageChops.difference(plain, marked).point(lambda v: 255 if v > 30 else 0).getbbox()


def test_a_panoramas_mark_is_at_least_the_minimum_width(tmp_path):
    # The example's mark on a 1600x240 web image: 0.33 of 240 is 80 px, its capitals 8 px tall.
    src = tmp_path / "pano.jpg"
    photo((3200, 480)).save(src, quality=90)
    left, top, right, bottom = _mark_box(src, EXAMPLE_MARK, (1600, 1600))
    assert right - left >= 120 - 4  # the glyphs of a 120 px mark (its halo is faint at the ends)
    assert right <= 1600 - 0.02 * 240 and bottom <= 240 - 0.02 * 240  # still in its corner
    assert bottom - top >= 14  # capitals 10 px and the descender; ~11 at 80 px


def test_min_size_never_makes_a_mark_wider_than_the_image_and_0_turns_it_off():
    from hotfolder.engine.watermark import mark_width

    assert mark_width((100, 60), EXAMPLE_MARK) == 100
    assert mark_width((1600, 240), Watermark(text="x", size=0.33, min_size=0)) == 79
    assert mark_width((1600, 240), Watermark(text="x", size=0.33, min_size=300)) == 300
    assert mark_width((1600, 1067), EXAMPLE_MARK) == 352  # an ordinary photo's is larger anyway


@pytest.mark.parametrize("size, width", [((1600, 240), 160), ((240, 1600), 160), ((1200, 800), 120)])
def test_size_of_longer_sizes_by_the_longer_side(size, width):
    from hotfolder.engine.watermark import mark_width

    assert mark_width(size, Watermark(text="x", size=0.1, size_of="longer", min_size=0)) == width


# --- 26.14: float TIFFs ----------------------------------------------------------------------

FLOAT_WIDTH = 1000


def srgb_encoded(linear) -> np.ndarray:
    x = np.clip(np.asarray(linear, np.float64), 0, 1)
    return np.round(255 * np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)).astype(int)


def float_ramp(top: float, dtype="float32", bands: int = 3):
    """Linear light from 0 to `top` along the width: red the ramp, green half of it, blue a quarter."""
    ramp = np.linspace(0, top, FLOAT_WIDTH)
    pixels = np.zeros((8, FLOAT_WIDTH, bands), np.float64)
    for band, share in zip(range(min(bands, 3)), (1, 0.5, 0.25), strict=False):
        pixels[..., band] = ramp * share
    if bands == 4:
        pixels[..., 3] = 0.5
    return ramp, pixels.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_display_referred_float_tiff_is_the_srgb_encoding_of_its_light(tmp_path, dtype):
    ramp, pixels = float_ramp(1.0, dtype)
    src = sources.tiff(tmp_path / "linear.tif", pixels)
    out = np.asarray(run_one(src, R(operation="none", format="png")).convert("RGB"))[4].astype(int)
    tolerance = 1 if dtype == "float32" else 2  # half floats: 10 bits of mantissa
    for band, share in enumerate((1, 0.5, 0.25)):
        assert np.abs(out[:, band] - srgb_encoded(ramp.astype(dtype).astype(float) * share)).max() <= tolerance


def test_an_hdr_float_tiff_keeps_its_midtones_and_rolls_its_highlights_off(tmp_path):
    ramp, pixels = float_ramp(4.0)  # an HDR merge: highlights up to 4x white
    src = sources.tiff(tmp_path / "merge.tif", pixels)
    red = np.asarray(run_one(src, R(operation="none", format="png")).convert("RGB"))[4, :, 0].astype(int)
    below = ramp <= 0.8
    assert np.abs(red[below] - srgb_encoded(ramp[below])).max() <= 1  # midtones: their exposure kept
    assert np.all(np.diff(red) >= 0) and red[-1] == 255
    above = red[(ramp > 1.0) & (ramp < 3.9)]  # clipped at 1.0, these would all be 255
    assert len(set(above.tolist())) >= 10 and above.min() < 250


def test_a_float_tiff_with_a_profile_is_in_its_profile(tmp_path):
    # Photoshop's 32-bit files embed a linear profile: the values are linear light in it.
    linear_srgb = sources.matrix_profile("linear sRGB", [(0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971),
                                                         (0.1431, 0.0606, 0.7141)], 1.0)
    ramp, pixels = float_ramp(1.0)
    src = sources.tiff(tmp_path / "ps32.tif", pixels, icc=linear_srgb)
    out = run_one(src, R(operation="none", format="png"))
    assert out.info["icc_profile"] == srgb_icc()
    red = np.asarray(out.convert("RGB"))[4, :, 0].astype(int)
    assert np.abs(red - srgb_encoded(ramp)).max() <= 3  # through LittleCMS from its 16 bits


def test_a_grey_float_tiff_and_one_with_alpha(tmp_path):
    ramp, pixels = float_ramp(1.0, bands=1)
    grey = run_one(sources.tiff(tmp_path / "grey.tif", pixels[..., 0]), R(operation="none", format="png"))
    assert grey.mode == "L" and np.abs(np.asarray(grey)[4].astype(int) - srgb_encoded(ramp)).max() <= 1
    _, rgba = float_ramp(1.0, bands=4)
    out = run_one(sources.tiff(tmp_path / "rgba.tif", rgba), R(operation="none", format="png"))
    assert out.mode == "RGBA" and abs(np.asarray(out)[4, :, 3].astype(int) - 128).max() <= 1


def test_a_float_tiffs_orientation_and_tags_are_kept(tmp_path):
    _, pixels = float_ramp(1.0)
    src = sources.tiff(tmp_path / "turned.tif", pixels, exif={DATETIME_ORIGINAL: (2, "2025:01:02 03:04:05")})
    data = bytearray(src.read_bytes())  # IFD0 gains Orientation 6 (in place of PlanarConfiguration's 1)
    at = data.index(bytes.fromhex("1c01030001000000"))
    data[at:at + 12] = bytes.fromhex("120103000100000006000000")
    src.write_bytes(bytes(data))
    out = run_one(src, R(operation="none", format="jpeg", metadata="keep"))
    assert out.size == (8, FLOAT_WIDTH)  # turned upright
    assert out.getexif().get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] == "2025:01:02 03:04:05"
    assert np.asarray(out.convert("L"))[0, 4] < np.asarray(out.convert("L"))[-1, 4]  # the ramp runs downwards


@pytest.mark.parametrize("dtype, said", [
    ("float64", "a TIFF of 3 × 64-bit floating-point samples (RGB), which hotfolder cannot read: save it with "
                "16- or 32-bit float samples"),
    ("int16", "a TIFF of 3 × 16-bit signed integer samples (RGB), which hotfolder cannot read: save it with 8- or "
              "16-bit unsigned integer samples, or 16- or 32-bit float ones"),
])
def test_a_tiff_hotfolder_cannot_read_is_named_by_its_samples(tmp_path, dtype, said):
    from hotfolder.engine.pipeline import InputError

    src = sources.tiff(tmp_path / "odd.tif", np.zeros((8, 8, 3), dtype))
    with pytest.raises(InputError) as err:
        run(src, R(operation="none", format="png"))
    assert err.value.reason == said


def test_a_float_tiff_is_held_to_the_pixel_limit_and_to_accepted_formats(tmp_path):
    from hotfolder.engine.pipeline import InputError

    src = sources.tiff(tmp_path / "big.tif", np.zeros((8, 8, 3), np.float32))
    data = bytearray(src.read_bytes())  # ImageWidth 8 → 2,000,000, before any sample is read
    at = data.index(bytes.fromhex("0001040001000000"))
    data[at + 8:at + 12] = (2_000_000).to_bytes(4, "little")
    src.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        run(src, R(operation="none", format="png"))
    assert "more than max_image_pixels" in err.value.reason
    small = sources.tiff(tmp_path / "small.tif", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(InputError) as err:
        run(small, R(operation="none", format="png"), accepted=("jpeg", "png"))
    assert err.value.reason == ("format tiff is not accepted (accepted: jpeg, png); add tiff to `accepted_formats` "
                                "to take such files")


@pytest.mark.parametrize("shape", [(64, 64, 3), (64, 64)], ids=["rgb", "grey"])
def test_a_truncated_float_tiff_fails_with_libtiffs_reason(tmp_path, shape):
    from hotfolder.engine.pipeline import InputError

    src = sources.tiff(tmp_path / "cut.tif", np.random.default_rng(1).random(shape, np.float32))
    src.write_bytes(src.read_bytes()[:-8_000])
    with pytest.raises(InputError) as err:
        run(src, R(operation="none", format="png"))
    assert err.value.step == "decode" and "Read error at scanline" in err.value.reason
