"""`quality: auto`: the search's bounds (engine/autoquality) on score curves of known
shape, and the whole thing through the engine with the real encoders: the target
reached by the kept output (scored here again, independently of the search), at most 4
encodes, `max_bytes` still the cap, the quality and score on the output."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hotfolder.config.model import SHARPEN_PRESETS, Rendition, Watermark
from hotfolder.engine import autoencode, autoquality, encode, formats, ssimulacra2
from hotfolder.engine.autoquality import Start
from hotfolder.engine.encoders import Encoding, jpeg
from hotfolder.engine.pipeline import render
from hotfolder.engine.raster import Raster
from tests.imaging import photo

JPEGLI = autoquality.STARTS["jpegli"]


def curve(q_star: float, slope: float, ceiling: float = 100.0):
    """A score that reaches 80 at `q_star`, `slope` points per quality unit, capped."""
    return lambda q: min(ceiling, 80.0 + slope * (q - q_star))


def run(score_at, start: Start = JPEGLI, target: float = 80.0):
    encodes: list[int] = []

    def encode_at(q: int) -> bytes:
        encodes.append(q)
        return q.to_bytes(1, "big") * (100 + 10 * q)  # longer with the quality, as real encodings

    found = autoquality.search(encode_at, lambda data: score_at(data[0]), start, target)
    return found, encodes


@pytest.mark.parametrize("q_star", range(40, 96, 3))
@pytest.mark.parametrize("spread", [0.75, 1.0, 1.25])  # the slope's spread across photos (p10-p90: about ±25 %)
def test_the_search_lands_near_the_target_within_its_bounds(q_star, spread):
    slope = JPEGLI.up if q_star > JPEGLI.quality else JPEGLI.down
    score_at = curve(q_star, slope * spread)
    found, encodes = run(score_at)
    assert len(encodes) == found.encodes <= autoquality.MAX_ENCODES <= 4
    assert found.scores == 1
    assert all(JPEGLI.lo <= q <= JPEGLI.hi for q in encodes)
    assert found.data == run(score_at)[0].data and found.data[0] == found.quality  # the kept encoding, as made
    true = score_at(found.quality)
    step = abs(found.quality - JPEGLI.quality)
    if JPEGLI.lo < q_star < JPEGLI.hi and step <= autoquality.BIG:  # a short step lands, give or take the slope
        assert 79.0 <= true <= 82.0, (found.trace, true)
    if JPEGLI.lo + 5 < q_star < JPEGLI.hi - 1:  # a damped step too: never below 77 (the floor)
        assert true >= 77.0, (found.trace, true)
    if found.measured:
        assert found.score == pytest.approx(true)
    elif step <= autoquality.BIG:  # predicted along the slope: within the slope's error of the truth
        assert abs(found.score - true) <= 1.5, (found.trace, true)
    else:  # past BIG the slope is not known well enough to say
        assert found.score is None


def test_a_start_within_the_accepted_band_costs_one_encode_and_one_score():
    found, encodes = run(curve(JPEGLI.quality - 1, JPEGLI.down))  # scores 80.4 at the start
    assert encodes == [JPEGLI.quality] and found.scores == 1 and found.measured


def test_the_step_follows_the_slope_of_its_direction():
    """Below the target a photo climbs steeply (jpegli 0.65 a unit), above it descends gently
    (0.40): the same distance from the target is a shorter step up than down."""
    below, _ = run(lambda q: 78.0)  # 2.5 short of 80.5: +2.5 / 0.65 = +3.8 units
    above, _ = run(lambda q: 82.5)  # 2 over: -2 / 0.40 = -5 units
    assert [q for q, _, _ in below.trace] == [81, 85]
    assert [q for q, _, _ in above.trace] == [81, 76]
    assert below.score == pytest.approx(78.0 + 0.65 * 4) and above.score == pytest.approx(82.5 - 0.40 * 5)


def test_a_photo_that_never_reaches_the_target_gets_the_highest_quality():
    found, encodes = run(lambda q: 60 + 0.09 * q)  # under 70 at the highest quality
    assert found.quality == JPEGLI.hi and len(encodes) == 2 and found.score is None


def test_an_easy_photo_goes_no_lower_than_the_bound():
    found, encodes = run(curve(-100, 0.40))
    assert min(encodes) >= JPEGLI.lo and found.quality < JPEGLI.quality - 5


def test_the_estimate_is_taken_less_its_encoders_measured_mean_error_in_full_from_1600_px():
    full, half = 1600 * 1200, 800 * 1200
    assert autoquality.calibrated(81.0, full, "jpegli") == pytest.approx(80.5)
    assert autoquality.calibrated(81.0, 4000 * 3000, "jxl") == pytest.approx(79.8)  # never more than measured
    assert autoquality.calibrated(81.0, half, "avif") == pytest.approx(80.6)  # in proportion below
    assert autoquality.calibrated(81.0, full, "webp") == 81.0  # WebP's estimate is not high
    assert autoquality.calibrated(81.0, full, "an encoder not measured") == 81.0


def test_the_start_moves_with_the_target_and_thumbnails_start_higher():
    start = autoquality.start_for("jpegli", 1600 * 1200, 80.0)
    assert start == JPEGLI
    high = autoquality.start_for("jpegli", 1600 * 1200, 90.0)
    assert high.quality == 96 and high.hi == 100  # 81 + 10 / 0.65, within JPEG's top for a high target
    assert autoquality.start_for("jpegli", 1600 * 1200, 70.0) == Start(56, 0.65, 0.40, 40, 95)  # 81 - 10 / 0.4
    assert autoquality.start_for("jpegli", 400 * 400, 80.0).quality > start.quality
    assert autoquality.start_for("a-new-encoder", 10**6, 80.0) == autoquality.UNKNOWN


# --- through the engine -------------------------------------------------------

WATERMARK = Watermark(text="© Example Studio", opacity=0.6, size=0.33, margin=0.02)


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auto") / "camera.jpg"
    photo((2400, 1600)).save(path, quality=95)
    return path


def rendition(**fields) -> Rendition:
    return Rendition(**{"name": "web", "operation": "fit", "width": 1200, "height": 1200, "watermark": WATERMARK,
                        **fields})


def rendered(src: Path, r: Rendition):
    (out,) = render(src, [r], accepted_formats=("jpeg",), max_image_pixels=10**8)
    return out


def watched(monkeypatch) -> list[int | None]:
    """The quality of every encode the engine makes (the real encoder, watched)."""
    made: list[int | None] = []
    real = encode._save

    def counted(im, fmt, encoding):
        made.append(encoding.quality)
        return real(im, fmt, encoding)

    monkeypatch.setattr(encode, "_save", counted)
    return made


def read(data: bytes, fmt: str) -> Image.Image:
    back = autoencode.read_back(data, formats.get(fmt))
    return (back if isinstance(back, Image.Image) else Image.fromarray(back)).convert("RGB")


@pytest.mark.parametrize(("fmt", "mode"), [("jpeg", "RGB"), ("webp", "RGB"), ("webp", "RGBA")])
def test_a_candidate_is_read_back_into_an_array_with_pillows_pixels_and_scores_the_same(camera_jpeg, fmt, mode):
    frame = Image.open(io.BytesIO(rendered(camera_jpeg, rendition(format="png")).data)).convert(mode)
    if mode == "RGBA":
        frame.putalpha(Image.linear_gradient("L").resize(frame.size))
    pixels = Raster.of(frame)
    data = jpeg.encode(pixels, Encoding(80)) if fmt == "jpeg" else encode._save(pixels, formats.get(fmt), Encoding(80))
    back = autoencode.read_back(data, formats.get(fmt))
    with Image.open(io.BytesIO(data)) as pil:
        pil.load()
        assert isinstance(back, np.ndarray) and np.array_equal(back, np.asarray(pil))
        reference = ssimulacra2.Reference(frame)
        assert reference.score(back) == reference.score(pil)


@pytest.mark.parametrize("fmt", formats.OUTPUTS)
def test_auto_reaches_the_target_in_at_most_four_encodes_with_every_encoder(camera_jpeg, monkeypatch, fmt):
    frame = Image.open(io.BytesIO(rendered(camera_jpeg, rendition(format="png")).data)).convert("RGB")
    made = watched(monkeypatch)
    out = rendered(camera_jpeg, rendition(format=fmt, quality="auto"))
    if not formats.get(fmt).quality:
        assert out.quality is None and out.score is None and made == [None]
        return
    assert 1 <= len(made) <= 2 and out.quality == made[-1]
    assert isinstance(out.quality, int)
    # Scored again here, every row, on the frame the encoder got (the PNG rendition of it):
    again = ssimulacra2.Reference(frame, ssimulacra2.EXACT).score(read(out.data, fmt))
    assert again >= 78.0, (fmt, out.quality, out.score, again)
    if out.score is not None:
        assert abs(again - out.score) <= (1.5 if out.score_measured else 2.5), (out.score, again)


@pytest.mark.parametrize("fields", [{"quality": "auto"}, {"quality": 90, "max_bytes": 150_000}])
@pytest.mark.parametrize(("sharpened", "packings_due"), [(False, 0), (True, 1)], ids=["packed", "pillow"])
def test_a_jpeg_frame_encoded_more_than_once_is_packed_once(camera_jpeg, monkeypatch, fields, sharpened,
                                                            packings_due):
    """The search's encodes (jpegli) and the metric read one packing of the frame (~2 ms each
    at 1600 px saved); what they write is the same as with a packing each. A frame libvips
    resampled is packed already (engine/raster): none; a sharpened one is Pillow's: one."""
    if sharpened:
        fields = {**fields, "sharpen": SHARPEN_PRESETS["standard"]}
    if jpeg.codec(Image.new("RGB", (8, 8)), Encoding(80)) != jpeg.JPEGLI:
        pytest.skip("jpegli is not loaded: libjpeg-turbo reads the image itself")
    with monkeypatch.context() as unpacked:
        unpacked.setattr(encode, "_packed", lambda im: None)
        before = rendered(camera_jpeg, rendition(format="jpeg", **fields))  # each encode packs it
    packings: list[tuple[int, int]] = []
    real = Image.Image.tobytes

    def counted(im, *args, **kwargs):
        if im.mode == "RGB" and im.size == (1200, 800):
            packings.append(im.size)
        return real(im, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "tobytes", counted)
    made = watched(monkeypatch)
    out = rendered(camera_jpeg, rendition(format="jpeg", **fields))
    assert len(made) >= 2 and len(packings) == packings_due, (made, packings)
    assert out.data == before.data and out.quality == before.quality


