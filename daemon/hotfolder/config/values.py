"""The kinds of values a key may hold, each read from YAML with the message that says
what to write instead: numbers in a range, choices (with "did you mean"), paths,
sizes, colours, byte sizes, file modes, lists of choices, nested mappings (templates:
template_values.py).

A kind reads the value of `name` from the reader (absent: `default`) and returns what
the model holds; a problem goes through `r.fail`, which records it and raises.
"""
from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hotfolder.config import problems
from hotfolder.config.model import BYTE_UNITS, MIN_MAX_BYTES
from hotfolder.config.reader import Reader, kind
from hotfolder.shown import printable


def show(default: Any) -> str:
    """A default as the README writes it: numbers bare, words in backticks."""
    if default is None:
        return "—"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, str):  # a StrEnum too
        return f"`{default}`"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, int):
        return str(default)
    if isinstance(default, tuple):  # a control character as its escape (macOS's `Icon\r`)
        return "`[" + ", ".join(printable(str(v)) for v in default) + "]`"
    return f"`{default}`"


class Kind:
    """The defaults of a kind: shown as `show` writes it."""

    def shown(self, default: Any) -> str:
        return show(default)


_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class Bool(Kind):
    def read(self, r: Reader, name: str, default: Any) -> bool:
        value = r.raw(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() in _BOOLS:  # `"yes"`, `"TRUE"` quoted
            return _BOOLS[value.strip().lower()]
        if not isinstance(value, bool):
            r.fail(name, f"must be true or false, not {kind(value)}")
        return value


def check_range(r: Reader, name: str, value: float, lo: float | None, hi: float | None) -> None:
    if not math.isfinite(value):  # YAML's `.nan` passed both comparisons: `file_timeout: .nan` killed no worker
        r.fail(name, f"must be a finite number, not {kind(value)}")
    if lo is not None and value < lo:
        r.fail(name, f"must be at least {lo}, not {value}")
    if hi is not None and value > hi:
        r.fail(name, f"must be at most {hi}, not {value}")


def number_in(value: object) -> object:
    """A number written as text the way people write it, as that number: `"85"` (quoted),
    `"120,000,000"` (thousands' commas), `1e3` (YAML 1.1 reads it as text); a whole float
    (`85.0`) as an int. Anything else as it is."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if not isinstance(value, str) or len(value) > 40:
        return value
    said = value.strip()
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+|[+-]?\d+", said):
        return int(said.replace(",", ""))
    if re.fullmatch(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?", said):
        return number_in(float(said))
    return value


# A length of time as people write it: `2s`, `2 sec`, `500ms`, `1.5 min`, `2h`, `30 days`, `1h30m`.
_TIME_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
               "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
               "d": 86400, "day": 86400, "days": 86400, "w": 7 * 86400, "wk": 7 * 86400, "week": 7 * 86400,
               "weeks": 7 * 86400}
_TIME_PART = re.compile(r"\s*(\d{1,9}(?:\.\d{1,9})?)\s*([a-z]+)")


def seconds_in(text: str) -> float | None:
    """The seconds `text` says (`2s`, `500 ms`, `1h30m`, `30 days`); None when it says no time."""
    said, at, total = text.strip().lower(), 0, 0.0
    if not said or len(said) > 100:
        return None
    while at < len(said):
        m = _TIME_PART.match(said, at)
        if m is None or m[2] not in _TIME_UNITS:
            return None
        total, at = total + float(m[1]) * _TIME_UNITS[m[2]], m.end()
    return total


def time_meant(value: object, unit: str) -> str:
    """What to write for a time in a unit not taken (`1y`, `3 months`)."""
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{1,4})\s*(y|yr|yrs|years?|months?|mo)\s*", value.lower())):
        days = int(m[1]) * (365 if m[2].startswith("y") else 30)
        return f" (a {'year' if m[2].startswith('y') else 'month'} is not one length: write days, e.g. {days}d)"
    return ""


@dataclass(frozen=True)
class Int(Kind):
    lo: int | None = None
    hi: int | None = None
    units: Mapping[str, int] = field(default_factory=dict)  # a number with a unit taken: {"mp": 10**6} for `120MP`

    def read(self, r: Reader, name: str, default: Any) -> int | None:
        value = number_in(r.raw(name))
        if value is None:
            return default
        if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{1,9}(?:\.\d{1,6})?)\s*([A-Za-z]+)\s*", value)) \
                and m[2].lower() in self.units:
            value = round(float(m[1]) * self.units[m[2].lower()])
        if isinstance(value, bool) or not isinstance(value, int):
            r.fail(name, f"must be a whole number, not {kind(value)}{_number_meant(value)}")
        check_range(r, name, value, self.lo, self.hi)
        return value


def _number_meant(value: object) -> str:
    """` (did you mean 2000?)` of a number written with its unit (`2000px`), which was only
    "not the text '2000px'" (a shop's audit)."""
    if isinstance(value, str) and (found := re.fullmatch(r"\s*(\d{1,3}(?:,\d{3})+|\d+)\s*(?:px)?\s*", value)):
        return f" (did you mean {found[1].replace(',', '')}?)"
    return ""


@dataclass(frozen=True)
class Float(Kind):
    lo: float | None = None
    hi: float | None = None
    seconds: bool = False  # a length of time: `2s`, `500ms`, `1.5 min` are taken (a bare number is seconds)
    fraction: bool = False  # 0–1: `60%` is taken as 0.6
    percent: bool = False  # a score out of 100: `80%` is taken as 80, and 0.8 is asked about

    def read(self, r: Reader, name: str, default: Any) -> float | None:
        raw = r.raw(name)
        value = number_in(raw)
        if value is None:
            return default
        if isinstance(value, str) and self.seconds and (taken := seconds_in(value)) is not None:
            value = taken
        if isinstance(value, str) and self.fraction and (m := re.fullmatch(r"\s*(\d{1,3}(?:\.\d+)?)\s*%\s*", value)):
            value = float(m[1]) / 100
        if isinstance(value, str) and self.percent and (m := re.fullmatch(r"\s*(\d{1,3}(?:\.\d+)?)\s*%\s*", value)):
            value = float(m[1])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            said = " (or a time such as 2s, 500ms, 1.5 min)" if self.seconds else ""
            r.fail(name, f"must be a number{said}, not {kind(value)}{time_meant(value, 's') if self.seconds else ''}")
        if self.fraction and self.hi == 1.0 and 1 < value <= 100:  # `opacity: 60`: 60 % or a typo of 0.6?
            r.fail(name, f"must be at most 1, not {value:g}: a fraction; write {value / 100:g} or \"{value:g}%\" "
                         f"for {value:g} %")
        if self.percent and isinstance(value, float) and 0 < value < 1 and self.lo is not None and value < self.lo:
            r.fail(name, f"must be at least {self.lo:g}, not {value:g} (a score out of 100: did you mean "
                         f"{value * 100:g}?)")
        check_range(r, name, value, self.lo, self.hi)
        return float(value)


def text(r: Reader, name: str, secret: bool = False) -> str | None:
    """A non-empty text, or None when absent. secret: the value is never quoted."""
    value = r.raw(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        r.fail(name, f"must be a non-empty text, not {kind(value, secret)}")
    return value


@dataclass(frozen=True)
class Text(Kind):
    secret: bool = False  # never quoted in a message
    env: bool = False  # `${VAR}` is taken from the environment (Reader.expand)
    strip: bool = False

    def read(self, r: Reader, name: str, default: Any) -> str | None:
        value = text(r, name, self.secret)
        if value is None:
            return default
        value = value.strip() if self.strip else value
        return r.expand(name, value) if self.env else value


def suggestion(value: str, choices: Iterable[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """The choice `value` was probably meant as: an alias people use (jpg → jpeg), the
    same words spaced otherwise (`bottom right` → `bottom-right`), or a close spelling."""
    choices = [str(c) for c in choices]
    said = value.strip().lower()
    if aliases and said in aliases:
        return aliases[said]
    words = re.sub(r"[\s_-]+", "-", said)
    for choice in choices:
        if re.sub(r"[\s_-]+", "-", choice) == words:
            return choice
    close = difflib.get_close_matches(said, choices, n=1)
    return close[0] if close else None


def not_one_of(value: Any, choices: Iterable[str], aliases: Mapping[str, str] | None = None,
               note: str = "") -> str:
    """`'jpeg2000' is not one of: jpeg, png, … (did you mean 'jpeg'?)`; `note` said after the choices."""
    choices = [str(c) for c in choices]
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:60] + f"… ({len(shown)} characters)"  # an alias of 1 MB
    said = f"{shown} is not one of: {', '.join(choices)}{note}"
    meant = suggestion(value, choices, aliases) if isinstance(value, str) else None
    return f"{said} (did you mean {meant!r}?)" if meant and meant != value else said


def _words(text: str) -> str:
    return re.sub(r"[\s_-]+", "-", text.strip().lower())


def chosen(value: str, choices: Iterable[str], taken: Mapping[str, str]) -> str | None:
    """The choice `value` names, written in any case, its words joined by `-`, `_` or a space
    (`Bottom Right`, `strip_gps`), or in a form `taken` knows (`JPG`, `.jpg`, `image/jpeg`
    for jpeg): what a person meant without a doubt is taken, not refused (an admin's
    afternoon: `format: JPEG` was refused with "did you mean 'jpeg'?"). None otherwise."""
    choices = [str(c) for c in choices]
    said = _words(value)
    for choice in choices:
        if _words(choice) == said:
            return choice
    meant = taken.get(value.strip().lower(), taken.get(said))
    return meant if meant in choices else None


def _note(value: str, taken: Mapping[str, str], unlike: Callable[[str], str] | None) -> str:
    """What `unlike` says of a value `taken` knows that is not a choice here (`format: heic`)."""
    meant = taken.get(value.strip().lower(), taken.get(_words(value)))
    return unlike(meant) if meant is not None and unlike is not None else ""


@dataclass(frozen=True)
class Choice(Kind):
    """One of `choices` (a StrEnum's members, or texts): the member is returned."""

    choices: type[StrEnum] | tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)  # what people may mean -> a "did you mean"
    one: str = "choose one"  # what to do with a list (`format: [webp, avif]`)
    taken: Mapping[str, str] = field(default_factory=dict)  # other names of a choice, taken as it (`jpg`)
    unlike: Callable[[str], str] | None = None  # what to say of a name `taken` knows that is no choice here

    def read(self, r: Reader, name: str, default: Any) -> Any:
        raw = r.raw(name)
        if isinstance(raw, list):  # was "must be a non-empty text, not a list": neither the choices nor what to do
            r.fail(name, f"must be one of: {', '.join(map(str, self.choices))}, not a list: {self.one}")
        if isinstance(raw, bool):  # YAML reads a bare off, no, on, yes as false or true
            meant = "on" if raw else "off"
            if meant not in tuple(self.choices):
                r.fail(name, f"must be one of: {', '.join(map(str, self.choices))}, not {str(raw).lower()}: write one "
                             "of them (YAML reads a bare yes, no, on or off as true or false)")
            return self.choices(meant) if isinstance(self.choices, type) else meant
        value = text(r, name)
        if value is None:
            return default
        choice = chosen(value, self.choices, self.taken)
        if choice is None:
            r.fail(name, not_one_of(value, self.choices, self.aliases, _note(value, self.taken, self.unlike)))
        return self.choices(choice) if isinstance(self.choices, type) else choice


@dataclass(frozen=True)
class Choices(Kind):
    """A non-empty list of choices (a single one may be written bare), each once."""

    choices: type[StrEnum] | tuple[str, ...]
    empty: str  # what to say of an empty list
    aliases: Mapping[str, str] = field(default_factory=dict)
    taken: Mapping[str, str] = field(default_factory=dict)  # as Choice's
    unlike: Callable[[str], str] | None = None

    def read(self, r: Reader, name: str, default: Any) -> tuple:
        value = r.raw(name, list(default))
        if isinstance(value, str):  # one bare, or `failed, done` as a list is said in words: no choice holds a comma
            value = [part for part in value.split(",") if part.strip()] or [value]
        if not isinstance(value, list) or not value:
            r.fail(name, self.empty)
        out = []
        for item in value:
            said = str(item)
            meant = chosen(said, self.choices, self.taken)
            if meant is None:
                r.fail(name, not_one_of(said, self.choices, self.aliases, _note(said, self.taken, self.unlike)))
            out.append(self.choices(meant) if isinstance(self.choices, type) else meant)
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Globs(Kind):
    """File name patterns (`*.mov`, `Thumbs.db`; fnmatch's `* ? [...]`): a list, or one bare;
    `[]` is none. Each matches one name, never a path."""

    def read(self, r: Reader, name: str, default: Any) -> tuple:
        value = r.raw(name)
        if value is None:
            return default
        if not isinstance(value, (list, str)):
            r.fail(name, f"must be a list of file name patterns such as '*.mov', not {kind(value)}")
        if isinstance(value, str) and ", " in value:  # `Thumbs.db, desktop.ini` was one pattern, matching nothing
            if len(value) > 200:  # said back twice whole: a 100 KB value was a 270 KB message
                r.fail(name, f"{kind(value)} is one pattern; for several, write a list: [a, b]")
            items = ", ".join(part.strip() for part in value.split(","))
            r.fail(name, f"{value!r} is one pattern; for several, write a list: [{items}] (a name that holds ', ' "
                         f"itself: [{value!r}])")
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or not item.strip():
                r.fail(name, f"each item must be a file name pattern such as '*.mov', not {kind(item)}")
            if "/" in item:
                r.fail(name, f"{item!r}: a pattern matches a file or folder name, not a path; write "
                             f"{item.rstrip('/').rsplit('/', 1)[-1]!r}")
        return tuple(dict.fromkeys(value if isinstance(value, list) else [value]))


# Matched with its spaces taken out (ClockOffsets.read): runs of `\s*` side by side were tried every
# way, a sign, 200 spaces and a letter held check-config (and a reload) 25 s, 300 minutes
_OFFSET = re.compile(r"([+-])(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m(?:in)?)?(?:(\d{1,9})s)?", re.IGNORECASE)
MAX_CLOCK_OFFSET = 36500 * 86400  # a camera reset to its factory date (2000-01-01) is a few decades off


@dataclass(frozen=True)
class ClockOffsets(Kind):
    """`{camera glob: offset}`: `{"NIKON Z 6_2": "-1h"}`, `+30m`, `-1h02m30s`, `+400d`."""

    def read(self, r: Reader, name: str, default: Any) -> tuple:
        value = r.raw(name)
        if value is None:
            return default
        example = 'e.g. {"NIKON Z 6_2": "-1h"} (its clock was an hour ahead: its photos are dated an hour earlier)'
        if not isinstance(value, Mapping):
            r.fail(name, f"must be a mapping of cameras to the time to add to their clocks, {example}; not "
                         f"{kind(value)}")
        out = []
        for glob, offset in value.items():
            if not isinstance(glob, str) or not glob.strip():
                r.fail(name, f"each key must be a camera (a glob as `when: camera:` takes), {example}")
            m = _OFFSET.fullmatch("".join(offset.split())) if isinstance(offset, str) and len(offset) <= 100 else None
            if m is None or not any(m.groups()[1:]):
                r.fail(f"{name}.{glob}", f"must be a signed time to add to the camera's clock, such as \"-1h\", "
                                         f"\"+30m\", \"-1h02m30s\" or \"+400d\", not {offset!r}")
            days, hours, minutes, seconds = (int(g or 0) for g in m.groups()[1:])
            total = (days * 86400 + hours * 3600 + minutes * 60 + seconds) * (-1 if m.group(1) == "-" else 1)
            if abs(total) > MAX_CLOCK_OFFSET:
                r.fail(f"{name}.{glob}", f"{offset!r} is more than 100 years")
            out.append((glob, total, offset.strip()))
        return tuple(out)

    def shown(self, default: Any) -> str:
        return "`{}`"


@dataclass(frozen=True)
class Path_(Kind):
    """A path, absolute and resolved; relative to the config file's folder.

    `folder`: a folder of the daemon's own (inbox, output, …) must not be a symbolic
    link itself: anyone who can write beside it could point it elsewhere (its parents
    are resolved: a linked /srv is the admin's layout). Resolving is reading the file
    system, so this one check is made here, not in preflight.py."""

    folder: bool = False

    def read(self, r: Reader, name: str, default: Any) -> Path | None:
        value = text(r, name)
        if value is None:
            return None if default is None else resolve(r, name, str(default), self.folder)
        return resolve(r, name, value, self.folder)


ENV_IN_PATH = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def resolve(r: Reader, name: str, value: str, folder: bool = False) -> Path:
    if (var := ENV_IN_PATH.search(value)) is not None:  # `$HOME/out` made a folder named `$HOME`
        home = var.group(1).strip("{}") == "HOME" and var.start() == 0
        r.fail(name, f"{value!r}: {var.group(0)} is not taken from the environment in a path; "
                     + (f"write {'~' + value[var.end():]!r} (a leading ~ is your home)" if home
                        else "write the folder out in full"))
    _not_a_local_path(r, name, value)
    if value != value.strip():  # `"photos/inbox "`: another folder than photos/inbox, its name's space unseen
        r.fail(name, f"{value!r} {'starts' if value[0].isspace() else 'ends'} with a space, which makes it another "
                     f"folder than {value.strip()!r} (a space no listing shows): write {value.strip()!r}")
    p = Path(os.path.expanduser(value))
    if value.startswith("~") and not p.is_absolute():  # `~bob/in`: no user bob, and a folder named `~bob` was made
        user = value[1:].split("/", 1)[0]
        r.fail(name, f"{value!r}: there is no user {user!r} on this machine for ~{user} to be the home of; write "
                     "the folder out in full")
    relative = not p.is_absolute()
    p = r.ctx.base / p if relative else p
    if folder and p.name not in ("", ".", "..") and os.path.islink(p):
        r.fail(name, f"{p} is a symbolic link (to {os.readlink(p)}): name the real folder "
                     f"({p.resolve()}); the daemon never reaches its folders through a link")
    if relative and (found := problems.CURRENT.get()) is not None:
        found.relative[r.key(name)] = (value, str(p.resolve()))
    return p.resolve()


def _not_a_local_path(r: Reader, name: str, value: str) -> None:
    """A Windows path or a share's URL, copied from where the admin sees the folder: read as
    a relative path, each made a folder of that odd name beside the config (`C:\\Photos\\in`,
    `smb:/nas/photos`) and said OK."""
    said = value.strip()
    if m := re.match(r"([A-Za-z]+)://", said):
        r.fail(name, f"{value!r} is a URL ({m[1]}://), not a folder: mount the share on this machine and name the "
                     "folder it is mounted on (e.g. /mnt/photos/inbox)")
    if re.match(r"[A-Za-z]:[\\/]", said) or said.startswith("\\\\"):
        r.fail(name, f"'{said}' is a Windows path: name the folder as this machine sees it, with / (e.g. "
                     "/srv/photos/inbox, or /mnt/photos/inbox where the share is mounted)")
    if "\\" in said:
        r.fail(name, f"'{said}' holds a backslash: folders are separated by / here (write "
                     f"{said.replace(chr(92), '/')!r})")


SizeValue = tuple[int | None, int | None, int | None, int | None, float | None]  # width, height, long, short, MP
NO_SIZE: SizeValue = (None, None, None, None, None)
SIZE_FORMS = "WIDTHxHEIGHT (e.g. 1600x1200), a number, [width, height], {long: 2048}, {short: 1080} or {megapixels: 2}"


def _side_meant(value: Any) -> str:
    """What a size written as a web page writes it meant: `480w` (a srcset's width), `480px`,
    `480x` a width alone, `x480` a height alone."""
    said = value.strip().lower() if isinstance(value, str) else ""
    # \d{1,9}: Python's int() refuses more than 4,300 digits (a traceback, not the key's line)
    if m := re.fullmatch(r"(\d{1,9})\s*(w|px)", said):
        width = int(m[1])
        srcset = f", as a srcset's {width}w" if m[2] == "w" else ""
        return f" (a width only{srcset}: [{width}, null]; {width} alone is a {width}x{width} box)"
    if m := re.fullmatch(r"(\d{1,9})\s*[x×]", said):
        return f" (a width only: [{int(m[1])}, null])"
    if m := re.fullmatch(r"[x×]\s*(\d{1,9})", said):
        return f" (a height only: [null, {int(m[1])}])"
    if m := re.fullmatch(r"(\d{1,9}),(\d{1,9})", said):  # `1,600`: a thousands' comma, or a width and height?
        return f" (write {m[1]}{m[2]} for a {m[1]}{m[2]}x{m[1]}{m[2]} box, or {m[1]}x{m[2]} for a width and a height)"
    return ""


# `1600x1200`, `1600 x 1200`, `1600×1200`, `1600*1200`, `1600x1200px`, `1600px x 1200px`, `1600, 1200` (a comma
# with a space after it: `600,600` may be six hundred thousand, and is refused as not a size)
_BOX = re.compile(r"\s*(\d{1,9})\s*(?:px)?\s*(?:[xX×*]|,\s)\s*(\d{1,9})\s*(?:px)?\s*")


@dataclass(frozen=True)
class Size(Kind):
    """`size: 1600`, `1600x1200`, `[1600, 1200]` (0 or null leaves a side free), or as
    photographers give it: `{long: 2048}`, `{short: 1080}`, `{megapixels: 2}`.
    Read as (width, height, long, short, megapixels)."""

    def read(self, r: Reader, name: str, default: Any) -> SizeValue:
        value = r.raw(name)
        if value is None:
            return NO_SIZE
        if isinstance(value, dict) and set(value) <= {"width", "height"} and value:  # as CSS and most tools write it
            value = [value.get("width"), value.get("height")]
        if isinstance(value, dict):
            return self._photographers(r, name, value)
        if isinstance(value, str) and re.fullmatch(r"\s*\d{1,9}\s*", value):  # `"1600"`
            value = int(value)
        box = _BOX.fullmatch(value) if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool):
            parts = [value, value]
        elif box is not None:  # int(): 4,300 digits at most
            parts = [int(box[1]), int(box[2])]
        elif isinstance(value, list) and len(value) == 2:
            parts = value
        else:
            r.fail(name, f"must be {SIZE_FORMS}, not {kind(value)}{_side_meant(value)}")
        out = []
        for side in parts:
            if side is None:
                out.append(None)
                continue
            if isinstance(side, bool) or not isinstance(side, int) or side < 0 or side > 65535:
                r.fail(name, f"each side must be a whole number of pixels from 1 to 65535, not {kind(side)}")
            out.append(side or None)
        return out[0], out[1], None, None, None

    @staticmethod
    def _photographers(r: Reader, name: str, value: dict) -> SizeValue:
        known = ("long", "short", "megapixels")
        given = [k for k in value if value[k] is not None]
        if len(given) != 1 or given[0] not in known:
            said = ", ".join(map(str, given)) or "nothing"
            r.fail(name, f"as a mapping takes one of long, short, megapixels (e.g. {{long: 2048}}), not {said}")
        key, side = given[0], value[given[0]]
        if isinstance(side, str) and (px := re.fullmatch(r"\s*(\d{1,9})\s*(?:px)?\s*", side)) and key != "megapixels":
            side = int(px[1])  # `{long: 2048px}`, `{long: "2048"}`
        side = number_in(side) if key == "megapixels" else side
        if key == "megapixels":
            if isinstance(side, bool) or not isinstance(side, (int, float)) or not 0.01 <= side <= 1000:
                r.fail(name, f"megapixels must be a number from 0.01 to 1000, not {kind(side)}")
            return None, None, None, None, float(side)
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= 65535:
            r.fail(name, f"{key} must be a whole number of pixels from 1 to 65535, not {kind(side)}")
        return None, None, (side if key == "long" else None), (side if key == "short" else None), None

    def shown(self, default: Any) -> str:
        return "—"


# Colours as CSS writes them, which a `background:` was refused without a word of what to write
NAMED_COLOURS = {"white": "#ffffff", "black": "#000000", "grey": "#808080", "gray": "#808080"}


def _colour_meant(value: str) -> str:
    said = value.strip().lower()
    if said == "transparent":
        return (": JPEG's flattening and a pad's box are opaque; leave background out (white) or give the colour "
                "they take: PNG, WebP, AVIF and JPEG XL keep a picture's own transparency without it, but for pad")
    if re.fullmatch(r"#[0-9a-f]{3}", said):
        return f" (did you mean {'#' + ''.join(c * 2 for c in said[1:])!r}?)"
    return f" (did you mean {NAMED_COLOURS[said]!r}?)" if said in NAMED_COLOURS else ""


@dataclass(frozen=True)
class Colour(Kind):
    """`"#rrggbb"` -> (r, g, b)."""

    def read(self, r: Reader, name: str, default: Any) -> tuple[int, int, int]:
        value = text(r, name)
        if value is None:
            return default
        said = value.strip().lower()  # `white`, `#fff`: one colour each, as CSS writes them
        value = NAMED_COLOURS.get(said, "#" + "".join(c * 2 for c in said[1:]) if re.fullmatch(r"#[0-9a-f]{3}", said)
                                  else value.strip())
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            shown = repr(value) if len(value) <= 80 else f"{value[:60]!r}… ({len(value)} characters)"
            r.fail(name, f"must be a colour like '#ffffff', not {shown}{_colour_meant(value)}")
        red, green, blue = (int(value[i:i + 2], 16) for i in (1, 3, 5))
        return red, green, blue

    def shown(self, default: Any) -> str:
        return '`"#{:02x}{:02x}{:02x}"`'.format(*default)


# Units spelled out, as the README's KB (1000 bytes) and KiB (1024) read them.
_BYTE_WORDS = {"byte": "b", "bytes": "b", "kbytes": "kb", "kilobyte": "kb", "kilobytes": "kb", "mbytes": "mb",
               "megabyte": "mb", "megabytes": "mb", "kibibytes": "kib", "mebibytes": "mib"}


@dataclass(frozen=True)
class ByteSize(Kind):
    """`max_bytes: 500000`, `500KB`, `1.5 MB`, `512KiB`, `2MiB` (KB = 1000 bytes, KiB = 1024)."""

    def read(self, r: Reader, name: str, default: Any) -> int | None:
        value = r.raw(name)
        if value is None:
            return None
        example = "e.g. 500KB, 1.5MB, 512KiB or a number of bytes"
        if isinstance(value, int) and not isinstance(value, bool):
            size = value
        elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{1,12}(?:\.\d{1,12})?)\s*([A-Za-z]*)\s*", value)):
            unit = _BYTE_WORDS.get(m.group(2).lower(), m.group(2).lower())
            if unit in ("k", "m"):  # `500k`: 1000 or 1024 bytes a k? Both are written; say which is which
                big, base = ("KB", "KiB") if unit == "k" else ("MB", "MiB")
                many = float(m.group(1))
                r.fail(name, f"{value!r}: write {m.group(1)}{big} ({many * BYTE_UNITS[big.lower()]:,.0f} bytes) or "
                             f"{m.group(1)}{base} ({many * BYTE_UNITS[base.lower()]:,.0f} bytes)")
            if unit not in BYTE_UNITS:
                r.fail(name, f"unknown unit {m.group(2)!r} in {value!r}; use B, KB, MB, KiB or MiB ({example})")
            size = int(float(m.group(1)) * BYTE_UNITS[unit])
        elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+),(\d{1,2})\s*([A-Za-z]+)\s*", value)):
            r.fail(name, f"{value!r}: write the decimal with a point, {m[1]}.{m[2]}{m[3]}")  # `1,5MB`
        else:
            r.fail(name, f"must be a size, {example}, not {kind(value)}")
        if size < MIN_MAX_BYTES:
            r.fail(name, f"is {size} bytes; at least {MIN_MAX_BYTES} (1KB), or no image fits")
        if size > 2**30:
            r.fail(name, f"is {size:,} bytes; at most 1GiB")
        return size


