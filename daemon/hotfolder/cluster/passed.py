"""The rows of clips passed through (state/passed.py) of a cluster, in its Redis: a cluster's
head passes clips through itself, and keeps no state_dir database of the cluster's, so a card
dumped again into another subfolder found no twin and every clip was archived a second time.

Keys, under the cluster's prefix (store.key_prefix), beside originals.py's:

    hf:passed:<16 hex>   HASH: the clips archived under one name (case-folded: FAT cards) and
                         size (<16 hex>: BLAKE2b-64 of both, so no name is in a key; a collision
                         would only cost a comparison, every twin is compared in full):
                         field "<folder>\\0<path under its archive/>" (a place noted again is one
                         field) -> {"t": when, in seconds} (JSON), and "s": the subfolder it came
                         in when that is not the archived path's folder (names not UTF-8 as
                         {"b64": ...}, as originals.py stores them)

Bounds: a key keeps the CANDIDATES latest of its name and size (the lookup reads no more: a
key of more fields, or of a field or value larger than the head writes, is not read), and
expires its folder's `duplicate_window` after the last clip noted in it (the longest window
when several folders noted it; Redis's TTL, no pass of the head's); a row whose file is gone
is dropped when a lookup finds it so, as local mode's. One Lua script writes a row (HSET, the
trim, the TTL); a lookup is one script too (LOOKUP: HLEN, then HGETALL).

Redis away (ConnectionError, a timeout): `find` raises state/passed.Unreachable, and the clip
waits in the inbox (supervisor/passed_again.py): without its rows a copy would be archived
again. A row not written for it (Redis went between the lookup and the archive move, which
the row comes before: supervisor/ledger._pass_through) is kept in memory (the
UNWRITTEN latest) and written once Redis answers; a stop forgets those, which costs the
comparison of a later copy, never a file. For RETRY_AFTER seconds after a failure Redis is not
asked again (else each clip's lookup would wait out the timeout in the head's loop).
A value that is not one of ours (forged, or damaged: another type, not JSON) is read as absent
and said once with the key to clean (`index_value_unusable`, as the index's).

After Redis lost its data, `hotfolder index rebuild` lists the clips in archive/ again
(`listed`: the same script, keeping a row there; each clip's TTL counted from its archiving).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Iterable

import redis

from hotfolder.cluster.originals import _is_name, _is_number, _loaded, _stored
from hotfolder.cluster.store import key_prefix
from hotfolder.config.model import Cluster
from hotfolder.jsondata import json_object
from hotfolder.runtime import log
from hotfolder.state.passed import CANDIDATES, Listed, Row, Unreachable, chunks, name_key

TIMEOUT = 1.0  # seconds a connect or a reply may take (the head's main loop waits for it)
RETRY_AFTER = 5.0  # seconds without asking Redis after it failed
UNWRITTEN = 10_000  # rows kept while Redis is away (each ~300 bytes here)
SAID_AT_MOST = 1_000  # forged or damaged values said once each; past it, no more said (a flood of them)
AWAY = (redis.ConnectionError, redis.TimeoutError)

# KEYS[1]: the name and size's hash. ARGV: field, value, how many are kept, TTL (ms), and
# "1" to keep a row there (a listing: `listed`). The oldest beyond the bound goes (a value
# not ours first: time -1), never the one the head notes (a listed one may: the archive's
# order is no clip's age). 1 when the field was made, else 0.
NOTE = """
local made
if ARGV[5] == '1' then
  made = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
else
  made = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local over = redis.call('HLEN', KEYS[1]) - tonumber(ARGV[3])
if over > 0 then
  local all, rows = redis.call('HGETALL', KEYS[1]), {}
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[1] or ARGV[5] == '1' then
      local ok, r = pcall(cjson.decode, all[i + 1])
      local t = -1
      if ok and type(r) == 'table' and type(r['t']) == 'number' then t = r['t'] end
      table.insert(rows, {all[i], t})
    end
  end
  table.sort(rows, function(a, b) return a[2] < b[2] end)
  for i = 1, over do redis.call('HDEL', KEYS[1], rows[i][1]) end
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return made
"""
BATCH = 1000  # rows listed a round trip (`listed`: a pipeline)

# A lookup reads a key only when it is one the head could have written: at most MAX_FIELDS
# fields (it keeps CANDIDATES), each field and value at most MAX_BYTES (a path, and a subfolder
# in base64). A key forged larger was read whole by HGETALL in the head's main loop: 300,000
# fields took 13.9 s and 140 MB at the peak. ARGV: MAX_FIELDS, MAX_BYTES. Returns
# {-1, HLEN} unread, or {the first field too large (cut) or "", the fields and values kept}.
MAX_FIELDS = 4 * CANDIDATES
MAX_BYTES = 64 << 10
LOOKUP = """
local n = redis.call('HLEN', KEYS[1])
if n > tonumber(ARGV[1]) then return {-1, n} end
local all, out, big, most = redis.call('HGETALL', KEYS[1]), {}, '', tonumber(ARGV[2])
for i = 1, #all, 2 do
  if #all[i] <= most and #all[i + 1] <= most then
    table.insert(out, all[i])
    table.insert(out, all[i + 1])
  elseif big == '' then
    big = string.sub(all[i], 1, 200)
  end
