"""Where a file's time goes: each stage of the example recipe, Pillow against libvips,
on one core, and the engine's choice.

    python -m bench.stages [--repeat 21] [--threads N] [--dir DIR]

Recipe (config/hotfolder.yaml): a 12 MP JPEG of the bench corpus → fit 1600 px JPEG q85
with a text watermark + fill 400 px WebP q80. Every figure is the median of --repeat
runs in this one process, warm cache, libvips at one thread (as each worker of a busy
daemon), so the figures compare like with like. The libvips rows materialise their
result (to memory), as the engine must. The "whole recipe" rows put the stages
together: all Pillow (the engine before libvips), all libvips, the engine as built
(`pipeline.render`), and the floor (the decode at DCT scale + the encodes, nothing
else: Pillow's, and again with the engine's own decoder and JPEG encoder, jpegli, which
costs more than libjpeg-turbo for fewer bytes); the whole-recipe rows run in turn, round
after round, so load from elsewhere hits them alike; then `render()` with one libvips
thread and with --threads (default: every core): the latency of one file on an idle
daemon. The process is prepared as a worker is (`pipeline.warm_up()`: freed memory
kept, libvips loaded).

Run it alone (`flock /tmp/hotfolder-bench.lock python -m bench.stages`): on a shared
machine, say the load with the figures.
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

import pyvips
from PIL import Image, ImageCms, ImageFilter

from bench import corpus
from bench.timing import interleaved_ms, median_ms
from hotfolder.config.model import SHARPEN_PRESETS, Rendition, Watermark
from hotfolder.engine import colour, formats, pipeline, resample, watermark
from hotfolder.engine import sharpen as sharpening

WATERMARK = Watermark(text="© Example Studio", opacity=0.6, size=0.33, margin=0.02)  # the example config's
FIT = Rendition(name="web", operation="fit", width=1600, height=1600, format="jpeg", quality=85,
                watermark=WATERMARK)
FILL = Rendition(name="thumb", operation="fill", width=400, height=400, format="webp", quality=80)
DRAFT = (2000, 1500)  # the DCT scale 1/2 of a 4000x3000 frame: the smallest covering 1600
FIT_SIZE = (1600, 1200)
FILL_BOX = (200, 0, 1400, 1200)  # the centred square of the 1600 frame
LANCZOS = Image.Resampling.LANCZOS


def pil_decode(src: Path) -> Image.Image:
    with Image.open(src) as im:
        im.draft("RGB", DRAFT)
        im.load()
        return im


def turbo_decode(src: Path):
    """The engine's JPEG decode (engine/decoders/jpeg): TurboJPEG at 1/2, packed RGB (numpy)."""
    import simplejpeg

    return simplejpeg.decode_jpeg(src.read_bytes(), colorspace="RGB", min_width=DRAFT[0], min_height=DRAFT[1])


def vips_decode(src: Path) -> pyvips.Image:
    image = pyvips.Image.new_from_file(str(src), shrink=2, access="sequential")
    return resample.Frame.rendered(image, "RGB").vips()


def to_pil(image: pyvips.Image, mode: str = "RGB") -> Image.Image:
    return resample.Frame.rendered(image, mode).pil()


def pil_jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85, **pipeline.ENCODER_OPTIONS["jpeg"])
    return buf.getvalue()


def pil_webp(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=80, **pipeline.ENCODER_OPTIONS["webp"])
    return buf.getvalue()


def pil_mark(im: Image.Image) -> Image.Image:
    return watermark.apply_watermark(im, WATERMARK)


class VipsMark:
    """The same mark as a libvips image, made once (as the engine caches its marks)."""

    def __init__(self, frame: tuple[int, int]):
        mark = watermark.mark_image(WATERMARK, watermark.mark_width(frame, WATERMARK))
        self.size = mark.size
        self.image = resample.Frame(mark).vips().copy(interpretation="srgb")

    def onto(self, image: pyvips.Image) -> pyvips.Image:
        x, y = watermark.mark_position((image.width, image.height), self.size, WATERMARK)
        return image.composite2(self.image, "over", x=x, y=y).flatten()


def cmyk_profile() -> bytes:
    return pyvips.Image.profile_load("cmyk")  # libvips' built-in CMYK profile: the same for both