def test_a_higher_target_costs_more_bytes_and_scores_higher(camera_jpeg):
    low = rendered(camera_jpeg, rendition(format="jpeg", quality="auto", quality_target=70))
    high = rendered(camera_jpeg, rendition(format="jpeg", quality="auto", quality_target=88))
    assert len(low.data) < len(high.data) and low.quality < high.quality


def test_max_bytes_still_caps_what_auto_found(camera_jpeg, monkeypatch):
    free = rendered(camera_jpeg, rendition(format="jpeg", quality="auto"))
    limit = len(free.data) * 7 // 10
    made = watched(monkeypatch)
    capped = rendered(camera_jpeg, rendition(format="jpeg", quality="auto", max_bytes=limit))
    assert len(capped.data) <= limit < len(free.data)
    assert capped.quality < free.quality and capped.score is None  # lowered past the search: not known
    assert made.count(free.quality) == 1  # the search's encoding at its quality was not made again
    roomy = rendered(camera_jpeg, rendition(format="jpeg", quality="auto", max_bytes=len(free.data)))
    assert roomy.data == free.data and roomy.score == free.score


def test_a_fixed_quality_is_written_at_that_quality_unscored(camera_jpeg):
    out = rendered(camera_jpeg, rendition(format="webp", quality=77))
    assert out.quality == 77 and out.score is None


