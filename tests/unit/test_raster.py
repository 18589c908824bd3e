"""engine/raster: a rendition's pixels packed until a step needs Pillow, and the pipeline's
JPEG rendition that never needs it (the watermark pasted into the packed pixels, jpegli
reading them as they are). Real frames, real encoders."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hotfolder.config.model import Watermark
from hotfolder.engine import watermark
from hotfolder.engine.encoders import Encoding, jpeg
from hotfolder.engine.raster import Raster
from tests.imaging import photo
from tests.rendering import R, run


def frame(size=(320, 240), seed=7) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def mark(size=(90, 40)) -> Image.Image:
    rgba = frame(size, seed=11).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(size))
    return rgba


@pytest.mark.parametrize("xy", [(0, 0), (17, 33), (250, 220), (319, 239)],
                         ids=["corner", "inside", "clipped", "one-pixel"])
@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_a_mark_pasted_into_packed_pixels_is_pillows_paste_and_leaves_the_given_buffer_alone(xy, kind):
    im, m = frame(), mark()
    given = kind(im.tobytes())
    before = bytes(given)
    pixels = Raster("RGB", im.size, given)
    pixels.paste(m.convert("RGB"), xy, m)
    expected = im.copy()
    expected.paste(m.convert("RGB"), xy, m)
    assert pixels.packed and bytes(pixels.rgb()) == expected.tobytes()
    assert bytes(given) == before  # a ladder frame other renditions are resampled from


def test_a_raster_made_pillow_is_that_image_from_then_on():
    im = frame()
    pixels = Raster("RGB", im.size, im.tobytes())
    image = pixels.image()
    assert not pixels.packed and pixels.image() is image and image.tobytes() == im.tobytes()
    image.paste((255, 0, 0), (0, 0, 10, 10))
    assert pixels.rgb() == image.tobytes() and np.array_equal(pixels.array(), np.asarray(image))
    m = mark()
    pixels.paste(m.convert("RGB"), (5, 5), m)  # onto the image, as Pillow pastes
    assert pixels.rgb() == image.tobytes()


def test_a_copy_of_packed_pixels_takes_its_own_paste():
    im, m = frame(), mark()
    pixels = Raster("RGB", im.size, im.tobytes())
    drawn = pixels.copy()
    drawn.paste(m.convert("RGB"), (20, 20), m)
    assert pixels.rgb() == im.tobytes() and drawn.rgb() != im.tobytes()
    with pytest.raises(ValueError, match="'P'"):
        Raster("P", im.size, b"")
    assert not pixels.array().flags.writeable


def test_jpegli_writes_packed_pixels_as_it_writes_the_same_image():
    im = frame((640, 480))
    if jpeg.codec(Raster.of(im), Encoding(85)) != jpeg.JPEGLI:
        pytest.skip("jpegli is not loaded: libjpeg-turbo writes every JPEG")
    assert jpeg.encode(Raster("RGB", im.size, im.tobytes()), Encoding(85)) == jpeg.encode(Raster.of(im), Encoding(85))


@pytest.fixture
def large(tmp_path):
    """A source over engine/resample.SMALL, so its renditions are resampled by libvips into packed frames."""
    path = tmp_path / "large.jpg"
    photo((1200, 900)).save(path, quality=92)
    return path


WM = Watermark(text="(c) hotfolder", opacity=0.8, size=0.4)


def test_a_marked_jpeg_rendition_is_never_made_a_pillow_image_and_is_what_pillow_would_mark(large, monkeypatch):
    web = R(name="web", operation="fit", width=800, height=800, format="jpeg", quality=85, watermark=WM)
    thumb = R(name="thumb", operation="fill", width=300, height=300, format="png")
    made: list[tuple[int, int]] = []
    real = Image.frombytes

    def counted(mode, size, data, *args, **kwargs):
        made.append(tuple(size))
        return real(mode, size, data, *args, **kwargs)

    with monkeypatch.context() as watched:
        watched.setattr(Image, "frombytes", counted)
        packed_web, packed_thumb = run(large, web, thumb)
    if jpeg.codec(Raster.of(Image.new("RGB", (8, 8))), Encoding(85)) == jpeg.JPEGLI:
        assert (800, 600) not in made, made  # the whole frame never crossed into Pillow
    with monkeypatch.context() as through_pillow:  # the mark drawn the way it was before the raster
        through_pillow.setattr(watermark, "watermark_raster",
                               lambda pixels, wm: Raster.of(watermark.apply_watermark(pixels.image(), wm)))
        pillow_web, pillow_thumb = run(large, web, thumb)
    assert packed_web.data == pillow_web.data and packed_thumb.data == pillow_thumb.data
    unmarked = R(name="web", operation="fit", width=800, height=800, format="jpeg", quality=85)
    plain_web, plain_thumb = run(large, unmarked, thumb)
    with Image.open(io.BytesIO(packed_web.data)) as drawn, Image.open(io.BytesIO(plain_web.data)) as plain:
        assert drawn.size == plain.size == (800, 600) and drawn.tobytes() != plain.tobytes()
    # The thumb is cut from the 800 px frame the mark was pasted on a copy of: unmarked.
    assert packed_thumb.data == plain_thumb.data
