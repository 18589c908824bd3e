"""Routes, who may do what, and the answers. Nothing here touches a file.

    GET  /              the status page           GET  /metrics      Prometheus
    GET  /api/status    the same, as JSON          GET  /healthz      200 while running
    GET  /login         the login form            POST /login        token -> session cookie
    POST /logout                                   POST /requeue      id=<a failed file's id>

POST /requeue needs the token: a session cookie plus the form's CSRF field (a
browser), or `Authorization: Bearer <token>` (a script; JSON answer).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from .. import log
from . import page
from .auth import PRE_COOKIE, SESSION_COOKIE, SESSION_TTL, Auth, new_pre_cookie

if TYPE_CHECKING:
    from ..ops import Ops

MAX_BODY = 16 * 1024
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
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
ERRORS = {"gone": "That file is no longer in failed/ (requeued already, or moved away).",
          "stopping": "The daemon is stopping; requeue it after the next start.",
          "busy": "The daemon did not answer in time; try again.",
          "move": "The file could not be moved back to its inbox; the daemon's log says why.",
          "refused": "Not requeued: its failure record names a place outside its inbox; the daemon's log says why.",
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
        try:
            jar = SimpleCookie(self.headers.get("cookie", ""))
        except CookieError:
            return ""
        morsel = jar.get(name)
        return morsel.value if morsel else ""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    def with_headers(self, *more: tuple[str, str]) -> "Response":
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
    def __init__(self, ops: "Ops", auth: Auth, loopback_only: bool):
        self.ops = ops
        self.auth = auth
        self.loopback_only = loopback_only
        self.log = log.get("http")

    def handle(self, req: Request) -> Response:
        if self.loopback_only and not self._host_is_loopback(req):
            # A page of another site whose name was pointed at 127.0.0.1 (DNS rebinding).
            return text(421, "this listener answers to 127.0.0.1, [::1] and localhost only")
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

    @staticmethod
    def _host_is_loopback(req: Request) -> bool:
        host = req.headers.get("host", "")
        if host.startswith("["):
            name = host[1:].split("]", 1)[0]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name.lower() in LOOPBACK_NAMES or name.startswith("127.")

    # ------------------------------------------------------------------ reading
    def page(self, req: Request) -> Response:
        view = self.ops.view()
        if view is None:
            return text(503, "starting; try again in a second").with_headers(("Retry-After", "1"))
        sid = req.cookie(SESSION_COOKIE)
        logged_in = self.auth.session_ok(sid)
        html = page.render_page(view, logged_in=logged_in, csrf=self.auth.csrf_for(sid) if logged_in else "",
                                flash=FLASHES.get(req.query("done"), ""), error=ERRORS.get(req.query("error"), ""))
        return Response(200, html.encode("utf-8"), "text/html; charset=utf-8")

    def style(self, _req: Request) -> Response:
        return Response(200, page.STYLE.encode("utf-8"), "text/css; charset=utf-8")

    def metrics(self, req: Request) -> Response:
        body, content_type = self.ops.metrics.exposition(req.headers.get("accept", ""))
        return Response(200, body, content_type)

    def api_status(self, _req: Request) -> Response:
        view = self.ops.view()
        if view is None:
            return text(503, "starting")
        return Response(200, json.dumps(view.as_json(), indent=1).encode("utf-8"), "application/json")

    def healthz(self, _req: Request) -> Response:
        view = self.ops.view()
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
        sid = self.auth.login(req.form("token"))
        if sid is None:
            self.log.warning("http_login_failed", client=req.client)
            return redirect("/login?error=token")
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
            if not self.auth.bearer_ok(req.headers["authorization"]):
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
        outcome = self.ops.request_requeue(fid[:100])
        self.log.info("http_requeue", client=req.client, ok=outcome.ok, file=outcome.file, reason=outcome.message)
        if api:
            return Response(200 if outcome.ok else outcome.status,
                            json.dumps(dataclasses.asdict(outcome)).encode("utf-8"), "application/json")
        if outcome.ok:
            return redirect("/?done=requeued")
        return redirect(f"/?error={outcome.code}")

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


def _json_field(req: Request, name: str) -> str:
    if not req.headers.get("content-type", "").startswith("application/json"):
        return ""
    try:
        value = json.loads(req.body or b"{}").get(name, "")
    except (ValueError, AttributeError):
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