def stage_rows(src: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    t = lambda fn: median_ms(fn, repeat)  # noqa: E731
    base = pil_decode(src)
    vbase = resample.Frame(base).vips()
    fit = base.resize(FIT_SIZE, LANCZOS)
    vfit = resample.Frame(fit).vips()
    fill = fit.resize((400, 400), LANCZOS, box=FILL_BOX)
    vmark = VipsMark(FIT_SIZE)
    cmyk = base.convert("CMYK")
    vcmyk = pyvips.Image.new_from_memory(cmyk.tobytes(), *cmyk.size, 4, "uchar").copy(interpretation="cmyk")
    profile = cmyk_profile()
    cms_source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    rgba = fit.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(FIT_SIZE))
    vrgba = resample.Frame(rgba).vips()
    turned = lambda v: resample.Frame.rendered(v.rot90(), "RGB")  # noqa: E731
    return [
        ("decode at DCT scale 1/2 (2000×1500)", t(lambda: pil_decode(src)), t(lambda: vips_decode(src)),
         f"TurboJPEG (simplejpeg), packed: {t(lambda: turbo_decode(src)):.1f} ms"),
        ("copy Pillow → libvips, 2000×1500 (`tobytes`)", t(lambda: resample.Frame(base).vips()),
         float("nan"), "once per file"),
        ("copy libvips → Pillow, 1600×1200 (`write_to_memory`)", float("nan"),
         t(lambda: to_pil(vfit.copy())), "once per output"),
        ("resample 2000×1500 → 1600×1200, lanczos3 / the engine's lanczos2", t(lambda: base.resize(FIT_SIZE, LANCZOS)),
         t(lambda: to_pil(vbase.resize(FIT_SIZE[0] / DRAFT[0], kernel="lanczos3"))),
         f"libvips lanczos2: {t(lambda: to_pil(resample.resize(vbase, FIT_SIZE, alpha=False))):.1f} ms"),
        ("fill 400×400 from the 1600 frame (crop + lanczos3)",
         t(lambda: fit.resize((400, 400), LANCZOS, box=FILL_BOX)),
         t(lambda: to_pil(resample.resize(vfit.crop(*resample.pixel_box((0.125, 0, 0.875, 1), 1600, 1200)),
                                          (400, 400), alpha=False))), "libvips"),
        ("turn upright (EXIF 6), 1600×1200", t(lambda: fit.transpose(Image.Transpose.ROTATE_270)),
         t(lambda: turned(vfit)), "Pillow, after resampling"),
        ("watermark: text mark, 400 px onto 1600×1200", t(lambda: pil_mark(fit.copy())) - t(fit.copy),
         t(lambda: to_pil(vmark.onto(vfit))) - t(lambda: to_pil(vfit.copy())), "Pillow (pastes the mark's box only)"),
        ("alpha flattened onto white, 1600×1200 RGBA",
         t(lambda: colour.convert_for(rgba, formats.get("jpeg"), (255, 255, 255))),
         t(lambda: to_pil(vrgba.flatten(background=[255, 255, 255]))), "Pillow (rare: alpha sources)"),
        ("CMYK → sRGB through an ICC profile, 2000×1500",
         t(lambda: ImageCms.profileToProfile(cmyk, cms_source, colour.srgb(), outputMode="RGB")),
         t(lambda: to_pil(vcmyk.icc_transform("srgb", input_profile="cmyk"))), "Pillow (rare: print files)"),
        ("JPEG encode 1600×1200 q85", t(lambda: pil_jpeg(fit)), t(lambda: vfit.jpegsave_buffer(Q=85)), "Pillow"),
        ("WebP encode 400×400 q80", t(lambda: pil_webp(fill)),
         t(lambda: resample.Frame(fill).vips().webpsave_buffer(Q=80, effort=2)), "Pillow (method 2 / effort 2)"),
    ]


