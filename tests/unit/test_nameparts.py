"""nameparts gives pathlib's answers (it replaced PurePosixPath in the worker's per-file path)."""
from __future__ import annotations

import itertools
from pathlib import PurePosixPath

from hotfolder import nameparts

# Every string of up to five of these pieces: dots, slashes (doubled, leading, trailing), a
# hidden name, a name ending in a dot, a name's undecodable byte as os.fsdecode gives it
PIECES = ("a", ".", "/", "b.", ".x", "é", "\udce9", "JPG", " ")


def test_every_answer_is_pathlibs():
    for size in range(1, 6):
        for text in map("".join, itertools.product(PIECES, repeat=size)):
            path = PurePosixPath(text)
            parent = path.parent.as_posix()
            assert (nameparts.name(text), nameparts.parent(text), nameparts.suffix(text), nameparts.stem(text)) == (
                path.name, "" if parent == "." else parent, path.suffix, path.stem), repr(text)
