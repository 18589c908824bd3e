"""crop: attention | entropy for fill (libvips smartcrop) on real photographs."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from hotfolder.config.model import Rendition
from hotfolder.engine import pipeline
from tests.imaging import stored_as
from tests.rendering import R, opened, run, run_one

skimage_data = pytest.importorskip("skimage.data")


def subject() -> Image.Image:
    """A real photograph (scikit-image's astronaut): a face, an orange suit, a flag."""
    return Image.fromarray(skimage_data.astronaut()).resize((400, 400), Image.Resampling.LANCZOS)


def scene(subject_left: int) -> Image.Image:
    """A 1500×500 plain sky with the subject at `subject_left`: far from the centre."""
    sky = Image.linear_gradient("L").rotate(90).resize((1500, 500)).convert("RGB")
    sky = Image.blend(sky, Image.new("RGB", sky.size, (120, 150, 190)), 0.6)
    sky.paste(subject(), (subject_left, 50))
    return sky


def fill(src: Path, crop: str, **fields) -> Image.Image:
    return run_one(src, R(name="t", operation="fill", width=300, height=300, crop=crop, format="png", **fields))


def shows_the_subject(out: Image.Image) -> bool:
    """The subject, at the output's scale (300/500 of the scene), lies wholly in the crop:
    the best match of it over the crop is close (mean difference under 12 levels)."""
    face = subject().resize((240, 240), Image.Resampling.LANCZOS).convert("L")
    grey = out.convert("L")
    best = min(ImageStat.Stat(ImageChops.difference(grey.crop((x, y, x + 240, y + 240)), face)).mean[0]
               for x in range(0, 61, 2) for y in range(0, 61, 2))
    return best < 12


@pytest.mark.parametrize("where, left", [("right", 1050), ("left", 50)])
@pytest.mark.parametrize("crop", ["attention", "entropy"])
def test_a_smart_crop_keeps_an_off_centre_subject_that_the_centre_crop_cuts(tmp_path, where, left, crop):
    src = tmp_path / f"{where}.jpg"
    scene(left).save(src, quality=92)
    centre = fill(src, "center")
    smart = fill(src, crop)
    assert smart.size == centre.size == (300, 300)
    assert not shows_the_subject(centre), "the centre crop is all sky"
    assert shows_the_subject(smart), f"{crop} lost the subject"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_smart_crops_the_same_upright_picture(tmp_path, orientation):
    upright = scene(1050)
    exif = Image.Exif()
    exif[pipeline.ORIENTATION_TAG] = orientation
    src, reference = tmp_path / f"o{orientation}.png", tmp_path / "upright.png"
    stored_as(upright, orientation).save(src, exif=exif)
    upright.save(reference)
    out, want = fill(src, "attention"), fill(reference, "attention")
    assert out.size == want.size == (300, 300)
    # The same crop; sideways, the resample runs across the other axis first (a few
    # levels apart at the sharpest edges). Shifting the scene by one pixel: ~5 on average.
    assert max(ImageStat.Stat(ImageChops.difference(out, want)).mean) < 1.0


def test_a_smart_crop_shares_the_one_decode_and_its_frame_with_other_renditions(tmp_path):
    # The smart crop is cut from the full-frame resize that covers its box (900x300
    # here): that frame joins the ladder, exactly as a fit to 900 px would.
    src = tmp_path / "scene.jpg"
    scene(1050).save(src, quality=92)
    smart = Rendition(name="smart", operation="fill", width=300, height=300, crop="attention", format="png")
    wide = Rendition(name="wide", operation="fit", width=900, height=900, format="png")
    small = Rendition(name="small", operation="fit", width=150, height=150, format="png")
    with_smart = run(src, small, smart)
    with_wide = run(src, small, wide)
    assert [(o.width, o.height) for o in with_smart] == [(150, 50), (300, 300)]
    assert with_smart[0].data == with_wide[0].data
    assert opened(with_smart[1]).tobytes() == fill(src, "attention").tobytes()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_every_mode_smart_crops(tmp_path, mode):
    src = tmp_path / f"{mode}.png"
    scene(1050).convert(mode).save(src)
    out = fill(src, "attention")
    assert out.mode == mode and out.size == (300, 300)
    assert shows_the_subject(out.convert("RGB"))


def test_a_picture_too_small_for_the_box_is_smart_cropped_at_its_own_size(tmp_path):
    src = tmp_path / "small.png"
    scene(1050).resize((750, 250)).save(src)
    out, centre = fill(src, "attention", upscale=False), fill(src, "center", upscale=False)
    assert out.size == centre.size == (250, 250)  # the largest crop of the box's shape, not enlarged
    detail = [ImageStat.Stat(im.convert("L")).stddev[0] for im in (out, centre)]
    assert detail[0] > 4 * detail[1], detail  # the subject, not the sky