@dataclass(frozen=True)
class Mode(Kind):
    """A file mode, `"0644"`: unquoted, YAML reads 0644 as octal (420) but 644 as decimal
    (644): a number above 0o777 can only be digits meant as octal. (Quote it to be sure.)"""

    def read(self, r: Reader, name: str, default: Any) -> int:
        value = r.raw(name, f"{default:04o}")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value) if value > 0o777 else f"{value:o}"
        if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
            r.fail(name, f"must be an octal file mode in quotes, like '0644', not {kind(value)}")
        return int(value, 8)

    def shown(self, default: Any) -> str:
        return f'`"{default:04o}"`'


@dataclass(frozen=True)
class Group(Kind):
    """A group name or number (whether it exists is preflight.py's to say)."""

    def read(self, r: Reader, name: str, default: Any) -> str | None:
        value = r.raw(name)
        if value is None:
            return None
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(value, str) or not value.strip():
            r.fail(name, f"must be a group name or number, not {kind(value)}")
        return value


SectionReader = Callable[..., Any]  # (ctx, data, path) -> the model of one mapping, or None


@dataclass(frozen=True)
class Nested(Kind):
    """A mapping read by a section of its own (a watermark, `http:`, `cluster:`)."""

    read_section: SectionReader
    shorthand: str | None = None  # a bare value stands for this key: `http: 9464` is `http: {listen: 9464}`

    def read(self, r: Reader, name: str, default: Any) -> Any:
        data = r.raw(name)
        if data is None:
            return default
        if self.shorthand and isinstance(data, (int, str)) and not isinstance(data, bool):
            data = {self.shorthand: data}
        return self.read_section(r.ctx, data, r.key(name))

    def shown(self, default: Any) -> str:
        return "—" if default is None else "(its keys' defaults)"


