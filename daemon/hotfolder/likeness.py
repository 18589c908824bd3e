"""When two originals are the same photo: what travels about it and how two looks compare
(standard library only: the supervisor, the CLI and the index import it without loading a
decoder or numpy).

    Look      the picture of an original: a 64-bit perceptual hash of it upright, its
              upright size and its mean colour (engine/fingerprint makes it)
    alike()   two looks are the same photo: the hashes within `bits`, and a second look
              at the shape and the colour
    Match     an earlier original this one repeats (exact: the same bytes) or resembles
    Naming    what a drop under a name already used is (issue 26.2)

Measured on 57 real photos, 1,881 copies of them and 9.9 M pairs of different pictures
(DESIGN.md, "Duplicates"): every resized, recompressed, EXIF-re-oriented or tone-edited
copy is within 4 bits; a second shot reframed by 10 % is 12 bits or more away; the
closest different pictures are 8 bits apart. Every hash has 32 bits set (the median
threshold), so distances are even: 7 is 6.
"""
from __future__ import annotations

import math
import os
import shlex
import time
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from hotfolder.config import locate
from hotfolder.shown import display, printable
from hotfolder.spool.fsnames import relative_name

# The second look at a candidate (measured: it keeps every resize, recompression, turn and
# tone edit, and divides the false matches among different photos by 3-20).
ASPECT = 0.10  # |ln(aspect a / aspect b)|: the upright shapes within ~10 %
CHROMA = 24.0  # levels of mean colour difference allowed, plus CHROMA_SHARE of the larger
CHROMA_SHARE = 0.35  # a ±30 % saturation edit passes; a greyscale copy of a colourful photo does not


class Kind(StrEnum):
    """What an original was found to be (the metric's `kind`, the notify events)."""

    EXACT = "exact"  # the same bytes as an earlier original
    SIMILAR = "similar"  # a look-alike of an earlier original (pHash within similar_distance)


class Naming(StrEnum):
    """A file dropped under a name whose outputs exist (issue 26.2)."""

    FIRST = ""  # the name was not used (or on_name_clash: replace)
    NEW_VERSION = "new_version"  # it looks like the earlier photo: replaces its outputs
    DIFFERENT = "different_photo"  # another photo: the earlier outputs stay, its own get `~2`


@dataclass(frozen=True)
class Look:
    """The picture of an original, upright: enough to tell whether two are the same photo."""

    phash: int  # 64-bit pHash (unsigned)
    width: int  # the picture's upright size (not the decoded frame's)
    height: int
    chroma: tuple[int, int] = (0, 0)  # mean opponent colour (R-G, B-(R+G)/2) of the 32x32, in levels

    @property
    def packed_chroma(self) -> int:
        """The colour in 16 bits (two signed bytes of 2 levels each), as the index keeps it."""
        a, b = (max(-128, min(127, round(c / 2))) & 0xFF for c in self.chroma)
        return (a << 8) | b

    @staticmethod
    def unpack_chroma(packed: int | None) -> tuple[int, int]:
        if packed is None:
            return (0, 0)
        a, b = (packed >> 8) & 0xFF, packed & 0xFF
        return (2 * (a - 256 if a > 127 else a), 2 * (b - 256 if b > 127 else b))


def distance(a: int, b: int) -> int:
    """Bits in which two perceptual hashes differ."""
    return (a ^ b).bit_count()


def same_shape(a: Look, b: Look) -> bool:
    if min(a.width, a.height, b.width, b.height) <= 0:
        return True  # not known: the hash decides
    return abs(math.log(a.width / a.height) - math.log(b.width / b.height)) <= ASPECT


def same_colour(a: Look, b: Look) -> bool:
    diff = math.dist(a.chroma, b.chroma)
    return diff <= CHROMA + CHROMA_SHARE * max(math.hypot(*a.chroma), math.hypot(*b.chroma))


def alike(a: Look, b: Look, bits: int) -> bool:
    """The same photo: hashes within `bits`, the same shape and about the same colour."""
    return distance(a.phash, b.phash) <= bits and same_shape(a, b) and same_colour(a, b)


