"""A mirror's rows grow in place (state/mirror.Columns) and read as the rows appended, in order."""
from __future__ import annotations

import numpy as np

from hotfolder.state.mirror import Columns, nearest


def test_rows_read_as_appended_across_growths():
    rng = np.random.default_rng(7)
    columns, ids, folders, hashes = Columns(np.int32), [], [], []
    for _ in range(3000):  # batches of 0-4 rows, as catch-ups bring them: past several growths
        n = int(rng.integers(0, 5))
        batch = (np.arange(len(ids), len(ids) + n, dtype=np.int64), rng.integers(0, 3, n).astype(np.int32),
                 rng.integers(0, 2**63, n).astype(np.uint64))
        columns.extend(*batch)
        for into, part in zip((ids, folders, hashes), batch, strict=True):
            into.extend(part.tolist())
        assert columns.size == len(ids)
    assert columns.ids.tolist() == ids and columns.folders.tolist() == folders and columns.hashes.tolist() == hashes
    # a lookup sees the rows only, never the room kept past them
    assert len(columns.hashes) < len(columns._hashes)
    assert nearest(columns.ids, columns.folders, columns.hashes, hashes[-1], 0, None, None)[0] == (ids[-1], 0)
