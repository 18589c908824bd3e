"""`http:`, the listener for /metrics and the status page (off when absent)."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from hotfolder.config.keys import Key, as_fields, read_keys
from hotfolder.config.model import HTTP_DEFAULT_HOST, Http
from hotfolder.config.reader import Context, Reader, kind, section
from hotfolder.config.values import Float, Int, Kind, Text
from hotfolder.ops.web.auth import token_weakness
from hotfolder.ops.web.hosts import host_name_problem

_EXAMPLE = 'e.g. 9464, "127.0.0.1:9464", "0.0.0.0:9464" or "[::1]:9464"'


@dataclass(frozen=True)
class Listen(Kind):
    """`9464` (loopback), `"host:port"`, `"[::1]:9464"`; a bare IPv6 address needs its brackets."""

    def read(self, r: Reader, name: str, default: Any) -> tuple[str, int]:
        value = r.raw(name)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            host, port_text = HTTP_DEFAULT_HOST, str(value)
        elif isinstance(value, str) and value.strip():
            host, port_text = _split(r, name, value.strip())
        else:
            r.fail(name, f"must be a port or host:port ({_EXAMPLE}), not {kind(value)}")
        if not port_text.isdigit() or int(port_text) > 65535:
            r.fail(name, f"{port_text!r} is not a port number from 0 to 65535; {_EXAMPLE}")
        host = host or HTTP_DEFAULT_HOST  # ":9464" too: every address only when asked for, as "0.0.0.0:9464"
        try:
            ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            if host != "localhost":
                r.fail(name, f"{host!r} is not an IP address (or localhost); {_EXAMPLE}")
        if ":" in host and not (isinstance(value, str) and "[" in value):
            r.fail(name, f"put the IPv6 address {host} in brackets, as in \"[{host}]:{port_text}\"")
        return host, int(port_text)

    def shown(self, default: Any) -> str:
        return "`{}:{}`".format(*default)


def _split(r: Reader, name: str, text: str) -> tuple[str, str]:
    m = re.fullmatch(r"\[([0-9A-Fa-f:.%\w]+)\]:(\d+)", text)
    if m:
        return m.group(1), m.group(2)
    if text.isdigit():
        return HTTP_DEFAULT_HOST, text
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, port
    if text.count(":") > 1:
        r.fail(name, f"{text!r}: put an IPv6 address in brackets, as in \"[::1]:9464\"")
    r.fail(name, f"{text!r} has no port; {_EXAMPLE}")


@dataclass(frozen=True)
class HostNames(Kind):
    def read(self, r: Reader, name: str, default: Any) -> tuple[str, ...]:
        value = r.raw(name)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            r.fail(name, f"must be a list of host names, e.g. [studio.example], not {kind(value)}")
        for i, item in enumerate(value):
            problem = host_name_problem(item)
            if problem:
                r.fail(f"{name}[{i}]", problem)
        return tuple(value)


KEYS = (
    Key("listen", Listen(), (HTTP_DEFAULT_HOST, 9464),
        "a bare port, `9464` or `\":9464\"` (both on 127.0.0.1 only), `host:port`, or `[IPv6]:port` "
        "(`\"[::1]:9464\"`); every IPv4 address only when asked for as `\"0.0.0.0:9464\"` (then list the names "
        "clients use in `allowed_hosts`); port 0 takes a free one (logged as `http_listening`). Under systemd "
        "the address is `hotfolder.socket`'s.", fields=("host", "port")),
    Key("token", Text(secret=True, env=True), "",
        "lets the page requeue failed files (log in with it), and scripts with `Authorization: Bearer <token>`. "
        "Without it the page is read-only. `${VAR}` takes it from the environment (below). It must not be easy "
        "to guess, or `check-config` refuses it and says why: at least 16 characters, visible ASCII only (no "
        "spaces), at least 6 different characters, and an estimated strength of at least 36 bits (its length × "
        "the entropy of its characters' frequencies: `aaaaaaaaaaaaabcdef` scores 27, 16 random hex characters "
        "~52; `abcabcabcabcabcabc` is refused first, for its 3 different characters). `openssl rand -hex 16` "
        "always passes.", check=token_weakness, shown="—", env=True),
    Key("allowed_hosts", HostNames(), (),
        "names the listener answers to besides `localhost` and addresses, e.g. `[studio.example]` (the name in "
        "the browser's address bar, or Prometheus's target); without a port. Any other `Host:` gets 421 (DNS "
        "rebinding, below)."),
    Key("max_connections", Int(lo=1, hi=10_000), 64,
        "connections held at once; beyond, an idle one is closed for the new one"),
    Key("request_timeout", Float(lo=1, hi=600, seconds=True), 10.0,
        "seconds a request may take to arrive whole (however slowly it drips: then 408; a body shorter than its "
        "Content-Length: 400), and an answer to be taken"),
)


@section
def read(ctx: Context, data: Any, path: str) -> Http:
    r = Reader(ctx, data, path)
    values = read_keys(r, KEYS)
    r.done()
    return Http(**as_fields(KEYS, values))
