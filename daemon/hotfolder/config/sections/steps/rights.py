"""Your rights in every output (engine/rights.py): set_metadata."""
from __future__ import annotations

import re
from typing import Any

from hotfolder.config.keys import Key, Step, read_keys
from hotfolder.config.model import SET_METADATA_KEYS, SetMetadata
from hotfolder.config.reader import Context, Reader, recorded, section
from hotfolder.config.template_values import Template, Templates
from hotfolder.config.values import Nested
from hotfolder.recipes.templates import METADATA_FIELDS


def _text_problem(value: str) -> str | None:
    if len(value) > 2000:
        return f"is {len(value)} characters; 2000 at most"
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        return "holds a control character, which XMP cannot carry; remove it"
    return None


def _each_problem(values: tuple[str, ...]) -> str | None:
    return next((problem for value in values if (problem := _text_problem(value))), None)


_TEXT = Template(METADATA_FIELDS)

_WRITTEN_AS = {
    "artist": "EXIF Artist, XMP dc:creator, IPTC-IIM By-line",
    "copyright": "EXIF Copyright, XMP dc:rights, IPTC-IIM Copyright Notice",
    "credit": 'XMP photoshop:Credit, the IPTC "Credit Line" (IIM Credit)',
    "usage_terms": "XMP xmpRights:UsageTerms",
    "title": "XMP dc:title, IPTC-IIM Object Name",
    "description": "XMP dc:description (the caption), EXIF ImageDescription, IPTC-IIM Caption",
    "headline": "XMP photoshop:Headline, IPTC-IIM Headline",
}

FIELD_KEYS = tuple(Key(name, _TEXT, None, f"written as {_WRITTEN_AS[name]}", check=_text_problem)
                   for name in SET_METADATA_KEYS if name != "keywords") + (
    Key("keywords", Templates(_TEXT), (), "a keyword or a list of them, added to the photo's own (XMP "
                                          "dc:subject; IPTC keywords and a sidecar's among them); "
                                          "`\"{keywords}\"` alone is each of the photo's (where `metadata` keeps none: "
                                          "copyright-only, strip-all)",
        check=_each_problem),
)


# A news desk's words (IPTC's) for set_metadata's keys: told the key each means (`creator`
# was told `credit`, the agency's line, by its spelling alone).
_MEANING = {"artist": "the byline (IPTC By-line, XMP dc:creator)",
            "description": "the caption (IPTC Caption, XMP dc:description)",
            "title": "the object name (IPTC Object Name, XMP dc:title)"}
NEWS_WORDS = {"byline": "artist", "by-line": "artist", "creator": "artist", "author": "artist",
              "photographer": "artist", "caption": "description", "caption-abstract": "description",
              "abstract": "description", "object_name": "title", "objectname": "title"}


@section
def read(ctx: Context, data: Any, path: str) -> SetMetadata:
    r = Reader(ctx, data, path)
    given = [key.name for key in FIELD_KEYS if r.has(key.name)]
    values = read_keys(r, FIELD_KEYS)
    for word in sorted(str(k) for k in r.data if str(k).lower() in NEWS_WORDS):
        meant = NEWS_WORDS[word.lower()]
        r.used.add(word)
        with recorded():
            r.fail(word, f"unknown key: {_MEANING[meant]} is `{meant}`")
    r.done()
    if not given and not r.data:  # (keys not known are said above, each)
        r.fail("", f"needs at least one of: {', '.join(SET_METADATA_KEYS)}")
    return SetMetadata(**values)


KEYS = (
    Key("set_metadata", Nested(read), None,
        "your rights and captions in every output, over whatever `metadata` keeps (with `strip-all`, only "
        "these): the keys below, each optional, each a template with the fields of a file name but the output's "
        "own (ext, width, height) and `{year}` (the year the photo was taken, as `{taken}` reads it but never "
        "from the file's time: a wire photo's IPTC date created counts; else the year EXIF says it was last "
        "saved; else this year), "
        "e.g. `copyright: \"© {year} Ann Smith\"`, `title: \"{title|default(Untitled)}\"`. EXIF holds only "
        "ASCII: `©` is written `(c)`, accents are dropped, and a text with a letter that has no ASCII "
        "spelling (Cyrillic, Chinese) is left out of EXIF, not written as `?`; XMP keeps the exact text. The "
        "source's XMP is edited, "
        "not duplicated: a field set here replaces its value there (keywords add to it), the rest stays; a "
        "packet that cannot be parsed is replaced (and the log says so, `rendition_note`). A JPEG output's "
        "IPTC-IIM (what newsroom systems and WordPress read first) holds the fields set here in place of the "
        "source's (by-line, credit, copyright notice, object name, caption, headline, and keywords: the photo's "
        "own and the ones set here, as XMP lists them), in UTF-8, so no reader sees the old ones; a source's "
        "IIM in another character set (Windows-1252) is converted to UTF-8 then; one without IIM gets one. "
        "JPEG, WebP, AVIF and PNG."),
)

STEP = Step("rights", KEYS)
