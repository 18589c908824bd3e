"""The index of originals shared by the nodes of a cluster, in Redis (issue 23): two nodes
never both render the same bytes, and every node knows what every other rendered.

It answers the calls of state/originals.Originals (workers/duplicates.py uses either).
Keys, under the cluster's prefix (store.key_prefix), next to store.py's:

    hf:orig:seen, hf:orig:seen:<fid>  HASH content -> record id: the exact index (every folder, one)
    hf:orig:seen:<fid>:<sub> HASH the same, of one subfolder (<sub>: 16 hex of its name's BLAKE2b),
                             written only for a record whose scope is its subfolder (Entry.subdir:
                             duplicate_scope); records from before are not in it
    hf:orig:claim:<content>  STRING the job key rendering these bytes now, PX lease_ttl,
                             refreshed with the job's lease (tasks._Refresher: refresh_claims)
    hf:orig:rec              HASH id -> the record (JSON): folder, name, job, time, look, outputs, ...
    hf:orig:names            HASH "<fid>\\0<name>" -> the ids of its latest renderings (issue 26.2)
    hf:orig:phash            STRING append-only, 16 bytes a rendered record: pHash, id, folder id
    hf:orig:folders, :next, :nextfolder   ids; hf:orig:found  LIST the ids found to repeat one (newest first)
    hf:orig:stats            HASH "<folder>|<exact|similar|new_version|different_photo>" -> count
    hf:orig:epoch            set (NX) by the first mirror to look: gone when Redis lost its data

Each step is one Lua script, so a claim and its check are atomic across nodes. Measured at
1,000,000 records over a unix socket (DESIGN.md, "Duplicates"): claim 0.07 ms, record 0.11 ms,
a look-alike lookup 1.5 ms p50 (each process keeps a numpy mirror of `phash`, caught up with
GETRANGE from its offset: APPEND is atomic, so whole entries always arrive).

A node that dies while rendering stops refreshing its claim: it expires after lease_ttl and
the re-sent job claims the bytes anew. A job whose record was written but whose original was
not archived (killed between the two) finds its own record: it is dropped and the file
rendered again, not called a duplicate of itself.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hotfolder.cluster import leases
from hotfolder.jsondata import json_object
from hotfolder.likeness import Kind, Look, Match
from hotfolder.runtime import log

if TYPE_CHECKING:
    from hotfolder.cluster.mirror import SharedMirror
from hotfolder.state.originals import ACTIONS, LOOKALIKES, NAMED_LIMIT, RENDERED, Claim, Entry, Found, Named, Written

LOOKUP_BATCH = 64  # records read in one HMGET while looking for look-alikes

# ARGV[5]: a record id to take as absent (one that is not a record: record_of)
CLAIM = """
local id = redis.call('HGET', KEYS[1], ARGV[1])
if id and id ~= ARGV[5] then
  local rec = redis.call('HGET', KEYS[3], id)
  if rec then
    local ok, r = pcall(cjson.decode, rec)
    if not ok or type(r) ~= 'table' then r = {} end  -- not JSON, or not an object: no record
    if r['j'] == ARGV[2] then
      redis.call('HDEL', KEYS[3], id)
      redis.call('HDEL', KEYS[4], ARGV[1])
      redis.call('HDEL', KEYS[5], ARGV[1])
    elseif type(r['t']) == 'number' and r['t'] >= tonumber(ARGV[4]) then
      return {'duplicate', id}
    end
  end
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  local ttl = redis.call('PTTL', KEYS[2])  -- see leases.BOUND
  if ttl == -1 or ttl > CEILING then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
  return {'busy', holder}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {'new', ''}
""".replace("CEILING", str(leases.CEILING_MS))
# KEYS: next, rec, seen, seen:<fid>, names, phash, found, claim, seen:<fid>:<sub>
# ARGV: content, job, record json, rendered (1/0), name key, pHash + folder id (12 bytes) or '', found (1/0),
#       how many renderings of a name are kept, in a subfolder's seen hash too (1/0)
RECORD = """
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, ARGV[3])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[3], ARGV[1], id)
  redis.call('HSET', KEYS[4], ARGV[1], id)
  if ARGV[9] == '1' then redis.call('HSET', KEYS[9], ARGV[1], id) end
  local ids = redis.call('HGET', KEYS[5], ARGV[5])
  local list = tostring(id)
  if ids then
    local n = 1
    for other in string.gmatch(ids, '%d+') do
      if n < tonumber(ARGV[8]) then list = list .. ' ' .. other end
      n = n + 1
    end
  end
  redis.call('HSET', KEYS[5], ARGV[5], list)
  if ARGV[6] ~= '' then
    redis.call('APPEND', KEYS[6], ARGV[6] .. struct.pack('>I4', id))
  end
