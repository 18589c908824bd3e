"""The cluster's index of originals forgets what is older than each folder's
duplicate_window, as local mode's does (supervisor/duplicates.forget_old): the head, once
an hour, in bounded steps.

In cluster mode there is no index_dir, so forget_old skipped the shared index and Redis
kept ~730 bytes an original for ever (`rec`, `seen`, `seen:<fid>`, `names`, `phash`: keys
in cluster/originals.py). A pass walks `hf:orig:rec` with HSCAN, BATCH records a step, one
step a poll of the head (never the loop held for a whole pass), and forgets a record older
than its folder's window with one Lua script (FORGET): its record, the seen hashes' fields
that still name it, and its id in its name's list. When the pass is over, `phash` is
written again without the entries of records that are gone (WATCH: a node's APPEND in
between makes it try again) under a new epoch, so each node's mirror loads it anew, as
local mode bumps its epoch when it forgets rows.

Records of a folder the config lacks are kept (their window is not known), as local mode
keeps the rows of folders it no longer has. A record is data: one that is not JSON, or
has no folder or time, is left alone.
"""
from __future__ import annotations

import os
import struct
import time

from redis.exceptions import WatchError

from hotfolder.cluster.originals import SharedOriginals, _loaded, _name_key
from hotfolder.jsondata import json_object

FORGET_EVERY = 3600.0  # seconds between two passes (supervisor/duplicates.py's)
BATCH = 1000  # records looked at in one step (4 a second: a million records in ~4 minutes)
MAX_ID = 1 << 28  # ids past this are kept in phash: `next` is data, its bitmap stays within 32 MiB
ENTRY = struct.Struct(">QII")  # a phash entry: pHash, folder id, record id (cluster/mirror.py)
COMPACT_TRIES = 3

# KEYS: rec, seen, names, then per record: seen:<fid>, seen:<fid>:<sub>
# ARGV: per record: id, content, name key. Returns, per record, 1 if it was forgotten now.
FORGET = """
local gone = {}
for i = 0, #ARGV / 3 - 1 do
  local id, content, name = ARGV[i * 3 + 1], ARGV[i * 3 + 2], ARGV[i * 3 + 3]
  table.insert(gone, redis.call('HDEL', KEYS[1], id))
  for _, seen in ipairs({KEYS[2], KEYS[4 + i * 2], KEYS[5 + i * 2]}) do
    if redis.call('HGET', seen, content) == id then redis.call('HDEL', seen, content) end
  end
  local ids = redis.call('HGET', KEYS[3], name)
  if ids then
    local kept = {}
    for other in string.gmatch(ids, '%d+') do
      if other ~= id then table.insert(kept, other) end
    end
    if #kept == 0 then redis.call('HDEL', KEYS[3], name)
    else redis.call('HSET', KEYS[3], name, table.concat(kept, ' ')) end
  end
end
return gone
"""


