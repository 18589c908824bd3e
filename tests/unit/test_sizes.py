"""Sizes as photographers give them (`{long}`, `{short}`, `{megapixels}`) and `operation:
pad`: planned by engine/geometry, rendered by the real pipeline."""
from __future__ import annotations

import pytest
from PIL import Image

from hotfolder.engine.geometry import plan
from tests import sources
from tests.rendering import R, near, run_one


@pytest.mark.parametrize("size, fields, out", [
    ((6000, 4000), {"long": 2048}, (2048, 1365)),
    ((4000, 6000), {"long": 2048}, (1365, 2048)),  # a portrait's height is its long side
    ((6000, 4000), {"short": 1080}, (1620, 1080)),
    ((4000, 6000), {"short": 1080}, (1080, 1620)),
    ((6000, 4000), {"megapixels": 2}, (1732, 1155)),  # 2.0 MP, the aspect kept
    ((1000, 800), {"long": 2048}, (1000, 800)),  # never enlarged without upscale
    ((1000, 800), {"long": 2048, "upscale": True}, (2048, 1638)),
])
def test_fit_as_photographers_give_it(size, fields, out):
    assert plan(R(operation="fit", **fields), size).size == out


def test_pad_fits_then_fills_the_box_exactly(tmp_path):
    p = plan(R(operation="pad", width=1080, height=1080), (6000, 4000))
    assert p.size == (1080, 720) and p.canvas == (1080, 1080)
    src = sources.camera_jpeg(tmp_path / "a.jpg", (600, 400), exif=sources.camera_exif(orientation=6))
    out = run_one(src, R(operation="pad", width=500, height=300, background=(10, 200, 30), format="png"))
    assert out.size == (500, 300)
    # stored 600x400 turned upright is 400x600: fitted to 200x300, centred; bars left and right
    assert out.convert("RGB").getpixel((5, 150)) == (10, 200, 30) == out.convert("RGB").getpixel((494, 150))
    assert out.convert("RGB").getpixel((250, 150)) != (10, 200, 30)


def test_pad_keeps_a_small_picture_small_on_the_exact_box(tmp_path):
    src = tmp_path / "small.png"
    Image.new("RGBA", (40, 20), (200, 0, 0, 128)).save(src)
    out = run_one(src, R(operation="pad", width=100, height=100, format="png"))
    assert out.size == (100, 100)
    # half-transparent red on the white box, as the bars are white: one opaque box (below)
    assert out.convert("RGB").getpixel((0, 0)) == (255, 255, 255)
    assert near(out.convert("RGB").getpixel((50, 50)), (227, 127, 127), tol=2)