end
if ARGV[7] == '1' then
  redis.call('LPUSH', KEYS[7], id)
  redis.call('LTRIM', KEYS[7], 0, 9999)
end
if redis.call('GET', KEYS[8]) == ARGV[2] then redis.call('DEL', KEYS[8]) end
return id
"""
FOLDER = """
local id = redis.call('HGET', KEYS[1], ARGV[1])
if id and string.match(id, '^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?$') then return id end  -- else not one of ours: anew
id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], id)
return id
"""


class SharedOriginals:
    def __init__(self, client, prefix: str, ttl_ms: int):
        self.r = client
        self.p = prefix + "hf:orig:"
        self.ttl = ttl_ms
        self._claim = client.register_script(CLAIM)
        self._record = client.register_script(RECORD)
        self._release = client.register_script(leases.RELEASE)
        self._refresh = client.register_script(leases.REFRESH)
        self._folder = client.register_script(FOLDER)
        self._folders: dict[str, int] = {}
        self._held: dict[str, str] = {}  # content -> job key: the claims this process refreshes
        self._lock = threading.Lock()
        self._mirror: SharedMirror | None = None
        self._said: set[tuple[str, bytes]] = set()  # the unusable values logged (once each, per process)

    def _k(self, *parts: str) -> str:
        return self.p + ":".join(parts)

    def _subfolder(self, fid: int, subdir: str) -> str:
        """The seen hash of one subfolder of a folder."""
        return self._k("seen", str(fid), hashlib.blake2b(os.fsencode(subdir), digest_size=8).hexdigest())

    def folder_id(self, name: str) -> int:
        if name not in self._folders:
            self._folders[name] = int(self._folder(keys=[self._k("folders"), self._k("nextfolder")], args=[name]))
        return self._folders[name]

    # ------------------------------------------------------------------ claims
    def claim(self, content: str, job: int, path: Path, *, folder: str, scope_all: bool, since: float,
              subdir: str | None = None) -> Claim:
        fid = self.folder_id(folder)
        mine = self._k("seen", str(fid))
        seen = self._k("seen") if scope_all else mine if subdir is None else self._subfolder(fid, subdir)
        # KEYS: where to look, the claim, the records, both seen hashes (a record of this very job is
        # dropped; a subfolder's hash keeps its id, which then names no record: no match)
        keys = [seen, self._k("claim", content), self._k("rec"), self._k("seen"), mine]
        absent = ""
        for _ in range(2):
            verdict, other = self._claim(keys=keys, args=[content, str(job), self.ttl, since, absent])
            verdict = verdict.decode() if isinstance(verdict, bytes) else verdict
            if verdict != "duplicate":
                break
            match = self.match(self._id("seen", other), Kind.EXACT, 0)
            if match is not None:
                return Claim("duplicate", match)
            absent = other  # its record is not one (record_of): claimed as if it were not there
        else:
            return Claim("busy")  # the seen entry changed meanwhile: asked again
        if verdict == "new":
            with self._lock:
                self._held[content] = str(job)
        return Claim(verdict)

    def release(self, content: str, job: int) -> None:
        with self._lock:
            self._held.pop(content, None)
        self._release(keys=[self._k("claim", content)], args=[str(job)])

    def refresh_claims(self) -> None:
        """With the job's lease (tasks._Refresher): the claims of the render running here."""
        with self._lock:
            held = dict(self._held)
        for content, job in held.items():
            self._refresh(keys=[self._k("claim", content)], args=[job, self.ttl])

    # ------------------------------------------------------------------ records
    def record(self, e: Entry) -> int:
        look = e.look
        rec: dict[str, object] = {
            "f": e.folder, "n": _stored(e.name), "j": str(e.job), "t": e.time or time.time(), "s": e.state,
            "z": e.size, "c": e.content, "o": [_stored(o) for o in e.outputs],
            "a": None if e.archived is None else _stored(e.archived), "g": e.generation, "m": e.other, "b": e.bits}
        if look is not None:
            rec.update(p=look.phash, w=look.width, h=look.height, k=list(look.chroma))
        fid = self.folder_id(e.folder)
        entry = b""
        if look is not None:
            entry = look.phash.to_bytes(8, "big") + fid.to_bytes(4, "big")
        record = int(self._record(
            keys=[self._k("next"), self._k("rec"), self._k("seen"), self._k("seen", str(fid)), self._k("names"),
                  self._k("phash"), self._k("found"), self._k("claim", e.content),
                  self._subfolder(fid, e.subdir or "")],
            args=[e.content, str(e.job), json.dumps(rec, separators=(",", ":")), "1" if e.state == RENDERED else "0",
                  _name_key(fid, e.name), entry, "1" if e.other is not None else "0", NAMED_LIMIT,
                  "1" if e.subdir is not None else "0"]))
        with self._lock:
            self._held.pop(e.content, None)
        return record

    def archived(self, record: int, archived: str | None) -> None:
        rec = self._rec(record)
        if rec is not None:
            rec["a"] = _stored(archived) if archived else ""
            self.r.hset(self._k("rec"), record, json.dumps(rec, separators=(",", ":")))

    def count(self, folder: str, what: str) -> None:
        self.r.hincrby(self._k("stats"), f"{folder}|{what}", 1)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for field, n in self.r.hgetall(self._k("stats")).items():
            folder, _, what = (field.decode() if isinstance(field, bytes) else field).rpartition("|")
            count = self._id("stats", n, zero=True)
            if count is not None:
                out.setdefault(folder, {})[what] = count
        return out

    # ------------------------------------------------------------------ reading
    def _rec(self, record: int) -> dict | None:
        return self._usable(record, self.r.hget(self._k("rec"), record))

    def _usable(self, record: int, raw: bytes | None) -> dict | None:
        """The record, or None when it is absent or not one (record_of: logged once)."""
        rec = record_of(raw)
        if rec is None and raw is not None:
            self._unusable("rec", str(record).encode(), "HDEL <prefix>hf:orig:rec <id> (or `hotfolder index "
                           "rebuild` when many are)")
        return rec

    def _id(self, where: str, value: bytes | str | None, zero: bool = False) -> int | None:
        """A record id (or a count, `zero`) read from Redis, or None when it is not one (logged once)."""
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if text is not None and text.isascii() and text.isdigit() and len(text) < 19 and (zero or int(text) > 0):
            return int(text)
        if value is not None:
            self._unusable(where, text.encode() if text is not None else b"", "remove it from that key")
        return None

    def _unusable(self, where: str, value: bytes, action: str) -> None:
        if (where, value) not in self._said:
            self._said.add((where, value))
            log.get().warning("index_value_unusable", key=self._k(where), value=value[:80].decode(errors="replace"),
                              reason="not a value the nodes write (forged, or damaged): taken as absent",
                              action=action)

    def match(self, record: int | None, kind: Kind, bits: int) -> Match | None:
        rec = self._rec(record) if record is not None else None
        if record is None or rec is None:
            return None
        name, archived = _loaded(rec["n"]), rec.get("a")
        return Match(kind, rec["f"], name, name if archived is None else _loaded(archived), _outputs(rec), rec["t"],
                     bits, record)

    def known(self, content: str, folder: str, subdir: str | None = None) -> bool:
        fid = self.folder_id(folder)
        seen = self._k("seen", str(fid)) if subdir is None else self._subfolder(fid, subdir)
        return bool(self.r.hexists(seen, content))

    def named(self, folder: str, rel: str) -> list[Named]:
        ids = self.r.hget(self._k("names"), _name_key(self.folder_id(folder), rel))
        out = []
        for word in (ids or b"").split():
            record = self._id("names", word)
            rec = self._rec(record) if record is not None else None
            if record is not None and rec is not None:
                out.append(Named(record, _look(rec), rec.get("g", 0)))
        return out

    def next_generation(self, folder: str, rel: str) -> int:
        return max((n.generation for n in self.named(folder, rel)), default=-1) + 1

    def written(self, folder: str, rel: str, generation: int) -> list[Written]:
        """The records here keep no output hashes: an output whose owner record is missing is
        never proved a node's own (kept, as before; state/originals.Originals.written)."""
        return []

    def written_since(self, record: int, digest: bytes, folder: str, rel: str, generation: int) -> bool:
        return True

    def lookalikes(self, look: Look, bits: int, *, folder: str, scope_all: bool, since: float,
                   exclude: frozenset[int] = frozenset(), subdir: str | None = None) -> list[tuple[int, int, Look]]:
        from hotfolder.cluster.mirror import SharedMirror  # numpy: the nodes' render processes only

        if self._mirror is None:
            self._mirror = SharedMirror(self.r, self._k("phash"), self._k("epoch"))
        out: list[tuple[int, int, Look]] = []
        # Every hash within `bits`, closest first, until LOOKALIKES pass (state/originals says why)
        near = [(r, d) for r, d in self._mirror.near(look.phash, bits, None if scope_all else self.folder_id(folder),
                                                     limit=None) if r not in exclude]
        for start in range(0, len(near), LOOKUP_BATCH):
            batch = near[start:start + LOOKUP_BATCH]
            for (record, apart), raw in zip(batch, self.r.hmget(self._k("rec"), [r for r, _ in batch]), strict=True):
                rec = self._usable(record, raw)
                if rec is None or (subdir is not None and not scope_all
                                   and _loaded(rec["n"]).rpartition("/")[0] != subdir):
                    continue  # gone, or another subfolder's (duplicate_scope: subfolder)
                look_of = _look(rec) if rec["t"] >= since and rec.get("s") == RENDERED else None
                if look_of is not None:
                    out.append((record, apart, look_of))
                    if len(out) == LOOKALIKES:
                        return out
        return out

    def found(self, limit: int) -> list[Found]:
        out = []
        for word in self.r.lrange(self._k("found"), 0, limit - 1):
            record = self._id("found", word)
            rec = self._rec(record) if record is not None else None
            if record is None or rec is None:
                continue
            kind = Kind.EXACT if rec.get("b") is None else Kind.SIMILAR
            name = _loaded(rec["n"])
            out.append(Found(record, rec["f"], name, ACTIONS[rec["s"]], rec["t"], _loaded(rec.get("a") or name),
                             _outputs(rec), self.match(rec["m"], kind, rec.get("b") or 0)))
        return out


