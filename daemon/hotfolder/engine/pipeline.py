"""The imaging pipeline: one image file and the renditions asked for in, the encoded
bytes of each out. It knows nothing of processes or folders. `render()` is the one door.

`render()` decodes a file once for all its renditions (a JPEG at the smallest DCT scale
that covers the largest), then runs each rendition through the steps (engine/steps),
largest first, so that each is resampled from the smallest frame already made that
still covers it. The work is shared between two libraries, each where it measured
faster (see DESIGN.md, "The engine"):

  engine/formats    the format table: names, extensions, what each carries, its decoder and encoder
  engine/decode     the decoder a file's format names (engine/decoders: jpeg, pillow,
                    heif, raw), after the safe open (engine/opening: formats, pixel
                    limit, animation, a JPEG's scans; engine/jpegscan)
  engine/metadata   Pillow: EXIF, ICC, XMP, IPTC-IIM read, and what each output keeps
                    (engine/location: what strip-gps removes; engine/iptc: IIM)
  engine/raster     a rendition's pixels, packed until a step needs a Pillow image
  engine/steps      per rendition, in order: resize (engine/resample, engine/smartcrop,
                    engine/orient), colour, pad, flatten (engine/colour), sharpen, watermark,
                    metadata (engine/rights, engine/xmp), encode (engine/encode,
                    engine/encoders)
  engine/geometry   pure: sizes, crops, the stored orientation's frame

Format `same`: JPEG, PNG, WebP and AVIF sources keep their format; HEIC and camera RAW
sources are written as JPEG (photos, and what every viewer shows); any other source
(TIFF, GIF, BMP) is written as PNG, since those are not output formats (engine/formats).

Errors: a file that cannot be read, decoded or encoded raises `InputError`; a watermark
image or colour profile of the recipe that cannot be used raises a `RecipeError` (the
same for every file). Errors that are not about the input (MemoryError, an OSError with
an errno such as ENOENT, EIO or ENOSPC, a bug) propagate unchanged.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pyvips
from PIL import Image

from hotfolder.config.model import Rendition
from hotfolder.engine import colour, fingerprint, formats, memory, resample, source_facts
from hotfolder.engine import placeholder as placeholders
from hotfolder.engine.decode import decode
from hotfolder.engine.decoders import Decoded, hevc
from hotfolder.engine.encoders.pillow import ENCODER_OPTIONS
from hotfolder.engine.errors import InputError, RecipeError, WatermarkError
from hotfolder.engine.geometry import oriented_size, plan, plans_for
from hotfolder.engine.metadata import GPS_IFD_TAG
from hotfolder.engine.opening import configure, draft
from hotfolder.engine.orient import ORIENTATION_TAG, TRANSPOSE_FOR
from hotfolder.engine.placeholder import Placeholder
from hotfolder.engine.raster import Raster
from hotfolder.engine.steps import STEPS
from hotfolder.engine.steps.work import Source, Work
from hotfolder.likeness import Look
from hotfolder.recipes.facts import Described

__all__ = [
    "render", "open_source", "render_opened", "render_with_facts", "Opened", "Output", "Rendered", "InputError",
    "RecipeError", "WatermarkError", "configure", "warm_up",
    # for the tests and bench/stages
    "plan", "ENCODER_OPTIONS", "ORIENTATION_TAG", "GPS_IFD_TAG", "TRANSPOSE_FOR",
]

_draft = draft  # the tests check the DCT scale chosen


@dataclasses.dataclass(frozen=True)
class Output:
    rendition: Rendition
    data: bytes
    ext: str
    width: int
    height: int
    notes: tuple[str, ...] = ()  # what the user should hear of (a source XMP that could not be edited)
    quality: int | None = None  # the quality written (None: the format has none)
    score: float | None = None  # the SSIMULACRA2 estimate with `quality: auto` (engine/autoquality.Found)
    score_measured: bool = False  # measured, else predicted along the encoder's slope (None: neither)
    format: str = ""  # the format written (engine/formats' name)


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A file rendered: its outputs, in the renditions' order, and what a manifest says of
    the original (engine/source_facts) and of how it looks (engine/placeholder, when asked)."""

    outputs: list[Output]
    source: source_facts.SourceFacts
    placeholder: Placeholder | None = None
    placeholder_of: int | None = None  # the output it is of (placeholders.chosen), in `outputs`


