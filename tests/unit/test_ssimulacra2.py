"""The SSIMULACRA2 estimate (engine/ssimulacra2) against scores of the reference
implementation (cloudinary/ssimulacra2 2.1, the C++ tool, built from its source for
measurement only: research/quality FINDINGS.md §1), on pairs made here deterministically:
real photographs (scikit-image's bundled samples, tests/imaging.photo_mosaic) and their
distortions (Pillow JPEG, and numpy blocks, blur, grain, posterisation).

`REFERENCE` holds the C++ tool's scores of these very pairs (each pair written as PNG and
scored by `ssimulacra2 frame.png distorted.png`). The estimate must stay within ±2 of
them (the issue's bound) from 1 MP on, where it samples rows; below, where it scores
every row on the exact pyramid, within ±0.5.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hotfolder.engine import ssimulacra2
from tests.imaging import photo_mosaic

pytest.importorskip("skimage")

FRAMES = {"large": (1600, 1000), "small": (480, 360)}  # the sampled estimate / every row


def frame(name: str) -> Image.Image:
    return photo_mosaic(FRAMES[name])


def jpeg(im: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=quality)
    return Image.open(buffer).convert("RGB")


def blocks(im: Image.Image) -> Image.Image:
    """A third of each 8x8 block's mean blended in: blockiness."""
    a = np.asarray(im, dtype=np.float32)
    h, w = (a.shape[0] // 8) * 8, (a.shape[1] // 8) * 8
    means = a[:h, :w].reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))
    out = a.copy()
    out[:h, :w] = 0.67 * a[:h, :w] + 0.33 * np.repeat(np.repeat(means, 8, axis=0), 8, axis=1)
    return Image.fromarray(np.rint(out).astype(np.uint8))