def feature_stage_rows(src: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    """The stages of the optional keys (sharpen, crop, max_bytes' optimised tables)."""
    t = lambda fn: median_ms(fn, repeat)  # noqa: E731
    fit = pil_decode(src).resize(FIT_SIZE, LANCZOS)
    vfit = resample.Frame(fit).vips()
    frame = fit.resize((533, 400), LANCZOS)  # the fill's frame: what the smart crop is cut from
    vframe = resample.Frame(frame).vips()
    spec = SHARPEN_PRESETS["standard"]
    unsharp = ImageFilter.UnsharpMask(spec.radius, round(spec.amount * 100), spec.threshold)
    lab = dict(sigma=spec.radius, x1=spec.threshold * 100 / 255, m1=0, m2=spec.amount, y2=100, y3=100)
    optimised = {**pipeline.ENCODER_OPTIONS["jpeg"], "optimize": True}
    return [
        ("sharpen 1600×1200: the engine's luminance mask (standard)", t(lambda: sharpening.sharpen(fit, spec, 4.0)),
         t(lambda: to_pil(vfit.sharpen(**lab).cast("uchar"))), "Pillow, luminance (libvips: `sharpen`, LabS)"),
        ("sharpen 1600×1200: Pillow's UnsharpMask, every band", t(lambda: fit.filter(unsharp)), float("nan"),
         "not used: twice the engine's mask"),
        ("smart crop 400×400 from 533×400, attention", float("nan"),
         t(lambda: to_pil(vframe.smartcrop(400, 400, interesting="attention"))), "libvips (Pillow has none)"),
        ("smart crop 400×400 from 533×400, entropy", float("nan"),
         t(lambda: to_pil(vframe.smartcrop(400, 400, interesting="entropy"))), "libvips"),
        ("JPEG encode 1600×1200 q85, optimised Huffman",
         t(lambda: fit.save(io.BytesIO(), "JPEG", quality=85, **optimised)),
         t(lambda: vfit.jpegsave_buffer(Q=85, optimize_coding=True)), "Pillow; only in the max_bytes search"),
    ]


def all_pillow(src: Path) -> None:
    """The engine before libvips: draft, LANCZOS, paste, Pillow encoders."""
    fit = pil_decode(src).resize(FIT_SIZE, LANCZOS)
    pil_webp(fit.resize((400, 400), LANCZOS, box=FILL_BOX))
    pil_jpeg(pil_mark(fit))


def all_vips(src: Path, mark: VipsMark) -> None:
    """All libvips: shrink-on-load, lanczos3, composite2, libvips encoders."""
    fit = resample.Frame.rendered(resample.resize(vips_decode(src), FIT_SIZE, alpha=False), "RGB").vips()
    mark.onto(fit).jpegsave_buffer(Q=85)
    resample.resize(fit.crop(200, 0, 1200, 1200), (400, 400), alpha=False).webpsave_buffer(Q=80, effort=2)


def floor(src: Path) -> None:
    """What no engine avoids: the decode at DCT scale and the encodes, nothing else."""
    base = pil_decode(src)
    pil_jpeg(base.crop((0, 0) + FIT_SIZE))
    pil_webp(base.crop((0, 0, 400, 400)))


def floor_turbo(src: Path) -> None:
    """The same floor with the engine's decoder (TurboJPEG), each crop made a Pillow image."""
    base = turbo_decode(src)
    pil_jpeg(Image.fromarray(base[:FIT_SIZE[1], :FIT_SIZE[0]]))
    pil_webp(Image.fromarray(base[:400, :400]))


def floor_engine(src: Path) -> None:
    """The floor with the engine's decoder and its JPEG encoder (jpegli, where it writes the
    fit: issue 24 chose it for ~15 % fewer bytes at an equal score, at ~2x libjpeg-turbo's
    encode time): what the engine itself cannot go below."""
    import numpy as np

    from hotfolder.engine.encoders import Encoding, jpeg
    from hotfolder.engine.raster import Raster

    base = turbo_decode(src)
    fit = np.ascontiguousarray(base[:FIT_SIZE[1], :FIT_SIZE[0]])  # packed, as the engine gives jpegli
    jpeg.encode(Raster("RGB", FIT_SIZE, fit.data), Encoding(85))
    pil_webp(Image.fromarray(base[:400, :400]))


def render(src: Path, threads: int = 1) -> list:
    return pipeline.render(src, (FIT, FILL), accepted_formats=("jpeg",), max_image_pixels=10**8, threads=threads)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=21)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="libvips threads for the idle-latency row (default: every core)")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    p.add_argument("--json", action="store_true", help="the whole-recipe rows only, as one JSON line (python -m bench)")
    args = p.parse_args(argv)
    src = corpus.generate(args.dir / "corpus" / "big12", "big12", 1)[0]  # orientation 1
    src.read_bytes()
    pipeline.warm_up()  # as in a worker: libvips at one thread, freed memory kept
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"source: {src.name}, 4000×3000 JPEG, {src.stat().st_size / 1e6:.1f} MB; Pillow {Image.__version__}, "
          f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}; median of {args.repeat}; "
          f"load {load} at start\n")
    mark = VipsMark(FIT_SIZE)
    whole = whole_recipe(src, mark, args.repeat)
    if args.json:
        import json

        print(json.dumps({"ms": whole, "load": [load, Path("/proc/loadavg").read_text().split()[0]],
                          "repeat": args.repeat}))
        return
    print_whole(src, whole, args)