def warm_up() -> None:
    """Ready a worker process before its first file: codecs, libvips and (with the extra)
    FFmpeg loaded, freed pixel memory kept for the next file (engine/memory). Not for the
    forkserver."""
    Image.init()
    memory.keep_freed_memory()
    resample.warm_up()
    hevc.warm_up()


class Opened:
    """A source decoded once for all its renditions, and the look of its picture."""

    def __init__(self, source: Source):
        self.source = source

    @functools.cached_property
    def look(self) -> Look:
        """The picture's fingerprint (engine/fingerprint), from the frame decoded anyway:
        an 8-bit source's, or a 16-bit one's first target frame; a packed frame's sampled rows
        only (fingerprint.sampled): 0.9 ms at 2016x1512, 1.6 at 4032x3024 (1.8 and 30 whole)."""
        base = next(iter(self.source.frames.values())).ladder[0]
        packed = base.packed_pixels()
        frame = fingerprint.sampled(base.mode, base.size, packed) if packed is not None else None
        return fingerprint.look_of(frame if frame is not None else base.view(), self.source.meta.orientation,
                                   self.source.size)

    @functools.cached_property
    def facts(self) -> source_facts.SourceFacts:
        """What a manifest says of the original: its size upright, when and with what camera."""
        return source_facts.of(self.source.size, self.source.meta)

    @functools.cached_property
    def manifest_facts(self) -> source_facts.SourceFacts:
        """`facts`, and the captions and credits a manifest gives a CMS (its XMP parsed again:
        ~0.35 ms, so only for a folder that writes manifests)."""
        described = self.source.described
        return source_facts.of(self.source.size, self.source.meta, described.sidecar if described else None,
                               texts=True)


def open_source(
    src: Path,
    renditions: Sequence[Rendition],
    *,
    accepted_formats: Sequence[str],
    max_image_pixels: int,
    animation: str = "first-frame",
    raw: str = "auto",
    threads: int = 1,
    folder: str = "",
    data: bytes | None = None,
    described: Described | None = None,
    name: str | None = None,
) -> Opened:
    """Decode `src` once, as small as every rendition allows (`data`: its bytes, read once
    already by engine/fingerprint; `name`: its name, where `src` is the descriptor it was
    read by, fingerprint.Original.reading). See `render` for the rest."""
    src = Path(src)
    if Image.MAX_IMAGE_PIXELS != max_image_pixels:
        configure(max_image_pixels)
    decoded = decode(src, renditions, accepted_formats=accepted_formats, max_image_pixels=max_image_pixels,
                     animation=animation, raw_mode=raw, threads=threads, data=data, name=name)
    return Opened(dataclasses.replace(_source(decoded, renditions, threads, name or src.name, folder),
                                      described=described))


def render(
    src: Path,
    renditions: Sequence[Rendition],
    *,
    accepted_formats: Sequence[str],
    max_image_pixels: int,
    animation: str = "first-frame",
    raw: str = "auto",
    threads: int = 1,
    folder: str = "",
    described: Described | None = None,
    data: bytes | None = None,
) -> list[Output]:
    """Decode `src` once and return one Output per rendition, in the order given.

    `raw`: the folder's `raw:` mode for camera RAWs (engine/decoders/raw).
    `threads`: libvips (and libheif) threads for this file; 1 when other files are being
    rendered at the same time (one worker per core already uses every core). `folder`:
    the folder's name, for set_metadata's `{folder}`. `described`: what the worker read
    beyond the file's bytes (set_metadata's values, an XMP sidecar's fields)."""
    opened = open_source(src, renditions, accepted_formats=accepted_formats, max_image_pixels=max_image_pixels,
                         animation=animation, raw=raw, threads=threads, folder=folder, data=data,
                         described=described)
    return render_opened(opened, renditions)


def render_opened(opened: Opened, renditions: Sequence[Rendition]) -> list[Output]:
    """One Output per rendition of a source `open_source` decoded, in the order given."""
    return render_with_facts(opened, renditions).outputs


