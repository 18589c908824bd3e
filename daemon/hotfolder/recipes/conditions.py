"""`when:` on a rendition: entries that must all hold, as frozen dataclasses, and one
pure evaluation (`evaluate`) that says which entry excluded a file and why.

    subfolder   globs on the folder under the inbox ("" at its top): `*` within one
                folder name, `**` any number of them (`clients/**` is clients and
                everything under it, `products/*` each folder directly in products)
    name        globs on the file name
    format      source formats (by content: the engine's names)
    orientation portrait | landscape | square (upright)
    min_width, min_height, max_width, max_height   upright source pixels
    camera      globs on the camera (make and model, the make once) or "Make Model"
    exif        tag name -> globs on its value as text
    keywords    any of these (globs), among XMP dc:subject, IPTC keywords, a sidecar's
    credit, artist  globs on the credit line and the byline (XMP, IPTC-IIM; EXIF Artist)
    rating      a comparison on the XMP rating (`">= 4"`); unrated counts as 0, as in Lightroom
    any         a list of entry mappings: holds when one of them holds
    not         an entry mapping: holds when it does not

Every glob is matched regardless of case (`*.cr3` takes `IMG_1.CR3`).
"""
from __future__ import annotations

import functools
import operator
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from hotfolder.recipes.facts import Facts, Need

ORIENTATIONS = ("portrait", "landscape", "square")
COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "=": operator.eq,
    "!=": operator.ne,
}
BOUNDS = ("min_width", "min_height", "max_width", "max_height")


