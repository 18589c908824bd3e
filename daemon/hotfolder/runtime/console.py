"""`--log-format console`: log events as short lines for people.

One line per file (`done IMG_0001.jpg → web, thumb  0.21 s`, `failed x.jpg: <reason>`),
one per event of the daemon's life. The details stay behind `--log-level debug`: there,
each line also shows its remaining fields, and the events that only add detail (each
rendition written, a worker's own view of a failure the main process reports too) are
shown. The JSON format is not affected: it keeps every event and field.
"""
from __future__ import annotations

import time

import structlog

from hotfolder.shown import printable

# Events that add detail to a line people see anyway: shown at --log-level debug only.
DETAIL = {"rendition_written", "file_rendered", "file_sent", "job_skipped", "manifest_written", "file_read_cut_short"}
# What a worker says of its file, the main process says again (file_failed, file_retry,
# claiming_paused, file_skipped) with the outcome: at info, people read the main process's line.
SAID_AGAIN_BY_MAIN = {"file_failed", "render_interrupted", "output_unwritable", "duplicate_skipped"}

# Fields of our own, never worth a `key=value` (the line says them, or they are noise).
QUIET_FIELDS = {"event", "level", "timestamp", "logger", "exception", "outcome", "role", "slot"}


def _secs(ms) -> str:
    try:
        return f"{float(ms) / 1000:.2f} s"
    except (TypeError, ValueError):
        return "? s"


def _names(items) -> str:
    return ", ".join(str(i) for i in items) if isinstance(items, (list, tuple)) else str(items)


def _recovered(e: dict) -> str | None:
    parts = []
    if e.get("in_processing"):
        parts.append(f"{e['in_processing']} file(s) a stop left in processing/ are rendered again")
    if e.get("temp_removed"):
        parts.append(f"{e['temp_removed']} unfinished temp file(s) removed")
    if e.get("sidecars_finished"):
        parts.append(f"{e['sidecars_finished']} failure record(s) completed")
    return f"recovered {e.get('folder')}: " + "; ".join(parts) if parts else None


def _ready(e: dict) -> str:
    inboxes = e.get("inboxes") or e.get("folders") or []
    by = (f"for the nodes of cluster {e['cluster']} (`hotfolder worker`) to render" if e.get("cluster")
          else f"with {e.get('workers')} worker(s)")
    return f"ready: watching {_names(inboxes)} {by} (pid {e.get('pid')}); drop files there, Ctrl-C stops"


def _reloaded(e: dict) -> str:
    changes = e.get("changes")
    if changes is None:
        return f"reloaded: {e.get('workers')} worker(s), folders {_names(e.get('folders', []))}"
    rerender = f"\n  {e['rerender']}" if e.get("rerender") else ""  # renditions added or changed
    return "reloaded: " + ("; ".join(changes) if changes else "nothing changed") + rerender


def _refused(e: dict) -> str:
    problems = e.get("problems") or [f"{e.get('file')}: {e.get('key')}: {e.get('reason')}"]
    return "reload refused, the running config stays:\n" + "\n".join(f"  {p}" for p in problems)


def _stopping(e: dict) -> str:
    """What stops it at once depends on how it was asked to stop: a terminal's Ctrl-C, or a
    signal (systemd's stop sends SIGTERM, and there is no Ctrl-C to press)."""
    again = ("press Ctrl-C again to stop at once" if e.get("signal") == "SIGINT"
             else f"a second {e.get('signal')} stops at once")
    return (f"stopping ({e.get('signal')}): the files being rendered finish (up to {e.get('drain_timeout')} s); "
            f"{again}")


def _requeued(e: dict) -> str:
    why = f": {e['reason']}" if e.get("reason") else ""
    return f"requeued {e.get('file')}{why}"


def _skipped(e: dict) -> str:
    """A copy not rendered (issue 23): of what, and where it went."""
    like = "the same bytes as" if e.get("kind") == "exact" else "a look-alike of"
    hint = f" ({e['hint']})" if e.get("hint") else ""
    sidecar = f"; {e['sidecar']}" if e.get("sidecar") else ""  # a newer sidecar, put beside the original
    own = f"; {e['own_name']}" if e.get("own_name") else ""  # a copy under another name: how it gets rendered too
    return f"skipped {e.get('file')}: {like} {e.get('matched')}; moved to duplicates/{hint}{own}{sidecar}"


