"""What a duplicate's record says of the earlier original (likeness.Match.as_json)."""
from __future__ import annotations

import json

from hotfolder.likeness import Kind, Match


def test_a_name_that_is_not_utf8_is_written_as_hex_escapes_never_a_failed_write():
    """Its raw surrogates made the record's UTF-8 write raise, in cluster and local mode alike."""
    match = Match(Kind.EXACT, "photos", "na\udcefve.jpg", "2026/na\udcefve.jpg", ("na\udcefve_web.jpg",), 0.0)
    said = match.as_json()
    assert (said["name"], said["archived"], said["outputs"]) == ("na\\xefve.jpg", "2026/na\\xefve.jpg",
                                                                  ["na\\xefve_web.jpg"])
    json.dumps(said, ensure_ascii=False).encode("utf-8")


def test_the_outputs_gone_are_counted_in_words_that_agree():
    """"1 of its 2 outputs are gone": one is."""
    one = Match(Kind.EXACT, "photos", "a.jpg", "", ("a_web.jpg", "a_sq.webp"), 0.0, gone=("a_sq.webp",))
    both = Match(Kind.EXACT, "photos", "a.jpg", "", ("a_web.jpg", "a_sq.webp"), 0.0, gone=("a_web.jpg", "a_sq.webp"))
    assert one.gone_said(None).startswith("1 of its 2 outputs is gone from the output folder; ")
    assert both.gone_said(None).startswith("2 of its 2 outputs are gone from the output folder; ")
