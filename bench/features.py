"""What each optional rendition key costs: the example recipe on one 12 MP file with one
key added at a time, against the recipe without it, in the same process and run.

    python -m bench.features [--repeat 11] [--dir DIR] [--json]

Recipe (as bench/stages.py): fit 1600 px JPEG q85 with the text watermark + fill 400 px
WebP q80, `pipeline.render()` at one libvips thread (a busy worker), the process
prepared as a worker is (`pipeline.warm_up()`). Each row is the median of --repeat
renders; the ratio is against the plain recipe's median in the same run. `python -m
bench` runs this in a child process (its section `features`): libvips threads must not
start in the process that forks its Pool contenders.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

from PIL import Image

from bench import corpus
from bench.stages import FILL, FIT
from bench.timing import median_ms
from hotfolder.config.model import SHARPEN_PRESETS, SetMetadata
from hotfolder.engine import encode, facts, pipeline
from hotfolder.recipes.facts import Need

SIGNED = SetMetadata(artist="Example Studio", copyright="© {year} Example Studio", credit="Example Studio",
                     usage_terms="Web use only")


def render(src: Path, fit, fill) -> list:
    return pipeline.render(src, (fit, fill), accepted_formats=("jpeg",), max_image_pixels=10**8, threads=1)


def encodes_of(src: Path, fit, fill) -> int:
    """How many encodes one render makes (both renditions)."""
    count = 0
    real = encode._save

    def counted(*args):
        nonlocal count
        count += 1
        return real(*args)

    encode._save = counted
    try:
        render(src, fit, fill)
    finally:
        encode._save = real
    return count


def variants(src: Path) -> dict[str, tuple]:
    """Name → (fit, fill): the recipe with one key changed."""
    r = dataclasses.replace
    fit_bytes = len(render(src, FIT, FILL)[0].data)
    return {
        "plain recipe": (FIT, FILL),
        "sharpen: standard, both renditions": (r(FIT, sharpen=SHARPEN_PRESETS["standard"]),
                                              r(FILL, sharpen=SHARPEN_PRESETS["standard"])),
        "crop: attention (the fill)": (FIT, r(FILL, crop="attention")),
        "crop: entropy (the fill)": (FIT, r(FILL, crop="entropy")),
        "max_bytes that q85 meets (the fit: 1 encode, as without it)": (r(FIT, max_bytes=10 * fit_bytes), FILL),
        f"max_bytes {fit_bytes * 6 // 10 // 1000} KB: 60 % of the q85 size (the fit: a search)":
            (r(FIT, max_bytes=fit_bytes * 6 // 10), FILL),
        "progressive: true (the fit)": (r(FIT, progressive=True), FILL),
        "set_metadata: 4 fields, both renditions": (r(FIT, set_metadata=SIGNED), r(FILL, set_metadata=SIGNED)),
    }


def measure(src: Path, repeat: int) -> list[dict]:
    pipeline.warm_up()
    found = []
    for name, (fit, fill) in variants(src).items():
        ms = median_ms(lambda fit=fit, fill=fill: render(src, fit, fill), repeat)
        found.append({"variant": name, "ms": ms, "encodes": encodes_of(src, fit, fill),
                      "fit_bytes": len(render(src, fit, fill)[0].data)})
    base = found[0]["ms"]
    for row in found:
        row["ratio"] = row["ms"] / base
    return found + [fields_row(src, repeat)]


# The README's studio recipe (its "Recipes" section): what its conditions and templates read.
STUDIO_NEED = Need(header=True, exif=True, xmp=True, mtime=True)


def camera_copy(src: Path) -> Path:
    """The bench photo as a camera and Lightroom leave one: EXIF with a 32 KB maker note,
    lens and date; an XMP packet of Lightroom's size (~10 KB: rating, keywords and its
    develop settings). The pixels are re-encoded once (q92), so its render is measured too."""
    out = src.with_name(src.stem + "-camera.jpg")
    if out.exists():
        return out
    with Image.open(src) as im:
        exif = im.getexif()
        exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R5"
        sub = exif.get_ifd(0x8769)
        sub[0x9003], sub[0x9011], sub[0xA434], sub[0x8827] = "2024:05:01 14:03:22", "+02:00", "RF50mm F1.2", 400
        sub[0x927C] = bytes(range(256)) * 128  # MakerNote
        settings = "".join(f' crs:Setting{i}="{i * 0.01:+.2f}"' for i in range(300))
        xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
               f'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
               f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"'
               f' xmp:Rating="4"{settings}><dc:subject><rdf:Bag><rdf:li>portfolio</rdf:li><rdf:li>wedding</rdf:li>'
               f'</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')
        im.save(out, "JPEG", quality=92, exif=exif, xmp=xmp.encode())
    return out


def fields_row(src: Path, repeat: int) -> dict:
    """What reading the studio recipe's fields (engine/facts.py) costs against the plain
    recipe's render of the same camera-like 12 MP JPEG; issue 22 allows 2 %."""
    camera = camera_copy(src)
    plain = median_ms(lambda: render(camera, FIT, FILL), repeat)
    read = median_ms(lambda: facts.read(camera, STUDIO_NEED, accepted_formats=("jpeg",), max_image_pixels=10**8),
                     max(repeat, 51))
    return {"variant": "reading the fields of the README's studio recipe (header, EXIF, XMP/IPTC; engine/facts.py)",
            "ms": read, "encodes": 0, "fit_bytes": 0, "ratio": read / plain, "base_ms": plain}


def table(found: list[dict]) -> str:
    lines = ["| recipe + key | ms per file | × plain | encodes | fit output |", "|---|---|---|---|---|"]
    lines += [f"| {r['variant']} | {r['ms']:.2f} | {r['ratio']:.3f} | {r['encodes']} | {r['fit_bytes'] / 1000:.0f} KB |"
              for r in found]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.features", description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=11)
    p.add_argument("--json", action="store_true", help="print the figures as JSON (for python -m bench)")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    args = p.parse_args(argv)
    src = corpus.generate(args.dir / "corpus" / "big12", "big12", 1)[0]  # orientation 1
    found = measure(src, args.repeat)
    if args.json:
        print(json.dumps(found))
    else:
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        print(f"source: {src.name}; median of {args.repeat}; load {load} at start\n")
        print(table(found))


if __name__ == "__main__":
    main()
