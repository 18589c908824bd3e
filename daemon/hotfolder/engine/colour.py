"""Pixel modes and colour: bring whatever was decoded to L, LA, RGB or RGBA, convert it
to the profile each rendition asks for (`color_profile`), and give each encoder the mode
it needs.

A CMYK image is converted to sRGB through its ICC profile (LittleCMS, as Pillow's
ImageCms), or libvips' CMYK profile when it has none, and then carries the sRGB profile. 16- and 32-bit grey is
scaled to 8 bits, not clipped.

`color_profile` (see `to_target`): `srgb` converts an RGB frame from its embedded
profile (Display P3, Adobe RGB, ProPhoto, a camera's) to sRGB and embeds libvips'
compact sRGB profile (480 bytes); a frame without a profile is taken as sRGB and left
as it is, and one whose profile already is sRGB (it changes no colour) is not
converted. `keep` leaves pixels and profile alone. A path converts to that profile.
The intent is perceptual where both profiles have it, else relative colorimetric with
black point compensation (what Photoshop and Lightroom fall back to). Matrix profiles
(P3, Adobe RGB, ProPhoto) have no perceptual table: LittleCMS renders them colorimetric,
so colours outside sRGB are clipped to its gamut, as in every raw converter's sRGB export.

The conversion runs in libvips (LittleCMS inside, as for Pillow), measured faster than
Pillow's ImageCms (41 vs 66 ms for 2000×1500, one core), and on each rendition's
output after resampling, which is smaller than the decoded frame: a 12 MP HEIC is
decoded whole, its 1600 px rendition has 1/6 of its pixels. A 16-bit frame (PNG, TIFF,
a 10-bit HEIC) is converted once per profile at decode instead, straight from its 16
bits to 8 (`deep_to_target`), so no precision is lost before the conversion.
"""
from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import pyvips
from PIL import Image, ImageCms

from hotfolder.engine import formats, resample
from hotfolder.engine.errors import InputError, ProfileError
from hotfolder.engine.raster import Raster

SRGB, KEEP = "srgb", "keep"
# Probe colours, 8 levels a channel from 0 to 255: a profile that maps every one of them to
# itself in sRGB (within a level) is sRGB, whatever its name (cameras embed HP's 3 KB
# "sRGB IEC61966-2.1"; libvips and browsers their own).
_LEVELS = [round(i * 255 / 7) for i in range(8)]
_PROBE = Image.frombytes("RGB", (8 * 8 * 8, 1), bytes(
    v for r in _LEVELS for g in _LEVELS for b in _LEVELS for v in (r, g, b)))


@functools.lru_cache(maxsize=1)
def srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    """libvips' built-in compact sRGB profile: the same bytes every time (no creation date)."""
    return _builtin_profile("srgb")


@functools.lru_cache(maxsize=1)
def p3_icc() -> bytes:
    """libvips' built-in Display P3 profile (for HEIFs that say P3 by code, not by profile)."""
    return _builtin_profile("p3")


def _builtin_profile(name: str) -> bytes:
    pixel = pyvips.Image.black(1, 1, bands=3).cast("uchar").copy(interpretation="srgb")
    source = "p3" if name == "srgb" else "srgb"
    return pixel.icc_transform(name, input_profile=source).get("icc-profile-data")