@functools.lru_cache(maxsize=1024)
def path_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    text = pattern.strip("/")
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("/**", i) and i + 3 == len(text):
            out.append("(?:/.*)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":  # a whole part `*` is one folder, never none: "*" is not the inbox's top
            whole = (i == 0 or text[i - 1] == "/") and (i + 1 == len(text) or text[i + 1] == "/")
            out.append("[^/]+" if whole else "[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        elif text[i] == "[" and "]" in text[i + 2:]:
            end = text.index("]", i + 2)
            body = text[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out), re.IGNORECASE | re.S)


@functools.lru_cache(maxsize=1024)
def _name_regex(pattern: str) -> re.Pattern[str]:
    import fnmatch

    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def path_matches(pattern: str, path: str) -> bool:
    return path_regex(_nfc(pattern)).fullmatch(_nfc(path).strip("/")) is not None


def glob_matches(pattern: str, text: str) -> bool:
    return _name_regex(_nfc(pattern)).match(_nfc(text)) is not None


# A number as photographers and exiftool write it: `f/4`, `4.0`, `50 mm`, `1/250`, `0.5 s`,
# `-2/3`, `+1/3 EV`. Every run of spaces possessive (`\s*+`): written as `\s*` side by side,
# a tag of 60,000 spaces between `f/` and a letter was split every way before failing,
# time in the cube of its length (43 s in `explain`: an attack round).
_NUMBER = re.compile(r"\s*+(?:f/\s*+)?([+-]?)\s*+([0-9]++(?:\.([0-9]*+))?|\.([0-9]++))"
                     r"(?:\s*+/\s*+([0-9]++(?:\.[0-9]*+)?))?\s*+(?:(?:mm|s|sec|ev)\s*+)?", re.IGNORECASE)
NUMBER_LONGEST = 40  # characters: no number a photographer writes is longer


def _number(text: str) -> tuple[float, float] | None:
    """The number in `text` and how far from it what it says may lie: half a unit of its
    last decimal (`0.3` is 0.25-0.35: exiftool prints 1/3 s so; `0.666667` is 2/3), none
    for a whole number or a fraction."""
    text = text.strip()
    if len(text) > NUMBER_LONGEST:
        return None
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    sign = -1.0 if m.group(1) == "-" else 1.0
    value, over = float(m.group(2)), m.group(5)
    if over is not None:
        return (sign * value / float(over), 0.0) if float(over) else None
    decimals = m.group(3) if m.group(3) is not None else m.group(4)
    return sign * value, (0.5 * 10.0 ** -len(decimals) if decimals else 0.0)


def same_number(pattern: str, text: str) -> bool:
    """A glob with no `*`/`?` that is the value's number as exiftool prints it (`FNumber:
    4.0` for 4, `50 mm` for 50, `0.004` for 1/250, `0.3` for 1/3 s, `-2/3` for -0.666667):
    equal as numbers, within the rounding either side shows (a review: such a condition
    never held, and nothing said why)."""
    if "*" in pattern or "?" in pattern or "[" in pattern:
        return False
    a, b = _number(pattern), _number(text)
    if a is None or b is None:
        return False
    return abs(a[0] - b[0]) <= max(a[1], b[1], 1e-9 * max(1.0, abs(a[0]), abs(b[0])))


def _nfc(text: str) -> str:
    """One spelling of each accented letter (Unicode NFC) on both sides: a folder `café` a Mac
    or rsync wrote decomposed (e + a combining accent) never matched a config's `café/**`,
    nor did such a keyword (an attack round). Plain ASCII, the usual case, is left as it is."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _cut(text: str, most: int = 100) -> str:
    """A photo's value as a reason shows it: its first `most` characters (a 60 KB tag was
    printed whole by `explain`: an attack round)."""
    return text if len(text) <= most else text[:most] + f"… ({len(text)} characters)"


def _shown(globs: tuple[str, ...]) -> str:
    """The globs as written; an empty one (`""`: the inbox's top) quoted, not shown as nothing."""
    shown = [g if g else '""' for g in globs]
    return ", ".join(shown) if len(shown) > 1 else shown[0]


Check = tuple[bool, str]  # whether it holds, and what was found, for people


def _one_or_list(items: tuple[str, ...]) -> object:
    """Items as the YAML writes them: one alone, several as a list."""
    return items[0] if len(items) == 1 else list(items)


@dataclass(frozen=True)
class Subfolder:
    globs: tuple[str, ...]
    key = "subfolder"

    @property
    def written(self) -> object:
        return _one_or_list(self.globs)

    def check(self, facts: Facts) -> Check:
        where = facts.subdir or "(the inbox's top)"
        if any(path_matches(g, facts.subdir) for g in self.globs):
            return True, f"its subfolder {where} matches {_shown(self.globs)}"
        return False, f"its subfolder {where} does not match {_shown(self.globs)}"


@dataclass(frozen=True)
class Name:
    globs: tuple[str, ...]
    key = "name"

    @property
    def written(self) -> object:
        return _one_or_list(self.globs)

    def check(self, facts: Facts) -> Check:
        held = any(glob_matches(g, facts.name) for g in self.globs)
        return held, f"its name {facts.name} {'matches' if held else 'does not match'} {_shown(self.globs)}"


@dataclass(frozen=True)
class Format:
    formats: tuple[str, ...]
    key = "format"

    @property
    def written(self) -> object:
        return _one_or_list(self.formats)

    def check(self, facts: Facts) -> Check:
        fmt = facts.photo.format
        held = fmt in self.formats
        return held, f"it is {fmt or 'of an unknown format'}, {'one of' if held else 'not one of'} " \
                     f"{', '.join(self.formats)}"


@dataclass(frozen=True)
class Orientation:
    choices: tuple[str, ...]
    key = "orientation"

    @property
    def written(self) -> object:
        return _one_or_list(self.choices)

    def check(self, facts: Facts) -> Check:
        found = facts.photo.orientation
        held = found in self.choices
        size = f" ({facts.photo.width}x{facts.photo.height} upright)" if found else ""
        return held, f"it is {found or 'of an unknown size'}{size}, {'' if held else 'not '}" \
                     f"{' or '.join(self.choices)}"


@dataclass(frozen=True)
class Bound:
    which: str  # min_width, min_height, max_width, max_height
    pixels: int

    @property
    def written(self) -> object:
        return self.pixels

    @property
    def key(self) -> str:
        return self.which

    def check(self, facts: Facts) -> Check:
        side = self.which.split("_")[1]
        found = getattr(facts.photo, side)
        if found is None:
            return False, f"its {side} is not known"
        held = found >= self.pixels if self.which.startswith("min") else found <= self.pixels
        word = "at least" if self.which.startswith("min") else "at most"
        return held, f"its {side} is {found} px upright, {'' if held else 'not '}{word} {self.pixels}"


@dataclass(frozen=True)
class Camera:
    globs: tuple[str, ...]
    key = "camera"

    @property
    def written(self) -> object:
        return _one_or_list(self.globs)

    def check(self, facts: Facts) -> Check:
        p = facts.photo
        said = [t for t in (p.camera, " ".join(x for x in (p.make, p.model) if x)) if t]
        if not said:
            return False, "its EXIF names no camera"
        held = any(glob_matches(g, t) for g in self.globs for t in said)
        return held, f"its camera {_cut(said[0])} {'matches' if held else 'does not match'} {_shown(self.globs)}"


@dataclass(frozen=True)
class ExifTag:
    tag: str
    globs: tuple[str, ...]

    @property
    def written(self) -> object:
        return _one_or_list(self.globs)

    @property
    def key(self) -> str:
        return f"exif.{self.tag}"

    def check(self, facts: Facts) -> Check:
        value = facts.photo.exif_tag(self.tag)
        if value is None:
            return False, f"its EXIF has no {self.tag}"
        held = any(glob_matches(g, value) or same_number(g, value) for g in self.globs)
        return held, f"its {self.tag} {_cut(value)!r} {'matches' if held else 'does not match'} {_shown(self.globs)}"


@dataclass(frozen=True)
class Keywords:
    globs: tuple[str, ...]
    key = "keywords"

    @property
    def written(self) -> object:
        return _one_or_list(self.globs)

    def check(self, facts: Facts) -> Check:
        have = facts.photo.keywords
        found = [k for k in have if any(glob_matches(g, k) for g in self.globs)]
        if found:
            return True, f"it has the keyword {_cut(found[0])}"
        said = f"its keywords are {_cut(', '.join(have))}" if have else "it has no keywords"
        return False, f"{said}; none is {' or '.join(self.globs)}"


@dataclass(frozen=True)
class Byline:
    """`credit:` or `artist:`: globs on the credit line or the byline (as `{credit}` and
    `{artist}` read them): a news desk's agency photos to one rendition, its staff's to another."""

    key: str  # "credit" or "artist"
    globs: tuple[str, ...]

    @property
    def written(self) -> object:
        return _one_or_list(self.globs)

    def check(self, facts: Facts) -> Check:
        what = "credit line" if self.key == "credit" else "byline"
        value = getattr(facts.photo, self.key)
        if not value:
            return False, f"it has no {what}"
        held = any(glob_matches(g, value) for g in self.globs)
        return held, f"its {what} {_cut(value)} {'matches' if held else 'does not match'} {_shown(self.globs)}"


@dataclass(frozen=True)
class Rating:
    op: str
    value: int
    key = "rating"

    @property
    def written(self) -> object:
        return self.value if self.op == "==" else f"{self.op} {self.value}"

    def check(self, facts: Facts) -> Check:
        rating = facts.photo.rating
        found = 0 if rating is None else rating
        held = COMPARISONS[self.op](found, self.value)
        said = "it is unrated (0)" if rating is None else f"its rating is {rating}"
        return held, f"{said}, {'' if held else 'not '}{self.op} {self.value}"


@dataclass(frozen=True)
class AnyOf:
    options: tuple[When, ...]
    key = "any"

    @property
    def written(self) -> object:
        return [option.written for option in self.options]

    def check(self, facts: Facts) -> Check:
        said = []
        for option in self.options:
            outcome = evaluate(option, facts)
            if outcome.holds:
                return True, f"one of them holds: {outcome.why}"
            said.append(f"{outcome.key}: {outcome.why}")
        return False, "none of them holds (" + "; ".join(said) + ")"


@dataclass(frozen=True)
class Not:
    inner: When
    key = "not"

    @property
    def written(self) -> object:
        return self.inner.written

    def check(self, facts: Facts) -> Check:
        outcome = evaluate(self.inner, facts)
        if outcome.holds:
            return False, f"it holds: {outcome.why}"
        return True, f"it does not hold ({outcome.key}: {outcome.why})"


Entry = Subfolder | Name | Format | Orientation | Bound | Camera | ExifTag | Keywords | Byline | Rating | AnyOf | Not


@dataclass(frozen=True)
class When:
    entries: tuple[Entry, ...]

    @property
    def written(self) -> dict[str, object]:
        """The entries as the YAML writes them (`{subfolder: books/**, min_width: 1500, exif:
        {LensModel: "*50mm*"}}`): what a reload says changed."""
        out: dict[str, object] = {}
        tags: dict[str, object] = {}  # `exif:` is one mapping in the YAML, an entry per tag here
        for entry in self.entries:
            if isinstance(entry, ExifTag):
                tags[entry.tag] = entry.written
                out.setdefault("exif", tags)
            else:
                out[entry.key] = entry.written
        return out

    def routes(self, subdir: str) -> bool:
        """Whether a `subfolder:` entry of these (an `any:` one's too, not a `not:` one's)
        names `subdir`: a subfolder the recipe sends renditions to by name (`clients/*`)."""
        return any((isinstance(e, Subfolder) and e.check(Facts("", subdir))[0])
                   or (isinstance(e, AnyOf) and any(o.routes(subdir) for o in e.options)) for e in self.entries)

    def need(self) -> Need:
        """What of a file these entries read."""
        need = Need()
        for entry in self.entries:
            if isinstance(entry, (Format, Orientation, Bound)):
                need |= Need(header=True)
            elif isinstance(entry, Camera):
                need |= Need(exif=True)
            elif isinstance(entry, ExifTag):
                need |= Need(exif_tags=frozenset({entry.tag}))
            elif isinstance(entry, (Keywords, Byline, Rating)):
                need |= Need(xmp=True)
            elif isinstance(entry, AnyOf):
                for option in entry.options:
                    need |= option.need()
            elif isinstance(entry, Not):
                need |= entry.inner.need()
        return need


@dataclass(frozen=True)
class Outcome:
    holds: bool
    key: str = ""  # the entry that decided: the first that does not hold (or the last that did)
    why: str = ""


def evaluate(when: When | None, facts: Facts) -> Outcome:
    """Whether every entry holds for `facts`; if not, the first that does not, and why."""
    if when is None:
        return Outcome(True, "", "no when: it applies to every file")
    last = Outcome(True)
    for entry in when.entries:
        held, why = entry.check(facts)
        if not held:
            return Outcome(False, entry.key, why)
        last = Outcome(True, entry.key, why)
    return last