def _died(e: dict) -> str:
    on = f" while rendering {e['job']}" if e.get("job") else ""
    return f"worker {e.get('slot')} (pid {e.get('pid')}) died ({e.get('cause')}){on}"


LINES = {
    "file_done": lambda e: f"done {e.get('file')} → {_names(e.get('renditions') or e.get('outputs') or [])}"
                           f"  {_secs(e.get('duration_ms'))}",
    "file_failed": lambda e: f"failed {e.get('file')}: {e.get('reason')}",
    # the outputs a `done` wrote (a duplicate's are its earlier original's, which its reason names)
    "file_told": lambda e: f"{e.get('told')} {e.get('file')}" + (
        f" → {_names(e['outputs'])}" if e.get("outputs") and e.get("told") == "done" else "") + (
        f": {e['reason']}" if e.get("reason") else "") + " (a node said)",
    "file_refused": lambda e: f"failed {e.get('file')}: {e.get('reason')}",
    "file_unmatched": lambda e: f"{_unmatched_end(e)} {e.get('file')}: no rendition applies ({e.get('reason')})",
    "sidecar_alone": lambda e: f"sidecar {e.get('file')} alone: {e.get('note')}",  # the note says where it went
    "file_note": lambda e: f"{e.get('file')}: {e.get('note')}",
    "file_not_found": lambda e: f"failed {e.get('file')}: no such file or folder",
    "file_retry": lambda e: f"retrying {e.get('file')} (attempt {e.get('attempt')}): {e.get('reason')}",
    "file_vanished": lambda e: f"{e.get('file')} left processing/ while it was rendered; nothing to archive",
    "file_stuck": lambda e: f"{e.get('file')} is stuck in processing/: {e.get('reason')}; {e.get('action')}",
    "file_unstuck": lambda e: f"{e.get('file')} is back in the inbox",
    "file_cut_short": lambda e: f"{e.get('file')} ends early, its writer may go on: {e.get('action')}",
    "file_piece_joined": lambda e: f"{e.get('file')}: the next piece its writer wrote ({e.get('bytes')} bytes) is "
                                   f"joined on; {e.get('action')}",
    "file_cut_short_replaced": lambda e: f"{e.get('file')}: {e.get('action')}",
    "requeued": _requeued,
    "file_passed_through": lambda e: f"archived {e.get('file')} as it is (pass_through)"
                                     + (f": {e['note']}" if e.get("note") else ""),
    "file_skipped": _skipped,
    "file_comparing": lambda e: f"comparing {e.get('file')} with {e.get('archived')}, of its name and size (the same "
                                f"card dumped again?), before it is archived",
    "file_waits_for_twin": lambda e: f"{e.get('file')} waits in the inbox while {e.get('twin')}, of its name and size, "
                                     f"is compared: then it is compared with it, not archived a second time",
    "clips_listing": lambda e: f"listing the clips in archive/: {e.get('reason')}",
    "clips_listed": lambda e: f"{e.get('listed')} clips in archive/ listed ({e.get('known')} known already) in "
                              f"{e.get('seconds')} s" + (f", {e['unreadable_folders']} folders unreadable"
                                                         if e.get("unreadable_folders") else ""),
    "clips_listing_unreadable": lambda e: f"cannot list the clips in {e.get('folder')}: {e.get('reason')}; "
                                          f"{e.get('action')}",
    "clips_listing_failed": lambda e: f"the clips in archive/ are not listed: {e.get('reason')}; {e.get('action')}",
    "file_compare_failed": lambda e: f"could not compare {e.get('file')} with {e.get('archived')}: {e.get('reason')}; "
                                     f"{e.get('action')}",
    "passed_rows_failed": lambda e: f"the records of clips passed through cannot be used: {e.get('reason')}; "
                                    f"{e.get('action')}",
    "passed_rows_unreachable": lambda e: f"the records of clips passed through (in the cluster's Redis) cannot be "
                                         f"read: {e.get('reason')}; {e.get('action')}",
    "passed_rows_reachable": lambda e: f"the records of clips passed through can be read: {e.get('reason')}",
    "lookalike_flagged": lambda e: f"{e.get('file')} looks like {e.get('matched')} ({e.get('bits')} bits apart): "
                                   f"rendered all the same",
    "lookalike_completed": lambda e: f"{e.get('file')} looks like {e.get('matched')} ({e.get('bits')} bits apart), "
                                     f"which did not get {', '.join(e.get('renditions') or [])}: only "
                                     f"{'those are' if len(e.get('renditions') or []) > 1 else 'that is'} rendered",
    "name_reused": lambda e: f"{e.get('file')}: {e.get('reason')}",
    "outputs_kept": lambda e: f"{e.get('file')}: {e.get('reason')}",
    "rendition_note": lambda e: f"{e.get('file')}: {e.get('rendition')}: {e.get('note')}",
    "index_recovered": lambda e: f"the last run stopped while rendering {e.get('claims_dropped')} file(s): the "
                                 f"index of originals forgets they were being rendered (they are rendered again)",
    "claim_failed": lambda e: f"could not take {e.get('file')}: {e.get('reason')}",
    "claiming_paused": lambda e: f"taking new files paused for {e.get('retry_in_s')} s: {e.get('reason')}",
    "ready": _ready,
    "recovered": _recovered,
    "recovery_problem": lambda e: f"recovery of {e.get('folder')}: {e.get('reason')} ({e.get('action')})",
    "stopping": _stopping,
    "stopping_now": lambda e: f"stopping now ({e.get('signal')}); unfinished files go back to the inbox",
    "stopped": lambda e: f"stopped: {e.get('processed')} processed, {e.get('failed')} failed"
                         + (f", {e['duplicates']} duplicate(s)" if e.get("duplicates") else "") + " since the start",
    "config_changed": lambda e: f"{e.get('file')} changed: reloading",
    "config_warning": lambda e: f"config: {e.get('problem')}",
    "reloaded": _reloaded,
    "reload_refused": _refused,
    "worker_died": _died,
    "worker_hung": lambda e: f"worker {e.get('slot')} (pid {e.get('pid')}) spent more than {e.get('timeout_s')} s "
                             f"on {e.get('file')}: killed",
    "worker_killed": lambda e: f"worker {e.get('slot')} (pid {e.get('pid')}) killed: {e.get('reason')}",
    "rebuilding_workers": lambda e: f"restarting the workers: {e.get('reason')}",
    "workers_fail_at_boot": lambda e: f"the workers fail at start: {e.get('reason')}",
    "inbox_unavailable": lambda e: f"the inbox of {e.get('folder')} is unavailable ({e.get('inbox')}): "
                                   f"{e.get('reason')}; {e.get('action')}",
    "inbox_back": lambda e: f"the inbox of {e.get('folder')} is back ({e.get('inbox')})",
    "folder_unmounted": lambda e: f"folder {e.get('folder')} waits for its share: {e.get('reason')}. {e.get('action')}",
    "folder_remounted": lambda e: f"folder {e.get('folder')} is served again (its share is back): {e.get('action')}",
    "places_unrecorded": lambda e: f"cannot record which file system each folder is on: {e.get('reason')}",
    "inbox_folder_unreadable": lambda e: f"{e.get('folder')} cannot be read: {e.get('reason')}; {e.get('action')}",
    "processing_returned": lambda e: f"{e.get('files')} file(s) of {e.get('folder')} left in "
                                     f"{e.get('processing')} (a processing folder the config no longer names) are "
                                     f"back in its inbox",
    "processing_left": lambda e: f"{e.get('reason')}: {e.get('action')}",
    "names_pruned": lambda e: (f"forgot the owners of {e.get('removed')} output name(s) whose outputs are gone "
                               f"({e.get('kept')} kept)" if e.get("removed") else
                               f"checked the owners of {e.get('kept')} output name record(s) against the outputs in "
                               f"{e.get('duration_ms')} ms: none to forget"),
    "names_prune_failed": lambda e: f"could not forget the owners of outputs that are gone: {e.get('reason')}; "
                                    f"{e.get('action')}",
    "status_write_failed": lambda e: f"cannot write the status to {e.get('path')}: {e.get('reason')}",
    "start_refused": lambda e: f"cannot start: {e.get('reason')}",
    "giving_up": lambda e: f"giving up: {e.get('reason')}",
}

