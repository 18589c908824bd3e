"""HEIC pixels through FFmpeg's HEVC decoder (engine/decoders/hevc, heifmeta; the extra
`heic-ffmpeg`), against libheif's decode of the same files: pixels within ±2 (one level
at 10 bits), the turn, the colour and the metadata as libheif's path gives them, and
libheif for every file the FFmpeg path does not take.

The files are made as phones write them (tests/sources.phone_heic: lossy 4:2:0, grids of
tiles). libheif's pixels are pi-heif's own decode; a whole render through libheif runs in
a child process where `import av` fails, as on an install without the extra.

CI sets HOTFOLDER_REQUIRE_FFMPEG=1: there a missing PyAV is a failure, not a skip.
"""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hotfolder.engine.decoders import Wanted, heif, heifmeta, hevc
from hotfolder.engine.opening import open_image
from tests import sources
from tests.harness import REPO
from tests.imaging import camera_photo, marked, stored_as
from tests.rendering import R, run, run_one

if not os.environ.get("HOTFOLDER_REQUIRE_FFMPEG"):
    pytest.importorskip("av", reason="the heic-ffmpeg extra (PyAV) is not installed")

MAKE = 0x010F
TURN = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}
NCLX_P3 = {"color_primaries": 12, "transfer_characteristics": 13, "matrix_coefficients": 6, "full_range_flag": 1}


