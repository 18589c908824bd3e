"""What a paste from a word processor, a web page or an email leaves in the YAML and YAML
reads without a word: typographic quotes (“…” ‘…’) around a value, which YAML takes as
part of the text (`filename: “{stem}.{ext}”` named every output `“IMG_1_web.jpg”`, a
`subfolder: ‘clients/*’` matched no folder), and a non-breaking or zero-width space at a
value's edge (`inbox: photos/inbox\u00a0` is a folder of another name). Each is found on
the YAML's plain (unquoted) scalars, keys too, and refused with the text to write; and a
YAML error near such a space says which line and column hold it.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import yaml

OPENING = "“”‘’„‚«»"  # what word processors put for " and ' (and the quotes of other languages)
# Spaces a paste brings that YAML does not take as a space: no-break, figure, narrow no-break,
# zero-width, ideographic, the BOM out of place.
ODD_SPACES = {"\u00a0": "a non-breaking space (U+00A0)", "\u2007": "a figure space (U+2007)",
              "\u202f": "a narrow non-breaking space (U+202F)", "\u200b": "a zero-width space (U+200B)",
              "\u3000": "an ideographic space (U+3000)", "\ufeff": "a zero-width no-break space (U+FEFF)",
              "\u2009": "a thin space (U+2009)"}
_KEY = re.compile(r"^\s*(?:-\s+)?([^\s:#'\"][^:#]*?)\s*:(?:\s|$)")


def events(text: str) -> tuple[yaml.Event, ...]:
    """The parser's events of `text` (which has parsed as YAML), read once for both looks below."""
    return tuple(yaml.parse(text, Loader=yaml.SafeLoader))


def problems(parsed: tuple[yaml.Event, ...], secret_keys: frozenset[str] = frozenset()
             ) -> Iterator[tuple[int, int, str, str]]:
    """(line, column, key, reason) of each typographic quote or odd space at the edge of an
    unquoted value or key, of the YAML's `events`. A value of `secret_keys` is not quoted."""
    for event, written in _keyed(parsed):
        key = written.lower()  # `Token:` is read as token (reader.in_lower_case): a secret, said so
        if event.style is not None or not event.value:
            continue
        value, mark = event.value, event.start_mark
        if mark is None:
            continue
        secret = key in secret_keys
        shown = "…" if secret else value
        if value[0] in OPENING or value[-1] in OPENING:
            inner = value.strip(OPENING)
            said = "…" if secret else inner.replace("\\", "\\\\").replace('"', '\\"')
            yield (mark.line + 1, mark.column + 1, key,
                   f"{shown!r} is in typographic quotes ({value[0] if value[0] in OPENING else value[-1]}), as a word "
                   f"processor writes them, which YAML takes as part of the text: write straight quotes, "
                   f"\"{said}\"" + ("" if secret else f", or, if the curly quotes belong in the text, '{value}'"))
            continue
        for at in (0, len(value) - 1):
            if value[at] in ODD_SPACES:
                yield (mark.line + 1, mark.column + 1, key,
                       f"{shown!r} {'starts' if at == 0 else 'ends'} with {ODD_SPACES[value[at]]}, pasted from a web "
                       "page or a word processor: delete it (or retype it as a plain space)")
                break


def _keyed(parsed: tuple[yaml.Event, ...]) -> Iterator[tuple[yaml.ScalarEvent, str]]:
    """Each scalar of the YAML with the key it is the value of (a key: its own name; an item of
    a list: its list's key), from the events, not the line: `http: {listen: …, token: “…”}`
    read as `http`'s put the token, no secret of its key, in the message whole."""
    stack: list[list] = []  # per open mapping or list: [is a mapping, key expected next, its key]
    for event in parsed:
        top = stack[-1] if stack else None
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            key = top[2] if top is not None else ""
            if top is not None and top[0]:
                top[1] = True  # this collection was the value: a key comes next
            stack.append([isinstance(event, yaml.MappingStartEvent), True, key])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            if top is not None and top[0] and top[1]:  # a key
                top[1], top[2] = False, str(event.value)
                yield event, str(event.value)
            else:
                if top is not None and top[0]:
                    top[1] = True
                yield event, top[2] if top is not None else ""
        elif isinstance(event, yaml.AliasEvent) and top is not None and top[0]:
            top[1] = not top[1]


# Keys whose value is free text (a watermark's, the metadata written): ` #` in it starts a comment.
TEXT_KEYS = frozenset({"text", "artist", "copyright", "credit", "usage_terms", "title", "description", "headline"})


def cut_by_comments(text: str, parsed: tuple[yaml.Event, ...]) -> Iterator[tuple[int, int, str, str]]:
    """(line, column, key, reason) of each unquoted free text that a ` #` on its line cut
    short: `text: © Studio #1 in town` marked photos `© Studio`, and check-config said OK.
    `parsed`: the events of `text`."""
    lines = text.splitlines()
    for event in parsed:
        if not isinstance(event, yaml.ScalarEvent) or event.style is not None or event.end_mark is None:
            continue
        mark, end = event.start_mark, event.end_mark
        if mark is None or mark.line != end.line or end.line >= len(lines):
            continue
        found = _KEY.match(lines[end.line])
        rest = lines[end.line][end.column:]
        if found is None or found.group(1).strip().lower() not in TEXT_KEYS or not rest.lstrip().startswith("#"):
            continue
        whole = (event.value + rest).strip().replace("\\", "\\\\").replace('"', '\\"')
        yield (mark.line + 1, mark.column + 1, found.group(1).strip().lower(),
               f"the text is {event.value!r}: YAML reads {rest.strip()!r} as a comment; if it belongs to the text, "
               f"quote it: {found.group(1).strip()}: \"{whole}\"")


def near(text: str, first: int, last: int) -> str:
    """`; line 10, column 1 holds a non-breaking space …` for the odd spaces on lines
    `first`..`last` (1-based), which a YAML error there may stem from; "" when none."""
    lines = text.splitlines()
    for number in range(max(first, 1), min(last, len(lines)) + 1):
        for column, char in enumerate(lines[number - 1], 1):
            if char in ODD_SPACES and (number, column, char) != (1, 1, "\ufeff"):  # a BOM is fine where it belongs
                return (f"; line {number}, column {column} holds {ODD_SPACES[char]} (pasted from a web page or a word "
                        "processor), which YAML does not read as a space: retype it as a plain space")
    return ""
