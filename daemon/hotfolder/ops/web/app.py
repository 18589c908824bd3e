"""Routes, who may do what, and the answers. Nothing here touches a file.

    GET  /              the status page           GET  /metrics      Prometheus
    GET  /api/status    the same, as JSON          GET  /healthz      200 while running
    GET  /login         the login form            POST /login        token -> session cookie
    POST /logout                                   POST /requeue      id=<a failed file's id>

POST /requeue needs the token: a session cookie plus the form's CSRF field (a
browser), or `Authorization: Bearer <token>` (a script; JSON answer). A token given at
the login form or as Bearer goes through the same throttle (throttle.py) and log line.
Every route first checks the Host name (hosts.py).
"""
from __future__ import annotations

import dataclasses
import json
import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from hotfolder.ops.view import RequeueCode, Requeuer, StatusSource
from hotfolder.ops.web import page
from hotfolder.ops.web.auth import PRE_COOKIE, SESSION_COOKIE, SESSION_TTL, Auth, bearer_token, new_pre_cookie
from hotfolder.ops.web.hosts import HostPolicy
from hotfolder.ops.web.ratelog import RateLimitedLog
from hotfolder.ops.web.throttle import Throttle
from hotfolder.runtime import log

MAX_BODY = 16 * 1024
_COOKIE_PAIRS = re.compile("[;,]")
# Requeues answered at once: each waits on the daemon's loop (up to ops.REQUEUE_WAIT), and
# the listener has 4 threads (server.WORKERS): 2 stay free for the page and the scrape.
REQUEUES_AT_ONCE = 2
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
FLASHES = {"requeued": "Requeued: the file is back in its inbox and appears under Done once rendered.",
           "in": "Logged in.", "out": "Logged out."}
# What the page may say went wrong: by code, so a link cannot put words of its own on the page.
ERRORS = {RequeueCode.GONE: "That file is no longer in failed/ (requeued already, or moved away).",
          RequeueCode.STOPPING: "The daemon is stopping; requeue it after the next start.",
          RequeueCode.BUSY: "The daemon did not answer in time; try again.",
          RequeueCode.MOVE: "The file could not be moved back to its inbox; the daemon's log says why.",
          RequeueCode.REFUSED: "Not requeued: its failure record names a place outside its inbox; the daemon's "
                               "log says why.",
          "readonly": "No http.token is configured: the page is read-only.",
          "token": "Wrong token.", "login": "Log in to requeue."}


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the path and query as sent
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    client: str = ""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def query(self, name: str) -> str:
        return (parse_qs(urlsplit(self.target).query).get(name) or [""])[0]

    def form(self, name: str) -> str:
        if not self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return ""
        return (parse_qs(self.body.decode("utf-8", "replace")).get(name) or [""])[0]

    def cookie(self, name: str) -> str:
        """The value of the cookie `name` ("" for none). Read in one pass, not by http.cookies:
        its unquoting is quadratic in backslashes before CPython 3.11.10 and 3.12.6 (CVE-2024-7592),
        and a 16 KB Cookie of them cost ~0.5 s of the daemon's CPU on an unauthenticated GET / (an
        attack round: one client made every scrape time out). Ours are never quoted; a comma
        parts them too, as the Cookie headers a proxy sends apart are joined."""
        for pair in _COOKIE_PAIRS.split(self.headers.get("cookie", "")):
            key, equals, value = pair.partition("=")
            if equals and key.strip() == name:
                return value.strip()
        return ""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    def with_headers(self, *more: tuple[str, str]) -> Response:
        return dataclasses.replace(self, headers=self.headers + more)


def text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode("utf-8"))


def redirect(location: str, *headers: tuple[str, str]) -> Response:
    return Response(303, b"", headers=(("Location", location), *headers))


def cookie_header(name: str, value: str, max_age: int) -> tuple[str, str]:
    # No `Secure`: the listener speaks plain HTTP (loopback by default); behind a TLS
    # proxy the cookie still never leaves the browser for another site (SameSite=Strict).
    return ("Set-Cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")


