"""color_profile: wide-gamut sources come out in sRGB at the values LittleCMS computes,
16-bit sources keep their gradients, `keep` and a profile path do what they say."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image, ImageCms

from hotfolder.config.model import Rendition
from hotfolder.engine.colour import srgb_icc
from tests import sources
from tests.rendering import opened, run, run_one

ALL = ("jpeg", "png", "webp", "tiff", "heic", "raw")
# Saturated, but inside sRGB once converted: a conversion that did nothing would be far off.
PATCHES = [(200, 60, 30), (60, 170, 80), (40, 70, 190), (220, 200, 60), (170, 60, 170), (128, 128, 128),
           (255, 0, 0)]
SIDE = 48
TOLERANCE = 2  # libvips and Pillow both use LittleCMS; libvips goes through Lab in float


def R(**fields) -> Rendition:
    fields.setdefault("name", "r")
    fields.setdefault("operation", "none")
    fields.setdefault("format", "png")
    return Rendition(**fields)


def patch_image() -> Image.Image:
    im = Image.new("RGB", (SIDE * len(PATCHES), SIDE))
    for i, colour in enumerate(PATCHES):
        im.paste(colour, (i * SIDE, 0, (i + 1) * SIDE, SIDE))
    return im


def centres(im: Image.Image) -> list[tuple[int, ...]]:
    return [im.convert("RGB").getpixel((i * SIDE + SIDE // 2, SIDE // 2)) for i in range(len(PATCHES))]


def littlecms_srgb(im: Image.Image, icc: bytes) -> list[tuple[int, ...]]:
    """What LittleCMS makes of the same patches, through Pillow's ImageCms (not the engine)."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return centres(ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"),
                                             renderingIntent=ImageCms.Intent.PERCEPTUAL))


def worst(a, b) -> int:
    return max(abs(x - y) for p, q in zip(a, b, strict=False) for x, y in zip(p, q, strict=False))


@pytest.mark.parametrize("name, icc, fmt", [("p3", sources.display_p3_icc, "JPEG"),
                                            ("adobe-rgb", sources.adobe_rgb_icc, "TIFF")])
