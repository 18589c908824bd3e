"""`cluster:`, rendering on several machines through Celery and Redis (off by default;
docs/cluster.md). Each key says what a reload does with it: the head applies some now,
others are the nodes' (read at their start), a few need a restart."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hotfolder import redact
from hotfolder.config.keys import Applies, Key, Reload, as_fields, read_keys
from hotfolder.config.model import Cluster
from hotfolder.config.reader import Context, Reader, kind, recorded, section
from hotfolder.config.values import Bool, Float, Int, Kind, Path_, Text

LEASE_TTL_MAX = 3600  # seconds: no holder sets a longer lease (cluster/leases.py bounds one that is)


def _name_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
        return f"{value!r} may only hold letters, digits, '_', '-' and '.' (64 at most)"
    return None


def _broker_problem(url: str) -> str | None:
    """What Celery's Redis transport (kombu) and redis-py would fail on later, at the head's or a
    node's start, with a traceback naming neither the key nor the file (an attack round)."""
    if url.startswith("unix://"):  # redis-py reads it; kombu has no such transport ("No such transport: unix")
        return ("a unix:// socket is not a URL Celery's Redis transport can use; give the broker a TCP port "
                "on 127.0.0.1 (redis://127.0.0.1:6379/0) or a TLS one (rediss://)")
    if "://" not in url and "@" not in url:  # not quoted: a password alone where the URL was due
        return (f"must be a redis:// or rediss:// URL; what is written there ({len(url)} characters, no scheme) "
                "is not shown, as it may be a password")
    if not url.startswith(("redis://", "rediss://")):
        return f"must be a redis:// or rediss:// URL, not {redact.url(url)!r}"
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": an unclosed [ (a traceback, and a reload's stopped the daemon)
        return f"is not a URL that can be read ({exc}): {redact.url(url)!r}"
    try:
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError:
        return f"its port is not a number from 1 to 65535 ({redact.url(url)!r})"
    given = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if given & {"username", "password"}:
        return "a user name or password goes before the host (redis://user:password@host:6379/0), not in the query"
    return redact.password_cut_short(url)


@dataclass(frozen=True)
class PathMap(Kind):
    """{head path: this node's path}, longest head path first (the most precise wins)."""

    def read(self, r: Reader, name: str, default: Any) -> tuple[tuple[Path, Path], ...]:
        value = r.raw(name)
        if value is None:
            return default
        if not isinstance(value, dict):
            r.fail(name, f"must be a mapping of head path: this node's path, not {kind(value)}")
        pairs = []
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str) or not k.startswith("/") or not v.startswith("/"):
                r.fail(name, f"{k!r}: {v!r}: both sides must be absolute paths")
            pairs.append((Path(k), Path(v)))
        return tuple(sorted(pairs, key=lambda p: -len(p[0].parts)))

    def shown(self, default: Any) -> str:
        return "`{}`"


def _now(how: str) -> Reload:
    return Reload(Applies.NOW, how, cluster_only=True)


def _restart(how: str) -> Reload:
    return Reload(Applies.RESTART, how, cluster_only=True)


def _nodes(how: str) -> Reload:
    return Reload(Applies.NODES, how, cluster_only=True)


