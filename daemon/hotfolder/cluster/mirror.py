"""Each node process's copy of the cluster's perceptual hashes (cluster/originals.py), as
state/mirror.py is of a daemon's: an XOR and a popcount over every hash per lookup.

Fed from the append-only `hf:orig:phash` string: one MULTI per lookup sets the epoch if it
is missing (NX), reads it, and reads what was appended since our offset (GETRANGE). A new
epoch means Redis lost its data (restarted without AOF, flushed): the mirror starts over.
16 bytes an entry: pHash (u64), folder id (u32), record id (u32), big-endian.
"""
from __future__ import annotations

import os

import numpy as np

from hotfolder.state.mirror import Columns, nearest

ENTRY = np.dtype([("phash", ">u8"), ("folder", ">u4"), ("id", ">u4")])


class SharedMirror:
    def __init__(self, client, key: str, epoch_key: str):
        self.r, self.key, self.epoch_key = client, key, epoch_key
        self._reset(None)

    def _reset(self, epoch) -> None:
        self.epoch, self.offset = epoch, 0
        self.rows = Columns(np.int64)

    def catch_up(self) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.epoch_key, os.urandom(8).hex(), nx=True)
        pipe.get(self.epoch_key)
        pipe.getrange(self.key, self.offset, -1)
        _, epoch, tail = pipe.execute()
        if epoch != self.epoch:
            self._reset(epoch)
            tail = self.r.getrange(self.key, 0, -1)
        tail = tail[: len(tail) // ENTRY.itemsize * ENTRY.itemsize]
        if tail:
            a = np.frombuffer(tail, dtype=ENTRY)
            self.rows.extend(a["id"].astype(np.int64), a["folder"].astype(np.int64), a["phash"].astype(np.uint64))
            self.offset += len(tail)

    def near(self, phash: int, bits: int, folder: int | None, limit: int | None = 8) -> list[tuple[int, int]]:
        self.catch_up()
        return nearest(self.rows.ids, self.rows.folders, self.rows.hashes, phash, bits, folder, limit)
