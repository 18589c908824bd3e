"""The watermark: sized by the shorter side, and legible on white and on busy light photos."""
from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from hotfolder.config.model import Watermark
from hotfolder.engine import watermark
from tests.imaging import photo
from tests.rendering import R, run_one

TEXT = "© Example Studio"


def contrast(out: Image.Image, glyphs: Image.Image, at: tuple[int, int]) -> float:
    """WCAG 2 contrast ratio between the mark's glyph pixels and the pixels around them
    (a ring as wide as an eighth of the mark's height): 3 is WCAG's floor for large text."""
    np = pytest.importorskip("numpy")
    mask = Image.new("L", out.size, 0)
    mask.paste(glyphs, at)
    glyph = np.asarray(mask) >= 250
    ring = (np.asarray(mask.filter(ImageFilter.MaxFilter(max(3, round(glyphs.height / 8) | 1)))) > 0) & \
        ~(np.asarray(mask.filter(ImageFilter.MaxFilter(3))) > 0)
    c = np.asarray(out.convert("RGB"), dtype=float) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) @ [0.2126, 0.7152, 0.0722]
    a, b = linear[glyph].mean(), linear[ring].mean()
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def marked(background: Image.Image, wm: Watermark) -> tuple[Image.Image, Image.Image, tuple[int, int]]:
    """The background with the mark, the mark's glyphs and where they landed."""
    width = watermark.mark_width(background.size, wm)
    glyphs = watermark.text_glyphs(wm.text, width)
    x, y = watermark.mark_position(background.size, watermark.mark_image(wm, width).size, wm)
    return watermark.apply_watermark(background.copy(), wm), glyphs, (x, y)


def white(size=(1200, 800)) -> Image.Image:
    return Image.new("RGB", size, (255, 255, 255))


def busy_light(size=(1200, 800)) -> Image.Image:
    """Real photographs, lightened: the bright, detailed areas where thin outlines vanish."""
    return Image.blend(photo(size), white(size), 0.55)


@pytest.mark.parametrize("background", [white, busy_light, lambda: photo((1200, 800))],
                         ids=["white", "busy-light", "photo"])
@pytest.mark.parametrize("opacity", [0.5, 0.6, 1.0])
def test_the_text_mark_stays_legible_on_light_and_busy_areas(background, opacity):
    wm = Watermark(text=TEXT, opacity=opacity, size=0.25)
    out, glyphs, at = marked(background(), wm)
    assert contrast(out, glyphs, at) >= 3.0


def test_the_measure_fails_a_mark_that_is_not_legible():
    # A thin dark outline alone (the mark before issue 15) on white: glyphs and their
    # surroundings are both near white, and the measure says so.
    size = 200
    font = ImageFont.load_default(size=24)
    glyphs = Image.new("L", (size + 20, 40), 0)
    ImageDraw.Draw(glyphs).text((10, 5), TEXT, font=font, fill=255)
    out = white()
    thin = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
    ImageDraw.Draw(thin).text((10, 5), TEXT, font=font, fill=(255, 255, 255, 153), stroke_width=1,
                              stroke_fill=(0, 0, 0, 153))
    out.paste(thin, (900, 700), thin)
    assert contrast(out, glyphs, (900, 700)) < 3.0


def test_a_portrait_and_a_landscape_of_the_same_size_get_the_same_mark():
    wm = Watermark(text=TEXT, size=0.3)
    landscape, portrait = watermark.mark_width((1600, 1067), wm), watermark.mark_width((1067, 1600), wm)
    assert landscape == portrait == round(1067 * 0.3)
    # The sizing of before stays reachable: a fraction of the width.
    old = Watermark(text=TEXT, size=0.25, size_of="width")
    assert watermark.mark_width((1600, 1067), old) == 400 and watermark.mark_width((1067, 1600), old) == 267
    assert watermark.mark_width((1600, 1067), Watermark(text=TEXT, size=0.25, size_of="height")) == 267


def test_a_mark_is_never_wider_than_the_image():
    assert watermark.mark_width((300, 2000), Watermark(text=TEXT, size=1.0, size_of="height")) == 300


@pytest.mark.parametrize("size", [(900, 600), (600, 900)], ids=["landscape", "portrait"])
def test_the_rendered_mark_is_as_wide_on_a_portrait_as_on_a_landscape(tmp_path, size):
    src = tmp_path / "p.png"
    photo(size).save(src)
    wm = Watermark(text=TEXT, opacity=1.0, size=0.3, position="bottom-right")
    plain, with_mark = (run_one(src, R(operation="none", format="png", watermark=w)) for w in (None, wm))
    left, top, right, bottom = ImageChops.difference(plain, with_mark).point(lambda v: 255 if v > 40 else 0).getbbox()
    assert abs((right - left) - 0.3 * 600) <= 0.1 * 600  # the glyphs (and their halo) span ~30 % of 600