KEYS = (
    Key("enabled", Bool(), False, "render on the machines that run `hotfolder worker` on this config",
        reload=Reload(Applies.RESTART, "local and cluster mode are different backends")),
    Key("broker_url", Text(secret=True, env=True), "",
        "required when enabled: `redis://` or `rediss://` (Celery's Redis transport takes no `unix://` socket); "
        "`${VAR}` is taken from the environment "
        "(a password)", check=_broker_problem, shown="—", env=True,
        reload=_restart("the head's connection to the broker is made at its start")),
    Key("cluster_id", Text(), "", "required when enabled: letters, digits, `_ - .`; the same on every machine",
        check=_name_problem, shown="—",
        reload=_restart("the shared root's marker, the Redis keys and the temp names are the cluster id's")),
    Key("shared_root", Path_(), None, "required when enabled: a folder every machine mounts read-write, as the "
                                      "head sees it; every folder's processing/, output, failed/ and archive "
                                      "are under it", reload=_restart("the job records and the marker are under it")),
    Key("path_map", PathMap(), (), "`{head path: this node's path}`, only on machines that mount the share "
                                   "elsewhere", reload=_nodes("each node's paths")),
    Key("queue", Text(), "hotfolder", "the name of the Redis queues", check=_name_problem,
        reload=_restart("the nodes consume the queues named after it since their start")),
    Key("task_time_limit", Float(lo=1, hi=86400, seconds=True), 300.0,
        "seconds; the render process is killed after this",
        reload=_nodes("the nodes' Celery time limits")),
    Key("task_soft_time_limit", Float(lo=0.5, hi=86400, seconds=True), 240.0,
        "seconds; the file goes to failed/ with \"timeout\"; below `task_time_limit`",
        shown="0.8 × `task_time_limit`", reload=_nodes("the nodes' Celery time limits")),
    Key("visibility_timeout", Float(lo=1, hi=7 * 86400, seconds=True), 900.0,
        "seconds; keep it above `task_time_limit` (Redis redelivers after it)",
        reload=_nodes("the nodes' broker transport")),
    Key("lease_ttl", Float(lo=1, hi=LEASE_TTL_MAX, seconds=True), 60.0,
        "seconds a silent render keeps its job; below `stale_after`",
        reload=_now("the head's reconciler (the nodes' leases: at their restart)")),
    Key("max_attempts", Int(lo=1, hi=100), 3, "lost workers before a file goes to failed/",
        reload=_nodes("the render task on the nodes")),
    Key("reconcile_interval", Float(lo=0.1, hi=3600, seconds=True), 60.0, "seconds between the head's passes",
        reload=_now("the head's reconciler")),
    Key("stale_after", Float(lo=1, hi=7 * 86400, seconds=True), 1200.0,
        "seconds after which the head re-sends a job nobody holds; at least `visibility_timeout`",
        shown="`visibility_timeout` + 300", reload=_now("the head's reconciler")),
    Key("max_in_flight", Int(lo=1, hi=100_000), 64, "files claimed but not finished, cluster-wide",
        reload=_now("the head's room for claimed files")),
    Key("concurrency", Int(lo=0, hi=256), 0, "render processes per worker; 0: one per core",
        reload=_nodes("the nodes' Celery pools")),
    Key("max_tasks_per_child", Int(lo=0, hi=10**9), 200, "files a render process renders before it is replaced",
        reload=_nodes("the nodes' Celery pools")),
    Key("max_memory_per_child_mb", Int(lo=0, hi=10**6), 1024,
        "a render process above this is replaced after its file; 0: no limit",
        reload=_nodes("the nodes' Celery pools")),
)

_NEEDED = ("broker_url", "cluster_id", "shared_root")  # when enabled


@section
def read(ctx: Context, data: Any, path: str) -> Cluster:
    r = Reader(ctx, data, path)
    enabled = KEYS[0].read(r)
    if not enabled:  # nothing reads the broker's URL: its ${VAR}s are left as written
        r.ctx = dataclasses.replace(ctx, expand=False)
    values = {"enabled": enabled, **read_keys(r, KEYS[1:])}
    if enabled:
        for name in _NEEDED:
            if not r.has(name):
                with recorded():
                    r.missing(name, "is required")
    if not r.has("task_soft_time_limit"):
        values["task_soft_time_limit"] = values["task_time_limit"] * 0.8
    if not r.has("stale_after"):
        values["stale_after"] = values["visibility_timeout"] + 300
    _check_timings(r, values)
    r.done()
    return Cluster(**as_fields(KEYS, values))


def _check_timings(r: Reader, values: dict[str, Any]) -> None:
    hard, soft = values["task_time_limit"], values["task_soft_time_limit"]
    vis, stale, lease = values["visibility_timeout"], values["stale_after"], values["lease_ttl"]
    with recorded():
        if soft >= hard and r.ok("task_time_limit", "task_soft_time_limit"):
            r.fail("task_soft_time_limit", f"must be below task_time_limit ({hard:g}), so the task can "
                                           "move the file to failed/ itself before it is killed")
    with recorded():
        if stale < vis and r.ok("visibility_timeout", "stale_after"):
            r.skipped.add("stale_after")  # no more said of it against lease_ttl: one mistake, one problem
            r.fail("stale_after", f"must be at least visibility_timeout ({vis:g}); sooner, the reconciler "
                                  "would re-send jobs Redis still holds")
    with recorded():
        if lease >= stale and r.ok("lease_ttl", "stale_after"):
            r.fail("lease_ttl", f"must be below stale_after ({stale:g})")