class App:
    """The answers of the listener: reads what `status` published, asks `requeuer` for
    requeues (both are ops.Ops in the daemon)."""

    def __init__(self, status: StatusSource, requeuer: Requeuer, auth: Auth, hosts: HostPolicy):
        self.status = status
        self.requeuer = requeuer
        self.auth = auth
        self.hosts = hosts  # replaced whole by a reload
        self.throttle = Throttle()
        self.log = log.get("http")
        self._requeues = threading.BoundedSemaphore(REQUEUES_AT_ONCE)
        self._pages, self._api = Made(), Made()  # a view's page for visitors, and /api/status
        self._wrong_token = RateLimitedLog(self.log, "http_auth_failed", "warning", interval=1.0)
        self._throttled = RateLimitedLog(self.log, "http_auth_throttled", "warning")
        self._other_host = RateLimitedLog(self.log, "http_host_refused")

    def flush_logs(self, due_only: bool) -> None:
        for counted in (self._wrong_token, self._throttled, self._other_host):
            counted.flush(due_only)

    def handle(self, req: Request) -> Response:
        if not self.hosts.admits(req.headers.get("host", "")):
            # A page of another site whose name was pointed at this address (DNS rebinding).
            self._other_host.note(client=req.client, host=_shown(req.headers.get("host", "")))
            return text(421, self.hosts.refusal())
        route = ROUTES.get((req.method, req.path))
        if route is None:
            known = {m for (m, p) in ROUTES if p == req.path}
            if known:
                return text(405, f"use {' or '.join(sorted(known))}").with_headers(("Allow", ", ".join(sorted(known))))
            return text(404, "not found; see / and /metrics")
        if req.method == "POST" and len(req.body) > MAX_BODY:
            return text(413, "request too large")
        response = route(self, req)
        return response.with_headers(*SECURITY_HEADERS)

    # ------------------------------------------------------------------ reading
    def page(self, req: Request) -> Response:
        view = self.status.view()
        if view is None:
            return text(503, "starting; try again in a second").with_headers(("Retry-After", "1"))
        sid = req.cookie(SESSION_COOKIE)
        logged_in = self.auth.session_ok(sid)
        flash, error = FLASHES.get(req.query("done"), ""), ERRORS.get(req.query("error"), "")

        def made() -> bytes:
            return page.render_page(view, logged_in=logged_in, csrf=self.auth.csrf_for(sid) if logged_in else "",
                                    flash=flash, error=error).encode("utf-8")

        # Only a visitor's page is the same for all (a session's carries its CSRF field).
        html = made() if logged_in else self._pages.of(view, (flash, error), made)
        return Response(200, html, "text/html; charset=utf-8")

    def style(self, _req: Request) -> Response:
        return Response(200, page.STYLE.encode("utf-8"), "text/css; charset=utf-8")

    def metrics(self, req: Request) -> Response:
        body, content_type = self.status.exposition(req.headers.get("accept", ""))
        return Response(200, body, content_type)

    def api_status(self, _req: Request) -> Response:
        view = self.status.view()
        if view is None:
            return text(503, "starting")
        body = self._api.of(view, (), lambda: json.dumps(view.as_json(), indent=1).encode("utf-8"))
        return Response(200, body, "application/json")

    def healthz(self, _req: Request) -> Response:
        view = self.status.view()
        ok = view is not None and view.status.state == "running"
        return text(200 if ok else 503, view.status.state if view else "starting")

    # ------------------------------------------------------------------ login
    def login_form(self, req: Request) -> Response:
        if not self.auth.enabled:
            return redirect("/?error=readonly")
        pre = req.cookie(PRE_COOKIE) or new_pre_cookie()
        html = page.render_login(self.auth.csrf_for(pre), error=ERRORS.get(req.query("error"), ""))
        return Response(200, html.encode("utf-8"), "text/html; charset=utf-8",
                        (cookie_header(PRE_COOKIE, pre, 3600),))

    def login(self, req: Request) -> Response:
        if not self.auth.enabled:
            return text(403, "no http.token is configured: the page is read-only")
        if not self._same_origin(req) or not self.auth.csrf_ok(req.cookie(PRE_COOKIE), req.form("csrf")):
            return text(403, "the login form expired or came from another site; open /login again")
        refusal = self._throttle(req, api=False)
        if refusal is not None:
            return refusal
        if not self._token_right(req, "login", req.form("token")):
            return redirect("/login?error=token")
        sid = self.auth.open_session()
        self.log.info("http_login", client=req.client)
        return redirect("/?done=in", cookie_header(SESSION_COOKIE, sid, int(SESSION_TTL)),
                        cookie_header(PRE_COOKIE, "", 0))

    def logout(self, req: Request) -> Response:
        sid = req.cookie(SESSION_COOKIE)
        if self.auth.csrf_ok(sid, req.form("csrf")) and self._same_origin(req):
            self.auth.logout(sid)
        return redirect("/?done=out", cookie_header(SESSION_COOKIE, "", 0))

    # ------------------------------------------------------------------ acting
    def requeue(self, req: Request) -> Response:
        api = "authorization" in req.headers
        if not self.auth.enabled:
            return self._refuse(api, 403, "no http.token is configured: the page is read-only")
        if api:
            refusal = self._throttle(req, api=True)
            if refusal is not None:
                return refusal
            if not self._token_right(req, "bearer", bearer_token(req.headers["authorization"])):
                return self._refuse(True, 401, "wrong token").with_headers(("WWW-Authenticate", "Bearer"))
            fid = req.form("id") or _json_field(req, "id")
        else:
            sid = req.cookie(SESSION_COOKIE)
            if not self.auth.session_ok(sid):
                return redirect("/login?error=login")
            if not self._same_origin(req) or not self.auth.csrf_ok(sid, req.form("csrf")):
                return text(403, "the form expired or came from another site; reload the page")
            fid = req.form("id")
        if not fid:
            return self._refuse(api, 400, "say which file: id=<the id the page or /api/status lists>")
        if not self._requeues.acquire(blocking=False):
            return self._refuse(api, 503, "other requeues are being carried out; try again").with_headers(
                ("Retry-After", "1"))
        try:
            outcome = self.requeuer.request_requeue(fid[:100])
        finally:
            self._requeues.release()
        self.log.info("http_requeue", client=req.client, ok=outcome.ok, file=outcome.file, reason=outcome.message)
        if api:
            return Response(200 if outcome.ok else outcome.status,
                            json.dumps(dataclasses.asdict(outcome)).encode("utf-8"), "application/json")
        if outcome.ok:
            return redirect("/?done=requeued")
        return redirect(f"/?error={outcome.code}")

    # ------------------------------------------------------------------ the token
    def _throttle(self, req: Request, api: bool) -> Response | None:
        """429 while this client has sent too many wrong tokens (its token is then not checked)."""
        wait = self.throttle.retry_after(req.client)
        if not wait:
            return None
        self._throttled.note(client=req.client, retry_after_s=wait)
        return self._refuse(api, 429, f"too many wrong tokens from your address; try again in {wait} s").with_headers(
            ("Retry-After", str(wait)))

    def _token_right(self, req: Request, via: str, given: str) -> bool:
        if self.auth.token_ok(given):
            return True
        self.throttle.failed(req.client)
        self._wrong_token.note(client=req.client, via=via)  # never what was given: it may be a mistyped token
        return False

    @staticmethod
    def _refuse(api: bool, status: int, message: str) -> Response:
        if api:
            return Response(status, json.dumps({"ok": False, "message": message}).encode("utf-8"), "application/json")
        return text(status, message)

    @staticmethod
    def _same_origin(req: Request) -> bool:
        """Browsers say where a POST comes from; another site's is refused outright (the
        CSRF field is checked as well: this is the first of two locks)."""
        site = req.headers.get("sec-fetch-site")
        if site is not None:
            return site in ("same-origin", "none")
        origin = req.headers.get("origin")
        if origin in (None, "null"):
            return True  # an older browser, or a script: the CSRF field decides
        return urlsplit(origin).netloc == req.headers.get("host", "")


