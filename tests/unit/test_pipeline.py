"""pipeline: real image files under tmp_path, made with Pillow; no network."""
from __future__ import annotations

import io
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from hotfolder.config.model import Rendition, Watermark
from hotfolder.engine import pipeline
from hotfolder.engine.pipeline import InputError
from hotfolder.spool.owners import output_name
from tests.imaging import BLUE, GREY, RED, marked, png_claiming, stored_as
from tests.rendering import R, near, render_one, run, run_one


@pytest.fixture
def jpeg(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    marked((400, 300)).save(path, quality=95)
    return path


# --- operations --------------------------------------------------------------------

@pytest.mark.parametrize(
    "rendition, size",
    [
        (R(operation="fit", width=200, height=200), (200, 150)),
        (R(operation="fit", width=100, height=None), (100, 75)),
        (R(operation="fit", width=None, height=60), (80, 60)),
        (R(operation="fill", width=100, height=100), (100, 100)),
        (R(operation="fill", width=160, height=90), (160, 90)),
        (R(operation="scale", scale=0.5), (200, 150)),
        (R(operation="none"), (400, 300)),
    ],
    ids=["fit", "fit-free-height", "fit-free-width", "fill-square", "fill-wide", "scale", "none"],
)
def test_operation_gives_the_size_asked(jpeg, rendition, size):
    assert run_one(jpeg, rendition).size == size


def test_fill_crops_the_centre(tmp_path):
    im = Image.new("RGB", (300, 100), RED)
    im.paste(BLUE, (100, 0, 200, 100))
    src = tmp_path / "wide.png"
    im.save(src)
    out = run_one(src, R(operation="fill", width=50, height=50, format="png"))
    assert out.size == (50, 50)
    assert near(out.getpixel((4, 25)), BLUE, 5) and near(out.getpixel((45, 25)), BLUE, 5)


def test_fit_and_fill_never_enlarge_unless_asked(tmp_path):
    src = tmp_path / "small.png"
    marked((100, 80)).save(src)
    assert run_one(src, R(operation="fit", width=400, height=400)).size == (100, 80)
    assert run_one(src, R(operation="fit", width=400, height=400, upscale=True)).size == (400, 320)
    # Too small to fill: the largest centred crop of the box's shape, not enlarged.
    assert run_one(src, R(operation="fill", width=200, height=100)).size == (100, 50)
    assert run_one(src, R(operation="fill", width=200, height=100, upscale=True)).size == (200, 100)


def test_scale_is_explicit_and_may_enlarge(tmp_path):
    src = tmp_path / "small.png"
    marked((100, 80)).save(src)
    assert run_one(src, R(operation="scale", scale=2.0)).size == (200, 160)


def test_renditions_share_one_decode_and_keep_their_order(tmp_path):
    jpeg = tmp_path / "photo.jpg"  # above resample.SMALL: libvips resamples, from the frame ladder
    marked((800, 600)).save(jpeg, quality=95)
    small, big, crop = (
        # PNG: the comparison below is of the resampling paths, not of two JPEG encodes' noise
        R(name="small", operation="fit", width=100, height=100, format="png"),
        R(name="big", operation="fit", width=600, height=600),
        R(name="crop", operation="fill", width=80, height=80),
    )
    outs = run(jpeg, small, big, crop)
    assert [o.rendition.name for o in outs] == ["small", "big", "crop"]
    assert [(o.width, o.height) for o in outs] == [(100, 75), (600, 450), (80, 80)]
    # Derived from the 600 px frame, the 100 px one matches a direct render.
    direct = run_one(jpeg, small)
    derived = Image.open(io.BytesIO(outs[0].data))
    assert max(abs(a - b) for a, b in zip(direct.tobytes(), derived.tobytes(), strict=False)) <= 12


def test_watermark_never_leaks_into_a_rendition_sharing_the_frame(jpeg):
    marked_one = R(name="wm", operation="fit", width=200, height=200, format="png",
                   watermark=Watermark(text="(c) hotfolder", opacity=1.0, size=0.5))
    plain = R(name="plain", operation="fit", width=200, height=200, format="png")
    wm, clean = (Image.open(io.BytesIO(o.data)) for o in run(jpeg, marked_one, plain))
    assert wm.tobytes() != clean.tobytes()
    assert clean.tobytes() == run_one(jpeg, plain).tobytes()


@pytest.mark.parametrize("source", ["jpeg", "png"])
def test_a_watermark_drawn_between_two_plain_renditions_of_one_frame_reaches_neither(tmp_path, source):
    src = tmp_path / f"photo.{source}"
    marked((400, 300)).save(src)
    plain = R(name="plain", operation="fit", width=200, height=200, format="png")
    wm = R(name="wm", operation="fit", width=200, height=200, format="png",
           watermark=Watermark(text="(c) hotfolder", opacity=1.0, size=0.5))
    again = R(name="again", operation="fit", width=200, height=200, format="png")
    first, middle, last = (Image.open(io.BytesIO(o.data)).tobytes() for o in run(src, plain, wm, again))
    alone = run_one(src, plain).tobytes()
    assert first == last == alone and middle != alone


def test_threads_change_the_speed_not_the_pixels(jpeg):
    renditions = (R(name="big", operation="fit", width=300, height=300, format="png"),
                  R(name="crop", operation="fill", width=90, height=60, format="png"))
    one = [o.data for o in run(jpeg, *renditions, threads=1)]
    many = [o.data for o in run(jpeg, *renditions, threads=4)]
    assert one == many


def test_transparent_colour_does_not_bleed_into_a_resized_edge(tmp_path):
    # Transparent *black* beside opaque red: resampled naively, the edge turns dark red;
    # weighted by alpha (as Pillow and the engine do), it stays red and fades out.
    src = tmp_path / "edge.png"
    im = Image.new("RGBA", (100, 10), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (50, 0, 100, 10))
    im.save(src)
    out = run_one(src, R(operation="fit", width=50, height=50, format="png"))
    edge = [out.getpixel((x, 2)) for x in range(22, 28)]
    assert any(0 < a < 255 for *_, a in edge), edge
    assert all(r >= 250 and g <= 5 for r, g, _, a in edge if a >= 8), edge


MEMORY_PROBE = """
import resource, sys
from hotfolder.engine import pipeline
from hotfolder.config.model import Rendition
if sys.argv[2] == "warm":
    pipeline.warm_up()
renditions = (Rendition(name="a", width=1000, height=1000, format="jpeg"),
              Rendition(name="b", operation="fill", width=300, height=300, format="webp"))
for i in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    pipeline.render(sys.argv[1], renditions, accepted_formats=("jpeg",), max_image_pixels=10**8)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_a_warmed_up_worker_keeps_freed_frame_memory_for_the_next_file(tmp_path):
    # glibc hands large freed blocks back to the kernel, and the next file faults every
    # page in again; after warm_up() a second file of the same size faults almost none.
    import ctypes
    if not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("no glibc mallopt here")
    src = tmp_path / "big.jpg"
    marked((3000, 2000)).save(src)

    def faults_of_the_second_file(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(src), mode],
                             capture_output=True, text=True, timeout=60, check=True)
        return int(out.stdout)

    cold, warm = faults_of_the_second_file("cold"), faults_of_the_second_file("warm")
    assert warm < 1000 < cold, (warm, cold)


# --- orientation -------------------------------------------------------------------

@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_every_exif_orientation_comes_out_upright(tmp_path, orientation, fmt):
    src = tmp_path / f"o{orientation}.{fmt}"
    exif = Image.Exif()
    exif[pipeline.ORIENTATION_TAG] = orientation
    stored_as(marked((120, 80)), orientation).save(src, exif=exif, **({"quality": 95} if fmt == "jpeg" else {}))
    out = run_one(src, R(operation="fit", width=60, height=60, format="png"))
    assert out.size == (60, 40)
    assert near(out.getpixel((3, 3)), RED) and near(out.getpixel((56, 3)), BLUE)
    assert near(out.getpixel((30, 30)), GREY)
    assert pipeline.ORIENTATION_TAG not in out.getexif()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_crops_the_upright_centre(tmp_path, orientation):
    # A fill crops the upright picture; the engine crops the stored pixels and turns
    # the result: both must show the same region (the red block's corner stays in).
    upright = marked((120, 80))
    src = tmp_path / f"o{orientation}.png"
    exif = Image.Exif()
    exif[pipeline.ORIENTATION_TAG] = orientation
    stored_as(upright, orientation).save(src, exif=exif)
    reference = tmp_path / "upright.png"
    upright.save(reference)
    fill = R(operation="fill", width=40, height=30, format="png")
    out, want = run_one(src, fill), run_one(reference, fill)
    assert out.size == want.size == (40, 30)
    assert max(abs(a - b) for a, b in zip(out.tobytes(), want.tobytes(), strict=False)) <= 2


def test_orient_false_keeps_the_stored_pixels_and_the_tag(tmp_path):
    src = tmp_path / "o6.jpg"
    exif = Image.Exif()
    exif[pipeline.ORIENTATION_TAG] = 6
    stored_as(marked((120, 80)), 6).save(src, exif=exif, quality=95)
    out = run_one(src, R(operation="fit", width=60, height=60, orient=False, metadata="keep"))
    assert out.size == (40, 60)
    assert out.getexif()[pipeline.ORIENTATION_TAG] == 6


def test_draft_accounts_for_a_sideways_stored_jpeg(tmp_path):
    # Stored 1000x3000 and turned upright to 3000x1000: fit 1400 needs 1400x467 upright,
    # i.e. 467x1400 as stored, so a 1/2 decode (500x1500) suffices; unswapped it would not.
    src = tmp_path / "side.jpg"
    exif = Image.Exif()
    exif[pipeline.ORIENTATION_TAG] = 6
    Image.new("RGB", (1000, 3000), GREY).save(src, exif=exif)
    with Image.open(src) as im:
        pipeline._draft(im, [R(operation="fit", width=1400, height=1400)])
        assert im.size == (500, 1500)
    assert run_one(src, R(operation="fit", width=1400, height=1400)).size == (1400, 467)


def test_camera_mpo_jpeg_is_treated_as_jpeg(tmp_path):
    src = tmp_path / "camera.jpg"
    first = marked((800, 600))
    first.save(src, format="MPO", save_all=True, append_images=[marked((800, 600))], quality=95)
    with Image.open(src, formats=["JPEG"]) as im:
        assert im.format == "MPO"
        pipeline._draft(im, [R(operation="fit", width=200, height=200)])
        assert im.size == (200, 150)
    (out,) = run(src, R(operation="fit", width=200, height=200), accepted=("jpeg",))
    assert out.ext == "jpg" and Image.open(io.BytesIO(out.data)).format == "JPEG"


def test_no_renditions_give_no_outputs(jpeg):
    assert run(jpeg) == []


def test_draft_never_decodes_below_what_the_largest_rendition_needs(tmp_path):
    src = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1600), GREY).save(src)
    for width, expected in [(1000, (1000, 800)), (999, (1000, 800)), (1001, (2000, 1600)), (250, (250, 200)),
                            (100, (250, 200))]:
        with Image.open(src) as im:
            pipeline._draft(im, [R(operation="fit", width=width, height=width)])
            assert im.size == expected, width


# --- metadata ----------------------------------------------------------------------

# Made once: the profile's header holds its creation time, so two calls may differ.
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo_with_metadata(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    gps = exif.get_ifd(pipeline.GPS_IFD_TAG)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    marked((200, 150)).save(path, quality=90, exif=exif, icc_profile=SRGB_ICC)
    return path


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "tiff"])
@pytest.mark.parametrize("metadata", ["keep", "strip-gps", "strip-all"])
def test_icc_profile_is_always_kept(tmp_path, fmt, metadata):
    # color_profile: keep writes the source's own profile; srgb (the default) writes the
    # compact sRGB one for an sRGB source, its pixels unchanged (see tests/unit/test_colour.py).
    from hotfolder.engine.colour import srgb_icc

    src = photo_with_metadata(tmp_path / "p.jpg")
    kept = run_one(src, R(operation="fit", width=100, height=100, format=fmt, metadata=metadata, color_profile="keep"))
    assert kept.info.get("icc_profile") == SRGB_ICC
    out = run_one(src, R(operation="fit", width=100, height=100, format=fmt, metadata=metadata))
    assert out.info.get("icc_profile") == srgb_icc() != SRGB_ICC
    assert out.tobytes() == kept.tobytes()


def test_gps_is_stripped_by_default(tmp_path):
    out = run_one(photo_with_metadata(tmp_path / "p.jpg"), R(operation="fit", width=100, height=100))
    exif = out.getexif()
    assert exif[0x010F] == "Camera Maker"
    assert pipeline.GPS_IFD_TAG not in exif


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "tiff"])
def test_gps_is_kept_with_keep(tmp_path, fmt):
    src = photo_with_metadata(tmp_path / "p.jpg")
    out = run_one(src, R(operation="fit", width=100, height=100, format=fmt, metadata="keep"))
    assert out.getexif().get_ifd(pipeline.GPS_IFD_TAG)[1] == "N"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "tiff"])
def test_strip_gps_leaves_out_the_iptc_and_xmp_a_tool_put_inside_exif(tmp_path, fmt):
    # EXIF's IFD0 may hold a copy of the IPTC-IIM (IPTC-NAA, 33723: where a TIFF keeps it,
    # and where a9ec58e reads a TIFF's), of the XMP (XMLPacket, 700) and of Photoshop's
    # resources (34377): some tools write them into a JPEG's or PNG's EXIF. strip-gps copied
    # that EXIF whole, and exiftool read IPTC City and XMP photoshop:City from each output.
    from hotfolder.engine import iptc

    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif[33723] = iptc.serialise([(2, 90, b"Hometown"), (2, 80, b"Ann")])
    exif[700] = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                 b'<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
                 b'photoshop:City="Hometown"/></rdf:RDF></x:xmpmeta>')
    exif[34377] = b"8BIM\x04\x04\0\0\0\0\0\x0d" + iptc.serialise([(2, 90, b"Hometown")]) + b"\0"
    src = tmp_path / "p.jpg"
    marked((200, 150)).save(src, exif=exif.tobytes())
    out = run_one(src, R(operation="fit", width=100, height=100, format=fmt))
    assert {33723, 700, 34377}.isdisjoint(out.getexif()) and out.getexif()[0x010F] == "Camera Maker"
    assert b"Hometown" not in render_one(src, R(operation="fit", width=100, height=100, format=fmt)).data
    kept = run_one(src, R(operation="fit", width=100, height=100, format=fmt, metadata="keep"))
    if fmt == "tiff":  # a TIFF's EXIF is its own IFD0: those tags are the output's own XMP and IIM, or none
        assert {33723, 700, 34377}.isdisjoint(kept.getexif()) and kept.getexif()[0x010F] == "Camera Maker"
        return
    assert {33723, 700, 34377} <= set(kept.getexif())  # keep keeps the EXIF as it is


def test_strip_all_drops_exif_xmp_and_comment(tmp_path):
    src = tmp_path / "p.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    marked().save(src, exif=exif, xmp=b"<x:xmpmeta>hello</x:xmpmeta>", comment=b"secret")
    out = run_one(src, R(operation="fit", width=50, height=50, metadata="strip-all"))
    assert not out.getexif() and "xmp" not in out.info and "comment" not in out.info


def test_xmp_with_gps_is_dropped_unless_keep(tmp_path):
    src = tmp_path / "p.jpg"
    xmp = b'<x:xmpmeta><rdf:Description exif:GPSLatitude="48,51.4N" tiff:Orientation="6"/></x:xmpmeta>'
    marked().save(src, xmp=xmp)
    assert "xmp" not in run_one(src, R(operation="fit", width=50, height=50)).info
    kept = run_one(src, R(operation="fit", width=50, height=50, metadata="keep")).info["xmp"]
    assert b"GPSLatitude" in kept and b'tiff:Orientation="1"' in kept


# --- modes -------------------------------------------------------------------------

def test_rgba_is_flattened_onto_the_background_for_jpeg(tmp_path):
    src = tmp_path / "alpha.png"
    im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (50, 0, 100, 100))
    im.save(src)
    out = run_one(src, R(operation="fit", width=50, height=50, format="jpeg", background=(0, 200, 0)))
    assert out.mode == "RGB"
    assert near(out.getpixel((5, 25)), (0, 200, 0), 10) and near(out.getpixel((45, 25)), (255, 0, 0), 10)


def test_palette_with_transparency_is_flattened_for_jpeg_and_kept_for_png(tmp_path):
    src = tmp_path / "pal.png"
    im = Image.new("P", (60, 60), 0)
    im.putpalette([10, 10, 10, 255, 0, 0] + [0] * 762)
    im.paste(1, (30, 0, 60, 60))
    im.save(src, transparency=0)
    jpg = run_one(src, R(operation="none", format="jpeg", background=(0, 0, 255)))
    assert near(jpg.getpixel((5, 30)), (0, 0, 255), 10) and near(jpg.getpixel((55, 30)), (255, 0, 0), 10)
    png = run_one(src, R(operation="fit", width=30, height=30, format="png"))
    assert png.mode == "RGBA" and png.getpixel((2, 15))[3] == 0 and png.getpixel((28, 15)) == (255, 0, 0, 255)


def test_16_bit_png_is_scaled_not_blown_out(tmp_path):
    src = tmp_path / "deep.png"
    Image.new("I;16", (64, 64), 128 * 257).save(src)
    with Image.open(src) as check:
        assert check.mode == "I;16"
    for fmt in ("jpeg", "png", "webp"):
        out = run_one(src, R(operation="fit", width=32, height=32, format=fmt)).convert("L")
        assert abs(out.getpixel((16, 16)) - 128) <= 3, fmt


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    src = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (80, 80), (0, 255, 255, 0)).save(src)  # pure red ink
    for fmt in ("jpeg", "png", "webp"):
        out = run_one(src, R(operation="fit", width=40, height=40, format=fmt))
        red = out.getpixel((20, 20))  # a press's red (libvips' CMYK profile: no profile in the file)
        assert out.mode == "RGB" and red[0] > 200 and max(red[1:]) < 60, (fmt, red)


def test_a_cmyk_jpeg_without_a_profile_is_taken_as_printed_not_by_the_plain_formula(tmp_path):
    # A picture desk's audit: print-archive CMYK JPEGs without a profile (Adobe's inverted
    # CMYK, as Photoshop and Pillow write it) came out by the plain formula: 100 % cyan as
    # (0, 255, 255), where a press prints (0, 160, 228). Against FOGRA39's 1,617 measured
    # patches the formula was off by a mean dE76 of 24.0, libvips' CMYK profile by 8.5.
    src = tmp_path / "archive.jpg"
    im = Image.new("CMYK", (80, 40), (255, 0, 0, 0))  # 100 % cyan | 100 % magenta + yellow
    im.paste((0, 255, 255, 0), (40, 0, 80, 40))
    im.save(src, quality=95)
    out = run_one(src, R(operation="fit", width=80, height=40, format="jpeg", quality=95))
    cyan, red = out.convert("RGB").getpixel((20, 20)), out.convert("RGB").getpixel((60, 20))
    assert near(cyan, (0, 160, 228), tol=12), cyan
    assert red[0] > 200 and max(red[1:]) < 60, red  # red, not its negative (cyan): Adobe's inversion undone
    assert out.info["icc_profile"][16:20] == b"RGB "  # it says what its pixels are: sRGB


@pytest.mark.parametrize("mode", ["1", "L", "LA"])
def test_grey_modes_encode_to_every_format(tmp_path, mode):
    src = tmp_path / f"{mode}.png"
    Image.new(mode, (40, 40), 255 if mode != "LA" else (200, 255)).save(src)
    for fmt in ("jpeg", "png", "webp", "avif"):
        assert run_one(src, R(operation="fit", width=20, height=20, format=fmt)).size == (20, 20)


@pytest.mark.parametrize("mode, fmt", [("L", "webp"), ("L", "avif"), ("LA", "webp"), ("LA", "jpeg")])
def test_a_grey_profiled_picture_written_in_rgb_carries_its_greys_not_its_gray_profile(tmp_path, mode, fmt):
    # A picture desk's audit: a black-and-white photo with Photoshop's Gray profile came out of
    # WebP and AVIF (no grey mode) as RGB pixels still tagged with the Gray profile, which no
    # viewer applies to RGB: its greys shown as sRGB's, darker than the JPEG beside it. Its
    # greys are converted to the output's profile, and that profile is carried.
    from tests.sources import grey_profile

    src = tmp_path / "bw.png"
    Image.new(mode, (40, 40), 128 if mode == "L" else (128, 255)).save(
        src, icc_profile=grey_profile("Gray Gamma 1.8 test", 1.8))
    out = run_one(src, R(operation="fit", width=20, height=20, format=fmt, quality=95))
    icc = out.info.get("icc_profile", b"")
    assert icc[16:20] == b"RGB ", icc[16:20]
    assert near(out.convert("RGB").getpixel((10, 10)), (146,) * 3, tol=3), out.convert("RGB").getpixel((10, 10))


def test_animated_gif_gives_its_first_frame_or_fails_when_asked(tmp_path):
    src = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (40, 40), RED), Image.new("RGB", (40, 40), BLUE)]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = run_one(src, R(operation="none", format="png"))
    assert near(out.convert("RGB").getpixel((20, 20)), RED, 10)
    with pytest.raises(InputError, match="animated") as err:
        run(src, R(), animation="fail")
    assert err.value.step == "open"


# --- bad input ---------------------------------------------------------------------

def test_decompression_bomb_header_is_refused_quickly_without_allocating(tmp_path):
    src = png_claiming(tmp_path / "bomb.png", 40000, 40000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=100, height=100), max_pixels=100_000_000)
    assert time.perf_counter() - start < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB; 40000² RGB is 4.8 GB
    assert err.value.step == "open" and "pixels" in err.value.reason


def test_image_over_the_limit_is_refused_not_just_warned(tmp_path):
    # 1600 pixels against a limit of 1000: below Pillow's 2x error, above its warning.
    src = tmp_path / "big.png"
    Image.new("RGB", (40, 40)).save(src)
    with pytest.raises(InputError, match="max_image_pixels|pixels"):
        run(src, R(), max_pixels=1000)


def test_truncated_jpeg_fails_at_decode(tmp_path):
    src = tmp_path / "cut.jpg"
    marked((400, 300)).save(src, quality=95)
    src.write_bytes(src.read_bytes()[:3000])
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=100, height=100))
    assert err.value.step == "decode" and "truncated" in err.value.reason


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_whose_picture_is_whole_but_its_end_marker_missing_renders_as_the_whole_file(tmp_path, mode):
    """Every viewer shows such a file; libjpeg's "Premature end of JPEG file" failed it as
    truncated."""
    whole = tmp_path / "whole.jpg"
    marked((400, 300)).convert(mode).save(whole, quality=90)
    data = whole.read_bytes()
    assert data.endswith(b"\xff\xd9")
    src = tmp_path / "no-eoi.jpg"
    src.write_bytes(data[:-2])
    for size in (400, 100):  # full size, and at a DCT scale
        (got,) = run(src, R(operation="fit", width=size, height=size, format="png"))
        (want,) = run(whole, R(operation="fit", width=size, height=size, format="png"))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(got.data))),
                              np.asarray(Image.open(io.BytesIO(want.data))))


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_jpeg_cut_short_stays_truncated_even_where_an_end_marker_would_close_it(tmp_path, progressive):
    """A baseline file cut inside its scan, and a progressive one cut after a whole scan
    (with an end marker it decodes cleanly, blurred): neither is rendered."""
    src = tmp_path / "cut.jpg"
    marked((400, 300)).save(src, quality=95, progressive=progressive)
    data = src.read_bytes()
    if progressive:
        second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
        cut = data[:data.index(b"\xff\xda", second_scan + 2)]  # up to the third scan's header
        probe = Image.open(io.BytesIO(cut + b"\xff\xd9"))
        probe.load()  # closed by a marker, the cut file is a valid, blurred picture
    else:
        cut = data[:len(data) // 2]
    src.write_bytes(cut)
    with pytest.raises(InputError) as err:
        run(src, R(operation="fit", width=400, height=400))
    assert err.value.step == "decode" and "truncated" in err.value.reason, err.value


@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "random"])
def test_not_an_image_fails_at_open(tmp_path, content):
    src = tmp_path / "fake.jpg"
    src.write_bytes(content)
    with pytest.raises(InputError) as err:
        run(src, R())
    assert err.value.step == "open"


def test_format_not_accepted_is_named(tmp_path):
    src = tmp_path / "x.png"
    marked().save(src)
    with pytest.raises(InputError, match=r"format png is not accepted \(accepted: jpeg, webp\)"):
        run(src, R(), accepted=("jpeg", "webp"))


def test_errors_not_about_the_input_propagate(tmp_path):
    with pytest.raises(FileNotFoundError):
        run(tmp_path / "gone.jpg", R())


def test_input_error_is_a_sentence_and_survives_pickling():
    err = pickle.loads(pickle.dumps(InputError("decode", "image file is truncated")))
    assert (err.step, err.reason) == ("decode", "image file is truncated")
    assert str(err) == "The image could not be decoded: image file is truncated"


# --- watermark ---------------------------------------------------------------------

def diff_box(a: Image.Image, b: Image.Image) -> tuple[int, int, int, int] | None:
    from PIL import ImageChops
    return ImageChops.difference(a.convert("RGB"), b.convert("RGB")).point(lambda v: 255 if v > 30 else 0).getbbox()


def test_text_watermark_lands_in_its_corner(jpeg):
    base = R(operation="fit", width=200, height=200, format="png")
    plain = run_one(jpeg, base)
    wm = Watermark(text="(c) hotfolder", position="bottom-right", opacity=1.0, size=0.4, margin=0.05, min_size=0)
    marked_im = run_one(jpeg, R(operation="fit", width=200, height=200, format="png", watermark=wm))
    left, top, right, bottom = diff_box(plain, marked_im)
    assert left >= 100 and top >= 100 and right <= 200 - 5 and bottom <= 150 - 5
    assert right - left >= 0.3 * 200  # about `size` of the width


def test_image_watermark_lands_in_its_corner_with_opacity(tmp_path, jpeg):
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (50, 25), (255, 255, 0, 255)).save(logo)
    wm = Watermark(image=logo, position="top-left", opacity=0.5, size=0.25, margin=0.0, size_of="width",
                   min_size=0)
    out = run_one(jpeg, R(operation="fit", width=200, height=200, format="png", watermark=wm))
    # Half-opaque yellow over the red corner block: (red+yellow)/2.
    assert near(out.getpixel((10, 5)), ((220 + 255) // 2, (20 + 255) // 2, 10), 20)
    assert diff_box(run_one(jpeg, R(operation="fit", width=200, height=200, format="png")), out) == (0, 0, 50, 25)


# --- names and formats -------------------------------------------------------------

def test_output_name_fills_the_template():
    r = R(name="web", filename="{folder}-{stem}_{rendition}.{ext}")
    assert output_name(r, "holiday.photo.JPG", "jpg", folder="shop") == "shop-holiday.photo_web.jpg"
    assert output_name(R(name="t", filename="{name}.{rendition}.{ext}"), "a.png", "webp") == "a.png.t.webp"


@pytest.mark.parametrize(
    "name, save_as, rendition_format, ext, written",
    [
        ("a.JPEG", "JPEG", "same", "jpeg", "JPEG"),
        ("a.jpg", "JPEG", "webp", "webp", "WEBP"),
        ("a.png", "JPEG", "same", "jpg", "JPEG"),  # a JPEG misnamed .png
        ("a.tif", "TIFF", "same", "png", "PNG"),  # TIFF is not an output format
        ("a.bmp", "BMP", "same", "png", "PNG"),
        ("a.webp", "WEBP", "same", "webp", "WEBP"),
        ("a.png", "PNG", "avif", "avif", "AVIF"),
    ],
)
def test_output_format_and_extension(tmp_path, name, save_as, rendition_format, ext, written):
    src = tmp_path / name
    marked((60, 40)).save(src, format=save_as)
    (out,) = run(src, R(operation="none", format=rendition_format))
    assert out.ext == ext
    assert Image.open(io.BytesIO(out.data)).format == written


# --- quality guard (issue 6.4) -------------------------------------------------------
#
# Every fit/fill output is compared with a reference made the slow, careful way: full
# decode, no draft, one LANCZOS resample. The test photo is real photographs at a
# camera's pixel-level softness (imaging.camera_photo, 2048x1536, JPEG q95).
#
# Measured (Pillow 13, libjpeg-turbo; SSIM against the reference):
#
#   rendition   draft          PNG out   JPEG q85   the reference itself at JPEG q85
#   fit 1000    1/2 (1024)     0.9955    0.9626     0.9637
#   fit 640     1/2 (1024)     0.9978    0.9558     0.9562
#   fill 300    1/4 (512)      0.9954    0.9499     0.9516
#   fit 256     1/8 (256)      0.9917    0.9401     0.9445
#   one DCT step too small:
#   fit 1000    1/4 (512)      0.9452    0.9244
#   fit 640     1/4 (512)      0.9763    0.9411
#   fill 300    1/8 (256)      0.9495    0.9168
#
# So lossless outputs must reach 0.985 (every too-small draft is below 0.98). For JPEG
# q85 the encoder alone costs 0.04-0.06 on a thumbnail of a detailed photo, so 0.95 is
# required where the encoder itself gets there, and elsewhere at most 0.01 less than
# what the encoder does to the reference (a draft at exactly the target size costs 0.004).

LOSSLESS_SSIM = 0.985
JPEG_SSIM = 0.95
JPEG_SLACK = 0.01
QUALITY_CASES = [
    R(name="fit1000", operation="fit", width=1000, height=1000),
    R(name="fit640", operation="fit", width=640, height=640),
    R(name="fill300", operation="fill", width=300, height=300),
    R(name="fit256", operation="fit", width=256, height=256),
]


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory) -> Path:
    pytest.importorskip("skimage")
    from tests.imaging import camera_photo

    path = tmp_path_factory.mktemp("quality") / "camera.jpg"
    camera_photo((2048, 1536)).save(path, quality=95)
    return path


def ssim(a: Image.Image, b: Image.Image) -> float:
    import numpy as np
    from skimage.metrics import structural_similarity

    return structural_similarity(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")), channel_axis=2,
                                 data_range=255)


def reference(src: Path, rendition: Rendition, size: tuple[int, int], draft_scale: int = 1) -> Image.Image:
    with Image.open(src) as im:
        full = im.size
        if draft_scale > 1:
            im.draft("RGB", (full[0] // draft_scale, full[1] // draft_scale))
        p = pipeline.plan(rendition, full)
        crop = p.crop or (0, 0, 1, 1)
        box = (crop[0] * im.width, crop[1] * im.height, crop[2] * im.width, crop[3] * im.height)
        return im.resize(size, Image.Resampling.LANCZOS, box=box)


def as_jpeg(im: Image.Image, quality: int = 85) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(buf)


@pytest.mark.parametrize("rendition", QUALITY_CASES, ids=lambda r: r.name)
def test_resampling_matches_a_full_decode(camera_jpeg, rendition):
    out = run_one(camera_jpeg, Rendition(**{**rendition.__dict__, "format": "png"}))
    assert ssim(out, reference(camera_jpeg, rendition, out.size)) >= LOSSLESS_SSIM


@pytest.mark.parametrize("rendition", QUALITY_CASES, ids=lambda r: r.name)
def test_jpeg_q85_is_as_good_as_the_encoder_allows(camera_jpeg, rendition):
    out = run_one(camera_jpeg, Rendition(**{**rendition.__dict__, "format": "jpeg", "quality": 85}))
    ref = reference(camera_jpeg, rendition, out.size)
    floor = ssim(as_jpeg(ref), ref)
    assert ssim(out, ref) >= min(JPEG_SSIM, floor - JPEG_SLACK)


@pytest.mark.parametrize("rendition, scale", [(QUALITY_CASES[0], 4), (QUALITY_CASES[1], 4), (QUALITY_CASES[2], 8)],
                         ids=["fit1000", "fit640", "fill300"])
def test_the_quality_guard_catches_a_draft_one_step_too_small(camera_jpeg, rendition, scale):
    size = run(camera_jpeg, rendition)[0]
    ref = reference(camera_jpeg, rendition, (size.width, size.height))
    too_small = reference(camera_jpeg, rendition, ref.size, draft_scale=scale)
    assert ssim(too_small, ref) < LOSSLESS_SSIM
    assert ssim(as_jpeg(too_small), ref) < min(JPEG_SSIM, ssim(as_jpeg(ref), ref) - JPEG_SLACK)