@dataclass(frozen=True)
class Match:
    """An earlier original this one repeats or resembles, as its record in the index says."""

    kind: Kind
    folder: str  # the earlier original's folder
    name: str  # its path in the inbox, as it was dropped
    archived: str  # where it lies under archive/ ("" when deleted or not known)
    outputs: tuple[str, ...]  # its outputs, relative to its output folder
    time: float  # when it was rendered
    bits: int = 0  # distance of the pHashes (0 for the same bytes)
    record: int = 0  # its id in the index
    gone: tuple[str, ...] = ()  # of `outputs`, those not in its output folder when this copy was skipped
    # The renditions it made (by name); None: not known (a rebuilt index, a cluster's, an older row)
    renditions: tuple[str, ...] | None = None

    def said(self) -> str:
        """For a reason, a log line, a record: which original, and where it is now."""
        what = "the same bytes as" if self.kind == Kind.EXACT else f"a look-alike ({self.bits} bits) of"
        where = f", archived as {self.archived}" if self.archived else ""
        return f"{what} {self.folder}/{self.name}{where}"

    def gone_said(self, archive: Path | None, copy: Path | None = None, config: Path | None = None) -> str:
        """How to have the outputs that are gone made again ("" when none is): `archive`,
        the folder's archive, where the earlier original lies (None: it was deleted); `copy`:
        where this copy lies now (duplicates/), when known; `config`: the daemon's, which a
        printed command names (config/locate.option)."""
        if not self.gone:
            return ""
        said = (f"{len(self.gone)} of its {len(self.outputs)} outputs {'is' if len(self.gone) == 1 else 'are'} gone "
                "from the output folder; ")
        # what renders each such file whatever the index says: of a look-alike, not on_duplicate
        every = "on_duplicate: process renders every copy" if self.kind == Kind.EXACT else \
            "similar: flag renders every look-alike"
        if archive is None or not self.archived:
            return said + f"its original was not kept (on_success: delete): {every}"
        if not _in_folder(self.archived) or not _in_folder(self.name) or not _shown(copy):
            # a record's names are data (a cluster's are Redis's): a printed command never names a
            # file outside archive/ (`../../home/admin/.profile`), nor one no shell gets back
            return said + f"to have them rendered again, {every}"
        original = archive / self.archived
        if not os.path.lexists(original):
            return said + self._put_back_said(archive, original, copy, config)
        return said + f"`hotfolder rerender{locate.option(config)} {_quoted(original)}` renders them again (or {every})"

    def own_name_said(self, rel: str, copy: Path, folder: str, inbox: Path, archive: Path | None,
                      config: Path | None = None) -> str:
        """How a copy of the same bytes under a name of its own (a shop's one photo for two
        products: `shoe-blue.jpg` = `shoe-red.jpg`), skipped, gets rendered under that name
        too; "" when its name is the earlier original's, case and extension aside (a card
        copied twice: `card2/IMG_0001.JPG`), or it is a look-alike. `rel`: the name it came in
        with, `copy`: where it lies now (duplicates/); `folder`, `inbox`, `archive`: its
        folder's (archive None: on_success: delete). Tried for real: a copy of it in archive/
        under the name it came in with is an archived original of its own, which `rerender`
        renders into its own outputs (its subfolder's, its own names), nothing else changed;
        where that name is taken, or nothing is archived, the folder's `on_duplicate: process`
        renders it dropped again (archived and indexed as any drop, the folder's other copies too
        meanwhile)."""
        if self.kind != Kind.EXACT or _stem(rel) == _stem(self.name):
            return ""
        said = f"its outputs are {display(os.path.basename(self.name))}'s; to have it rendered as " \
               f"{display(os.path.basename(rel))} too: "
        back, target = inbox / rel, archive / rel if archive is not None else None
        shown = all(_shown(p) for p in (copy, back, target))
        where = f" in {_quoted(config)}" if config is not None else ""
        again = f"set on_duplicate: process for folder {display(folder)}{where}, then " + (
            f"`{_mkdir(back)}mv {_quoted(copy)} {_quoted(back)}`" if shown else "move it back to the inbox")
        if target is None or os.path.lexists(target) or not shown:  # never a cp over an archived original
            return said + again + " (and back to skip after: every copy is rendered meanwhile)"
        return said + (f"`{_mkdir(target)}cp {_quoted(copy)} {_quoted(target)} && hotfolder rerender"
                       f"{locate.option(config)} {_quoted(target)}` (or: set on_duplicate: process for folder "
                       f"{display(folder)} and move it back to the inbox)")

    def _put_back_said(self, archive: Path, original: Path, copy: Path | None, config: Path | None) -> str:
        """Its archived original was deleted too, so rerender of it cannot work (a new user was
        told to run it): a copy of its bytes put back under the name it was dropped as is that
        original again, and rerender renders it into its own outputs."""
        gone = f"its original {display(str(original))} is gone too; "
        back = archive / self.name
        if self.kind != Kind.EXACT or os.path.lexists(back):  # not its bytes, or the name is another file's now
            setting = "on_duplicate: process" if self.kind == Kind.EXACT else "similar: flag"
            return gone + f"to have it rendered again, set {setting} for this folder and drop this copy again"
        if copy is None:  # the worker's line: where the ledger moves the copy is not known yet
            put_back = f"copied to {_quoted(back)} (from duplicates/ or failed/) it is back"
        else:
            folder = "" if back.parent.is_dir() else f"mkdir -p {_quoted(back.parent)} && "
            put_back = f"`{folder}cp {_quoted(copy)} {_quoted(back)}` puts it back"
        return gone + (f"this copy has its bytes: {put_back}, then `hotfolder rerender{locate.option(config)} "
                       f"{_quoted(back)}` renders "
                       "them again")

    def as_json(self) -> dict:
        """For a record (NAME.duplicate.json, the status page): names as text, a name's bytes
        that are not UTF-8 as `\\xNN` (raw, they failed the record's write: an attack round)."""
        out = {"kind": str(self.kind), "folder": display(self.folder), "name": display(self.name),
               "archived": display(self.archived), "outputs": [display(o) for o in self.outputs], "bits": self.bits,
               "time": _iso(self.time), "record": self.record}
        if self.gone:
            out["outputs_gone"] = [display(o) for o in self.gone]
        return out


def _stem(name: str) -> str:
    """A name's stem as people see it: case and Unicode normalisation aside (macOS's NFD)."""
    return unicodedata.normalize("NFC", os.path.splitext(os.path.basename(name))[0]).casefold()


def _mkdir(path: Path) -> str:
    """`mkdir -p FOLDER && ` for a command that puts a file at `path`, when its folder is not there."""
    return "" if os.path.isdir(path.parent) else f"mkdir -p {_quoted(path.parent)} && "  # (an OSError: False)


def _shown(path: Path | str | None) -> bool:
    """Whether a printed command may name `path` (None: nothing to name): a name no shell gets
    back from the line (not UTF-8, a control character), or one with the backquote that ends
    the command in it, is said in words instead."""
    return path is None or (printable(str(path)) == str(path) and "`" not in str(path))


def _in_folder(name: str) -> bool:
    """Whether a record's `name` is a path inside its folder (fsnames.relative_name), and one a
    command may name."""
    return relative_name(name) is not None and _shown(name)


def _quoted(path: Path) -> str:
    return shlex.quote(display(str(path)))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""
