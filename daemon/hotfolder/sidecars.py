"""XMP sidecars (Lightroom's `IMG_0001.xmp`, darktable's and Capture One's
`IMG_0001.CR3.xmp`): which file is one, and which image in its folder it belongs to.
Names only, standard library only: arrival pairs by these rules, the claim moves the
two together, recovery and failed/ tell them apart by them, `explain` finds one.

    NAME.EXT.xmp  belongs to NAME.EXT exactly
    STEM.xmp      belongs to the file of that stem: its camera RAW when there is one
                  (Lightroom writes sidecars for RAWs; a RAW+JPEG pair's JPEG carries its
                  own XMP), else another image, else a clip before its companions (a
                  thumbnail, proxy or log: `C0001.MP4` before `C0001.LRV`), first by name
                  within each

The `.xmp` suffix in any case. (Not the failure records, `NAME.error.json`: spool/records.py.)
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from hotfolder import nameparts
from hotfolder.engine import formats

SUFFIX = ".xmp"
SIDECAR_LIMIT = 4 << 20  # bytes: Lightroom's sidecars are 10-200 KB; a larger "sidecar" is not read whole


def is_sidecar(name: str) -> bool:
    return len(name) > len(SUFFIX) and name.lower().endswith(SUFFIX)


def image_of(sidecar: str, names: Iterable[str]) -> str | None:
    """The image among `names` (a folder's entries) that `sidecar` belongs to, if any."""
    base = sidecar[: -len(SUFFIX)]
    names = [n for n in names if n != sidecar and not is_sidecar(n)]
    if base in names:  # NAME.EXT.xmp
        return base
    same_stem = [n for n in names if PurePosixPath(n).suffix and PurePosixPath(n).stem == base]
    return min(same_stem, key=lambda n: (_rank(n), n)) if same_stem else None


# What a camera, phone or drone writes beside a clip (config/model.py DEFAULT_PASS_THROUGH's):
# never what Lightroom or Bridge wrote a `STEM.xmp` for while the clip is there.
COMPANIONS = frozenset({".thm", ".lrv", ".lrf", ".srt", ".aae"})


def _rank(name: str) -> int:
    """A RAW, an image, a clip, a clip's companion. By name alone, `DSC_1.MOV` sorted before
    `DSC_1.PNG` and took the photo's keywords; `C0001.LRV` before `C0001.MP4`, and the note
    of the video's sidecar named the proxy (a new user's week)."""
    if formats.opened_by_own_decoder(name) is not None:
        return 0
    suffix = nameparts.suffix(name).lower()
    if suffix.lstrip(".") in formats.BY_EXTENSION:
        return 1
    return 3 if suffix in COMPANIONS else 2


def sidecar_of(image: str, names: Iterable[str]) -> str | None:
    """The sidecar among `names` that belongs to `image`, if any (NAME.EXT.xmp first)."""
    names = list(names)
    exact = [n for n in names if is_sidecar(n) and n[: -len(SUFFIX)] == image]
    if exact:
        return sorted(exact)[0]
    stem = PurePosixPath(image).stem
    for name in sorted(n for n in names if is_sidecar(n) and n[: -len(SUFFIX)] == stem):
        if image_of(name, names) == image:
            return name
    return None


def candidates(image: str) -> list[str]:
    """The names a sidecar of `image` may have (its suffix as the usual tools write it)."""
    stem = nameparts.stem(image)
    bases = [image] + ([stem] if stem != image else [])
    return [base + suffix for base in bases for suffix in (".xmp", ".XMP")]


def find_sidecar(directory: Path, image: str) -> str | None:
    """The sidecar of `image` in `directory` (a regular file), if any: a few lstat calls
    for an image without one; the folder is listed only when a `STEM.xmp` is there (to
    tell whose it is)."""
    present = [n for n in candidates(image) if _is_file(f"{directory}/{n}")]  # no Path built for each
    if not present:
        return None
    if any(n[: -len(SUFFIX)] == image for n in present):
        return sidecar_of(image, present)
    return sidecar_of(image, [*present, *_names(directory, PurePosixPath(image).stem)])


def find_image(directory: Path, sidecar: str) -> str | None:
    """The image `sidecar` belongs to in `directory`, if it is there."""
    base = sidecar[: -len(SUFFIX)]
    if _is_file(directory / base):
        return base
    return image_of(sidecar, [n for n in _names(directory, base) if _is_file(directory / n)])


def _names(directory: Path, stem: str) -> list[str]:
    """The entries of `directory` whose name starts with `stem` (one listing)."""
    try:
        with os.scandir(directory) as entries:
            return [e.name for e in entries if e.name.startswith(stem)]
    except OSError:
        return []


def _is_file(path: Path | str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def beside(sidecar: str, image: str, image_now: str) -> str:
    """The sidecar's name next to its image renamed from `image` to `image_now` (a clash in
    archive/ or failed/ gave `IMG_0001_1.CR3`): `IMG_0001_1.xmp`, `IMG_0001_1.CR3.xmp`,
    so tools pair them again."""
    if image_now == image:
        return sidecar
    suffix = sidecar[len(sidecar) - len(SUFFIX):]
    if sidecar[: -len(SUFFIX)] == image:
        return image_now + suffix
    return PurePosixPath(image_now).stem + suffix
