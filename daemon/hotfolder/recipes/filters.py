"""The filters a template field may pass through: `{camera|slug}`, `{stem|lower}`,
`{lens|default(no lens)}`. Each takes a text, or None for a value the photo lacks,
and gives a text or None; an empty text counts as missing, so `default` still applies
after a filter that left nothing (`{title|slug|default(untitled)}` on "東京").

An item filter (`first`, `last`, `pick`) takes one of a field's items: `{subdir|last}` the
last folder (`shoes/Neue Kollektion` → `Neue Kollektion`), `{keywords|pick(SKU-*)}` the
first keyword the glob matches. It gives a part of the value, never more: no `/` of a
path, no text the field did not hold; a path's own cleaning (templates.py) still applies.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# Letters NFKD does not take apart into a base letter and its accent.
_LETTERS = {"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l",
            "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i"}


def slug(text: str) -> str:
    """Web-safe ASCII: accents dropped (`Müller` → `muller`, as Django's and most CMSs'
    slugify), `ß` → `ss`, lower case, every run of anything but a-z and 0-9 one `-`,
    none at either end. `Hochzeit Müller #3` → `hochzeit-muller-3`."""
    spelt = "".join(_LETTERS.get(c, c) for c in text)
    plain = "".join(c for c in unicodedata.normalize("NFKD", spelt) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def picked(items: list[str], glob: str | None) -> str:
    """The first item `glob` matches, as `when: keywords:` matches (case aside); "" if none."""
    from hotfolder.recipes.conditions import glob_matches  # conditions reads facts, which reads templates

    return next((item for item in items if glob is not None and glob_matches(glob, item)), "")


class Items(str):
    """A field's text (`{keywords}`: joined by `, `) that keeps its items as they were: an
    item filter takes them whole (a keyword `Paris, France` was cut in two: a review)."""

    items: tuple[str, ...]
    sep: str

    def __new__(cls, items: tuple[str, ...], sep: str) -> Items:
        text = super().__new__(cls, sep.join(items))
        text.items, text.sep = tuple(items), sep
        return text

    def __reduce__(self):  # pickled as it was made (a str's own way calls __new__ with the text)
        return Items, (self.items, self.sep)


@dataclass(frozen=True)
class Filter:
    name: str
    arg: str | None = None
    sep: str = ""  # an item filter's: what parts its field's text into items (`/` of {subdir})

    def apply(self, value: str | None) -> str | None:
        if self.name == "default":
            return self.arg if value is None else value
        if value is None:
            return None
        kind = FILTERS[self.name]
        if kind.pick is not None:
            items = value.items if isinstance(value, Items) else value.split(self.sep)
            return kind.pick(list(items), self.arg) or None
        return kind.run(value) or None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}({self.arg})"


@dataclass(frozen=True)
class Kind:
    run: Callable[[str], str] = str
    takes_arg: bool = False
    help: str = ""
    pick: Callable[[list[str], str | None], str] | None = None  # an item filter's: which item it gives
    example: str = "unknown"  # what the parentheses of one that takes an argument hold, for a message

    @property
    def items(self) -> bool:
        return self.pick is not None


FILTERS: dict[str, Kind] = {
    "slug": Kind(slug, help="web-safe ASCII: `Café Zoë #2` → `cafe-zoe-2`"),
    "lower": Kind(str.lower, help="lower case"),
    "upper": Kind(str.upper, help="upper case"),
    "default": Kind(lambda value: value, takes_arg=True, help="`default(text)`: this text when the photo has no "
                                                             "value (else the field is empty)"),
    "first": Kind(pick=lambda items, _: items[0], help="the first item: `{subdir|first}` of `shoes/Neue "
                                                        "Kollektion` is `shoes`"),
    "last": Kind(pick=lambda items, _: items[-1], help="the last item: `{subdir|last}` of `shoes/Neue "
                                                       "Kollektion` is `Neue Kollektion`"),
    "pick": Kind(pick=picked, takes_arg=True, example="SKU-*",
                 help="`pick(glob)`: the first item the glob matches (case aside): `{keywords|pick(SKU-*)}`"),
}