class Forgetting:
    """One pass at a time, a step per call; `step` never raises (the head's loop calls it)."""

    def __init__(self, index: SharedOriginals, log):
        self.index, self.log = index, log
        self._forget = index.r.register_script(FORGET)
        self.next_pass = 0.0  # monotonic: the first pass at the head's start
        self.cursor: int | None = None  # None: no pass under way
        self.cutoffs: dict[str, float] = {}  # folder -> records before this time are forgotten
        self.windows: dict[str, float] = {}
        self.last = 0  # the last record id when the pass began: later ones are kept in phash
        self.kept = bytearray()  # a bit per id up to `last`: its record was seen and kept
        self.gone: dict[str, int] = {}

    def step(self, windows: dict[str, float], now: float) -> None:
        """`windows`: each folder's duplicate_window (seconds)."""
        try:
            if self.cursor is None:
                if now < self.next_pass:
                    return
                self._begin(windows)
            self._batch()
            if self.cursor == 0:
                self._end(now)
        except Exception as exc:  # noqa: BLE001 - Redis away: this pass is dropped, the next hour tries again
            self.log.warning("index_forget_failed", reason=f"{type(exc).__name__}: {exc}")
            self.cursor, self.next_pass = None, now + FORGET_EVERY

    def _begin(self, windows: dict[str, float]) -> None:
        now = time.time()
        self.windows = dict(windows)
        self.cutoffs = {folder: now - window for folder, window in windows.items()}
        last = self.index.r.get(self.index._k("next"))
        self.last = min(int(last), MAX_ID) if last is not None and last.isdigit() else 0
        self.kept = bytearray(self.last // 8 + 1)
        self.cursor, self.gone = 0, {}

    def _batch(self) -> None:
        cursor, found = self.index.r.hscan(self.index._k("rec"), self.cursor or 0, count=BATCH)
        old: list[tuple[int, dict]] = []
        for key, raw in found.items():
            record, rec = _record(key, raw)
            if record is None:
                continue
            folder, t = rec.get("f"), rec.get("t")
            cutoff = self.cutoffs.get(folder) if isinstance(folder, str) else None
            if cutoff is not None and isinstance(t, int | float) and t < cutoff and isinstance(rec.get("c"), str):
                old.append((record, rec))
            elif record <= self.last:
                self.kept[record >> 3] |= 1 << (record & 7)
        if old:
            self._forget_these(old)
        self.cursor = int(cursor)

    def _forget_these(self, old: list[tuple[int, dict]]) -> None:
        keys = [self.index._k("rec"), self.index._k("seen"), self.index._k("names")]
        args: list[str | bytes] = []
        for record, rec in old:
            name = _loaded(rec["n"]) if isinstance(rec.get("n"), str | dict) else ""
            fid = self.index.folder_id(rec["f"])
            keys += [self.index._k("seen", str(fid)), self.index._subfolder(fid, name.rpartition("/")[0])]
            args += [str(record), rec["c"], _name_key(fid, name)]
        for (_, rec), forgotten in zip(old, self._forget(keys=keys, args=args), strict=True):
            if forgotten:  # not a record HSCAN returned twice
                self.gone[rec["f"]] = self.gone.get(rec["f"], 0) + 1

    def _end(self, now: float) -> None:
        self.cursor, self.next_pass = None, now + FORGET_EVERY
        if not self.gone:
            return
        for folder, rows in sorted(self.gone.items()):
            self.log.info("index_forgot", folder=folder, rows=rows, window_s=self.windows.get(folder), where="redis")
        self._compact()

    def _compact(self) -> None:
        """`phash` without the entries of records that are gone, under a new epoch."""
        key, epoch = self.index._k("phash"), self.index._k("epoch")
        for _ in range(COMPACT_TRIES):
            with self.index.r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    kept = self._kept_entries(pipe.get(key) or b"")
                    pipe.multi()
                    pipe.set(key, kept)
                    pipe.set(epoch, os.urandom(8).hex())  # every node's mirror loads phash anew
                    pipe.execute()
                    return
                except WatchError:  # a node appended meanwhile
                    continue
        self.log.warning("index_compact_skipped", reason=f"the nodes wrote to the index {COMPACT_TRIES} times while "
                         "it was compacted: the look-alike hashes of forgotten records stay until the next pass")

    def _kept_entries(self, data: bytes) -> bytes:
        """The entries of records kept (seen in the pass), and of records made since it began."""
        out = bytearray()
        whole = len(data) // ENTRY.size * ENTRY.size
        for at, (_, _, record) in zip(range(0, whole, ENTRY.size), ENTRY.iter_unpack(data[:whole]), strict=True):
            if record > self.last or self.kept[record >> 3] >> (record & 7) & 1:
                out += data[at:at + ENTRY.size]
        return bytes(out)


def _record(key: bytes | str, raw: bytes | str) -> tuple[int | None, dict]:
    """A record's id and its JSON, as data: None for a field that is no id; {} for a record
    that is not JSON (kept: never forgotten, never dropped from phash)."""
    try:
        record = int(key)
    except ValueError:
        return None, {}
    return (record, json_object(raw) or {}) if record > 0 else (None, {})
