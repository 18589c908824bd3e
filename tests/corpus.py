"""Hostile and ordinary inputs, made byte by byte, and the checks of the invariant
"every file reaches exactly one end: outputs + archive, or failed/ with a sidecar".

Everything is generated with Pillow, struct and zlib: no network, no fixtures on disk.
"""
from __future__ import annotations

import io
import json
import os
import random
import struct
import threading
import time
import zlib
from pathlib import Path

from PIL import Image

from hotfolder.shown import UNSHOWN
from tests.harness.folders import SIDECAR, TEMP_MARK, archived, failed_originals, files_under
from tests.harness.procs import descendants
from tests.harness.waiting import wait_for

# --------------------------------------------------------------------- good images

def gradient(size=(400, 300), color=(200, 60, 40)) -> Image.Image:
    """RGB with real structure (so encoders have work), `color` dominating the green channel."""
    w, h = size
    return Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                               Image.new("L", size, color[1]),
                               Image.linear_gradient("L").rotate(90).resize(size)])


def jpeg_bytes(size=(400, 300), color=(200, 60, 40), quality=90) -> bytes:
    buf = io.BytesIO()
    gradient(size, color).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def solid_jpeg_bytes(size=(200, 150), color=(220, 20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def save(im: Image.Image, path: Path, fmt: str, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt, **options)
    return path


def cmyk_jpeg(path: Path) -> Path:
    return save(gradient().convert("CMYK"), path, "JPEG", quality=90)


def png16(path: Path) -> Path:
    """16-bit grey PNG (mode I;16) using the whole range."""
    im = Image.linear_gradient("L").resize((300, 200)).convert("I").point(lambda v: v * 257)
    im = im.convert("I;16")
    save(im, path, "PNG")
    with Image.open(path) as check:
        assert check.mode == "I;16", check.mode
    return path


def palette_png_transparent(path: Path) -> Path:
    im = gradient((300, 200)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return save(im, path, "PNG", transparency=0)


ANIM_COLORS = [(230, 20, 20), (20, 230, 20), (20, 20, 230)]  # the first frame is red


def _frames(size=(160, 120)) -> list[Image.Image]:
    return [Image.new("RGB", size, c) for c in ANIM_COLORS]


def animated_gif(path: Path) -> Path:
    frames = _frames()
    return save(frames[0], path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_webp(path: Path) -> Path:
    frames = _frames()
    save(frames[0], path, "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0,
         lossless=True)
    with Image.open(path) as check:
        assert getattr(check, "is_animated", False), "this Pillow wrote a still WebP"
    return path


def one_pixel(path: Path) -> Path:
    return save(Image.new("RGB", (1, 1), (10, 200, 10)), path, "PNG")


# --------------------------------------------------------------------- bad images

def truncated_jpeg(path: Path) -> Path:
    data = jpeg_bytes((800, 600))
    return write(path, data[: len(data) // 2])


def random_bytes(path: Path, n: int = 20_000, seed: int = 7) -> Path:
    return write(path, random.Random(seed).randbytes(n))


def _scan_start(data: bytes) -> int:
    """Offset of the first entropy-coded byte (just after the SOS segment)."""
    sos = data.index(b"\xff\xda")
    (length,) = struct.unpack(">H", data[sos + 2: sos + 4])
    return sos + 2 + length


def bit_flipped_jpeg(path: Path, flips: int = 40, seed: int = 3) -> Path:
    data = bytearray(jpeg_bytes((640, 480)))
    start, end = _scan_start(data), len(data) - 2  # keep EOI
    rng = random.Random(seed)
    for _ in range(flips):
        i = rng.randrange(start, end)
        data[i] ^= 1 << rng.randrange(8)
    return write(path, bytes(data))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(path: Path, width: int = 40000, height: int = 40000) -> Path:
    """A 100-byte PNG whose IHDR claims width x height RGB pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A real bomb: the first rows of zeros compress to almost nothing.
    idat = zlib.compress(b"\0" * (1 + 3 * width) * 64, 9)
    return write(path, b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
                 + _png_chunk(b"IEND", b""))


def huge_sof_jpeg(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A small valid JPEG whose SOF0 frame header is patched to claim width x height."""
    data = bytearray(jpeg_bytes((64, 64)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)  # FFC0, length(2), precision(1), H, W
    return write(path, bytes(data))


# --------------------------------------------------------------------- the invariant

def sidecar(failed_dir: Path, rel: str) -> dict:
    return json.loads((failed_dir / (rel + SIDECAR)).read_text(encoding="utf-8"))


def temp_outputs(d) -> list[str]:
    return [p for p in files_under(d.output) if Path(p).name.startswith(TEMP_MARK)]


def outputs_of(d, rel: str) -> list[str]:
    """The outputs of inbox-relative `rel` under the default renditions (web.jpg, thumb.webp)."""
    stem = rel.rsplit(".", 1)[0]
    return [o for o in (f"{stem}_web.jpg", f"{stem}_thumb.webp") if (d.output / o).exists()]


def assert_succeeded(d, rel: str, renditions=("web.jpg", "thumb.webp")) -> None:
    folder, _, name = rel.rpartition("/")
    # outputs are named by the stem without its control characters (`new\nline.jpg`: new_line_web.jpg)
    stem = (f"{folder}/" if folder else "") + UNSHOWN.sub("_", name.rsplit(".", 1)[0])
    arch = archived(d)
    assert arch.count(rel) == 1, f"{rel!r} archived {arch.count(rel)} times: {arch}"
    assert rel not in failed_originals(d), f"{rel!r} both archived and failed"
    for r in renditions:
        out = d.output / f"{stem}_{r}"
        assert out.is_file(), f"{rel!r}: missing output {out.name!r}; outputs: {files_under(d.output)}"
        with Image.open(out) as im:
            im.load()  # complete, decodable


def assert_failed(d, rel: str, *words: str) -> dict:
    fails = failed_originals(d)
    assert fails.count(rel) == 1, f"{rel!r} in failed/ {fails.count(rel)} times: {fails}"
    assert rel not in archived(d), f"{rel!r} both failed and archived"
    stem = rel.rsplit(".", 1)[0]
    leftovers = [o for o in files_under(d.output) if o.startswith(stem + "_")]
    assert not leftovers, f"{rel!r} failed but left outputs {leftovers}"
    record = sidecar(d.failed, rel)
    assert record.get("error") and record.get("step") and record.get("time"), record
    text = record["error"].lower()
    if words:
        assert any(w.lower() in text for w in words), f"{rel!r}: reason {record['error']!r} names none of {words}"
    return record


def assert_nothing_left(d) -> None:
    assert files_under(d.processing) == [], files_under(d.processing)
    assert temp_outputs(d) == [], temp_outputs(d)


def done_counts(d) -> dict[str, int]:
    """file_done lines per file, once there is one for each archived original: the daemon
    writes the line just after the move, so a test that saw the file archived can be a
    moment ahead of it."""
    wait_for(lambda: len(d.events("file_done")) >= len(archived(d)), 10,
             what="a file_done line for each archived original")
    counts: dict[str, int] = {}
    for e in d.events("file_done"):
        counts[e["file"]] = counts.get(e["file"], 0) + 1
    return counts


# --------------------------------------------------------------------- memory

def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in {pid} | descendants(pid):
        try:
            with open(f"/proc/{p}/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total / 1024


class RssSampler:
    """Samples the RSS of a process tree every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def set_old_atime(path: Path, days: float = 3) -> float:
    """Give `path` an atime older than its mtime and a day: any read updates it under relatime."""
    st = os.stat(path)
    old = time.time() - days * 86400
    os.utime(path, (old, st.st_mtime))
    return os.stat(path).st_atime


def atime_tracked(path: Path) -> bool:
    """False on noatime mounts (where a read leaves no trace)."""
    best, opts = "", ""
    real = os.path.realpath(path)
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1].replace("\\040", " ")
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, opts = mnt, parts[3]
    return "noatime" not in opts.split(",")
