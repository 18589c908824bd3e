"""A rendition's `when:`: the conditions a file must meet (recipes/conditions.py), every
entry checked with its line, a misspelt one named with what was meant; `any:` and
`not:` nest the same entries."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotfolder.config.keys import Key, read_keys
from hotfolder.config.reader import Reader, kind, recorded, section
from hotfolder.config.sections import levels
from hotfolder.config.sections.steps.encode import FORMAT_ALIASES, FORMAT_NAMES, format_unlike
from hotfolder.config.values import Choices, Int, Kind, suggestion
from hotfolder.engine.formats import INPUTS
from hotfolder.recipes import conditions as c
from hotfolder.recipes import exif_tags


@dataclass(frozen=True)
class Globs(Kind):
    """A glob, or a list of them; `empty`: "" is one (a subfolder's: the inbox's top).
    `of_files`: the globs choose files by their folder (`when: subfolder:`), so one that
    leaves the top out is warned of; `keep_subfolders` names folders, and the inbox itself
    is never removed: nothing to warn of there."""

    empty: bool = False
    of_files: bool = True

    def read(self, r: Reader, name: str, default: Any) -> tuple[str, ...] | None:
        value = r.raw(name)
        if value is None:
            return default
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, (str, int)) and not isinstance(i, bool) and (self.empty or str(i).strip())
                                for i in items):
            r.fail(name, f"must be a text (a glob such as \"clients/**\" or \"*50mm*\") or a list of them, "
                         f"not {kind(value)}")
        globs = tuple(str(i).strip() for i in items)
        for g in globs:
            if (problem := _unreadable(g, path=self.empty)) is not None:
                r.fail(name, problem)
            if self.empty and any(part in (".", "..") for part in g.strip("/").split("/")):
                r.fail(name, f"{g!r} has a . or .. part, which no subfolder has: a subfolder glob is a path under "
                             f"the inbox, written from it (\"clients/**\", not \"./clients/**\")")
            elif self.empty and "\\" in g and "/" not in g:
                r.warn(name, f"{g!r} has a \\: folders are separated by / here (\"{g.replace(chr(92), '/')}\"); a "
                             f"\\ matches a folder whose name holds one")
        negated = ".not." in f".{r.key(name)}."  # under not:, "*" now leaves the top in: what was meant
        if self.empty and self.of_files and not negated and "" not in globs and any(_every_folder(g) for g in globs):
            r.warn(name, f"{', '.join(repr(g) for g in globs if _every_folder(g))} takes every subfolder but not "
                         "the inbox's top (a whole `*` is one folder, never none; before this version it took the "
                         "top too): add \"\" to the list for files dropped at the top, or write \"**\" for every "
                         "file (\"?*\" says every subfolder without this warning)")
        return globs


def _unreadable(glob: str, path: bool) -> str | None:
    """Why `glob` cannot be matched (a `[...]` of a range backwards, `[z-a]`), or None: it
    was a traceback of check-config, or of the first file it met (a review)."""
    try:
        c.path_matches(glob, "") if path else c.glob_matches(glob, "")
    except re.error as exc:
        return f"{glob!r} is not a glob that can be read ({exc}): a [...] holds characters or ranges such as a-z"
    return None


def _every_folder(glob: str) -> bool:
    """Whether `glob` took the inbox's top before a whole-part `*` became one folder, never
    none (`*`, `**/*`, `*/**`), and no longer does."""
    now = c.path_regex(glob)
    was = re.compile(now.pattern.replace("[^/]+", "[^/]*"), now.flags)  # only a whole-part `*` writes `[^/]+`
    return now.fullmatch("") is None and was.fullmatch("") is not None


@dataclass(frozen=True)
class Comparison(Kind):
    """`">= 4"`, `"<3"`, `4` (the same as `== 4`)."""

    def read(self, r: Reader, name: str, default: Any) -> tuple[str, int] | None:
        value = r.raw(name)
        if value is None:
            return default
        m = re.fullmatch(r"\s*(>=|<=|==|!=|=|>|<)?\s*(-?\d+)\s*", str(value)) if not isinstance(value, bool) else None
        if m is None or not -1 <= int(m.group(2)) <= 5:
            r.fail(name, f"must be a rating from -1 (rejected) to 5, with >=, <=, >, <, == or != before it "
                         f"(e.g. \">= 4\"), not {kind(value)}")
        return m.group(1) or "==", int(m.group(2))


@dataclass(frozen=True)
class ExifTags(Kind):
    """A mapping of EXIF tag names to globs (`LensModel: "*50mm*"`)."""

    def read(self, r: Reader, name: str, default: Any) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
        value = r.raw(name)
        if value is None:
            return default
        if not isinstance(value, dict) or not value:
            r.fail(name, f"must be a mapping of EXIF tag names to globs (LensModel: \"*50mm*\"), not {kind(value)}")
        out = []
        for tag, globs in value.items():
            found = exif_tags.canonical(str(tag))
            if found is None:
                meant = suggestion(str(tag), (*exif_tags.TAGS, *exif_tags.ALIASES))
                alias = f" ({exif_tags.ALIASES[meant]})" if meant in exif_tags.ALIASES else ""
                with recorded():
                    r.fail(f"{name}.{tag}", "unknown EXIF tag" + (f" (did you mean {meant!r}{alias}?)" if meant else "")
                           + f"; the names known (exiftool's): {exif_tags.known()}")
                continue
            items = globs if isinstance(globs, list) else [globs]
            if not items or not all(isinstance(i, (str, int, float)) and not isinstance(i, bool) for i in items):
                with recorded():
                    r.fail(f"{name}.{tag}", f"must be a glob or a list of them, not {kind(globs)}")
                continue
            for g in map(str, items):
                if (problem := _unreadable(g, path=False)) is not None:
                    with recorded():
                        r.fail(f"{name}.{tag}", problem)
            out.append((found, tuple(str(i) for i in items)))
        return tuple(out)

    def shown(self, default: Any) -> str:
        return "—"


@dataclass(frozen=True)
class Among(Choices):
    """Choices that may be left out (None)."""

    def read(self, r: Reader, name: str, default: Any) -> tuple:
        if not r.has(name):
            r.raw(name)
            return ()
        return super().read(r, name, ())


@dataclass(frozen=True)
class Conditions(Kind):
    """`any:` (a list of mappings of these entries) and `not:` (one): read by the section
    itself, recursively; declared for the README's table."""

    def read(self, r: Reader, name: str, default: Any) -> Any:
        return r.raw(name)