@dataclass(frozen=True)
class Items(Kind):
    """A list of mappings, each read by a section; None in place of an item that has
    problems (recorded), so checks across items keep their indexes."""

    read_section: SectionReader
    what: str  # "watched folders"
    non_empty: bool = True
    item: str = ""  # an item's first line, said of one written bare (`notify: https://…`): `- url: …`

    def read(self, r: Reader, name: str, default: Any) -> tuple:
        value = r.raw(name)
        if value is None and not self.non_empty:
            return ()
        if isinstance(value, dict) and value:  # the `- ` of the first item left out: its keys read as one mapping
            first = next(iter(value))
            r.fail(name, f"must be a list of {self.what}, each item starting with `- `, not a mapping: write "
                         f"`- {first}: …` for its first key (the item's other keys line up under `{first}`)")
        if not isinstance(value, list) or (self.non_empty and not value):
            r.fail(name, f"must be a {'non-empty ' if self.non_empty else ''}list of {self.what}"
                         + ("" if self.non_empty else f", not {kind(value)}")
                         + (f": write it as an item, `{self.item}` on the next line" if self.item and value else ""))
        return tuple(self.read_section(r.ctx, item, f"{r.key(name)}[{i}]") for i, item in enumerate(value))

    def shown(self, default: Any) -> str:
        return "—" if self.non_empty else "`[]`"

