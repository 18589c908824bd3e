"""Which `Host:` names the listener answers: its defence against DNS rebinding.

A page of another site can point a name of its own (`127.evil.com`, `127.0.0.1.nip.io`)
at the listener's address and then read /api/status and /metrics with the visitor's
browser, which sends that name as `Host:`. An address typed as such cannot be rebound
(the browser went to that very address), so the listener answers to:

- `localhost` and loopback addresses (127.0.0.0/8, [::1]), parsed as addresses;
- on a listener that is not on loopback, any address typed as such;
- the names listed in `http.allowed_hosts` (e.g. the name Prometheus scrapes by).

Any other name is answered 421, on every path.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def _address(name: str):
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def canonical(name: str) -> str:
    """A name in lower case, an address in its one written form."""
    ip = _address(name)
    return str(ip) if ip is not None else name.lower()


def host_of(header: str) -> str | None:
    """The name of a `Host:` header without its port, canonical; None if it is malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        inside, closed, rest = header[1:].partition("]")
        if not closed or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            return None
        ip = _address(inside)
        return str(ip) if ip is not None and ip.version == 6 else None
    name, colon, port = header.rpartition(":") if ":" in header else (header, "", "")
    if (colon and not port.isdigit()) or not name or ":" in name:
        return None
    return canonical(name)


def host_name_problem(value: str) -> str | None:
    """What is wrong with an item of `http.allowed_hosts` (None: nothing)."""
    if re.fullmatch(r"[^:\[\]]+:\d+", value):
        return f"{value!r}: give the name without its port (any port is accepted)"
    if _address(value.strip("[]")) is not None or (_HOST_NAME.fullmatch(value.lower()) and len(value) <= 253):
        return None
    return f"{value!r} is not a host name (e.g. studio.example) nor an IP address"


@dataclass(frozen=True)
class HostPolicy:
    loopback: bool  # the listener is on a loopback address
    allowed: frozenset[str] = frozenset()  # http.allowed_hosts, canonical

    @classmethod
    def of(cls, loopback: bool, allowed_hosts) -> HostPolicy:
        return cls(loopback, frozenset(canonical(h.strip("[]")) for h in allowed_hosts))

    def admits(self, header: str) -> bool:
        name = host_of(header)
        if name is None:
            return False
        if name == "localhost" or name in self.allowed:
            return True
        ip = _address(name)
        if ip is None:
            return False
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or (mapped is not None and mapped.is_loopback) or not self.loopback

    def refusal(self) -> str:
        own = "localhost and loopback addresses (127.0.0.1, [::1])" if self.loopback else \
              "localhost and IP addresses"
        listed = f", and {', '.join(sorted(self.allowed))}" if self.allowed else ""
        return (f"this listener answers to {own}{listed}: another name may be a site's pointed at it "
                "(DNS rebinding); to reach it by a name of yours, add that name to http.allowed_hosts")
