"""The status page: plain server-rendered HTML, no JavaScript; it reloads itself.

Every name shown comes from the snapshot the loop published and is escaped here: for
HTML, and as the terminal shows it (shown.printable). A browser draws no control
character and obeys a bidi override, so `ctl<ESC>[31m.jpg` read `ctl[31m.jpg` and
`invoice<U+202E>gpj.exe.jpg` read `invoiceexe.jpg` (an attack round); /api/status keeps
the exact text (JSON escapes it). A long name breaks anywhere, so no table grows past the
window and its Requeue buttons stay in sight.
"""
from __future__ import annotations

import time
from html import escape

from hotfolder.ops.view import View
from hotfolder.shown import printable

REFRESH = 5  # seconds between the page's own reloads

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#eee}td{overflow-wrap:anywhere}td.n{text-align:right;font-variant-numeric:tabular-nums}
.counts{display:flex;flex-wrap:wrap;gap:1.2em;margin:.6em 0}
.counts div{background:#fff;padding:.4em .8em;border:1px solid #ddd}
.counts b{display:block;font-size:1.4em}.note{background:#fff3cd;border:1px solid #e0c060;padding:.4em .8em}
.flash{background:#d4edda;border:1px solid #8c8;padding:.4em .8em}
.error{background:#f8d7da;border:1px solid #c88;padding:.4em .8em}
.muted{color:#777}.reason{color:#a00}form.inline{display:inline;margin:0}code{font-size:.95em}
header{display:flex;justify-content:space-between;align-items:baseline}
details.explain{color:#222;margin-top:.3em}details.explain pre{white-space:pre-wrap;font-size:.9em;margin:.2em 0}
"""


def _e(value) -> str:
    return escape(printable(str(value)), quote=True)


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _doc(title: str, body: str, refresh: bool) -> str:
    # To "/": a message of the last action (?done=, ?error=) is not shown again.
    meta = f'<meta http-equiv="refresh" content="{REFRESH}; url=/">' if refresh else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)}</title><link rel="stylesheet" href="/style.css"></head><body>{body}</body></html>')


def _table(headers: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_page(view: View, *, logged_in: bool, csrf: str, flash: str = "", error: str = "") -> str:
    s = view.status
    parts = [f'<header><h1>hotfolder on {_e(view.host)}</h1>{_account(view, logged_in, csrf)}</header>',
             f'<p class="muted">{_e(s.state)} · pid {s.pid} · up {_duration(time.time() - s.started)} · '
             f'version {_e(view.build or view.version)} · updated {_clock(s.updated or time.time())}</p>']
    if flash:
        parts.append(f'<p class="flash" id="flash">{_e(flash)}</p>')
    if error:
        parts.append(f'<p class="error" id="error">{_e(error)}</p>')
    if s.message:
        parts.append(f'<p class="note" id="note">{_e(s.message)}</p>')
    counts: list[tuple[str, str, int | str]] = [  # (id, label, value): each id its own
        ("processed", "processed", s.processed), ("failed", "failed", s.failed),
        ("in-failed", "in failed/ now", s.in_failed), ("queued", "queued", s.queued + s.waiting),
        ("in-flight", "in flight", s.in_flight)]
    comparing = sum(c.get("comparing", 0) for c in s.folders.values())
    if comparing:  # in the inbox meanwhile, neither queued nor in flight (supervisor/passed_again.py)
        counts.append(("comparing", "clips being compared", comparing))
    if not s.cluster:
        counts.append(("workers", "workers", f"{s.workers_alive}/{s.workers}"))
    parts.append('<div class="counts">' + "".join(
        f'<div id="count-{i}"><b>{_e(v)}</b>{_e(k)}</div>' for i, k, v in counts) + "</div>")
    parts.append("<h2>Folders</h2>" + _table(
        ["folder", "waiting in the inbox", "claimed", "processed", "failed", "duplicates", "look-alikes",
         "names reused (new version / different photo)"],
        [f'<tr><td>{_e(name)}</td><td class="n">{c.get("waiting", 0)}</td><td class="n">{c.get("claimed", 0)}</td>'
         f'<td class="n">{c.get("processed", 0)}</td><td class="n">{c.get("failed", 0)}</td>'
         f'<td class="n dup-exact">{_e((c.get("duplicates") or {}).get("exact", 0))}</td>'
         f'<td class="n dup-similar">{_e((c.get("duplicates") or {}).get("similar", 0))}</td>'
         f'<td class="n">{_e((c.get("names_reused") or {}).get("new_version", 0))} / '
         f'{_e((c.get("names_reused") or {}).get("different_photo", 0))}</td></tr>'
         for name, c in s.folders.items()], "no folders"))
    if s.cluster:  # the head renders nothing: "nothing is being rendered" was said while its nodes rendered
        per_node = s.cluster.get("per_node") or {}
        parts.append("<h2>Being rendered on the cluster's nodes</h2>" + _table(
            ["node", "files"], [f'<tr class="node"><td>{_e(node)}</td><td class="n">{_e(n)}</td></tr>'
                                for node, n in sorted(per_node.items())], "no node is rendering now"))
    else:
        parts.append("<h2>Being rendered</h2>" + _table(
            ["folder", "file", "for", "worker"],
            [f'<tr><td>{_e(b.get("folder", ""))}</td><td><code>{_e(b.get("file", ""))}</code></td>'
             f'<td class="n">{_e(b.get("seconds", ""))} s</td><td class="n">{_e(b.get("pid", ""))}</td></tr>'
             for b in s.current], "nothing is being rendered"))
    parts.append(_failed(view, logged_in, csrf))
    parts.append(f"<h2>Done (the last {len(view.recent)})</h2>" + _table(
        ["when", "folder", "file", "outputs", "render", "note"],
        [f'<tr class="done {_e(n.event)}"><td>{_clock(n.time)}</td><td>{_e(n.folder)}</td>'
         f'<td><code>{_e(n.file)}</code></td><td>{"<br>".join(f"<code>{_e(o)}</code>" for o in n.outputs)}</td>'
         f'<td class="n">{n.duration_ms:.0f} ms</td><td>{_e(n.reason)}</td></tr>' for n in view.recent],
        "no file done since the daemon started"))
    return _doc(f"hotfolder on {view.host}", "".join(parts), refresh=True)


def _account(view: View, logged_in: bool, csrf: str) -> str:
    if not view.requeue_enabled:
        return '<span class="muted" id="readonly">read-only (set http.token in the config to requeue from here)</span>'
    if logged_in:
        return (f'<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" '
                f'value="{_e(csrf)}"><button type="submit" id="logout">Log out</button></form>')
    return '<a href="/login" id="login">Log in to requeue</a>'


def _failed(view: View, logged_in: bool, csrf: str) -> str:
    shown = len(view.failed)
    more = f" (the {shown} most recent of {view.status.in_failed})" if view.status.in_failed > shown else ""
    rows = []
    for f in view.failed:
        action = ""
        if logged_in:
            action = (f'<form class="inline" method="post" action="/requeue"><input type="hidden" name="csrf" '
                      f'value="{_e(csrf)}"><button type="submit" name="id" value="{_e(f.id)}">Requeue</button></form>')
        lines = "\n".join(_e(line) for line in f.explain)  # each line as the terminal shows it
        why = f'<details class="explain"><summary>why</summary><pre>{lines}</pre></details>' if f.explain else ""
        rows.append(f'<tr class="failed" data-id="{_e(f.id)}"><td>{_e(f.folder)}</td><td><code>{_e(f.file)}</code></td>'
                    f'<td class="reason">{_e(f.reason)}{why}</td><td>{_e(f.step)}</td><td class="n">{f.attempts}</td>'
                    f'<td>{_e(f.time)}</td><td>{action}</td></tr>')
    return f"<h2>Failed{_e(more)}</h2>" + _table(
        ["folder", "file", "reason", "step", "attempts", "when (UTC)", ""], rows, "no file in failed/")


def render_login(csrf: str, error: str = "") -> str:
    err = f'<p class="error" id="error">{_e(error)}</p>' if error else ""
    body = (f"<h1>hotfolder: log in</h1>{err}"
            '<form method="post" action="/login">'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
            '<p><label>Token (http.token in the config)<br>'
            '<input type="password" name="token" id="token" autocomplete="current-password" required></label></p>'
            '<p><button type="submit" id="submit">Log in</button> <a href="/">back</a></p></form>')
    return _doc("hotfolder: log in", body, refresh=False)
