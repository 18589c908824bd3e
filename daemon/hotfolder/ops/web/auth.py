"""Who may requeue: the `http.token`, as a Bearer header or through a login session.

- The token is compared in constant time (hmac.compare_digest); wrong ones are
  throttled per client by the app (throttle.py), without holding a thread.
- A token too easy to guess is refused when the config is loaded (token_weakness).
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
import math
import secrets
import threading
import time
from collections import Counter
from hashlib import sha256

SESSION_COOKIE = "hf_session"
PRE_COOKIE = "hf_pre"  # before login: what the login form's CSRF field is tied to
SESSION_TTL = 12 * 3600.0
MAX_SESSIONS = 256
MIN_TOKEN_LENGTH = 16
MIN_TOKEN_DISTINCT = 6  # different characters
# Estimated strength: the token's length × the Shannon entropy of its characters'
# frequencies. It underrates short random tokens, so the bar is low: 32 random hex
# characters (`openssl rand -hex 16`) score 92 at the least; 16 random hex characters
# ~52, and 1 in 10,000 of them under 36 or under 6 different characters (measured
# over 400,000); "abcabcabcabcabcabc" 28, "aaaaaaaaaaaaaaab" 5.
MIN_TOKEN_BITS = 36
TOKEN_EXAMPLE = "e.g. the output of `openssl rand -hex 16`"


def token_weakness(token: str) -> str | None:
    """Why `token` is too easy to guess, as the rest of a sentence about it; None if it is
    not. The message never quotes the token."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"is {len(token)} characters; use at least {MIN_TOKEN_LENGTH} ({TOKEN_EXAMPLE})"
    if not all("!" <= c <= "~" for c in token):
        return ("holds a space, a control character or a character outside ASCII; use visible ASCII "
                f"characters only, as a browser and an Authorization header carry them alike ({TOKEN_EXAMPLE})")
    distinct = len(set(token))
    if distinct < MIN_TOKEN_DISTINCT:
        return f"has only {distinct} different characters; use at least {MIN_TOKEN_DISTINCT} ({TOKEN_EXAMPLE})"
    bits = estimated_bits(token)
    if bits < MIN_TOKEN_BITS:
        return (f"is too predictable: its estimated strength is {bits:.0f} bits (its length × the entropy of its "
                f"characters' frequencies); use at least {MIN_TOKEN_BITS} ({TOKEN_EXAMPLE})")
    return None


def estimated_bits(token: str) -> float:
    n = len(token)
    return -n * sum(k / n * math.log2(k / n) for k in Counter(token).values())


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header ("" for another scheme)."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class Auth:
    def __init__(self, token: str = ""):
        self.token = token
        self._key = secrets.token_bytes(32)
        self._sessions: dict[str, float] = {}  # session id -> expiry (monotonic)
        self._lock = threading.Lock()

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

    def open_session(self) -> str:
        """A new session id (the caller has checked the token)."""
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
