"""The speed paths of the engine's decoders and resampling: JPEG pixels through TurboJPEG
(simplejpeg) at the smallest M/8 scale that covers, Pillow for what it does not take, and
small frames resampled by Pillow instead of libvips (engine/decoders/jpeg, engine/resample)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hotfolder.engine import fingerprint, resample
from hotfolder.engine.decode import decode
from hotfolder.engine.pipeline import open_source
from hotfolder.engine.resample import Frame
from hotfolder.likeness import distance
from tests.imaging import camera_photo, marked
from tests.rendering import R, run_one


@pytest.fixture(autouse=True)
def pillows_own_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10**8)  # the photos below are read by Pillow


def decoded_size(src: Path, *renditions) -> tuple[int, int]:
    got = decode(src, renditions, accepted_formats=("jpeg",), max_image_pixels=10**8, animation="first-frame")
    frame = got.frame
    return frame.size


@pytest.mark.parametrize("box, size", [(512, (765, 509)), (640, (765, 509)), (1020, (1020, 678)),
                                       (256, (510, 339)), (255, (255, 170)), (1021, (2040, 1356))])
def test_a_jpeg_is_decoded_at_the_smallest_eighth_that_covers(tmp_path, box, size):
    # 2040x1356 (a DIV2K photo's size) for a 512 px fit: 3/8 (765 px), where Pillow's draft
    # stops at 1/2 (1020); above 1/2 the whole frame.
    src = tmp_path / "div2k.jpg"
    Image.new("RGB", (2040, 1356), (90, 120, 150)).save(src, quality=75)
    assert decoded_size(src, R(operation="fit", width=box, height=box)) == size


def test_turbojpeg_pixels_are_pillows(tmp_path):
    src = tmp_path / "photo.jpg"
    camera_photo((1024, 768)).save(src, quality=90)
    got = decode(src, (R(operation="fit", width=512, height=512),), accepted_formats=("jpeg",),
                 max_image_pixels=10**8, animation="first-frame")
    assert isinstance(got.frame, Frame) and got.frame.size == (512, 384)
    with Image.open(src) as im:
        im.draft("RGB", (512, 384))
        assert np.array_equal(np.asarray(got.frame.pil()), np.asarray(im.convert("RGB")))


def test_a_jpeg_libjpeg_warns_about_is_decoded_by_pillow(tmp_path):
    # Stray bytes between two markers: libjpeg-turbo recovers with a warning, which TurboJPEG
    # (strict) raises; Pillow decodes it as before rather than the file failing.
    good = io.BytesIO()
    marked((200, 150)).save(good, "JPEG", quality=90)
    data = good.getvalue()
    at = data.index(b"\xff\xdb")  # the first quantisation table
    src = tmp_path / "stray.jpg"
    src.write_bytes(data[:at] + b"\x00\x00junk" + data[at:])
    import simplejpeg

    with pytest.raises(ValueError):
        simplejpeg.decode_jpeg(src.read_bytes())
    out = run_one(src, R(operation="fit", width=100, height=100, format="png"))
    assert out.size == (100, 75)


def test_a_small_frame_is_resampled_by_pillow(tmp_path):
    src = tmp_path / "small.png"
    picture = camera_photo((300, 200))
    picture.save(src)
    assert 300 * 200 <= resample.SMALL
    out = run_one(src, R(operation="fit", width=120, height=120, format="png"))
    assert np.array_equal(np.asarray(out), np.asarray(picture.resize((120, 80), Image.Resampling.LANCZOS)))
    fill = run_one(src, R(operation="fill", width=50, height=50, format="png"))
    expected = picture.resize((50, 50), Image.Resampling.LANCZOS, box=(50, 0, 250, 200))
    assert np.array_equal(np.asarray(fill), np.asarray(expected))


def test_a_frame_above_the_break_even_is_resampled_by_libvips(tmp_path):
    src = tmp_path / "larger.png"
    picture = camera_photo((600, 400))
    picture.save(src)
    out = run_one(src, R(operation="fit", width=240, height=240, format="png"))
    pillow = picture.resize((240, 160), Image.Resampling.LANCZOS)
    assert not np.array_equal(np.asarray(out), np.asarray(pillow))  # libvips' lanczos2, not Pillow's
    assert np.abs(np.asarray(out, int) - np.asarray(pillow, int)).mean() < 2


def test_turbojpeg_decodes_the_bytes_read_once_not_the_path(tmp_path):
    """The worker reads an original once (engine/fingerprint) and the decoders read those
    bytes: the path may be gone or hold other bytes by then, and nothing reads it again."""
    src = tmp_path / "photo.jpg"
    camera_photo((1024, 768)).save(src, quality=90)
    wanted = (R(operation="fit", width=512, height=512),)
    from_path = decode(src, wanted, accepted_formats=("jpeg",), max_image_pixels=10**8, animation="first-frame")
    data = src.read_bytes()
    src.unlink()
    got = decode(src, wanted, accepted_formats=("jpeg",), max_image_pixels=10**8, animation="first-frame",
                 data=data)
    assert isinstance(got.frame, Frame) and got.frame.size == (512, 384)
    assert bytes(got.frame._data) == bytes(from_path.frame._data)


def test_the_look_of_a_turbojpeg_frame_is_that_of_pillows_decode(tmp_path):
    """Opened.look reads the packed TurboJPEG frame through Frame.view(): the same look as
    the picture decoded by Pillow (the hash must not depend on the decoder or its scale)."""
    src = tmp_path / "photo.jpg"
    camera_photo((2040, 1356)).save(src, quality=90)
    data = src.read_bytes()
    opened = open_source(src, (R(operation="fit", width=512, height=512),), accepted_formats=("jpeg",),
                         max_image_pixels=10**8, data=data)
    base = next(iter(opened.source.frames.values())).ladder[0]
    assert base.size == (765, 509)  # TurboJPEG's 3/8, not a Pillow draft
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        reference = fingerprint.look_of(im, 1, im.size)
    look = opened.look
    assert (look.width, look.height) == (2040, 1356)
    assert distance(look.phash, reference.phash) <= 2
    assert all(abs(a - b) <= 1 for a, b in zip(look.chroma, reference.chroma, strict=True))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_packed_frames_samples_are_pillows_nearest(mode):
    """fingerprint.sampled takes the rows the look's point samples fall on before Pillow
    unpacks anything: the very pixels Pillow's NEAREST resize to GRID x GRID gives, at every
    size (odd, prime, just past GRID, a camera's), or None where the look samples nothing."""
    rng = np.random.default_rng(5)
    grid = fingerprint.GRID
    sizes = [(grid + 1, grid + 1), (grid + 1, 2 * grid), (521, 997), (765, 509 + grid), (1020, 678),
             (2000, 1500), (1500, 2000), (2041, 1357), (3001, 513), (4032, 3024)]
    for width, height in sizes:
        pixels = rng.integers(0, 256, size=(height, width, 3) if mode == "RGB" else (height, width), dtype=np.uint8)
        packed = pixels.reshape(-1).data
        reference = Image.frombuffer(mode, (width, height), bytes(packed), "raw", mode, 0, 1).resize(
            (grid, grid), Image.Resampling.NEAREST)
        got = fingerprint.sampled(mode, (width, height), packed)
        assert got is not None and got.mode == mode and got.size == (grid, grid), (width, height)
        assert np.array_equal(np.asarray(got), np.asarray(reference)), (width, height)
    assert fingerprint.sampled(mode, (grid, 4 * grid), bytes(grid * 4 * grid * (3 if mode == "RGB" else 1))) is None
    assert fingerprint.sampled("RGBA", (1000, 1000), bytes(4_000_000)) is None


def test_the_look_from_sampled_rows_is_the_look_from_the_whole_frame(tmp_path):
    """Opened.look samples a packed frame's rows (fingerprint.sampled): the same Look, bit for
    bit, as look_of over the whole frame in Pillow (looks already in an index must not move)."""
    for size in ((2040, 1356), (1356, 2040), (4000, 3000)):
        src = tmp_path / f"photo{size[0]}.jpg"
        camera_photo(size).save(src, quality=90)
        opened = open_source(src, (R(operation="fit", width=1600, height=1600),), accepted_formats=("jpeg",),
                             max_image_pixels=10**8, data=src.read_bytes())
        base = next(iter(opened.source.frames.values())).ladder[0]
        assert base.packed_pixels() is not None and min(base.size) > fingerprint.GRID
        whole = fingerprint.look_of(base.view(), opened.source.meta.orientation, opened.source.size)
        assert opened.look == whole, size