class Made:
    """The last answer made of a view, kept while the view is the daemon's latest (it is
    replaced once a second): a page of 200 failures with long names is ~1 MB and 20-40 ms to
    make, and 60 clients asking for it over and over kept the process's threads busy making
    it, a scrape waiting 1.5-3 s among them (an attack round). So it is made once per view."""

    def __init__(self):
        self._lock = threading.Lock()
        self._view: object = None
        self._key: tuple = ()
        self._body = b""

    def of(self, view: object, key: tuple, make) -> bytes:
        with self._lock:
            if self._view is view and self._key == key:
                return self._body
        body = make()
        with self._lock:
            self._view, self._key, self._body = view, key, body
        return body


def _shown(value: str, limit: int = 100) -> str:
    """A header's value for the log: visible ASCII only (no terminal escapes), cut short."""
    return "".join(c if " " <= c <= "~" else "?" for c in value[:limit])


def _json_field(req: Request, name: str) -> str:
    if not req.headers.get("content-type", "").startswith("application/json"):
        return ""
    try:
        value = json.loads(req.body or b"{}").get(name, "")
    except (ValueError, AttributeError, RecursionError):  # nested past the parser's recursion: no object
        return ""
    return value if isinstance(value, str) else ""


ROUTES = {
    ("GET", "/"): App.page,
    ("GET", "/style.css"): App.style,
    ("GET", "/metrics"): App.metrics,
    ("GET", "/api/status"): App.api_status,
    ("GET", "/healthz"): App.healthz,
    ("GET", "/login"): App.login_form,
    ("POST", "/login"): App.login,
    ("POST", "/logout"): App.logout,
    ("POST", "/requeue"): App.requeue,
}
