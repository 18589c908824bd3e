"""HTTP/1.1 on the wire: a request's head parsed, its body read, an answer written.

Strict and small: what curl, browsers, urllib and Prometheus send. A body needs a
Content-Length (no chunked bodies: 501); one Host and one Content-Length at most;
headers at most MAX_HEAD bytes (431), no control character but a tab in a value (400).
Malformed requests are answered and the connection closed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

from hotfolder.ops.web.app import MAX_BODY, Response, text

MAX_HEAD = 16 * 1024  # request line and headers
MAX_HEADERS = 100
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"/[\x21-\x7e]*")
# A control character in a header's value, a tab aside (RFC 9110 5.5): a bare LF passed the
# split on CRLF, and a value echoed into an answer's header (/metrics' Content-Type took the
# Accept header's `version=`) wrote headers of the client's own (an attack round).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Refused(Exception):
    """The request cannot be served: answer `response` and close the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.response = text(status, message)


@dataclass(frozen=True)
class Head:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-case names
    length: int  # of the body

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        return self.version == "HTTP/1.1" and "close" not in tokens

    @property
    def expects_continue(self) -> bool:
        return self.headers.get("expect", "").lower() == "100-continue"


def parse_head(data: bytes) -> Head:
    """The request line and headers (`data` ends with the blank line)."""
    lines = data[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise Refused(400, "malformed request line")
    if parts[2] not in (b"HTTP/1.0", b"HTTP/1.1"):
        raise Refused(505, "HTTP/1.0 and HTTP/1.1 only")
    if len(lines) - 1 > MAX_HEADERS:
        raise Refused(431, f"more than {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise Refused(400, "malformed header line")
        if _CONTROL.search(value):
            raise Refused(400, "a header's value holds a control character (a line feed without its carriage "
                               "return?); lines end with CRLF")
        key = name.decode("ascii").lower()
        if key in headers and key in ("host", "content-length", "transfer-encoding", "authorization"):
            raise Refused(400, f"more than one {key} header")
        value_text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {value_text}" if key in headers else value_text
    return Head(parts[0].decode("ascii"), parts[1].decode("ascii"), parts[2].decode("ascii"), headers,
                _body_length(headers))


def _body_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise Refused(501, "chunked bodies are not accepted; send a Content-Length")
    value = headers.get("content-length", "0")
    if not value.isdigit() or len(value) > 12:
        raise Refused(400, "Content-Length is not a number")
    if int(value) > MAX_BODY:
        raise Refused(413, f"request too large (a body of at most {MAX_BODY} bytes)")
    return int(value)


def short_body(head: Head, got: int) -> Refused:
    return Refused(400, f"the body is shorter than its Content-Length: {got} of {head.length} bytes arrived")


def encode(response: Response, keep_alive: bool, server: str) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {response.status} {reason}", f"Server: {server}", f"Date: {formatdate(usegmt=True)}",
             f"Content-Type: {response.content_type}", f"Content-Length: {len(response.body)}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class Incoming:
    """The requests arriving on one connection, read as they come (never more than
    MAX_HEAD + MAX_BODY bytes held); what has come of the current one, for the deadline."""

    def __init__(self, loop, sock):
        self.loop, self.sock = loop, sock
        self.buffer = bytearray()
        self.head: Head | None = None  # of the request whose body is being read

    async def _more(self) -> bool:
        chunk = await self.loop.sock_recv(self.sock, 65536)
        self.buffer += chunk
        return bool(chunk)

    async def next(self) -> tuple[Head, bytes] | None:
        """The next request, head and body; None if the client closed the connection instead."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > MAX_HEAD:
                raise Refused(431, f"the request's headers exceed {MAX_HEAD} bytes")
            if not await self._more():
                if self.buffer:
                    raise Refused(400, "the connection was closed in the middle of the request's headers")
                return None
        if end + 4 > MAX_HEAD:
            raise Refused(431, f"the request's headers exceed {MAX_HEAD} bytes")
        self.head = parse_head(bytes(self.buffer[:end + 4]))
        del self.buffer[:end + 4]
        if self.head.expects_continue and len(self.buffer) < self.head.length:
            await self.loop.sock_sendall(self.sock, CONTINUE)
        while len(self.buffer) < self.head.length:
            if not await self._more():
                raise short_body(self.head, len(self.buffer))
        head, self.head = self.head, None
        body = bytes(self.buffer[:head.length])
        del self.buffer[:head.length]  # what follows is the next request's (pipelining)
        return head, body

    def late(self) -> Refused | None:
        """The answer when the deadline has passed; None if nothing of a request came."""
        if self.head is not None:
            return short_body(self.head, len(self.buffer))
        if self.buffer:
            return Refused(408, "the request did not arrive whole within http.request_timeout")
        return None
