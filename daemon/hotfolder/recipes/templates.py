"""The one template engine: output file names, set_metadata's texts (and manifests').

    {field}  {field:spec}  {field|filter}  {field:spec|filter|default(text)}  {{ }} for braces

A template is parsed once at config time (`parse`: every unknown field or filter is an
error naming it, with what was probably meant), and filled in by the worker (`fill`)
from a mapping of values. The spec is Python's format spec for texts and numbers
(`{seq:04}`, `{make:.8}`), strftime's for a date (`{taken:%Y/%m/%d}`), and a length for
the content hash (`{hash:8}`). Filters run left to right after the spec. A field the
photo has no value for is empty, unless `default(text)` gives it one.

Filled in as a path (`as_path`), a value never leaves the output folder: a `/` inside a
value becomes `_` (the date's own spec, written in the config, and `{subdir}`, whose
parts are real folder names of the inbox, keep theirs), and the path is cleaned:
empty and `.` parts dropped, a part starting with `.` (`..`, a hidden name) starts
with `_` instead, and every value but `{subdir}` loses its control characters (`_`),
and the marks that reorder or hide text (bidi controls, zero-width characters) with them:
the photo's texts (EXIF, XMP) and the original's own name alike (`tab<TAB>1.jpg` makes
`tab_1_web.jpg`; bytes that are not UTF-8 are kept). So `../../etc` from a photo's EXIF is
`_._.._etc`, never a way out, and `/etc` is `_etc`. A photo's texts (EXIF, XMP, IPTC) are
written in Unicode NFC there: a Mac's decomposed accents named files unlike the same words;
and as names Windows and macOS clients can open on an SMB share or an exFAT/NTFS disk
(`portable`): `< > : " \\ | ? *` each `_`, no dot or space ending a part of the path, a
device's name (`CON`, `nul.txt`) given a `_`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hotfolder.recipes.filters import FILTERS, Filter, Items, picked
from hotfolder.shown import UNSHOWN


class TemplateError(ValueError):
    """A template that cannot be used; the message says what to change."""


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    HASH = "hash"  # hex digits; the spec is how many
    PATH = "path"  # `/`-separated real folder names


@dataclass(frozen=True)
class FieldDef:
    name: str
    kind: Kind
    help: str
    reads: str = ""  # what of the file it needs read (recipes/facts.py, Need): "" nothing
    output: bool = False  # the output's own (known once rendered): file names only
    items: str = ""  # what separates its items, for |first, |last, |pick; "" for a single value


_FIELDS = (
    FieldDef("stem", Kind.TEXT, "the original's name without its extension"),
    FieldDef("name", Kind.TEXT, "the original's name with its extension"),
    FieldDef("source_ext", Kind.TEXT, "the original's extension, lower case, no dot"),
    FieldDef("subdir", Kind.PATH, "the original's folder under the inbox (`clients/acme`; empty at the top); "
                                  "a file name that uses it is not put in that folder again", items="/"),
    FieldDef("folder", Kind.TEXT, "the folder's `name`"),
    FieldDef("rendition", Kind.TEXT, "the rendition's `name`"),
    FieldDef("ext", Kind.TEXT, "the output's extension (`jpg`, `webp`, …)", output=True),
    FieldDef("width", Kind.NUMBER, "the output's width in pixels", output=True),
    FieldDef("height", Kind.NUMBER, "the output's height in pixels", output=True),
    FieldDef("taken", Kind.DATE, "when the photo was taken: EXIF DateTimeOriginal (with OffsetTimeOriginal "
                                 "when there is one), else the XMP's or IPTC's date created (a wire photo's), "
                                 "else EXIF DateTimeDigitized, else the file's modification time; the spec is "
                                 "strftime's, `%Y%m%d-%H%M%S` when none", reads="exif"),
    FieldDef("make", Kind.TEXT, "EXIF Make (`Canon`)", reads="exif"),
    FieldDef("model", Kind.TEXT, "EXIF Model (`Canon EOS R5`)", reads="exif"),
    FieldDef("camera", Kind.TEXT, "make and model, the make once (`Canon EOS R5`, `SONY ILCE-7M4`)",
             reads="exif"),
    FieldDef("lens", Kind.TEXT, "EXIF LensModel", reads="exif"),
    FieldDef("iso", Kind.NUMBER, "EXIF ISO speed", reads="exif"),
    FieldDef("rating", Kind.NUMBER, "the XMP rating, 0–5 (a sidecar's first)", reads="xmp"),
    FieldDef("label", Kind.TEXT, "the XMP colour label (`Red`)", reads="xmp"),
    FieldDef("title", Kind.TEXT, "XMP dc:title, else IPTC object name", reads="xmp"),
    FieldDef("description", Kind.TEXT, "XMP dc:description, else the IPTC caption", reads="xmp"),
    FieldDef("headline", Kind.TEXT, "XMP photoshop:Headline, else IPTC's", reads="xmp"),
    FieldDef("artist", Kind.TEXT, "the byline: XMP dc:creator, else IPTC By-line, else EXIF Artist", reads="xmp"),
    FieldDef("credit", Kind.TEXT, "the credit line: XMP photoshop:Credit, else IPTC Credit", reads="xmp"),
    FieldDef("copyright", Kind.TEXT, "the copyright notice: XMP dc:rights, else IPTC Copyright Notice, else EXIF "
                                     "Copyright", reads="xmp"),
    FieldDef("keywords", Kind.TEXT, "the keywords (XMP dc:subject, IPTC, a sidecar's), joined by `, `",
             reads="xmp", items=", "),
    FieldDef("hash", Kind.HASH, "the content hash (BLAKE3-256) of the original's bytes in hex; `{hash:8}`: its "
             "first 8 digits",
             reads="hash"),
    FieldDef("seq", Kind.NUMBER, "a number per folder, one more for each file rendered with it, never "
                                 "repeated (across restarts and crashes; a number may be skipped); `{seq:04}`: "
                                 "4 digits, zero-padded", reads="seq"),
    FieldDef("year", Kind.NUMBER, "set_metadata only: the year the photo was taken (EXIF), else this year"),
)
FIELDS: dict[str, FieldDef] = {f.name: f for f in _FIELDS}

# Where each may be used.
FILENAME_FIELDS = frozenset(f.name for f in _FIELDS if f.name != "year")
METADATA_FIELDS = frozenset(f.name for f in _FIELDS if not f.output)
DATE_DEFAULT = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class Field:
    name: str
    spec: str = ""
    filters: tuple[Filter, ...] = ()

    @property
    def kind(self) -> Kind:
        return FIELDS[self.name].kind


Part = str | Field


@dataclass(frozen=True)
class Template:
    text: str  # as written in the config
    parts: tuple[Part, ...]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, Field))

    def uses(self, name: str) -> bool:
        return name in self.fields

    def __str__(self) -> str:
        return self.text


# Fields people write for a date, and the `{taken}` each means (none is close enough to a
# field's name for a spelling hint: `{date}` was told only the list of fields).
_DATE_WORDS = {"date": "{taken:%Y-%m-%d}", "datetime": "{taken:%Y-%m-%d_%H%M%S}", "time": "{taken:%H%M%S}",
               "timestamp": "{taken:%Y%m%d-%H%M%S}", "created": "{taken:%Y-%m-%d}", "year": "{taken:%Y}",
               "month": "{taken:%m}", "day": "{taken:%d}"}

# A news desk's (IPTC's) words for fields: `{byline}` was told no field, `{creator}` `{credit}`.
_NEWS_WORDS = {"byline": "artist", "creator": "artist", "author": "artist", "photographer": "artist",
               "caption": "description", "notice": "copyright", "rights": "copyright", "object_name": "title"}
TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_EXPR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::([^|]*))?((?:\|[^|]*)*)$")
_FILTER = re.compile(r"\s*([A-Za-z_]+)\s*(?:\((.*)\))?\s*$", re.S)


def parse(text: str, allowed: Iterable[str] = FILENAME_FIELDS) -> Template:
    """The template in `text`, every field one of `allowed`; TemplateError says what is wrong."""
    allowed = frozenset(allowed)
    parts: list[Part] = []
    literal = ""
    pos = 0
    for m in TOKEN.finditer(text):
        literal += text[pos:m.start()]
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal += token[0]
            continue
        if m.group(1) is None:
            if token == "{" and (nested := _nested_at(text, m.start())):
                raise TemplateError(f"fields do not nest: {nested!r} holds a field inside a field; a filter's "
                                    "argument is text (default(unknown)), not a field")
            raise TemplateError(f"a lone {token!r} at character {m.start() + 1}; write {token * 2} for a brace "
                                "itself")
        if literal:
            parts.append(literal)
            literal = ""
        parts.append(_field(m.group(1), allowed))
    literal += text[pos:]
    if literal:
        parts.append(literal)
    return Template(text, tuple(parts))


def _nested_at(text: str, start: int) -> str:
    """The text of a field that holds another (`{stem|default({camera})}`) opening at
    `start`, up to its own closing brace; "" when the brace there opens no such field."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i + 1] if "{" in text[start + 1:i] else ""
    return ""


def _field(expr: str, allowed: frozenset[str]) -> Field:
    m = _EXPR.match(expr)
    if m is None:
        raise TemplateError(f"{{{expr}}} is not a field; fields are written {{name}}, {{name:spec}} or "
                            f"{{name|filter}}: {_listed(allowed)}")
    name, spec, chain = m.group(1), (m.group(2) or "").strip(), m.group(3)
    if name not in allowed and name.lower() in _DATE_WORDS and "taken" in allowed:
        raise TemplateError(f"unknown field {{{name}}}; use {{taken}} with a strftime format, e.g. "
                            f"{_DATE_WORDS[name.lower()]} (when the photo was taken: EXIF, else the file's time)")
    if name in FIELDS and name not in allowed:  # a field of file names: no typo to guess at ({camera} is no {name})
        where = ("the output's own fields are known only in a file name" if FIELDS[name].output
                 else "a rendition's filename takes it" if name in FILENAME_FIELDS
                 else "only set_metadata's texts take it")  # {year}: a filename does not either
        raise TemplateError(f"{{{name}}} is not known here ({where}); fields here: {_listed(allowed)}")
    if name not in allowed:
        meant = _NEWS_WORDS.get(name.lower(), "") if _NEWS_WORDS.get(name.lower()) in allowed else ""
        meant = meant or _meant(name, allowed)
        raise TemplateError(f"unknown field {{{name}}}" + (f"; use {{{meant}}}" if meant else "")
                            + f"; fields here: {_listed(allowed)}")
    filters = _on_items(name, tuple(_filter(part, name) for part in chain.split("|")[1:]))
    field = Field(name, spec, filters)
    _check_spec(field)
    return field


def _filter(text: str, field: str = "field") -> Filter:
    m = _FILTER.match(text)
    before, colon, spec = text.partition(":")
    if m is None and colon and before.strip() in FILTERS:  # `{headline|slug:40}`: was told "use |slug"
        cut = f".{spec.strip().lstrip('.')}" if spec.strip().lstrip(".").isdigit() else spec.strip()
        raise TemplateError(f"|{text.strip()}: a format or length goes after the field's name, before its "
                            f"filters: {{{field}:{cut}|{before.strip()}}}")
    if m is None and "(" in text and text.split("(", 1)[0].strip() in FILTERS and ")" not in text:
        # `|default(draft|final)`: the | ended the filter's text (an attack round: "use |default")
        raise TemplateError(f"|{text.split('(', 1)[0].strip()}( is not closed: the text in its parentheses may "
                            f"not hold | or }} (they end the filter and the field); write it without them")
    if m is None or m.group(1) not in FILTERS:
        word = m.group(1) if m else text.strip()
        meant = _meant(word, FILTERS)
        raise TemplateError(f"unknown filter |{word}" + (f"; use |{meant}" if meant else "")
                            + f"; filters: {', '.join(sorted(FILTERS))} (default takes a text: default(none))")
    name, arg = m.group(1), m.group(2)
    kind = FILTERS[name]
    if kind.takes_arg and arg is None:
        raise TemplateError(f"|{name} needs its text in parentheses, e.g. |{name}({kind.example})")
    if not kind.takes_arg and arg is not None:
        raise TemplateError(f"|{name} takes nothing in parentheses")
    if kind.items and arg is not None:
        try:
            picked([""], arg)
        except re.error as exc:  # `|pick([z-a])`: a traceback at the first file
            raise TemplateError(f"|{name}({arg}): not a glob that can be read ({exc}); e.g. |{name}(SKU-*)") from None
    return Filter(name, arg)


def _on_items(name: str, filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """The filters, an item filter (`|last`) told its field's separator: only a field of
    items takes one, first in the chain (after `|slug` the `/` between folders is gone)."""
    out = []
    for i, f in enumerate(filters):
        if FILTERS[f.name].items:
            lists = ", ".join("{" + n + "}" for n, d in FIELDS.items() if d.items)
            if not FIELDS[name].items:
                raise TemplateError(f"|{f.name} takes one of a field's items, and {{{name}}} is one value; fields "
                                    f"of items: {lists} (e.g. {{subdir|last}}, {{keywords|pick(SKU-*)}})")
            if i > 0:
                raise TemplateError(f"|{f.name} must come first, on {{{name}}} as it is (|{filters[i - 1].name} "
                                    f"before it changes its separators): {{{name}|{f}|{filters[0]}}}")
            f = dataclasses.replace(f, sep=FIELDS[name].items)
        out.append(f)
    return tuple(out)


# Python's format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?\Z")
# The strftime fields every C library knows (C99 and POSIX), and Python's %f; glibc's flags
# (`%-d`: no padding) and the E/O modifiers may come between the % and the field.
STRFTIME = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZf"


def padded_to(field: Field) -> int:
    """The fewest characters the field's spec makes of any value (its width; a number's
    precision too); 0 for a date's or a hash's spec."""
    if field.kind in (Kind.DATE, Kind.HASH) or not field.spec:
        return 0
    parts = FORMAT_SPEC.match(field.spec)
    if parts is None:
        return 0
    precision = int(parts["precision"] or 0) if field.kind == Kind.NUMBER else 0
    return max(int(parts["width"] or 0), precision)


def _check_spec(field: Field) -> None:
    """A spec that cannot format a value of the field's kind is refused now, not per file."""
    if not field.spec:
        return
    kind = field.kind
    if kind == Kind.HASH:
        if not field.spec.isdigit() or not 1 <= int(field.spec) <= 64:
            raise TemplateError(f"{{hash:{field.spec}}}: the spec is how many hex digits, 1 to 64 (e.g. {{hash:8}})")
        return
    if kind == Kind.DATE:
        if "%" not in field.spec:
            raise TemplateError(f"{{{field.name}:{field.spec}}}: a date's spec is strftime's, e.g. %Y/%m/%d")
        unknown = sorted(set(re.findall(r"%[-_0^#]?[EO]?(.)", field.spec.replace("%%", ""))) - set(STRFTIME))
        if unknown:  # glibc writes an unknown one as it is: `{taken:%Q}` made a folder named `%Q`
            raise TemplateError(f"{{{field.name}:{field.spec}}}: %{unknown[0]} is not a date field strftime knows; "
                                f"use %Y %m %d %H %M %S (and %y %b %B %a %A %j %U %W %G %V %u %w %p %I %e %f %z %Z)")
        if ".." in field.spec.split("/"):
            raise TemplateError(f"{{{field.name}:{field.spec}}}: '..' is not a folder a date can name")
        return
    sample: object = 1 if kind == Kind.NUMBER else "x"
    longest = padded_to(field)
    if longest > 255:  # `{width:>300}`: every name longer than a file name may be
        raise TemplateError(f"{{{field.name}:{field.spec}}}: makes {longest} characters or more, longer than a "
                            f"file name may be (255 bytes)")
    try:
        format(sample, field.spec)
    except (ValueError, TypeError) as exc:
        what = "a number" if kind == Kind.NUMBER else "a text"
        example = "{seq:04}" if kind == Kind.NUMBER else "{make:.10} (the first 10 characters)"
        raise TemplateError(f"{{{field.name}:{field.spec}}}: not a format for {what} ({exc}); e.g. {example}") \
            from None


def _meant(word: str, choices: Iterable[str]) -> str:
    """What `word` was probably meant as: a close spelling, or a name it begins with
    (`sequence` → `seq`); "" when nothing is close."""
    choices = sorted(choices)
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    close = close or [c for c in choices if len(c) >= 3 and word.lower().startswith(c)][-1:]
    return close[0] if close else ""


def _listed(allowed: Iterable[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(allowed))


@functools.lru_cache(maxsize=256)
def parsed(text: str, allowed: frozenset[str] = FILENAME_FIELDS) -> Template:
    """`parse`, once per process for each text: the config checked it already."""
    return parse(text, allowed)


# --- filling in ---------------------------------------------------------------------

def fill(template: Template, values: Mapping[str, object], *, as_path: bool = False) -> str:
    """The template with `values` in (a value absent or None is missing: empty, unless a
    `default` gives it a text). `as_path`: a path inside the output folder (see the top)."""
    pieces: list[tuple[str, bool]] = []  # each part's text, and whether it is a photo's text (`portable`)
    for part in template.parts:
        if isinstance(part, str):
            pieces.append((part, False))
        else:
            pieces.append((_value(part, values.get(part.name), as_path), as_path and _photo_text(part)))
    if not as_path:
        return "".join(text for text, _ in pieces)
    return clean_path("".join(portable(pieces)))


def _photo_text(field: Field) -> bool:
    """A field whose text the photo gives (EXIF, XMP, IPTC): a caption, a byline, a camera."""
    return field.kind == Kind.TEXT and FIELDS[field.name].reads in ("exif", "xmp")


# What Windows does not allow in a name (NTFS, exFAT, FAT, and an SMB share's clients): a
# Samba server shows a name with one of them as a mangled 8.3 name (`P5X0Q~3.JPG`), and an
# exFAT or NTFS disk refuses it (the write failed: "No such file or directory").
FORBIDDEN = re.compile(r'[<>:"\\|?*]')
# Names Windows takes for devices, whatever their case and extension (`nul.txt` is NUL): a
# file of such a name cannot be opened or deleted there. COM and LPT with a superscript digit too.
DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                     *(f"{port}{d}" for port in ("COM", "LPT") for d in "123456789\u00b9\u00b2\u00b3")})


def is_portable(path: str) -> bool:
    """Whether every part of `path` is a name `portable` would leave as it is: none of Windows'
    forbidden characters, no dot or space at a part's end, no device's name (what tells an
    output named before `portable` from one it would name)."""
    return not any(FORBIDDEN.search(part) or part.endswith((".", " "))
                   or part.split(".", 1)[0].rstrip(" ").upper() in DEVICES for part in path.split("/"))


def portable(pieces: list[tuple[str, bool]]) -> list[str]:
    """The texts of a path's pieces, those of the photo's texts (True) made names Windows, macOS
    and an SMB share's clients can open: Windows' forbidden characters each `_`, no dot or space
    ending a part of the path (a folder `Hochzeit.`: Windows can neither open nor delete it), and
    a part whose name (before its first dot) a value makes a device's (`CON`, `nul.txt`) given a
    `_` after it (`CON_`, `nul_.txt`). The rest (the config's text, the original's own name, the
    inbox's folders) is left as it is: the outputs named after them keep their names."""
    texts = [FORBIDDEN.sub("_", text) if mine else text for text, mine in pieces]
    for i in reversed(range(len(texts))):  # from the end: what follows a value is final when it is judged
        after = "".join(texts[i + 1:])
        if pieces[i][1] and (not after or after.startswith("/")):
            texts[i] = texts[i].rstrip(". ")
    for i, (_, mine) in enumerate(pieces):
        before = "".join(texts[:i])
        if not mine or not texts[i] or (before and not before.endswith("/")):
            continue  # a device's name is a whole part's: only a value that starts one makes it
        part = (texts[i] + "".join(texts[i + 1:])).split("/", 1)[0]
        base = part.split(".", 1)[0].rstrip(" ")
        if base.upper() in DEVICES:
            cut = min(len(base), len(texts[i]))
            texts[i] = texts[i][:cut] + "_" + texts[i][cut:]
    return texts


def _value(field: Field, value: object, as_path: bool) -> str:
    if as_path and isinstance(value, str) and FIELDS[field.name].reads in ("exif", "xmp"):
        value = _composed(value)  # before a spec's cut, which then never parts a letter from its accent
    text = None if value is None or value == "" else _formatted(field, value)
    for f in field.filters:
        text = f.apply(text)
    if text is None:
        return ""
    if as_path and field.kind not in (Kind.DATE, Kind.PATH):
        text = text.replace("/", "_")
    # No control character, nor a mark that reorders or hides text, in any value but the
    # inbox's own folder names ({subdir}: the outputs mirror those folders as they are): the
    # photo's texts, a spec's character (`{seq:c}`), and the original's name too, where a
    # client's tab, newline or ESC went on into every output's name and broke the scripts
    # and URLs downstream (an admin's report; the original keeps its name in archive/).
    if as_path and (field.kind != Kind.PATH or field.spec):
        text = UNSHOWN.sub("_", text)
    return text


def _composed(value: str) -> str:
    """A photo's text with one spelling of each accented letter (NFC): a caption written on
    a Mac (NFD, `o` and a combining mark) named files with other bytes than the same words
    typed elsewhere, two names alike to the eye. The original's own name and the inbox's
    folders are kept as they are: outputs already named after them keep their names."""
    if value.isascii():
        return value
    if isinstance(value, Items):
        return Items(tuple(unicodedata.normalize("NFC", item) for item in value.items), value.sep)
    return unicodedata.normalize("NFC", value)


def _formatted(field: Field, value: object) -> str:
    kind = field.kind
    if kind == Kind.DATE and isinstance(value, dt.datetime):
        return value.strftime(field.spec or DATE_DEFAULT)
    if kind == Kind.HASH:
        return str(value)[: int(field.spec)] if field.spec else str(value)
    if kind == Kind.PATH:
        return "/".join(part.replace("/", "_") for part in str(value).split("/"))
    if isinstance(value, Items) and not field.spec:  # as it is, its items kept for an item filter
        return value
    try:
        return format(value, field.spec)
    except (ValueError, TypeError):  # a number field given a text by a photo: as it is
        return str(value)




def clean_path(text: str) -> str:
    """A relative path that stays inside its folder: no empty, `.` or `..` parts, no
    hidden names (see the top). May be "" (nothing was left). Control characters are
    each value's (`_value`): the template's own literal text is the config's."""
    parts = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part.startswith("."):
            part = "_" + part[1:]
        parts.append(part)
    return "/".join(parts)
