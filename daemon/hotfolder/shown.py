"""Text as people and files can take it (a leaf, stdlib only: every room writes names): a
name's bytes that are not UTF-8 as `\\xNN` (`display`), and what a terminal would act on or
hide escaped (`printable`, and in JSON `json_text`); `UNSHOWN` the characters it escapes, as a
pattern.
"""
from __future__ import annotations

import json
import os
import re

_SURROGATES = re.compile("[\ud800-\udfff]")  # os.fsdecode's escapes of bytes that are not UTF-8, or strays
# Whether display(name) would change `name` (a match), without building anything
escaped_by_display = _SURROGATES.search


def display(name: str) -> str:
    """A name as text that can always be written (JSON, logs, XMP): bytes that are not UTF-8
    (Linux allows any) are shown as \\xNN instead of making the write fail (a surrogate that
    stands for no byte, as \\udNNN)."""
    if not _SURROGATES.search(name):
        return name
    try:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


# What a terminal would act on or hide rather than show: C0 controls (ESC moves the cursor,
# retitles the window; a newline forges a line of our own), DEL, C1 controls, and the marks
# that reorder or hide text (bidi overrides and isolates, zero-width characters); and the
# Unicode line and paragraph separators, which break a line as a newline does. Also the
# Arabic letter mark (a bidi mark), the soft hyphen, the invisible operators and the
# deprecated format controls (U+2061-2064, 206A-206F), and the tag characters
# (U+E0000-E007F: invisible, they spell hidden text): an attack round found them kept.
_UNSHOWN = [*range(0x20), 0x7F, *range(0x80, 0xA0), 0xAD, 0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E,
            0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2060, 0x2065), *range(0x2066, 0x2070),
            0xFEFF, *range(0xE0000, 0xE0080)]
_ESCAPED = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSHOWN}
UNSHOWN = re.compile("[" + "".join(re.escape(chr(c)) for c in _UNSHOWN) + "]")  # the same, as a pattern
_ESCAPED_KEEP_NEWLINES = {c: e for c, e in _ESCAPED.items() if c != 0x0A}


def printable(text: str, newlines: bool = False) -> str:
    """`text` as a terminal shows it, for people: what it would act on or hide (see
    _UNSHOWN) as an escape (`\\x1b`, `\\u202e`), so a file's name or a photo's field can
    neither forge a line nor move the cursor; a name's bytes that are not UTF-8 as `display`
    shows them. `newlines`: keep those (a traceback)."""
    return display(text).translate(_ESCAPED_KEEP_NEWLINES if newlines else _ESCAPED)


# The same characters as JSON's own escapes (a pair of them past U+FFFF), for JSON a terminal shows;
# not the C0 controls: json.dumps escapes those in a text itself, and its indent's newlines are JSON's
_JSON_ESCAPED = {c: json.dumps(chr(c))[1:-1] for c in _UNSHOWN if c >= 0x7F}


def json_text(value: object, **dumps) -> str:
    """json.dumps(value, ensure_ascii=False, **dumps) with what a terminal would act on or hide
    (see _UNSHOWN) as `\\uNNNN`: the same JSON once parsed, and no name's C1 control (U+009B is
    a CSI) or bidi override reaches a terminal that shows it (`hotfolder duplicates --json`)."""
    return json.dumps(value, ensure_ascii=False, **dumps).translate(_JSON_ESCAPED)
