"""The listener against hostile headers (an attack round after issue 20's): real sockets
against a real daemon. Each test here failed before its fix.

    a Cookie of backslashes   the stdlib's cookie parser (http.cookies, CPython before
                              3.11.10 / 3.12.6: CVE-2024-7592) took ~0.5 s of the daemon's
                              CPU for one 16 KB header of `\\\\`, on an unauthenticated GET /:
                              one client made every scrape time out
    a line feed in a header   a header's value held a bare LF; /metrics echoed the Accept
                              header's `version=` into its Content-Type: a response header
                              of the client's own (Set-Cookie, a second response)
    an Accept /metrics        `version=abc` raised in prometheus_client: a 500 and a
    cannot read               traceback in the log for every such request
    a body of nested JSON     16 KB of `[` to POST /requeue (with the token) raised
                              RecursionError: a 500 and a traceback
"""
from __future__ import annotations

import json
import socket
import time

from tests.harness import http_url, wait_for
from tests.http_clients import address, ask, status_of, until_closed

COOKIE_OF_BACKSLASHES = 'a="' + "\\\\" * 8000 + '"'  # 16 KB: the most a request's head may hold


def running(url: str) -> None:
    wait_for(lambda: status_of(url, "/healthz") == 200, 15, what="/healthz to answer 200")


def raw(url: str, request: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(request)
        return until_closed(sock, timeout)[0]


def test_a_cookie_of_backslashes_costs_the_page_no_time(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0", token: "studio-token-0123456789"}').start()
    url = http_url(d)
    running(url)
    start = time.monotonic()
    for _ in range(12):
        status, _, body = ask(url, "/", headers={"Cookie": COOKIE_OF_BACKSLASHES}, timeout=30)
        assert status == 200 and b"Log in to requeue" in body  # no session in such a cookie
    took = time.monotonic() - start
    # ~0.5 s each with http.cookies' quadratic unquoting: 6 s and more; a page takes ms.
    assert took < 2.0, f"12 pages asked with a Cookie of backslashes took {took:.1f} s"
    assert d.stop() == 0


def test_a_line_feed_inside_a_header_is_refused_and_never_echoed(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    running(url)
    forged = (b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Accept: application/openmetrics-text; version=2.\nSet-Cookie: hf_session=forged\r\n\r\n")
    answer = raw(url, forged)
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"forged" not in answer, answer[:300]
    assert b"Connection: close" in head
    assert status_of(url, "/metrics") == 200
    assert d.stop() == 0


def test_an_accept_header_the_metrics_library_cannot_read_gets_the_text_format(daemon_factory):
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    url = http_url(d)
    running(url)
    for accept in ("application/openmetrics-text; version=abc", "text/plain; version=1.x.0",
                   "application/openmetrics-text; version=1.0.0<b>"):
        status, headers, body = ask(url, "/metrics", headers={"Accept": accept})
        assert status == 200, (accept, status, body[:200])
        assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", (accept, headers["Content-Type"])
        assert b"hotfolder_files_processed_total" in body
    status, headers, _ = ask(url, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert d.stop() == 0
    assert not d.events("http_error"), json.dumps(d.events("http_error"))[:500]


def test_a_requeue_of_nested_json_is_told_to_say_which_file(daemon_factory):
    token = "studio-token-0123456789"
    d = daemon_factory(extra=f'http: {{listen: "127.0.0.1:0", token: "{token}"}}').start()
    url = http_url(d)
    running(url)
    status, _, body = ask(url, "/requeue", "POST", b"[" * 16000,
                          {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert status == 400 and b"say which file" in body, (status, body[:200])
    assert d.stop() == 0
    assert not d.events("http_error"), json.dumps(d.events("http_error"))[:500]