@pytest.mark.parametrize("fmt", ["png", "webp", "avif", "jpeg"])
def test_pad_puts_a_transparent_picture_on_its_background_as_the_bars(tmp_path, fmt):
    # A shop's audit: a cut-out product (a PNG, transparent around it) padded on white kept
    # its transparency between opaque white bars in WebP and AVIF: on a grey page a grey
    # band across a white square, where the JPEG fallback was all white.
    src = tmp_path / "cutout.png"
    im = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    im.paste((180, 40, 30, 255), (150, 50, 250, 150))
    im.save(src)
    out = run_one(src, R(operation="pad", width=300, height=300, background=(250, 250, 250), format=fmt,
                         quality=95)).convert("RGBA")
    assert out.size == (300, 300)
    bar, band, product = out.getpixel((150, 10)), out.getpixel((10, 150)), out.getpixel((150, 150))
    assert near(bar, (250, 250, 250, 255), tol=3) and near(band, bar, tol=3), (bar, band)
    assert near(product, (180, 40, 30, 255), tol=12), product


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_pads_box_is_its_background_in_the_outputs_profile_whatever_the_sources(tmp_path, fmt, mode):
    # A review: padded before the colour step, an 8-bit Adobe RGB picture's bars were
    # converted with it, and '#1e3cc8' came out (1, 57, 206) in the sRGB output, where
    # JPEG's flattening of a transparent picture without pad gave '#1e3cc8' itself.
    from tests.sources import adobe_rgb_icc

    src = tmp_path / "adobe.png"
    im = Image.new(mode, (400, 200), (0, 0, 0, 0) if mode == "RGBA" else (90, 90, 90))
    im.paste((180, 40, 30, 255)[:len(mode)], (150, 50, 250, 150))
    im.save(src, icc_profile=adobe_rgb_icc())
    out = run_one(src, R(operation="pad", width=300, height=300, background=(30, 60, 200), format=fmt,
                         quality=95)).convert("RGB")
    assert near(out.getpixel((150, 10)), (30, 60, 200), tol=4), out.getpixel((150, 10))
    if mode == "RGBA":  # the transparent band beside the product is the same box
        assert near(out.getpixel((10, 150)), (30, 60, 200), tol=4), out.getpixel((10, 150))


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
@pytest.mark.parametrize("mode", ["L", "LA"])
@pytest.mark.parametrize("profiled", [False, True])
def test_pad_gives_a_greyscale_picture_the_colour_bars_asked_for(tmp_path, fmt, mode, profiled):
    # A picture desk's audit: blue bars asked for around a black-and-white photo came out
    # grey (the background's luma), the picture being L. It is worked in RGB then; its Gray
    # profile (Photoshop's "Gray Gamma 1.8") converted to sRGB, so its greys look the same.
    from tests.sources import grey_profile

    src = tmp_path / "bw.png"
    im = Image.new(mode, (400, 200), (128, 255)[:len(mode)] if mode == "LA" else 128)
    im.save(src, icc_profile=grey_profile("Gray Gamma 1.8 test", 1.8) if profiled else None)
    out = run_one(src, R(operation="pad", width=300, height=300, background=(30, 60, 200), format=fmt,
                         quality=95))
    rgb = out.convert("RGB")
    assert near(rgb.getpixel((150, 10)), (30, 60, 200), tol=4), rgb.getpixel((150, 10))
    picture = (146,) * 3 if profiled else (128,) * 3  # gamma 1.8's 128 is sRGB's 146
    assert near(rgb.getpixel((150, 150)), picture, tol=3), rgb.getpixel((150, 150))
    if profiled:  # the RGB output carries an RGB profile, never the Gray one
        assert b"GRAY" not in out.info.get("icc_profile", b"")[12:20]


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_pad_keeps_a_greyscale_picture_grey_on_grey_bars(tmp_path, fmt):
    src = tmp_path / "bw.png"
    Image.new("L", (400, 200), 128).save(src)
    out = run_one(src, R(operation="pad", width=300, height=300, background=(90, 90, 90), format=fmt))
    assert out.mode == "L" and abs(out.getpixel((150, 10)) - 90) <= 2


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a_grey_profile_littlecms_cannot_convert_from_leaves_the_picture_as_srgb_grey_and_says_so(tmp_path, fmt):
    # A Gray profile without its curve (kTRC) opens, and no transform can be built from it:
    # converting it for colour bars failed the file with "cannot build transform".
    from tests import sources
    from tests.rendering import render_one

    broken = sources._profile(b"GRAY", [(b"desc", sources._text_description("no curve")),
                                        (b"wtpt", sources._xyz(0.9642, 1.0, 0.8249))])
    src = tmp_path / "bw.png"
    Image.new("L", (400, 200), 128).save(src, icc_profile=broken)
    out = render_one(src, R(operation="pad", width=300, height=300, background=(30, 60, 200), format=fmt,
                            quality=95))
    from io import BytesIO
    rgb = Image.open(BytesIO(out.data)).convert("RGB")
    assert near(rgb.getpixel((150, 10)), (30, 60, 200), tol=4) and near(rgb.getpixel((150, 150)), (128,) * 3, tol=3)
    assert any("colour profile" in note and "taken as sRGB" in note for note in out.notes), out.notes