def profile_problem(path: Path) -> str | None:
    """Why the ICC profile at `path` cannot be a rendition's target, or None."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return _profile_data_problem(path, data)


def _profile_data_problem(path: Path, data: bytes) -> str | None:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        return f"{path} is not an ICC profile LittleCMS can read ({exc})"
    if profile.profile.xcolor_space.strip() != "RGB":
        return (f"{path} is a {profile.profile.xcolor_space.strip()} profile; JPEG, PNG, WebP and AVIF "
                "outputs need an RGB one")
    if profile.profile.device_class not in DEVICE_CLASSES:
        kind = _CLASS_NAMES.get(profile.profile.device_class, f"a '{profile.profile.device_class}'")
        return (f"{path} is {kind} profile, which describes no device; a rendition's target must be a "
                "display or output profile")
    return None


def target_icc(target: str) -> bytes | None:
    """The profile a rendition's outputs carry: None for keep (the source's own)."""
    if target == KEEP:
        return None
    if target == SRGB:
        return srgb_icc()
    try:
        return _profile_file(target, os.stat(target).st_mtime_ns)  # a replaced file is read again
    except OSError as exc:  # checked at load, gone or unreadable since: the recipe's, not the input's
        raise ProfileError(Path(target), exc.strerror or str(exc)) from None


@functools.lru_cache(maxsize=8)
def _profile_file(path: str, mtime_ns: int) -> bytes:
    data = Path(path).read_bytes()
    problem = _profile_data_problem(Path(path), data)
    if problem:
        raise ProfileError(Path(path), problem)
    return data


# ICC device classes that describe a device's colours, so pixels can be converted from
# (or to) them: input, display, output, colour space. A device link ('link'), an abstract
# ('abst') or a named-colour ('nmcl') profile describes no device: LittleCMS opens one
# and then refuses to build a transform from it to sRGB ("cannot build transform").
DEVICE_CLASSES = {"scnr", "mntr", "prtr", "spac"}
_CLASS_NAMES = {"link": "a device link", "abst": "an abstract", "nmcl": "a named colour"}


T = TypeVar("T")
# A source's profile past this is left out unread (engine/metadata says so): the largest real
# ones (printer LUTs) are ~1-3 MB; an attack round's 100-300 MB ones cost 1-2 GB and 3 s each.
MAX_PROFILE_BYTES = 4 << 20
# The caches below keep a profile up to this: working spaces and cameras' are 0.5-60 KB. A
# larger one is parsed again at each use rather than kept: kept, each was held twice (its
# bytes as the key, LittleCMS's copy), and 32 of them grew a worker by gigabytes (a round).
CACHED_PROFILE_BYTES = 256 << 10


def too_large(icc: bytes) -> bool:
    return len(icc) > MAX_PROFILE_BYTES


def _kept_when_small(read: Callable[[bytes], T]) -> Callable[[bytes], T]:
    """`read`, its answers kept for profiles up to CACHED_PROFILE_BYTES (the 32 latest)."""
    kept = functools.lru_cache(maxsize=32)(read)

    @functools.wraps(read)
    def read_profile(icc: bytes) -> T:
        return kept(icc) if len(icc) <= CACHED_PROFILE_BYTES else read(icc)

    return read_profile


@_kept_when_small
def _read(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    """`icc` as LittleCMS reads it, or None: cut short, garbage, too large."""
    if too_large(icc):
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    """The RGB profile `icc` as LittleCMS reads it, or None: broken, not RGB, or of no
    device (then the frame is taken as sRGB, as without a profile)."""
    profile = _read(icc)
    if profile is None:
        return None
    usable = profile.profile.xcolor_space.strip() == "RGB" and profile.profile.device_class in DEVICE_CLASSES
    return profile if usable else None


def unreadable_profile(icc: bytes) -> bool:
    """Whether LittleCMS cannot read `icc` at all (cut short, garbage): not a profile of
    another colour space, which is read and left alone as such."""
    return _read(icc) is None


def usable_profile(icc: bytes) -> bool:
    """Whether `icc` is an RGB profile of a device that pixels can be converted from."""
    return _profile(icc) is not None


@_kept_when_small
def _is_srgb(icc: bytes) -> bool:
    source = _profile(icc)
    if source is None:
        return False
    probe = ImageCms.profileToProfile(_PROBE, source, srgb(), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    assert probe is not None  # None only when converting in place
    return all(abs(a - b) <= 1 for a, b in zip(probe.tobytes(), _PROBE.tobytes(), strict=True))


def _intent(source: bytes, target: bytes | None) -> tuple[str, bool]:
    """Perceptual where both profiles have it, else relative colorimetric with black point compensation."""
    perceptual = ImageCms.Intent.PERCEPTUAL
    src, dst = _profile(source), (_profile(target) if target is not None else None)
    if (src is not None and dst is not None
            and ImageCms.isIntentSupported(src, perceptual, ImageCms.Direction.INPUT)
            and ImageCms.isIntentSupported(dst, perceptual, ImageCms.Direction.OUTPUT)):
        return "perceptual", False
    return "relative", True


def conversion(icc: bytes | None, target: str) -> tuple[bytes | None, bytes | None]:
    """(the profile to convert from, or None: no conversion; the profile the output carries)."""
    if target == KEEP:
        return None, icc
    out = target_icc(target)
    if icc is not None and _profile(icc) is None:
        icc = None  # broken, or not RGB: not a profile we can convert from
    if icc is None:
        if target == SRGB:
            return None, None  # no profile: taken as sRGB, left as it is
        icc = srgb_icc()
    if icc == out or (target == SRGB and _is_srgb(icc)):
        return None, out
    return icc, out


def to_target(pixels: Raster, icc: bytes | None, target: str) -> tuple[Raster, bytes | None]:
    """An 8-bit rendition in the profile `target` asks for, and the profile it now carries.
    Grey frames keep their own profile (an sRGB output would triple them for no colour).
    Packed pixels go to libvips and come back packed: no Pillow copy either way."""
    if pixels.mode not in ("RGB", "RGBA"):
        return pixels, icc
    source, out = conversion(icc, target)
    if source is None:
        return pixels, out
    packed = pixels.rgb() if pixels.packed else resample.pack(pixels.image())
    vips = pyvips.Image.new_from_memory(packed, pixels.width, pixels.height, len(pixels.mode), "uchar")
    converted = _transform(vips.copy(interpretation="srgb"), source, target, out)
    return Raster(pixels.mode, pixels.size, converted.write_to_memory()), out


def deep_to_target(open_frame: Callable[[], pyvips.Image], icc: bytes | None,
                   target: str) -> tuple[resample.Frame, bytes | None]:
    """A 16-bit RGB(A) frame as 8 bits in `target`'s profile: converted from its 16 bits,
    or scaled (65535 → 255, rounded) when no conversion is due. `open_frame()` gives a new
    libvips pipeline over the 16 bits (decoders.Decoded.deep), run here in strips into the
    8-bit frame, which is all that is kept. A grey frame (1 or 2 bands) is scaled and
    keeps its own profile, as `to_target` keeps an 8-bit grey one's."""
    source, out = conversion(icc, target)
    try:
        frame = open_frame()
        if frame.bands <= 2:
            return resample.Frame.rendered((frame / 257).rint().cast("uchar"), "LA" if frame.bands == 2 else "L"), icc
        mode = "RGBA" if frame.bands == 4 else "RGB"
        if source is None:
            eight = (frame / 257).rint().cast("uchar")
        else:
            eight = _transform(frame.copy(interpretation="rgb16"), source, target, out)
        return resample.Frame.rendered(eight, mode), out
    except pyvips.Error as exc:  # a truncated or corrupt file, read now
        raise InputError("decode", str(exc).strip().splitlines()[0]) from None