def test_wide_gamut_patches_come_out_at_the_srgb_values_littlecms_computes(tmp_path, name, icc, fmt):
    icc = icc()
    src = tmp_path / f"{name}.{fmt.lower()}"
    patch_image().save(src, fmt, icc_profile=icc, **({"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}))
    with Image.open(src) as stored:  # JPEG's own loss: compare with what the file holds
        expected = littlecms_srgb(stored.convert("RGB"), icc)
        as_stored = centres(stored)
    for out_fmt in ("png", "jpeg", "webp"):
        out = run_one(src, R(format=out_fmt, quality=100))
        assert out.info.get("icc_profile") == srgb_icc(), out_fmt
        tolerance = TOLERANCE if out_fmt == "png" else TOLERANCE + 4
        assert worst(centres(out), expected) <= tolerance, (out_fmt, centres(out), expected)
    assert worst(as_stored, expected) > 15  # not converting would have been caught


def test_keep_leaves_pixels_and_profile_as_they_are(tmp_path):
    icc = sources.display_p3_icc()
    src = tmp_path / "p3.png"
    patch_image().save(src, icc_profile=icc)
    out = run_one(src, R(color_profile="keep"))
    assert out.info.get("icc_profile") == icc
    assert centres(out) == PATCHES


def test_a_source_without_a_profile_is_taken_as_srgb_and_left_as_it_is(tmp_path):
    src = tmp_path / "plain.png"
    patch_image().save(src)
    out = run_one(src, R())
    assert "icc_profile" not in out.info and centres(out) == PATCHES


def test_a_profile_path_converts_to_that_profile(tmp_path):
    target = tmp_path / "adobe.icc"
    target.write_bytes(sources.adobe_rgb_icc())
    src = tmp_path / "plain.png"
    patch_image().save(src)  # no profile: sRGB
    out = run_one(src, R(color_profile=str(target)))
    assert out.info.get("icc_profile") == target.read_bytes()
    expected = centres(ImageCms.profileToProfile(
        patch_image(), ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(str(target)),
        renderingIntent=ImageCms.Intent.PERCEPTUAL))
    assert worst(centres(out), expected) <= TOLERANCE and worst(centres(out), PATCHES) > 15


def test_renditions_with_different_profiles_share_one_decode(tmp_path):
    icc = sources.display_p3_icc()
    src = tmp_path / "p3.png"
    patch_image().save(src, icc_profile=icc)
    web, kept = run(src, R(name="web"), R(name="kept", color_profile="keep"))
    assert opened(web).info["icc_profile"] == srgb_icc()
    assert centres(opened(kept)) == PATCHES


# --- 16 bits -----------------------------------------------------------------------

WIDTH = 1024


def gradient16(path: Path, icc: bytes | None, *, blue: bool = False) -> Path:
    """A 16-bit RGB ramp 0..65535 in red (and, reversed, in blue), written by libvips."""
    ramp = np.linspace(0, 65535, WIDTH).round().astype(np.uint16)
    pixels = np.zeros((8, WIDTH, 3), np.uint16)
    pixels[..., 0] = ramp
    if blue:
        pixels[..., 2] = ramp[::-1]
    image = pyvips.Image.new_from_memory(pixels.tobytes(), WIDTH, 8, 3, "ushort").copy(interpretation="rgb16")
    if icc is not None:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    image.write_to_file(str(path))
    return path


def levels(im: Image.Image, band: int) -> np.ndarray:
    return np.asarray(im.convert("RGB"))[4, :, band].astype(int)


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_a_16_bit_p3_gradient_is_converted_from_its_16_bits(tmp_path, suffix):
    src = gradient16(tmp_path / f"ramp.{suffix}", sources.display_p3_icc())
    with Image.open(src) as check:
        assert check.mode == "RGB" and ";16" in str(check.tile[0].args)  # Pillow alone would keep 8 bits
    red = levels(run_one(src, R()), 0)
    assert np.all(np.diff(red) >= 0) and red[0] == 0 and red[-1] == 255
    # Every one of 256 levels is there; converted from 8 bits, ~10 % of them go missing.
    assert len(set(red.tolist())) >= 250, len(set(red.tolist()))
    eight = tmp_path / "ramp8.png"
    Image.open(src).convert("RGB").save(eight, icc_profile=sources.display_p3_icc())
    assert len(set(levels(run_one(eight, R()), 0).tolist())) < 245


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_a_16_bit_gradient_without_a_profile_is_scaled_not_clipped(tmp_path, suffix):
    src = gradient16(tmp_path / f"ramp.{suffix}", None, blue=True)
    out = run_one(src, R())
    red, blue = levels(out, 0), levels(out, 2)
    expected = np.round(np.linspace(0, 65535, WIDTH).round() / 257).astype(int)
    assert np.abs(red - expected).max() <= 1 and np.abs(blue - expected[::-1]).max() <= 1
    assert "icc_profile" not in out.info


def test_a_16_bit_rendition_is_resampled_and_upright(tmp_path):
    src = gradient16(tmp_path / "ramp.tif", sources.display_p3_icc())
    out = run_one(src, R(operation="fit", width=256, height=256, format="jpeg"))
    assert out.size == (256, 2) and out.info["icc_profile"] == srgb_icc()
    red = levels(out.resize((256, 8)), 0)
    assert red[0] < 10 and red[-1] > 245


def _grey_profile(gamma: float) -> bytes:
    """A v2 grey display profile (D50 white, one power curve), as Photoshop's Gray Gamma ones."""
    import struct

    from hotfolder.engine import matrixicc

    trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", matrixicc._text_description(f"Gray Gamma {gamma}")), (b"cprt", b"text\0\0\0\0test\0"),
            (b"wtpt", matrixicc._xyz(matrixicc.D50)), (b"kTRC", trc)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    header = (struct.pack(">I", offset + len(body)) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrGRAYXYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + b"".join(matrixicc._s15(v) for v in matrixicc.D50) + b"\0" * 48)
    return header + table + body


@pytest.mark.parametrize("fmt", ["webp", "avif"])
@pytest.mark.parametrize("mode", ["L", "LA"])
@pytest.mark.parametrize("target", ["srgb", "keep"])
def test_a_grey_photo_in_a_grey_profile_written_as_rgb_is_converted_to_an_rgb_profile(tmp_path, fmt, mode, target):
    """WebP and AVIF have no grey: a grey scan is written as RGB. Its grey profile (Photoshop's
    Dot Gain and Gray Gamma ones) went with it, which no RGB pixels can carry: LittleCMS
    refuses the file ("cannot build transform") and viewers drop the profile, showing a
    linear grey's mid-tones far too dark. Now converted through it into sRGB, and so tagged."""
    grey = _grey_profile(1.0)
    src = tmp_path / f"scan_{mode}.png"
    ramp = Image.frombytes("L", (256, 8), bytes(range(256)) * 8)
    im = ramp if mode == "L" else Image.merge("LA", (ramp, Image.new("L", ramp.size, 255)))
    im.save(src, icc_profile=grey)
    out = run_one(src, R(format=fmt, quality=100, color_profile=target))
    icc = out.info.get("icc_profile")
    assert icc, "an RGB output of a profiled grey carries an RGB profile"
    as_srgb = ImageCms.profileToProfile(out.convert("RGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                        ImageCms.createProfile("sRGB"))
    expected = ImageCms.profileToProfile(ramp, ImageCms.ImageCmsProfile(io.BytesIO(grey)),
                                         ImageCms.createProfile("sRGB"), outputMode="RGB")
    got, want = np.asarray(as_srgb).astype(int)[4], np.asarray(expected).astype(int)[4]
    assert np.abs(got - want).max() <= 6, (got[::32], want[::32])