@pytest.fixture(autouse=True)
def pillows_own_limit(monkeypatch):
    """Pillow's bomb check at its default: an earlier test's render may have left a small
    limit, which the photos these tests make (scikit-image's, read by Pillow) would trip."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10**8)


def libheif_pixels(src: Path, deep: bool = False) -> np.ndarray:
    """libheif's decode (pi-heif), upright, as the engine's libheif path reads it."""
    import pi_heif

    decoded = pi_heif.open_heif(src, convert_hdr_to_8bit=not deep)
    flat = np.frombuffer(decoded.data, np.uint16 if deep else np.uint8)
    width, height = decoded.size
    return flat.reshape(height, -1)[:, :width * 3].reshape(height, width, 3).copy()


def ffmpeg_decoded(src: Path, *renditions, threads: int = 1):
    """What decoders/heif's FFmpeg path gives for `src` (None: libheif's)."""
    with open_image(src, ("heic",), 10**9, "first-frame") as header:
        return heif.through_ffmpeg(src, header, Wanted(renditions or (R(operation="none"),), 10**9, threads=threads))


def ffmpeg_pixels(src: Path) -> tuple[np.ndarray, int]:
    fd = os.open(src, os.O_RDONLY)
    try:
        layout = heifmeta.read_layout(fd)
        pixels = hevc.decode(fd, layout)
    finally:
        os.close(fd)
    assert pixels is not None
    return TURN[layout.orientation](pixels.rgb), pixels.depth


def render_with_libheif(src: Path, **rendition) -> bytes:
    """The render of an install without the extra: a child process where `import av` fails."""
    done = libheif_render(src, **rendition)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def libheif_render(src: Path, **rendition) -> subprocess.CompletedProcess:
    code = ("import sys, json; sys.modules['av'] = None\n"
            "from hotfolder.config.model import Rendition\n"
            "from hotfolder.engine import pipeline\n"
            "from hotfolder.engine.decoders import hevc\n"
            "assert not hevc.available()\n"
            "(out,) = pipeline.render(sys.argv[1], [Rendition(name='r', **json.loads(sys.argv[2]))], "
            "accepted_formats=('heic',), max_image_pixels=10**9)\n"
            "sys.stdout.buffer.write(out.data)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "daemon"), str(REPO)])}
    return subprocess.run([sys.executable, "-c", code, str(src), json.dumps(rendition)], capture_output=True,
                          env=env, timeout=120, check=False)


def max_difference(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


# --- pixels: every shape a phone writes -------------------------------------------------

SHAPES = {
    "grid, edge tiles cut": dict(size=(700, 500), tile=256),
    "grid, odd output size": dict(size=(601, 333), tile=256),
    "one coded image": dict(size=(640, 480), tile=None),
    "one odd-sized image (clap)": dict(size=(333, 201), tile=None),
    "4:4:4 chroma": dict(size=(512, 384), tile=256, chroma=444),
    "colour by nclx code, no profile": dict(size=(512, 384), tile=256, nclx=NCLX_P3),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_ffmpeg_path_decodes_every_shape_within_2_of_libheif(tmp_path, shape):
    spec = dict(SHAPES[shape])
    src = sources.phone_heic(tmp_path / "a.heic", camera_photo(spec.pop("size")), **spec)
    decoded = ffmpeg_decoded(src)
    assert decoded is not None, "the FFmpeg path did not take it"
    ours, depth = ffmpeg_pixels(src)
    reference = libheif_pixels(src)
    assert depth == 8 and ours.shape == reference.shape
    assert max_difference(ours, reference) <= 2


def test_a_10_bit_grid_keeps_its_depth_within_one_level_of_libheif(tmp_path):
    ramp = np.linspace(0, 65535, 600).round().astype(np.uint16)
    rows = (np.tile(ramp, (300, 1)), np.tile(ramp[::-1], (300, 1)), np.full((300, 600), 30000, np.uint16))
    pixels = np.stack(rows, -1)
    src = sources.phone_heic(tmp_path / "deep.heic", pixels, icc=sources.display_p3_icc())
    decoded = ffmpeg_decoded(src)
    assert decoded is not None and decoded.deep is not None and decoded.frame is None
    ours, depth = ffmpeg_pixels(src)
    assert depth == 10 and ours.dtype == np.uint16
    assert max_difference(ours >> 6, libheif_pixels(src, deep=True) >> 6) <= 1  # in 10-bit levels
    out = run_one(src, R(operation="none", format="png"))
    theirs = Image.open(io.BytesIO(render_with_libheif(src, operation="none", format="png")))
    levels = [len(set(np.asarray(im)[150, :, 0].tolist())) for im in (out, theirs)]
    # converted from its 10 bits as libheif's path is (measured: 187 and 194 levels here; 141
    # when the same file is decoded to 8 bits first)
    assert levels[0] >= 0.95 * levels[1]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_heif_turn_is_applied_once_after_resampling(tmp_path, orientation):
    upright = marked((300, 200))
    src = sources.phone_heic(tmp_path / "o.heic", stored_as(upright, orientation),
                             exif=_exif(orientation), tile=128)
    decoded = ffmpeg_decoded(src)
    assert decoded is not None and decoded.meta.orientation == orientation  # turned by the engine, not libheif
    ours = run_one(src, R(operation="none", format="png"))
    assert ours.size == (300, 200)
    assert max_difference(np.asarray(ours), libheif_pixels(src)) <= 2
    fit = run_one(src, R(operation="fit", width=150, height=150, format="png"))
    assert fit.size == (150, 100) and 0x0112 not in fit.getexif()


def test_orient_false_keeps_libheif_which_always_turns_a_heif(tmp_path):
    src = sources.phone_heic(tmp_path / "o6.heic", stored_as(marked((300, 200)), 6), exif=_exif(6), tile=128)
    assert ffmpeg_decoded(src, R(operation="none", orient=False)) is None
    im = run_one(src, R(operation="none", format="png", orient=False))
    assert im.size == (300, 200)


def test_colour_and_metadata_are_those_of_the_libheif_path(tmp_path):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/heic"/>'
           b"</rdf:RDF></x:xmpmeta>")
    src = sources.phone_heic(tmp_path / "IMG_0001.HEIC", stored_as(camera_photo((600, 400)), 6), exif=_exif(6),
                             icc=sources.display_p3_icc(), xmp=xmp)
    assert ffmpeg_decoded(src) is not None
    for rendition in (dict(operation="fit", width=200, height=200, format="jpeg", metadata="keep"),
                      dict(operation="fit", width=200, height=200, format="jpeg", color_profile="keep")):
        (out,) = run(src, R(**rendition))
        ours, theirs = Image.open(io.BytesIO(out.data)), Image.open(io.BytesIO(render_with_libheif(src, **rendition)))
        assert ours.size == theirs.size == (200, 133)
        assert ours.info.get("icc_profile") == theirs.info.get("icc_profile")
        assert ours.getexif() == theirs.getexif() and ours.getexif()[MAKE] == "Apple"
        assert ours.info.get("xmp") == theirs.info.get("xmp")
        difference = np.abs(np.asarray(ours, np.int32) - np.asarray(theirs, np.int32))
        assert difference.mean() < 1.5  # ±2 at decode, then resampled, converted and JPEG-encoded alike


def test_small_renditions_are_made_from_a_half_size_decode(tmp_path):
    picture = camera_photo((1024, 768))
    src = sources.phone_heic(tmp_path / "big.heic", picture)
    half = ffmpeg_decoded(src, R(operation="fit", width=400, height=400))
    assert half is not None and half.size == (1024, 768) and half.frame.size == (512, 384)
    whole = ffmpeg_decoded(src, R(operation="fit", width=600, height=600))
    assert whole is not None and whole.frame.size == (1024, 768)
    from skimage.metrics import structural_similarity

    ours = run_one(src, R(operation="fit", width=400, height=400, format="png"))
    reference = Image.fromarray(libheif_pixels(src)).resize(ours.size, Image.Resampling.LANCZOS)
    assert structural_similarity(np.asarray(ours), np.asarray(reference), channel_axis=2) >= 0.99


def test_two_decoding_threads_give_the_same_pixels_as_one(tmp_path):
    src = sources.phone_heic(tmp_path / "a.heic", camera_photo((700, 500)))
    one, two = ffmpeg_decoded(src, threads=1), ffmpeg_decoded(src, threads=2)
    assert bytes(one.frame._data) == bytes(two.frame._data)


def test_the_ffmpeg_path_decodes_the_bytes_read_once_not_the_path(tmp_path):
    """The worker reads an original once (engine/fingerprint): the FFmpeg path reads the
    boxes and tiles from those bytes, not from the path (gone by then, here)."""
    src = sources.phone_heic(tmp_path / "a.heic", camera_photo((700, 500)))
    from_path = ffmpeg_decoded(src)
    data = src.read_bytes()
    src.unlink()
    wanted = Wanted((R(operation="none"),), 10**9, data=data)
    with open_image(src, ("heic",), 10**9, "first-frame", data) as header:
        got = heif.through_ffmpeg(src, header, wanted)
    assert got is not None and from_path is not None, "the FFmpeg path did not take it"
    assert got.frame.size == (700, 500) and bytes(got.frame._data) == bytes(from_path.frame._data)


# --- what the FFmpeg path leaves to libheif ---------------------------------------------

def test_alpha_limited_range_and_grey_files_are_left_to_libheif(tmp_path):
    import pillow_heif

    rgba = camera_photo((256, 192)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((256, 192)))
    alpha = sources.phone_heic(tmp_path / "alpha.heic", rgba)
    limited = sources.phone_heic(tmp_path / "limited.heic", camera_photo((256, 192)),
                                 nclx={**NCLX_P3, "full_range_flag": 0})
    grey = tmp_path / "grey.heic"
    pillow_heif.from_pillow(camera_photo((256, 192)).convert("L")).save(grey, quality=85)
    for src in (alpha, limited, grey):
        assert ffmpeg_decoded(src) is None, src.name
        im = run_one(src, R(operation="none", format="png"))
        assert im.size == (256, 192)
    assert run_one(alpha, R(operation="none", format="png")).mode == "RGBA"


def test_a_grid_whose_size_libheif_reads_otherwise_is_left_to_libheif(tmp_path):
    # The grid descriptor's output size made 2 pixels narrower (libheif reads the grid's
    # ispe, 600x400): when the boxes and libheif disagree on the picture, libheif's word stands.
    src = sources.phone_heic(tmp_path / "a.heic", camera_photo((600, 400)))
    data = bytearray(src.read_bytes())
    at = data.index(struct.pack(">BBBBHH", 0, 0, 1, 2, 600, 400))  # version, flags, rows-1, columns-1, size
    data[at + 4:at + 6] = struct.pack(">H", 598)
    src.write_bytes(bytes(data))
    assert ffmpeg_decoded(src) is None


@pytest.mark.parametrize("kept", [0.3, 0.7, -1])
def test_a_grid_cut_short_is_said_cut_short_not_painted_green(tmp_path, kept):
    """libheif paints the tiles past a file's end green and says nothing: the cut file was
    rendered and archived (a fuzz round). Said as the other decoders say a file cut short,
    so it waits for its writer (workers/truncation), with or without the FFmpeg path."""
    from hotfolder.workers import truncation

    whole = sources.phone_heic(tmp_path / "whole.heic", camera_photo((768, 512))).read_bytes()
    src = tmp_path / "cut.heic"
    src.write_bytes(whole[:int(len(whole) * kept)] if kept > 0 else whole[:kept])
    with pytest.raises(heif.InputError) as said:
        run_one(src, R(operation="none", format="png"))
    assert "Unexpected end of file" in str(said.value) and truncation.cut_short(said.value.reason, src)
    alone = libheif_render(src, operation="none", format="png")  # libheif alone (no PyAV) says it too
    assert alone.returncode != 0 and b"Unexpected end of file" in alone.stderr, alone.stderr.decode()[-500:]


@pytest.mark.parametrize("cut", ["past the end", "a tile's length"])
def test_a_frame_threaded_decode_that_fails_midway_returns_and_never_hangs(tmp_path, cut):
    """A tile's bad data reached FFmpeg's frame-threaded decoder (2 threads: the first file
    into an idle daemon): dropped with packets in flight, it hung in its teardown, 8 runs of
    10 (a fuzz round). The decoder is drained before it goes; a hang here is the test's timeout."""
    src = sources.phone_heic(tmp_path / "a.heic", camera_photo((768, 512)))
    data = bytearray(src.read_bytes())
    fd = os.open(src, os.O_RDONLY)
    try:
        layout = heifmeta.read_layout(fd)
    finally:
        os.close(fd)
    offset, _ = layout.tiles[3].extents[0]
    data[offset:offset + 4] = b"\x7f\xff\xff\xf0"  # the first NAL unit's length: far past its tile
    for _ in range(10):
        assert hevc.decode(bytes(data), layout, threads=2) is None


