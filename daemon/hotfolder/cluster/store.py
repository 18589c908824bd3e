"""Our own Redis keys, next to Celery's, under the same per-cluster prefix.

    <prefix>hf:lease:<job>     who renders the job now ("node|host|pid|nonce"), with a TTL
    <prefix>hf:enqueued        hash job -> when the head last sent it (for the reconciler)
    <prefix>hf:stats:processed, <prefix>hf:stats:failed    cluster-wide counts
    <prefix>hf:stats:processed:by_folder (and failed)      the same per folder name (hash)
    <prefix>hf:node:<name>     a node's config versions ({folder: version}), with a TTL (versions.py)
    <prefix>hf:refused         hash "job|node" -> why that node refused the job (the head sends it again)
    <prefix>hf:stats:refused   jobs refused by nodes (another config version, no such folder)
    <prefix>hf:mark            set by the head, never expiring: gone when Redis lost its data
    <prefix>hf:orig:…          the index of originals (originals.py)
    <prefix>hf:passed:…        the head's records of clips passed through (passed.py)

A lease is refreshed by a thread of the process that renders; it dies with it. A
refresh re-creates a lease that vanished (Redis restarted without persistence), so
a running render keeps its lease across a Redis restart.
"""
from __future__ import annotations

import functools
import json
import math
import os
import secrets
import socket
from dataclasses import dataclass

import redis

from hotfolder.cluster import leases
from hotfolder.cluster.jobs import is_job_id
from hotfolder.config.model import Cluster
from hotfolder.jobs import Verdict
from hotfolder.jsondata import json_object
from hotfolder.recipes.sequence import HELD_FOR
from hotfolder.runtime import log

_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")  # kombu's Redis priority lists
QUEUE_LOOK = 5000  # messages read at most to know which jobs are queued (Store.queued_jobs)


def key_prefix(cluster: Cluster) -> str:
    """Celery's `global_keyprefix` and ours: one namespace per cluster in a shared Redis."""
    return f"hotfolder:{cluster.cluster_id}:"


def _time(value: bytes | str | None) -> float | None:
    """A time we wrote (repr of a float); None, as if never sent, for anything else: one
    value forged or damaged ("not-a-time", "inf") stopped every re-send (an attack round)."""
    try:
        when = float(value) if value is not None else None
    except ValueError:
        return None
    return when if when is not None and math.isfinite(when) else None


def _number(value: bytes | str | None) -> int | None:
    """A held `{seq}` as the nodes write it; None for anything else (read as not held)."""
    text = _text(value) if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _text(value: bytes | str) -> str:
    """A Redis reply as text (bytes, as this client is made, unless decode_responses)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value  # a forged value: data


@functools.cache
def machine() -> str:
    """This machine and the processes it sees: its host name, this boot's id, and our PID
    namespace. By host name alone, two machines of one name (cloned VMs, containers given
    one --hostname) each took the other's live leases as dead, their pids not in its own
    /proc, and rendered the job twice (an attack round)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}@{boot}:{namespace}"


@dataclass(frozen=True)
class Holder:
    node: str
    host: str
    pid: int
    nonce: str

    def __str__(self) -> str:
        return f"{self.node}|{self.host}|{self.pid}|{self.nonce}"

    @classmethod
    def here(cls, node: str) -> Holder:
        return cls(node, machine(), os.getpid(), secrets.token_hex(4))

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        parts = text.split("|")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    def surely_dead(self) -> bool:
        """Only provable on our own machine, seeing the holder's processes: its process is
        gone (or a zombie). The machine is told by more than its host name (machine())."""
        if self.host != machine():
            return False
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
        except (OSError, IndexError):
            return True