COLORS = {"warning": "\033[33m", "error": "\033[31m", "critical": "\033[31;1m", "exception": "\033[31m"}
DIM, RESET = "\033[2m", "\033[0m"


class ConsoleRenderer:
    """A structlog renderer: event dict -> the line people read (or DropEvent)."""

    def __init__(self, colors: bool = False, verbose: bool = False):
        self.colors, self.verbose = colors, verbose

    def __call__(self, _logger, method_name: str, event: dict) -> str:
        name = str(event.get("event", ""))
        if not self.verbose and (name in DETAIL or (event.get("role") == "worker" and name in SAID_AGAIN_BY_MAIN)):
            raise structlog.DropEvent
        event = _printable(event)
        make = LINES.get(name)
        text = make(event) if make else None
        if text is None and make is not None and not self.verbose:
            raise structlog.DropEvent  # nothing worth a line (e.g. a recovery that found nothing)
        level = str(event.get("level", method_name))
        if text is None:  # no line of its own: the event and its fields, as they are
            text = self._generic(name, event, level)
        elif self.verbose:
            shown = set(_fields_named_in(name))
            extra = " ".join(f"{k}={event[k]}" for k in event if k not in QUIET_FIELDS and k not in shown)
            if extra:
                text += f"  {DIM if self.colors else ''}{extra}{RESET if self.colors else ''}"
        if event.get("exception"):
            text += "\n" + str(event["exception"]).rstrip()
        if self.colors and level in COLORS:
            text = f"{COLORS[level]}{text}{RESET}"
        return f"{time.strftime('%H:%M:%S')} {text}"

    @staticmethod
    def _generic(name: str, event: dict, level: str) -> str:
        said = f"{event['logger']}: {name}" if event.get("logger") else name  # a library's own line
        fields = " ".join(f"{k}={event[k]}" for k in event if k not in QUIET_FIELDS)
        label = f"{level}: " if level in ("warning", "error", "critical") else ""
        return f"{label}{said}" + (f"  {fields}" if fields else "")