def blur(im: Image.Image) -> Image.Image:
    """A 3x3 box blur (edges repeated)."""
    a = np.pad(np.asarray(im, dtype=np.float32), ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = im.height, im.width
    out = sum(a[y:y + h, x:x + w] for y in range(3) for x in range(3)) / 9
    return Image.fromarray(np.rint(out).astype(np.uint8))


def grain(im: Image.Image) -> Image.Image:
    rng = np.random.default_rng(24)
    noise = rng.integers(-7, 8, size=(im.height, im.width, 3))
    return Image.fromarray(np.clip(np.asarray(im, dtype=np.int16) + noise, 0, 255).astype(np.uint8))


def posterise(im: Image.Image) -> Image.Image:
    return Image.fromarray(np.asarray(im) & 0xF8)


DISTORTIONS = {
    "jpeg60": lambda im: jpeg(im, 60),
    "jpeg85": lambda im: jpeg(im, 85),
    "blocks": blocks,
    "blur": blur,
    "grain": grain,
    "posterise": posterise,
}


def with_alpha(im: Image.Image) -> Image.Image:
    """The frame with a left-to-right alpha ramp (opaque to 1/4): the tool blends on dark and bright."""
    ramp = np.linspace(255, 64, im.width).astype(np.uint8)[None, :].repeat(im.height, 0)
    out = im.convert("RGBA")
    out.putalpha(Image.fromarray(ramp))
    return out


# Scores of cloudinary/ssimulacra2 2.1 (C++) for (frame, distortion): see the module's doc.
REFERENCE = {
    ("large", "jpeg60"): 68.7098,
    ("large", "jpeg85"): 80.2435,
    ("large", "blocks"): 47.4598,
    ("large", "blur"): 49.6271,
    ("large", "grain"): 76.5606,
    ("large", "posterise"): 81.7820,
    ("small", "jpeg60"): 72.2036,
    ("small", "jpeg85"): 82.4769,
    ("small", "blocks"): 47.2436,
    ("small", "blur"): 62.1455,
    ("small", "grain"): 79.1157,
    ("small", "posterise"): 84.1168,
}
ALPHA_REFERENCE = {  # the small frame with_alpha, its distortion keeping the alpha
    "jpeg85": 85.8718,
    "blocks": 54.6313,
}


@pytest.fixture(scope="module")
def references():
    return {name: ssimulacra2.Reference(frame(name)) for name in FRAMES}


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("distortion", DISTORTIONS)
def test_the_estimate_is_within_the_bound_of_the_reference_tool(references, name, distortion):
    distorted = DISTORTIONS[distortion](frame(name))
    estimate = references[name].score(distorted)
    bound = 2.0 if name == "large" else 0.5
    assert abs(estimate - REFERENCE[name, distortion]) <= bound, (estimate, REFERENCE[name, distortion])


@pytest.mark.parametrize("distortion", ["jpeg85", "blocks"])
def test_a_transparent_frame_is_scored_on_dark_and_bright_as_the_tool_does(distortion):
    im = with_alpha(frame("small"))
    distorted = DISTORTIONS[distortion](im.convert("RGB"))
    distorted.putalpha(im.getchannel("A"))
    estimate = ssimulacra2.Reference(im).score(distorted)
    assert abs(estimate - ALPHA_REFERENCE[distortion]) <= 0.5, (estimate, ALPHA_REFERENCE[distortion])


# The estimate's own scores of the same pairs at 2b3a7a6, before its speed-ups (blocked
# linearisation, the blur's copied-out blocks, float32 sums): those keep the values within
# 0.01, so the search picks the same quality and logs the same score (the bound above was
# measured on these values; it cannot be re-measured without the C++ tool).
ESTIMATE = {
    ("large", "jpeg60"): 67.8930, ("large", "jpeg85"): 79.9381, ("large", "blocks"): 47.7403,
    ("large", "blur"): 50.4147, ("large", "grain"): 76.7046, ("large", "posterise"): 81.8780,
    ("small", "jpeg60"): 72.2299, ("small", "jpeg85"): 82.5489, ("small", "blocks"): 47.2385,
    ("small", "blur"): 62.1579, ("small", "grain"): 79.0995, ("small", "posterise"): 84.1530,
}


@pytest.mark.parametrize("name", FRAMES)
def test_a_speed_up_keeps_the_estimate_within_a_hundredth(references, name):
    for distortion, make in DISTORTIONS.items():
        estimate = references[name].score(make(frame(name)))
        assert abs(estimate - ESTIMATE[name, distortion]) <= 0.01, (distortion, estimate, ESTIMATE[name, distortion])


def test_the_blur_is_the_kernel_convolved_with_zeros_outside():
    """The blur's band products (blocks copied out, BLAS) against the 9-tap kernel applied
    by shifted adds in float64, whole planes and bands with their context."""
    rng = np.random.default_rng(7)
    a = rng.random((2, 3, 70, 203), dtype=np.float32)
    padded = np.pad(a.astype(np.float64), ((0, 0), (0, 0), (4, 4), (4, 4)))
    k = ssimulacra2.KERNEL.astype(np.float64)
    rows = sum(k[i] * padded[..., :, i:i + 203] for i in range(9))
    plain = sum(k[i] * rows[..., i:i + 70, :] for i in range(9))
    assert np.abs(ssimulacra2.blur(a, banded=False) - plain).max() < 1e-6
    banded = ssimulacra2.blur(a, banded=True)  # rows 4..66 scored, the 4 each side their context
    across = np.pad(a.astype(np.float64), ((0, 0), (0, 0), (0, 0), (4, 4)))
    rows_only = sum(k[i] * across[..., i:i + 203] for i in range(9))
    assert np.abs(banded - sum(k[i] * rows_only[..., i:i + 62, :] for i in range(9))).max() < 1e-6


def test_the_sampled_estimate_is_used_from_one_megapixel_on():
    assert ssimulacra2.Sampling.for_size(1000, 999) is ssimulacra2.EXACT
    assert ssimulacra2.Sampling.for_size(1000, 1000) is ssimulacra2.FAST


def test_an_identical_image_scores_100_and_a_worse_one_less(references):
    im = frame("small")
    reference = ssimulacra2.Reference(im)
    assert reference.score(im.copy()) == pytest.approx(100.0)
    assert reference.score(jpeg(im, 30)) < reference.score(jpeg(im, 60)) < reference.score(jpeg(im, 90)) < 100


def test_scales_stop_below_8_pixels_as_the_tool_does():
    assert ssimulacra2.scales_of(1600, 1000) == 5  # scale 5 has no weight worth computing
    assert ssimulacra2.scales_of(64, 64) == 5  # 64, 32, 16, 8 and 4x4: scale 4 is computed from an 8x8 scale 3
    assert ssimulacra2.scales_of(16, 12) == 2  # 16x12, 8x6; not scale 2: scale 1 is under 8 high
    assert ssimulacra2.scales_of(7, 100) == 0
    tiny = Image.new("RGB", (6, 6), (10, 20, 30))
    assert ssimulacra2.Reference(tiny).score(Image.new("RGB", (6, 6), (200, 20, 30))) == 100.0  # nothing scored
    small = photo_mosaic((40, 30))
    assert ssimulacra2.Reference(small).score(blur(small)) < 100


def test_a_different_size_is_refused():
    with pytest.raises(ValueError, match="120x80 image scored against a 100x80 frame"):
        ssimulacra2.Reference(Image.new("RGB", (100, 80))).score(Image.new("RGB", (120, 80)))


@pytest.mark.parametrize("size", [(1600, 1200), (37, 65), (8, 70), (3, 3), (31, 203)])  # odd sides, blocks of rows
def test_the_first_halving_is_exactly_the_linear_frame_halved(size):
    """xyb_colour.linear_half looks vertical pairs up in one table: it must give exactly
    what halving the linearised frame gives, an odd last row or column included."""
    from hotfolder.engine.xyb_colour import halve, linear, linear_half

    rgb8 = np.random.default_rng(size[0]).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    assert np.array_equal(linear_half(rgb8), halve(linear(rgb8)))
    view = rgb8[:, ::-1]  # not contiguous: read as it is
    assert np.array_equal(linear_half(view), halve(linear(view)))
