"""The manifest's placeholder (engine/placeholder): ThumbHash byte for byte as the
reference JavaScript package computes it (`thumbhash` 0.1.1 by its author, run under
node on these very pixels: REFERENCE), and the dominant colour."""
from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from hotfolder.engine import placeholder
from tests.imaging import photo_mosaic

pytest.importorskip("skimage")


def ellipse_alpha(w: int, h: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    inside = ((x - w / 2) / (w * 0.4)) ** 2 + ((y - h / 2) / (h * 0.35)) ** 2 <= 1
    return np.where(inside, 255, 0).astype(np.uint8)


def images() -> dict[str, np.ndarray]:
    """HxWx4 bytes: real photographs (crops of scikit-image's samples at their own
    pixels), transparent and not, landscape, portrait, square; a ramp; one colour."""
    photo = np.asarray(photo_mosaic((512, 512)).convert("RGBA"))
    ramp = np.zeros((100, 37, 4), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 100)[:, None]
    ramp[..., 1] = np.linspace(255, 0, 37)[None, :]
    ramp[..., 2], ramp[..., 3] = 90, 255
    cut = photo[100:160, 200:300].copy()
    cut[..., 3] = ellipse_alpha(100, 60)
    half = photo[300:400, 300:390].copy()
    half[..., 3] = 128
    return {
        "landscape": photo[10:85, 0:100],
        "portrait": photo[0:100, 300:360],
        "square": photo[200:300, 100:200],
        "ramp": ramp,
        "cut-out": cut,
        "half-transparent": half,
        "one-colour": np.full((30, 40, 4), (200, 40, 90, 255), np.uint8),
    }


# rgbaToThumbHash(w, h, pixels) of the reference package, base64, for images().
REFERENCE = {
    "landscape": "2xcSHYCQipl5hniId5iJd2CYmAU7",
    "portrait": "cRgCBABaxuEHob9od8dzoAQT2g==",
    "square": "mHkOLwxvmoeVl4l5hml5hpeH5wiHfYAI",
    "ramp": "HPkJOxqPcIiHd4iHj4AIB4g=",
    "cut-out": "JzmCA4I3jvDDNUkPaveFZydoh4iAiWc=",
    "half-transparent": "E1mGFQYIrHqvk5G0pkyv6PR6eAh6d4Z4dw==",
    "one-colour": "2zgDBYBaaVp2h4d4h3iIgAiCh0CI",
}


def meaningful(thumbhash: bytes) -> list[int]:
    """The hash as nibbles, with those of a channel whose scale is 0 (no variation: its
    coefficients are rounding noise, multiplied by 0 when decoded) left out."""
    header24 = thumbhash[0] | thumbhash[1] << 8 | thumbhash[2] << 16
    header16 = thumbhash[3] | thumbhash[4] << 8
    has_alpha, landscape = bool(header24 >> 23), bool(header16 >> 15)
    limit = 5 if has_alpha else 7
    lx = limit if landscape else header16 & 7
    ly = header16 & 7 if landscape else limit
    scales = [(header24 >> 18) & 31, (header16 >> 3) & 63, (header16 >> 9) & 63]
    sizes = [(max(3, lx), max(3, ly)), (3, 3), (3, 3)]
    if has_alpha:
        scales.append(thumbhash[5] >> 4)
        sizes.append((5, 5))
    start = 6 if has_alpha else 5
    nibbles = [n for byte in thumbhash[start:] for n in (byte & 15, byte >> 4)]
    out, i = list(thumbhash[:start]), 0
    for scale, (nx, ny) in zip(scales, sizes, strict=True):
        count = sum(1 for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)) - 1
        out += nibbles[i:i + count] if scale else [-1] * count
        i += count
    return out


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_thumbhash_is_the_reference_packages_byte_for_byte(name):
    ours = placeholder.thumbhash(images()[name])
    theirs = base64.b64decode(REFERENCE[name])
    if name in ("one-colour", "half-transparent"):  # a channel without variation: see meaningful()
        assert len(ours) == len(theirs) and meaningful(ours) == meaningful(theirs)
        assert -1 in meaningful(ours)
    else:
        assert ours == theirs


def test_an_image_over_100_pixels_a_side_is_refused_and_of_reduces_it_first():
    big = photo_mosaic((400, 300))
    with pytest.raises(ValueError, match="400x300 does not fit in 100x100"):
        placeholder.thumbhash(np.asarray(big.convert("RGBA")))
    small = big.copy()
    small.thumbnail((100, 100), Image.Resampling.BOX)
    got = placeholder.of(big)
    assert got.thumbhash == base64.b64encode(placeholder.thumbhash(np.asarray(small.convert("RGBA")))).decode()
    assert len(base64.b64decode(got.thumbhash)) <= 32


def test_the_dominant_colour_is_the_most_pixels_mean():
    a = np.zeros((64, 64, 3), np.uint8)
    a[:, :40] = (250, 10, 10)  # red: most pixels
    a[:, 40:] = (10, 10, 250)
    a[0, 0] = (230, 30, 30)  # the same cell: in the mean
    assert placeholder.dominant_color(a) == f"#{round((250 * 2559 + 230) / 2560):02x}0a0a"
    assert placeholder.of(Image.fromarray(a)).dominant_color.startswith("#f")
    rgba = np.dstack([a, np.zeros((64, 64), np.uint8)])
    rgba[:, 40:, 3] = 255  # the red is transparent: the blue is what shows
    assert placeholder.dominant_color(rgba) == "#0a0afa"
    assert placeholder.of(Image.new("L", (10, 10), 128)).dominant_color == "#808080"


def test_the_placeholder_is_of_the_smallest_output_in_the_photo_s_own_shape():
    """A product page's srcset of `fit` widths shows the photo 3:2; its square `fill`
    thumbnail, the smallest output, gave a square blur-up cropped from it. The smallest that
    keeps the photo's shape is chosen (every one of its size), else the smallest of all."""
    photo = (3000, 2000)
    srcset = [(1600, 1067), (96, 96), (480, 320), (480, 320), (200, 200)]  # w1600, thumb, w480 jpeg + webp, pad
    assert placeholder.chosen(srcset, photo) == [2, 3]
    assert placeholder.chosen([(96, 96), (200, 200), (64, 64)], photo) == [2], "none in its shape: the smallest"
    assert placeholder.chosen([(1, 1)], (3, 2)) == [0]
    # a fit rounds each side to a whole pixel (and makes it at least 1): still the photo's shape
    assert placeholder.keeps_shape((480, 320), photo) and placeholder.keeps_shape((481, 320), photo)
    assert placeholder.keeps_shape((333, 1), (3000, 2)) and placeholder.keeps_shape((1, 1), (3000, 2000))
    assert placeholder.keeps_shape((300, 300), (1000, 1000)), "a fill of a box of the photo's shape crops nothing"
    # a crop of even a few pixels off the long side of a small output, or a pad's bars, do not
    assert not placeholder.keeps_shape((476, 320), photo) and not placeholder.keeps_shape((480, 324), photo)
    assert not placeholder.keeps_shape((4000, 2000), (4000, 3000))
