"""JSON read back from what others can write (failed/, a cluster's share, Redis): a JSON object
(a dict) or None, never an exception. Text that is not JSON (or not UTF-8) is a ValueError to
the parser, None a TypeError, and JSON nested past its recursion (100,000 `[`) a RecursionError:
each reader caught its own list of them, and an attack round found RecursionError missing from
ten of them (stdlib only: a leaf)."""
from __future__ import annotations

import json


def json_object(text: str | bytes | bytearray | None) -> dict | None:
    """`text` (bytes as UTF-8) as a JSON object, or None: not JSON, not an object, or nested
    past the parser."""
    try:
        if isinstance(text, bytes | bytearray):
            text = text.decode("utf-8")  # a UnicodeDecodeError is a ValueError
        value = json.loads(text)  # type: ignore[arg-type]  # None: a TypeError, read as nothing
    except (ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
