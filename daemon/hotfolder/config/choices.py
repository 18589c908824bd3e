"""The choices a config key may take: `StrEnum`s (a member is equal to its text,
`Operation.FIT == "fit"`, so code written against the strings keeps working), and the
tuples of names the checks list. The formats come from the engine's table (engine/formats).
"""
from __future__ import annotations

from enum import StrEnum

from hotfolder.engine import formats


class Operation(StrEnum):
    FIT = "fit"  # within the box, the aspect kept
    FILL = "fill"  # cover the box, cropped to exactly its size
    SCALE = "scale"  # by a factor
    NONE = "none"
    PAD = "pad"  # within the box, then centred on `background` to exactly its size


FORMATS = (*formats.OUTPUTS, formats.SAME)  # engine/formats: the table of formats
# What the output formats can do, from their entries (the encode step's checks read these).
QUALITY_FORMATS = tuple(f.name for f in formats.TABLE if f.encoder is not None and f.quality)
PROGRESSIVE_FORMATS = tuple(f.name for f in formats.TABLE if f.encoder is not None and f.progressive)
PROFILE_FORMATS = tuple(f.name for f in formats.TABLE if f.encoder is not None and f.icc)  # carry an ICC profile
# Formats with a `compression:` (TIFF), and every compression one of them offers (each format's first is its default).
COMPRESSION_FORMATS = tuple(f.name for f in formats.TABLE if f.encoder is not None and f.compressions)
COMPRESSIONS = tuple(dict.fromkeys(c for f in formats.TABLE if f.encoder is not None for c in f.compressions))


INPUT_FORMATS = formats.INPUTS


DEFAULT_FORMATS = formats.DEFAULT_INPUTS


class RawMode(StrEnum):
    """A camera RAW: its embedded JPEG preview, demosaiced, or the preview when it is large enough."""

    AUTO = "auto"
    PREVIEW = "preview"
    DEVELOP = "develop"


COLOR_PROFILES = ("srgb", "keep")  # or the path of an ICC profile


class Position(StrEnum):
    TOP_LEFT = "top-left"
    TOP = "top"
    TOP_RIGHT = "top-right"
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM = "bottom"
    BOTTOM_RIGHT = "bottom-right"


class Metadata(StrEnum):
    KEEP = "keep"
    STRIP_GPS = "strip-gps"
    STRIP_ALL = "strip-all"
    COPYRIGHT_ONLY = "copyright-only"


class Crop(StrEnum):
    CENTER = "center"
    ATTENTION = "attention"  # libvips' smartcrop: the most salient region
    ENTROPY = "entropy"  # libvips' smartcrop: the most detailed region


class SizeOf(StrEnum):
    """The side of the image a watermark's `size` is a fraction of."""

    SHORTER = "shorter"
    WIDTH = "width"
    HEIGHT = "height"
    LONGER = "longer"


class WatchMode(StrEnum):
    AUTO = "auto"
    INOTIFY = "inotify"
    POLL = "poll"


class OnSuccess(StrEnum):
    ARCHIVE = "archive"
    DELETE = "delete"


class Animation(StrEnum):
    FIRST_FRAME = "first-frame"
    FAIL = "fail"


class NameClash(StrEnum):
    SUFFIX = "suffix"
    REPLACE = "replace"
    FAIL = "fail"


class OnNoRendition(StrEnum):
    """A file none of whose renditions' `when:` holds."""

    ARCHIVE = "archive"  # archived (or deleted, on_success: delete) with a log line and a count
    FAIL = "fail"  # to failed/, saying which entry excluded each rendition
class OnDuplicate(StrEnum):
    """An original whose bytes equal an earlier original's."""

    SKIP = "skip"  # not rendered: to the duplicates folder with NAME.duplicate.json
    PROCESS = "process"  # rendered again (and recorded as a duplicate)
    FAIL = "fail"  # to failed/, naming the earlier original


class DuplicateScope(StrEnum):
    AUTO = "auto"  # `subfolder` for a file in a subfolder a rendition's `subfolder:` names, else `folder`
    SUBFOLDER = "subfolder"  # earlier originals of the same subfolder of the folder
    FOLDER = "folder"  # earlier originals of the same folder
    ALL = "all"  # of every folder


class Similar(StrEnum):
    """An original that looks like an earlier one (a resized, recompressed, turned copy)."""

    OFF = "off"
    FLAG = "flag"  # rendered, and recorded with what it resembles
    SKIP = "skip"  # treated as a duplicate


class NotifyEvent(StrEnum):
    DONE = "done"  # a file's outputs are written (with its manifest, when the folder writes one)
    FAILED = "failed"
    PAUSED = "paused"
    RELOAD_REFUSED = "reload_refused"
    WORKER_LOST = "worker_lost"
    RECOVERED = "recovered"
    DUPLICATE = "duplicate"
    SIMILAR = "similar"


# The choices as tuples of their texts, as the rest of the code has known them.
OPERATIONS = tuple(Operation)
RAW_MODES = tuple(RawMode)
POSITIONS = tuple(Position)
METADATA = tuple(Metadata)
CROPS = tuple(Crop)
WATERMARK_SIZE_OF = tuple(SizeOf)
WATCH_MODES = tuple(WatchMode)
ON_SUCCESS = tuple(OnSuccess)
ANIMATION = tuple(Animation)
NAME_CLASH = tuple(NameClash)
ON_NO_RENDITION = tuple(OnNoRendition)
NOTIFY_EVENTS = tuple(NotifyEvent)