def render_with_facts(opened: Opened, renditions: Sequence[Rendition], *, placeholder: bool = False) -> Rendered:
    """`render_opened`, with what a manifest says of the original; `placeholder` (a manifest
    is written): also its captions and credits, and the ThumbHash and dominant colour of the
    smallest rendition in the photo's own shape (else the smallest: placeholders.chosen)."""
    source = opened.source
    outputs: dict[int, Output] = {}
    photo = oriented_size(source.size, source.meta.orientation)
    # Shape kept? → (pixels, rendition) of the smallest such output so far (the last of a tie):
    # the placeholder's is the smallest in the photo's own shape, else the smallest
    # (placeholders.chosen; only these two frames are held, not every rendition's).
    smallest: dict[bool, tuple[int, Raster, Rendition]] = {}
    plans = sorted(plans_for(renditions, source.size, source.meta.orientation),
                   key=lambda p: p.frame[0] * p.frame[1], reverse=True)
    # A 16-bit source's frames (one per target profile) one after another: each profile's
    # renditions together, largest first, its frame let go after its last (_DeepFrames).
    plans.sort(key=lambda p: list(source.frames).index(source.frames_key(p.rendition)))
    if isinstance(source.frames, _DeepFrames):  # one the look was taken from, of no rendition asked for now
        for key in set(source.frames) - {source.frames_key(p.rendition) for p in plans}:
            source.frames.release(key)
    for i, p in enumerate(plans):
        work = Work(source, p, notes=source.meta.notes)
        for step in STEPS:
            work = step(work)
        outputs[id(p.rendition)] = _output(work)
        if placeholder:
            size = (work.pixels.width, work.pixels.height)
            for kept in {placeholders.keeps_shape(size, photo), False}:
                if kept not in smallest or size[0] * size[1] <= smallest[kept][0]:
                    smallest[kept] = (size[0] * size[1], work.pixels, p.rendition)
        key = source.frames_key(p.rendition)
        if isinstance(source.frames, _DeepFrames) and all(source.frames_key(q.rendition) != key for q in plans[i + 1:]):
            source.frames.release(key)
    best = smallest.get(True) or smallest.get(False)
    shown = placeholders.of(best[1].image()) if best is not None else None
    return Rendered([outputs[id(r)] for r in renditions], opened.manifest_facts if placeholder else opened.facts,
                    shown, next((i for i, r in enumerate(renditions) if best is not None and r is best[2]), None))


def _source(decoded: Decoded, renditions: Sequence[Rendition], threads: int, name: str, folder: str) -> Source:
    """The decoded file and the frames its renditions are resampled from: the decoded
    frame, or for a 16-bit source one frame per target profile, made from its 16 bits."""
    if decoded.deep is None:
        assert decoded.frame is not None  # a decoder gives pixels or a 16-bit pipeline
        return Source(name, decoded.size, decoded.meta, folder, frames={None: resample.Frames(decoded.frame, threads)})
    frames = _DeepFrames(decoded.deep, decoded.meta.icc, [r.color_profile for r in renditions], threads)
    return Source(name, decoded.size, decoded.meta, folder, frames=frames, profiles=frames.profiles)


class _DeepFrames(Mapping[str | None, resample.Frames]):
    """A 16-bit source's 8-bit frame per target profile, each made from the 16 bits when
    first asked for and let go (`release`) after its last rendition: 3 bytes a pixel per
    profile, which a print lab's recipe (kept, a working space, sRGB) held all at once
    (2.1 GiB for a 120 MP TIFF, past the README's 17 bytes a pixel). A frame asked for
    again is made again, the same."""

    def __init__(self, deep: Callable[[], pyvips.Image], icc: bytes | None, targets: Sequence[str],
                 threads: int):
        self._deep, self._icc, self._threads = deep, icc, threads
        self._made: dict[str | None, resample.Frames] = {}
        self._targets: tuple[str | None, ...] = tuple(dict.fromkeys(targets))
        self.profiles: dict[str | None, bytes | None] = {t: None for t in self._targets}

    def __getitem__(self, target: str | None) -> resample.Frames:
        if target not in self._made:
            if target is None or target not in self.profiles:
                raise KeyError(target)
            base, self.profiles[target] = colour.deep_to_target(self._deep, self._icc, target)
            self._made[target] = resample.Frames(base, self._threads)
        return self._made[target]

    def release(self, target: str | None) -> None:
        self._made.pop(target, None)

    def __iter__(self) -> Iterator[str | None]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)


def _output(work: Work) -> Output:
    pixels = work.pixels
    return Output(rendition=work.rendition, data=work.data,
                  ext=formats.output_ext(work.rendition.format, work.source.meta.format, work.source.name),
                  width=pixels.width, height=pixels.height, notes=work.notes, quality=work.quality, score=work.score,
                  score_measured=work.score_measured, format=work.format.name)