def test_a_tile_whose_coded_size_is_not_its_ispe_is_not_decoded(tmp_path):
    # Every tile's ispe says 260 px where its SPS codes 256: FFmpeg would decode a picture
    # of another size than the boxes promise. The SPS's size is read before any tile is
    # decoded (and each decoded tile's size is checked again).
    src = sources.phone_heic(tmp_path / "a.heic", camera_photo((500, 256)))
    data = src.read_bytes()
    tile = struct.pack(">II", 256, 256)
    assert data.count(b"ispe" + b"\0" * 4 + tile) == 1  # the tiles share one ispe property
    src.write_bytes(data.replace(b"ispe" + b"\0" * 4 + tile, b"ispe" + b"\0" * 4 + struct.pack(">II", 260, 256)))
    fd = os.open(src, os.O_RDONLY)
    try:
        layout = heifmeta.read_layout(fd)
        assert layout.tile_size == (260, 256)
        assert hevc.decode(fd, layout) is None
    finally:
        os.close(fd)


def test_tiles_reaching_past_the_output_are_refused_before_decoding():
    # Two 8192-px tiles around a 10x10 picture: the pixel limit reads the picture's size, so
    # the tiles are held to it: none may start a whole tile or more past the output.
    hvcc = b"\x01" * 23
    tile = heifmeta.Item(2, "hvc1", ((0, 10),), 0, (heifmeta.Prop("ispe", (8192, 8192), False),
                                                   heifmeta.Prop("hvcC", hvcc, True)))
    grid = heifmeta.Item(1, "grid", ((0, 8),), 1, ())
    items = {1: grid, 2: tile, 3: tile}
    boxes = heifmeta.Boxes(1, items, {"dimg": {1: (2, 3)}}, struct.pack(">BBBBHH", 0, 0, 0, 1, 10, 10))
    with pytest.raises(heifmeta.Unsupported, match="do not fit"):
        heifmeta.layout(boxes, -1)


def test_without_the_extra_heics_decode_with_libheif(tmp_path):
    src = sources.phone_heic(tmp_path / "a.heic", stored_as(camera_photo((300, 200)), 6), exif=_exif(6))
    theirs = Image.open(io.BytesIO(render_with_libheif(src, operation="none", format="png")))
    ours = run_one(src, R(operation="none", format="png"))
    assert theirs.size == ours.size == (300, 200)
    assert max_difference(np.asarray(ours), np.asarray(theirs)) <= 2


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[MAKE] = "Apple"
    exif[0x0112] = orientation
    return exif.tobytes()
