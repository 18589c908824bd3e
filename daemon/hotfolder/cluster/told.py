"""What the nodes tell the head of the files they end, so it raises the notices local mode
raises (`failed`, `done`, `worker_lost`, `duplicate`, `similar`): every notify item, the
status page's list and /metrics work the same in both modes.

The head renders nothing: before this, it only saw a job's record go (`Ended`), without
its verdict, and a cluster sent no notification of any file. Now the node that ends a job
(tasks._end, or a new attempt that finds the last one lost) pushes a small verdict:

    <prefix>hf:told          LIST of verdicts (JSON), newest first, at most MAX_TOLD
    <prefix>hf:told:dropped  HASH event -> verdicts not pushed because the list was full

The head pops the oldest in its poll (backend.ClusterBackend), at most TAKE at a time, and
makes Notices of them (`notices`). A full list (a head stopped for long) drops the newest,
as a notify endpoint does past its MAX_PENDING, and the head counts them in the same metric
(hotfolder_notifications{outcome="dropped"}) once it reads the hash.

A verdict is data read from Redis, which anyone holding its password can write: each field
is checked (a folder of the head's config, a name inside it, bounded text and numbers) and
nothing in it is ever a path the head follows; a verdict that fails the checks is skipped.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace

from hotfolder.jobs import Result
from hotfolder.likeness import Kind, Naming
from hotfolder.ops.notices import Notice, NoticeKind
from hotfolder.spool import fsnames
from hotfolder.supervisor.duplicates import found_notice, skipped_notice
from hotfolder.supervisor.endings import done_note

MAX_TOLD = 2000  # verdicts waiting for the head (~0.5 KB each): more are dropped and counted
TAKE = 200  # verdicts the head takes in one poll (4 a second: 800/s, far above a cluster's pace)
MAX_TEXT = 4000  # characters of a reason or a note kept
MAX_OUTPUTS = 64  # outputs named in one verdict
MAX_MANIFEST = 64 * 1024  # characters of a manifest passed on (a bigger one is said as none)
ENDS = ("done", "failed", "skipped", "lost")
EVENTS = frozenset(str(k) for k in NoticeKind)

# LPUSH unless full: the newest are the ones dropped, as a notify endpoint's pending list does.
# KEYS: the list, the dropped counts; ARGV: the verdict, the cap, its events (space-separated)
PUSH = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  for event in string.gmatch(ARGV[3], '%S+') do redis.call('HINCRBY', KEYS[2], event, 1) end
  return 0
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
"""


def keys(prefix: str) -> tuple[str, str]:
    return prefix + "hf:told", prefix + "hf:told:dropped"


# ---------------------------------------------------------------------- the node's side
def ended(folder: str, rel: str, job: str, attempts: int, *, ok: bool, reason: str = "", step: str = "",
          outputs: tuple[str, ...] = (), duration_ms: float = 0.0, found: Result | None = None,
          unmatched_at: str = "") -> dict:
    """The verdict of a job that ended in archive/, failed/ or the duplicates folder. `reason`:
    why it failed, or, for one archived unrendered, why no rendition took it (its `done` says so);
    `unmatched_at`: where under archive/ that one went (the head notes it for its late sidecar)."""
    match = found.match if found is not None else None
    end = "skipped" if found is not None and found.skipped and match is not None else "done" if ok else "failed"
    return {"job": job, "folder": folder, "file": rel, "end": end, "reason": reason, "step": step,
            "attempts": attempts, "outputs": list(outputs), "duration_ms": duration_ms,
            "manifest": found.manifest if found is not None and ok else "",
            "naming": str(found.naming) if found is not None else "",
            "match": None if match is None else {"kind": str(match.kind), "said": match.said(),
                                                 "outputs": list(match.outputs)},
            "unmatched_at": unmatched_at, "time": time.time()}


def lost(folder: str, rel: str, job: str, attempts: int, nodes: tuple[str, ...]) -> dict:
    """The verdict of an attempt that ended without one: a new attempt found its record."""
    on = nodes[-1] if nodes else "a node"
    return {"job": job, "folder": folder, "file": rel, "end": "lost", "attempts": attempts, "step": "worker",
            "reason": f"the render on {on} ended without a verdict (its worker was killed, ran out of memory, "
                      "crashed or passed the hard time limit)", "time": time.time()}


def events_of(verdict: dict) -> str:
    """The events a verdict makes (for the dropped counts, when the list is full)."""
    return " ".join(str(n.event) for n in notices(verdict, {str(verdict.get("folder"))}))