class Store:
    def __init__(self, cluster: Cluster, client: redis.Redis | None = None):
        self.cluster = cluster
        self.prefix = key_prefix(cluster)
        self.r = client or redis.Redis.from_url(cluster.broker_url, socket_timeout=5,
                                                socket_connect_timeout=5, health_check_interval=10)
        self._refresh = self.r.register_script(leases.REFRESH)
        self._swap = self.r.register_script(_SWAP)
        self._release = self.r.register_script(leases.RELEASE)
        self._bound = self.r.register_script(leases.BOUND)
        self._said: set[tuple[str, str]] = set()  # the unusable counts logged (once each)

    def _k(self, *parts: str) -> str:
        return self.prefix + "hf:" + ":".join(parts)

    @property
    def ttl_ms(self) -> int:
        return int(self.cluster.lease_ttl * 1000)

    def mark_data(self) -> bool:
        """Set the head's mark, if absent; True when it was absent: Redis lost its data since
        the last call (restarted without appendonly, flushed), or this is the first."""
        return bool(self.r.set(self._k("mark"), "1", nx=True))

    # leases
    def acquire(self, job: str, me: Holder) -> Holder | None:
        """Take the job's lease. Returns None when we hold it, else the live holder.
        A holder provably dead on this machine is replaced at once; a lease without a
        TTL is given one (leases.BOUND)."""
        key = self._k("lease", job)
        for _ in range(3):
            if self.r.set(key, str(me), nx=True, px=self.ttl_ms):
                return None
            current = self.r.get(key)
            if current is None:
                continue  # expired between the two calls
            self._bound(keys=[key], args=[current, self.ttl_ms])  # the value as stored, whatever its bytes
            text = _text(current)
            other = Holder.parse(text)
            if other is not None and other.surely_dead():
                if self._swap(keys=[key], args=[text, str(me), self.ttl_ms]):
                    return None
                continue
            return other or Holder("?", "?", 0, text)
        return Holder("?", "?", 0, "contended")

    def refresh(self, job: str, me: Holder) -> bool:
        return bool(self._refresh(keys=[self._k("lease", job)], args=[str(me), self.ttl_ms]))

    def release(self, job: str, me: Holder) -> None:
        self._release(keys=[self._k("lease", job)], args=[str(me)])

    def leases(self) -> dict[str, Holder]:
        out = {}
        prefix = self._k("lease", "")
        for key in self.r.scan_iter(match=prefix + "*", count=500):
            value = self.r.get(key)
            holder = Holder.parse(_text(value)) if value else None
            if holder is not None:
                out[_text(key)[len(prefix):]] = holder
        return out

    # enqueue times
    def sent(self, job: str, when: float) -> None:
        self.r.hset(self._k("enqueued"), job, repr(when))

    def sent_at(self, jobs: list[str]) -> dict[str, float | None]:
        if not jobs:
            return {}
        values = self.r.hmget(self._k("enqueued"), jobs)
        return {j: _time(v) for j, v in zip(jobs, values, strict=True)}

    def forget(self, job: str) -> None:
        self.r.hdel(self._k("enqueued"), job)

    def prune_sent(self, live: set[str]) -> None:
        stale = [_text(j) for j in self.r.hkeys(self._k("enqueued")) if _text(j) not in live]
        if stale:
            self.r.hdel(self._k("enqueued"), *stale)

    # `{seq}` (recipes/sequence.py): one INCR, atomic across every node
    def next_number(self, folder: str, holder: int | None = None) -> int:
        """The folder's next `{seq}`; one held for `holder` (recipes/sequence.py) is its again."""
        if holder is None:
            return self._incr(folder)
        key = self._k("seq", folder, "held", str(holder))
        raw = self.r.get(key)
        if (held := _number(raw)) is not None:
            return held
        if raw is not None:
            self.r.delete(key)  # forged or damaged: the file holds a number of its own instead
        number = self._incr(folder)
        if self.r.set(key, number, nx=True, ex=int(HELD_FOR)):
            return number
        return _number(self.r.get(key)) or number  # another attempt took one first: that one (this one is spent)

    def _incr(self, folder: str) -> int:
        """INCR of the folder's counter. A value that is not a number (set by hand, or damaged)
        is the folder's problem, not the file's: the files wait, and the admin is told the
        key and the two ways out (it was a ResponseError said as the index being unusable)."""
        key = self._k("seq", folder)
        try:
            return int(self.r.incr(key))
        except redis.ResponseError:  # not a number, another type, or at INCR's largest (2**63 - 1)
            from hotfolder.engine.errors import RecipeError  # here: the head imports this module, not Pillow
            found = self.r.type(key)
            shown = _text(self.r.get(key) or b"")[:40] if _text(found) == "string" else f"a {_text(found)}"
            raise RecipeError(
                f"the {{seq}} counter of folder {folder!r}, Redis key {key}, holds {shown!r}, not a number it can "
                f"count on from (set by hand, or damaged): the files that use {{seq}} wait. `SET {key} N` with "
                f"the last number its outputs were given, or `DEL {key}` to count from 1 again (outputs already "
                "there are never replaced: a name that comes again gets a ~N)") from None

    def let_go(self, folder: str, holder: int) -> None:
        """The file `holder` ended: its held number is no longer needed (else 30 days in Redis)."""
        self.r.delete(self._k("seq", folder, "held", str(holder)))

    # counts
    def count(self, what: Verdict, folder: str = "") -> None:
        pipe = self.r.pipeline()  # MULTI/EXEC: the total and its folder's share move together
        pipe.incr(self._k("stats", what))
        if folder:
            pipe.hincrby(self._k("stats", what, "by_folder"), folder, 1)
        pipe.execute()

    def counts_by_folder(self) -> dict[str, tuple[int, int]]:
        keys = self._k("stats", "processed", "by_folder"), self._k("stats", "failed", "by_folder")
        processed, failed = (self.r.hgetall(key) for key in keys)
        names = {_text(k) for k in (*processed, *failed)}
        return {n: (self._count(keys[0], processed.get(n.encode()), n), self._count(keys[1], failed.get(n.encode()), n))
                for n in sorted(names)}

    def counts(self) -> tuple[int, int]:
        keys = self._k("stats", "processed"), self._k("stats", "failed")
        p, f = self.r.mget(*keys)
        return self._count(keys[0], p), self._count(keys[1], f)

    def _count(self, key: str, value: bytes | str | None, field: str = "") -> int:
        """A count as INCR keeps it; 0 for anything else (logged once: one forged or damaged,
        `SET …hf:stats:processed notanumber`, made the status say the broker was unreachable)."""
        if value is None:
            return 0
        text = _text(value)
        if text.isascii() and text.isdigit() and len(text) < 19:  # INCR's range, and not below 0
            return int(text)
        if (key, field) not in self._said:
            self._said.add((key, field))
            where = f"HDEL {key} {field}" if field else f"DEL {key}"
            log.get("cluster").warning("count_unusable", key=key, field=field or None, value=text[:80],
                                       reason="not a count the nodes write (forged, or damaged): read as 0, and no "
                                              "node can add to it", action=f"{where} (it counts again from 0)")
        return 0

    def queue_length(self, queues: list[str]) -> int:
        """Messages waiting in these queues (one per config version, see versions.py)."""
        pipe = self.r.pipeline()
        for queue in queues:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(self.prefix + queue + suffix)
        return sum(pipe.execute())

    def queued_jobs(self, queues: list[str]) -> frozenset[str] | None:
        """The jobs whose messages wait in these queues (a send's task id is the job's and a
        suffix: app.send); None when more than QUEUE_LOOK wait (not read). Data: a message
        that is not one of ours names no job."""
        keys = [self.prefix + queue + suffix for queue in queues for suffix in PRIORITY_SUFFIXES]
        pipe = self.r.pipeline()
        for key in keys:
            pipe.llen(key)
        if sum(pipe.execute()) > QUEUE_LOOK:
            return None
        for key in keys:
            pipe.lrange(key, 0, QUEUE_LOOK - 1)
        found = set()
        for raw in (m for messages in pipe.execute() for m in messages):
            try:
                task_id = (json_object(raw) or {})["headers"]["id"]
            except (TypeError, KeyError):
                continue
            if isinstance(task_id, str):
                found.add(task_id.rpartition(".")[0])
        return frozenset(found)

    # nodes and their config versions
    def register(self, node: str, versions: dict[str, str], ttl: float, build: str = "") -> None:
        self.r.set(self._k("node", node), json.dumps({"node": node, "versions": versions, "build": build}),
                   px=int(ttl * 1000))

    def unregister(self, node: str) -> None:
        self.r.delete(self._k("node", node))

    def nodes(self) -> dict[str, dict[str, str]]:
        """Node name -> {folder: version} of every node registered now."""
        return self.nodes_and_builds()[0]

    def nodes_and_builds(self) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        """Node name -> {folder: version}, and node name -> its build (build.py; "" a node before
        builds), of every node registered now. Data anyone with Redis can write: a build is
        shown cut to 40 characters, as text."""
        out, builds = {}, {}
        prefix = self._k("node", "")
        for key in self.r.scan_iter(match=prefix + "*", count=500):
            value = json_object(self.r.get(key)) or {}
            try:
                versions = {str(k): str(v) for k, v in value["versions"].items()}
            except (KeyError, AttributeError):
                continue  # expired meanwhile, or not ours
            name = _text(key)[len(prefix):]
            out[name], builds[name] = versions, str(value.get("build") or "")[:40]
        return out, builds

    # refusals
    def refuse(self, job: str, node: str, reason: str) -> None:
        pipe = self.r.pipeline()
        pipe.hset(self._k("refused"), f"{job}|{node}", json.dumps({"job": job, "node": node, "reason": reason}))
        pipe.incr(self._k("stats", "refused"))
        pipe.execute()

    def take_refusals(self) -> list[dict]:
        """The refusals not yet handled ({job, node, reason} each), removed as they are read.
        Data anyone with Redis can write: what is not one (not JSON, nested past the parser, no
        mapping, a job that names no record, e.g. `../x`) is passed over, texts cut at 1,000
        characters; it was an AttributeError or a ValueError in the head's status, said as
        the broker being unreachable."""
        found = self.r.hgetall(self._k("refused"))
        if found:
            self.r.hdel(self._k("refused"), *found)
        out = []
        for value in found.values():
            refusal = json_object(value)
            if refusal is not None and is_job_id(refusal.get("job")):
                out.append({key: str(refusal.get(key, ""))[:1000] for key in ("job", "node", "reason")})
        return out

    def refused_count(self) -> int:
        key = self._k("stats", "refused")
        return self._count(key, self.r.get(key))