def _look(rec: dict) -> Look | None:
    if rec.get("p") is None:
        return None
    chroma = rec.get("k") or (0, 0)
    return Look(int(rec["p"]), rec.get("w") or 0, rec.get("h") or 0, (int(chroma[0]), int(chroma[1])))


MAX_GENERATION = 1_000_000  # far past any name's renderings: a number no node wrote (it names outputs: ~N)


def record_of(raw: bytes | str | None) -> dict | None:
    """An index record from its JSON, or None when it is not one: read as no record. The
    index is data anyone who can write to the Redis can change, as a job record is anyone's
    with the share (jobs.record_of): a value of the wrong type (`"t": "soon"`, `"p": "x"`)
    under a file's name was a ValueError that failed every good file of that name."""
    rec = json_object(raw)  # not JSON, not UTF-8, nested past the parser, or no object
    if rec is None:
        return None
    chroma, outputs = rec.get("k"), rec.get("o", [])
    ok = (isinstance(rec.get("f"), str) and _is_name(rec.get("n")) and _is_number(rec.get("t"))
          and type(rec.get("s")) is int and rec["s"] in ACTIONS and isinstance(rec.get("j", ""), str)
          and (rec.get("a") is None or rec.get("a") == "" or _is_name(rec.get("a")))
          and isinstance(outputs, list) and all(_is_name(o) for o in outputs)
          and _is_int(rec.get("g", 0), MAX_GENERATION) and _is_int(rec.get("m"), 2**63, none=True)
          and _is_int(rec.get("b"), 64, none=True) and _is_int(rec.get("p"), 2**64 - 1, none=True)
          and _is_int(rec.get("w"), 2**31, none=True) and _is_int(rec.get("h"), 2**31, none=True)
          and (chroma is None or isinstance(chroma, list) and len(chroma) == 2
               and all(_is_number(c) and abs(c) < 2**31 for c in chroma)))
    return rec if ok else None


