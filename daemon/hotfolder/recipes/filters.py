"""The filters a template field may pass through: `{camera|slug}`, `{stem|lower}`,
`{lens|default(no lens)}`. Each takes a text, or None for a value the photo lacks,
and gives a text or None; an empty text counts as missing, so `default` still applies
after a filter that left nothing (`{title|slug|default(untitled)}` on "東京").
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


@dataclass(frozen=True)
class Filter:
    name: str
    arg: str | None = None

    def apply(self, value: str | None) -> str | None:
        if self.name == "default":
            return self.arg if value is None else value
        if value is None:
            return None
        return FILTERS[self.name].run(value) or None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}({self.arg})"


@dataclass(frozen=True)
class Kind:
    run: Callable[[str], str]
    takes_arg: bool = False
    help: str = ""


FILTERS: dict[str, Kind] = {
    "slug": Kind(slug, help="web-safe ASCII: `Café Zoë #2` → `cafe-zoe-2`"),
    "lower": Kind(str.lower, help="lower case"),
    "upper": Kind(str.upper, help="upper case"),
    "default": Kind(lambda value: value, takes_arg=True, help="`default(text)`: this text when the photo has no "
                                                             "value (else the field is empty)"),
}
