"""The encoders behind the format table (engine/encoders): jpegli for JPEG with the
metadata segments Pillow would write, libjpeg-turbo where jpegli cannot write or cannot
load (a missing or broken wheel: the output is still written), JPEG XL with its EXIF and
XMP in the container's boxes."""
from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from hotfolder.engine import iptc
from hotfolder.engine.encoders import Embedded, Encoding, jpeg, jpegmarkers, jxl, pillow
from hotfolder.engine.raster import Raster
from tests import sources
from tests.imaging import photo
from tests.unit.test_engine_registries import IIM, XMP, exif, jxl_boxes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def app_segments(data: bytes) -> list[bytes]:
    """The APPn segments of a JPEG, whole, in order."""
    out, i = [], 2
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xE0 <= marker <= 0xEF:
            out.append(data[i:i + 2 + length])
        i += 2 + length
    return out


def carried(icc: bytes | None = None) -> Embedded:
    return Embedded(exif=exif(), xmp=XMP, icc=icc or sources.adobe_rgb_icc(),
                    iim=iptc.output_segment(iptc.Iim(IIM, False), False, None, []), dpi=(300, 299.6))


@pytest.fixture(scope="module")
def frame() -> Image.Image:
    return photo((640, 480))


def test_jpegli_writes_the_frame_with_the_segments_pillow_would_write(frame):
    assert jpeg.codec(frame, Encoding(85)) == jpeg.JPEGLI
    big_icc = sources.adobe_rgb_icc() + bytes(140_000)  # three APP2 chunks
    metadata = carried(big_icc)
    ours = jpeg.encode(Raster.of(frame), Encoding(85, metadata))
    theirs = pillow.jpeg(Raster.of(frame), Encoding(85, metadata))
    assert sorted(app_segments(ours)) == sorted(app_segments(theirs))
    bare = Raster.of(frame)
    assert app_segments(jpeg.encode(bare, Encoding(85)))[0] == app_segments(pillow.jpeg(bare, Encoding(85)))[0]
    with Image.open(io.BytesIO(ours)) as im:
        assert im.info["dpi"] == (300, 300) and im.info["jfif_version"] == (1, 1)
        assert im.info["icc_profile"] == big_icc and im.info["xmp"] == XMP
        assert im.getexif()[0x010F] == "Round Trip"
        assert iptc.read(im.info.get("photoshop")).data == IIM
        assert im.size == frame.size and not im.info.get("progressive")
    assert len(ours) < len(theirs)  # the reason it is there


def test_metadata_too_long_for_a_segment_is_refused_as_pillow_refuses_it(frame):
    with pytest.raises(ValueError, match="EXIF data is too long"):
        jpeg.encode(Raster.of(frame), Encoding(85, Embedded(exif=b"Exif\0\0" + bytes(70_000))))
    with pytest.raises(ValueError, match="XMP data is too long"):
        jpeg.encode(Raster.of(frame), Encoding(85, Embedded(xmp=bytes(65_510))))
    assert jpegmarkers.with_metadata(b"\xff\xd8rest", Embedded()) == b"\xff\xd8" + jpegmarkers.jfif(None) + b"rest"


def test_grey_and_progressive_frames_are_libjpeg_turbos(frame):
    grey = frame.convert("L")
    assert jpeg.codec(grey, Encoding(85)) == jpeg.LIBJPEG
    assert jpeg.codec(frame, Encoding(85, progressive=True)) == jpeg.LIBJPEG
    with Image.open(io.BytesIO(jpeg.encode(Raster.of(grey), Encoding(85)))) as im:
        assert im.mode == "L"
    assert jpeg.encode(Raster.of(grey), Encoding(85)) == pillow.jpeg(Raster.of(grey), Encoding(85))


def test_a_frame_past_jpeglis_pixel_bound_is_libjpeg_turbos():
    # jpegli holds the whole frame: past 12 MP it would break the worker's memory bound
    # (test_attacks_engine's full-size 27 MP output measured 526 MiB against 502 allowed).
    at_bound = Image.new("RGB", (4000, 3000), (90, 120, 150))
    assert jpeg.codec(at_bound, Encoding(85)) == jpeg.JPEGLI
    past = Image.new("RGB", (4001, 3000), (90, 120, 150))
    assert jpeg.codec(past, Encoding(85)) == jpeg.LIBJPEG
    assert jpeg.encode(Raster.of(past), Encoding(85)) == pillow.jpeg(Raster.of(past), Encoding(85))


BROKEN = {
    "missing": "raise ImportError('no pyjpegli here')\n",
    "broken": "def encode(data, width, height, quality=75):\n    raise RuntimeError('a broken wheel')\n",
    "wrong": "def encode(data, width, height, quality=75):\n    return b'not a jpeg'\n",
}


@pytest.mark.parametrize("how", BROKEN)
def test_without_a_working_jpegli_the_engine_writes_with_libjpeg_turbo(tmp_path, how):
    """A real interpreter with a pyjpegli that cannot be imported, or fails the check at load."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pyjpegli.py").write_text(BROKEN[how])
    src = tmp_path / "in.png"
    photo((300, 200)).save(src)
    script = textwrap.dedent(f"""\
        from pathlib import Path
        from hotfolder.config.model import Rendition
        from hotfolder.engine import pipeline
        from hotfolder.engine.encoders import jpeg
        (out,) = pipeline.render(Path({str(src)!r}), [Rendition(name="r", operation="none", format="jpeg")],
                                 accepted_formats=("png",), max_image_pixels=10**8)
        print(jpeg._jpegli is None, out.data[:2].hex(), len(out.data))
        """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    fell_back, start, size = done.stdout.split()
    assert fell_back == "True" and start == "ffd8" and int(size) > 1000


def test_jxl_carries_exif_and_xmp_in_its_container_and_no_metadata_means_a_bare_codestream(frame):
    data = jxl.encode(Raster.of(frame), Encoding(80, carried()))
    boxes = jxl_boxes(data)
    assert list(boxes) == [b"JXL ", b"ftyp", b"Exif", b"xml ", b"jxlc"]
    assert boxes[b"Exif"][4:] == exif()[6:] and boxes[b"xml "] == XMP
    bare = jxl.encode(Raster.of(frame), Encoding(80))
    assert bare.startswith(b"\xff\x0a") and bare == boxes[b"jxlc"]  # the same codestream, unwrapped
    assert Image.fromarray(jxl.decoded(data)).size == frame.size


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_jxl_writes_each_mode_the_engine_gives_it(frame, mode):
    im = frame.convert(mode)
    back = Image.fromarray(jxl.decoded(jxl.encode(Raster.of(im), Encoding(90))))
    assert back.mode == mode and back.size == im.size
    assert np.abs(np.asarray(back, dtype=int) - np.asarray(im, dtype=int)).mean() < 3


def test_jxl_quality_means_what_it_means_to_cjxl():
    assert jxl.distance(90) == pytest.approx(1.0) and jxl.distance(100) == pytest.approx(0.1)
    assert jxl.distance(30) == pytest.approx(6.4) and jxl.distance(10) > jxl.distance(30)
