"""sharpen: an unsharp mask after resampling, scaled by the downscale; real photos, real encoders."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from hotfolder.config.model import SHARPEN_PRESETS, Rendition, Sharpen
from hotfolder.engine import sharpen as sharpening
from tests.imaging import photo
from tests.rendering import R, opened, run, run_one


def high_frequency(im: Image.Image) -> float:
    """RMS of the Laplacian of the luminance: the energy in the finest detail."""
    import numpy as np

    a = np.asarray(im.convert("L"), dtype=float)
    lap = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.sqrt((lap ** 2).mean()))


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sharpen") / "camera.jpg"
    photo((2400, 1600)).save(path, quality=92)
    return path


def one(src: Path, **fields) -> Image.Image:
    return run_one(src, R(**{"operation": "fit", "width": 600, "height": 600, "format": "png", **fields}))


def test_each_preset_raises_the_fine_detail_and_none_leaves_it(camera_jpeg):
    plain = one(camera_jpeg)
    assert one(camera_jpeg, sharpen=None).tobytes() == plain.tobytes()
    energy = [high_frequency(plain)] + [high_frequency(one(camera_jpeg, sharpen=SHARPEN_PRESETS[p]))
                                       for p in ("low", "standard", "high")]
    assert energy == sorted(energy) and energy[1] > energy[0] * 1.1, energy
    # Sharpening adds contrast at the finest scale, it does not shift the picture.
    sharp = one(camera_jpeg, sharpen=SHARPEN_PRESETS["high"])
    assert abs(ImageStat.Stat(sharp.convert("L")).mean[0] - ImageStat.Stat(plain.convert("L")).mean[0]) < 1.0


def test_a_larger_downscale_gets_more_of_the_amount():
    assert sharpening.strength(4.0) == pytest.approx(1.0)
    assert sharpening.strength(1.25) < sharpening.strength(2.0) < sharpening.strength(4.0) < sharpening.strength(8.0)
    assert sharpening.strength(1.0) == sharpening.strength(0.5) == sharpening.MIN_STRENGTH  # asked for: never nothing
    assert sharpening.strength(1000.0) < 4 / 3


def test_the_downscale_is_measured_on_the_whole_picture_in_any_orientation():
    assert sharpening.downscale_factor((4000, 3000), (1000, 750)) == pytest.approx(4.0)
    assert sharpening.downscale_factor((3000, 4000), (1000, 750)) == pytest.approx(4.0)
    assert sharpening.downscale_factor((100, 100), (200, 200)) == pytest.approx(0.5)


def test_the_same_mask_is_stronger_after_a_larger_downscale(tmp_path):
    # The same 600 px frame, once as a downscale by 4 and once by 1.25: the mask adds
    # more to the first. (Compared as what sharpening adds to each, not absolute energy.)
    spec = SHARPEN_PRESETS["standard"]
    frame = photo((600, 400))
    added = {f: high_frequency(sharpening.sharpen(frame, spec, f)) - high_frequency(frame) for f in (1.25, 4.0)}
    assert added[4.0] > 2 * added[1.25] > 0, added


def test_the_mask_matches_a_textbook_unsharp_mask_of_the_luminance():
    np = pytest.importorskip("numpy")
    ndimage = pytest.importorskip("scipy.ndimage")
    frame = photo((400, 300))
    spec = Sharpen(radius=0.6, amount=0.8, threshold=2)
    out = np.asarray(sharpening.sharpen(frame, spec, 4.0), dtype=float)
    rgb = np.asarray(frame, dtype=float)
    luma = np.asarray(frame.convert("L"), dtype=float)
    detail = np.rint(luma - ndimage.gaussian_filter(luma, 0.6, mode="nearest"))
    detail = np.where(np.abs(detail) < 2, 0, np.clip(np.rint(0.8 * detail), -128, 127))
    want = np.clip(rgb + detail[..., None], 0, 255)
    err = np.abs(out - want)[2:-2, 2:-2]
    assert err.max() <= 2 and err.mean() < 0.1, (err.max(), err.mean())


def test_the_threshold_leaves_smooth_areas_alone():
    smooth = Image.linear_gradient("L").resize((300, 300)).convert("RGB")  # steps of ~1 level
    assert sharpening.sharpen(smooth, Sharpen(radius=0.6, amount=2.0, threshold=4), 4.0).tobytes() == smooth.tobytes()
    detailed = photo((300, 200))
    assert sharpening.sharpen(detailed, Sharpen(radius=0.6, amount=2.0, threshold=255), 4.0).tobytes() == \
        detailed.tobytes()
    assert sharpening.sharpen(detailed, Sharpen(radius=0.6, amount=2.0, threshold=4), 4.0).tobytes() != \
        detailed.tobytes()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_every_mode_is_sharpened_and_alpha_is_left_as_it_was(mode):
    frame = photo((200, 150)).convert(mode)
    if mode.endswith("A"):
        frame.putalpha(Image.linear_gradient("L").resize(frame.size))
    out = sharpening.sharpen(frame, SHARPEN_PRESETS["high"], 4.0)
    assert out.mode == mode and out.size == frame.size
    assert high_frequency(out) > high_frequency(frame)
    if mode.endswith("A"):
        assert out.getchannel("A").tobytes() == frame.getchannel("A").tobytes()


def test_sharpening_one_rendition_leaves_one_sharing_its_frame_untouched(camera_jpeg):
    sharp = Rendition(name="sharp", operation="fit", width=600, height=600, format="png",
                      sharpen=SHARPEN_PRESETS["high"])
    plain = Rendition(name="plain", operation="fit", width=600, height=600, format="png")
    outs = run(camera_jpeg, plain, sharp, plain.__class__(**{**plain.__dict__, "name": "again"}))
    first, middle, last = (opened(o).tobytes() for o in outs)
    assert first == last == one(camera_jpeg).tobytes() and middle != first


def test_sharpening_comes_before_the_watermark(camera_jpeg):
    # The mark's edges are not sharpened: the mark is the same pixels on the sharpened frame.
    from hotfolder.config.model import Watermark
    wm = Watermark(text="(c) hotfolder", opacity=1.0, size=0.5, position="center")
    sharp = one(camera_jpeg, sharpen=SHARPEN_PRESETS["high"], watermark=wm)
    reference = sharpening.sharpen(one(camera_jpeg), SHARPEN_PRESETS["high"], math.sqrt(2400 * 1600 / (600 * 400)))
    from hotfolder.engine.watermark import apply_watermark
    assert sharp.tobytes() == apply_watermark(reference, wm).tobytes()