def whole_recipe(src: Path, mark: VipsMark, repeat: int) -> dict[str, float]:
    return interleaved_ms({
        "all Pillow (draft + LANCZOS, the engine before)": lambda: all_pillow(src),
        "all libvips (shrink-on-load, lanczos3, libvips encoders)": lambda: all_vips(src, mark),
        "**the engine: `pipeline.render()`**, 1 thread": lambda: render(src),
        "floor: decode at DCT scale + the two encodes": lambda: floor(src),
        "floor with the engine's decoder (TurboJPEG)": lambda: floor_turbo(src),
        ENGINE_FLOOR: lambda: floor_engine(src),
    }, repeat)


ENGINE_FLOOR = "floor with the engine's decoder and encoders (TurboJPEG, jpegli)"


def table(found: dict) -> list[tuple[str, str, str, str, str]]:
    """The whole-recipe rows for `python -m bench` (section `recipe`): ratios to both floors."""
    ms = found["ms"]
    base, turbo = ms["floor: decode at DCT scale + the two encodes"], ms["floor with the engine's decoder (TurboJPEG)"]
    own = ms.get(ENGINE_FLOOR)
    rows = []
    for name, value in ms.items():
        ratio = value / base
        engine = name.startswith("**the engine")
        of_own = f", {value / own:.2f}× the floor with the engine's encoders" if own else ""
        rows.append((f"example recipe on one 12 MP JPEG, 1 thread: {name}", f"{value:.1f} ms",
                     f"{ratio:.2f}× floor, {value / turbo:.2f}× the floor with TurboJPEG{of_own}; medians of "
                     f"{found['repeat']} interleaved, load {found['load'][0]}→{found['load'][1]}",
                     "≤ 1.5× floor" if engine else "", ("yes" if ratio <= 1.5 else "**no**") if engine else ""))
    return rows


def print_whole(src: Path, whole: dict[str, float], args) -> None:
    threaded = median_ms(lambda: render(src, args.threads), args.repeat)
    ours = whole["**the engine: `pipeline.render()`**, 1 thread"]
    base = whole["floor: decode at DCT scale + the two encodes"]
    turbo = whole["floor with the engine's decoder (TurboJPEG)"]
    own = whole[ENGINE_FLOOR]
    print("| whole recipe, one decode | ms | ÷ floor | ÷ floor with TurboJPEG | ÷ floor with the engine's encoders |\n"
          "|---|---|---|---|---|")
    for name, ms in whole.items():
        print(f"| {name} | {ms:.1f} | {ms / base:.2f} | {ms / turbo:.2f} | {ms / own:.2f} |")
    print(f"\nidle-daemon latency of one file, `render()`: 1 thread {ours:.1f} ms, "
          f"{args.threads} threads {threaded:.1f} ms ({ours / threaded:.2f}× faster)\n")
    resample.use_threads(1)
    print("| stage | Pillow | libvips, 1 thread | engine |\n|---|---|---|---|")
    fmt = lambda ms: "" if ms != ms else f"{ms:.1f} ms"  # noqa: E731 - NaN: not applicable
    for name, pil_ms, vips_ms, choice in stage_rows(src, args.repeat) + feature_stage_rows(src, args.repeat):
        print(f"| {name} | {fmt(pil_ms)} | {fmt(vips_ms)} | {choice} |")


if __name__ == "__main__":
    main()