ORIENTATION = Among(c.ORIENTATIONS, "must be portrait, landscape or square, or a list of them")

KEYS = (
    Key("subfolder", Globs(empty=True), None,
        "globs on the file's folder under the inbox (\"\" at its top): `*` within a folder name (`*` alone is "
        "every folder directly in the inbox, not its top), `**` any depth; `clients/**` is clients and all below "
        "it, `products/*` each folder directly in products"),
    Key("name", Globs(), None, "globs on the file name, e.g. `\"*.cr3\"`, `\"IMG_*\"`"),
    Key("format", Among(INPUTS, "must be a source format or a list of them", aliases=FORMAT_ALIASES,
                           taken=FORMAT_NAMES, unlike=format_unlike), None,
        "source formats, by content: " + ", ".join(f"`{f}`" for f in INPUTS)),
    Key("orientation", ORIENTATION, None, "`portrait`, `landscape` or `square` (upright), or a list"),
    Key("min_width", Int(lo=1, hi=1_000_000), None, "upright source pixels, at least"),
    Key("min_height", Int(lo=1, hi=1_000_000), None, "upright source pixels, at least"),
    Key("max_width", Int(lo=1, hi=1_000_000), None, "upright source pixels, at most"),
    Key("max_height", Int(lo=1, hi=1_000_000), None, "upright source pixels, at most"),
    Key("camera", Globs(), None, "globs on the camera: make and model with the make once (`Canon EOS R5`, "
                                 "`SONY ILCE-7M4`), or EXIF's \"Make Model\" as written"),
    Key("exif", ExifTags(), None, "EXIF tag names to globs on their values as text: `{LensModel: \"*50mm*\", "
                                  "FNumber: \"1.4\"}`"),
    Key("keywords", Globs(), None, "any of these (globs), among the photo's keywords: XMP dc:subject, IPTC "
                                   "keywords, an XMP sidecar's"),
    Key("credit", Globs(), None, "globs on the credit line (XMP photoshop:Credit, else IPTC Credit), e.g. "
                                 "`\"*AFP*\"`: an agency's photos"),
    Key("artist", Globs(), None, "globs on the byline (XMP dc:creator, else IPTC By-line, else EXIF Artist), "
                                 "e.g. `\"*/Staff\"`"),
    Key("rating", Comparison(), None, "a comparison on the XMP rating (a sidecar's first): `\">= 4\"`, `\"< 2\"`, "
                                      "`5`; an unrated photo counts as 0, as in Lightroom"),
    Key("any", Conditions(), None, "a list of mappings of these entries: holds when one of them holds"),
    Key("not", Conditions(), None, "a mapping of these entries: holds when it does not hold"),
)


