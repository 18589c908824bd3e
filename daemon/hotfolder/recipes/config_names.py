"""The config's own text of an output path template, judged as names Windows and macOS
clients open (an SMB share's, an exFAT or NTFS disk's): warned of at load, never changed.

`templates.portable` cleans the photo's texts in a name, and leaves the template's own text
(its literal text, a date's strftime spec) as written: changing it would rename every
output of an existing recipe. So `{stem}_{taken:%H:%M}.jpg` puts a `:` into every name, and
on a Linux-only folder that is fine; elsewhere each write fails (exFAT: "No such file or
directory") or each name is mangled (Samba: `PY99N1~T.JPG`). `unportable` says so once per
template, with the template to write instead.

Judged on a skeleton of the template: the literal text as it is, each date field formatted
from a sample date (what its spec writes, not a list of directives), the config's own names
as they are (`{folder}`: the folder's `name`, `{rendition}`), every other field an `x` (a
value is the photo's: portable already, or a name a client wrote). Only what every output's
name holds is said: a dot ending a part only where the config's text ends it.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hotfolder.recipes import templates
from hotfolder.recipes.templates import DEVICES, FORBIDDEN, Field, Kind, Template

# A date with every field two digits and past noon, and an offset: `%Z` writes `UTC+01:00`
# of a photo with OffsetTimeOriginal (engine/facts.py), a `:` in its name.
SAMPLE = dt.datetime(2026, 12, 24, 14, 3, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
# What to write for a strftime field whose text holds a forbidden character (in the C
# locale's spelling), the `:` each `-`; another is told to be written field by field.
_INSTEAD = {"c": "%a %b %d %H-%M-%S %Y", "X": "%H-%M-%S", "T": "%H-%M-%S", "R": "%H-%M",
            "r": "%I-%M-%S %p", "Z": "%z"}
# The template's literal text: Windows' forbidden characters and the control characters,
# which a value loses when filled in (templates.UNSHOWN) and the text kept (a YAML "\t").
_LITERAL = re.compile(r'[<>:"\\|?*\x00-\x1f]')
_PLACEHOLDER = "x"  # a field's value in the skeleton: never a dot, a space or a forbidden character


@dataclass(frozen=True)
class _Piece:
    text: str  # in the skeleton
    shown: str  # as written in the template
    literal: bool  # the config's own text: the template's literal text, a date's spec, a known name
    field: Field | None = None  # of a date or a known name: what its value is said of


def unportable(template: Template, known: Mapping[str, str] | None = None) -> str | None:
    """What of `template`'s own text makes every output's name one Windows and macOS clients
    cannot open, and what to write instead; None when nothing does. `known`: the values of
    fields the config gives (`{folder}`: the folder's name)."""
    known = known or {}
    pieces = _pieces(template, known)
    said = _problems(pieces)
    if not said:
        return None
    fixed = _fixed(pieces, known)
    instead = f"write {fixed!r} instead" if fixed is not None else _how(pieces, said, known)
    return (f"{'; '.join(said)}: a name Windows and macOS clients cannot open (an exFAT or NTFS disk refuses to "
            f"write it, an SMB share shows it mangled, e.g. PY99N1~T.JPG); {instead} (a warning, not an error: "
            f"such names work on a folder only Linux reads)")


# What to do of a config's name no template fixes (a rendition named `con` or `web.`).
_RENAME = {"folder": "{shown} is the folder's name ({value!r}): write another text in its place (renaming the "
                     "folder starts its index and {{seq}} anew)",
           "rendition": "{shown} is the rendition's name ({value!r}): rename it"}


def _how(pieces: list[_Piece], said: list[str], known: Mapping[str, str]) -> str:
    """What to do when no template to write is known, of what was found: the `:` of a date's
    spec is told only when a date writes one (a dot ending `{taken:%Y.}` is none), and a
    config's name said to be at fault is to be renamed (no date spec fixes `con`)."""
    how = ["write the template without them"]
    if any(p.field is not None and p.field.kind == Kind.DATE and ":" in p.text for p in pieces):
        how.append("in a date's spec '-' for ':' as in %H-%M")
    named = {p.field.name: p.shown for p in pieces if p.field is not None and p.field.name in known
             and p.field.name in _RENAME and any(p.shown in s for s in said)}
    told = "; ".join(_RENAME[name].format(shown=shown, value=known[name]) for name, shown in named.items())
    return ", ".join(how) + (f"; {told}" if told else "")


def _pieces(template: Template, known: Mapping[str, str]) -> list[_Piece]:
    """The template's parts, each with its text in the skeleton and as written."""
    written = iter(m.group(0) for m in templates.TOKEN.finditer(template.text) if m.group(1) is not None)
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(_Piece(part, part, True))
        elif part.kind == Kind.DATE or part.name in known:
            text = templates.fill(Template("", (part,)), {part.name: known.get(part.name, SAMPLE)})
            out.append(_Piece(text or _PLACEHOLDER, next(written), bool(text), part))
        else:
            out.append(_Piece(_PLACEHOLDER, next(written), False))
    return out


def _chars(pieces: list[_Piece]) -> list[tuple[str, int]]:
    """The skeleton, each character with the index of its piece."""
    return [(c, i) for i, p in enumerate(pieces) for c in p.text]


def _paths(chars: list) -> list[tuple[int, int]]:
    """(start, end) in `chars` of each part of the path, as it is kept (not `.` nor empty)."""
    cuts = [-1, *(i for i, (c, _) in enumerate(chars) if c == "/"), len(chars)]
    return [(a + 1, b) for a, b in itertools.pairwise(cuts)
            if "".join(c for c, _ in chars[a + 1:b]) not in ("", ".")]


def _problems(pieces: list[_Piece]) -> list[str]:
    said = []
    for p in pieces:
        if p.field is not None and (found := dict.fromkeys(FORBIDDEN.findall(p.text))):
            said.append(f"{p.shown} writes {_listed(found)} into every name (as {p.text!r})")
    literal = dict.fromkeys(c for p in pieces if p.literal and p.field is None for c in _LITERAL.findall(p.text))
    if literal:
        said.append(f"the template's text puts {_listed(literal)} into every name")
    chars = _chars(pieces)
    for start, end in _paths(chars):
        part = "".join(c for c, _ in chars[start:end])
        shown = _shown(pieces, chars[start:end])
        if pieces[chars[end - 1][1]].literal and part.endswith((".", " ")):
            said.append(f"{shown!r} ends in a {'dot' if part.endswith('.') else 'space'}")
        base = part.split(".", 1)[0].rstrip(" ")
        if base.upper() in DEVICES and all(pieces[i].literal for _, i in chars[start:start + len(base)]):
            said.append(f"{shown!r} is the name of a Windows device ({base.upper()}, in any case and with any "
                        f"extension)")
    return list(dict.fromkeys(said))  # two parts of one field (`../..`) said once


def _shown(pieces: list[_Piece], chars: list[tuple[str, int]]) -> str:
    """A part of the skeleton as written: the literal text as it is, a field by its own text."""
    out: list[str] = []
    last = -1
    for c, i in chars:
        if pieces[i].literal and pieces[i].field is None:
            out.append(c)
        elif i != last:
            out.append(pieces[i].shown)
        last = i
    return "".join(out)


def _listed(chars: dict[str, None]) -> str:
    quoted = [repr(c) for c in chars]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _fixed(pieces: list[_Piece], known: Mapping[str, str]) -> str | None:
    """The template with its own text made portable: a forbidden character `_` (in a date's
    spec `-`; a known name `|slug`ged: renaming a folder starts its index anew), the dots and
    spaces the literal text ends a part with dropped, a device's name given a `_` (`con_`, as
    `templates.portable` does); None when that is not enough."""
    mine = [p.literal and p.field is None for p in pieces]
    chars = [(_LITERAL.sub("_", c) if mine[i] else c, i) for c, i in _chars(pieces)]
    for start, end in reversed(_paths(chars)):
        part = "".join(c for c, _ in chars[start:end])
        base = part.split(".", 1)[0].rstrip(" ")
        if base.upper() in DEVICES and all(mine[i] for _, i in chars[start:start + len(base)]):
            c, i = chars[start + len(base) - 1]
            chars[start + len(base) - 1] = (c + "_", i)
        while end > start + 1 and chars[end - 1][0] in (".", " ") and mine[chars[end - 1][1]]:
            end -= 1
            chars[end] = ("", chars[end][1])
    texts = []
    for i, p in enumerate(pieces):
        if mine[i]:
            texts.append("".join(c for c, j in chars if j == i).replace("{", "{{").replace("}", "}}"))
        else:
            texts.append(_fixed_field(p) if p.field is not None else p.shown)
    fixed = "".join(texts)
    try:
        again = templates.parse(fixed, templates.FIELDS)
    except templates.TemplateError:
        return None
    return None if _problems(_pieces(again, known)) else fixed


def _fixed_field(p: _Piece) -> str:
    """A date's or a known name's field writing no forbidden character."""
    assert p.field is not None
    if not FORBIDDEN.search(p.text):
        return p.shown
    if p.field.kind != Kind.DATE:
        return p.shown[:-1] + "|slug}"
    spec = p.field.spec

    def instead(m: re.Match) -> str:
        token = m.group(0)
        if not token.startswith("%"):
            return FORBIDDEN.sub("-", token)
        return _INSTEAD.get(token[-1], token) if FORBIDDEN.search(SAMPLE.strftime(token)) else token

    fixed = re.sub(r"%[-_0^#]?[EO]?.|%|[^%]+", instead, spec)
    return p.shown.replace(f":{spec}", f":{fixed}", 1) if spec else p.shown