def _transform(image: pyvips.Image, source: bytes, target: str, out: bytes | None) -> pyvips.Image:
    """`image` from `source` to 8 bits in `target` (whose profile is `out`)."""
    intent, bpc = _intent(source, out)
    image = image.copy()
    image.set_type(pyvips.GValue.blob_type, "icc-profile-data", source)
    output = "srgb" if target == SRGB else target  # libvips' built-in name, or the file
    return image.icc_transform(output, embedded=True, intent=intent, black_point_compensation=bpc,
                               depth=8).cast("uchar")


def grey_as_rgb(im: Image.Image, icc: bytes | None, target: str,
                notes: list[str] | None = None) -> tuple[Image.Image, bytes | None]:
    """An L or LA picture as RGB(A) in `target`'s profile, for colour drawn beside it (pad's
    bars): its Gray profile (Photoshop's "Dot Gain 20%", "Gray Gamma 2.2") converted through
    LittleCMS, relative colorimetric with black point compensation (a Gray profile has no
    perceptual table), so its greys look as they did; one without is taken as sRGB grey, as
    is one no transform can be built from (a Gray profile without its curve: `notes` says so)."""
    alpha = im.getchannel("A") if im.mode == "LA" else None
    grey = im.convert("L") if alpha is not None else im
    source = _read(icc) if icc is not None else None
    rgb, from_icc = None, None
    if (source is not None and source.profile.xcolor_space.strip() == "GRAY"
            and source.profile.device_class in DEVICE_CLASSES):
        try:
            rgb = ImageCms.profileToProfile(grey, source, srgb(), outputMode="RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
            from_icc = srgb_icc()
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            if notes is not None:
                notes.append(f"the source's colour profile cannot be converted from ({exc}): the picture is taken "
                             "as sRGB grey, and its tones may be off; export it again with another profile")
    if rgb is None:
        rgb = grey.convert("RGB")
    if alpha is not None:
        rgb.putalpha(alpha)
    converted, out = to_target(Raster.of(rgb), from_icc, SRGB if target == KEEP else target)
    return converted.image(), out


def normalise_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Bring any decoded mode to L, LA, RGB or RGBA (what resampling and the encoders handle well).

    Returns the image and the ICC profile that now describes it.
    """
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert(mode + "A"), icc  # tRNS: a colour that means transparent
    if (mode == "1" or mode.startswith("I;16")) and isinstance(im.info.get("transparency"), int):
        return _keyed_grey(im), icc
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im, icc
    if mode in ("P", "PA"):
        return im.convert("RGBA" if im.has_transparency_data else "RGB"), icc
    if mode == "1":
        return im.convert("L"), icc
    if mode.startswith("I") or mode == "F":
        return _to_8bit(im), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    has_alpha = "A" in im.getbands() or "a" in im.getbands()
    return im.convert("RGBA" if has_alpha else "RGB"), None  # other colour spaces: the profile no longer fits


def _keyed_grey(im: Image.Image) -> Image.Image:
    """1-bit or 16-bit grey whose tRNS names the grey value that is transparent, as LA: the
    key is matched on the stored values (Pillow's convert drops it for these modes, and the
    transparency was lost: a fuzz round)."""
    keyed = np.asarray(im) == im.info["transparency"]
    grey = im.convert("L") if im.mode == "1" else _to_8bit(im)
    grey.putalpha(Image.fromarray(np.where(keyed, 0, 255).astype(np.uint8), "L"))
    return grey


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to L, scaled and rounded (a plain convert() clips everything
    above 255 to white)."""
    if im.mode.startswith("I;16") and im.mode != "I;16":
        im = im.convert("I")
    if im.mode == "I;16":
        top: float = 65535
    else:
        high = cast(float, im.getextrema()[1])  # one band: (low, high)
        top = 1.0 if im.mode == "F" and high <= 1.0 else (255 if high <= 255 else 65535 if high <= 65535 else high)
    if top != 255:  # rounded (+0.5: point's result is cut off), as a 16-bit RGB frame is
        im = im.point(lambda v: v * (255 / top) + 0.5)
    return im.convert("L")


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """CMYK through its profile to sRGB; without one (or a broken one), through libvips'
    CMYK profile, a press's, as Photoshop takes untagged CMYK as its working CMYK: the
    plain formula printed 100 % cyan as (0, 255, 255), where a press gives (0, 160, 228).
    Against FOGRA39's 1,617 measured patches, the formula was off by a mean dE76 of 24.0
    (p95 57), this profile by 8.5 (p95 17)."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(im, source, srgb(), outputMode="RGB")
            assert rgb is not None  # None only when converting in place
            return rgb, srgb().tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the default one
    rgb = ImageCms.applyTransform(im, _default_cmyk_transform())
    assert rgb is not None  # None only when converting in place
    return rgb, srgb().tobytes()


@functools.lru_cache(maxsize=1)
def _default_cmyk_transform() -> ImageCms.ImageCmsTransform:
    """From libvips' built-in CMYK profile (the one it takes untagged CMYK as) to sRGB,
    built once a worker (40 ms, from its 1 MB of tables; then 6 ms for a 600×400 picture)."""
    pixel = pyvips.Image.black(1, 1, bands=3).cast("uchar").copy(interpretation="srgb")
    cmyk = ImageCms.ImageCmsProfile(io.BytesIO(pixel.icc_transform("cmyk", input_profile="srgb")
                                               .get("icc-profile-data")))
    return ImageCms.buildTransform(cmyk, srgb(), "CMYK", "RGB")


def converts_for(mode: str, fmt: formats.Format) -> bool:
    """Whether pixels of `mode` need `convert_for` before the encoder of `fmt`."""
    return (not fmt.alpha and mode in ("LA", "RGBA")) or (not fmt.grey and mode in ("L", "LA"))


def convert_for(im: Image.Image, fmt: formats.Format, background: tuple[int, int, int]) -> Image.Image:
    """The mode the encoder of `fmt` needs: alpha flattened onto `background` where the
    format keeps none (JPEG), grey as RGB where it has no grey (WebP, AVIF)."""
    if not fmt.alpha and im.mode in ("LA", "RGBA"):
        flat = Image.new("RGB", im.size, background)
        flat.paste(im, (0, 0), im)
        return flat
    if not fmt.grey and im.mode in ("L", "LA"):
        return im.convert("RGB" if im.mode == "L" else "RGBA")
    return im