@section
def read(ctx, data: Any, path: str) -> c.When:
    r = Reader(ctx, data, path)
    values = read_keys(r, [k for k in KEYS if k.name not in ("any", "not")])
    nested: dict[str, Any] = {}
    if r.has("any"):
        options = r.raw("any")
        if not isinstance(options, list) or not options:
            with recorded():
                r.fail("any", f"must be a non-empty list of mappings of conditions, not {kind(options)}")
        else:
            built = [read(ctx, item, f"{r.key('any')}[{i}]") for i, item in enumerate(options)]
            options_read = tuple(b for b in built if b is not None)
            if len(options_read) == len(built):
                nested["any"] = c.AnyOf(options_read)
    if r.has("not"):
        inner = read(ctx, r.raw("not"), r.key("not"))
        if inner is not None:
            nested["not"] = c.Not(inner)
    r.used.update(("any", "not"))
    with recorded():
        _check_bounds(r, values)
    r.done(elsewhere={**levels.when(), **_tags_as_keys(r.data)})
    entries = [e for name in r.data if name in {k.name for k in KEYS} for e in _entries(name, values, nested)]
    if not entries and not r.skipped and not r.data:  # keys there, all unknown: done() said so
        r.fail("", "needs at least one condition: " + ", ".join(k.name for k in KEYS))
    return c.When(tuple(entries))


def _tags_as_keys(data: dict) -> dict[str, str]:
    """EXIF tag names written as keys of `when:` (`Model: "EOS R5"`), each with where it
    belongs: it was "unknown key" with the list of conditions, and no word of `exif:`."""
    out = {}
    for key in map(str, data):
        tag = exif_tags.canonical(key)
        if tag is None or key in {k.name for k in KEYS}:
            continue
        camera = ("`camera: \"Canon EOS*\"` (globs on make and model, the make once), or " if tag in ("Make", "Model")
                  else "")
        out[key] = f"an EXIF tag, not a condition: write {camera}`exif: {{{tag}: \"…\"}}` (globs on its value)"
    return out


def _entries(name: str, values: dict[str, Any], nested: dict[str, Any]) -> list[c.Entry]:
    """The entries of one key as written (in the YAML's order): `exif:` gives one per tag."""
    if name in nested:
        return [nested[name]]
    value = values.get(name)
    if value is None or value == ():
        return []
    if name == "exif":
        return [c.ExifTag(tag, globs) for tag, globs in value]
    if name in c.BOUNDS:
        return [c.Bound(name, value)]
    if name == "rating":
        return [c.Rating(*value)]
    if name in ("credit", "artist"):
        return [c.Byline(name, tuple(value))]
    simple: dict[str, Callable[[tuple[str, ...]], c.Entry]] = {
        "subfolder": c.Subfolder, "name": c.Name, "format": c.Format, "orientation": c.Orientation,
        "camera": c.Camera, "keywords": c.Keywords}
    return [simple[name](tuple(value))]


def _check_bounds(r: Reader, values: dict[str, Any]) -> None:
    for side in ("width", "height"):
        lo, hi = values.get(f"min_{side}"), values.get(f"max_{side}")
        if lo is not None and hi is not None and lo > hi and r.ok(f"min_{side}", f"max_{side}"):
            r.fail(f"min_{side}", f"is {lo}, above max_{side} ({hi}): no file could meet both")