def _printable(event: dict) -> dict:
    """The event's texts as a terminal shows them (spool/fsnames.printable): a file's name,
    a photo's field or a reason quoting either is data, never a line or a cursor move of its
    own. A traceback keeps its newlines."""
    shown = {}
    for key, value in event.items():
        if isinstance(value, str):
            value = printable(value, newlines=key == "exception")
        elif isinstance(value, (list, tuple)):
            value = [printable(v) if isinstance(v, str) else v for v in value]
        shown[key] = value
    return shown


def _unmatched_end(e: dict) -> str:
    """Where a file no rendition took went: the daemon says `archived` (None: deleted, under
    on_success: delete); `process`, which never moves originals, says that nothing was made."""
    if "archived" not in e:
        return "nothing made of"
    return "archived" if e["archived"] else "deleted (on_success: delete)"


def _fields_named_in(name: str) -> tuple[str, ...]:
    """The fields a line already says (not repeated as key=value at debug)."""
    return {
        "file_done": ("file", "renditions", "outputs", "duration_ms"),
        "file_failed": ("file", "reason"),
        "file_told": ("told", "file", "outputs", "reason"),
        "file_refused": ("file", "reason"),
        "file_unmatched": ("file", "reason"),
        "sidecar_alone": ("file", "note"),
        "file_retry": ("file", "attempt", "reason"),
        "file_skipped": ("file", "kind", "matched"),
        "lookalike_flagged": ("file", "matched", "bits"),
        "name_reused": ("file", "reason"),
        "rendition_note": ("file", "rendition", "note"),
        "ready": ("inboxes", "workers", "cluster", "pid"),
        "reloaded": ("changes", "rerender"),
        "config_warning": ("problem",),
        "reload_refused": ("problems", "file", "key", "reason"),
        "stopped": ("processed", "failed", "duplicates"),
        "index_recovered": ("claims_dropped",),
    }.get(name, ())
