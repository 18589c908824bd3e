"""max_bytes: the highest quality that fits, by a bounded bisection; progressive JPEG."""
from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.config.model import Rendition, SetMetadata
from hotfolder.engine import encode
from hotfolder.engine.pipeline import InputError
from tests.imaging import photo
from tests.rendering import render_one as run


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("max_bytes") / "camera.jpg"
    photo((2400, 1600)).save(path, quality=95)
    return path


def rendition(**fields) -> Rendition:
    return Rendition(**{"name": "web", "operation": "fit", "width": 1200, "height": 1200, **fields})


def recorded(monkeypatch) -> dict[int, int]:
    """Quality → size of every encode the engine makes (the real encoder, watched)."""
    tried: dict[int, int] = {}
    real = encode._save

    def watched(im, fmt, options):
        data = real(im, fmt, options)
        tried[options.quality] = len(data)
        return data

    monkeypatch.setattr(encode, "_save", watched)
    return tried


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
@pytest.mark.parametrize("limit", [60_000, 150_000, 400_000])
def test_an_output_never_exceeds_max_bytes_and_takes_the_highest_quality_that_fits(
        camera_jpeg, monkeypatch, fmt, limit):
    r = rendition(format=fmt, quality=90, max_bytes=limit, set_metadata=SetMetadata(copyright="© Ann"))
    tried = recorded(monkeypatch)
    # Every limit here fits at a quality of 30 or more (JPEG needs q32 for 60,000 bytes, WebP
    # q51, AVIF q49; measured 2026-12): each case must find one. Too small for quality 30 is
    # test_even_quality_30_too_large_fails_naming_the_rendition_the_limit_and_the_smallest_size.
    out = run(camera_jpeg, r)
    assert len(out.data) <= limit
    chosen = max(q for q, n in tried.items() if n <= limit)
    assert len(out.data) == tried[chosen]
    # The next quality up does not fit (or is the rendition's own): the highest that fits.
    assert chosen == 90 or tried.get(chosen + 1, 0) > limit, tried  # it was tried, and is too large
    assert len(tried) <= 1 + math.ceil(math.log2(90 - 30)) + 1  # a bisection, not one encode per step
    Image.open(io.BytesIO(out.data)).verify()


def test_a_limit_that_fits_at_the_set_quality_costs_one_encode(camera_jpeg, monkeypatch):
    tried = recorded(monkeypatch)
    out = run(camera_jpeg, rendition(format="jpeg", quality=80, max_bytes=10_000_000))
    assert list(tried) == [80] and len(out.data) == tried[80]


def test_even_quality_30_too_large_fails_naming_the_rendition_the_limit_and_the_smallest_size(camera_jpeg):
    with pytest.raises(InputError) as err:
        run(camera_jpeg, rendition(format="jpeg", max_bytes=5_000))
    reason = err.value.reason
    assert err.value.step == "encode"
    assert "rendition web" in reason and "5,000 bytes" in reason and "quality 30" in reason
    smallest = int(reason.split("it is ")[1].split(" bytes")[0].replace(",", ""))
    assert smallest > 5_000


def test_the_bisection_finds_the_highest_fitting_quality_of_any_monotone_size():
    for quality in (31, 50, 85, 100):
        for limit in range(300, 10 * quality + 20, 7):
            fit = encode.highest_fitting(lambda q: b"x" * (10 * q), limit, quality, "r")
            assert fit.quality == min(quality, limit // 10) and len(fit.data) <= limit
            assert fit.encodes <= 2 + math.ceil(math.log2(quality - 30)), (quality, limit, fit.encodes)


def test_the_bisection_fails_below_quality_30():
    with pytest.raises(InputError, match="even at quality 30 it is 300 bytes"):
        encode.highest_fitting(lambda q: b"x" * (10 * q), 299, 85, "rendition t: JPEG")


def test_progressive_jpeg_is_written_progressive_and_optimised(camera_jpeg):
    plain = run(camera_jpeg, rendition(format="jpeg"))
    prog = run(camera_jpeg, rendition(format="jpeg", progressive=True))
    with Image.open(io.BytesIO(prog.data)) as im:
        assert im.info.get("progressive") and im.info.get("progression")
    with Image.open(io.BytesIO(plain.data)) as im:
        assert not im.info.get("progressive")
    assert len(prog.data) < len(plain.data)


def test_the_search_optimises_the_huffman_tables_and_a_file_that_fits_pays_nothing(camera_jpeg, monkeypatch):
    plain = run(camera_jpeg, rendition(format="jpeg", quality=85))
    assert run(camera_jpeg, rendition(format="jpeg", quality=85, max_bytes=10_000_000)).data == plain.data
    tried = recorded(monkeypatch)
    limited = run(camera_jpeg, rendition(format="jpeg", quality=85, max_bytes=len(plain.data) * 6 // 10))
    chosen = max(q for q, n in tried.items() if n <= len(plain.data) * 6 // 10)
    monkeypatch.undo()
    unoptimised = run(camera_jpeg, rendition(format="jpeg", quality=chosen))
    assert len(limited.data) < len(unoptimised.data)  # the same quality, smaller: optimised tables
    assert Image.open(io.BytesIO(limited.data)).tobytes() == Image.open(io.BytesIO(unoptimised.data)).tobytes()