end
return {big, out}
"""


class SharedPassed:
    """state/passed.Passed's calls, on a cluster's Redis (the head's main loop only)."""

    def __init__(self, client: redis.Redis, prefix: str, logger=None):
        self.r = client
        self.p = prefix + "hf:passed:"
        self.log = logger or log.get("cluster")
        self._note = client.register_script(NOTE)
        self._lookup = client.register_script(LOOKUP)
        self._unwritten: deque[tuple[str, bytes, str, int]] = deque(maxlen=UNWRITTEN)  # key, field, value, ttl
        self._away_until = 0.0  # monotonic: Redis is not asked before
        self._away_said = False
        self._said: set[tuple[str, bytes]] = set()  # unusable values said (once each; SAID_AT_MOST)
        self._dropped_said = False  # a row to write dropped past UNWRITTEN (said once a run)

    @classmethod
    def of(cls, cluster: Cluster) -> SharedPassed:
        """With a client of its own: short timeouts, as the head's loop waits for each call."""
        client = redis.Redis.from_url(cluster.broker_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        return cls(client, key_prefix(cluster))

    def close(self) -> None:
        self.r.close()

    def key(self, name: str, size: int) -> str:
        digest = hashlib.blake2b(name_key(name) + b"\0" + str(size).encode(), digest_size=8).hexdigest()
        return self.p + digest

    # ------------------------------------------------------------------ writing
    def note(self, folder: str, name: str, subdir: str, size: int, archived: str, *, window: float,
             now: float | None = None) -> None:
        """The clip `name` (as it came, in `subdir`) of `size` bytes was archived at `archived`
        under its folder's archive/; kept `window` seconds (its duplicate_window) after the last
        clip of its name and size. Never raises: while Redis is away it is written later."""
        row: dict[str, object] = {"t": round(time.time() if now is None else now)}
        if subdir != archived.rpartition("/")[0]:  # it is, unless a path_map or a future move says otherwise
            row["s"] = _stored(subdir)
        value = json.dumps(row, separators=(",", ":"))
        if len(self._unwritten) == self._unwritten.maxlen and not self._dropped_said:  # the oldest goes: said once
            self._dropped_said = True
            self.log.warning("passed_rows_dropped", kept=UNWRITTEN, reason=self._why,
                             action="a copy of a clip archived while Redis was away, dropped again into another "
                                    "subfolder, is archived again; check cluster.broker_url, then `hotfolder "
                                    "index rebuild` lists the archived clips into Redis again")
        self._unwritten.append((self.key(name, size), _field(folder, archived), value, max(1000, int(window * 1000))))
        self.flush()

    def flush(self) -> None:
        """Write the rows kept while Redis was away (each turn of the head's loop; cheap when none)."""
        while self._unwritten and self._reachable():
            key, field, value, ttl = self._unwritten[0]
            try:
                self._note(keys=[key], args=[field, value, CANDIDATES, ttl, 0])
            except redis.ResponseError as exc:
                if not _wrong_type(exc):  # Redis full (maxmemory), a denied command: kept, tried again
                    self._away(exc)
                    return
                self._unusable(key, b"", f"DEL {key}")  # not a hash (forged, or damaged): said; this row is lost
            except AWAY as exc:
                self._away(exc)
                return
            self._unwritten.popleft()
            self._back()

    def listed(self, folder: str, clips: Iterable[Listed], *, window: float, now: float | None = None,
               batch: int = BATCH) -> tuple[int, int, int]:
        """`hotfolder index rebuild` after Redis lost its data: the folder's archived clips
        (spool/archived_clips.py) as rows, each kept its `window` (duplicate_window) from when it
        was archived, as the head's; a row there already (the head's, with the subfolder the clip
        truly came in) is kept. `batch` rows a round trip. (made, there already, older than the
        window: left out). Raises redis's errors: the command says them."""
        now = time.time() if now is None else now
        made = kept = old = 0
        for chunk in chunks(clips, batch):
            pipe = self.r.pipeline(transaction=False)
            sent = 0
            for c in chunk:
                ttl = int((c.time + window - now) * 1000)
                if ttl <= 0:
                    old += 1
                    continue
                value = json.dumps({"t": round(c.time)}, separators=(",", ":"))
                self._note(keys=[self.key(c.name, c.size)], args=[_field(folder, c.archived), value, CANDIDATES,
                                                                   ttl, 1], client=pipe)
                sent += 1
            if sent:
                results = pipe.execute(raise_on_error=False)
                for r in results:
                    if isinstance(r, redis.ResponseError) and _wrong_type(r):
                        continue  # not a hash (forged, or damaged): said by the head's lookup; not listed
                    if isinstance(r, Exception):
                        raise r
                    made += int(r)
                    kept += 1 - int(r)
        return made, kept, old

    # ------------------------------------------------------------------ reading
    def find(self, name: str, size: int, *, folder: str | None, subdir: str | None) -> list[Row]:
        """As state/passed.Passed.find: the latest first, at most CANDIDATES. Unreachable when
        Redis is away (or was a moment ago)."""
        if not self._reachable():
            raise Unreachable(self._why)
        key = self.key(name, size)
        try:
            said, flat = self._lookup(keys=[key], args=[MAX_FIELDS, MAX_BYTES])
        except redis.ResponseError as exc:
            if not _wrong_type(exc):  # a command denied (the ACL): as away, said with its reason
                self._away(exc)
                raise Unreachable(self._why) from None
            self._unusable(key, b"", f"DEL {key}")  # not a hash
            return []
        except AWAY as exc:
            self._away(exc)
            raise Unreachable(self._why) from None
        self._back()
        if said == -1:  # more fields than the head ever keeps: forged, not read
            self._unusable(key, b"", f"DEL {key}")
            return []
        if said:  # a field or value larger than the head writes: passed over
            self._unusable(key, said, f"HDEL {key} <that field> (or DEL {key})")
        rows: list[tuple[float, Row]] = []
        for field, raw in zip(flat[::2], flat[1::2], strict=True):
            read = self._row(key, field, raw)
            if read is None:
                continue
            row = read[1]
            if (folder is None or row.folder == folder) and (subdir is None or folder is None or row.subdir == subdir):
                rows.append(read)
        rows.sort(key=lambda r: r[0], reverse=True)
        return [row for _, row in rows[:CANDIDATES]]

    def drop(self, row: Row) -> None:
        """Forget `row` (its file is gone, or is another now). Never raises: a row not dropped
        now is looked at again by the next lookup of its name."""
        if not row.key.startswith(self.p) or not self._reachable():
            return
        try:
            self.r.hdel(row.key, _field(row.folder, row.archived))
        except AWAY as exc:
            self._away(exc)
        except redis.ResponseError:
            pass  # not a hash: said by the lookup that found it

    def _row(self, key: str, field: bytes | str, raw: bytes | str) -> tuple[float, Row] | None:
        field = field.encode("utf-8", "surrogateescape") if isinstance(field, str) else field  # redis-py: bytes
        folder, sep, archived = field.rpartition(b"\0")
        value = json_object(raw)
        when = value.get("t") if value is not None else None
        if not sep or value is None or not _is_number(when) or not _is_name(value.get("s", "")):
            self._unusable(key, field, f"HDEL {key} <that field> (or DEL {key})")
            return None
        assert isinstance(when, int | float), "_is_number"
        at = os.fsdecode(archived)
        subdir = _loaded(value["s"]) if "s" in value else at.rpartition("/")[0]
        return float(when), Row(os.fsdecode(folder), at, subdir, key)

    # ------------------------------------------------------------------ Redis away
    _why = "Redis does not answer"

    def _reachable(self) -> bool:
        return time.monotonic() >= self._away_until

    def _away(self, exc: BaseException) -> None:
        self._away_until = time.monotonic() + RETRY_AFTER
        self._why = f"{type(exc).__name__}: {exc}"
        if not self._away_said:
            self._away_said = True
            self.log.warning("passed_rows_unreachable", reason=self._why,  # redis-py says no password
                             action="clips to pass through wait in the inbox until Redis answers (without the "
                                    "records of clips archived, a card dumped again would be archived again); "
                                    "check cluster.broker_url")

    def _back(self) -> None:
        if self._away_said:
            self._away_said = False
            self.log.info("passed_rows_reachable", reason="Redis answers again: clips are passed through again")

    def _unusable(self, key: str, field: bytes, action: str) -> None:
        if (key, field) not in self._said and len(self._said) < SAID_AT_MOST:  # forged keys: bounded
            self._said.add((key, field))
            self.log.warning("index_value_unusable", key=key, field=os.fsdecode(field)[:80] or None,
                             reason="not a record of a clip the head writes (forged, or damaged): taken as absent",
                             action=action)


def _wrong_type(exc: redis.ResponseError) -> bool:
    """The key is not a hash (forged, or damaged), not Redis refusing the command."""
    return str(exc).startswith("WRONGTYPE")


def _field(folder: str, archived: str) -> bytes:
    """A row's place: its folder's name and its path under that archive/ (no path holds NUL)."""
    return os.fsencode(folder) + b"\0" + os.fsencode(archived)
