"""Who may requeue: the `http.token`, as a Bearer header or through a login session.

- The token is compared in constant time (hmac.compare_digest); a wrong one costs
  the caller FAILED_LOGIN_DELAY, one guess at a time for the whole daemon.
- A login sets a random session id in a cookie (HttpOnly, SameSite=Strict). Sessions
  live in memory: a restart or a new token logs everyone out.
- Every form POST carries a CSRF field: an HMAC, under a key of this process, of the
  cookie it goes with (the session's, or before login a random `hf_pre` one). A page
  of another site can neither read the cookie nor compute the field, and SameSite=
  Strict keeps the browser from sending the cookie along anyway. Requests with a
  Bearer header carry no cookie and need no CSRF field: a browser cannot be made to
  add that header to a cross-site request.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from hashlib import sha256

SESSION_COOKIE = "hf_session"
PRE_COOKIE = "hf_pre"  # before login: what the login form's CSRF field is tied to
SESSION_TTL = 12 * 3600.0
MAX_SESSIONS = 256
FAILED_LOGIN_DELAY = 0.5  # seconds


class Auth:
    def __init__(self, token: str = ""):
        self.token = token
        self._key = secrets.token_bytes(32)
        self._sessions: dict[str, float] = {}  # session id -> expiry (monotonic)
        self._lock = threading.Lock()
        self._guess = threading.Lock()  # one login guess at a time

    @property
    def enabled(self) -> bool:
        """No token configured: the page is read-only and nobody can requeue."""
        return bool(self.token)

    def set_token(self, token: str) -> None:
        if token != self.token:
            with self._lock:
                self.token = token
                self._sessions.clear()

    def token_ok(self, given: str) -> bool:
        if not self.enabled or not given:
            return False
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token.encode("utf-8"))

    def bearer_ok(self, authorization: str) -> bool:
        scheme, _, value = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def login(self, given: str) -> str | None:
        """A new session id for the right token; None (after a delay) for a wrong one."""
        with self._guess:
            if not self.token_ok(given):
                time.sleep(FAILED_LOGIN_DELAY)
                return None
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._sessions = {s: t for s, t in self._sessions.items() if t > now}
            while len(self._sessions) >= MAX_SESSIONS:
                self._sessions.pop(min(self._sessions, key=self._sessions.__getitem__))
            self._sessions[sid] = now + SESSION_TTL
        return sid

    def logout(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def session_ok(self, sid: str) -> bool:
        if not self.enabled or not sid:
            return False
        with self._lock:
            expiry = self._sessions.get(sid)
        return expiry is not None and expiry > time.monotonic()

    def csrf_for(self, cookie_value: str) -> str:
        return hmac.new(self._key, cookie_value.encode("utf-8", "surrogateescape"), sha256).hexdigest()

    def csrf_ok(self, cookie_value: str, field: str) -> bool:
        if not cookie_value or not field:
            return False
        return hmac.compare_digest(self.csrf_for(cookie_value).encode(), field.encode("utf-8", "surrogateescape"))


def new_pre_cookie() -> str:
    return secrets.token_urlsafe(24)