def _is_int(value: object, most: int, none: bool = False) -> bool:
    if value is None:
        return none
    return type(value) is int and 0 <= value <= most


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _is_name(value: object) -> bool:
    """A name as _stored keeps it: text, or {"b64": its bytes}."""
    if isinstance(value, str):
        return True
    if not (isinstance(value, dict) and isinstance(value.get("b64"), str)):
        return False
    try:
        base64.b64decode(value["b64"], validate=True)
    except ValueError:  # binascii.Error
        return False
    return True


def shared(cluster) -> SharedOriginals:
    """The cluster's index, with a client of its own (never shared across a fork)."""
    from hotfolder.cluster.store import Store

    store = Store(cluster)
    return SharedOriginals(store.r, store.prefix, int(cluster.lease_ttl * 1000))


def found_in_cluster(config, limit: int) -> list[Found]:
    """`hotfolder duplicates` in cluster mode: what the nodes found, from Redis."""
    return shared(config.cluster).found(limit)


def _name_key(fid: int, name: str) -> bytes:
    """The names hash's field of a folder's file: a name is bytes, UTF-8 or not (a name
    that is not was a UnicodeEncodeError in redis-py, and its file failed in cluster mode
    alone: an attack round)."""
    return f"{fid}\0".encode() + os.fsencode(name)


def _stored(name: str) -> str | dict:
    """A name as a record's JSON holds it: as it is when it is UTF-8 text, else its bytes in
    base64. Lua's cjson (the scripts decode records) refuses the lone surrogates a name
    that is not UTF-8 decodes to: every later file of the index failed (an attack round)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return {"b64": base64.b64encode(os.fsencode(name)).decode("ascii")}
    return name


def _loaded(stored: str | dict) -> str:
    return os.fsdecode(base64.b64decode(stored["b64"])) if isinstance(stored, dict) else stored


def _outputs(rec: dict) -> tuple[str, ...]:
    return tuple(_loaded(o) for o in rec.get("o") or ())