def test_a_transparent_frame_is_searched_too(tmp_path):
    rgba = photo((900, 600)).convert("RGBA")
    rgba.putalpha(Image.fromarray(np.linspace(255, 60, 900).astype(np.uint8)[None, :].repeat(600, 0)))
    src = tmp_path / "cut-out.png"
    rgba.save(src)
    (out,) = render(src, [rendition(format="webp", quality="auto", watermark=None)], accepted_formats=("png",),
                    max_image_pixels=10**8)
    decoded = Image.open(io.BytesIO(out.data))
    frame = Image.open(io.BytesIO(render(src, [rendition(format="png", watermark=None)], accepted_formats=("png",),
                                         max_image_pixels=10**8)[0].data))
    assert decoded.mode == "RGBA" and ssimulacra2.Reference(frame).score(decoded) >= 78


def test_a_target_the_highest_quality_does_not_reach_is_said_not_kept_silently():
    """WebP at quality 100 scored 85-88 on the publisher's photos (fit 960), AVIF at 95 84-89:
    `quality_target: 90` or `95` wrote every WebP at quality 100 (2-5x the bytes of 90), its
    manifest and log giving the score and nothing else. The search says when the quality it
    kept is its highest and the target was not reached there (measured), or maybe not (the
    first score fell short, the step to the highest was kept unscored)."""
    found, _ = run(lambda q: 86.0, autoquality.start_for("webp", 960 * 640, 95.0), 95.0)
    assert found.quality == 100 and found.measured and found.highest
    note = autoquality.shortfall(found, 95.0, "WebP")
    assert note is not None and note.startswith("quality_target 95 not reached: WebP at quality 100"), note
    assert "86.0" in note and "lower quality_target" in note, note
    unscored, _ = run(lambda q: 60 + 0.09 * q)  # JPEG: 67.3 at the start, the step to 95 unscored
    assert unscored.quality == JPEGLI.hi and unscored.score is None and unscored.highest
    note = autoquality.shortfall(unscored, 80.0, "JPEG")
    assert note is not None and note.startswith("quality_target 80 perhaps not reached: quality 81 scored 67.3"), note
    # reached, or not at the highest: nothing to say
    assert autoquality.shortfall(run(curve(JPEGLI.quality - 1, JPEGLI.down))[0], 80.0, "JPEG") is None
    assert autoquality.shortfall(run(lambda q: 78.0)[0], 80.0, "JPEG") is None  # stepped to 85, predicted 80.6


def test_the_note_reaches_the_rendition_through_the_engine(camera_jpeg):
    out = rendered(camera_jpeg, rendition(format="webp", quality="auto", quality_target=95))
    assert out.quality == 100 and any(n.startswith("quality_target 95 not reached: WebP") for n in out.notes), out.notes
    assert not any("quality_target" in n for n in rendered(camera_jpeg, rendition(format="webp", quality="auto")).notes)