def push(store, verdict: dict, logger) -> None:
    """Tell the head; never raises: the file is at its end whatever becomes of the telling."""
    try:
        told, dropped = keys(store.prefix)
        store.r.eval(PUSH, 2, told, dropped, json.dumps(verdict, separators=(",", ":")), MAX_TOLD,
                     events_of(verdict))
    except Exception as exc:  # noqa: BLE001 - Redis away: this notice is lost, the file is not
        logger.warning("notice_not_told", reason=f"{type(exc).__name__}: {exc}",
                       note="the head cannot notify of this file (Redis did not take its verdict)")


# ---------------------------------------------------------------------- the head's side
@dataclass
class Taken:
    notices: list[Notice] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # event -> verdicts the full list dropped
    refused: int = 0  # verdicts that failed the checks
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (folder, under its archive/): no rendition took


def take(r, prefix: str, folders: set[str]) -> Taken:
    """The oldest verdicts (at most TAKE), removed as they are read, and the dropped counts."""
    told, dropped = keys(prefix)
    pipe = r.pipeline(transaction=True)  # read and cleared together: nothing pushed between is lost
    pipe.lrange(told, -TAKE, -1)
    pipe.ltrim(told, 0, -TAKE - 1)
    pipe.hgetall(dropped)
    pipe.delete(dropped)
    raw, _, counts, _ = pipe.execute()
    out = Taken()
    for value in reversed(raw):  # oldest first
        try:
            verdict = json.loads(value)
            made = notices(verdict, folders)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            made = []
        out.notices.extend(made)
        out.refused += not made
        if made and made[0].event == NoticeKind.DONE and not made[0].outputs:
            at = unmatched_at(verdict)
            if at is not None:
                out.unmatched.append((made[0].folder, at))
    for event, n in counts.items():
        name, number = _decoded(event), _decoded(n)
        if name in EVENTS and number.isdigit():  # data: an event of ours and a count, or nothing
            out.dropped[name] = int(number)
    return out


def unmatched_at(v: dict) -> str | None:
    """Where under its folder's archive/ a verdict's original no rendition took went: a relative
    name of plain parts (data: never a way out of the archive), or None."""
    at = v.get("unmatched_at")
    return fsnames.relative_name(at) if isinstance(at, str) and at and len(at) <= MAX_TEXT else None


def notices(v: dict, folders: set[str]) -> list[Notice]:
    """The Notices local mode raises for this end (supervisor/endings.py, duplicates.py,
    failing.py, service.py's worker_lost); [] for a verdict that is not one."""
    folder, rel, end = v["folder"], fsnames.relative_name(v["file"]), v["end"]
    if folder not in folders or rel is None or end not in ENDS:
        return []
    rel = fsnames.display(rel)
    reason, step, attempts = _text(v.get("reason")), _text(v.get("step"), 40), _count(v.get("attempts"))
    outputs, at = _names(v.get("outputs")), _when(v.get("time"))
    found = v.get("match")
    match: dict = found if isinstance(found, dict) else {}
    kind = Kind(match["kind"]) if match else None
    said = _text(match.get("said"))
    if end == "lost":
        return [Notice(NoticeKind.WORKER_LOST, folder, rel, reason, "worker", attempts, time=at)]
    if end == "skipped":
        if kind is None:
            return []
        return [replace(skipped_notice(folder, rel, kind, said, _names(match.get("outputs"))), time=at)]
    made = []
    if end == "done":
        made.append(Notice(NoticeKind.DONE, folder, rel, done_note(Naming(v.get("naming") or ""), said,
                                                                  unmatched=reason),
                           outputs=outputs, attempts=attempts, time=at, duration_ms=_number(v.get("duration_ms")),
                           manifest=_manifest(v.get("manifest"))))
    else:
        made.append(Notice(NoticeKind.FAILED, folder, rel, reason, step, attempts, time=at))
    if kind is not None:
        made.append(replace(found_notice(folder, rel, kind, said, end == "done", outputs), time=at))
    return made


def _decoded(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _text(value: object, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1_000_000 else 0


def _number(value: object) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return float(value) if ok else 0.0  # type: ignore[arg-type]


def _when(value: object) -> float:
    """When the node ended it; now for a time that is not one (or far off: a clock or a forgery)."""
    now = time.time()
    t = _number(value)
    return t if abs(now - t) < 7 * 86400 else now


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(fsnames.display(n[:MAX_TEXT]) for n in value[:MAX_OUTPUTS] if isinstance(n, str))


def _manifest(value: object) -> str:
    """A manifest's JSON, passed on as it is only when it is JSON (the message parses it)."""
    if not isinstance(value, str) or not value or len(value) > MAX_MANIFEST:
        return ""
    try:
        json.loads(value)
    except (ValueError, RecursionError):  # nested past the parser's recursion: no manifest either
        return ""
    return value
